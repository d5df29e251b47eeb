package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Bounds on what [FetchEvidence] takes from a registry: evidence is small
// JSON, and a hostile registry must not make a pull fetch without end.
// They are the bounds imgsave reads a directory's evidence with (its
// archive package, which this package does not import; a test of
// package imgsave keeps the two equal), so that what a pull stores is
// what ls and verify read back. MaxEvidenceBlob is also above the 8 MiB
// that capped gives other small answers.
const (
	MaxEvidenceBlob   = 16 << 20 // a signature payload, an attestation envelope, a manifest
	MaxEvidenceLayers = 64       // layers of one signature or attestation image
	MaxEvidenceBytes  = 64 << 20 // one image's manifest and blobs in all, each reference counted
)

// The media types and annotation that make an image one of cosign's
// (cosign pkg/types/media.go and pkg/oci/static; the same strings as
// imgsave's manifest/cosign, which this package does not import).
const (
	mediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	mediaTypeDSSE          = "application/vnd.dsse.envelope.v1+json"
	annotationSignature    = "dev.cosignproject.cosign/signature"
)

// errNotCosign is why an answer at a signature or attestation tag is
// skipped: it is some other image.
var errNotCosign = errors.New("not a cosign signature or attestation image")

// Blob is one small file of evidence, exactly as the registry served it.
type Blob struct {
	MediaType string
	Digest    string // sha256:..., checked against Data
	Data      []byte
	// Annotations are the descriptor's (a signature layer carries its
	// signature in one).
	Annotations map[string]string
}

// Artifact is one of cosign's images, a referrer or a BuildKit
// attestation manifest: its manifest and the blobs it lists (config and
// layers). A referrer's and an attestation manifest's Manifest carries
// the annotations of the descriptor that listed it.
type Artifact struct {
	Manifest Blob
	Blobs    []Blob
	// ArtifactType is, for a referrer, the manifest's artifactType, else
	// its config's media type (see [EvidenceKind]); for a BuildKit
	// attestation manifest application/vnd.in-toto+json. Empty for
	// cosign's tag images.
	ArtifactType string
	// Subject is the digest (sha256:...) the artifact is about: a
	// referrer's subject, the manifest a BuildKit attestation manifest
	// names (vnd.docker.reference.digest). Empty for cosign's tag images.
	Subject string
}

// size is the bytes of a's manifest and blobs.
func (a *Artifact) size() int64 {
	n := int64(len(a.Manifest.Data))
	for _, b := range a.Blobs {
		n += int64(len(b.Data))
	}
	return n
}

// Evidence is what a registry keeps beside one image: the manifest (or
// index) it serves for the digest, the manifests an index lists, and
// cosign's signature and attestation images, at the tags cosign 2 gives
// them (sha256-<hex>.sig and .att); the digest's referrers that are
// evidence (#30); for an index, BuildKit's attestation manifests. A
// registry that has no signature or attestation leaves Sigs or Atts nil.
type Evidence struct {
	Subject  Blob
	Children []Blob // the image manifests of an index subject, attestation manifests too
	Sigs     *Artifact
	Atts     *Artifact
	// Referrers are the artifacts whose subject is Subject, listed by the
	// registry's referrers API or, without one, at the referrers tag
	// sha256-<hex>, whose artifact type is evidence ([EvidenceKind]): a
	// Sigstore bundle of cosign v3, an in-toto attestation, an SBOM. At
	// most [MaxEvidenceReferrers], in the order listed; others are
	// skipped unfetched.
	Referrers []Artifact
	// BuildKit are the attestation manifests an index subject lists
	// (annotation vnd.docker.reference.type attestation-manifest, platform
	// unknown/unknown) for the manifests of Options.EvidenceOf, or all.
	BuildKit []Artifact
	// Skipped are the tags whose manifest is no cosign signature or
	// attestation image (by its media types and annotations): a
	// registry, or a proxy, that answers any tag with some image. Their
	// artifact is nil.
	Skipped []string
	// Failed are why a signature or attestation image, a referrer or an
	// attestation manifest could not be taken (a manifest that does not
	// parse, a blob refused, missing or over the bound, a referrer whose
	// subject or type is not what the list says, referrers past the
	// bounds), one line each naming the tag or manifest. Those are left
	// out; the rest is kept.
	Failed []error
}

