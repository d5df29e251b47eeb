package archive

import (
	"os"

	"golang.org/x/sys/unix"
)

// exchangeDirs swaps a and b with renamex_np(RENAME_SWAP) (macOS 10.12;
// APFS and HFS+; not every network file system).
func exchangeDirs(a, b string) error {
	if err := unix.RenamexNp(a, b, unix.RENAME_SWAP); err != nil {
		return &os.LinkError{Op: "renamex_np RENAME_SWAP", Old: a, New: b, Err: err}
	}
	return nil
}
