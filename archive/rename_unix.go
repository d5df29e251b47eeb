//go:build unix

package archive

import (
	"os"

	"golang.org/x/sys/unix"
)

// renameDir renames the directory from to a missing or empty directory to.
// rename(2) replaces an empty directory; os.Rename refuses to.
func renameDir(from, to string) error {
	if err := unix.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}
