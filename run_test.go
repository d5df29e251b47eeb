package imgsave

import (
	"errors"
	"fmt"
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
	}{
		{name: "defaults", opts: RunOptions{Cwd: "/w"},
			want: []string{"run", "--rm", "--interactive", "--volume", "/w:/tmp", "--workdir", "/tmp", "--user", me}},
		{name: "tty, workdir, env, entrypoint, engine args", opts: RunOptions{Cwd: "/w", TTY: true, Workdir: "/data", Env: []string{"A=1"}, Entrypoint: &ep, EngineArgs: []string{"--network=none"}},
			want: []string{"run", "--rm", "--interactive", "--tty", "--volume", "/w:/data", "--workdir", "/data", "--env", "A=1", "--user", me, "--entrypoint", "/bin/sh", "--network=none"}},
		{name: "no cwd mount, root", opts: RunOptions{NoCwdMount: true, Root: true},
			want: []string{"run", "--rm", "--interactive"}},
		{name: "no cwd mount, workdir, user", opts: RunOptions{NoCwdMount: true, Workdir: "/x", User: "5:6"},
			want: []string{"run", "--rm", "--interactive", "--workdir", "/x", "--user", "5:6"}},
		{name: "mount", opts: RunOptions{NoCwdMount: true, Root: true, Mounts: []string{"/ref:/ref:ro"}},
			want: []string{"run", "--rm", "--interactive", "--volume", "/ref:/ref:ro"}},
		{name: "mount without a destination", opts: RunOptions{Mounts: []string{"/ref"}}, bad: "Mounts"},
		{name: "mount with an empty source", opts: RunOptions{Mounts: []string{":/ref"}}, bad: "Mounts"},
		{name: "env without =", opts: RunOptions{Env: []string{"A"}}, bad: "Env"},
		{name: "env without a name", opts: RunOptions{Env: []string{"=1"}}, bad: "Env"},
		{name: "user and root", opts: RunOptions{User: "1", Root: true}, bad: "User"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runArgs(tc.opts)
			var opt *OptionError
			switch {
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
