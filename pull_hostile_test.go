package imgsave

// Pull from hostile registries, end to end through archive.Extract (issue
// 18): an httptest server serves a real image from go-containerregistry's
// in-memory registry, except for the requests a case's script answers. Each
// case checks the error is one line of bounded length naming the image,
// that DIR is not there, that no spool folder is left in the cache, and
// that the bytes taken from the registry stay bounded.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	loaderregistry "github.com/imgsave/imgsave/loader/registry"
)

// maxErrLine bounds the error line imgsave prints for a pull.
const maxErrLine = 2048

// evil is a registry holding one image of three gzip layers, pushed as
// ref, whose requests its script may answer instead.
type evil struct {
	host, ref string
	img       ggcr.Image
	config    ggcr.Hash
	layers    []ggcr.Hash

	mu     sync.Mutex
	script func(w http.ResponseWriter, r *http.Request) bool

	sent    atomic.Int64
	reached chan struct{}
	once    sync.Once
}

func newEvil(t *testing.T, img ggcr.Image) *evil {
	t.Helper()
	e := &evil{reached: make(chan struct{})}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		script := e.script
		e.mu.Unlock()
		if script != nil && script(w, r) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	e.host = u.Host
	e.ref = e.host + "/evil/img:1"
	if img == nil {
		var err error
		if img, err = random.Image(64<<10, 3); err != nil {
			t.Fatal(err)
		}
	}
	e.img = img
	r, err := name.ParseReference(e.ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	e.config, _ = img.ConfigName()
	ls, _ := img.Layers()
	for _, l := range ls {
		d, _ := l.Digest()
		e.layers = append(e.layers, d)
	}
	return e
}

func (e *evil) on(script func(w http.ResponseWriter, r *http.Request) bool) {
	e.mu.Lock()
	e.script = script
	e.mu.Unlock()
}

// take marks that the script took a request.
func (e *evil) take() { e.once.Do(func() { close(e.reached) }) }

func (e *evil) write(w http.ResponseWriter, b []byte) error {
	n, err := w.Write(b)
	e.sent.Add(int64(n))
	return err
}

func (e *evil) is(r *http.Request, what string) bool {
	switch what {
	case "manifest":
		return strings.Contains(r.URL.Path, "/manifests/")
	case "config":
		return strings.HasSuffix(r.URL.Path, "/blobs/"+e.config.String())
	default: // "layerN"
		i, _ := strconv.Atoi(strings.TrimPrefix(what, "layer"))
		return strings.HasSuffix(r.URL.Path, "/blobs/"+e.layers[i].String())
	}
}

func (e *evil) layer(t *testing.T, i int) []byte {
	t.Helper()
	ls, _ := e.img.Layers()
	rc, err := ls[i].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cacheFor points the user's cache folder, where Pull spools, at a
// temporary one and returns imgsave's folder in it.
func cacheFor(t *testing.T) string {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	return filepath.Join(cache, "imgsave")
}

// checkNothingLeft fails if dir exists or a spool folder is left in cache.
func checkNothingLeft(t *testing.T, dir, cache string) {
	t.Helper()
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the target %s is there after a failed pull (%v)", dir, err)
	}
	if left, _ := os.ReadDir(cache); len(left) != 0 {
		t.Errorf("the cache holds %v after the pull", left)
	}
}

// checkErrLine fails unless err is one line of bounded length naming ref.
func checkErrLine(t *testing.T, err error, ref string) {
	t.Helper()
	if err == nil {
		t.Fatal("Pull succeeded")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") || len(msg) > maxErrLine || !strings.Contains(msg, ref) {
		t.Errorf("Pull = %.400q (%d bytes), want one line of at most %d bytes naming %s", msg, len(msg), maxErrLine, ref)
	}
}

func TestPullHostileIssue18(t *testing.T) {
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(make([]byte, 10<<20))
	zw.Close()
	schema1 := `{"schemaVersion":1,"name":"evil/img","tag":"1","fsLayers":[{"blobSum":"sha256:` + strings.Repeat("a", 64) + `"}]}`
	redirectLoop := func(what string) func(*evil, *testing.T) func(http.ResponseWriter, *http.Request) bool {
		return func(e *evil, t *testing.T) func(http.ResponseWriter, *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if !e.is(r, what) {
					return false
				}
				e.take()
				http.Redirect(w, r, r.URL.Path+"?again", http.StatusFound)
				return true
			}
		}
	}
	serveManifest := func(contentType, body string) func(*evil, *testing.T) func(http.ResponseWriter, *http.Request) bool {
		return func(e *evil, t *testing.T) func(http.ResponseWriter, *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if !e.is(r, "manifest") {
					return false
				}
				e.take()
				if contentType != "" {
					w.Header().Set("Content-Type", contentType)
				}
				e.write(w, []byte(body))
				return true
			}
		}
	}
	stallOn := func(what string) func(*evil, *testing.T) func(http.ResponseWriter, *http.Request) bool {
		return func(e *evil, t *testing.T) func(http.ResponseWriter, *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if !e.is(r, what) {
					return false
				}
				e.take()
				<-r.Context().Done()
				return true
			}
		}
	}
	platforms := ggcr.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for i := range 40000 {
		platforms.Manifests = append(platforms.Manifests, ggcr.Descriptor{
			MediaType: types.OCIManifestSchema1, Size: 1,
			Digest:   ggcr.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i)},
			Platform: &ggcr.Platform{OS: "linux", Architecture: fmt.Sprintf("a%d", i)},
		})
	}
	manyPlatforms, err := json.Marshal(platforms)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		script func(e *evil, t *testing.T) func(http.ResponseWriter, *http.Request) bool
		want   string // in the error
		is     error  // wrapped by the error, when not nil
	}{
		{name: "endless layer while another trickles", script: func(e *evil, t *testing.T) func(http.ResponseWriter, *http.Request) bool {
			slow := e.layer(t, 0)
			return func(w http.ResponseWriter, r *http.Request) bool {
				switch {
				case e.is(r, "layer0"):
					e.take()
					w.Header().Set("Content-Length", strconv.Itoa(len(slow)))
					for i := 0; i < len(slow) && r.Context().Err() == nil; i += len(slow) / 10 {
						e.write(w, slow[i:min(i+len(slow)/10, len(slow))])
						w.(http.Flusher).Flush()
						time.Sleep(50 * time.Millisecond)
					}
				case e.is(r, "layer1"):
					chunk := make([]byte, 64<<10)
					for range (1 << 30) / len(chunk) {
						if e.write(w, chunk) != nil {
							break
						}
					}
				default:
					return false
				}
				return true
			}
		}, is: loaderregistry.ErrTooLong},
		{name: "gzip Content-Encoding on a layer", script: func(e *evil, t *testing.T) func(http.ResponseWriter, *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if !e.is(r, "layer2") {
					return false
				}
				e.take()
				w.Header().Set("Content-Encoding", "gzip")
				e.write(w, bomb.Bytes())
				return true
			}
		}, want: "Content-Encoding"},
		{name: "redirect loop on the manifest", script: redirectLoop("manifest"), want: "stopped after 10 redirects"},
		{name: "redirect loop on the config", script: redirectLoop("config"), want: "stopped after 10 redirects"},
		{name: "redirect loop on a layer", script: redirectLoop("layer1"), want: "stopped after 10 redirects"},
		{name: "redirect to a private IP", script: func(e *evil, t *testing.T) func(http.ResponseWriter, *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if !e.is(r, "layer0") {
					return false
				}
				e.take()
				http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
				return true
			}
		}, want: "link-local"},
		{name: "stall before the manifest's headers", script: stallOn("manifest"), is: loaderregistry.ErrStalled},
		{name: "stall before the config's headers", script: stallOn("config"), is: loaderregistry.ErrStalled},
		{name: "HTML manifest", script: serveManifest("text/html; charset=utf-8", "<!doctype html><title>Sign in</title>"), want: "HTML", is: loaderregistry.ErrManifest},
		{name: "empty manifest", script: serveManifest(string(types.OCIManifestSchema1), ""), want: "empty", is: loaderregistry.ErrManifest},
		{name: "schema1 manifest", script: serveManifest("application/json", schema1), want: "schema 1", is: loaderregistry.ErrManifest},
		{name: "index of 40,000 platforms", script: serveManifest(string(types.OCIImageIndex), string(manyPlatforms)), want: "and 39992 more", is: loaderregistry.ErrPlatform},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cache := cacheFor(t)
			e := newEvil(t, nil)
			e.on(tc.script(e, t))
			dir := filepath.Join(t.TempDir(), "img")
			_, err := Pull(t.Context(), e.ref, dir, PullOptions{Jobs: 3, IdleTimeout: 300 * time.Millisecond})
			t.Logf("Pull = %v", err)
			checkErrLine(t, err, e.ref)
			if tc.want != "" && !strings.Contains(fmt.Sprint(err), tc.want) {
				t.Errorf("Pull = %v, want it to say %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Pull = %v, want %v", err, tc.is)
			}
			if sent := e.sent.Load(); sent > 64<<20 {
				t.Errorf("the pull took %d bytes from the registry, want the image's size and socket buffers at most", sent)
			}
			checkNothingLeft(t, dir, cache)
		})
	}
}

