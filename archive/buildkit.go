package archive

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

// BuildKit lists an image's attestations (an SBOM, SLSA provenance) in
// its image index as attestation manifests: platform unknown/unknown,
// these annotations, one in-toto statement a layer (moby/buildkit
// docs/attestations/attestation-storage.md). docker buildx's OCI export
// and Docker 26's save (containerd store) of a buildx-built image carry
// them, as a registry does for pull (#30).
const (
	annotationRefType   = "vnd.docker.reference.type"
	annotationRefDigest = "vnd.docker.reference.digest"
	refTypeAttestation  = "attestation-manifest"
	mediaTypeInToto     = "application/vnd.in-toto+json"
)

// attestedIndex is a nested index of the archive that lists BuildKit
// attestation manifests.
type attestedIndex struct {
	desc v1.Descriptor // as index.json lists it
	data []byte
	idx  *v1.Index
	// platforms are the bytes of its platform manifests in the archive,
	// and configs the config of the image each names.
	platforms map[digest.Digest][]byte
	configs   map[digest.Digest]digest.Digest
}

// isAttestation says whether an index entry is one of BuildKit's
// attestation manifests.
func isAttestation(d v1.Descriptor) bool {
	return d.Annotations[annotationRefType] == refTypeAttestation
}

// buildkitEvidence renders, as files of the evidence folder, the BuildKit
// attestation manifests the archive's indexes list about the images of
// res, each index as pull keeps it from a registry: a folder named by the
// index's digest holding the index, its platform manifests, and each
// attestation manifest (kind [KindAttestationManifest], with BuildKit's
// annotations) with its config and statements, bounded as [ReadEvidence]
// reads them back. An index whose folder extra already holds is left to
// extra. What cannot be kept (blobs missing from the archive, over a
// bound, a layer that is no in-toto statement) is left out and said in
// the second result; the images are kept regardless.
func (x *extractor) buildkitEvidence(res *Result, extra []File) ([]File, []string) {
	kept := map[digest.Digest]bool{}
	for _, im := range res.Images {
		kept[im.Config.Digest] = true
	}
	var files []File
	var leftOut []string
	for _, ai := range x.attested {
		dir := EvidenceDir + "/" + ai.desc.Digest.Encoded() + "/"
		if slices.ContainsFunc(extra, func(f File) bool { return strings.HasPrefix(f.Path, dir) }) {
			continue
		}
		l := EvidenceLayout{
			Manifests: []v1.Descriptor{{MediaType: ai.desc.MediaType, Digest: ai.desc.Digest, Size: ai.desc.Size, Annotations: map[string]string{"kind": KindImageIndex}}},
			Blobs:     [][]byte{ai.data},
		}
		used := int64(len(ai.data))
		for _, b := range ai.platforms {
			l.Blobs = append(l.Blobs, b)
			used += int64(len(b))
		}
		n := 0
		for _, c := range ai.idx.Manifests {
			if !isAttestation(c) || !kept[ai.configs[digest.Digest(c.Annotations[annotationRefDigest])]] {
				continue
			}
			if n++; n > MaxEvidenceReferrers {
				leftOut = append(leftOut, fmt.Sprintf("attestation manifest %s: past the first %d of index %s", c.Digest, MaxEvidenceReferrers, ai.desc.Digest))
				continue
			}
			blobs, size, err := x.attestationBlobs(c, MaxEvidenceBytes-used)
			if err != nil {
				leftOut = append(leftOut, fmt.Sprintf("attestation manifest %s: %v", c.Digest, err))
				continue
			}
			used += size
			d := v1.Descriptor{MediaType: c.MediaType, Digest: c.Digest, Size: c.Size, ArtifactType: mediaTypeInToto,
				Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}, Annotations: map[string]string{"kind": KindAttestationManifest}}
			for k, v := range c.Annotations {
				if k != "kind" {
					d.Annotations[k] = v
				}
			}
			l.Manifests = append(l.Manifests, d)
			l.Blobs = append(l.Blobs, blobs...)
		}
		if len(l.Manifests) == 1 {
			continue // none about an image kept
		}
		fs, err := l.Files()
		if err != nil {
			leftOut = append(leftOut, fmt.Sprintf("attestations of index %s: %v", ai.desc.Digest, err))
			continue
		}
		for _, f := range fs {
			if !slices.ContainsFunc(files, func(o File) bool { return o.Path == f.Path }) &&
				!slices.ContainsFunc(extra, func(o File) bool { return o.Path == f.Path }) {
				files = append(files, f)
			}
		}
	}
	return files, leftOut
}

// attestationBlobs reads one attestation manifest d of the archive and
// the blobs it names, at most budget bytes in all; it returns them and
// their size.
func (x *extractor) attestationBlobs(d v1.Descriptor, budget int64) ([][]byte, int64, error) {
	if !manifest.IsManifest(d.MediaType) || d.Size > MaxEvidenceBlob {
		return nil, 0, fmt.Errorf("a %s of %d bytes, want an image manifest of at most %d", clip(d.MediaType), d.Size, MaxEvidenceBlob)
	}
	read := func(d v1.Descriptor) ([]byte, error) {
		if d.Size > MaxEvidenceBlob || d.Size > budget {
			return nil, fmt.Errorf("%s: %w: %d bytes", d.Digest, manifest.ErrTooLarge, d.Size)
		}
		e, err := x.blob(d)
		if err != nil {
			return nil, err
		}
		b, err := x.readStaged(e)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Digest, err)
		}
		budget -= int64(len(b))
		return b, nil
	}
	mb, err := read(d)
	if err != nil {
		return nil, 0, err
	}
	m, err := manifest.Parse(bytes.NewReader(mb))
	if err != nil {
		return nil, 0, err
	}
	if len(m.Layers) > MaxEvidenceLayers {
		return nil, 0, fmt.Errorf("%w: %d layers, over %d", manifest.ErrTooLarge, len(m.Layers), MaxEvidenceLayers)
	}
	out := [][]byte{mb}
	size := int64(len(mb))
	for i, l := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if i > 0 && l.MediaType != mediaTypeInToto {
			return nil, 0, fmt.Errorf("a layer is a %s, want %s", clip(l.MediaType), mediaTypeInToto)
		}
		b, err := read(l)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, b)
		size += int64(len(b))
	}
	return out, size, nil
}
