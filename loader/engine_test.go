package loader

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"
)

// standIn writes an executable shell script named name into dir.
func standIn(t *testing.T, dir, name, script string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFind(t *testing.T) {
	both, podmanOnly, none := t.TempDir(), t.TempDir(), t.TempDir()
	hpc, oldHPC := t.TempDir(), t.TempDir()
	standIn(t, both, "docker", "")
	standIn(t, both, "podman", "")
	standIn(t, both, "apptainer", "")
	standIn(t, podmanOnly, "podman", "")
	standIn(t, podmanOnly, "apptainer", "")
	standIn(t, hpc, "apptainer", "")
	standIn(t, hpc, "singularity", "")
	sing := standIn(t, oldHPC, "singularity", "")
	if err := os.Symlink(sing, filepath.Join(oldHPC, "engine")); err != nil {
		t.Fatal(err)
	}
	remote := standIn(t, none, "podman-remote", "")

	tests := []struct {
		name, path, arg string
		wantPath        string
		wantName        string
		wantErr         string // with ErrEngineNotFound
	}{
		{"docker first", both, "", filepath.Join(both, "docker"), "docker", ""},
		{"podman fallback", podmanOnly, "", filepath.Join(podmanOnly, "podman"), "podman", ""},
		{"named", both, "podman", filepath.Join(both, "podman"), "podman", ""},
		{"path", none, remote, remote, "podman", ""},
		{"apptainer fallback", hpc, "", filepath.Join(hpc, "apptainer"), "apptainer", ""},
		{"singularity fallback", oldHPC, "", filepath.Join(oldHPC, "singularity"), "apptainer", ""},
		{"singularity link", none, filepath.Join(oldHPC, "engine"), filepath.Join(oldHPC, "engine"), "apptainer", ""},
		{"named apptainer", both, "apptainer", filepath.Join(both, "apptainer"), "apptainer", ""},
		{"none", none, "", "", "", "none of docker, podman, apptainer, singularity is in $PATH"},
		{"missing name", podmanOnly, "docker", "", "", `"docker"`},
		{"missing path", both, "/nonexistent/docker", "", "", "/nonexistent/docker"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			r, err := FindRuntime(tc.arg)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrEngineNotFound) || !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("FindRuntime(%q) = %v, want ErrEngineNotFound naming %s", tc.arg, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("FindRuntime(%q) = %v", tc.arg, err)
			}
			path := ""
			switch r := r.(type) {
			case *Engine:
				path = r.Path
			case *Apptainer:
				path = r.Path
			}
			if path != tc.wantPath || r.Kind() != tc.wantName {
				t.Errorf("FindRuntime(%q) = %+v, want Path %s, Kind %s", tc.arg, r, tc.wantPath, tc.wantName)
			}
			// Apptainer is a runtime without an image store: Find, which
			// callers needing a store use, says so (#29).
			_, err = Find(tc.arg)
			if store := tc.wantName != KindApptainer; store != (err == nil) || !store && !errors.Is(err, ErrNoImageStore) {
				t.Errorf("Find(%q) = %v, want an image store: %v", tc.arg, err, store)
			}
		})
	}
}

func TestMissingBinary(t *testing.T) {
	ctx := context.Background()
	// Name podman, so that Inspect runs the CLI.
	e := &Engine{Path: "/nonexistent/podman", Name: "podman"}
	_, saveErr := e.Save(ctx, "x")
	_, loadErr := e.Load(ctx, strings.NewReader(""))
	_, inspectErr := e.Inspect(ctx, "x")
	for name, err := range map[string]error{
		"Save":    saveErr,
		"Load":    loadErr,
		"Inspect": inspectErr,
		"Tag":     e.Tag(ctx, "x", "y"),
		"Pull":    e.Pull(ctx, "x"),
		"Run":     e.Run(ctx, []string{"run", "x"}, nil, nil, nil),
	} {
		var runErr *RunError
		if !errors.Is(err, ErrEngineNotFound) || !errors.As(err, &runErr) {
			t.Errorf("%s with a missing binary = %v, want a *RunError wrapping ErrEngineNotFound", name, err)
		}
	}
}

