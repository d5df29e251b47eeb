//go:build unix

package archive

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// tryLockDir takes an exclusive lock on the folder p without waiting; the
// kernel drops it when the process dies.
func tryLockDir(p string) (unlock func(), ok bool) {
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return func() { f.Close() }, true
}

// lockNewDir locks the folder p that this process has just made, for
// makeStaging. A file system that has no locks (ENOLCK, EOPNOTSUPP) gives
// an unlocked folder, which no extraction there can take for abandoned
// either, since it cannot lock it; any other failure (EMFILE, say) is an
// error: an unlocked folder on a file system with locks would be removed
// by the next extraction beside it.
func lockNewDir(p string) (unlock func(), err error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	if _, err := lockOpen(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}

// lockOpen takes an exclusive lock on the open f without waiting, held
// until f is closed. It reports false, and no error, on a file system
// that has no locks (ENOLCK, EOPNOTSUPP); a lock held by another process
// is EWOULDBLOCK.
func lockOpen(f *os.File) (locked bool, err error) {
	switch err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOLCK), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS):
		return false, nil
	default:
		return false, err
	}
}
