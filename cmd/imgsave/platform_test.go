package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestPlatformFlagRefusesJunk: every command that takes --platform refuses
// a value that is not os/arch[/variant] of sane names, before it reads a
// directory or asks an engine, with one line naming the flag and the value
// (#28: linux/amd64/../.. was taken as linux/amd64).
func TestPlatformFlagRefusesJunk(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("IMGSAVE_ENGINE", "/nonexistent/engine") // nothing reaches a real engine
	var cmds []string
	required := map[string][]string{} // flags a command refuses to run without
	var walk func(path []string, c []*cli.Command)
	walk = func(path []string, cs []*cli.Command) {
		for _, c := range cs {
			p := append(append([]string(nil), path...), c.Name)
			for _, f := range c.Flags {
				if f.Names()[0] == "platform" {
					cmds = append(cmds, strings.Join(p, " "))
				}
				if r, ok := f.(cli.RequiredFlag); ok && r.IsRequired() {
					required[strings.Join(p, " ")] = append(required[strings.Join(p, " ")], "--"+f.Names()[0], "x")
				}
			}
			walk(p, c.Subcommands)
		}
	}
	walk(nil, newApp(&env{}).Commands)
	if len(cmds) < 7 {
		t.Fatalf("commands with --platform: %q, want save, import, pull, load, run, push, sign, attestation...", cmds)
	}
	for _, cmd := range cmds {
		for _, junk := range []string{"linux/amd64/../..", "linux/../amd64", "linux", "linux/amd64/v8/x", "linux/amd 64", "linux/amd64\x1b[2J", "linux/amd64,"} {
			var stdout, stderr bytes.Buffer
			args := append(append(append([]string{"imgsave"}, strings.Fields(cmd)...), required[cmd]...), "--platform", junk, "a", "b")
			code := run(t.Context(), args, strings.NewReader(""), &stdout, &stderr)
			first, _, _ := strings.Cut(stderr.String(), "\n")
			if code != 2 || !strings.HasPrefix(first, `imgsave: --platform "`) || !strings.Contains(first, "want OS/ARCH[/VARIANT]") || strings.ContainsRune(first, '\x1b') {
				t.Errorf("imgsave %s --platform %q = %d, %q; want 2 and one line naming --platform", cmd, junk, code, stderr.String())
			}
		}
	}
}

// TestParsePlatforms: --platform values as the commands read them.
func TestParsePlatforms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		list bool
		want string // "" for an error
	}{
		{"linux/amd64", false, "linux/amd64"},
		{"Linux/x86_64", false, "linux/amd64"},
		{"linux/arm64/v8", false, "linux/arm64/v8"},
		{"all", false, ""},
		{"linux/amd64,linux/arm64", false, ""},
		{"all", true, "all"},
		{"linux/amd64, linux/aarch64", true, "linux/amd64,linux/arm64"},
		{"linux/amd64,all", true, ""},
		{"linux/amd64,", true, ""},
		{"linux/amd64,linux/amd64/../..", true, ""},
		{"", true, ""},
	} {
		got, err := parsePlatforms(tc.in, tc.list)
		if tc.want == "" && err == nil || tc.want != "" && (err != nil || got != tc.want) {
			t.Errorf("parsePlatforms(%q, %v) = %q, %v; want %q", tc.in, tc.list, got, err, tc.want)
		}
	}
}
