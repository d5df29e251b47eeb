//go:build !unix

package archive

import "os"

// renameDir renames the directory from to a missing or empty directory to.
// MoveFileEx cannot replace a directory, so an empty one is removed first
// (os.Remove fails on a full one, and the rename then fails too) and made
// again if the rename fails.
func renameDir(from, to string) error {
	removed := os.Remove(to) == nil
	err := os.Rename(from, to)
	if err != nil && removed {
		os.Mkdir(to, 0o755)
	}
	return err
}
