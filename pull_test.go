package imgsave

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// pushFixture pushes ../testdata/legacy.tar's image (gzip layers) to host.
func pushFixture(t *testing.T, host string) string {
	img, err := tarball.ImageFromPath(filepath.Join("testdata", "legacy.tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/fixture/hello:1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// isLayerBlob reports a GET of a blob larger than a config.
func isBlob(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:")
}

func TestPullSameAsSave(t *testing.T) {
	host := registrytest.Serve(t, nil).Host
	ref := pushFixture(t, host)
	dir := filepath.Join(t.TempDir(), "img")
	res, err := Pull(t.Context(), ref, dir, PullOptions{})
	if err != nil {
		t.Fatalf("Pull = %v", err)
	}
	// The fixture extracted directly is the same image.
	want, _ := imageDir(t, "legacy.tar")
	d, err := archive.OpenDir(want)
	if err != nil {
		t.Fatal(err)
	}
	if res.Images[0].ID() != d.Images[0].ID {
		t.Errorf("Pull gave image %s, want %s", res.Images[0].ID(), d.Images[0].ID)
	}
	for _, f := range []string{d.Images[0].ConfigPath, d.Images[0].Layers[0].Path} {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, _ := os.ReadFile(filepath.Join(want, f))
		if !bytes.Equal(a, b) || len(a) == 0 {
			t.Errorf("%s differs between Pull and the extracted save", f)
		}
	}
}

// TestPullHostileRegistry: wrong bytes, and a blob whose every connection
// breaks (after resumptions, tested in loader/registry), are refused,
// named, and leave no directory; a 429 is waited out.
func TestPullHostileRegistry(t *testing.T) {
	var calls atomic.Int32
	tests := []struct {
		name   string
		damage func(w http.ResponseWriter, r *http.Request, next http.Handler) bool
		err    string // "" for success
	}{
		{name: "wrong bytes for a blob", err: "(checksum|digest mismatch).*sha256:", damage: func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			if !isBlob(r) {
				return false
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			b := rec.Body.Bytes()
			if len(b) > 10 {
				b[len(b)/2] ^= 0xff
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(b)
			return true
		}},
		{name: "connection cut in a blob", err: "blobs/sha256:[0-9a-f]{64}.*EOF", damage: func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			if !isBlob(r) {
				return false
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			b := rec.Body.Bytes()
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(b[:len(b)/2])
			panic(http.ErrAbortHandler) // the connection ends mid-body
		}},
		{name: "429 once, then served", damage: func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			if !isBlob(r) || calls.Add(1) > 1 {
				return false
			}
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			host := registrytest.Serve(t, nil).Host
			ref := pushFixture(t, host)
			// Now serve it through the damage.
			host2 := registrytest.Serve(t, func(w http.ResponseWriter, r *http.Request) bool {
				r2 := r.Clone(r.Context())
				r2.URL.Scheme, r2.URL.Host = "http", host
				if tc.damage(w, r, proxy(host)) {
					return true
				}
				proxy(host).ServeHTTP(w, r2)
				return true
			}).Host
			ref = strings.Replace(ref, host, host2, 1)
			dir := filepath.Join(t.TempDir(), "img")
			_, err := Pull(t.Context(), ref, dir, PullOptions{})
			if tc.err == "" {
				if err != nil {
					t.Fatalf("Pull = %v, want success", err)
				}
				return
			}
			if err == nil || !regexp.MustCompile(tc.err).MatchString(err.Error()) {
				t.Errorf("Pull = %v, want an error saying %q", err, tc.err)
			}
			if _, serr := os.Lstat(dir); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("Pull failed but left %s: %v", dir, serr)
			}
			if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 0 {
				t.Errorf("Pull failed but left %v beside the target", entries)
			}
		})
	}
}

// proxy forwards to the registry at host.
func proxy(host string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := *r.URL
		u.Scheme, u.Host = "http", host
		req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
}
