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
	"golang.org/x/sys/unix"
)

// lockPoll is how often a waiting load tries the lock again.
var lockPoll = 50 * time.Millisecond

// lockLoad takes an exclusive lock for loading one image into one engine: a
// file in dir (default: the user's cache directory), held until unlock. It
// calls wait once if another process holds the lock, and gives up with the
// context's cause when ctx ends first.
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
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	unlock = func() { f.Close() }
	try := func() (bool, error) {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == unix.EWOULDBLOCK {
			return false, nil
		}
		if err != nil {
			f.Close()
			return false, fmt.Errorf("locking %s: %w", name, err)
		}
		return true, nil
	}
	if ok, err := try(); ok || err != nil {
		return unlock, err
	}
	wait()
	// Polling rather than a blocking flock, so that the wait ends with ctx.
	t := time.NewTicker(lockPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", name, context.Cause(ctx))
		case <-t.C:
			if ok, err := try(); ok || err != nil {
				return unlock, err
			}
		}
	}
}
