package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgsave/imgsave/manifest/sigstore"
)

const (
	publicRoot      = "testdata/trusted_root.public-good.json"
	sigstoreJS      = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
	githubActions   = "https://token.actions.githubusercontent.com"
	sigstoreJS130   = "sha512:76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751"
	sigstoreJS200   = "sha512:46d4e2f74c4877316640000a6fdf8a8b59f1e0847667973e9859f774dd31b8f1e0937813b777fb66a2ac67d50540fe34640966eee9fc2ccca387082b4c85cd3c"
	provenance130   = "testdata/sigstore-js-1.3.0-provenance.sigstore.json"
	provenance200   = "testdata/sigstore-js-2.0.0-provenance.sigstore.json"
	publish130      = "testdata/sigstore-js-1.3.0-publish.sigstore.json"
	npmPublishKey   = "testdata/npm-publish-key.pub"
	slsaProvenance1 = "https://slsa.dev/provenance/v1"
)

// TestVerifyPublic verifies real keyless and key-based bundles from the
// public-good instance against its stored trusted root (testdata/README.md).
func TestVerifyPublic(t *testing.T) {
	otherKey := writeTemp(t, "other.pub", newKeyPEM(t))
	id := []string{"--certificate-identity", sigstoreJS, "--certificate-oidc-issuer", githubActions}
	tests := []struct {
		name   string
		args   []string
		refuse string
	}{
		{"keyless provenance v0.2", append(append([]string{"--trusted-root", publicRoot}, id...), provenance130, sigstoreJS130), ""},
		{"keyless provenance v1", append(append([]string{"--trusted-root", publicRoot}, id...), provenance200, sigstoreJS200), ""},
		{"key-based publish", []string{"--trusted-root", publicRoot, "--key", npmPublishKey, publish130, sigstoreJS130}, ""},
		{"other workflow", []string{"--trusted-root", publicRoot, "--certificate-identity", strings.Replace(sigstoreJS, "main", "evil", 1), "--certificate-oidc-issuer", githubActions, provenance200, sigstoreJS200}, "expected SAN value"},
		{"other package", append(append([]string{"--trusted-root", publicRoot}, id...), provenance200, sigstoreJS130), "digest"},
		{"other key", []string{"--trusted-root", publicRoot, "--key", otherKey, publish130, sigstoreJS130}, "verif"},
		{"key for a keyless bundle", []string{"--trusted-root", publicRoot, "--key", npmPublishKey, provenance200, sigstoreJS200}, "expected key signature, not certificate"},
		{"identity for a key-based bundle", append(append([]string{"--trusted-root", publicRoot}, id...), publish130, sigstoreJS130), "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, res, stderr := verifyArgs(t, tc.args...)
			if tc.refuse == "" {
				if code != 0 || !res.Verified {
					t.Fatalf("verify = %d, %+v, want verified\n%s", code, res, stderr)
				}
				if res.IntegratedTime == nil {
					t.Errorf("no integrated time in %+v", res)
				}
				return
			}
			if code != exitRefused || res.Verified || !strings.Contains(res.Error, tc.refuse) {
				t.Fatalf("verify = %d, verified %v, error %q; want %d, refused, mentioning %q", code, res.Verified, res.Error, exitRefused, tc.refuse)
			}
		})
	}
	t.Run("result", func(t *testing.T) {
		_, res, _ := verifyArgs(t, append(append([]string{"--trusted-root", publicRoot}, id...), provenance200, sigstoreJS200)...)
		if res.Identity != sigstoreJS || res.Issuer != githubActions || res.PredicateType != slsaProvenance1 ||
			len(res.Subjects) != 1 || res.Subjects[0].Name != "pkg:npm/sigstore@2.0.0" || string(res.Subjects[0].Digests[0]) != sigstoreJS200 ||
			res.IntegratedTime.Format("2006-01-02T15:04:05Z") != "2023-08-18T16:05:35Z" {
			t.Errorf("result = %+v", res)
		}
	})
}

