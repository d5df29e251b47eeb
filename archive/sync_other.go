//go:build !linux

package archive

import (
	"io/fs"
	"os"
)

func startWriteback(f *os.File, off, n int64) {}

// syncTree syncs every file and folder in root, one by one.
func syncTree(root *os.Root) error {
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		f, err := root.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}
