//go:build !linux

package loader

import "os/exec"

// ownGroup is a no-op where Apptainer does not run (it is Linux only).
func ownGroup(c *exec.Cmd) (end func()) { return func() {} }
