package imgsave

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
	"github.com/opencontainers/go-digest"
)

// lockPoll is how often a waiting load tries the lock again.
var lockPoll = 50 * time.Millisecond

// lockLoad takes an exclusive lock for loading one image into one engine: a
// file in dir (default: the user's cache directory), held until unlock. It
// calls wait once if another process holds the lock, and gives up with the
// context's cause when ctx ends first.
//
// The lock is gofrs/flock's: flock(2) on Linux and macOS (the lock earlier
// versions took, so that they exclude each other too) and LockFileEx on
// Windows; the system drops it when the process dies.
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
	return lockFile(ctx, filepath.Join(dir, hex.EncodeToString(h[:16])+".lock"), wait)
}

// lockFile takes an exclusive lock on the file name, as lockLoad does;
// opts tune how the file is opened.
func lockFile(ctx context.Context, name string, wait func(), opts ...flock.Option) (unlock func(), err error) {
	l := flock.New(name, opts...)
	unlock = func() { l.Unlock() }
	try := func() (bool, error) {
		ok, err := l.TryLock()
		if pe := (*fs.PathError)(nil); err != nil && !errors.As(err, &pe) {
			err = fmt.Errorf("locking %s: %w", name, err)
		}
		return ok, err
	}
	if ok, err := try(); ok || err != nil {
		return unlock, err
	}
	wait()
	// Polling rather than a blocking lock, so that the wait ends with ctx
	// and leaves nothing behind: a lock not taken holds no open file.
	t := time.NewTicker(lockPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for lock %s: %w", name, context.Cause(ctx))
		case <-t.C:
			if ok, err := try(); ok || err != nil {
				return unlock, err
			}
		}
	}
}
