package imgsave

import (
	"fmt"
	"os"
	"testing"
)

// TestMain gives the package's tests a cache folder of their own: loads
// record what they put into an engine (loaded.json), take locks and look
// for SIF files under the user's cache folder, and a test run must leave
// the runner's own untouched.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "imgsave-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
