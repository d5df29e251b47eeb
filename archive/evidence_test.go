package archive

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestExtractExtra: extra files land in the evidence folder with the tree,
// anything outside it is refused, a replacing save may remove them, and
// Migrate carries them over as they are.
func TestExtractExtra(t *testing.T) {
	im := newImage(t, "evidence")
	b := mkTar(t, im.legacy(t)...)
	extra := []File{
		{Path: "evidence/.gitattributes", Data: []byte("* annex.largefiles=nothing\n")},
		{Path: "evidence/" + im.id.Encoded() + "/index.json", Data: []byte(`{}`)},
	}
	dir, _ := extract(t, bytes.NewReader(b), Options{Extra: extra})
	for _, f := range extra {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s = %q, %v; want %q", f.Path, got, err, f.Data)
		}
		if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Path))); err != nil || fi.Mode().Perm() != 0o644 || !fi.ModTime().Equal(modTime) {
			t.Errorf("%s: %v, %v; want 0644 at the epoch", f.Path, fi.Mode(), err)
		}
	}
	if err := CheckTarget(dir, true); err != nil {
		t.Errorf("CheckTarget(replace) of a directory with evidence = %v", err)
	}
	for _, bad := range []string{"blobs/sha256/x", "evidence/../manifest.json", "/evidence/x", "evidence"} {
		if _, err := Extract(t.Context(), bytes.NewReader(b), filepath.Join(t.TempDir(), "x"), Options{Extra: []File{{Path: bad, Data: []byte("x")}}}); !errors.Is(err, ErrRefused) {
			t.Errorf("Extract with extra %q = %v, want ErrRefused", bad, err)
		}
	}
	if _, err := Migrate(t.Context(), dir, Options{}); err != nil {
		t.Fatalf("Migrate = %v", err)
	}
	kept, err := ReadExtra(dir)
	if err != nil || len(kept) != len(extra) {
		t.Fatalf("after Migrate the evidence is %v, %v; want %d files", kept, err, len(extra))
	}
}
