package registry

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBoundsDocumented: the rows of the "What is bounded" table (docs/security.md)
// that this package sets say the figures the code uses (#28).
func TestBoundsDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{
		fmt.Sprintf("| a registry that sends or takes nothing | `--timeout` (%dm)", int(DefaultIdleTimeout.Minutes())),
		fmt.Sprintf("| resumptions of a blob | %d, pausing %g s doubling; %d idle timeouts in a row with no new byte end it (a registry stalling at one byte is left after %d × `--timeout`)", resumeTries, resumePause.Seconds(), maxIdleEnds, maxIdleEnds),
		fmt.Sprintf("| redirects | %d per request", maxRedirects),
		fmt.Sprintf("| blobs spooled by a pull | `--jobs` (%d; %d from this machine)", DefaultJobs("192.0.2.1:443"), DefaultJobs("127.0.0.1:5000")),
		fmt.Sprintf("| one error line | %d KiB for registry errors", maxErr>>10),
	} {
		if !strings.Contains(string(b), row) {
			t.Errorf("docs/security.md has no row starting %q", row)
		}
	}
}
