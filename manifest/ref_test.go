package manifest

import (
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

func TestParseReference(t *testing.T) {
	h := hex64("ref")
	tests := []struct {
		name  string
		in    string
		str   string // String()
		full  string // Full()
		tag   string
		id    digest.Digest
		isTag bool
		err   bool
	}{
		{name: "bare name", in: "alpine", str: "alpine:latest", full: "docker.io/library/alpine:latest", tag: "latest", isTag: true},
		{name: "tag", in: "alpine:3.20", str: "alpine:3.20", full: "docker.io/library/alpine:3.20", tag: "3.20", isTag: true},
		{name: "full name", in: "docker.io/library/alpine:3", str: "alpine:3", full: "docker.io/library/alpine:3", tag: "3", isTag: true},
		{name: "user repo", in: "user/app", str: "user/app:latest", full: "docker.io/user/app:latest", tag: "latest", isTag: true},
		{name: "registry port is not a tag", in: "localhost:5000/x", str: "localhost:5000/x:latest", full: "localhost:5000/x:latest", tag: "latest", isTag: true},
		{name: "registry port and tag", in: "localhost:5000/x:v1", str: "localhost:5000/x:v1", full: "localhost:5000/x:v1", tag: "v1", isTag: true},
		{name: "other registry", in: "quay.io/org/img:v2", str: "quay.io/org/img:v2", full: "quay.io/org/img:v2", tag: "v2", isTag: true},
		{name: "digest kept", in: "x@sha256:" + h, str: "x@sha256:" + h, full: "docker.io/library/x@sha256:" + h},
		{name: "tag and digest", in: "x:1@sha256:" + h, str: "x:1@sha256:" + h, full: "docker.io/library/x:1@sha256:" + h, tag: "1"},
		{name: "image ID", in: "sha256:" + h, str: "sha256:" + h, full: "sha256:" + h, id: digest.Digest("sha256:" + h)},
		{name: "uppercase name", in: "UPPER", err: true},
		{name: "short ID", in: "sha256:abc", err: true},
		{name: "uppercase ID", in: "sha256:" + "ABCDEF" + h[6:], err: true},
		{name: "long ID", in: "sha256:" + h + "0", err: true},
		{name: "space", in: "a b", err: true},
		{name: "empty", in: "", err: true},
		{name: "short digest", in: "x@sha256:abc", err: true},
		{name: "bare hex", in: h, err: true},
		{name: "empty tag", in: "x:", err: true},
		{name: "only tag", in: ":latest", err: true},
		{name: "NUL", in: "x\x00y", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseReference(tc.in)
			if tc.err {
				if err == nil {
					t.Fatalf("ParseReference(%q) = %q, want an error", tc.in, r)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseReference(%q): %v", tc.in, err)
			}
			if got := r.String(); got != tc.str {
				t.Errorf("ParseReference(%q).String() = %q, want %q", tc.in, got, tc.str)
			}
			if got := r.Full(); got != tc.full {
				t.Errorf("ParseReference(%q).Full() = %q, want %q", tc.in, got, tc.full)
			}
			if got := r.Tag(); got != tc.tag {
				t.Errorf("ParseReference(%q).Tag() = %q, want %q", tc.in, got, tc.tag)
			}
			if got := r.ID(); got != tc.id {
				t.Errorf("ParseReference(%q).ID() = %q, want %q", tc.in, got, tc.id)
			}
			if got := r.IsTag(); got != tc.isTag {
				t.Errorf("ParseReference(%q).IsTag() = %v, want %v", tc.in, got, tc.isTag)
			}
			// The short form parses back to the same reference.
			if r2, err := ParseReference(r.String()); err != nil || r2.Full() != r.Full() {
				t.Errorf("ParseReference(%q) = %q, %v, want %q", r.String(), r2.Full(), err, r.Full())
			}
		})
	}
}

// refCases are names at the edges of distribution/reference's grammar,
// which ParseReference must read exactly as it does.
var refCases = []string{
	"alpine", "alpine:3.20", "docker.io/library/alpine:3", "index.docker.io/alpine",
	"index.docker.io/library/alpine", "docker.io/alpine", "library/alpine", "user/app",
	"docker.io/user/app/sub", "localhost/x", "localhost:5000/x", "localhost:5000/x:v1",
	"quay.io/org/img:v2", "Foo/bar", "FOO.io/bar", "foo/Bar", "a_b.c/x", "a__b/c", "a___b/c",
	"a-_b/c", "a._b", "a.-b", "a--b", "a-", "-a", "a..b", "a.b.c/d.e", "[::1]:5000/x",
	"[::1]/x", "[]/x", "[::1/x", "[fe80::1%eth0]/x", "1.2.3.4:5/x", "host:/x", ":5000/x",
	"host:port/x", "ho_st.io/x", "-host.io/x", "host-.io/x", "h.-i.io/x", "/x", "x/", "x//y",
	"x:", ":latest", "x:_tag", "x:.tag", "x:-tag", "x:TAG", "x:" + strings.Repeat("t", 128),
	"x:" + strings.Repeat("t", 129), "x:1@sha256:" + hex64("a"), "x@sha256:" + hex64("a"),
	"x@sha256:" + strings.ToUpper(hex64("a")), "x@SHA256:" + hex64("a"), "x@sha512:" + hex64("a") + hex64("b"),
	"x@md5:" + hex64("a")[:32], "x@a+b.c-d_e:" + hex64("a"), "x@1a:" + hex64("a"), "x@a:" + hex64("a")[:31],
	"x@sha256:", "x@", "x@@sha256:" + hex64("a"), "x:1:2", "x:1@sha256:" + hex64("a") + "@y", hex64("c"),
	strings.ToUpper(hex64("c")), "x/" + strings.Repeat("p", 255), "x/" + strings.Repeat("p", 253),
	strings.Repeat("p", 246), strings.Repeat("p", 247), "a b", "x\x00y", "é", "x\xff", "UPPER", "",
	"docker.io", "docker.io/", "localhost", "localhost:5000", "x:5000", "sha256",
}

// distributionRef is what ParseReference returned before #29, when it
// called distribution/reference: String, Full, Tag, IsTag, or an error.
func distributionRef(s string) (str, full, tag string, isTag bool, err error) {
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return "", "", "", false, err
	}
	n = reference.TagNameOnly(n)
	if t, ok := n.(reference.Tagged); ok {
		tag = t.Tag()
	}
	_, digested := n.(reference.Digested)
	return reference.FamiliarString(n), n.String(), tag, !digested, nil
}

