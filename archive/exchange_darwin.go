package archive

import (
	"os"

	"golang.org/x/sys/unix"
)

// exchangeDirs swaps a and b with renamex_np(RENAME_SWAP) (macOS 10.12;
// APFS and HFS+; not every network file system).
func exchangeDirs(a, b string) error { return renameSwap(unix.AT_FDCWD, a, b) }

// exchangeIn swaps the entries a and b of the open folder dir, as
// exchangeDirs does, without following a link on the way to them.
func exchangeIn(dir *os.File, a, b string) error { return renameSwap(int(dir.Fd()), a, b) }

func renameSwap(fd int, a, b string) error {
	if err := unix.RenameatxNp(fd, a, fd, b, unix.RENAME_SWAP); err != nil {
		return &os.LinkError{Op: "renameatx_np RENAME_SWAP", Old: a, New: b, Err: err}
	}
	return nil
}
