package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestExamplesParse runs every example that --help, README.md and docs/ print,
// with an engine that does not exist, in an empty directory: each must get
// past the command line (exit status other than 2), so that no printed
// example names a flag or an argument count imgsave does not take (#7).
func TestExamplesParse(t *testing.T) {
	var examples []string
	app := newApp(&env{})
	var names []string
	for _, c := range app.Commands {
		names = append(names, c.Name)
	}
	examplesIn := examplesFinder(names)
	for _, c := range app.Commands {
		examples = append(examples, examplesIn(c.Description)...)
		for _, sub := range c.Subcommands {
			examples = append(examples, examplesIn(sub.Description)...)
		}
	}
	examples = append(examples, examplesIn(app.CustomAppHelpTemplate)...)
	docs, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append([]string{filepath.Join("..", "..", "README.md")}, docs...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		examples = append(examples, examplesIn(string(b))...)
	}
	if len(examples) < 20 {
		t.Fatalf("found %d examples, want every command's: %q", len(examples), examples)
	}
	t.Setenv("IMGSAVE_ENGINE", "/nonexistent/docker")
	t.Chdir(t.TempDir())
	for _, ex := range examples {
		args := noEngine(shellWords(t, ex))
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), args, strings.NewReader(""), &stdout, &stderr)
		// diff's status 2 is any trouble, as cmp's is: only the usage hint
		// tells a command line it refused.
		usage := code == 2 && args[1] != "diff"
		if usage || strings.Contains(stderr.String(), "Run 'imgsave") {
			t.Errorf("example %q: exit status %d: %s", ex, code, stderr.String())
		}
	}
}

// noEngine points an example's --engine at no engine, so that it stops
// after parsing instead of reaching a real one.
func noEngine(args []string) []string {
	for i, a := range args {
		switch {
		case a == "--engine" && i+1 < len(args):
			args[i+1] = "/nonexistent/docker"
		case strings.HasPrefix(a, "--engine="):
			args[i] = "--engine=/nonexistent/docker"
		}
	}
	return args
}

// examplesFinder returns what finds the imgsave commands in text: each
// "imgsave CMD ..." up to a shell operator, redirection or comment, where
// CMD is one of names, the app's commands, so that a new command's
// examples are checked from the day it is added.
func examplesFinder(names []string) func(text string) []string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	re := regexp.MustCompile(`(?m)(?:^|[|&;]\s*|^\s+)(imgsave (?:` + strings.Join(quoted, "|") + `)\b[^|&;#<>\n]*)`)
	return func(text string) []string {
		var out []string
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			out = append(out, strings.TrimSpace(m[1]))
		}
		return out
	}
}

// shellWords splits a command line as sh would, for the quoting the
// examples use: single and double quotes, no expansions.
func shellWords(t *testing.T, s string) []string {
	var words []string
	var w strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			w.WriteByte(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				words, in = append(words, w.String()), false
				w.Reset()
			}
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("example %q: unterminated quote", s)
	}
	if in {
		words = append(words, w.String())
	}
	return words
}
