package imgsave

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLockLoad: a second taker waits, says so once, and gets the lock
// when the first lets go; one whose context ends stops waiting (#13).
func TestLockLoad(t *testing.T) {
	dir := t.TempDir()
	const id = "sha256:0123"
	lock := func(ctx context.Context, wait func()) (func(), error) {
		return lockLoad(ctx, dir, "engine", id, wait)
	}
	unlock1, err := lock(t.Context(), func() { t.Error("the lock was free, want it taken") })
	if err != nil {
		t.Fatal(err)
	}

	// A taker whose context ends while it waits.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := lock(ctx, func() {}); !errors.Is(err, context.Canceled) {
		t.Errorf("lockLoad with a cancelled context = %v, want %v", err, context.Canceled)
	}

	// The second taker says it waits: only then is the lock let go, so
	// that the test knows it found the lock taken (no sleep decides it).
	waits := 0
	waiting := make(chan struct{})
	got := make(chan error, 1)
	go func() {
		unlock2, err := lock(t.Context(), func() {
			waits++
			close(waiting)
		})
		if err == nil {
			unlock2()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("second lockLoad = %v while the lock was held, want it to wait", err)
	case <-waiting:
	}
	unlock1()
	select {
	case err := <-got:
		if err != nil || waits != 1 {
			t.Errorf("second lockLoad = %v after %d waits, want nil after 1", err, waits)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second lockLoad still waits after the first let go")
	}
}
