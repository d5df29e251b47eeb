package registry

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Referrers (#30): cosign v3 attaches its Sigstore bundle to an image
// through the OCI 1.1 referrers API (distribution-spec "Listing
// referrers"), and through the referrers tag sha256-<hex> on a registry
// without it; SBOM and provenance tools do the same. BuildKit instead
// lists its attestation manifests in the image index.

// MaxEvidenceReferrers bounds how many referrers of one digest, and how
// many BuildKit attestation manifests of one index, are fetched: each is
// an artifact bounded as a cosign image is (MaxEvidenceLayers blobs of
// MaxEvidenceBlob), and all of them share MaxEvidenceBytes with the
// digest's other evidence.
const MaxEvidenceReferrers = 64

// How much of a referrers list is read: a registry's list may be paged
// (a Link header, rel="next"), each page at most maxSmall bytes; past
// maxReferrerPages pages or maxReferrersListed entries the rest is left
// unread, and said so in Evidence.Failed.
const (
	maxReferrerPages   = 8
	maxReferrersListed = 4096
)

// The annotations and platform BuildKit gives an attestation manifest in
// an image index (moby/buildkit docs/attestations/attestation-storage.md).
const (
	annotationRefType   = "vnd.docker.reference.type"
	annotationRefDigest = "vnd.docker.reference.digest"
	refTypeAttestation  = "attestation-manifest"
	mediaTypeInToto     = "application/vnd.in-toto+json"
	mediaTypeEmptyJSON  = "application/vnd.oci.empty.v1+json"
)

// EvidenceKind says what an artifact type (a manifest's artifactType, or
// its config's media type) holds, when it is evidence imgsave keeps:
// "sigstore-bundle" (application/vnd.dev.sigstore.bundle.v0.3+json and
// the +json;version=0.x of older bundles), "cosign" (cosign's signature
// and attestation types), "in-toto" (an in-toto statement or a DSSE
// envelope), "sbom" (SPDX, CycloneDX) or "provenance" (SLSA); "" for any
// other type, which a pull skips.
func EvidenceKind(artifactType string) string {
	t := strings.ToLower(strings.TrimSpace(artifactType))
	switch {
	case strings.HasPrefix(t, "application/vnd.dev.sigstore.bundle"):
		return "sigstore-bundle"
	case strings.HasPrefix(t, "application/vnd.dev.cosign."):
		return "cosign"
	case strings.HasPrefix(t, "application/vnd.in-toto"), strings.HasPrefix(t, "application/vnd.dsse.envelope"):
		return "in-toto"
	case strings.HasPrefix(t, "application/spdx"), strings.HasPrefix(t, "text/spdx"),
		strings.HasPrefix(t, "application/vnd.spdx"), strings.HasPrefix(t, "application/vnd.cyclonedx"):
		return "sbom"
	case strings.HasPrefix(t, "application/vnd.slsa"), strings.HasPrefix(t, "https://slsa.dev/provenance"):
		return "provenance"
	}
	return ""
}

// fetchReferrers adds to ev the referrers of dg whose artifact type is
// evidence, each checked (its manifest against the digest listed, its
// subject dg, its artifact type what the list says) and bounded; what
// cannot be taken goes to ev.Failed. It returns the bytes used, from
// used on.
func fetchReferrers(ctx context.Context, dg name.Digest, used int64, ev *Evidence, opts Options) int64 {
	listed, err := listReferrers(ctx, dg, opts)
	if err != nil {
		ev.Failed = append(ev.Failed, oneLine(fmt.Errorf("referrers of %s: %w", dg, err)))
		if len(listed) == 0 {
			return used
		}
	}
	var seen []string
	left := 0
	for _, d := range listed {
		// A referrer the list gives twice, or the subject listed as its
		// own referrer (a loop), is not fetched again.
		ds := d.Digest.String()
		if ds == dg.DigestStr() || slices.Contains(seen, ds) {
			continue
		}
		// A registry that follows the spec lists the manifest's
		// artifactType; go-containerregistry's (v0.22.1) lists its
		// config's media type, the empty one for cosign v3's bundles, and
		// a registry may list none: those are fetched to be told.
		at := d.ArtifactType
		if EvidenceKind(at) == "" && at != "" && at != mediaTypeEmptyJSON {
			continue
		}
		seen = append(seen, ds)
		if len(seen) > MaxEvidenceReferrers {
			left++
			continue
		}
		art, err := fetchReferrer(ctx, dg, d, MaxEvidenceBytes-used, opts)
		switch {
		case err != nil:
			ev.Failed = append(ev.Failed, oneLine(err))
		case art != nil:
			ev.Referrers = append(ev.Referrers, *art)
			used += art.size()
		}
	}
	if left > 0 {
		ev.Failed = append(ev.Failed, fmt.Errorf("referrers of %s: %d more not fetched, past the first %d", dg, left, MaxEvidenceReferrers))
	}
	return used
}

// fetchReferrer fetches the referrer d of subject: nil when its manifest
// says it is no evidence (go-containerregistry's registry, or one that
// lists no type).
func fetchReferrer(ctx context.Context, subject name.Digest, d ggcr.Descriptor, budget int64, opts Options) (*Artifact, error) {
	r := subject.Context().Digest(d.Digest.String())
	if d.Size < 0 || d.Size > MaxEvidenceBlob {
		return nil, fmt.Errorf("referrer %s: a manifest of %d bytes, over %d", r, d.Size, MaxEvidenceBlob)
	}
	if !types.MediaType(d.MediaType).IsImage() {
		return nil, fmt.Errorf("referrer %s: a %s, want an image manifest", r, truncate(string(d.MediaType), 80))
	}
	mb, err := fetchManifest(ctx, r, opts)
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", subject, err)
	}
	if mb == nil {
		return nil, fmt.Errorf("referrer %s: listed, but the registry has no such manifest", r)
	}
	if mb.Digest != d.Digest.String() || int64(len(mb.Data)) != d.Size {
		return nil, fmt.Errorf("referrer %s: the registry serves %d bytes of digest %s for it, listed as %d bytes", r, len(mb.Data), mb.Digest, d.Size)
	}
	mb.Annotations = d.Annotations
	m, err := ggcr.ParseManifest(bytes.NewReader(mb.Data))
	if err != nil {
		return nil, fmt.Errorf("referrer %s: %w", r, err)
	}
	if m.Subject == nil || m.Subject.Digest.String() != subject.DigestStr() {
		got := "none"
		if m.Subject != nil {
			got = m.Subject.Digest.String()
		}
		return nil, fmt.Errorf("referrer %s: its subject is %s, not %s", r, got, subject.DigestStr())
	}
	at := cmp.Or(m.ArtifactType, string(m.Config.MediaType))
	// The list says the manifest's artifactType, or its config's media
	// type (as go-containerregistry's registry and the spec's fallback
	// do); anything else is a list that lies about what it lists.
	if d.ArtifactType != "" && d.ArtifactType != m.ArtifactType && d.ArtifactType != string(m.Config.MediaType) {
		return nil, fmt.Errorf("referrer %s: listed as a %s, its manifest says %s", r, truncate(d.ArtifactType, 80), truncate(at, 80))
	}
	if EvidenceKind(at) == "" {
		return nil, nil
	}
	art, err := fetchBlobs(ctx, r, *mb, m, budget, opts)
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", subject, err)
	}
	art.ArtifactType, art.Subject = at, subject.DigestStr()
	return art, nil
}

