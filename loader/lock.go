package loader

import (
	"context"
	"fmt"
	"io/fs"
	"time"
)

// lockPoll is how often a waiting taker tries a lock again.
var lockPoll = 50 * time.Millisecond

// LockFile takes an exclusive lock on the file name, held until unlock,
// creating a missing lock file with mode perm, exactly (it is set after
// the create, so the umask cannot narrow it). It calls wait once if
// another process holds the lock, and gives up with the context's cause
// when ctx ends first. The unlock function comes back only with the lock.
//
// The lock is flock(2) on Linux and macOS (the lock earlier versions took
// through gofrs/flock, so that they exclude each other too) and
// gofrs/flock's LockFileEx on Windows; the system drops it when the
// process dies. The file is opened without following a link and without
// blocking, and must be a regular file: a symbolic link or FIFO planted at
// its name fails with an error naming it, instead of making the caller
// create or lock a file elsewhere, or hang (#28). See openLock for how the
// open makes flock work on NFS.
func LockFile(ctx context.Context, name string, wait func(), perm fs.FileMode) (unlock func(), err error) {
	return lockFile(ctx, name, wait, perm, false)
}

// LockFileShared is [LockFile] for a lock that many holders share: it
// waits only while someone holds the lock exclusively (as [TryLockFile]
// takes it), and excludes only that.
func LockFileShared(ctx context.Context, name string, wait func(), perm fs.FileMode) (unlock func(), err error) {
	return lockFile(ctx, name, wait, perm, true)
}

// TryLockFile takes the exclusive lock on the file name, as [LockFile]
// does, without waiting: ok is false, and unlock nil, when another holds
// it, shared or not.
func TryLockFile(name string, perm fs.FileMode) (unlock func(), ok bool, err error) {
	l, err := openLock(name, perm)
	if err != nil {
		return nil, false, err
	}
	if ok, err = l.tryLock(); !ok || err != nil {
		l.close()
		if err != nil {
			err = fmt.Errorf("locking %s: %w", name, err)
		}
		return nil, false, err
	}
	return l.close, true, nil
}

func lockFile(ctx context.Context, name string, wait func(), perm fs.FileMode, shared bool) (unlock func(), err error) {
	l, err := openLock(name, perm)
	if err != nil {
		return nil, err
	}
	take := l.tryLock
	if shared {
		take = l.tryShared
	}
	try := func() (bool, error) {
		ok, err := take()
		if err != nil {
			l.close()
			return false, fmt.Errorf("locking %s: %w", name, err)
		}
		return ok, nil
	}
	if ok, err := try(); ok || err != nil {
		return l.close, err
	}
	wait()
	// Polling rather than a blocking lock, so that the wait ends with ctx
	// and leaves nothing behind: a lock not taken holds no open file.
	t := time.NewTicker(lockPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.close()
			return nil, fmt.Errorf("waiting for lock %s: %w", name, context.Cause(ctx))
		case <-t.C:
			if ok, err := try(); ok || err != nil {
				return l.close, err
			}
		}
	}
}
