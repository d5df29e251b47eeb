package imgsave

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// buildxLayout reads testdata/buildx-oci.tar, docker buildx 0.13's OCI
// export of a two-platform image with an SBOM and SLSA provenance
// (testdata/README.md): its blobs by digest, and its image index.
func buildxLayout(t *testing.T) (map[string][]byte, ggcr.Descriptor) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "buildx-oci.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blobs := map[string][]byte{}
	var top []byte
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hex, ok := strings.CutPrefix(h.Name, "blobs/sha256/"); ok && hex != "" {
			blobs["sha256:"+hex] = b
		} else if h.Name == "index.json" {
			top = b
		}
	}
	var idx ggcr.IndexManifest
	if err := json.Unmarshal(top, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("buildx-oci.tar's index.json = %s, %v; want one image index", top, err)
	}
	return blobs, idx.Manifests[0]
}

// pushBuildx serves buildxLayout's image from repo:tag byte for byte.
func pushBuildx(t *testing.T, repo name.Repository, blobs map[string][]byte, index ggcr.Descriptor) {
	t.Helper()
	var idx ggcr.IndexManifest
	if err := json.Unmarshal(blobs[index.Digest.String()], &idx); err != nil {
		t.Fatal(err)
	}
	for _, d := range idx.Manifests {
		raw := blobs[d.Digest.String()]
		m, err := ggcr.ParseManifest(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range append([]ggcr.Descriptor{m.Config}, m.Layers...) {
			if err := remote.WriteLayer(repo, static.NewLayer(blobs[b.Digest.String()], b.MediaType)); err != nil {
				t.Fatal(err)
			}
		}
		if err := remote.Put(repo.Digest(d.Digest.String()), rawManifest{raw, d.MediaType}); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Put(repo.Tag("1"), rawManifest{blobs[index.Digest.String()], types.OCIImageIndex}); err != nil {
		t.Fatal(err)
	}
}

// TestPullBuildxAttestations: what docker buildx really pushes (#30),
// served byte for byte: an image index whose attestation manifests (an
// image config of platform unknown/unknown, in-toto layers annotated with
// their predicate type) carry each platform's SBOM and provenance. Pull of
// one platform or all keeps each image's own; ls names both predicate
// types; attestation prints the SBOM of the platform asked for, which
// lists that platform's file.
func TestPullBuildxAttestations(t *testing.T) {
	blobs, index := buildxLayout(t)
	h := registrytest.Serve(t, nil)
	repo, err := name.NewRepository(h.Host + "/x/buildx")
	if err != nil {
		t.Fatal(err)
	}
	pushBuildx(t, repo, blobs, index)
	// /hello of each platform, as the build copied it in
	hello := func(arch string) string {
		sum := sha256.Sum256([]byte("imgsave fixture " + arch + "\n"))
		return hex.EncodeToString(sum[:])
	}
	for _, tc := range []struct{ platform, want string }{
		{"linux/amd64", "linux/amd64"},
		{"linux/arm64", "linux/arm64"},
		{"all", "linux/amd64 linux/arm64"},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "img")
			if _, err := Pull(t.Context(), h.Host+"/x/buildx:1", dir, PullOptions{Platform: tc.platform}); err != nil {
				t.Fatalf("Pull = %v", err)
			}
			infos, err := List(t.Context(), dir, ListOptions{SIFCache: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, in := range infos {
				got = append(got, in.Platform)
				var kinds []string
				for _, r := range in.Referrers {
					kinds = append(kinds, r.Kind+" "+strings.Join(r.PredicateTypes, ","))
				}
				if want := []string{"buildkit-attestation https://spdx.dev/Document,https://slsa.dev/provenance/v0.2"}; !slices.Equal(kinds, want) {
					t.Errorf("%s: referrers = %q, want %q", in.Platform, kinds, want)
				}
				atts, err := Attestations(t.Context(), dir, Selector{Platform: in.Platform}, "spdxjson")
				if err != nil || len(atts) != 1 {
					t.Fatalf("%s: Attestations(spdxjson) = %d, %v; want its SBOM", in.Platform, len(atts), err)
				}
				arch := strings.TrimPrefix(in.Platform, "linux/")
				if p := string(atts[0].Predicate); !strings.Contains(p, `"fileName":"./hello"`) || !strings.Contains(p, hello(arch)) {
					t.Errorf("%s: the SBOM = %s, want ./hello with sha256 %s", in.Platform, p, hello(arch))
				}
				if atts, err := Attestations(t.Context(), dir, Selector{Platform: in.Platform}, "slsaprovenance"); err != nil || len(atts) != 1 ||
					!strings.Contains(string(atts[0].Predicate), "hello-"+arch) {
					t.Errorf("%s: Attestations(slsaprovenance) = %d, %v; want the provenance of the COPY of hello-%s", in.Platform, len(atts), err, arch)
				}
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("pulled %q, want %s", got, tc.want)
			}
		})
	}
}
