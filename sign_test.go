package imgsave

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/manifest"
)

// signKey is a cosign key of manifest/cosign/testdata and its password.
func signKey(t *testing.T) SignOptions {
	t.Helper()
	key, err := os.ReadFile(filepath.Join("manifest", "cosign", "testdata", "ecdsa-p256.key"))
	if err != nil {
		t.Fatal(err)
	}
	return SignOptions{Key: key, Password: []byte("imgsave-test")}
}

func signPub(t *testing.T) []byte {
	t.Helper()
	pub, err := os.ReadFile(filepath.Join("manifest", "cosign", "testdata", "ecdsa-p256.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// verified is how many signatures of dir's evidence verify with the test
// key.
func verified(t *testing.T, dir string) int {
	t.Helper()
	infos, err := CheckEvidence(t.Context(), dir, signPub(t))
	if err != nil {
		t.Fatalf("CheckEvidence = %v", err)
	}
	n := 0
	for _, in := range infos {
		n += in.Verified
	}
	return n
}

// TestSignRefusesLinks: a cloned dataset can carry symbolic links where
// sign writes; sign wrote through a linked evidence/ or
// evidence/.gitattributes into the folder or file they name, outside the
// directory (#28). It refuses both, naming the link, and writes nothing
// there.
func TestSignRefusesLinks(t *testing.T) {
	for _, tc := range []struct {
		name string
		link string // in the directory, to a folder or file outside it
		file bool   // the link names a file
	}{
		{"linked evidence folder", "evidence", false},
		{"linked .gitattributes", "evidence/.gitattributes", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := imageDir(t, "oci.tar")
			outside := filepath.Join(t.TempDir(), "outside")
			if tc.file {
				if err := os.WriteFile(outside, []byte("precious\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, filepath.FromSlash(tc.link))
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, link); err != nil {
				t.Fatal(err)
			}
			_, err := Sign(t.Context(), dir, signKey(t))
			if err == nil || !strings.Contains(err.Error(), link) || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("Sign = %v; want an error naming the symbolic link %s", err, link)
			}
			if tc.file {
				if b, err := os.ReadFile(outside); err != nil || string(b) != "precious\n" {
					t.Errorf("the file the link names = %q, %v; want it as it was", b, err)
				}
			} else if names, err := os.ReadDir(outside); err != nil || len(names) != 0 {
				t.Errorf("the folder the link names holds %v, %v; want nothing", names, err)
			}
		})
	}
}

// TestSignAfterInterruptedSwap: a sign killed between its two renames left
// the signatures as evidence/<hex>.old, which verify did not read and the
// next sign removed (#28). Verify reads them, and the next sign keeps
// them beside its own and leaves no <hex>.old.
func TestSignAfterInterruptedSwap(t *testing.T) {
	dir, _ := imageDir(t, "oci.tar")
	signed, err := Sign(t.Context(), dir, signKey(t))
	if err != nil || len(signed) != 1 {
		t.Fatalf("Sign = %v, %v", signed, err)
	}
	hex := filepath.Join(dir, archive.EvidenceDir, digest.Digest(signed[0]).Encoded())
	if err := os.Rename(hex, hex+".old"); err != nil {
		t.Fatal(err)
	}
	if n := verified(t, dir); n != 1 {
		t.Errorf("after a sign killed between its renames, %d signatures verify, want 1", n)
	}
	if _, err := Sign(t.Context(), dir, signKey(t)); err != nil {
		t.Fatalf("Sign again = %v", err)
	}
	if n := verified(t, dir); n != 2 {
		t.Errorf("after the next sign, %d signatures verify, want 2 (the interrupted one's and its own)", n)
	}
	if _, err := os.Lstat(hex + ".old"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.old after the next sign: %v, want it gone", hex, err)
	}
}

// TestVerifyManyLayersOneBlob: a signature image whose thousands of layers
// all name one signature is refused by verify with one bounded error, and
// ls does not count thousands of signatures (#28).
func TestVerifyManyLayersOneBlob(t *testing.T) {
	dir, _ := imageDir(t, "oci.tar")
	signed, err := Sign(t.Context(), dir, signKey(t))
	if err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, archive.EvidenceDir, digest.Digest(signed[0]).Encoded())
	blob := func(d digest.Digest) string { return filepath.Join(folder, filepath.FromSlash(manifest.BlobPath(d))) }
	var idx v1.Index
	ib, err := os.ReadFile(filepath.Join(folder, "index.json"))
	if err != nil || json.Unmarshal(ib, &idx) != nil {
		t.Fatalf("index.json: %v", err)
	}
	i := slices.IndexFunc(idx.Manifests, func(d v1.Descriptor) bool { return d.Annotations["kind"] == archive.KindSigs })
	var sm v1.Manifest
	mb, err := os.ReadFile(blob(idx.Manifests[i].Digest))
	if err != nil || json.Unmarshal(mb, &sm) != nil {
		t.Fatalf("the signature image: %v", err)
	}
	sm.Layers = slices.Repeat(sm.Layers, 5000)
	mb, _ = manifest.Marshal(sm)
	idx.Manifests[i].Digest, idx.Manifests[i].Size = digest.FromBytes(mb), int64(len(mb))
	ib, _ = manifest.Marshal(idx)
	if err := os.WriteFile(blob(idx.Manifests[i].Digest), mb, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, "index.json"), ib, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = CheckEvidence(t.Context(), dir, signPub(t))
	if !errors.Is(err, manifest.ErrTooLarge) || len(err.Error()) > 512 {
		t.Errorf("CheckEvidence of 5000 layers naming one signature = %v; want one short error wrapping ErrTooLarge", err)
	}
	infos, err := List(t.Context(), dir, ListOptions{SIFCache: t.TempDir()})
	if err != nil || len(infos) != 1 || infos[0].Signatures > archive.MaxEvidenceLayers {
		t.Errorf("List = %+v, %v; want one image with at most %d signatures", infos, err, archive.MaxEvidenceLayers)
	}
}

// TestCheckSignedBySelector: CheckSigned picks the image as Load does, by
// a Selector, and says ErrUnsigned before the sign and nil after (#29: it
// took an *archive.DirImage).
func TestCheckSignedBySelector(t *testing.T) {
	dir, _ := imageDir(t, "oci.tar")
	if err := CheckSigned(t.Context(), dir, Selector{}, signPub(t)); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("CheckSigned before Sign = %v, want ErrUnsigned", err)
	}
	if _, err := Sign(t.Context(), dir, signKey(t)); err != nil {
		t.Fatal(err)
	}
	if err := CheckSigned(t.Context(), dir, Selector{}, signPub(t)); err != nil {
		t.Fatalf("CheckSigned after Sign = %v, want nil", err)
	}
	if err := CheckSigned(t.Context(), dir, Selector{RepoTag: "nosuch:1"}, signPub(t)); err == nil || errors.Is(err, ErrUnsigned) {
		t.Fatalf("CheckSigned of no such tag = %v, want the selector's error", err)
	}
}

// TestWriteSignedKeepsAnnotations: a signature layer kept from a registry
// keeps its annotations (a keyless one's certificate and Rekor entry)
// when sign rewrites the signature image to add its own (#30). The old
// code kept the signature annotation alone.
func TestWriteSignedKeepsAnnotations(t *testing.T) {
	im := &archive.DirImage{Manifest: []byte(`{"schemaVersion":2}`)}
	keyless := archive.SignatureLayer{Payload: []byte("p1"), Signature: "c2ln", Annotations: map[string]string{
		"dev.cosignproject.cosign/signature": "c2ln", "dev.sigstore.cosign/certificate": "PEM"}}
	l, err := writeSigned(im, []archive.SignatureLayer{keyless, {Payload: []byte("p2"), Signature: "b3du"}})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Layers []struct{ Annotations map[string]string }
	}
	if err := json.Unmarshal(l.Blobs[len(l.Blobs)-1], &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != 2 || m.Layers[0].Annotations["dev.sigstore.cosign/certificate"] != "PEM" ||
		m.Layers[0].Annotations["dev.cosignproject.cosign/signature"] != "c2ln" || m.Layers[1].Annotations["dev.cosignproject.cosign/signature"] != "b3du" || len(m.Layers[1].Annotations) != 1 {
		t.Errorf("signature manifest layers = %+v", m.Layers)
	}
	if keyless.Annotations["dev.cosignproject.cosign/signature"] != "c2ln" || len(keyless.Annotations) != 2 {
		t.Errorf("the caller's annotations changed: %v", keyless.Annotations)
	}
}