// checkAsDistribution fails when ParseReference reads s otherwise than
// distribution/reference does. Image IDs ("sha256:...") are ParseReference's
// own and not compared.
func checkAsDistribution(t *testing.T, s string) {
	t.Helper()
	if strings.HasPrefix(s, "sha256:") {
		return
	}
	r, err := ParseReference(s)
	str, full, tag, isTag, werr := distributionRef(s)
	switch {
	case (err != nil) != (werr != nil):
		t.Fatalf("ParseReference(%q) = %q, %v; distribution/reference: %q, %v", s, r.Full(), err, full, werr)
	case err != nil:
		return
	}
	if r.String() != str || r.Full() != full || r.Tag() != tag || r.IsTag() != isTag {
		t.Errorf("ParseReference(%q) = %q %q tag %q %v; distribution/reference: %q %q tag %q %v",
			s, r.String(), r.Full(), r.Tag(), r.IsTag(), str, full, tag, isTag)
	}
}

func TestParseReferenceAsDistribution(t *testing.T) {
	for _, s := range refCases {
		t.Run(s, func(t *testing.T) { checkAsDistribution(t, s) })
	}
}

// FuzzParseReference holds the hand-written parser to distribution/reference
// (differential: the same acceptance, the same normalised forms).
func FuzzParseReference(f *testing.F) {
	for _, s := range refCases {
		f.Add(s)
	}
	f.Fuzz(checkAsDistribution)
}