// FetchEvidence fetches the evidence of the image ref names by digest
// (repository@sha256:...): every manifest and blob bounded and checked
// against its digest, under the same transport, idle timeout and redirect
// limit as a pull, and all of it within MaxEvidenceBytes. A signature or
// attestation tag the registry lacks is no error; one that holds
// something else is in Skipped, one that cannot be fetched in Failed; so
// is a referrer or attestation manifest that cannot be taken, while a
// referrer of another artifact type is left out unsaid. The error is for
// the image's own manifests.
func FetchEvidence(ctx context.Context, ref string, opts Options) (*Evidence, error) {
	ev, err := fetchEvidence(ctx, ref, opts)
	return ev, oneLine(err)
}

func fetchEvidence(ctx context.Context, ref string, opts Options) (*Evidence, error) {
	ctx = withIdleTimeout(ctx, opts.IdleTimeout)
	r, err := parse(ref, opts.Insecure)
	if err != nil {
		return nil, err
	}
	dg, ok := r.(name.Digest)
	if !ok {
		return nil, fmt.Errorf("evidence of %s: want repository@sha256:...", ref)
	}
	_, desc, err := get(ctx, "evidence of", ref, opts)
	if err != nil {
		return nil, err
	}
	ev := &Evidence{Subject: Blob{MediaType: string(desc.MediaType), Digest: desc.Digest.String(), Data: desc.Manifest}}
	if err := checkBlob(ev.Subject); err != nil {
		return nil, fmt.Errorf("evidence of %s: %w", ref, err)
	}
	var idx *ggcr.IndexManifest
	if desc.MediaType.IsIndex() {
		idx, err = ggcr.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return nil, fmt.Errorf("evidence of %s: %w", ref, err)
		}
		if len(idx.Manifests) > maxPlatforms {
			return nil, fmt.Errorf("evidence of %s: an index of %d entries, over %d", ref, len(idx.Manifests), maxPlatforms)
		}
		for _, m := range idx.Manifests {
			if !m.MediaType.IsImage() {
				continue
			}
			b, err := fetchManifest(ctx, r.Context().Digest(m.Digest.String()), opts)
			if err != nil {
				return nil, fmt.Errorf("evidence of %s: %w", ref, err)
			}
			if b != nil {
				ev.Children = append(ev.Children, *b)
			}
		}
	}
	// What ls and verify will read of this digest's folder, each blob
	// reference counted, stays within MaxEvidenceBytes.
	used := int64(len(ev.Subject.Data))
	for _, c := range ev.Children {
		used += int64(len(c.Data))
	}
	hexDigest := strings.TrimPrefix(dg.DigestStr(), "sha256:")
	for _, a := range []struct {
		suffix string
		into   **Artifact
	}{{".sig", &ev.Sigs}, {".att", &ev.Atts}} {
		tag := r.Context().Tag("sha256-" + hexDigest + a.suffix)
		art, err := fetchArtifact(ctx, tag, a.suffix == ".sig", MaxEvidenceBytes-used, opts)
		switch {
		case errors.Is(err, errNotCosign):
			ev.Skipped = append(ev.Skipped, tag.String())
		case err != nil:
			ev.Failed = append(ev.Failed, oneLine(err))
		case art != nil:
			*a.into = art
			used += art.size()
		}
	}
	used = fetchReferrers(ctx, dg, used, ev, opts)
	if idx != nil {
		fetchBuildKit(ctx, r.Context(), idx, opts.EvidenceOf, used, ev, opts)
	}
	return ev, nil
}

// fetchManifest fetches a manifest by reference; nil when the registry
// has none.
func fetchManifest(ctx context.Context, r name.Reference, opts Options) (*Blob, error) {
	desc, err := remote.Get(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithUserAgent("imgsave"), remote.WithTransport(defaultTransport))
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		return nil, classify("evidence", r.String(), r, err)
	}
	if len(desc.Manifest) > MaxEvidenceBlob {
		return nil, fmt.Errorf("%s: a manifest of %d bytes, over %d", r, len(desc.Manifest), MaxEvidenceBlob)
	}
	b := &Blob{MediaType: string(desc.MediaType), Digest: desc.Digest.String(), Data: desc.Manifest}
	return b, checkBlob(*b)
}

