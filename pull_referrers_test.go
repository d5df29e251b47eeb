package imgsave

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// rawManifest is a manifest to push as it is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

const bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// putArtifact pushes to repo a manifest of artifact type at (none for "")
// with an empty config and one layer of layerType holding data, about
// subject (none for nil) and with the layer's annotations; it returns its
// descriptor.
func putArtifact(t *testing.T, repo name.Repository, at, layerType string, data []byte, subject *ggcr.Descriptor, annotations map[string]string) ggcr.Descriptor {
	t.Helper()
	cfg := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	l := static.NewLayer(data, types.MediaType(layerType))
	var descs []ggcr.Descriptor
	for _, b := range []ggcr.Layer{cfg, l} {
		if err := remote.WriteLayer(repo, b); err != nil {
			t.Fatal(err)
		}
		d, _ := b.Digest()
		n, _ := b.Size()
		mt, _ := b.MediaType()
		descs = append(descs, ggcr.Descriptor{MediaType: mt, Digest: d, Size: n})
	}
	descs[1].Annotations = annotations
	raw, err := json.Marshal(ggcr.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: at, Config: descs[0], Layers: descs[1:], Subject: subject})
	if err != nil {
		t.Fatal(err)
	}
	d, n, _ := ggcr.SHA256(strings.NewReader(string(raw)))
	if err := remote.Put(repo.Digest(d.String()), rawManifest{raw, types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
	return ggcr.Descriptor{MediaType: types.OCIManifestSchema1, Digest: d, Size: n, ArtifactType: at}
}

// TestPullKeepsReferrers: a single-platform pull of a multi-platform
// image whose index cosign v3 signed (a Sigstore bundle, listed at the
// referrers tag of a registry without the referrers API) keeps the
// index's bundle, and BuildKit's attestation manifest of the platform
// pulled, in DIR/evidence as an OCI layout; ls shows them, attestation
// prints BuildKit's SBOM (#30). The old
// pull fetched evidence for the platform's manifest alone and kept no
// referrer.
func TestPullKeepsReferrers(t *testing.T) {
	h := registrytest.Serve(t, nil)
	repo, err := name.NewRepository(h.Host + "/x/y")
	if err != nil {
		t.Fatal(err)
	}
	amd := registrytest.Platform(t, nil, "amd64")
	arm := registrytest.Platform(t, nil, "arm64")
	idx := registrytest.Index(t, amd, arm)
	amdDigest, _ := amd.Digest()
	statement := []byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":[],"predicate":{}}`)
	att := putArtifact(t, repo, "", "application/vnd.in-toto+json", statement, nil, map[string]string{"in-toto.io/predicate-type": "https://spdx.dev/Document"})
	idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: rawManifestOf(t, repo, att), Descriptor: ggcr.Descriptor{
		MediaType: types.OCIManifestSchema1, Platform: &ggcr.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": amdDigest.String()}}})
	if err := remote.WriteIndex(repo.Tag("1"), idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	idxRaw, _ := idx.RawManifest()
	subject := ggcr.Descriptor{MediaType: types.OCIImageIndex, Digest: idxDigest, Size: int64(len(idxRaw))}
	bundle := putArtifact(t, repo, bundleType, bundleType, []byte(`{"mediaType":"`+bundleType+`"}`), &subject, nil)
	putReferrersTag(t, repo, idxDigest, bundle)

	dir := filepath.Join(t.TempDir(), "img")
	var notices []string
	if _, err := Pull(t.Context(), h.Host+"/x/y:1", dir, PullOptions{Platform: "linux/amd64", Events: Events{Notice: func(m string) { notices = append(notices, m) }}}); err != nil {
		t.Fatalf("Pull = %v", err)
	}
	if len(notices) > 0 {
		t.Errorf("Pull noticed %q, want nothing", notices)
	}
	b, err := os.ReadFile(filepath.Join(dir, archive.EvidenceDir, idxDigest.Hex, "index.json"))
	if err != nil {
		t.Fatalf("the index's evidence: %v", err)
	}
	var layout v1.Index
	if err := json.Unmarshal(b, &layout); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]v1.Descriptor{}
	for _, d := range layout.Manifests {
		kinds[d.Annotations["kind"]] = d
	}
	if d := kinds[archive.KindReferrer]; d.ArtifactType != bundleType || d.Digest.String() != bundle.Digest.String() {
		t.Errorf("the referrer entry = %+v, want the bundle %s of type %s", d, bundle.Digest, bundleType)
	}
	if d := kinds[archive.KindAttestationManifest]; d.Digest.String() != att.Digest.String() || d.Platform == nil || d.Platform.OS != "unknown" ||
		d.Annotations["vnd.docker.reference.digest"] != amdDigest.String() || d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
		t.Errorf("the attestation manifest entry = %+v, want BuildKit's of %s with its annotations and platform unknown/unknown", d, amdDigest)
	}

	infos, err := List(t.Context(), dir, ListOptions{SIFCache: t.TempDir()})
	if err != nil || len(infos) != 1 {
		t.Fatalf("List = %+v, %v", infos, err)
	}
	var got []string
	for _, r := range infos[0].Referrers {
		got = append(got, r.Kind+" "+strings.Join(r.PredicateTypes, ","))
	}
	want := []string{"buildkit-attestation https://spdx.dev/Document", "sigstore-bundle "}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("List's referrers = %q, want %q", got, want)
	}
	// attestation prints BuildKit's SBOM of the platform.
	atts, err := Attestations(t.Context(), dir, Selector{}, "spdxjson")
	if err != nil || len(atts) != 1 || atts[0].PredicateType != "https://spdx.dev/Document" || string(atts[0].Predicate) != "{}" {
		t.Errorf("Attestations(spdxjson) = %+v, %v; want BuildKit's SBOM", atts, err)
	}
}

// rawManifestOf is the manifest d names in repo, to add to an index.
func rawManifestOf(t *testing.T, repo name.Repository, d ggcr.Descriptor) ggcr.Image {
	t.Helper()
	img, err := remote.Image(repo.Digest(d.Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// putReferrersTag lists referrers at the referrers tag of subject d, as
// cosign v3 does on a registry without the referrers API.
func putReferrersTag(t *testing.T, repo name.Repository, d ggcr.Hash, referrers ...ggcr.Descriptor) {
	t.Helper()
	list, err := json.Marshal(ggcr.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: referrers})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(repo.Tag("sha256-"+d.Hex), rawManifest{list, types.OCIImageIndex}); err != nil {
		t.Fatal(err)
	}
}
