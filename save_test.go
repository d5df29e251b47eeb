package imgsave

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/imgsave/imgsave/archive"
)

// TestImportForceKeepsEvidence (#28): Import with Force used to remove
// DIR/evidence with the old tree, so re-importing a signed directory lost
// its signature. The same image (legacy.tar and oci.tar hold the same
// config) keeps it byte for byte and it still verifies; another image
// (oci-gzip.tar) is refused, the directory unchanged, unless DropEvidence,
// which reports the signed digest it dropped.
func TestImportForceKeepsEvidence(t *testing.T) {
	importFixture := func(name, dir string, opts SaveOptions) (*archive.Result, error) {
		f, err := os.Open(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return Import(t.Context(), f, dir, opts)
	}
	readKey := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("manifest", "cosign", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	dir := filepath.Join(t.TempDir(), "img")
	if _, err := importFixture("legacy.tar", dir, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	signed, err := Sign(t.Context(), dir, SignOptions{Key: readKey("ecdsa-p256.key"), Password: []byte("imgsave-test")})
	if err != nil {
		t.Fatal(err)
	}
	evidence, err := archive.ReadExtra(dir)
	if err != nil || len(evidence) == 0 {
		t.Fatalf("evidence after Sign: %v, %v", evidence, err)
	}
	pub := readKey("ecdsa-p256.pub")

	res, err := importFixture("oci.tar", dir, SaveOptions{Force: true})
	if err != nil || len(res.DroppedEvidence) != 0 {
		t.Fatalf("Import(Force) of the same image = %v, dropped %v", err, res.DroppedEvidence)
	}
	if got, err := archive.ReadExtra(dir); err != nil || !reflect.DeepEqual(got, evidence) {
		t.Errorf("evidence after Import(Force) of the same image: %v, %v; want it unchanged", got, err)
	}
	if v, err := VerifyKey(t.Context(), dir, VerifyOptions{}, pub); err != nil || !v.OK {
		t.Errorf("VerifyKey after Import(Force) of the same image = %+v, %v; want OK", v, err)
	}

	index, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = importFixture("oci-gzip.tar", dir, SaveOptions{Force: true})
	var ee *archive.EvidenceError
	if !errors.As(err, &ee) || len(ee.Digests) != 1 || string(ee.Digests[0]) != signed[0] {
		t.Fatalf("Import(Force) of another image = %v, want an *archive.EvidenceError for %s", err, signed[0])
	}
	if got, err := archive.ReadExtra(dir); err != nil || !reflect.DeepEqual(got, evidence) {
		t.Errorf("evidence after a refused Import: %v, %v; want it unchanged", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "index.json")); err != nil || !bytes.Equal(got, index) {
		t.Errorf("index.json after a refused Import changed: %v", err)
	}

	res, err = importFixture("oci-gzip.tar", dir, SaveOptions{Force: true, DropEvidence: true})
	if err != nil {
		t.Fatalf("Import(Force, DropEvidence) = %v", err)
	}
	if len(res.DroppedEvidence) != 1 || !slices.Contains(signed, string(res.DroppedEvidence[0])) {
		t.Errorf("DroppedEvidence = %v, want %v", res.DroppedEvidence, signed)
	}
	if _, err := os.Lstat(filepath.Join(dir, archive.EvidenceDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("evidence folder after DropEvidence: %v, want it gone", err)
	}
}
