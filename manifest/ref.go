package manifest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Reference is an image named on the command line: either an image ID
// ("sha256:<hex>") or a name, which carries a tag or a digest.
type Reference struct {
	domain string // "docker.io", "localhost:5000", or "" (see parseNamed)
	path   string // "library/alpine"; "" for an image ID
	tag    string
	digest digest.Digest
	id     digest.Digest
}

// The normalisation of github.com/distribution/reference, which the docker
// CLI applies: a name without a registry is docker.io's, and one without a
// slash there is under library/.
const (
	defaultDomain       = "docker.io"
	legacyDefaultDomain = "index.docker.io"
	officialRepoPrefix  = "library/"
	defaultTag          = "latest"
	maxPathLen          = 255 // reference.RepositoryNameTotalLengthMax
)

// errRefFormat is distribution/reference's ErrReferenceInvalidFormat.
var errRefFormat = errors.New("invalid reference format")

// ParseReference parses an image reference the way the docker CLI does: a
// name without tag or digest means ":latest" ("localhost:5000/x" is a
// registry port, not a tag); "name@sha256:..." digests and "sha256:..." image
// IDs are kept as they are.
//
// It accepts and normalises exactly what distribution/reference's
// ParseNormalizedNamed does (FuzzParseReference holds it to that), by hand:
// that package compiles a dozen regular expressions when the program starts,
// the largest part of imgsave's start-up (#29).
func ParseReference(s string) (Reference, error) {
	if strings.HasPrefix(s, "sha256:") {
		d := digest.Digest(s)
		if err := CheckDigest(d); err != nil {
			return Reference{}, fmt.Errorf("image %q: %w", s, err)
		}
		return Reference{id: d}, nil
	}
	r, err := parseNamed(s)
	if err != nil {
		return Reference{}, fmt.Errorf("image %q: %w", s, err)
	}
	if r.tag == "" && r.digest == "" {
		r.tag = defaultTag
	}
	return r, nil
}

// parseNamed is reference.ParseNormalizedNamed: the domain split off as
// the docker CLI does (splitDockerDomain), then reference.Parse of
// domain/rest, whose grammar is
//
//	reference := name [ ":" tag ] [ "@" digest ]
//	name      := [ domain "/" ] path-component [ "/" path-component ]*
//
// A name's first component is its domain where it reads as one; where it
// does not ("a_b.c/x", whose "_" no host name has) the regular expression
// falls back to reading it as a path component, with no domain, and so
// does this.
func parseNamed(s string) (Reference, error) {
	if isHex64(s) {
		return Reference{}, errors.New("invalid repository name: 64 hexadecimal digits; an image ID is written sha256:<hex>")
	}
	domain, rest := splitDockerDomain(s)
	remote, _, _ := strings.Cut(rest, ":")
	if strings.ToLower(remote) != remote {
		return Reference{}, fmt.Errorf("%w: repository name (%s) must be lowercase", errRefFormat, remote)
	}
	path, tag, dig, ok := splitRest(rest)
	switch {
	case !ok:
		return Reference{}, errRefFormat
	case isDomain(domain):
	case isPathComponent(domain):
		domain, path = "", domain+"/"+path
	default:
		return Reference{}, errRefFormat
	}
	if len(path) > maxPathLen {
		return Reference{}, fmt.Errorf("repository name must not be more than %d characters", maxPathLen)
	}
	r := Reference{domain: domain, path: path, tag: tag}
	if dig != "" {
		d, err := digest.Parse(dig)
		if err != nil {
			return Reference{}, err
		}
		r.digest = d
	}
	return r, nil
}

// splitDockerDomain is distribution/reference's function of that name.
func splitDockerDomain(name string) (domain, rest string) {
	first, after, ok := strings.Cut(name, "/")
	if !ok {
		return defaultDomain, officialRepoPrefix + name
	}
	switch {
	case first == legacyDefaultDomain:
		domain, rest = defaultDomain, after
	case first == "localhost", strings.ContainsAny(first, ".:"), strings.ToLower(first) != first:
		domain, rest = first, after
	default:
		domain, rest = defaultDomain, name
	}
	if domain == defaultDomain && !strings.Contains(rest, "/") {
		rest = officialRepoPrefix + rest
	}
	return domain, rest
}

// splitRest splits "path[:tag][@digest]" and checks each part's grammar.
// The path ends at the first ":" or "@", which no path component holds.
func splitRest(s string) (path, tag, dig string, ok bool) {
	i := strings.IndexAny(s, ":@")
	if i < 0 {
		i = len(s)
	}
	path, s = s[:i], s[i:]
	for c := range strings.SplitSeq(path, "/") {
		if !isPathComponent(c) {
			return "", "", "", false
		}
	}
	if t, ok := strings.CutPrefix(s, ":"); ok {
		tag, s, _ = strings.Cut(t, "@")
		if !isTag(tag) {
			return "", "", "", false
		}
		if len(t) > len(tag) {
			s = "@" + s
		}
	}
	if d, ok := strings.CutPrefix(s, "@"); ok {
		if !isDigest(d) {
			return "", "", "", false
		}
		dig, s = d, ""
	}
	return path, tag, dig, s == ""
}

