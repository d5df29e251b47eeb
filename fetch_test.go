package imgsave

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/imgsave/imgsave/archive"
)

// TestEnsurePresent: a layer whose content is not here (an annex pointer)
// is fetched only when asked, after the caller is told; a directory that
// is no git-annex repository then fails with git annex get's error.
func TestEnsurePresent(t *testing.T) {
	dir, im := imageDir(t, "legacy.tar")
	d, err := archive.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	told := 0
	fetching := func() { told++ }
	if err := ensurePresent(t.Context(), d, im, true, fetching); err != nil || told != 0 {
		t.Fatalf("all present: ensurePresent = %v, told %d times, want nil, 0", err, told)
	}
	p := filepath.Join(dir, filepath.FromSlash(im.Layers[0].Path))
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("/annex/objects/SHA256E-s1--00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ensurePresent(t.Context(), d, im, false, fetching); !errors.Is(err, archive.ErrContentMissing) || told != 0 {
		t.Fatalf("without fetch: ensurePresent = %v, told %d times, want ErrContentMissing, 0", err, told)
	}
	err = ensurePresent(t.Context(), d, im, true, fetching)
	if err == nil || told != 1 {
		t.Fatalf("fetch outside a repository: ensurePresent = %v, told %d times, want git annex get's error, 1", err, told)
	}
}
