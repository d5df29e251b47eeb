package imgsave

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"testing"
)

func TestRunArgs(t *testing.T) {
	me := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	ep := "/bin/sh"
	tests := []struct {
		name string
		opts RunOptions
		want []string
		bad  string // the Option of the *OptionError, or ""
		// notExist: an error for a mount source that does not exist
		notExist bool
	}{
		{name: "defaults", opts: RunOptions{Cwd: "/w"},
			want: []string{"run", "--rm", "--interactive", "--mount", "type=bind,source=/w,target=/tmp", "--workdir", "/tmp", "--user", me}},
		{name: "tty, workdir, env, entrypoint, engine args", opts: RunOptions{Cwd: "/w", TTY: true, Workdir: "/data", Env: []string{"A=1"}, Entrypoint: &ep, EngineArgs: []string{"--network=none"}},
			want: []string{"run", "--rm", "--interactive", "--tty", "--mount", "type=bind,source=/w,target=/data", "--workdir", "/data", "--env", "A=1", "--user", me, "--entrypoint", "/bin/sh", "--network=none"}},
		{name: "no cwd mount, root", opts: RunOptions{NoCwdMount: true, Root: true},
			want: []string{"run", "--rm", "--interactive"}},
		{name: "no cwd mount, workdir, user", opts: RunOptions{NoCwdMount: true, Workdir: "/x", User: "5:6"},
			want: []string{"run", "--rm", "--interactive", "--workdir", "/x", "--user", "5:6"}},
		{name: "mount", opts: RunOptions{NoCwdMount: true, Root: true, Mounts: []string{"/etc:/ref:ro", "/tmp:/t:rw"}},
			want: []string{"run", "--rm", "--interactive", "--mount", "type=bind,source=/etc,target=/ref,readonly", "--mount", "type=bind,source=/tmp,target=/t"}},
		{name: "cwd with colon, comma and quote", opts: RunOptions{Cwd: `/d/2026-12-01T10:00,"x"`, Root: true},
			want: []string{"run", "--rm", "--interactive", "--mount", `type=bind,"source=/d/2026-12-01T10:00,""x""",target=/tmp`, "--workdir", "/tmp"}},
		{name: "mount with an unknown mode", opts: RunOptions{Mounts: []string{"/etc:/ref:z"}}, bad: "Mounts"},
		{name: "mount with a relative destination", opts: RunOptions{Mounts: []string{"/etc:ref"}}, bad: "Mounts"},
		{name: "mount without a destination", opts: RunOptions{Mounts: []string{"/ref"}}, bad: "Mounts"},
		{name: "mount with an empty source", opts: RunOptions{Mounts: []string{":/ref"}}, bad: "Mounts"},
		{name: "env without =", opts: RunOptions{Env: []string{"A"}}, bad: "Env"},
		{name: "env without a name", opts: RunOptions{Env: []string{"=1"}}, bad: "Env"},
		{name: "user and root", opts: RunOptions{User: "1", Root: true}, bad: "User"},
		{name: "mount source that does not exist", opts: RunOptions{Mounts: []string{"/nonexistent/typo:/data"}}, notExist: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runArgs(tc.opts)
			var opt *OptionError
			switch {
			case tc.notExist:
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("runArgs(%+v) = %q, %v, want %v", tc.opts, got, err, fs.ErrNotExist)
				}
			case tc.bad != "":
				if !errors.As(err, &opt) || opt.Option != tc.bad {
					t.Errorf("runArgs(%+v) = %q, %v, want an *OptionError for %s", tc.opts, got, err, tc.bad)
				}
			case err != nil || !slices.Equal(got, tc.want):
				t.Errorf("runArgs(%+v) = %q, %v, want %q", tc.opts, got, err, tc.want)
			}
		})
	}
}
