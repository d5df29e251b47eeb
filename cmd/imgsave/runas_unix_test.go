//go:build unix

package main

import (
	"os/exec"
	"syscall"
	"testing"
)

// runAs makes cmd run as uid:gid (the test runs as root).
func runAs(t *testing.T, cmd *exec.Cmd, uid, gid int) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
}
