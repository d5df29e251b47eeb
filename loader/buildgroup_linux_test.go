package loader

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBuildSIFEndsItsGroup: cancelling a SIF build ends the processes
// the build started, not only the build (#28): a stand-in for Apptainer,
// which a unit test cannot stop half-way at will, starts a helper as
// `apptainer build` starts mksquashfs, and the helper must be gone.
func TestBuildSIFEndsItsGroup(t *testing.T) {
	defer func(d time.Duration) { waitDelay = d }(waitDelay)
	waitDelay = 500 * time.Millisecond
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "helper.pid")
	e := &Apptainer{Path: standIn(t, dir, "apptainer", `sleep 300 & echo $! > "$PIDFILE"; wait`), Env: []string{"PIDFILE=" + pidFile}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- e.BuildSIF(ctx, SIFBuild{Dir: dir, Manifest: "sha256:0", Dest: filepath.Join(dir, "x.sif")})
	}()
	var pid int
	for i := 0; pid == 0 && i < 500; i++ {
		time.Sleep(10 * time.Millisecond)
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if pid == 0 {
		t.Fatal("the stand-in never started its helper")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("BuildSIF does not return after cancel")
	}
	alive := func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		_, rest, _ := strings.Cut(string(b), ") ")
		return err == nil && !strings.HasPrefix(rest, "Z")
	}
	for i := 0; alive() && i < 200; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if alive() {
		t.Errorf("the build's helper %d still runs after the build was cancelled", pid)
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
}
