package archive

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// layoutCase is one kind of image directory users have, made by a real tool
// (../testdata/README.md), all of the same image.
type layoutCase struct {
	name    string
	dir     func(testing.TB) string
	tags    []string
	legacy  bool // the config is legacy.tar's; else skopeo's OCI rewrite
	ownMani bool // a load sends the directory's own manifest (compressed layers)
}

func layoutCases() []layoutCase {
	raw := func(f string) func(testing.TB) string { return func(tb testing.TB) string { return rawDir(tb, f) } }
	canon := func(f string) func(testing.TB) string {
		return func(tb testing.TB) string { d, _ := canonicalDir(tb, f); return d }
	}
	tag := []string{"imgsave-fixture/hello:1"}
	return []layoutCase{
		{name: "imgsave", dir: canon("legacy.tar"), tags: tag, legacy: true},
		{name: "raw Docker 20.10 save", dir: raw("legacy.tar"), tags: tag, legacy: true},
		{name: "raw Docker 26 save", dir: raw("oci.tar"), tags: tag, legacy: true},
		{name: "skopeo oci:", dir: raw("skopeo-oci.tar"), tags: tag, ownMani: true},
		{name: "podman oci-dir", dir: raw("podman-oci-dir.tar"), tags: []string{"localhost/imgsave-fixture/hello:1"}, ownMani: true},
		{name: "crane pull --format oci", dir: raw("crane-oci.tar"), legacy: true, ownMani: true},
		{name: "crane pull --format oci, zstd", dir: raw("crane-oci-zstd.tar"), ownMani: true},
		{name: "imgsave from skopeo", dir: func(tb testing.TB) string {
			d, _ := extract(tb, bytes.NewReader(fixture(tb, "skopeo-oci.tar")), Options{})
			return d
		}, tags: tag},
	}
}

// TestLayouts reads every kind of directory through the one model: the
// same image ID (config digest) and diff IDs, names from the annotations,
// verify passes, and the stream a load sends extracts to the canonical
// directory of that image (#7).
func TestLayouts(t *testing.T) {
	legacyCanon, legacyRes := canonicalDir(t, "legacy.tar")
	skopeoCanon, skopeoRes := extract(t, bytes.NewReader(fixture(t, "skopeo-oci.tar")), Options{})
	diffID := legacyRes.Images[0].Layers[0].Digest
	for _, tc := range layoutCases() {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			d, im := openOne(t, dir)
			wantID, canon := skopeoRes.Images[0].ID(), skopeoCanon
			if tc.legacy {
				wantID, canon = legacyRes.Images[0].ID(), legacyCanon
			}
			if im.ID != wantID {
				t.Errorf("OpenDir(%s).ID = %s, want %s", tc.name, im.ID, wantID)
			}
			if !slices.Equal(im.Config.RootFS.DiffIDs, []digest.Digest{diffID}) || im.Layers[0].DiffID != diffID {
				t.Errorf("OpenDir(%s) diff IDs = %v, layer %v, want %s", tc.name, im.Config.RootFS.DiffIDs, im.Layers[0], diffID)
			}
			if !slices.Equal(im.RepoTags, tc.tags) {
				t.Errorf("OpenDir(%s).RepoTags = %q, want %q", tc.name, im.RepoTags, tc.tags)
			}
			if own := im.Layers[0].Digest != im.Layers[0].DiffID; own != tc.ownMani {
				t.Errorf("OpenDir(%s): layer stored as %s, compressed = %v, want %v", tc.name, im.Layers[0].Digest, own, tc.ownMani)
			}
			if digest.FromBytes(im.Manifest) != im.ManifestDigest || im.ManifestDigest == "" {
				t.Errorf("OpenDir(%s): ManifestDigest %q is not the digest of Manifest", tc.name, im.ManifestDigest)
			}
			rep, err := Verify(t.Context(), dir, VerifyOptions{})
			if err != nil || !rep.OK() {
				t.Errorf("Verify(%s) = %+v, %v, want ok", tc.name, rep, err)
			}
			var buf bytes.Buffer
			if _, err := d.WriteTar(&buf, im, im.RepoTags); err != nil {
				t.Fatalf("WriteTar(%s) = %v", tc.name, err)
			}
			back, _ := extract(t, bytes.NewReader(buf.Bytes()), Options{})
			want := readTree(t, canon)
			if len(tc.tags) == 0 || !slices.Equal(tc.tags, []string{"imgsave-fixture/hello:1"}) {
				// Other names, other index.json and manifest.json: compare
				// the blobs only.
				want, got := blobsOf(readTree(t, canon)), blobsOf(readTree(t, back))
				if diff := diffTrees(got, want); diff != "" {
					t.Errorf("Extract(WriteTar(%s)) blobs differ from the canonical directory's:\n%s", tc.name, diff)
				}
				return
			}
			if diff := diffTrees(readTree(t, back), want); diff != "" {
				t.Errorf("Extract(WriteTar(%s)) differs from the canonical directory:\n%s", tc.name, diff)
			}
		})
	}
}

