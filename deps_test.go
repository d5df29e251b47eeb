package imgsave

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportRules pins the direction of imports between this module's
// packages (#7): manifest, manifest/cosign and loader import nothing of ours (nor does
// loader/registry/registrytest, which loader/registry's tests use), archive only
// manifest, package imgsave joins them, and the CLI sits on top.
func TestImportRules(t *testing.T) {
	const mod = "github.com/imgsave/imgsave"
	allowed := map[string][]string{
		mod + "/manifest":        {},
		mod + "/manifest/cosign": {},
		mod + "/loader":          {},
		mod + "/loader/registry": {},
		// Test support for loader/registry's own tests: nothing of ours,
		// or they would import themselves.
		mod + "/loader/registry/registrytest": {},
		mod + "/loader/annex":                 {},
		mod + "/archive":                      {mod + "/manifest"},
		// Comparing two images (#32): it reads image directories.
		mod + "/archive/imgdiff": {mod + "/archive", mod + "/manifest"},
		mod:                      {mod + "/archive", mod + "/archive/imgdiff", mod + "/loader", mod + "/loader/annex", mod + "/loader/registry", mod + "/manifest", mod + "/manifest/cosign", mod + "/manifest/sigstore"},
		mod + "/cmd/imgsave":     {mod, mod + "/archive", mod + "/archive/imgdiff", mod + "/loader", mod + "/manifest"},
		// The keyless verifier binary and its contract with imgsave (#30).
		mod + "/manifest/sigstore":    {},
		mod + "/cmd/imgsave-sigstore": {mod + "/manifest/sigstore"},
		// Test support: a throw-away Sigstore (sigstore-go pkg/testing/ca).
		mod + "/manifest/sigstore/sigstoretest": {},
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := 0
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		ok, known := allowed[pkg]
		if !known {
			t.Errorf("package %s has no import rule; add it to this test", pkg)
			continue
		}
		seen++
		for _, imp := range imports {
			if (imp == mod || strings.HasPrefix(imp, mod+"/")) && !slices.Contains(ok, imp) {
				t.Errorf("%s imports %s, want only %q of this module", pkg, imp, ok)
			}
		}
	}
	if seen != len(allowed) {
		t.Errorf("go list showed %d of the %d packages with rules", seen, len(allowed))
	}
}
