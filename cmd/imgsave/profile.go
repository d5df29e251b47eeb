package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// profile starts a CPU profile into the file IMGSAVE_CPUPROFILE names, for
// the notes behind docs/performance.md's table (#23); the returned function
// stops it. Without the variable it does nothing.
func profile(stderr io.Writer) func() {
	path := os.Getenv("IMGSAVE_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "imgsave: IMGSAVE_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