// fetchArtifact fetches one of cosign's images by tag, a signature image
// (sig) or an attestation image, with its config and layers; nil when the
// registry has no such tag, and an error wrapping errNotCosign when the
// tag holds another kind of image, whose blobs are not fetched.
//
// budget is how many bytes the image may hold in all, its manifest and
// each blob reference counted.
func fetchArtifact(ctx context.Context, r name.Reference, sig bool, budget int64, opts Options) (*Artifact, error) {
	mb, err := fetchManifest(ctx, r, opts)
	if err != nil || mb == nil {
		return nil, err
	}
	if !types.MediaType(mb.MediaType).IsImage() {
		return nil, fmt.Errorf("%s: %w: a %s", r, errNotCosign, truncate(mb.MediaType, 80))
	}
	m, err := ggcr.ParseManifest(bytes.NewReader(mb.Data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r, err)
	}
	if err := checkCosign(m, sig); err != nil {
		return nil, fmt.Errorf("%s: %w", r, err)
	}
	return fetchBlobs(ctx, r, *mb, m, budget, opts)
}

// fetchBlobs fetches the config and layers m lists, m being the manifest
// mb of r: at most MaxEvidenceLayers layers, each blob at most
// MaxEvidenceBlob and checked against its digest, and budget bytes in all,
// the manifest and each blob reference counted.
func fetchBlobs(ctx context.Context, r name.Reference, mb Blob, m *ggcr.Manifest, budget int64, opts Options) (*Artifact, error) {
	if len(m.Layers) > MaxEvidenceLayers {
		return nil, fmt.Errorf("%s: %d layers, over %d", r, len(m.Layers), MaxEvidenceLayers)
	}
	art := &Artifact{Manifest: mb}
	descs := append([]ggcr.Descriptor{m.Config}, m.Layers...)
	total := int64(len(mb.Data))
	for _, d := range descs {
		if d.Size < 0 || d.Size > MaxEvidenceBlob {
			return nil, fmt.Errorf("%s: blob %s of %d bytes, over %d", r, d.Digest, d.Size, MaxEvidenceBlob)
		}
		// Each size is at most MaxEvidenceBlob and there are at most
		// MaxEvidenceLayers+1, so the sum cannot overflow.
		if total += d.Size; total > budget {
			return nil, fmt.Errorf("%s: over %d bytes of evidence for one digest in all (each blob reference counted)", r, MaxEvidenceBytes)
		}
	}
	// Its blobs may be up to MaxEvidenceBlob, over the cap of other small
	// answers.
	ctx = context.WithValue(ctx, capKey{}, int64(MaxEvidenceBlob))
	for _, d := range descs {
		l, err := remote.Layer(r.Context().Digest(d.Digest.String()), remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithUserAgent("imgsave"), remote.WithTransport(defaultTransport))
		if err != nil {
			return nil, classify("evidence", r.String(), r, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, classify("evidence", r.String(), r, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, d.Size+1))
		rc.Close()
		if err != nil {
			return nil, classify("evidence", r.String(), r, err)
		}
		b := Blob{MediaType: string(d.MediaType), Digest: d.Digest.String(), Data: data, Annotations: d.Annotations}
		if int64(len(data)) != d.Size {
			return nil, fmt.Errorf("%s: blob %s: %d bytes, the manifest says %d", r, d.Digest, len(data), d.Size)
		}
		if err := checkBlob(b); err != nil {
			return nil, fmt.Errorf("%s: %w", r, err)
		}
		art.Blobs = append(art.Blobs, b)
	}
	return art, nil
}

// checkCosign refuses, with errNotCosign, an image that is not one of
// cosign's of that kind: its config an image config, and each of its
// layers (one at least) a simple-signing payload with its signature
// annotation for a signature image, a DSSE envelope for an attestation
// image. The image's own manifest, served by a registry that answers any
// tag with it, is neither (#28).
func checkCosign(m *ggcr.Manifest, sig bool) error {
	if m.Config.MediaType != types.OCIConfigJSON && m.Config.MediaType != types.DockerConfigJSON {
		return fmt.Errorf("%w: its config is a %s", errNotCosign, truncate(string(m.Config.MediaType), 80))
	}
	if len(m.Layers) == 0 {
		return fmt.Errorf("%w: no layer", errNotCosign)
	}
	want := types.MediaType(mediaTypeDSSE)
	if sig {
		want = mediaTypeSimpleSigning
	}
	for _, l := range m.Layers {
		if l.MediaType != want {
			return fmt.Errorf("%w: a layer is a %s", errNotCosign, truncate(string(l.MediaType), 80))
		}
		if sig && l.Annotations[annotationSignature] == "" {
			return fmt.Errorf("%w: a layer has no %s annotation", errNotCosign, annotationSignature)
		}
	}
	return nil
}

// checkBlob checks a blob's bytes against its sha256 digest.
func checkBlob(b Blob) error {
	sum := sha256.Sum256(b.Data)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != b.Digest {
		return fmt.Errorf("blob %s: content has digest %s", b.Digest, got)
	}
	return nil
}