// listReferrers lists the referrers of dg: through the referrers API, or
// where the registry has none (404, or 400, 405, 406 from registries that
// route the path elsewhere), from the referrers tag sha256-<hex>, as the
// distribution spec says a client falls back. A registry with neither
// lists none. What it returns with an error is what it read before.
func listReferrers(ctx context.Context, dg name.Digest, opts Options) ([]ggcr.Descriptor, error) {
	repo := dg.Context()
	client, err := newClient(ctx, repo)
	if err != nil {
		return nil, err
	}
	next := fmt.Sprintf("%s://%s/v2/%s/referrers/%s", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr(), dg.DigestStr())
	var out []ggcr.Descriptor
	for page := 0; next != ""; page++ {
		if page == maxReferrerPages || len(out) >= maxReferrersListed {
			return out, fmt.Errorf("more pages of referrers than %d; the first %d referrers read", maxReferrerPages, len(out))
		}
		var descs []ggcr.Descriptor
		var api bool
		descs, next, api, err = referrersPage(ctx, client, next)
		if err != nil {
			return out, err
		}
		if !api {
			if page > 0 {
				return out, fmt.Errorf("a page of referrers the registry has not")
			}
			return referrersTag(ctx, dg, opts)
		}
		out = append(out, descs...)
		if len(out) > maxReferrersListed {
			return out[:maxReferrersListed], fmt.Errorf("over %d referrers listed; the first %[1]d read", maxReferrersListed)
		}
	}
	return out, nil
}

// referrersPage reads one page of the referrers API at u: its entries
// and the next page's address ("" for the last); api is false when the
// registry has no referrers API.
func referrersPage(ctx context.Context, client *http.Client, u string) (descs []ggcr.Descriptor, next string, api bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", false, err
	}
	req.Header.Set("Accept", string(types.OCIImageIndex))
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusNotAcceptable:
		return nil, "", false, nil
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, "", false, err
	}
	// The body is bounded by the transport (maxSmall).
	var idx ggcr.IndexManifest
	if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
		return nil, "", true, fmt.Errorf("the referrers list: %w", err)
	}
	if idx.SchemaVersion != 2 || (idx.MediaType != "" && idx.MediaType != types.OCIImageIndex) {
		return nil, "", true, fmt.Errorf("GET %s: %w: schemaVersion %d, media type %q, want an OCI image index", req.URL.Redacted(), ErrManifest, idx.SchemaVersion, truncate(string(idx.MediaType), 80))
	}
	next, err = nextPage(req.URL, resp.Header.Get("Link"))
	return idx.Manifests, next, true, err
}

