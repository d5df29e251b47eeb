package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

func TestParseSelection(t *testing.T) {
	tests := []struct {
		in   string
		all  bool
		want []string
		err  string
	}{
		{in: ""},
		{in: "linux/amd64", want: []string{"linux/amd64"}},
		{in: "all", all: true},
		{in: "linux/amd64,linux/arm64/v8", want: []string{"linux/amd64", "linux/arm64/v8"}},
		{in: "linux/arm64/v8, linux/amd64", want: []string{"linux/arm64/v8", "linux/amd64"}},
		{in: "linux/amd64,linux/amd64", want: []string{"linux/amd64"}},
		{in: "linux/arm64,linux/arm64/v8", want: []string{"linux/arm64", "linux/arm64/v8"}},
		{in: "linux/amd64,", err: "an empty entry"},
		{in: ",", err: "an empty entry"},
		{in: "all,linux/amd64", err: "all stands alone"},
		{in: "linux/amd64,arm64", err: `platform "arm64": want OS/ARCH`},
		{in: "arm64", err: `platform "arm64": want OS/ARCH`},
	}
	for _, tc := range tests {
		sel, err := parseSelection(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseSelection(%q) = %v, want an error saying %q", tc.in, err, tc.err)
			}
			continue
		}
		var got []string
		for _, p := range sel.want {
			got = append(got, p.String())
		}
		if err != nil || sel.all != tc.all || !slices.Equal(got, tc.want) {
			t.Errorf("parseSelection(%q) = all %v, %q, %v; want all %v, %q", tc.in, sel.all, got, err, tc.all, tc.want)
		}
	}
}

// multiRegistry serves, as host/multi:1, an index of an amd64 and an
// arm64/v8 image that share their layers (their configs differ), beside
// an attestation (unknown/unknown); as host/single:1 the amd64 image
// alone, and as host/attest:1 an index of the attestation alone.
func multiRegistry(t *testing.T) (host string, amd, arm ggcr.Image, idx ggcr.ImageIndex) {
	t.Helper()
	host = registrytest.Serve(t, nil).Host
	base, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	amd, arm = registrytest.Platform(t, base, "amd64"), registrytest.Platform(t, base, "arm64")
	attestation, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	unknown := mutate.IndexAddendum{Add: attestation, Descriptor: ggcr.Descriptor{Platform: &ggcr.Platform{OS: "unknown", Architecture: "unknown"}}}
	idx = mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: ggcr.Descriptor{Platform: &ggcr.Platform{OS: "linux", Architecture: "amd64"}}},
		unknown,
		mutate.IndexAddendum{Add: arm, Descriptor: ggcr.Descriptor{Platform: &ggcr.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	if err := remote.WriteIndex(mustRef(t, host+"/multi:1"), idx); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, host+"/single:1"), amd); err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(mustRef(t, host+"/attest:1"), mutate.AppendManifests(empty.Index, unknown)); err != nil {
		t.Fatal(err)
	}
	return host, amd, arm, idx
}

