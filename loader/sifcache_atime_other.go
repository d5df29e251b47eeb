//go:build !linux

package loader

import (
	"io/fs"
	"time"
)

// lastUsed is when the file fi describes was last used: here its
// modification time (its build), the access time being read on Linux only.
func lastUsed(fi fs.FileInfo) time.Time { return fi.ModTime() }

// oNoAtime: the access time is not read here.
const oNoAtime = 0
