package registry

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// FuzzKind: whatever a registry serves as a manifest, kind never panics,
// and it either names a media type imgsave reads or refuses with
// ErrManifest in one bounded line (#18).
func FuzzKind(f *testing.F) {
	for _, s := range []string{
		"", "<html><body>login</body></html>", "{}", `{"schemaVersion":1,"fsLayers":[]}`,
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}`,
		`{"schemaVersion":2,"manifests":[]}`, `{"schemaVersion":2,"config":{}}`,
		`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json"}`,
		"\xff\xfe", `{"schemaVersion":2,"mediaType":"` + strings.Repeat("x", 500) + `"}`,
	} {
		f.Add([]byte(s), "application/json")
	}
	f.Fuzz(func(t *testing.T, raw []byte, contentType string) {
		mt, err := kind(raw, types.MediaType(contentType))
		if err == nil {
			if !known(mt) {
				t.Fatalf("kind(%q, %q) = %q, a type imgsave does not read", raw, contentType, mt)
			}
			return
		}
		if !errors.Is(err, ErrManifest) {
			t.Fatalf("kind(%q, %q) = %v, want it to wrap ErrManifest", raw, contentType, err)
		}
		line := oneLine(err).Error()
		if len(line) > maxErr+len("…") || strings.ContainsAny(line, "\n\r") {
			t.Fatalf("oneLine(kind(%q)) = %d bytes, %q: want one line of at most %d", raw, len(line), line, maxErr)
		}
	})
}
