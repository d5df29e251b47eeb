//go:build !unix

package main

import (
	"os/exec"
	"testing"
)

// runAs: no other user's credentials here.
func runAs(t *testing.T, cmd *exec.Cmd, uid, gid int) {
	t.Skip("running as another user needs unix")
}
