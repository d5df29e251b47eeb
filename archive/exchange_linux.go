package archive

import (
	"os"

	"golang.org/x/sys/unix"
)

// exchangeDirs swaps a and b with renameat2(RENAME_EXCHANGE) (Linux 3.15;
// ext4, xfs, btrfs, tmpfs and more; not every network file system).
func exchangeDirs(a, b string) error { return renameExchange(unix.AT_FDCWD, a, b) }

// exchangeIn swaps the entries a and b of the open folder dir, as
// exchangeDirs does, without following a link on the way to them.
func exchangeIn(dir *os.File, a, b string) error { return renameExchange(int(dir.Fd()), a, b) }

func renameExchange(fd int, a, b string) error {
	if err := unix.Renameat2(fd, a, fd, b, unix.RENAME_EXCHANGE); err != nil {
		return &os.LinkError{Op: "renameat2 RENAME_EXCHANGE", Old: a, New: b, Err: err}
	}
	return nil
}
