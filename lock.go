package imgsave

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/loader"
)

// lockLoad takes an exclusive lock for loading one image into one engine: a
// file in dir (default: the user's cache directory), held until unlock. It
// calls wait once if another process holds the lock, and gives up with the
// context's cause when ctx ends first (see loader.LockFile).
func lockLoad(ctx context.Context, dir, endpoint string, id digest.Digest, wait func()) (unlock func(), err error) {
	name, err := imageLockName(dir, endpoint, id, ".lock")
	if err != nil {
		return nil, err
	}
	return lockFile(ctx, name, wait)
}

// lockUse takes the use lock of one image in one engine, shared with
// every other load and run of it, from before Load looks for the image
// until the run's container has exited: [GC] removes an image only with
// that lock taken exclusively (tryLockUse), so never one a load has
// just found or put there for a run to start. It waits, calling wait
// once, only while a GC holds it.
func lockUse(ctx context.Context, dir, endpoint string, id digest.Digest, wait func()) (unlock func(), err error) {
	name, err := imageLockName(dir, endpoint, id, ".use.lock")
	if err != nil {
		return nil, err
	}
	return loader.LockFileShared(ctx, name, wait, 0o600)
}

// tryLockUse takes the use lock exclusively without waiting: ok is false
// while a load or run holds it.
func tryLockUse(dir, endpoint string, id digest.Digest) (unlock func(), ok bool, err error) {
	name, err := imageLockName(dir, endpoint, id, ".use.lock")
	if err != nil {
		return nil, false, err
	}
	return loader.TryLockFile(name, 0o600)
}

// imageLockName is the lock file of one image in one engine, in dir
// (default: imgsave/locks in the user's cache directory), created.
func imageLockName(dir, endpoint string, id digest.Digest, suffix string) (string, error) {
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(cache, "imgsave", "locks")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(endpoint + "\x00" + string(id)))
	return filepath.Join(dir, hex.EncodeToString(h[:16])+suffix), nil
}

// lockFile takes an exclusive lock on the file name, as lockLoad does,
// creating it private (0600) when missing.
func lockFile(ctx context.Context, name string, wait func()) (unlock func(), err error) {
	return loader.LockFile(ctx, name, wait, 0o600)
}
