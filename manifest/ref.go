package manifest

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// Reference is an image named on the command line: either an image ID
// ("sha256:<hex>") or a name, which carries a tag or a digest.
type Reference struct {
	named reference.Named
	id    digest.Digest
}

// ParseReference parses an image reference the way the docker CLI does: a
// name without tag or digest means ":latest" ("localhost:5000/x" is a
// registry port, not a tag); "name@sha256:..." digests and "sha256:..." image
// IDs are kept as they are.
func ParseReference(s string) (Reference, error) {
	if strings.HasPrefix(s, "sha256:") {
		d := digest.Digest(s)
		if err := CheckDigest(d); err != nil {
			return Reference{}, fmt.Errorf("image %q: %w", s, err)
		}
		return Reference{id: d}, nil
	}
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return Reference{}, fmt.Errorf("image %q: %w", s, err)
	}
	return Reference{named: reference.TagNameOnly(n)}, nil
}

// String is the short form engines accept and print, as in
// "alpine:latest" or "localhost:5000/x:latest"; an ID stays "sha256:...".
func (r Reference) String() string {
	if r.named == nil {
		return string(r.id)
	}
	return reference.FamiliarString(r.named)
}

// Full is the fully qualified form containerd uses in the
// io.containerd.image.name annotation, as in "docker.io/library/alpine:latest".
func (r Reference) Full() string {
	if r.named == nil {
		return string(r.id)
	}
	return r.named.String()
}

// Tag is the reference's tag, or "" for an ID or a digest reference.
func (r Reference) Tag() string {
	if t, ok := r.named.(reference.Tagged); ok {
		return t.Tag()
	}
	return ""
}

// ID is the image ID of an ID reference, or "".
func (r Reference) ID() digest.Digest { return r.id }

// IsTag reports whether r names a repository and a tag, the only kind of
// reference that a docker-load manifest's RepoTags may hold.
func (r Reference) IsTag() bool {
	_, digested := r.named.(reference.Digested)
	return r.named != nil && !digested
}
