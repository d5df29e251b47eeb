package manifest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps pins that manifest imports nothing else of imgsave's and, outside
// the standard library, only the modules its types come from (as
// google/go-containerregistry cmd/crane/depcheck_test.go does).
func TestDeps(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	allowed := []string{
		"github.com/opencontainers/go-digest",
		"github.com/opencontainers/image-spec/",
	}
	const self = "github.com/imgsave/imgsave/manifest"
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == self:
		case strings.HasPrefix(p, "github.com/imgsave/imgsave"):
			t.Errorf("manifest depends on %s, want nothing else of this module", p)
		case !hasAnyPrefix(p, allowed):
			t.Errorf("manifest depends on %s, want only the standard library and %v", p, allowed)
		}
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
