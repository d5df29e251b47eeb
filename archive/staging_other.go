//go:build !unix

package archive

import "os"

// tryLockDir cannot lock a folder here: a staging folder is never taken
// for abandoned.
func tryLockDir(p string) (unlock func(), ok bool) { return nil, false }

// lockNewDir gives the folder unlocked: see tryLockDir.
func lockNewDir(p string) (unlock func(), err error) { return func() {}, nil }

// lockOpen cannot lock here: see tryLockDir.
func lockOpen(f *os.File) (locked bool, err error) { return false, nil }
