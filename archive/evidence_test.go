package archive

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

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

// signedFolder is an evidence folder for subject whose signature image
// lists sigs and whose attestation image lists atts, one layer each, in
// order: a blob listed twice is two layers naming one file.
func signedFolder(subject []byte, sigs, atts [][]byte) []File {
	base := "evidence/" + digest.FromBytes(subject).Encoded() + "/"
	var files []File
	put := func(b []byte) v1.Descriptor {
		d := digest.FromBytes(b)
		p := base + manifest.BlobPath(d)
		if !slices.ContainsFunc(files, func(f File) bool { return f.Path == p }) {
			files = append(files, File{Path: p, Data: b})
		}
		return v1.Descriptor{Digest: d, Size: int64(len(b))}
	}
	image := func(mediaType string, layers [][]byte) []byte {
		m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: put([]byte("{}"))}
		m.SchemaVersion = 2
		m.Config.MediaType = v1.MediaTypeImageConfig
		for _, l := range layers {
			d := put(l)
			d.MediaType, d.Annotations = mediaType, map[string]string{"dev.cosignproject.cosign/signature": "c2ln"}
			m.Layers = append(m.Layers, d)
		}
		b, _ := manifest.Marshal(m)
		return b
	}
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex}
	idx.SchemaVersion = 2
	entry := func(b []byte, kind string) {
		d := put(b)
		d.MediaType, d.Annotations = v1.MediaTypeImageManifest, map[string]string{"kind": kind}
		idx.Manifests = append(idx.Manifests, d)
	}
	entry(subject, KindImage)
	if sigs != nil {
		entry(image("application/vnd.dev.cosign.simplesigning.v1+json", sigs), KindSigs)
	}
	if atts != nil {
		entry(image("application/vnd.dsse.envelope.v1+json", atts), KindAtts)
	}
	ib, _ := manifest.Marshal(idx)
	return append(files, File{Path: base + "index.json", Data: ib}, File{Path: base + "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)})
}

// writeFiles writes files under dir, as a clone would hold them.
func writeFiles(t *testing.T, dir string, files []File) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// bytesRead is what this process has read so far, by read(2) and the
// like (rchar of /proc/self/io): it counts every read, from whatever file.
func bytesRead(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io to count the bytes read: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("/proc/self/io has no rchar:\n%s", b)
	return 0
}

// TestReadEvidenceManyLayersOneBlob: a signature image of thousands of
// layers that all name one 32 KiB payload made ls and verify read (and
// keep) each layer again, 128 MiB here and past a GiB with more (#28).
// Every reference counts: the image is refused, naming the folder and the
// bound, before the layers are read.
func TestReadEvidenceManyLayersOneBlob(t *testing.T) {
	dir := t.TempDir()
	payload := bytes.Repeat([]byte("p"), 32<<10)
	sigs := slices.Repeat([][]byte{payload}, 4000)
	writeFiles(t, dir, signedFolder([]byte(`{"schemaVersion":2}`), sigs, nil))
	before := bytesRead(t)
	evs, err := ReadEvidence(dir)
	read := bytesRead(t) - before
	if !errors.Is(err, manifest.ErrTooLarge) || !strings.Contains(err.Error(), "4000 signatures") {
		t.Errorf("ReadEvidence of 4000 layers naming one blob = %d folders, %v; want an error wrapping ErrTooLarge that counts 4000 signatures", len(evs), err)
	}
	// The index and the signature image's manifest (some 600 KB) are read,
	// no layer.
	if read > 2<<20 {
		t.Errorf("ReadEvidence read %d bytes, want at most 2 MiB", read)
	}
}

// TestReadEvidenceBounds: each file of evidence may hold MaxEvidenceBlob
// (16 MiB, as pull takes from a registry; not the 8 MiB of a manifest),
// and a folder MaxEvidenceBytes in all, every reference counted: past
// either, the error names the file or folder.
func TestReadEvidenceBounds(t *testing.T) {
	subject := []byte(`{"schemaVersion":2}`)
	for _, tc := range []struct {
		name string
		atts [][]byte
		want string // "" for no error
	}{
		{"a 12 MiB attestation", [][]byte{bytes.Repeat([]byte("a"), 12<<20)}, ""},
		{"a 17 MiB attestation", [][]byte{bytes.Repeat([]byte("a"), 17<<20)}, "over 16777216"},
		{"six references to a 12 MiB attestation", slices.Repeat([][]byte{bytes.Repeat([]byte("a"), 12<<20)}, 6), "over 67108864 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, signedFolder(subject, [][]byte{[]byte("sig")}, tc.atts))
			evs, err := ReadEvidence(dir)
			if tc.want == "" {
				if err != nil || len(evs) != 1 || len(evs[0].Attestations) != len(tc.atts) {
					t.Errorf("ReadEvidence = %d folders, %v; want one with %d attestations", len(evs), err, len(tc.atts))
				}
				return
			}
			if !errors.Is(err, manifest.ErrTooLarge) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, "evidence")) {
				t.Errorf("ReadEvidence = %v; want an error wrapping ErrTooLarge naming the file with %q", err, tc.want)
			}
		})
	}
}

// TestReadEvidenceInterruptedSwap: a sign killed between its two renames
// left the folder as <hex>.old and no <hex>, which nothing read back: the
// signatures were gone (#28). It is read as the folder until a sign puts
// it back; beside a complete <hex> it is what the swap replaced, and not
// read.
func TestReadEvidenceInterruptedSwap(t *testing.T) {
	dir := t.TempDir()
	subject := []byte(`{"schemaVersion":2}`)
	writeFiles(t, dir, signedFolder(subject, [][]byte{[]byte("old")}, nil))
	hex := filepath.Join(dir, "evidence", digest.FromBytes(subject).Encoded())
	if err := os.Rename(hex, hex+".old"); err != nil {
		t.Fatal(err)
	}
	evs, err := ReadEvidence(dir)
	if err != nil || len(evs) != 1 || len(evs[0].Signatures) != 1 || string(evs[0].Signatures[0].Payload) != "old" {
		t.Fatalf("ReadEvidence with only <hex>.old = %d folders, %v; want its one signature", len(evs), err)
	}
	writeFiles(t, dir, signedFolder(subject, [][]byte{[]byte("old"), []byte("new")}, nil))
	evs, err = ReadEvidence(dir)
	if err != nil || len(evs) != 1 || len(evs[0].Signatures) != 2 {
		t.Errorf("ReadEvidence with <hex> and <hex>.old = %d folders, %v; want <hex> alone, two signatures", len(evs), err)
	}
}
