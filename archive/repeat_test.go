package archive

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

// repeatedImage is an image whose manifest lists one layer twice, A, B, A:
// what a Dockerfile that adds the same files again builds, and what Docker
// and containerd pull and load (#18).
type repeatedImage struct {
	a, b    []byte // uncompressed layer tars
	diffIDs []digest.Digest
	config  []byte
	id      digest.Digest
	tag     string
}

func newRepeatedImage(tb testing.TB) repeatedImage {
	tb.Helper()
	r := repeatedImage{
		a:   mkTar(tb, folder("etc/"), file("etc/a", "layer a\n")),
		b:   mkTar(tb, folder("etc/"), file("etc/b", "layer b\n")),
		tag: "imgsave-test/repeated:1",
	}
	r.diffIDs = []digest.Digest{digest.FromBytes(r.a), digest.FromBytes(r.b), digest.FromBytes(r.a)}
	r.config = []byte(mustJSON(tb, map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": r.diffIDs},
	}))
	r.id = digest.FromBytes(r.config)
	return r
}

// oci returns an OCI save of the image with its layers compressed with
// comp: each blob once, as Docker 25+ writes it and as imgsave's registry
// pull streams it, listed three times; with manifest.json when docker is
// set (podman's oci-archive and the registry pull have none).
func (r repeatedImage) oci(tb testing.TB, comp string, docker bool) []member {
	tb.Helper()
	a, mt := newImageCompress(tb, r.a, comp)
	b, _ := newImageCompress(tb, r.b, comp)
	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: descriptor(v1.MediaTypeImageConfig, r.config),
		Layers: []v1.Descriptor{descriptor(mt, a), descriptor(mt, b), descriptor(mt, a)}}
	m.SchemaVersion = 2
	mb := []byte(mustJSON(tb, m))
	d := descriptor(v1.MediaTypeImageManifest, mb)
	d.Annotations = map[string]string{manifest.AnnotationImageName: "docker.io/" + r.tag, v1.AnnotationRefName: "1"}
	ms := []member{folder("blobs/"), folder("blobs/sha256/"), blob(r.config), blob(a), blob(b), blob(mb),
		file("index.json", indexJSON(tb, d)), file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`)}
	if docker {
		pa, pb := manifest.BlobPath(digest.FromBytes(a)), manifest.BlobPath(digest.FromBytes(b))
		ms = append(ms, file("manifest.json", mustJSON(tb, []manifest.Entry{{Config: manifest.BlobPath(r.id), RepoTags: []string{r.tag}, Layers: []string{pa, pb, pa}}})))
	}
	return ms
}

func newImageCompress(tb testing.TB, layer []byte, comp string) ([]byte, string) {
	return testImage{layer: layer}.compressLayer(tb, comp)
}

// legacy returns a legacy `docker save` of the image: one folder per layer
// (their IDs differ, since each names its parent chain), the third
// layer.tar a symbolic link to the first's.
func (r repeatedImage) legacy(tb testing.TB) []member {
	tb.Helper()
	id1, id2, id3 := hexOf("l1"), hexOf("l2"), hexOf("l3")
	cfg := r.id.Encoded() + ".json"
	return []member{
		folder(id1 + "/"), file(id1+"/layer.tar", string(r.a)),
		folder(id2 + "/"), file(id2+"/layer.tar", string(r.b)),
		folder(id3 + "/"), symlink(id3+"/layer.tar", "../"+id1+"/layer.tar"),
		file(cfg, string(r.config)),
		file("manifest.json", mustJSON(tb, []manifest.Entry{{Config: cfg, RepoTags: []string{r.tag},
			Layers: []string{id1 + "/layer.tar", id2 + "/layer.tar", id3 + "/layer.tar"}}})),
	}
}

// TestRepeatedLayer: an image listing layer A twice (A, B, A) is saved with
// A stored once and listed twice, opened and verified with three layers,
// and streamed for a load with A's blob once in the tar and three layers in
// every manifest, as `docker save` writes it (#18).
func TestRepeatedLayer(t *testing.T) {
	r := newRepeatedImage(t)
	tests := []struct {
		name string
		ms   []member
	}{
		{"legacy", r.legacy(t)},
		{"oci", r.oci(t, "", true)},
		{"oci-gzip", r.oci(t, "gzip", true)},
		{"oci-zstd", r.oci(t, "zstd", true)},
		{"oci-gzip-without-manifest.json", r.oci(t, "gzip", false)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, res := extract(t, bytes.NewReader(mkTar(t, tc.ms...)), Options{})
			r.check(t, "Extract", dir, res)

			d, err := OpenDir(dir)
			if err != nil {
				t.Fatalf("OpenDir = %v", err)
			}
			if len(d.Images) != 1 {
				t.Fatalf("OpenDir images = %+v, want 1", d.Images)
			}
			im := d.Images[0]
			if got := layerDiffIDs(im.Layers); !slices.Equal(got, r.diffIDs) {
				t.Errorf("OpenDir layers = %v, want %v", got, r.diffIDs)
			}
			if im.ManifestDigest != res.Manifests[0] {
				t.Errorf("OpenDir ManifestDigest = %s, want Extract's %s", im.ManifestDigest, res.Manifests[0])
			}
			rep, err := Verify(context.Background(), dir, VerifyOptions{})
			if err != nil || !rep.OK() {
				t.Errorf("Verify = %+v, %v, want OK", rep, err)
			}

			var buf bytes.Buffer
			sent, err := d.WriteTar(&buf, im, im.RepoTags)
			if err != nil {
				t.Fatalf("WriteTar = %v", err)
			}
			if sent.ManifestDigest != res.Manifests[0] {
				t.Errorf("WriteTar sent manifest %s, want %s", sent.ManifestDigest, res.Manifests[0])
			}
			members, err := tarNames(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if c := slices.Compact(slices.Sorted(slices.Values(members))); len(c) != len(members) {
				t.Errorf("WriteTar members = %q, want each once", members)
			}
			back, res2 := extract(t, bytes.NewReader(buf.Bytes()), Options{})
			r.check(t, "Extract(WriteTar)", back, res2)
			if diff := diffTrees(readTree(t, back), readTree(t, dir)); diff != "" {
				t.Errorf("Extract(WriteTar) differs from the directory:\n%s", diff)
			}
		})
	}
}

func layerDiffIDs(ls []DirLayer) []digest.Digest {
	var out []digest.Digest
	for _, l := range ls {
		out = append(out, l.DiffID)
	}
	return out
}

// check checks that dir holds r's canonical layout: each blob once, and
// A listed twice by manifest.json and the OCI manifest.
func (r repeatedImage) check(t *testing.T, what, dir string, res *Result) {
	t.Helper()
	tree := readTree(t, dir)
	var blobs []string
	for name := range tree {
		if strings.HasPrefix(name, "blobs/sha256/") && name != "blobs/sha256/" {
			blobs = append(blobs, name)
		}
	}
	slices.Sort(blobs)
	want := []string{manifest.BlobPath(r.id), manifest.BlobPath(r.diffIDs[0]), manifest.BlobPath(r.diffIDs[1]), manifest.BlobPath(res.Manifests[0])}
	slices.Sort(want)
	if !slices.Equal(blobs, want) {
		t.Errorf("%s wrote blobs %q, want %q", what, blobs, want)
	}
	entries, err := manifest.ParseDocker(strings.NewReader(tree["manifest.json"].data))
	if err != nil {
		t.Fatalf("%s: manifest.json: %v", what, err)
	}
	var paths []string
	for _, d := range r.diffIDs {
		paths = append(paths, manifest.BlobPath(d))
	}
	if len(entries) != 1 || !slices.Equal(entries[0].Layers, paths) {
		t.Errorf("%s: manifest.json = %+v, want layers %q", what, entries, paths)
	}
	m, err := manifest.Parse(strings.NewReader(tree[manifest.BlobPath(res.Manifests[0])].data))
	if err != nil {
		t.Fatalf("%s: manifest: %v", what, err)
	}
	var got []digest.Digest
	for _, l := range m.Layers {
		got = append(got, l.Digest)
	}
	if !slices.Equal(got, r.diffIDs) {
		t.Errorf("%s: manifest layers = %v, want %v", what, got, r.diffIDs)
	}
}