// TestPullPlatforms: several platforms of an index make one stream whose
// index.json names a nested index listing them in the index's order, with
// every blob once; one platform, however it is asked for, makes the
// stream of one image; a platform missing from the list is refused with
// those the index holds.
func TestPullPlatforms(t *testing.T) {
	host, amd, arm, idx := multiRegistry(t)
	amdDigest, _ := amd.Digest()
	armDigest, _ := arm.Digest()
	idxDigest, _ := idx.Digest()
	multi, single := host+"/multi:1", host+"/single:1"
	tests := []struct {
		ref, platform string
		want          []ggcr.Hash // the manifests listed, in order; one for the stream of one image
		err           string
	}{
		{ref: multi, platform: "all", want: []ggcr.Hash{amdDigest, armDigest}},
		{ref: multi, platform: "linux/amd64,linux/arm64", want: []ggcr.Hash{amdDigest, armDigest}},
		{ref: multi, platform: "linux/arm64/v8,linux/amd64", want: []ggcr.Hash{amdDigest, armDigest}},
		{ref: multi, platform: "linux/amd64,linux/amd64", want: []ggcr.Hash{amdDigest}},
		{ref: multi, platform: "linux/arm64,linux/arm64/v8", want: []ggcr.Hash{armDigest}},
		{ref: multi, platform: "linux/amd64,linux/s390x", err: "no image for the platform linux/s390x; it holds linux/amd64, linux/arm64/v8"},
		{ref: multi, platform: "linux/ppc64le,linux/arm64/v7", err: "no image for the platform linux/ppc64le, linux/arm64/v7; it holds linux/amd64, linux/arm64/v8"},
		{ref: multi, platform: "unknown/unknown,linux/amd64", err: "no image for the platform unknown/unknown; it holds linux/amd64, linux/arm64/v8"},
		{ref: single, platform: "all", want: []ggcr.Hash{amdDigest}},
		{ref: single, platform: "linux/amd64,linux/amd64", want: []ggcr.Hash{amdDigest}},
		{ref: single, platform: "linux/amd64,linux/arm64", err: "no image for the platform linux/arm64; it is linux/amd64"},
		{ref: host + "/attest:1", platform: "all", err: "no image for the platform: the index holds no image but attestations"},
	}
	for _, tc := range tests {
		for _, jobs := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%s/jobs=%d", strings.TrimPrefix(tc.ref, host+"/"), tc.platform, jobs), func(t *testing.T) {
				rc, err := Pull(t.Context(), tc.ref, Options{Platform: tc.platform, Jobs: jobs, SpoolDir: t.TempDir()})
				if tc.err != "" {
					if !errors.Is(err, ErrPlatform) || !strings.Contains(err.Error(), tc.err) {
						t.Fatalf("Pull(%s) = %v, want %v saying %q", tc.platform, err, ErrPlatform, tc.err)
					}
					checkLine(t, err, tc.ref)
					return
				}
				if err != nil {
					t.Fatalf("Pull(%s) = %v", tc.platform, err)
				}
				m := members(t, rc)
				top := indexOf(t, m).Manifests[0]
				if top.Annotations["io.containerd.image.name"] != tc.ref || top.Annotations["org.opencontainers.image.ref.name"] != "1" {
					t.Errorf("index.json names %v, want %s", top.Annotations, tc.ref)
				}
				var sources []string
				for _, d := range tc.want {
					sources = append(sources, strings.TrimSuffix(tc.ref, ":1")+"@"+d.String())
				}
				if !slices.Equal(rc.Sources, sources) {
					t.Errorf("Pulled.Sources = %q, want %q", rc.Sources, sources)
				}
				listed := []ggcr.Descriptor{top}
				if len(tc.want) == 1 {
					if !top.MediaType.IsImage() || top.Platform != nil || rc.Source != sources[0] {
						t.Errorf("index.json names %s %s (platform %v), Source %s; want the manifest %s alone", top.MediaType, top.Digest, top.Platform, rc.Source, tc.want[0])
					}
				} else {
					if top.MediaType != types.OCIImageIndex {
						t.Fatalf("index.json names a %s, want an index", top.MediaType)
					}
					var nested ggcr.IndexManifest
					if err := json.Unmarshal(m["blobs/sha256/"+top.Digest.Hex], &nested); err != nil {
						t.Fatalf("the nested index: %v", err)
					}
					listed = nested.Manifests
					if want := strings.TrimSuffix(tc.ref, ":1") + "@" + idxDigest.String(); rc.Source != want {
						t.Errorf("Pulled.Source = %s, want the index, %s", rc.Source, want)
					}
				}
				var got []ggcr.Hash
				for _, d := range listed {
					got = append(got, d.Digest)
					if len(tc.want) > 1 {
						if d.Platform == nil || !d.MediaType.IsImage() || int64(len(m["blobs/sha256/"+d.Digest.Hex])) != d.Size {
							t.Errorf("the nested index lists %+v, want a manifest of its size with its platform", d)
						}
					}
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("the stream lists manifests %v, want %v", got, tc.want)
				}
				if len(tc.want) > 1 && (listed[0].Platform.String() != "linux/amd64" || listed[1].Platform.String() != "linux/arm64/v8") {
					t.Errorf("the nested index lists platforms %s and %s, want linux/amd64 and linux/arm64/v8", listed[0].Platform, listed[1].Platform)
				}
				// Each image's blobs are there; the shared layers once.
				blobs := map[ggcr.Hash]bool{}
				for _, d := range tc.want {
					img := amd
					if d == armDigest {
						img = arm
					}
					cfg, _ := img.ConfigName()
					layers, _ := img.Layers()
					for _, h := range append([]ggcr.Hash{cfg}, digests(t, layers)...) {
						if _, ok := m["blobs/sha256/"+h.Hex]; !ok {
							t.Errorf("no blob %s in the stream", h)
						}
						blobs[h] = true
					}
				}
				nested := 0
				if len(tc.want) > 1 {
					nested = 1
				}
				if want := len(blobs) + len(tc.want) + nested + 2; len(m) != want { // + manifests, nested index, index.json, oci-layout
					t.Errorf("the stream holds %d members, want %d", len(m), want)
				}
				var size int64
				for h := range blobs {
					size += int64(len(m["blobs/sha256/"+h.Hex]))
				}
				if rc.Size != size {
					t.Errorf("Pulled.Size = %d, want %d, each config and layer once", rc.Size, size)
				}
			})
		}
	}
}

