package imgsave

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader/registry"
	"github.com/imgsave/imgsave/loader/registry/registrytest"
	"github.com/imgsave/imgsave/manifest"
)

// TestSelectPlatforms: a selection of several platforms of one image is
// all of them, in the directory's order; a platform named, or images that
// are not one image's platforms, are as Select has them.
func TestSelectPlatforms(t *testing.T) {
	im := func(id, arch, variant string, tags ...string) *archive.DirImage {
		return &archive.DirImage{ID: digest.Digest("sha256:" + strings.Repeat(id, 64)), RepoTags: tags,
			Config: &manifest.Config{OS: "linux", Architecture: arch, Variant: variant}}
	}
	multi := &archive.Dir{Path: "img", Images: []*archive.DirImage{im("b", "arm64", "", "x:1"), im("a", "amd64", "", "x:1"), im("c", "arm", "v7", "x:1")}}
	mixed := &archive.Dir{Path: "img", Images: []*archive.DirImage{im("a", "amd64", "", "x:1"), im("b", "arm64", "", "y:1"), im("c", "arm64", "", "x:1")}}
	variants := &archive.Dir{Path: "img", Images: []*archive.DirImage{im("a", "arm", "", "x:1"), im("b", "arm", "v7", "x:1")}}
	for _, tc := range []struct {
		name string
		d    *archive.Dir
		sel  Selector
		want []string // IDs' first letters, in order; none for an error
	}{
		{"all platforms", multi, Selector{}, []string{"b", "a", "c"}},
		{"by repo tag", multi, Selector{RepoTag: "x:1"}, []string{"b", "a", "c"}},
		{"a platform", multi, Selector{Platform: "linux/amd64"}, []string{"a"}},
		{"a config", multi, Selector{Config: "cccc"}, []string{"c"}},
		{"another image's platforms", mixed, Selector{}, nil},
		{"one tag's platforms", mixed, Selector{RepoTag: "x:1"}, []string{"a", "c"}},
		{"a platform that variants leave ambiguous", variants, Selector{Platform: "linux/arm"}, nil},
		{"variants", variants, Selector{}, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ims, err := tc.sel.selectPlatforms(tc.d)
			if tc.want == nil {
				if !errors.Is(err, archive.ErrSelect) {
					t.Errorf("selectPlatforms(%+v) = %d images, %v; want ErrSelect", tc.sel, len(ims), err)
				}
				return
			}
			var got []string
			for _, im := range ims {
				got = append(got, im.ID.Encoded()[:1])
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("selectPlatforms(%+v) = %v, %v; want %v", tc.sel, got, err, tc.want)
			}
		})
	}
}

