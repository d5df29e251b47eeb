package manifest

import (
	"testing"

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
