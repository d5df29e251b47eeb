package loader

import (
	"bytes"
	"os"
	"strings"
)

// inForeground reports whether this process is in the foreground process
// group of its controlling terminal, from fields 5 (pgrp) and 8 (tpgid) of
// /proc/self/stat; false without a terminal, or without /proc.
func inForeground() bool {
	stat, err := os.ReadFile("/proc/self/stat")
	i := bytes.LastIndexByte(stat, ')') // field 2, the command, may hold anything
	if err != nil || i < 0 {
		return false
	}
	f := strings.Fields(string(stat[i+1:]))
	return len(f) > 5 && f[2] == f[5]
}
