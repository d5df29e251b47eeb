package imgsave

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/imgsave/imgsave/archive"
)

// TestLoadFetchedManifestDigest: a directory without index.json whose layer
// is fetched with git annex get only once Load needs it has no manifest
// digest when it is opened; Load's result carries the one WriteTar
// computed and sent, the ID a containerd store gives the image, and the
// layer's size (#18: WriteTar no longer fills them in on its argument).
func TestLoadFetchedManifestDigest(t *testing.T) {
	if _, err := exec.LookPath("git-annex"); err != nil {
		t.Skip("needs git-annex")
	}
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=imgsave", "-c", "user.email=imgsave@example.org"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %q: %v\n%s", args, err, out)
		}
	}
	b, err := os.ReadFile(filepath.Join("testdata", "legacy.tar"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src")
	res, err := archive.Extract(t.Context(), bytes.NewReader(b), filepath.Join(src, "img"), archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Without index.json only the layer file itself gives its size.
	if err := os.Remove(filepath.Join(src, "img", "index.json")); err != nil {
		t.Fatal(err)
	}
	git(src, "init", "-q")
	git(src, "annex", "init", "-q")
	git(src, "annex", "add", "-q", "img")
	git(src, "commit", "-q", "-m", "img")
	clone := filepath.Join(t.TempDir(), "clone")
	git(filepath.Dir(clone), "clone", "-q", src, clone)
	git(clone, "annex", "init", "-q")

	dir := filepath.Join(clone, "img")
	d, err := archive.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if im := d.Images[0]; im.ManifestDigest != "" || im.Layers[0].Size != -1 {
		t.Fatalf("OpenDir before the fetch: manifest %q, layer size %d, want none and -1", im.ManifestDigest, im.Layers[0].Size)
	}
	f := newFake()
	f.containerd = true
	got, err := Load(t.Context(), f, dir, LoadOptions{LockDir: t.TempDir(), Fetch: true})
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	want := res.Manifests[0]
	if !got.Loaded || got.EngineID != want || got.Image.ManifestDigest != want || got.Image.Layers[0].Size != res.Images[0].Layers[0].Size {
		t.Errorf("Load = loaded %v, engine ID %s, manifest %s, layer size %d, want true, %s, %s, %d",
			got.Loaded, got.EngineID, got.Image.ManifestDigest, got.Image.Layers[0].Size, want, want, res.Images[0].Layers[0].Size)
	}
}