// TestRunSignalledEngine uses a stand-in: docker itself never dies of a
// signal it was not sent.
func TestRunSignalledEngine(t *testing.T) {
	e := &Engine{Path: standIn(t, t.TempDir(), "docker", "kill -TERM $$"), Name: "docker"}
	err := e.Run(context.Background(), []string{"run"}, nil, nil, nil)
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 128+15 {
		t.Errorf("Run of an engine killed by SIGTERM = %v, want exit status 143", err)
	}
}

// TestRunSignalsPodmanContainer uses a stand-in podman: a real one
// refuses a kill only in a window of milliseconds (the container started,
// podman's state not yet "running"), too short to hit on purpose. The
// stand-in refuses the first kill, as podman does then, and ignores
// signals to itself: only a kill by the container's ID ends its container.
func TestRunSignalsPodmanContainer(t *testing.T) {
	dir := t.TempDir()
	e := &Engine{Name: "podman", Path: standIn(t, dir, "podman", `
dir=`+dir+`
case $1 in
run)
	[ "$2" = --cidfile ] || { echo "no --cidfile: $*" >&2; exit 125; }
	trap '' TERM INT
	echo c0ffee >"$3"
	echo ready
	while [ ! -e $dir/killed ]; do sleep 0.01; done
	exit 7;;
kill)
	echo "$*" >>$dir/kills
	[ "$(wc -l <$dir/kills)" -ge 2 ] || { echo "Error: can only kill running containers" >&2; exit 125; }
	touch $dir/killed;;
esac`)}
	var stderr bytes.Buffer
	_, done := runUntilReady(t, e, []string{"run", "--rm", "img"}, &stderr)
	if err := signalSelf(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := <-done
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 7 {
		t.Errorf("Run() after SIGTERM = %v, want the container's exit status 7", err)
	}
	kills, _ := os.ReadFile(filepath.Join(dir, "kills"))
	if want := "kill --signal 15 c0ffee\nkill --signal 15 c0ffee\n"; string(kills) != want {
		t.Errorf("the stand-in was asked:\n%s\nwant a refused kill, then one that took:\n%s", kills, want)
	}
}

// TestSaveCloseKillsStubbornEngine uses a stand-in: a real engine does not
// ignore SIGINT and SIGPIPE.
func TestSaveCloseKillsStubbornEngine(t *testing.T) {
	defer func(d time.Duration) { waitDelay = d }(waitDelay)
	waitDelay = 100 * time.Millisecond
	e := &Engine{Path: standIn(t, t.TempDir(), "docker", `trap '' INT PIPE; while :; do echo tar; done`), Name: "docker"}
	rc, err := e.Save(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if rc.(*saveReader).p.cmd.ProcessState == nil {
		t.Errorf("Close returned before the engine was reaped")
	}
	if n, err := rc.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("Read after Close = %d, %v; want an error", n, err)
	}
}

// TestLoadReadErrorKeepsStdinOpen uses a stand-in that records whether it
// saw the end of its input; the e2e test shows what a real engine does
// with a clean end.
func TestLoadReadErrorKeepsStdinOpen(t *testing.T) {
	dir := t.TempDir()
	mark := filepath.Join(dir, "eof")
	e := &Engine{Path: standIn(t, dir, "docker", `exec 2>/dev/null; trap 'exit 130' INT; while read -r line; do :; done; echo >`+mark), Name: "docker"}
	boom := errors.New("boom")
	out, err := e.Load(context.Background(), io.MultiReader(strings.NewReader("a\nb\n"), iotest.ErrReader(boom)))
	var runErr *RunError
	if !errors.Is(err, boom) || !errors.As(err, &runErr) {
		t.Fatalf("Load with a failing reader = %q, %v; want a *RunError wrapping the reader's error", out, err)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Errorf("the engine saw the end of its input after the reader failed")
	}
}
