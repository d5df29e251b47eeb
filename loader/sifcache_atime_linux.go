package loader

import (
	"io/fs"
	"syscall"
	"time"
)

// lastUsed is when the file fi describes was last used: the later of its
// access time (a run reads the SIF; a relatime mount updates it about once
// a day, a noatime one never) and its modification time (its build).
func lastUsed(fi fs.FileInfo) time.Time {
	t := fi.ModTime()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if a := time.Unix(int64(st.Atim.Sec), int64(st.Atim.Nsec)); a.After(t) {
			return a
		}
	}
	return t
}

// oNoAtime opens a file without touching its access time.
const oNoAtime = syscall.O_NOATIME
