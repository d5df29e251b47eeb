package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryCommandLine runs every command and command group with no
// arguments, with a typo, and with --help: none may panic (`imgsave
// remote` did, #19), --help exits 0, a typo is a usage error (exit 2) of
// one line plus the help hint.
func TestEveryCommandLine(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("IMGSAVE_ENGINE", "/nonexistent/engine") // nothing reaches a real engine
	app := newApp(&env{})
	var lines [][]string
	lines = append(lines, nil, []string{"--help"}, []string{"sav", "x", "y"}, []string{"bogus"})
	for _, c := range app.Commands {
		lines = append(lines, []string{c.Name}, []string{c.Name, "--help"}, []string{c.Name, "--no-such-flag"})
		for _, sub := range c.Subcommands {
			if sub.Name == "help" {
				continue
			}
			lines = append(lines, []string{c.Name, sub.Name, "--help"}, []string{c.Name, sub.Name, "--no-such-flag"})
		}
		if len(c.Subcommands) > 0 {
			lines = append(lines, []string{c.Name, c.Subcommands[0].Name[:len(c.Subcommands[0].Name)-1]})
		}
	}
	for _, l := range lines {
		t.Run(strings.Join(l, "_"), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := func() (code int) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("imgsave %s panics: %v", strings.Join(l, " "), r)
					}
				}()
				return run(t.Context(), append([]string{"imgsave"}, l...), strings.NewReader(""), &stdout, &stderr)
			}()
			last := ""
			if len(l) > 0 {
				last = l[len(l)-1]
			}
			switch {
			case last == "--help":
				if code != 0 || stdout.Len() == 0 {
					t.Errorf("imgsave %s = %d with %d bytes of help, want 0 and the help", strings.Join(l, " "), code, stdout.Len())
				}
			case len(l) == 0:
				if code != 0 {
					t.Errorf("imgsave = %d, want 0 (the help)", code)
				}
			case strings.HasPrefix(last, "--no-such") || last == "bogus" || last == "y" || len(l) == 2 && l[0] == "remote":
				want := fmt.Sprintf("Run 'imgsave %s--help' for usage.\n", prefix(l))
				if code != 2 || strings.Count(stderr.String(), "\n") != 2 || !strings.HasSuffix(stderr.String(), want) {
					t.Errorf("imgsave %s = %d, %q; want 2, one line and %q", strings.Join(l, " "), code, stderr.String(), want)
				}
			default:
				if strings.Contains(stderr.String(), "goroutine ") {
					t.Errorf("imgsave %s prints a stack trace:\n%s", strings.Join(l, " "), stderr.String())
				}
			}
		})
	}
}

// prefix is the command path whose --help a usage error names.
func prefix(l []string) string {
	switch {
	case len(l) == 0 || l[0] == "sav" || l[0] == "bogus":
		return ""
	case len(l) == 3 && l[2] == "--no-such-flag":
		return l[0] + " " + l[1] + " "
	}
	return l[0] + " "
}

