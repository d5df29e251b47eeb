package archive

import (
	"os"

	"golang.org/x/sys/unix"
)

// exchangeDirs swaps a and b with renameat2(RENAME_EXCHANGE) (Linux 3.15;
// ext4, xfs, btrfs, tmpfs and more; not every network file system).
func exchangeDirs(a, b string) error {
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
		return &os.LinkError{Op: "renameat2 RENAME_EXCHANGE", Old: a, New: b, Err: err}
	}
	return nil
}