// isPathComponent: [a-z0-9]+ joined by ".", "_", "__" or any run of "-".
func isPathComponent(c string) bool {
	for i := 0; ; {
		j := i
		for j < len(c) && isLowerAlnum(c[j]) {
			j++
		}
		switch {
		case j == i:
			return false
		case j == len(c):
			return true
		case c[j] == '.':
			j++
		case strings.HasPrefix(c[j:], "__"):
			j += 2
		case c[j] == '_':
			j++
		case c[j] == '-':
			for j < len(c) && c[j] == '-' {
				j++
			}
		default:
			return false
		}
		i = j
	}
}

// isDomain: a host name (labels of letters, digits and inner "-", joined
// by ".") or an IPv6 address in brackets, then an optional ":port".
func isDomain(d string) bool {
	host, port := d, ""
	if strings.HasPrefix(d, "[") {
		end := strings.IndexByte(d, ']')
		if end < 2 || strings.Trim(d[1:end], "0123456789abcdefABCDEF:") != "" {
			return false
		}
		host, port = d[:end+1], d[end+1:]
	} else {
		if i := strings.IndexByte(d, ':'); i >= 0 {
			host, port = d[:i], d[i:]
		}
		for label := range strings.SplitSeq(host, ".") {
			if label == "" || label[0] == '-' || label[len(label)-1] == '-' || !allBytes(label, isHostByte) {
				return false
			}
		}
	}
	if port == "" {
		return true
	}
	digits, ok := strings.CutPrefix(port, ":")
	return ok && digits != "" && allBytes(digits, isDigit)
}

// isTag: [\w][\w.-]{0,127}.
func isTag(t string) bool {
	return t != "" && len(t) <= 128 && t[0] != '.' && t[0] != '-' && allBytes(t, func(b byte) bool {
		return isWord(b) || b == '.' || b == '-'
	})
}

// isDigest: distribution/reference's digest grammar,
// [A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[[:xdigit:]]{32,};
// digest.Parse then checks the algorithm and the length.
func isDigest(d string) bool {
	alg, enc, ok := strings.Cut(d, ":")
	if !ok || len(enc) < 32 || !allBytes(enc, isHexDigit) {
		return false
	}
	start := true // at the start of a component, where a letter must be
	for i := 0; i < len(alg); i++ {
		b := alg[i]
		switch {
		case start:
			if !isLetter(b) {
				return false
			}
			start = false
		case strings.IndexByte("-_+.", b) >= 0:
			start = true
		case !isLetter(b) && !isDigit(b):
			return false
		}
	}
	return alg != "" && !start
}

func isHex64(s string) bool {
	return len(s) == 64 && allBytes(s, func(b byte) bool { return isDigit(b) || 'a' <= b && b <= 'f' })
}

func allBytes(s string, f func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !f(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(b byte) bool      { return '0' <= b && b <= '9' }
func isLetter(b byte) bool     { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }
func isLowerAlnum(b byte) bool { return 'a' <= b && b <= 'z' || isDigit(b) }
func isHostByte(b byte) bool   { return isLetter(b) || isDigit(b) || b == '-' }
func isWord(b byte) bool       { return isLetter(b) || isDigit(b) || b == '_' }
func isHexDigit(b byte) bool {
	return isDigit(b) || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

// name is the repository's full name, "docker.io/library/alpine".
func (r Reference) name() string {
	if r.domain == "" {
		return r.path
	}
	return r.domain + "/" + r.path
}

// familiar is the name as docker prints it: "alpine", "user/app",
// "localhost:5000/x" (distribution/reference's familiarizeName).
func (r Reference) familiar() string {
	if r.domain != defaultDomain {
		return r.name()
	}
	if rest, ok := strings.CutPrefix(r.path, officialRepoPrefix); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return r.path
}

func (r Reference) suffix() string {
	s := ""
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + string(r.digest)
	}
	return s
}

// String is the short form engines accept and print, as in
// "alpine:latest" or "localhost:5000/x:latest"; an ID stays "sha256:...".
func (r Reference) String() string {
	if r.path == "" {
		return string(r.id)
	}
	return r.familiar() + r.suffix()
}

// Full is the fully qualified form containerd uses in the
// io.containerd.image.name annotation, as in "docker.io/library/alpine:latest".
func (r Reference) Full() string {
	if r.path == "" {
		return string(r.id)
	}
	return r.name() + r.suffix()
}

// Tag is the reference's tag, or "" for an ID or a digest reference.
func (r Reference) Tag() string { return r.tag }

// ID is the image ID of an ID reference, or "".
func (r Reference) ID() digest.Digest { return r.id }

// IsTag reports whether r names a repository and a tag, the only kind of
// reference that a docker-load manifest's RepoTags may hold.
func (r Reference) IsTag() bool { return r.path != "" && r.digest == "" }