// TestLayoutsMigrate turns every kind of directory into the canonical one.
func TestLayoutsMigrate(t *testing.T) {
	for _, tc := range layoutCases() {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			_, before := openOne(t, dir)
			if _, err := Migrate(t.Context(), dir, Options{}); err != nil {
				t.Fatalf("Migrate(%s) = %v", tc.name, err)
			}
			_, after := openOne(t, dir)
			if after.ID != before.ID || !slices.Equal(after.RepoTags, before.RepoTags) || after.Layers[0].Digest != after.Layers[0].DiffID {
				t.Errorf("Migrate(%s) = %s %q, layer %s, want %s %q, uncompressed", tc.name, after.ID, after.RepoTags, after.Layers[0].Digest, before.ID, before.RepoTags)
			}
		})
	}
}

func blobsOf(tree map[string]node) map[string]node {
	out := map[string]node{}
	for k, v := range tree {
		if len(k) > 6 && k[:6] == "blobs/" {
			out[k] = v
		}
	}
	return out
}

// TestLayoutsDecompressed: the stream for an engine that cannot read a
// layer's compression (Docker 20.10 and zstd, #19) sends every layer
// uncompressed under its diff ID, with the canonical manifest, and
// extracts back to the canonical directory's blobs.
func TestLayoutsDecompressed(t *testing.T) {
	skopeoCanon, _ := extract(t, bytes.NewReader(fixture(t, "skopeo-oci.tar")), Options{})
	legacyCanon, _ := canonicalDir(t, "legacy.tar")
	for _, tc := range layoutCases() {
		t.Run(tc.name, func(t *testing.T) {
			d, im := openOne(t, tc.dir(t))
			var buf bytes.Buffer
			sent, err := d.WriteTarWith(t.Context(), &buf, im, im.RepoTags, TarOptions{Decompress: true})
			if err != nil {
				t.Fatalf("WriteTarWith(%s, Decompress) = %v", tc.name, err)
			}
			for _, l := range sent.Layers {
				if l.Digest != l.DiffID || l.MediaType != v1.MediaTypeImageLayer {
					t.Errorf("WriteTarWith(%s, Decompress) sent layer %s as %s %s, want its diff ID, uncompressed", tc.name, l.DiffID, l.Digest, l.MediaType)
				}
			}
			canon := skopeoCanon
			if tc.legacy {
				canon = legacyCanon
			}
			back, res := extract(t, bytes.NewReader(buf.Bytes()), Options{})
			if res.Manifests[0] != sent.ManifestDigest {
				t.Errorf("WriteTarWith(%s, Decompress) says manifest %s, the stream holds %s", tc.name, sent.ManifestDigest, res.Manifests[0])
			}
			if diff := diffTrees(blobsOf(readTree(t, back)), blobsOf(readTree(t, canon))); diff != "" {
				t.Errorf("Extract(WriteTarWith(%s, Decompress)) blobs differ from the canonical directory's:\n%s", tc.name, diff)
			}
		})
	}
}

// TestWriteTarDecompressedRejectsCorruptLayer: a compressed layer whose
// content is not its diff ID stops the stream before the manifests.
func TestWriteTarDecompressedRejectsCorruptLayer(t *testing.T) {
	dir := rawDir(t, "crane-oci-zstd.tar")
	d, im := openOne(t, dir)
	other := zst(t, []byte("not the layer"))
	if err := os.WriteFile(filepath.Join(dir, im.Layers[0].Path), other, 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err := d.WriteTarWith(t.Context(), &buf, im, nil, TarOptions{Decompress: true})
	var mismatch *DigestMismatchError
	if !errors.As(err, &mismatch) || mismatch.Want != im.Layers[0].DiffID {
		t.Fatalf("WriteTarWith(corrupt zstd layer, Decompress) = %v, want a DigestMismatchError for %s", err, im.Layers[0].DiffID)
	}
	if bytes.Contains(buf.Bytes(), []byte("manifest.json")) {
		t.Error("the stream names manifest.json after a corrupt layer")
	}
}
