package registry

// Sizes are a registry's words: a descriptor of MaxInt64 bytes once
// overflowed the fetcher's arithmetic and panicked in the pull's goroutine
// (#28).

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// TestPullRefusesOverflowingSizes: a layer size that is negative, or
// whose sum with the rest of the image overflows, is refused before a
// byte of it is fetched, naming the layer; no panic, with one job or
// several.
func TestPullRefusesOverflowingSizes(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int64
		bad   int // the layer named
	}{
		{"MaxInt64", []int64{math.MaxInt64}, 0},
		{"MaxInt64-1", []int64{math.MaxInt64 - 1}, 0},
		{"sum of two", []int64{1 << 62, 1 << 62}, 1},
		{"sum of three", []int64{1 << 62, 1 << 61, 1 << 62}, 2},
		{"negative", []int64{-1}, 0},
		{"MinInt64", []int64{64 << 10, math.MinInt64}, 1},
	}
	for _, tc := range tests {
		for _, jobs := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/jobs=%d", tc.name, jobs), func(t *testing.T) {
				h := registrytest.New(t, nil)
				h.Sizes(tc.sizes...)
				_, err := pullAll(t, t.Context(), h.Ref, Options{Jobs: jobs})
				if err == nil || !strings.Contains(err.Error(), h.Layers[tc.bad].String()) || !strings.Contains(err.Error(), "size") {
					t.Fatalf("Pull of layer sizes %v = %v, want an error naming the size of %s", tc.sizes, err, h.Layers[tc.bad])
				}
				checkLine(t, err, h.Host)
			})
		}
	}
}

// TestBlobNearMaxSize: the fetcher itself, given a size near MaxInt64 (as
// a layer alone could have, or a caller other than Pull), fails on the
// short body with an error, never a panic.
func TestBlobNearMaxSize(t *testing.T) {
	quickResume(t)
	body := []byte("a few bytes")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	t.Cleanup(srv.Close)
	for _, size := range []int64{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64 - int64(len(body)), 1 << 62} {
		b := &blobs{client: srv.Client(), base: srv.URL + "/v2/x/blobs/"}
		rc := b.open(t.Context(), ggcr.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}, size)
		buf := make([]byte, 32<<10)
		var err error
		for range 100 {
			if _, err = rc.Read(buf); err != nil {
				break
			}
		}
		rc.Close()
		if err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
			t.Errorf("reading a blob of %d bytes that ends after %d = %v, want unexpected EOF", size, len(body), err)
		}
	}
}
