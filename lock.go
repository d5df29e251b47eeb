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

// lockFile takes an exclusive lock on the file name, as lockLoad does,
// creating it private (0600) when missing.
func lockFile(ctx context.Context, name string, wait func()) (unlock func(), err error) {
	return loader.LockFile(ctx, name, wait, 0o600)
}
