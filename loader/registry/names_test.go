package registry

import (
	"testing"

	"github.com/distribution/reference"
)

// TestNamesAsDistribution pins that the annotations names gives are the
// ones distribution/reference's normalisation gave before #29, as docker
// names what it pulls; a reference by digest gives none.
func TestNamesAsDistribution(t *testing.T) {
	hex := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, ref := range []string{
		"busybox", "busybox:1.36", "library/busybox:1", "docker.io/busybox", "docker.io/library/busybox:2",
		"index.docker.io/busybox", "user/app:v", "docker.io/user/app/sub:v", "localhost:5000/x",
		"localhost/x:1", "127.0.0.1:5000/a/b:c", "quay.io/org/img:v2",
		"x@sha256:" + hex, "x:1@sha256:" + hex,
	} {
		want := map[string]string{}
		n, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			t.Fatalf("reference.ParseNormalizedNamed(%q): %v", ref, err)
		}
		if tagged, ok := reference.TagNameOnly(n).(reference.Tagged); ok {
			if _, digested := n.(reference.Digested); !digested {
				want["io.containerd.image.name"] = tagged.String()
				want["org.opencontainers.image.ref.name"] = tagged.Tag()
			}
		}
		got := names(ref)
		if len(got) != len(want) || got["io.containerd.image.name"] != want["io.containerd.image.name"] ||
			got["org.opencontainers.image.ref.name"] != want["org.opencontainers.image.ref.name"] {
			t.Errorf("names(%q) = %v, want %v", ref, got, want)
		}
	}
}
