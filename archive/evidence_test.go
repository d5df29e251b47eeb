package archive

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/manifest"
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

// evidenceFiles is an evidence folder as pull keeps one: a manifest
// naming config, and a signature image whose payload names the manifest.
func evidenceFiles(config digest.Digest) []File {
	subject := []byte(`{"schemaVersion":2,"config":{"digest":"` + string(config) + `","size":1}}`)
	payload := []byte(`{"critical":{"identity":{"docker-reference":""},"image":{"docker-manifest-digest":"` + string(digest.FromBytes(subject)) + `"},"type":"cosign container image signature"},"optional":null}`)
	sigs := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + string(digest.FromBytes([]byte("{}"))) + `","size":2},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"` + string(digest.FromBytes(payload)) + `","size":` + strconv.Itoa(len(payload)) + `,"annotations":{"dev.cosignproject.cosign/signature":"c2ln"}}]}`)
	index := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + string(digest.FromBytes(subject)) + `","size":` + strconv.Itoa(len(subject)) + `,"annotations":{"kind":"dev.cosignproject.cosign/image"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + string(digest.FromBytes(sigs)) + `","size":` + strconv.Itoa(len(sigs)) + `,"annotations":{"kind":"dev.cosignproject.cosign/sigs"}}]}`
	base := "evidence/" + digest.FromBytes(subject).Encoded() + "/"
	var files []File
	for _, b := range [][]byte{subject, payload, sigs, []byte("{}")} {
		files = append(files, File{Path: base + manifest.BlobPath(digest.FromBytes(b)), Data: b})
	}
	return append(files, File{Path: base + "index.json", Data: []byte(index)}, File{Path: base + "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)})
}

// TestReadEvidence reads an evidence folder back: the subject, the
// signature's payload and annotation; a blob changed is refused by name.
func TestReadEvidence(t *testing.T) {
	im := newImage(t, "read-evidence")
	dir, _ := extract(t, bytes.NewReader(mkTar(t, im.legacy(t)...)), Options{Extra: evidenceFiles(im.id)})
	evs, err := ReadEvidence(dir)
	if err != nil || len(evs) != 1 || len(evs[0].Signatures) != 1 || evs[0].Signatures[0].Signature != "c2ln" || !bytes.Contains(evs[0].SubjectData, []byte(im.id)) {
		t.Fatalf("ReadEvidence = %+v, %v; want the subject and one signature", evs, err)
	}
	p := filepath.Join(dir, filepath.FromSlash(evs[0].Path), "blobs", "sha256", digest.FromBytes(evs[0].Signatures[0].Payload).Encoded())
	if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	var mismatch *DigestMismatchError
	if _, err := ReadEvidence(dir); !errors.As(err, &mismatch) {
		t.Errorf("ReadEvidence of a changed payload = %v, want a DigestMismatchError", err)
	}
}
