//go:build !unix

package loader

import (
	"io/fs"

	"github.com/gofrs/flock"
)

// lockHandle is an open lock file: gofrs/flock's LockFileEx on Windows.
type lockHandle struct{ l *flock.Flock }

// openLock prepares the lock file name, created with mode perm.
func openLock(name string, perm fs.FileMode) (*lockHandle, error) {
	return &lockHandle{flock.New(name, flock.SetPermissions(perm))}, nil
}

// tryLock takes the exclusive lock without waiting; false when another
// holds it.
func (l *lockHandle) tryLock() (bool, error) { return l.l.TryLock() }

// tryShared takes the lock shared with other shared holders.
func (l *lockHandle) tryShared() (bool, error) { return l.l.TryRLock() }

// close lets the lock go.
func (l *lockHandle) close() { l.l.Unlock() }
