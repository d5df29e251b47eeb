package sigstore

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func fakeVerifier(t *testing.T, dir string) string {
	t.Helper()
	name := Name
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFind looks beside the running executable first, then on PATH.
func TestFind(t *testing.T) {
	beside, onPath, empty := t.TempDir(), t.TempDir(), t.TempDir()
	want := fakeVerifier(t, beside)
	wantPath := fakeVerifier(t, onPath)
	self := filepath.Join(beside, "imgsave")

	t.Setenv("PATH", onPath)
	if got, err := Find(self); err != nil || got != want {
		t.Errorf("Find(%q) = %q, %v, want %q beside it", self, got, err, want)
	}
	if got, err := Find(filepath.Join(empty, "imgsave")); err != nil || got != wantPath {
		t.Errorf("Find(in empty) = %q, %v, want %q from PATH", got, err, wantPath)
	}
	if got, err := Find(""); err != nil || got != wantPath {
		t.Errorf("Find(\"\") = %q, %v, want %q from PATH", got, err, wantPath)
	}
	t.Setenv("PATH", empty)
	if _, err := Find(filepath.Join(empty, "imgsave")); !errors.Is(err, ErrVerifierNotFound) {
		t.Errorf("Find(nowhere) = %v, want ErrVerifierNotFound", err)
	}
	// A folder of that name beside imgsave is not the verifier.
	if err := os.Mkdir(filepath.Join(empty, Name), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(filepath.Join(empty, "imgsave")); !errors.Is(err, ErrVerifierNotFound) {
		t.Errorf("Find(beside a folder) = %v, want ErrVerifierNotFound", err)
	}
}

func TestArgs(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want []string
	}{
		{"keyless", Options{Bundle: "-b.json", Digest: "sha256:ab", TrustedRoot: "tr.json", Identity: "me@example.com", IssuerRegexp: "^https://"},
			[]string{"verify", "--trusted-root", "tr.json", "--certificate-identity", "me@example.com", "--certificate-oidc-issuer-regexp", "^https://", "--", "-b.json", "sha256:ab"}},
		{"key", Options{Bundle: "b.json", Digest: "sha256:ab", TrustedRoot: "tr.json", Key: "cosign.pub"},
			[]string{"verify", "--trusted-root", "tr.json", "--key", "cosign.pub", "--", "b.json", "sha256:ab"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.o.Args(); !slices.Equal(got, tc.want) {
				t.Errorf("Args() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseResult(t *testing.T) {
	res, err := ParseResult(strings.NewReader(`{"verified":true,"bundle":"b","digest":"sha256:ab","identity":"me","newField":1}` + "\n"))
	if err != nil || !res.Verified || res.Identity != "me" {
		t.Errorf("ParseResult = %+v, %v, want verified by me (unknown fields ignored)", res, err)
	}
	for _, bad := range []string{
		`{"verified":true}{"verified":false}`,
		`{"verified":"yes"}`,
		`{"verified":true,"bundle":"` + strings.Repeat("a", MaxResultSize) + `"}`,
	} {
		if res, err := ParseResult(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseResult(%.40q) = %+v, want an error", bad, res)
		}
	}
}
