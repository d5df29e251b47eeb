package archive

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestWriteView (#29): the one-image view Apptainer builds from is
// written by archive's layout writer: its index.json names the image's
// manifest alone (as the hand-written one did, byte for byte), and its
// blobs are the directory's.
func TestWriteView(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "testdata", "oci.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir, _ := extract(t, f, Options{})
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	im := d.Images[0]
	view, err := d.WriteView(t.TempDir(), im)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(view, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + string(im.ManifestDigest) + `","size":` + strconv.Itoa(len(im.Manifest)) + `}]}`
	if string(got) != want {
		t.Errorf("index.json = %s, want %s", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(view, "oci-layout")); err != nil || string(b) != ociLayout {
		t.Errorf("oci-layout = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(view, "blobs", "sha256", im.ManifestDigest.Encoded())); err != nil {
		t.Errorf("the manifest through the view's blobs: %v", err)
	}
}
