package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestVersionStamped: the version `make release` stamps in with -ldflags
// -X main.version is what --version prints (#13).
func TestVersionStamped(t *testing.T) {
	old := version
	version = "v0.0.0-test"
	t.Cleanup(func() { version = old })
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"imgsave", "--version"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("imgsave --version = %d, stderr %q", code, stderr.String())
	}
	if got, want := strings.TrimSpace(stdout.String()), "imgsave version v0.0.0-test"; got != want {
		t.Errorf("imgsave --version printed %q, want %q", got, want)
	}
}