// manifestCounter serves body as the index of every manifest request by
// tag and passes the others on; it counts manifest requests.
func manifestCounter(t *testing.T, body []byte) (*registrytest.Hostile, *atomic.Int64) {
	h := registrytest.Serve(t, nil)
	var n atomic.Int64
	h.On(func(w http.ResponseWriter, r *http.Request) bool {
		if !registrytest.IsManifest(r) {
			return false
		}
		n.Add(1)
		if strings.Contains(r.URL.Path, "/manifests/sha256:") {
			return false
		}
		w.Header().Set("Content-Type", string(types.OCIImageIndex))
		h.Write(w, body)
		return true
	})
	h.Ref = h.Host + "/hostile/img:1"
	return h, &n
}

// TestPullAllRefusesManyPlatforms: all of an index of 40,000 platforms is
// refused in one line before any of their manifests is asked for.
func TestPullAllRefusesManyPlatforms(t *testing.T) {
	h, requests := manifestCounter(t, registrytest.ManyPlatforms(t, 40000))
	_, err := pullAll(t, t.Context(), h.Ref, Options{Platform: "all"})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("holds 40000 platforms, more than the %d one pull takes", maxPlatforms)) {
		t.Fatalf("Pull = %.300v, want the number of platforms refused", err)
	}
	checkLine(t, err, h.Ref)
	if n := requests.Load(); n != 1 {
		t.Errorf("%d manifest requests, want 1: the index alone", n)
	}
	// A list of 65 of them is refused as well.
	var list []string
	for i := range maxPlatforms + 1 {
		list = append(list, fmt.Sprintf("linux/a%d", i))
	}
	_, err = pullAll(t, t.Context(), h.Ref, Options{Platform: strings.Join(list, ",")})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d platforms asked for, more than the %d", len(list), maxPlatforms)) {
		t.Fatalf("Pull of %d platforms = %.300v, want it refused", len(list), err)
	}
	checkLine(t, err, h.Ref)
}

// TestPullAllNestedIndexes: all of an index holding more nested indexes
// than a pull reads is refused, saying so, after reading maxNested of
// them; a list of platforms among those read is pulled. All of an index
// nested two deep is refused too.
func TestPullAllNestedIndexes(t *testing.T) {
	host := registrytest.Serve(t, nil).Host
	var adds []mutate.IndexAddendum
	var first []ggcr.Hash
	for i := range maxNested + 1 {
		img := registrytest.Platform(t, nil, fmt.Sprintf("a%d", i))
		if i < 2 {
			d, _ := img.Digest()
			first = append(first, d)
		}
		adds = append(adds, mutate.IndexAddendum{Add: registrytest.Index(t, img)})
	}
	outer := mutate.AppendManifests(empty.Index, adds...)
	if err := remote.WriteIndex(mustRef(t, host+"/many:1"), outer); err != nil {
		t.Fatal(err)
	}
	deep := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: mutate.AppendManifests(empty.Index, adds[0])})
	if err := remote.WriteIndex(mustRef(t, host+"/deep:1"), deep); err != nil {
		t.Fatal(err)
	}
	_, err := pullAll(t, t.Context(), host+"/many:1", Options{Platform: "all"})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("not all platforms of the index can be read (1 nested indexes not read, past the first %d)", maxNested)) {
		t.Fatalf("Pull = %v, want it refused for the nested index not read", err)
	}
	_, err = pullAll(t, t.Context(), host+"/deep:1", Options{Platform: "all"})
	if !errors.Is(err, ErrPlatform) || !strings.Contains(err.Error(), "1 indexes nested deeper than one level not read") {
		t.Fatalf("Pull = %v, want it said that deeper ones are not read", err)
	}
	m, err := pullAll(t, t.Context(), host+"/many:1", Options{Platform: "linux/a1,linux/a0"})
	if err != nil {
		t.Fatalf("Pull of two platforms of nested indexes = %v", err)
	}
	var nested ggcr.IndexManifest
	if err := json.Unmarshal(m["blobs/sha256/"+indexOf(t, m).Manifests[0].Digest.Hex], &nested); err != nil || len(nested.Manifests) != 2 {
		t.Fatalf("the nested index = %+v (%v), want two manifests", nested, err)
	}
	if got := []ggcr.Hash{nested.Manifests[0].Digest, nested.Manifests[1].Digest}; !slices.Equal(got, first) {
		t.Errorf("the nested index lists %v, want %v", got, first)
	}
}
