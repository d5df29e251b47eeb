package archive

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// localFS are the filesystems whose times the kernel keeps itself: on
// these, and no other, a file's ctime changes with every write (see
// [VerifiedRecord]). Network filesystems take times from a server, FUSE
// from a process, and are left out.
var localFS = map[int64]bool{
	unix.EXT4_SUPER_MAGIC:  true, // also ext2 and ext3
	unix.XFS_SUPER_MAGIC:   true,
	unix.BTRFS_SUPER_MAGIC: true,
	unix.TMPFS_MAGIC:       true,
	unix.F2FS_SUPER_MAGIC:  true,
	0x2fc12fc1:             true, // zfs
}

// keyOf is the record's key of the file open as f, with fi its status, or
// false when its filesystem is not one the record trusts.
func keyOf(f *os.File, fi fs.FileInfo) (fileKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return fileKey{}, false
	}
	var sf unix.Statfs_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstatfs(int(fd), &sf) }); err != nil || serr != nil || !localFS[int64(sf.Type)] {
		return fileKey{}, false
	}
	p, ok := realPath(f.Name())
	if !ok {
		return fileKey{}, false
	}
	return fileKey{
		path: p, dev: uint64(st.Dev), ino: uint64(st.Ino), size: st.Size,
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
	}, true
}

// ownedPrivately reports whether fi belongs to the effective user and no
// one else may write it.
func ownedPrivately(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == uint32(os.Geteuid()) && fi.Mode().Perm()&0o022 == 0
}

func openNoFollow(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