func newKeyPEM(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// TestVerifyInputs refuses bad arguments and oversized or malformed files
// with one line naming the file or flag.
func TestVerifyInputs(t *testing.T) {
	big := writeTemp(t, "big.json", make([]byte, maxBundleSize+1))
	bigKey := writeTemp(t, "big.pub", make([]byte, maxKeySize+1))
	junk := writeTemp(t, "junk.json", []byte(`{"mediaType": 1}`))
	id := []string{"--certificate-identity", sigstoreJS, "--certificate-oidc-issuer", githubActions}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no trusted root", append(append([]string{}, id...), provenance200, sigstoreJS200), exitUsage, "--trusted-root is required"},
		{"no policy", []string{"--trusted-root", publicRoot, provenance200, sigstoreJS200}, exitUsage, "no identity policy"},
		{"identity without issuer", []string{"--trusted-root", publicRoot, "--certificate-identity", sigstoreJS, provenance200, sigstoreJS200}, exitUsage, "--certificate-oidc-issuer (or -regexp) is required"},
		{"issuer without identity", []string{"--trusted-root", publicRoot, "--certificate-oidc-issuer", githubActions, provenance200, sigstoreJS200}, exitUsage, "no identity policy"},
		{"key and identity", append([]string{"--trusted-root", publicRoot, "--key", npmPublishKey}, append(id, provenance200, sigstoreJS200)...), exitUsage, "exclusive"},
		{"both identities", []string{"--trusted-root", publicRoot, "--certificate-identity", "a", "--certificate-identity-regexp", "a", "--certificate-oidc-issuer", githubActions, provenance200, sigstoreJS200}, exitUsage, "exclusive"},
		{"one argument", append([]string{"--trusted-root", publicRoot}, append(id, provenance200)...), exitUsage, "BUNDLE and DIGEST"},
		{"bad digest", append([]string{"--trusted-root", publicRoot}, append(id, provenance200, "sha256:zz")...), exitRefused, `digest "sha256:zz"`},
		{"missing bundle", append([]string{"--trusted-root", publicRoot}, append(id, "nosuch.json", sigstoreJS200)...), exitRefused, "nosuch.json"},
		{"oversized bundle", append([]string{"--trusted-root", publicRoot}, append(id, big, sigstoreJS200)...), exitRefused, big + ": larger than"},
		{"oversized trusted root", append([]string{"--trusted-root", big}, append(id, provenance200, sigstoreJS200)...), exitRefused, big + ": larger than"},
		{"oversized key", []string{"--trusted-root", publicRoot, "--key", bigKey, publish130, sigstoreJS130}, exitRefused, bigKey + ": larger than"},
		{"malformed bundle", append([]string{"--trusted-root", publicRoot}, append(id, junk, sigstoreJS200)...), exitRefused, "bundle " + junk},
		{"malformed trusted root", append([]string{"--trusted-root", junk}, append(id, provenance200, sigstoreJS200)...), exitRefused, "trusted root " + junk},
		{"key not PEM", []string{"--trusted-root", publicRoot, "--key", junk, publish130, sigstoreJS130}, exitRefused, "key " + junk},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(append([]string{"verify"}, tc.args...), &stdout, &stderr)
			line := strings.TrimSuffix(stderr.String(), "\n")
			if code != tc.code || !strings.Contains(line, tc.want) || strings.Contains(line, "\n") {
				t.Fatalf("run = %d, stderr %q; want %d and one line with %q", code, stderr.String(), tc.code, tc.want)
			}
			if code == exitRefused {
				res, err := sigstore.ParseResult(strings.NewReader(stdout.String()))
				if err != nil || res.Verified || "imgsave-sigstore: "+res.Error != line {
					t.Errorf("stdout = %q (%v), want verified false and the error", stdout.String(), err)
				}
			}
		})
	}
}

// TestOffline builds the binary and verifies a real keyless bundle in a
// network namespace with no interface but loopback (unshare -n): the
// verifier needs no network, and a request would fail at once.
func TestOffline(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err == nil {
		err = exec.Command(unshare, "-n", "true").Run()
	}
	if err != nil {
		// CI (IMGSAVE_E2E=1) runs as root with util-linux: no silent skip.
		if os.Getenv("IMGSAVE_E2E") == "1" {
			t.Fatalf("unshare -n: %v (needs util-linux and root or user namespaces)", err)
		}
		t.Skipf("unshare -n: %v", err)
	}
	bin := filepath.Join(t.TempDir(), sigstore.Name)
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	args := sigstore.Options{Bundle: provenance200, Digest: sigstoreJS200, TrustedRoot: publicRoot, Identity: sigstoreJS, Issuer: githubActions}.Args()
	out, err := exec.Command(unshare, append([]string{"-n", bin}, args...)...).Output()
	if err != nil {
		t.Fatalf("unshare -n %s %q: %v\n%s", bin, args, err, out)
	}
	res, err := sigstore.ParseResult(strings.NewReader(string(out)))
	if err != nil || !res.Verified || res.Identity != sigstoreJS {
		t.Fatalf("result %+v, %v; want verified by %s", res, err, sigstoreJS)
	}
}

// TestUsage: --help on stdout with examples and status 0; anything but
// verify is a usage error on stderr with no JSON.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, 0},
		{[]string{"verify", "-h"}, 0},
		{nil, exitUsage},
		{[]string{"sign"}, exitUsage},
	} {
		var stdout, stderr strings.Builder
		code := run(tc.args, &stdout, &stderr)
		out := stdout.String()
		if code != 0 {
			out = stderr.String()
			if stdout.Len() != 0 {
				t.Errorf("run(%q) wrote %q to stdout, want nothing", tc.args, stdout.String())
			}
		}
		if code != tc.code || !strings.Contains(out, "Examples:") {
			t.Errorf("run(%q) = %d, output %q; want %d and the usage", tc.args, code, out, tc.code)
		}
	}
}
