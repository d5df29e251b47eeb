//go:build unix

package archive

import (
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
