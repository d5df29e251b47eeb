package loader

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestListImages: GET /images/json as docker answers it (and podman's
// compatible API without "sha256:"), dangling images' "<none>:<none>"
// left out; through the CLI there is no list.
func TestListImages(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	e := daemonStandIn(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/images/json" {
			t.Errorf("request %s, want GET /images/json", r.URL)
		}
		io.WriteString(w, `[{"Id":"sha256:`+a+`","RepoTags":["x:1","docker.io/y:2"]},{"Id":"`+b+`","RepoTags":["<none>:<none>"]}]`)
	})
	l, err := e.ListImages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []digest.Digest{digest.Digest("sha256:" + a), digest.Digest("sha256:" + b)}; !slices.Equal(l.IDs, want) || !slices.Equal(l.Tags, []string{"x:1", "docker.io/y:2"}) {
		t.Errorf("ListImages = %v, %v", l.IDs, l.Tags)
	}
	cli := &Engine{Path: "/nonexistent/docker", Name: "docker", Env: []string{"DOCKER_HOST=tcp://127.0.0.1:9"}}
	if l, err := cli.ListImages(t.Context()); l != nil || err != nil {
		t.Errorf("ListImages through the CLI = %v, %v; want none", l, err)
	}
}
