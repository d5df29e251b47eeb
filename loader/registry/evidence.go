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
)

// Bounds on what [FetchEvidence] takes from a registry: evidence is small
// JSON, and a hostile registry must not make a pull fetch without end.
const (
	maxEvidenceBlob   = 16 << 20 // a signature payload, an attestation envelope, a manifest
	maxEvidenceLayers = 64       // layers of one signature or attestation image
)

// Blob is one small file of evidence, exactly as the registry served it.
type Blob struct {
	MediaType string
	Digest    string // sha256:..., checked against Data
	Data      []byte
	// Annotations are the descriptor's (a signature layer carries its
	// signature in one).
	Annotations map[string]string
}

// Artifact is one of cosign's images: its manifest and the blobs it
// lists (config and layers).
type Artifact struct {
	Manifest Blob
	Blobs    []Blob
}

// Evidence is what a registry keeps beside one image: the manifest (or
// index) it serves for the digest, the manifests an index lists, and
// cosign's signature and attestation images, at the tags cosign 2 gives
// them (sha256-<hex>.sig and .att). A registry that has no signature or
// attestation leaves Sigs or Atts nil.
type Evidence struct {
	Subject  Blob
	Children []Blob // the platform manifests of an index subject
	Sigs     *Artifact
	Atts     *Artifact
}

// FetchEvidence fetches the evidence of the image ref names by digest
// (repository@sha256:...): every blob bounded and checked against its
// digest, under the same transport, idle timeout and redirect limit as a
// pull. A signature or attestation tag the registry lacks is no error.
func FetchEvidence(ctx context.Context, ref string, opts Options) (*Evidence, error) {
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
	if desc.MediaType.IsIndex() {
		idx, err := ggcr.ParseIndexManifest(bytes.NewReader(desc.Manifest))
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
	hexDigest := strings.TrimPrefix(dg.DigestStr(), "sha256:")
	for _, a := range []struct {
		suffix string
		into   **Artifact
	}{{".sig", &ev.Sigs}, {".att", &ev.Atts}} {
		art, err := fetchArtifact(ctx, r.Context().Tag("sha256-"+hexDigest+a.suffix), opts)
		if err != nil {
			return nil, fmt.Errorf("evidence of %s: %w", ref, err)
		}
		*a.into = art
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
	if len(desc.Manifest) > maxEvidenceBlob {
		return nil, fmt.Errorf("%s: a manifest of %d bytes, over %d", r, len(desc.Manifest), maxEvidenceBlob)
	}
	b := &Blob{MediaType: string(desc.MediaType), Digest: desc.Digest.String(), Data: desc.Manifest}
	return b, checkBlob(*b)
}

// fetchArtifact fetches one of cosign's images by tag, with its config
// and layers; nil when the registry has no such tag.
func fetchArtifact(ctx context.Context, r name.Reference, opts Options) (*Artifact, error) {
	mb, err := fetchManifest(ctx, r, opts)
	if err != nil || mb == nil {
		return nil, err
	}
	m, err := ggcr.ParseManifest(bytes.NewReader(mb.Data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r, err)
	}
	if len(m.Layers) > maxEvidenceLayers {
		return nil, fmt.Errorf("%s: %d layers, over %d", r, len(m.Layers), maxEvidenceLayers)
	}
	art := &Artifact{Manifest: *mb}
	descs := append([]ggcr.Descriptor{m.Config}, m.Layers...)
	for _, d := range descs {
		if d.Size < 0 || d.Size > maxEvidenceBlob {
			return nil, fmt.Errorf("%s: blob %s of %d bytes, over %d", r, d.Digest, d.Size, maxEvidenceBlob)
		}
	}
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

// checkBlob checks a blob's bytes against its sha256 digest.
func checkBlob(b Blob) error {
	sum := sha256.Sum256(b.Data)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != b.Digest {
		return fmt.Errorf("blob %s: content has digest %s", b.Digest, got)
	}
	return nil
}
