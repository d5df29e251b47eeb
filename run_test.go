package imgsave

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/manifest"
)

func TestRunArgs(t *testing.T) {
	me := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	ep := "/bin/sh"
	tests := []struct {
		name string
		opts RunOptions
		want []string
		m    loader.UserMapping
		sel  loader.Relabel
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
		{name: "rootless podman", opts: RunOptions{Cwd: "/w"}, m: loader.MapKeepID,
			want: []string{"run", "--rm", "--interactive", "--mount", "type=bind,source=/w,target=/tmp", "--workdir", "/tmp", "--userns=keep-id"}},
		{name: "rootless docker", opts: RunOptions{Cwd: "/w"}, m: loader.MapNone,
			want: []string{"run", "--rm", "--interactive", "--mount", "type=bind,source=/w,target=/tmp", "--workdir", "/tmp"}},
		{name: "rootless podman, --user wins", opts: RunOptions{Cwd: "/w", User: "5"}, m: loader.MapKeepID,
			want: []string{"run", "--rm", "--interactive", "--mount", "type=bind,source=/w,target=/tmp", "--workdir", "/tmp", "--user", "5"}},
		{name: "SELinux, podman", opts: RunOptions{Cwd: "/w", Root: true, Mounts: []string{"/etc:/ref:ro"}}, sel: loader.RelabelMount,
			want: []string{"run", "--rm", "--interactive", "--mount", "type=bind,source=/w,target=/tmp,relabel=shared", "--workdir", "/tmp", "--mount", "type=bind,source=/etc,target=/ref,readonly,relabel=shared"}},
		{name: "SELinux, docker", opts: RunOptions{Cwd: "/w", Root: true, Mounts: []string{"/etc:/ref:ro"}}, sel: loader.RelabelVolume,
			want: []string{"run", "--rm", "--interactive", "--volume", "/w:/tmp:z", "--workdir", "/tmp", "--volume", "/etc:/ref:ro,z"}},
		{name: "SELinux, docker, a source with a colon", opts: RunOptions{Cwd: "/d/10:00", Root: true}, sel: loader.RelabelVolume, bad: "Mounts"},
		{name: "Windows working directory", opts: RunOptions{Cwd: `C:\Users\alice\ds`}, m: loader.MapNone,
			want: []string{"run", "--rm", "--interactive", "--mount", `type=bind,source=C:\Users\alice\ds,target=/tmp`, "--workdir", "/tmp"}},
		{name: "mount source that does not exist", opts: RunOptions{Mounts: []string{"/nonexistent/typo:/data"}}, notExist: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runArgs(tc.opts, tc.m, tc.sel)
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

// TestParseMount splits --mount values from the right, so that a Windows
// drive's colon is part of SRC, never a separator (#13).
func TestParseMount(t *testing.T) {
	tests := []struct {
		goos, m  string
		src, dst string
		ro, ok   bool
	}{
		{goos: "linux", m: "/data:/in", src: "/data", dst: "/in", ok: true},
		{goos: "linux", m: "/data:/in:ro", src: "/data", dst: "/in", ro: true, ok: true},
		{goos: "linux", m: "/d/2026-12-01T10:00:/in:rw", src: "/d/2026-12-01T10:00", dst: "/in", ok: true},
		{goos: "linux", m: "C:/in", src: "C", dst: "/in", ok: true}, // a folder named C
		{goos: "windows", m: `C:\data:/data`, src: `C:\data`, dst: "/data", ok: true},
		{goos: "windows", m: `C:\data:/data:ro`, src: `C:\data`, dst: "/data", ro: true, ok: true},
		{goos: "windows", m: `C:\data:/data:rw`, src: `C:\data`, dst: "/data", ok: true},
		{goos: "windows", m: "C:/data:/data", src: "C:/data", dst: "/data", ok: true},
		{goos: "windows", m: `\\server\share\data:/data`, src: `\\server\share\data`, dst: "/data", ok: true},
		{goos: "windows", m: `data\in:/data`, src: `data\in`, dst: "/data", ok: true},
		{goos: "windows", m: `C:\data`},
		{goos: "windows", m: "C:/data"}, // the drive, not a folder named C
		{goos: "windows", m: `C:\data:/data:z`},
		{goos: "windows", m: `C:\data:D:\in`},
	}
	for _, tc := range tests {
		src, dst, ro, ok := parseMount(tc.goos, tc.m)
		if src != tc.src || dst != tc.dst || ro != tc.ro || ok != tc.ok {
			t.Errorf("parseMount(%s, %q) = %q, %q, %v, %v, want %q, %q, %v, %v", tc.goos, tc.m, src, dst, ro, ok, tc.src, tc.dst, tc.ro, tc.ok)
		}
	}
}

// TestAnnexTop pins which folder run mounts so that annexed files resolve
// (#9): the top of the outermost superdataset holding the current
// directory's dataset, climbing only through parents that record the one
// below as a submodule (#18): never a plain or annexed repository that
// merely sits above, such as an annexed home folder.
func TestAnnexTop(t *testing.T) {
	root := t.TempDir()
	mk := func(dirs ...string) {
		for _, d := range dirs {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("plain/sub", "home/.git", "home/ds/.git/annex", "home/ds/data/sub",
		"home/ds/subds/.git/annex", "home/ds/subds/in",
		"home/ds/.git/modules/mod/annex", "home/ds/mod/in", "alone/.git/annex",
		"annexhome/.git/annex", "annexhome/projects/ds/.git/annex", "annexhome/projects/ds/in",
		"annexhome/loose/in",
		"super/.git/annex", "super/stray/.git/annex", "super/stray/in",
		"super/plainsub/.git", "super/plainsub/in",
		"annexed/.git/annex", "annexed/gitrepo/.git", "annexed/gitrepo/in")
	write("home/ds/mod/.git", "gitdir: ../.git/modules/mod\n")
	write("home/ds/.gitmodules", "[submodule \"subds\"]\n\tpath = subds\n\turl = ./subds\n[submodule \"mod\"]\n\tpath = \"mod\"\n")
	// A superdataset that records a plain git submodule: its annexed
	// files may live in the superdataset's own annex.
	write("super/.gitmodules", "[submodule \"plainsub\"]\n\tpath = plainsub\n")
	tests := []struct{ cwd, top, rel string }{
		{cwd: "plain/sub"},
		{cwd: "home"},
		{cwd: "home/ds", top: "home/ds", rel: "."},
		{cwd: "home/ds/data/sub", top: "home/ds", rel: "data/sub"},
		{cwd: "home/ds/subds/in", top: "home/ds", rel: "subds/in"},
		{cwd: "home/ds/mod/in", top: "home/ds", rel: "mod/in"},
		{cwd: "alone", top: "alone", rel: "."},
		// An annexed home holds the dataset but does not record it (#18).
		{cwd: "annexhome/projects/ds/in", top: "annexhome/projects/ds", rel: "in"},
		{cwd: "annexhome/loose/in", top: "annexhome", rel: "loose/in"},
		{cwd: "super/stray/in", top: "super/stray", rel: "in"},
		{cwd: "super/plainsub/in", top: "super", rel: "plainsub/in"},
		// A plain repository inside a dataset, not a submodule of it: its
		// own folder, which holds no annex, is all there is.
		{cwd: "annexed/gitrepo/in"},
	}
	for _, tc := range tests {
		top, rel := annexTop(filepath.Join(root, tc.cwd))
		want := ""
		if tc.top != "" {
			want = filepath.Join(root, tc.top)
		}
		if top != want || rel != tc.rel {
			t.Errorf("annexTop(%s) = %q, %q, want %q, %q", tc.cwd, top, rel, want, tc.rel)
		}
	}
}

// TestAnnexTopGitlink pins that a superdataset recording its subdataset only
// as a gitlink in its index, with no .gitmodules, is climbed through, and
// that an annexed home above it is not (#18); with real git and git-annex.
func TestAnnexTopGitlink(t *testing.T) {
	for _, tool := range []string{"git", "git-annex"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("IMGSAVE_E2E") == "1" {
				t.Fatalf("%s: %v", tool, err)
			}
			t.Skipf("%s: %v", tool, err)
		}
	}
	home := t.TempDir()
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+home, "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v in %s: %v\n%s", args, dir, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	sup := filepath.Join(home, "projects", "super")
	sub := filepath.Join(sup, "ds")
	for _, d := range []string{home, sup, sub} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		git(d, "init", "-q")
		git(d, "annex", "init", "-q")
	}
	git(sub, "commit", "-q", "--allow-empty", "-m", "x")
	head := git(sub, "rev-parse", "HEAD")
	git(sup, "update-index", "--add", "--cacheinfo", "160000,"+head+",ds")
	top, rel := annexTop(filepath.Join(sub))
	if top != sup || rel != "ds" {
		t.Errorf("annexTop(super/ds) = %q, %q, want %q, %q", top, rel, sup, "ds")
	}
	// The home repository above records neither super nor ds.
	top, rel = annexTop(home + "/projects/super")
	if top != sup || rel != "." {
		t.Errorf("annexTop(super) = %q, %q, want %q, %q", top, rel, sup, ".")
	}
}

// TestPlatformArgs (#29): run tells the engine the platform of an image
// that is not the host's, so that docker does not warn on every run.
func TestPlatformArgs(t *testing.T) {
	for _, tc := range []struct {
		os, arch, variant, host string
		want                    []string
	}{
		{"linux", "amd64", "", "linux/amd64", nil},
		{"linux", "arm64", "", "linux/amd64", []string{"--platform", "linux/arm64"}},
		{"linux", "arm64", "v8", "linux/arm64", nil},
		{"linux", "arm", "v7", "linux/amd64", []string{"--platform", "linux/arm/v7"}},
	} {
		im := &archive.DirImage{Config: &manifest.Config{OS: tc.os, Architecture: tc.arch, Variant: tc.variant}}
		if got := platformArgs(im, tc.host); !slices.Equal(got, tc.want) {
			t.Errorf("platformArgs(%s/%s/%s, host %s) = %q, want %q", tc.os, tc.arch, tc.variant, tc.host, got, tc.want)
		}
	}
}
