package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// TestIndex: the index lists each manifest in the images' order, with its
// digest, size and platform, variant only where there is one, and the OCI
// media types.
func TestIndex(t *testing.T) {
	for _, tc := range []struct {
		name      string
		platforms []Platform
		want      []string // each entry's platform as JSON
	}{
		{"amd64 arm64", []Platform{{"linux", "amd64", ""}, {"linux", "arm64", ""}},
			[]string{`{"architecture":"amd64","os":"linux"}`, `{"architecture":"arm64","os":"linux"}`}},
		{"kept in order", []Platform{{"linux", "arm64", "v8"}, {"linux", "amd64", ""}, {"linux", "arm", "v7"}},
			[]string{`{"architecture":"arm64","os":"linux","variant":"v8"}`, `{"architecture":"amd64","os":"linux"}`, `{"architecture":"arm","os":"linux","variant":"v7"}`}},
		{"one", []Platform{{"windows", "amd64", ""}},
			[]string{`{"architecture":"amd64","os":"windows"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var imgs []Image
			var raws [][]byte
			for i, p := range tc.platforms {
				imgs = append(imgs, Image{Platform: p})
				raws = append(raws, []byte(fmt.Sprintf(`{"schemaVersion":2,"n":%d}`, i)))
			}
			raw, err := index(imgs, raws)
			if err != nil {
				t.Fatalf("index = %v", err)
			}
			var m struct {
				SchemaVersion int    `json:"schemaVersion"`
				MediaType     string `json:"mediaType"`
				Manifests     []struct {
					MediaType string          `json:"mediaType"`
					Digest    string          `json:"digest"`
					Size      int64           `json:"size"`
					Platform  json.RawMessage `json:"platform"`
				} `json:"manifests"`
			}
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			if m.SchemaVersion != 2 || m.MediaType != "application/vnd.oci.image.index.v1+json" {
				t.Errorf("index is schema %d, %q, want 2, the OCI index", m.SchemaVersion, m.MediaType)
			}
			if len(m.Manifests) != len(tc.want) {
				t.Fatalf("index lists %d manifests, want %d", len(m.Manifests), len(tc.want))
			}
			for i, d := range m.Manifests {
				if d.MediaType != "application/vnd.oci.image.manifest.v1+json" {
					t.Errorf("manifests[%d].mediaType = %q, want the OCI manifest", i, d.MediaType)
				}
				if want := fmt.Sprintf("sha256:%x", sha256.Sum256(raws[i])); d.Digest != want || d.Size != int64(len(raws[i])) {
					t.Errorf("manifests[%d] = %s, %d bytes, want %s, %d", i, d.Digest, d.Size, want, len(raws[i]))
				}
				if string(d.Platform) != tc.want[i] {
					t.Errorf("manifests[%d].platform = %s, want %s", i, d.Platform, tc.want[i])
				}
			}
		})
	}
}

// indexFixture is two platforms of an image that share their first
// layer: the random one of pushFixture.
func indexFixture(t *testing.T) []Image {
	t.Helper()
	amd, _ := pushFixture(t)
	amd.Platform = Platform{OS: "linux", Architecture: "amd64"}
	own := bytes.Repeat([]byte("arm64 "), 10<<10)
	arm := Image{Platform: Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, Layers: []Layer{amd.Layers[0], {
		DiffID: fmt.Sprintf("sha256:%x", sha256.Sum256(own)), Size: int64(len(own)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(own)), nil },
	}}}
	cfg, err := json.Marshal(map[string]any{
		"architecture": "arm64", "variant": "v8", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{amd.Layers[0].DiffID, arm.Layers[1].DiffID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arm.Config = cfg
	return []Image{amd, arm}
}

// TestPushIndex pushes two platforms sharing a layer, with each
// compression: the shared layer goes once, the tag names an OCI index
// listing both manifests in order with their platforms, each manifest is
// there by digest with its config, and pushing again sends nothing and
// gives the same index.
func TestPushIndex(t *testing.T) {
	imgs := indexFixture(t)
	for _, comp := range []string{CompressGzip, CompressZstd, CompressNone} {
		t.Run(comp, func(t *testing.T) {
			// A registry of its own: blobs are shared between repositories.
			host, uploads := uploadCounter(t)
			ref := host + "/index/" + comp + ":multi"
			start := uploads.Load()
			first, err := PushIndex(t.Context(), ref, imgs, PushOptions{Compress: comp})
			if err != nil {
				t.Fatalf("PushIndex = %v", err)
			}
			// Two configs and three distinct layers.
			if n := uploads.Load() - start; n != 5 {
				t.Errorf("the push started %d uploads, want 5: two configs, three layers (one shared)", n)
			}
			if len(first.Platforms) != 2 || first.Platforms[0].Platform != "linux/amd64" || first.Platforms[1].Platform != "linux/arm64/v8" {
				t.Fatalf("Platforms = %+v, want linux/amd64 then linux/arm64/v8", first.Platforms)
			}
			if first.Manifest != "" || first.Config != "" || first.Layers != nil {
				t.Errorf("an index's Pushed has its own manifest %q, config %q, layers %v, want none", first.Manifest, first.Config, first.Layers)
			}
			if a, b := first.Platforms[0].Layers[0], first.Platforms[1].Layers[0]; a.Digest != b.Digest || a.Sent == b.Sent {
				t.Errorf("the shared layer pushed as %s (sent %v) and %s (sent %v), want one blob sent once", a.Digest, a.Sent, b.Digest, b.Sent)
			}
			if !first.Platforms[0].Layers[1].Sent || !first.Platforms[1].Layers[1].Sent {
				t.Errorf("each platform's own layer: sent %v and %v, want both sent", first.Platforms[0].Layers[1].Sent, first.Platforms[1].Layers[1].Sent)
			}

			r, err := name.ParseReference(ref)
			if err != nil {
				t.Fatal(err)
			}
			desc, err := remote.Get(r)
			if err != nil {
				t.Fatal(err)
			}
			if desc.MediaType != types.OCIImageIndex || desc.Digest.String() != first.Index {
				t.Errorf("%s is a %s, %s; want the OCI index %s", ref, desc.MediaType, desc.Digest, first.Index)
			}
			if want := host + "/index/" + comp + "@" + first.Index; first.Source != want {
				t.Errorf("Source = %s, want %s", first.Source, want)
			}
			idx, err := ggcr.ParseIndexManifest(bytes.NewReader(desc.Manifest))
			if err != nil {
				t.Fatal(err)
			}
			if len(idx.Manifests) != 2 {
				t.Fatalf("the index lists %d manifests, want 2", len(idx.Manifests))
			}
			for i, d := range idx.Manifests {
				p := first.Platforms[i]
				if d.Digest.String() != p.Manifest || d.Platform == nil || platformOf(*d.Platform) != imgs[i].Platform {
					t.Errorf("index entry %d = %s for %v, want %s for %s", i, d.Digest, d.Platform, p.Manifest, imgs[i].Platform)
				}
				img, err := remote.Image(r.Context().Digest(p.Manifest))
				if err != nil {
					t.Fatalf("manifest %s: %v", p.Manifest, err)
				}
				cfg, err := img.RawConfigFile()
				if err != nil || !bytes.Equal(cfg, imgs[i].Config) {
					t.Errorf("manifest %s has config %q (%v), want the image's own", p.Manifest, cfg, err)
				}
			}

			sent := uploads.Load()
			again, err := PushIndex(t.Context(), ref, imgs, PushOptions{Compress: comp})
			if err != nil {
				t.Fatalf("second PushIndex = %v", err)
			}
			if n := uploads.Load() - sent; n != 0 {
				t.Errorf("the second push started %d uploads, want none: the registry has every blob", n)
			}
			if again.Index != first.Index {
				t.Errorf("the same images pushed twice gave indexes %s and %s", first.Index, again.Index)
			}
			for _, p := range again.Platforms {
				for _, l := range p.Layers {
					if l.Sent {
						t.Errorf("second push: %s layer %s reported sent", p.Platform, l.DiffID)
					}
				}
			}
		})
	}
}

// TestPushIndexRefused: images the index could not tell apart are refused
// before any request.
func TestPushIndexRefused(t *testing.T) {
	var requests atomic.Int64
	host := registrytest.Serve(t, func(w http.ResponseWriter, r *http.Request) bool {
		requests.Add(1)
		return false
	}).Host
	imgs := indexFixture(t)
	noArch := imgs[1]
	noArch.Platform.Architecture = ""
	for _, tc := range []struct {
		name string
		imgs []Image
		want string
	}{
		{"none", nil, "no image"},
		{"one platform twice", []Image{imgs[0], imgs[0]}, "two images for the platform linux/amd64"},
		{"no architecture", []Image{imgs[0], noArch}, "without a platform"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PushIndex(t.Context(), host+"/refused:1", tc.imgs, PushOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("PushIndex = %v, want an error saying %q", err, tc.want)
			}
		})
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("refused pushes made %d requests, want none", n)
	}
}

// TestPushLayerTwice: a layer an image lists twice (A, B, A) is sent once.
func TestPushLayerTwice(t *testing.T) {
	host, uploads := uploadCounter(t)
	img, _ := pushFixture(t)
	img.Layers = append(img.Layers, img.Layers[0])
	got, err := Push(t.Context(), host+"/twice:1", img, PushOptions{})
	if err != nil {
		t.Fatalf("Push = %v", err)
	}
	if n := uploads.Load(); n != 3 {
		t.Errorf("the push started %d uploads, want 3: the config and two layers", n)
	}
	if got.Layers[0].Digest != got.Layers[2].Digest {
		t.Errorf("layer A pushed as %s and %s, want one blob", got.Layers[0].Digest, got.Layers[2].Digest)
	}
}
