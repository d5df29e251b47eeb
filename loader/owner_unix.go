//go:build unix

package loader

import (
	"os"
	"syscall"
)

// ownedByRoot reports whether the file at path belongs to root.
func ownedByRoot(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == 0
}
