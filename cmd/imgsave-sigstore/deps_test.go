package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImgsaveDoesNotLinkSigstore pins why this verifier is its own binary
// (#30): sigstore-go and its dependencies (about 26 MB, several ms of
// package initialisation) must never reach the imgsave binary, whose every
// command starts fast. The contract package imgsave may use,
// manifest/sigstore, needs only the standard library and go-digest.
func TestImgsaveDoesNotLinkSigstore(t *testing.T) {
	for _, pkg := range []string{"github.com/imgsave/imgsave/cmd/imgsave", "github.com/imgsave/imgsave/manifest/sigstore"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		n := 0
		for dep := range strings.Lines(string(out)) {
			dep = strings.TrimSpace(dep)
			n++
			if strings.HasPrefix(dep, "github.com/sigstore/") || strings.HasPrefix(dep, "github.com/theupdateframework/") {
				t.Errorf("%s links %s; keep sigstore-go in cmd/imgsave-sigstore", pkg, dep)
			}
		}
		if n < 2 {
			t.Errorf("go list -deps %s listed %d packages", pkg, n)
		}
	}
}

// TestVerifierBuildsNoNetworkClient pins that this command builds no TUF or
// Rekor client itself: the trusted root is a file, the bundle carries the
// log's proofs. (sigstore-go's pkg/root links its TUF client for its live
// trusted root; this command never calls it, and init refuses every HTTP
// request.)
func TestVerifierBuildsNoNetworkClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for imp := range strings.Lines(string(out)) {
		imp = strings.TrimSpace(imp)
		for _, bad := range []string{
			"github.com/sigstore/sigstore-go/pkg/tuf",
			"github.com/sigstore/sigstore-go/pkg/sign",
			"github.com/theupdateframework/go-tuf",
			"github.com/sigstore/rekor/pkg/client",
			"github.com/sigstore/rekor-tiles",
		} {
			if imp == bad || strings.HasPrefix(imp, bad+"/") {
				t.Errorf("imgsave-sigstore imports %s; it must stay offline", imp)
			}
		}
	}
}
