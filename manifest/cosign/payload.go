package cosign

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Media types and annotations of cosign's OCI artifacts
// (cosign pkg/types/media.go, pkg/oci/static/options.go).
const (
	// MediaTypeSimpleSigning is the media type of a layer of a signature
	// (.sig) image: a [Payload].
	MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	// AnnotationSignature is the layer annotation holding the signature of
	// that payload, base64-encoded.
	AnnotationSignature = "dev.cosignproject.cosign/signature"
	// MediaTypeDSSE is the media type of a layer of an attestation (.att)
	// image: an [Envelope].
	MediaTypeDSSE = "application/vnd.dsse.envelope.v1+json"
	// AnnotationPredicateType is the layer annotation naming the predicate
	// type of the statement in that envelope.
	AnnotationPredicateType = "predicateType"
)

// payloadType is the critical.type of every cosign signature payload
// (sigstore pkg/signature/payload/payload.go, CosignSignatureType).
const payloadType = "cosign container image signature"

// maxPayload bounds a signature payload: cosign's are a few hundred bytes,
// more with many -a annotations.
const maxPayload = 1 << 20

// Payload is cosign's "simple signing" payload, the layer of a signature
// (.sig) image, which the signature signs: the manifest digest of the
// signed image and the repository it was signed in. Its fields are in the
// order cosign writes them.
type Payload struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// ParsePayload reads a payload strictly: at most 1 MiB of one JSON object;
// critical must hold exactly identity.docker-reference,
// image.docker-manifest-digest (a sha256 digest: "sha256:" and 64 lowercase
// hex digits) and type "cosign container image signature"; optional, when
// present, is an object or null. Keys repeated or in another case, and
// unknown fields outside optional, are refused: a verifier must read the
// same digest as every other reader of the signed bytes. It does not check
// the docker-reference, which cosign sets to the repository signed in and
// which the caller compares with what it expects.
func ParsePayload(b []byte) (*Payload, error) {
	p, err := parsePayload(b)
	if err != nil {
		return nil, fmt.Errorf("cosign payload: %w", err)
	}
	return p, nil
}

func parsePayload(b []byte) (*Payload, error) {
	if err := checkJSON(b, maxPayload); err != nil {
		return nil, err
	}
	top, err := parseObject(b, []string{"critical"}, "optional")
	if err != nil {
		return nil, err
	}
	crit, err := parseObject(top["critical"], []string{"identity", "image", "type"})
	if err != nil {
		return nil, fmt.Errorf("critical: %w", err)
	}
	identity, err := parseObject(crit["identity"], []string{"docker-reference"})
	if err != nil {
		return nil, fmt.Errorf("critical.identity: %w", err)
	}
	image, err := parseObject(crit["image"], []string{"docker-manifest-digest"})
	if err != nil {
		return nil, fmt.Errorf("critical.image: %w", err)
	}
	var p Payload
	if err := identity.get("docker-reference", &p.Critical.Identity.DockerReference); err != nil {
		return nil, fmt.Errorf("critical.identity: %w", err)
	}
	if err := image.get("docker-manifest-digest", &p.Critical.Image.DockerManifestDigest); err != nil {
		return nil, fmt.Errorf("critical.image: %w", err)
	}
	if err := crit.get("type", &p.Critical.Type); err != nil {
		return nil, fmt.Errorf("critical: %w", err)
	}
	if p.Critical.Type != payloadType {
		return nil, fmt.Errorf("critical.type is %q, want %q", p.Critical.Type, payloadType)
	}
	if d := p.Critical.Image.DockerManifestDigest; !isSHA256(d) {
		return nil, fmt.Errorf("critical.image.docker-manifest-digest %q is not a sha256 digest", d)
	}
	if raw, ok := top["optional"]; ok && string(raw) != "null" {
		if raw[0] != '{' {
			return nil, fmt.Errorf("optional is not an object")
		}
		if err := json.Unmarshal(raw, &p.Optional); err != nil {
			return nil, fmt.Errorf("optional: %w", err)
		}
	}
	return &p, nil
}

// NewPayload renders the payload cosign writes to sign the image with
// manifest digest manifestDigest in repository ref (a repository name
// without tag or digest, as cosign writes it, e.g.
// "index.docker.io/library/busybox"; may be ""). The bytes match
// `cosign generate ref@manifestDigest`: compact JSON, fields in cosign's
// order, "optional":null, no trailing newline. It does not check its
// arguments; [ParsePayload] refuses a payload whose digest is not sha256.
func NewPayload(ref, manifestDigest string) []byte {
	var p Payload
	p.Critical.Identity.DockerReference = ref
	p.Critical.Image.DockerManifestDigest = manifestDigest
	p.Critical.Type = payloadType
	// json.Marshal as cosign does, escaping HTML characters alike; it
	// cannot fail on strings and a nil map.
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return b
}

// SignatureTag returns the tag cosign stores the signatures of the image
// with manifest digest d under: "sha256-<hex>.sig". It returns "" when d is
// not a sha256 digest ("sha256:" and 64 lowercase hex digits).
func SignatureTag(d string) string {
	return tag(d, ".sig")
}

// AttestationTag returns the tag cosign stores the attestations of the
// image with manifest digest d under: "sha256-<hex>.att". It returns "" when
// d is not a sha256 digest.
func AttestationTag(d string) string {
	return tag(d, ".att")
}

func tag(d, suffix string) string {
	if !isSHA256(d) {
		return ""
	}
	return strings.Replace(d, ":", "-", 1) + suffix
}

// isSHA256 reports whether d is "sha256:" and 64 lowercase hex digits, the
// only digests cosign signs.
func isSHA256(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range []byte(hex) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
