//go:build unix

package loader

import (
	"io/fs"
	"os"
	"syscall"
)

// ownedByCaller reports whether the file fi describes is the caller's.
func ownedByCaller(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
