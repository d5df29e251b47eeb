package main

import (
	"fmt"
	"os"
)

// openFile opens a file named on the command line, refusing folders so that
// the error names the argument rather than a later read.
func openFile(name string) (*os.File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil {
		f.Close()
		return nil, err
	} else if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory, want a tarball", name)
	}
	return f, nil
}
