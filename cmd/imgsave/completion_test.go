package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// imgsaveOut runs imgsave with args and returns its stdout, failing the
// test on any other exit status than 0.
func imgsaveOut(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), append([]string{"imgsave"}, args...), strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("imgsave %s = %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.String()
}

// TestCompletionBash sources `imgsave completion bash` in bash and asks it
// what Tab offers: command names, subcommands and flags of the command
// typed, past a flag's value, and nothing of its own after `--` (bash then
// completes file names) (#29).
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		if os.Getenv("IMGSAVE_E2E") == "1" {
			t.Fatal("IMGSAVE_E2E=1: no bash to source the completion script in")
		}
		t.Skip("no bash")
	}
	script := filepath.Join(t.TempDir(), "imgsave.bash")
	if err := os.WriteFile(script, []byte(imgsaveOut(t, "completion", "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		line string // what is typed; Tab completes its last word ("" after a space)
		want string // COMPREPLY, space-separated
	}{
		{"imgsave sa", "save"},
		{"imgsave ", "save pull push import load run ls diff du gc verify sign attestation trust-root migrate engine remote completion"},
		{"imgsave rem", "remote"},
		{"imgsave remote in", "install init"},
		{"imgsave remote register --reg", "--registry"},
		{"imgsave save --for", "--force"},
		{"imgsave --engine docker ru", "run"},
		{"imgsave --engine ", ""},
		{"imgsave run --mount a:/b ./img --no-c", "--no-cwd-mount"},
		{"imgsave run ./img -- sa", ""},
		{"imgsave ls ./img ", ""},
		{"imgsave completion --he", "--help"},
	}
	for _, tc := range tests {
		words := strings.Fields(tc.line)
		if strings.HasSuffix(tc.line, " ") {
			words = append(words, "")
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		cmd := exec.Command(bash, "--norc", "-c", `source "$1" && COMP_WORDS=(`+strings.Join(quoted, " ")+`) && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _imgsave && echo "${COMPREPLY[*]}"`, "bash", script)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: bash: %v\n%s", tc.line, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("Tab after %q = %q, want %q", tc.line, got, tc.want)
		}
	}
}

// TestCompletionShells: zsh's script is bash's under bashcompinit, fish's
// names every command; another shell is a usage error.
func TestCompletionShells(t *testing.T) {
	bash := imgsaveOut(t, "completion", "bash")
	if zsh := imgsaveOut(t, "completion", "zsh"); !strings.HasPrefix(zsh, "#compdef imgsave\n") || !strings.HasSuffix(zsh, bash) {
		t.Errorf("completion zsh is not #compdef plus bash's script:\n%s", zsh)
	}
	fish := imgsaveOut(t, "completion", "fish")
	for _, c := range newApp(&env{}).Commands {
		if !c.Hidden && !strings.Contains(fish, "-a '"+c.Name+"'") {
			t.Errorf("completion fish does not complete %q:\n%s", c.Name, fish)
		}
	}
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"imgsave", "completion", "tcsh"}, strings.NewReader(""), &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), `want bash, zsh or fish, got "tcsh"`) {
		t.Errorf("completion tcsh = %d, %q; want 2 and the shells it takes", code, stderr.String())
	}
}

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/imgsave.1 and docs/cli.md from the command definitions")

// TestDocsGenerated: the manual page and docs/cli.md are what `imgsave
// man` makes of the command definitions now, so a flag added or changed
// reaches them (`make man`, or go test ./cmd/imgsave -run
// TestDocsGenerated -update-docs, rewrites them) (#29).
func TestDocsGenerated(t *testing.T) {
	t.Setenv("IMGSAVE_ENGINE", "podman") // the environment must not leak in as a default
	for _, tc := range []struct {
		file string
		args []string
	}{
		{"imgsave.1", []string{"man"}},
		{"cli.md", []string{"man", "--markdown"}},
	} {
		got := imgsaveOut(t, tc.args...)
		path := filepath.Join("..", "..", "docs", tc.file)
		if *updateDocs {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("docs/%s is not what imgsave %s prints now: run make man", tc.file, strings.Join(tc.args, " "))
		}
	}
}
