package imgsave

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/rogpeppe/go-internal/lockedfile"
)

// lockNotice is how long a load waits for the lock before it says so.
var lockNotice = 200 * time.Millisecond

// lockLoad takes an exclusive lock for loading one image into one engine: a
// file in dir (default: the user's cache directory), held until unlock. It
// calls wait once if the lock is still held by another process (or another
// call) after lockNotice, and gives up with the context's cause when ctx
// ends first.
//
// The lock is go-internal's lockedfile, cmd/go's own: flock(2) on Linux and
// macOS (the lock earlier versions took, so they exclude each other too) and
// LockFileEx on Windows; the kernel drops it when the process dies.
func lockLoad(ctx context.Context, dir, endpoint string, id digest.Digest, wait func()) (unlock func(), err error) {
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(cache, "imgsave", "locks")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	h := sha256.Sum256([]byte(endpoint + "\x00" + string(id)))
	name := filepath.Join(dir, hex.EncodeToString(h[:16])+".lock")
	type locked struct {
		unlock func()
		err    error
	}
	got := make(chan locked, 1)
	go func() {
		unlock, err := lockedfile.MutexAt(name).Lock()
		got <- locked{unlock, err}
	}()
	t := time.NewTimer(lockNotice)
	defer t.Stop()
	for {
		select {
		case l := <-got:
			return l.unlock, l.err // a *fs.PathError naming the file
		case <-t.C:
			wait()
		case <-ctx.Done():
			// The wait is in the kernel, which ctx cannot interrupt: the
			// lock is let go as soon as it is taken.
			go func() {
				if l := <-got; l.err == nil {
					l.unlock()
				}
			}()
			return nil, fmt.Errorf("waiting for lock %s: %w", name, context.Cause(ctx))
		}
	}
}