// TestPullHostileCancel: cancelling a pull (as SIGTERM does in the CLI)
// while a registry trickles an endless layer ends it promptly, with no
// target and no spool folder left.
func TestPullHostileCancel(t *testing.T) {
	for _, jobs := range []int{1, 3} {
		t.Run(strconv.Itoa(jobs), func(t *testing.T) {
			cache := cacheFor(t)
			e := newEvil(t, nil)
			e.on(func(w http.ResponseWriter, r *http.Request) bool {
				if !e.is(r, "layer1") {
					return false
				}
				e.take()
				for r.Context().Err() == nil && e.write(w, []byte{0}) == nil {
					w.(http.Flusher).Flush()
					time.Sleep(10 * time.Millisecond)
				}
				return true
			})
			dir := filepath.Join(t.TempDir(), "img")
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				_, err := Pull(ctx, e.ref, dir, PullOptions{Jobs: jobs})
				done <- err
			}()
			<-e.reached
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Pull = %v, want %v", err, context.Canceled)
				}
			case <-time.After(5 * time.Second): // a safety limit: it hung
				t.Fatal("Pull still running 5 s after its context was cancelled")
			}
			checkNothingLeft(t, dir, cache)
		})
	}
}

// TestPullNestedIndexEndToEnd: an index holding an index, one level, is read.
func TestPullNestedIndexEndToEnd(t *testing.T) {
	cache := cacheFor(t)
	e := newEvil(t, nil)
	cf, err := e.img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "arm64"
	arm, err := mutate.ConfigFile(e.img, cf)
	if err != nil {
		t.Fatal(err)
	}
	inner := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: arm, Descriptor: ggcr.Descriptor{Platform: &ggcr.Platform{OS: "linux", Architecture: "arm64"}}})
	outer := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: inner})
	ref := e.host + "/evil/nested:1"
	r, _ := name.ParseReference(ref)
	if err := remote.WriteIndex(r, outer); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "img")
	if _, err := Pull(t.Context(), ref, dir, PullOptions{Platform: "linux/arm64"}); err != nil {
		t.Fatalf("Pull of an index holding an index = %v", err)
	}
	if left, _ := os.ReadDir(cache); len(left) != 0 {
		t.Errorf("the cache holds %v after the pull", left)
	}
}

// TestPullDuplicateLayerEndToEnd: an image listing a layer twice (A, B, A), which
// docker and containerd pull, pulls. The registry side writes the blob
// once; archive.Extract must accept the manifest (issue 18, archive's part).
func TestPullDuplicateLayerEndToEnd(t *testing.T) {
	cacheFor(t)
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	if img, err = mutate.AppendLayers(img, ls[0]); err != nil {
		t.Fatal(err)
	}
	e := newEvil(t, img)
	for _, jobs := range []int{1, 3} {
		dir := filepath.Join(t.TempDir(), "img")
		if _, err := Pull(t.Context(), e.ref, dir, PullOptions{Jobs: jobs}); err != nil {
			t.Fatalf("Pull (jobs %d) of an image listing a layer twice = %v", jobs, err)
		}
	}
}