// TestRunFlagAfterDir: a flag of run given after DIR is refused with the
// command line that means it, not run as the container's command (#19).
func TestRunFlagAfterDir(t *testing.T) {
	t.Setenv("IMGSAVE_ENGINE", "/nonexistent/engine")
	tests := []struct {
		args []string
		want string // "" when the line is not refused as misplaced
	}{
		{[]string{"./img", "--root", "--", "id"}, "imgsave run --root ./img -- id"},
		{[]string{"./img", "--user", "1000", "-e", "A=1", "--", "id"}, "imgsave run --user 1000 -e A=1 ./img -- id"},
		{[]string{"./img", "--root"}, "imgsave run --root ./img"},
		{[]string{"./img", "--", "--root"}, ""},
		{[]string{"./img", "ls", "--root"}, ""},
		{[]string{"./img", "--", "ls", "-l"}, ""},
	}
	for _, tc := range tests {
		var stderr bytes.Buffer
		code := run(t.Context(), append([]string{"imgsave", "run"}, tc.args...), strings.NewReader(""), &bytes.Buffer{}, &stderr)
		refused := strings.Contains(stderr.String(), "flags go before DIR")
		switch {
		case tc.want == "" && refused:
			t.Errorf("imgsave run %q refused as misplaced flags: %s", tc.args, stderr.String())
		case tc.want != "" && (code != 2 || !strings.Contains(stderr.String(), "flags go before DIR: "+tc.want+"\n")):
			t.Errorf("imgsave run %q = %d, %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestImageDirSwapped: IMAGE and DIR the wrong way round are a usage error
// saying the order, before anything reaches an engine or a registry (#19);
// lines that may be meant as typed are left alone.
func TestImageDirSwapped(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("IMGSAVE_ENGINE", "/nonexistent/engine")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	if err := os.MkdirAll("img", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("img/index.json", []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string // "" when the order is not refused
	}{
		{[]string{"pull", "./dir", "127.0.0.1:1/x:1"}, "the order is IMAGE DIR, as in imgsave pull 127.0.0.1:1/x:1 ./dir"},
		{[]string{"save", "img", "busybox:1.36"}, "the order is IMAGE... DIR, as in imgsave save busybox:1.36 img"},
		{[]string{"push", "127.0.0.1:1/x:1", "img"}, "the order is DIR IMAGE, as in imgsave push img 127.0.0.1:1/x:1"},
		{[]string{"save", "img", "out"}, ""},               // an engine image named img, into out
		{[]string{"pull", "127.0.0.1:1/x:1", "./dir"}, ""}, // the right order
		{[]string{"push", "img", "127.0.0.1:1/x:1"}, ""},
	}
	for _, tc := range tests {
		var stderr bytes.Buffer
		code := run(t.Context(), append([]string{"imgsave"}, tc.args...), strings.NewReader(""), &bytes.Buffer{}, &stderr)
		refused := strings.Contains(stderr.String(), "the order is")
		switch {
		case tc.want == "" && refused:
			t.Errorf("imgsave %q refused for its order: %s", tc.args, stderr.String())
		case tc.want != "" && (code != 2 || !strings.Contains(stderr.String(), tc.want+"\n")):
			t.Errorf("imgsave %q = %d, %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestRemoteNotOnPath: after `remote install --dir ~/.local/bin`, a folder
// not on PATH, remote init says to add that folder to PATH rather than to
// install again (#19).
func TestRemoteNotOnPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	bin := filepath.Join(home, ".local", "bin")
	var out, stderr bytes.Buffer
	if code := run(t.Context(), []string{"imgsave", "remote", "install", "--dir", bin}, strings.NewReader(""), &out, &stderr); code != 0 {
		t.Fatalf("remote install = %d: %s", code, stderr.String())
	}
	t.Setenv("PATH", t.TempDir())
	stderr.Reset()
	code := run(t.Context(), []string{"imgsave", "remote", "init", t.TempDir()}, strings.NewReader(""), &out, &stderr)
	// The folder beside imgsave (here the test binary, where scripts'
	// remote install put a link) is looked at first.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("is in %s, which is not on PATH", bin)
	if _, err := os.Lstat(filepath.Join(filepath.Dir(self), remoteProgram)); err == nil {
		want = fmt.Sprintf("is in %s, which is not on PATH", filepath.Dir(self))
	}
	if code != 1 || !strings.Contains(stderr.String(), want) {
		t.Errorf("remote init = %d, %q; want 1 and %q", code, stderr.String(), want)
	}
}

// TestTimeoutFlag: every command that talks to a registry takes --timeout
// and IMGSAVE_REGISTRY_TIMEOUT (#18), and refuses one that is not over 0.
func TestTimeoutFlag(t *testing.T) {
	t.Setenv("IMGSAVE_ENGINE", "/nonexistent/engine")
	for _, args := range [][]string{
		{"pull", "--timeout", "0s", "127.0.0.1:1/x:1", "out"},
		{"push", "--timeout", "-1s", "img", "127.0.0.1:1/x:1"},
		{"remote", "serve", "--timeout", "0s"},
	} {
		var stderr bytes.Buffer
		code := run(t.Context(), append([]string{"imgsave"}, args...), strings.NewReader(""), &bytes.Buffer{}, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "--timeout") {
			t.Errorf("imgsave %q = %d, %q; want 2 naming --timeout", args, code, stderr.String())
		}
	}
	t.Setenv("IMGSAVE_REGISTRY_TIMEOUT", "0s")
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"imgsave", "pull", "127.0.0.1:1/x:1", "out"}, strings.NewReader(""), &bytes.Buffer{}, &stderr); code != 2 {
		t.Errorf("IMGSAVE_REGISTRY_TIMEOUT=0s imgsave pull = %d, %q; want 2", code, stderr.String())
	}
}
