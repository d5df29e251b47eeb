package archive

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
)

// TestExtractBoundsSyncs: an archive of many files has at most maxSyncing
// of them being synced, each an open file, at once, and that many do
// overlap, so the syncs still run beside the streaming (#18). Each sync
// waits until maxSyncing are under way: the extraction ends only if that
// many run together.
func TestExtractBoundsSyncs(t *testing.T) {
	var (
		mu       sync.Mutex
		inFlight int
		most     int
		full     = make(chan struct{})
		once     sync.Once
	)
	old := syncFile
	t.Cleanup(func() { syncFile = old })
	syncFile = func(f *os.File) error {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		if inFlight == maxSyncing {
			once.Do(func() { close(full) })
		}
		mu.Unlock()
		<-full
		mu.Lock()
		inFlight--
		mu.Unlock()
		return f.Sync()
	}
	var ms []member
	for i := range 4 * maxSyncing {
		ms = append(ms, file(fmt.Sprintf("extra/%d", i), "x"))
	}
	extract(t, bytes.NewReader(withImage(t, ms...)), Options{})
	if most != maxSyncing {
		t.Errorf("%d files were synced at once, want %d", most, maxSyncing)
	}
}