// multiTar is an OCI archive, as docker save writes one of a multi-platform
// image, of ref for linux/arm64/v8 then linux/amd64, each with a layer of
// its own on a layer both share.
func multiTar(t *testing.T, ref string) []byte {
	t.Helper()
	blobs := map[string][]byte{}
	put := func(b []byte) ggcr.Descriptor {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs[d] = b
		h, _ := ggcr.NewHash(d)
		return ggcr.Descriptor{Digest: h, Size: int64(len(b))}
	}
	layer := func(name, content string) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))})
		tw.Write([]byte(content))
		tw.Close()
		return buf.Bytes()
	}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	shared := put(layer("shared", strings.Repeat("both ", 1000)))
	shared.MediaType = types.OCIUncompressedLayer
	var entries []ggcr.Descriptor
	for _, p := range []ggcr.Platform{{OS: "linux", Architecture: "arm64", Variant: "v8"}, {OS: "linux", Architecture: "amd64"}} {
		own := put(layer("platform", p.Architecture+"\n"))
		own.MediaType = types.OCIUncompressedLayer
		cfg := put(mustJSON(map[string]any{"architecture": p.Architecture, "variant": p.Variant, "os": p.OS,
			"rootfs": map[string]any{"type": "layers", "diff_ids": []string{shared.Digest.String(), own.Digest.String()}}}))
		cfg.MediaType = types.OCIConfigJSON
		m := put(mustJSON(ggcr.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg, Layers: []ggcr.Descriptor{shared, own}}))
		m.MediaType, m.Platform = types.OCIManifestSchema1, &p
		entries = append(entries, m)
	}
	idx := put(mustJSON(ggcr.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: entries}))
	idx.MediaType = types.OCIImageIndex
	idx.Annotations = map[string]string{"io.containerd.image.name": ref}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", mustJSON(ggcr.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []ggcr.Descriptor{idx}}))
	for d, b := range blobs {
		add("blobs/sha256/"+strings.TrimPrefix(d, "sha256:"), b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPushPlatforms pushes a directory of two platforms of an image: the
// tag names an OCI index of both, in the directory's order, whose
// manifests have the directory's configs; the layer they share is sent
// once. --platform pushes one manifest.
func TestPushPlatforms(t *testing.T) {
	var uploads atomic.Int64
	host := registrytest.Serve(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/") {
			uploads.Add(1)
		}
		return false
	}).Host
	dir := filepath.Join(t.TempDir(), "img")
	if _, err := Import(t.Context(), bytes.NewReader(multiTar(t, "x:1")), dir, SaveOptions{}); err != nil {
		t.Fatalf("Import = %v", err)
	}
	d, err := archive.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Images) != 2 {
		t.Fatalf("the directory holds %d images, want 2", len(d.Images))
	}

	ref := host + "/multi:1"
	p, err := Push(t.Context(), dir, ref, PushOptions{})
	if err != nil {
		t.Fatalf("Push = %v", err)
	}
	// Two configs, the shared layer, two layers of their own.
	if n := uploads.Load(); n != 5 {
		t.Errorf("the push started %d uploads, want 5", n)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatalf("%s is no index: %v", ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := idx.Digest(); h.String() != p.Index || len(im.Manifests) != 2 || len(p.Platforms) != 2 {
		t.Fatalf("index %s of %d manifests, want %s of 2 (%d pushed)", h, len(im.Manifests), p.Index, len(p.Platforms))
	}
	for i, e := range im.Manifests {
		want := d.Images[i]
		if e.Platform == nil || e.Platform.Architecture != want.Config.Architecture || e.Platform.Variant != want.Config.Variant || e.Platform.OS != "linux" {
			t.Errorf("index entry %d is for %v, want %s", i, e.Platform, want.Config.Platform())
		}
		if e.Digest.String() != p.Platforms[i].Manifest || p.Platforms[i].Config != string(want.ID) || p.Platforms[i].Platform != want.Config.Platform() {
			t.Errorf("entry %d: %s, pushed %+v; want the directory's image %s for %s", i, e.Digest, p.Platforms[i], want.ID, want.Config.Platform())
		}
	}

	// One platform by name: one manifest.
	one, err := Push(t.Context(), dir, host+"/multi:arm", PushOptions{Selector: Selector{Platform: "linux/arm64"}})
	if err != nil {
		t.Fatalf("Push --platform = %v", err)
	}
	arm := d.Images[slices.IndexFunc(d.Images, func(im *archive.DirImage) bool { return im.Config.Architecture == "arm64" })]
	if one.Index != "" || one.Config != string(arm.ID) {
		t.Errorf("Push --platform linux/arm64 = index %q, config %s; want a manifest of %s", one.Index, one.Config, arm.ID)
	}
	desc, err := remote.Get(mustRef(t, host+"/multi:arm"))
	if err != nil || desc.MediaType != types.OCIManifestSchema1 {
		t.Errorf("multi:arm is %v (%v), want an OCI manifest", desc, err)
	}

	// The last platform's own layer not here (a git-annex pointer):
	// nothing is sent, not even the first platform.
	lost := d.Images[1].Layers[1].Path
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(lost)), []byte("/annex/objects/SHA256E-s1--"+strings.Repeat("0", 64)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := uploads.Load()
	if _, err := Push(t.Context(), dir, host+"/missing:1", PushOptions{}); !errors.Is(err, archive.ErrContentMissing) {
		t.Errorf("Push with a layer not here = %v, want ErrContentMissing", err)
	}
	if n := uploads.Load() - before; n != 0 {
		t.Errorf("Push with a layer not here started %d uploads, want none", n)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPushProgressAndSignedNotice: a push reports the bytes of the layers
// it reads as progress, up to their sum (#29: push showed none); a
// directory whose evidence signs the digest pushed (a registry's manifest,
// pulled with its signature and pushed again as it came) gets no notice
// that its signatures do not apply, and one pushed under another manifest
// does.
func TestPushProgressAndSignedNotice(t *testing.T) {
	host := registrytest.Serve(t, func(w http.ResponseWriter, r *http.Request) bool { return false }).Host
	dir, im := imageDir(t, "oci.tar")
	var want int64
	for _, l := range im.Layers {
		want += l.Size
	}
	push := func(t *testing.T, ref, compress string) (*registry.Pushed, []string) {
		t.Helper()
		var last int64
		var notices []string
		p, err := Push(t.Context(), dir, host+ref, PushOptions{
			Compress: compress,
			Events: Events{
				Progress: func(n int64) { last = n },
				Notice:   func(msg string) { notices = append(notices, msg) },
			},
		})
		if err != nil {
			t.Fatalf("Push %s = %v", ref, err)
		}
		if last != want {
			t.Errorf("Push %s: last progress %d, want the layers' %d bytes", ref, last, want)
		}
		return p, notices
	}
	first, _ := push(t, "/signed:1", "gzip")
	desc, err := remote.Get(mustRef(t, host+"/signed:1"))
	if err != nil {
		t.Fatal(err)
	}
	// The registry's manifest kept as signed, as pull keeps it.
	signed := digest.Digest(first.Manifest)
	err = archive.UpdateEvidence(dir, signed, func(*archive.Evidence) (archive.EvidenceLayout, error) {
		return archive.EvidenceLayout{
			Manifests: []v1.Descriptor{{MediaType: string(desc.MediaType), Digest: signed, Size: int64(len(desc.Manifest)), Annotations: map[string]string{"kind": archive.KindImage}}},
			Blobs:     [][]byte{desc.Manifest},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		compress string
		notice   bool
	}{{"gzip", false}, {"none", true}} {
		p, notices := push(t, "/signed:again-"+tc.compress, tc.compress)
		said := slices.ContainsFunc(notices, func(n string) bool { return strings.Contains(n, "keeps signatures") })
		if said != tc.notice {
			t.Errorf("push --compress %s sent %s (signed %s): notices %q, want one that no signature applies: %v", tc.compress, p.Manifest, signed, notices, tc.notice)
		}
	}
}
