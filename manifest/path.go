package manifest

import (
	"fmt"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
)

// CleanPath checks that p is a path a saved image may use for one of its
// files: relative, already clean (no "." or ".." components, no doubled or
// trailing slash), without backslashes or NUL bytes. A leading "./", which
// some tar writers add, is tolerated and dropped from the result.
func CleanPath(p string) (string, error) {
	q := p
	for strings.HasPrefix(q, "./") {
		q = q[2:]
	}
	switch {
	case q == "" || q == ".":
		return "", fmt.Errorf("path %q: empty", p)
	case strings.ContainsRune(q, 0):
		return "", fmt.Errorf("path %q: contains a NUL byte", p)
	case strings.ContainsRune(q, '\\'):
		return "", fmt.Errorf("path %q: contains a backslash", p)
	case path.IsAbs(q):
		return "", fmt.Errorf("path %q: absolute", p)
	}
	for _, c := range strings.Split(q, "/") {
		if c == ".." {
			return "", fmt.Errorf("path %q: has a .. component", p)
		}
	}
	if path.Clean(q) != q {
		return "", fmt.Errorf("path %q: not clean", p)
	}
	return q, nil
}

// CheckDigest accepts only sha256 digests in canonical form, the only
// algorithm image IDs and the OCI layouts written by engines use.
func CheckDigest(d digest.Digest) error {
	// Not d.Algorithm(), which panics on a string without a colon.
	if !strings.HasPrefix(string(d), "sha256:") || len(d) != len("sha256:")+64 {
		return fmt.Errorf("digest %q: not sha256:<64 hex digits>", string(d))
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("digest %q: %w", string(d), err)
	}
	return nil
}

// BlobPath is where an OCI layout keeps the blob with digest d.
func BlobPath(d digest.Digest) string {
	return "blobs/" + string(d.Algorithm()) + "/" + d.Encoded()
}

// DigestFromPath returns the digest a file's name states, if it states one:
// "blobs/sha256/<hex>" (OCI layout) or "<hex>.json" (legacy config). The
// second result is false when the name states no digest.
func DigestFromPath(p string) (digest.Digest, bool) {
	var hex string
	switch {
	case strings.HasPrefix(p, "blobs/sha256/"):
		hex = strings.TrimPrefix(p, "blobs/sha256/")
	case !strings.Contains(p, "/") && strings.HasSuffix(p, ".json"):
		hex = strings.TrimSuffix(p, ".json")
	default:
		return "", false
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, hex)
	if CheckDigest(d) != nil {
		return "", false
	}
	return d, true
}
