package archive

import (
	"bytes"
	"cmp"
	"encoding/json"
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

// buildxIndex is the image index of ../testdata/buildx-oci.tar, docker
// buildx 0.13's OCI export of two platforms with an SBOM and provenance
// each: the index, and its attestation manifests by the platform of the
// image each is about.
func buildxIndex(t *testing.T, data []byte) (v1.Descriptor, map[string]v1.Descriptor) {
	t.Helper()
	dir := t.TempDir()
	untar(t, data, dir)
	var top v1.Index
	if err := json.Unmarshal(readFile(t, dir, "index.json"), &top); err != nil || len(top.Manifests) != 1 {
		t.Fatalf("index.json: %v", err)
	}
	var idx v1.Index
	if err := json.Unmarshal(readFile(t, dir, "blobs/sha256/"+top.Manifests[0].Digest.Encoded()), &idx); err != nil {
		t.Fatal(err)
	}
	platforms := map[string]string{}
	for _, c := range idx.Manifests {
		if c.Platform.OS != "unknown" {
			platforms[c.Digest.String()] = c.Platform.OS + "/" + c.Platform.Architecture
		}
	}
	atts := map[string]v1.Descriptor{}
	for _, c := range idx.Manifests {
		if c.Annotations[annotationRefType] == refTypeAttestation {
			atts[platforms[c.Annotations[annotationRefDigest]]] = c
		}
	}
	if len(atts) != 2 {
		t.Fatalf("buildx-oci.tar lists attestations for %v, want linux/amd64 and linux/arm64", atts)
	}
	return top.Manifests[0], atts
}

// TestExtractKeepsBuildKitAttestations: an archive whose image index
// lists BuildKit attestation manifests (docker buildx's OCI export,
// Docker 26's save of a buildx-built image) keeps those about the images
// kept in the evidence folder, as pull keeps them from a registry (#30);
// one whose blobs the archive lacks is left out and said, and the images
// are kept. The old Extract kept none.
func TestExtractKeepsBuildKitAttestations(t *testing.T) {
	data := fixture(t, "buildx-oci.tar")
	index, atts := buildxIndex(t, data)
	var attManifest v1.Manifest
	{
		dir := t.TempDir()
		untar(t, data, dir)
		if err := json.Unmarshal(readFile(t, dir, "blobs/sha256/"+atts["linux/arm64"].Digest.Encoded()), &attManifest); err != nil {
			t.Fatal(err)
		}
	}
	without := func(d v1.Descriptor) []byte {
		b, ok := withoutMember(t, data, "blobs/sha256/"+d.Digest.Encoded())
		if !ok {
			t.Fatalf("buildx-oci.tar has no blob %s", d.Digest)
		}
		return b
	}
	for _, tc := range []struct {
		name      string
		data      []byte
		platforms []string
		want      []string // platforms whose attestation manifest is kept
		leftOut   string   // the digest said left out
	}{
		{name: "all", data: data, want: []string{"linux/amd64", "linux/arm64"}},
		{name: "one platform", data: data, platforms: []string{"linux/arm64"}, want: []string{"linux/arm64"}},
		{name: "attestation manifest missing", data: without(atts["linux/amd64"]), want: []string{"linux/arm64"}, leftOut: atts["linux/amd64"].Digest.String()},
		{name: "statement missing", data: without(attManifest.Layers[1]), want: []string{"linux/amd64"}, leftOut: atts["linux/arm64"].Digest.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, res := extract(t, bytes.NewReader(tc.data), Options{Platforms: tc.platforms})
			if want := cmp.Or(len(tc.platforms), 2); len(res.Images) != want {
				t.Errorf("Extract kept %d images, want %d", len(res.Images), want)
			}
			if tc.leftOut == "" && len(res.EvidenceLeftOut) > 0 || tc.leftOut != "" && (len(res.EvidenceLeftOut) != 1 || !strings.Contains(res.EvidenceLeftOut[0], tc.leftOut)) {
				t.Errorf("EvidenceLeftOut = %q, want %s", res.EvidenceLeftOut, tc.leftOut)
			}
			evs, err := ReadEvidence(dir)
			if err != nil || len(evs) != 1 {
				t.Fatalf("ReadEvidence = %d folders, %v; want the index's", len(evs), err)
			}
			ev := evs[0]
			if ev.Subject != index.Digest || ev.SubjectMediaType != v1.MediaTypeImageIndex {
				t.Errorf("evidence subject = %s (%s), want the index %s", ev.Subject, ev.SubjectMediaType, index.Digest)
			}
			var got []string
			for _, r := range ev.Referrers {
				var p string
				for plat, a := range atts {
					if a.Digest == r.Digest && a.Annotations[annotationRefDigest] == r.Annotations[annotationRefDigest] {
						p = plat
					}
				}
				got = append(got, p)
				var types []string
				for _, l := range r.Layers {
					var st struct {
						PredicateType string `json:"predicateType"`
					}
					if l.MediaType != mediaTypeInToto || json.Unmarshal(l.Data, &st) != nil {
						t.Errorf("%s: a layer %s: %.80s, want an in-toto statement", r.Digest, l.MediaType, l.Data)
					}
					types = append(types, st.PredicateType)
				}
				if r.Kind != KindAttestationManifest || r.ArtifactType != mediaTypeInToto || r.Annotations[annotationRefType] != refTypeAttestation ||
					!slices.Equal(types, []string{"https://spdx.dev/Document", "https://slsa.dev/provenance/v0.2"}) {
					t.Errorf("%s: kind %s, artifact type %s, annotations %v, predicates %q; want BuildKit's SBOM and provenance", r.Digest, r.Kind, r.ArtifactType, r.Annotations, types)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("kept the attestation manifests of %q, want %q", got, tc.want)
			}
		})
	}
}

// readFile reads dir's file rel.
func readFile(t *testing.T, dir, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExtractBoundsBuildKitAttestations: a hostile archive's attestation
// manifests are bounded as pull bounds a registry's (#30): past the first
// MaxEvidenceReferrers of an index, a manifest declaring more than
// MaxEvidenceBlob bytes (refused before a read), a statement past what a
// JSON file may hold, a layer that is no in-toto statement; each is left
// out and said, and the image and the other attestations are kept.
func TestExtractBoundsBuildKitAttestations(t *testing.T) {
	im := newImageFor(t, "attested", "amd64")
	imBlobs, imDesc := im.ociBlobs(t, "gzip")
	// att returns an attestation manifest about im whose one layer has
	// the media type mt and the bytes data, and its blobs.
	att := func(mt string, data []byte) (v1.Descriptor, []member) {
		cfg := []byte(`{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(data).String() + `"]}}`)
		m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: descriptor(v1.MediaTypeImageConfig, cfg), Layers: []v1.Descriptor{descriptor(mt, data)}}
		m.SchemaVersion = 2
		mb := []byte(mustJSON(t, m))
		d := descriptor(v1.MediaTypeImageManifest, mb)
		d.Platform = &v1.Platform{OS: "unknown", Architecture: "unknown"}
		d.Annotations = map[string]string{annotationRefType: refTypeAttestation, annotationRefDigest: imDesc.Digest.String()}
		return d, []member{blob(mb), blob(cfg), blob(data)}
	}
	statement := func(i int) []byte {
		return []byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2","subject":[],"predicate":{"n":` + strconv.Itoa(i) + `}}`)
	}
	good, goodBlobs := att(mediaTypeInToto, statement(0))
	huge := good
	huge.Size = MaxEvidenceBlob + 1
	large, largeBlobs := att(mediaTypeInToto, bytes.Repeat([]byte(" "), manifest.MaxJSON+1))
	gzipped, gzBlobs := att(v1.MediaTypeImageLayerGzip, gz(t, statement(1)))
	var many []v1.Descriptor
	var manyBlobs []member
	for i := range MaxEvidenceReferrers + 1 {
		d, bs := att(mediaTypeInToto, statement(i))
		many, manyBlobs = append(many, d), append(manyBlobs, bs...)
	}
	for _, tc := range []struct {
		name    string
		atts    []v1.Descriptor
		blobs   []member
		kept    int
		leftOut string
	}{
		{"past the referrers bound", many, manyBlobs, MaxEvidenceReferrers, "past the first 64"},
		{"manifest declared huge", []v1.Descriptor{good, huge}, goodBlobs, 1, "want an image manifest of at most"},
		{"statement too large", []v1.Descriptor{good, large}, append(goodBlobs, largeBlobs...), 1, manifest.ErrTooLarge.Error()},
		{"layer not in-toto", []v1.Descriptor{good, gzipped}, append(goodBlobs, gzBlobs...), 1, "want application/vnd.in-toto+json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nested := []byte(indexJSON(t, append([]v1.Descriptor{imDesc}, tc.atts...)...))
			ms := append([]member{blob(nested), file("index.json", indexJSON(t, descriptor(v1.MediaTypeImageIndex, nested))), file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`)}, imBlobs...)
			dir, res := extract(t, bytes.NewReader(mkTar(t, append(ms, tc.blobs...)...)), Options{})
			if len(res.Images) != 1 || res.Images[0].ID() != im.id {
				t.Errorf("Extract kept %v, want the image %s", res.Images, im.id)
			}
			if len(res.EvidenceLeftOut) != 1 || !strings.Contains(res.EvidenceLeftOut[0], tc.leftOut) {
				t.Errorf("EvidenceLeftOut = %q, want one saying %q", res.EvidenceLeftOut, tc.leftOut)
			}
			evs, err := ReadEvidence(dir)
			if err != nil || len(evs) != 1 || len(evs[0].Referrers) != tc.kept {
				t.Fatalf("ReadEvidence = %d folders, %v; want one of %d attestation manifests", len(evs), err, tc.kept)
			}
		})
	}
}