// nextPage reads a Link header's rel="next" address, relative to the
// page's; one on another host is refused (credentials go to the
// registry only).
func nextPage(page *url.URL, link string) (string, error) {
	if link == "" {
		return "", nil
	}
	target, params, ok := strings.Cut(link, ";")
	target = strings.TrimSpace(target)
	if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
		return "", nil
	}
	u, err := page.Parse(strings.Trim(target, "<>"))
	if err != nil {
		return "", fmt.Errorf("the next page of referrers %q: %w", truncate(target, 80), err)
	}
	if u.Host != page.Host || u.Scheme != page.Scheme {
		return "", fmt.Errorf("the next page of referrers is on %q, not the registry's %q", truncate(u.Host, 80), page.Host)
	}
	return u.String(), nil
}

// referrersTag reads the referrers tag of dg: an image index listing its
// referrers, kept up to date by the clients that push them.
func referrersTag(ctx context.Context, dg name.Digest, opts Options) ([]ggcr.Descriptor, error) {
	tag := dg.Context().Tag(strings.Replace(dg.DigestStr(), ":", "-", 1))
	b, err := fetchManifest(ctx, tag, opts)
	if err != nil || b == nil {
		return nil, err
	}
	if b.MediaType != string(types.OCIImageIndex) {
		return nil, fmt.Errorf("%s: a %s, want the OCI image index of the referrers tag", tag, truncate(b.MediaType, 80))
	}
	idx, err := ggcr.ParseIndexManifest(bytes.NewReader(b.Data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tag, err)
	}
	if len(idx.Manifests) > maxReferrersListed {
		return idx.Manifests[:maxReferrersListed], fmt.Errorf("%s: over %d referrers listed; the first %[2]d read", tag, maxReferrersListed)
	}
	return idx.Manifests, nil
}

// fetchBuildKit adds to ev the attestation manifests BuildKit lists in
// the index idx (of repository repo) for the manifests of want (all, for
// nil), each with its in-toto layers, bounded as a referrer is. It
// returns the bytes used, from used on.
func fetchBuildKit(ctx context.Context, repo name.Repository, idx *ggcr.IndexManifest, want []string, used int64, ev *Evidence, opts Options) int64 {
	n := 0
	for _, d := range idx.Manifests {
		if d.Annotations[annotationRefType] != refTypeAttestation {
			continue
		}
		of := d.Annotations[annotationRefDigest]
		if want != nil && !slices.Contains(want, of) {
			continue
		}
		r := repo.Digest(d.Digest.String())
		if n++; n > MaxEvidenceReferrers {
			ev.Failed = append(ev.Failed, fmt.Errorf("attestation manifest %s: past the first %d of the index", r, MaxEvidenceReferrers))
			continue
		}
		art, err := fetchAttestationManifest(ctx, r, d, MaxEvidenceBytes-used, opts)
		if err != nil {
			ev.Failed = append(ev.Failed, oneLine(fmt.Errorf("attestation manifest %w", err)))
			continue
		}
		art.Subject = of
		ev.BuildKit = append(ev.BuildKit, *art)
		used += art.size()
	}
	return used
}

// fetchAttestationManifest fetches one of BuildKit's attestation
// manifests, listed in an index as d: an image manifest whose layers are
// in-toto statements.
func fetchAttestationManifest(ctx context.Context, r name.Digest, d ggcr.Descriptor, budget int64, opts Options) (*Artifact, error) {
	if d.Size < 0 || d.Size > MaxEvidenceBlob || !d.MediaType.IsImage() {
		return nil, fmt.Errorf("%s: a %s of %d bytes, want an image manifest of at most %d", r, truncate(string(d.MediaType), 80), d.Size, MaxEvidenceBlob)
	}
	mb, err := fetchManifest(ctx, r, opts)
	if err != nil {
		return nil, err
	}
	if mb == nil {
		return nil, fmt.Errorf("%s: listed, but the registry has no such manifest", r)
	}
	mb.Annotations = d.Annotations
	m, err := ggcr.ParseManifest(bytes.NewReader(mb.Data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r, err)
	}
	for _, l := range m.Layers {
		if l.MediaType != mediaTypeInToto {
			return nil, fmt.Errorf("%s: a layer is a %s, want %s", r, truncate(string(l.MediaType), 80), mediaTypeInToto)
		}
	}
	art, err := fetchBlobs(ctx, r, *mb, m, budget, opts)
	if err != nil {
		return nil, err
	}
	art.ArtifactType = mediaTypeInToto
	return art, nil
}
