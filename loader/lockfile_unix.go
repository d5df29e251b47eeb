//go:build unix

package loader

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// errLockReadOnly is why a lock on a lock file that the caller may only
// read failed: NFS (and flock(2) on it) grants an exclusive lock only on
// a file open for writing.
var errLockReadOnly = errors.New("the lock file is read-only for this user, and this filesystem (NFS) locks only files open for writing; ask its owner to make it group-writable (chmod g+w) or remove it")

// lockHandle is an open lock file.
type lockHandle struct {
	f        *os.File
	readOnly bool
}

// openLock opens the lock file name, creating it with mode perm (set by
// fchmod, whatever the umask) when missing. It never follows a symbolic
// link (O_NOFOLLOW), never blocks on a FIFO (O_NONBLOCK) and accepts only
// a regular file. It opens the file for writing where it may, because
// flock(2) on NFS gives an exclusive lock only to a file open for writing
// (EBADF otherwise); a lock file of another user that this one may only
// read is opened read-only, which locks on local filesystems.
func openLock(name string, perm fs.FileMode) (*lockHandle, error) {
	const flags = unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|flags, perm)
	if err == nil {
		if err := f.Chmod(perm); err != nil {
			f.Close()
			return nil, err
		}
		return &lockHandle{f: f}, nil
	}
	l := &lockHandle{}
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(name, os.O_RDWR|flags, 0)
		if errors.Is(err, fs.ErrPermission) {
			f, err = os.OpenFile(name, os.O_RDONLY|flags, 0)
			l.readOnly = true
		}
	}
	switch {
	case errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK):
		return nil, fmt.Errorf("lock %s: a symbolic link where a lock file belongs (another user may have planted it): remove it", name)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("lock %s: %w: %s", name, fs.ErrPermission, ownerFix(name))
	case err != nil:
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("lock %s: not a regular file (%s) where a lock file belongs: remove it", name, fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	l.f = f
	return l, nil
}

// ownerFix says whose file name is and how to let others use it.
func ownerFix(name string) string {
	fi, err := os.Lstat(name)
	if err != nil {
		return "make its folder writable for you"
	}
	return fmt.Sprintf("it belongs to %s (mode %v); ask them to make it readable and group-writable (chmod g+rw,o+r) or remove it", ownerName(fi), fi.Mode().Perm())
}

// tryLock takes the exclusive lock without waiting; false when another
// holds it. A lock the filesystem refuses to a read-only file wraps
// errors.ErrUnsupported: see lockUnsupported.
func (l *lockHandle) tryLock() (bool, error) { return l.try(unix.LOCK_EX) }

// tryShared takes the lock shared with other shared holders, as tryLock
// takes it exclusive.
func (l *lockHandle) tryShared() (bool, error) { return l.try(unix.LOCK_SH) }

func (l *lockHandle) try(how int) (bool, error) {
	for {
		err := unix.Flock(int(l.f.Fd()), how|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, unix.EINTR):
			continue
		case l.readOnly && (errors.Is(err, unix.EBADF) || errors.Is(err, unix.EACCES)):
			return false, fmt.Errorf("%w: %w (%w)", errors.ErrUnsupported, errLockReadOnly, err)
		}
		return false, err
	}
}

// close lets the lock go.
func (l *lockHandle) close() { l.f.Close() }

// ownerName is the name of fi's owner, or its uid.
func ownerName(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "?"
	}
	id := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return "uid " + id
}
