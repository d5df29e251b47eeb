package registry

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/v1"
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

// FuzzAddSize: whatever sizes a manifest gives, addSize either refuses
// them or returns their exact sum, never a wrapped one (#28).
func FuzzAddSize(f *testing.F) {
	f.Add(int64(0), int64(0), int64(0))
	f.Add(int64(math.MaxInt64), int64(0), int64(0))
	f.Add(int64(math.MaxInt64-1), int64(1), int64(0))
	f.Add(int64(1)<<62, int64(1)<<62, int64(1))
	f.Add(int64(-1), int64(math.MaxInt64), int64(2))
	f.Add(int64(math.MinInt64), int64(5), int64(5))
	f.Fuzz(func(t *testing.T, a, b, c int64) {
		exact := new(big.Int)
		var total int64
		var err error
		for _, n := range []int64{a, b, c} {
			exact.Add(exact, big.NewInt(n))
			if total, err = addSize(total, n, ggcr.Hash{Algorithm: "sha256", Hex: "00"}); err != nil {
				if n >= 0 && exact.IsInt64() {
					t.Fatalf("addSize refused %d after a total of %d, whose sum %v fits", n, total, exact)
				}
				return
			}
		}
		if a < 0 || b < 0 || c < 0 || !exact.IsInt64() || exact.Int64() != total {
			t.Fatalf("addSize of %d, %d, %d = %d, want a refusal or %v", a, b, c, total, exact)
		}
	})
}
