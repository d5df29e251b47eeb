package imgsave

// Pull from hostile registries, end to end through archive.Extract (issue
// 18): a registrytest.Hostile serves a real image from go-containerregistry's
// in-memory registry, except for the requests a case's script answers. Each
// case checks the error is one line of bounded length naming the image,
// that DIR is not there, that no spool folder is left in the cache, and
// that the bytes taken from the registry stay bounded.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	loaderregistry "github.com/imgsave/imgsave/loader/registry"
	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// maxErrLine bounds the error line imgsave prints for a pull.
const maxErrLine = 2048

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
	bomb := registrytest.GzipBomb()
	schema1 := `{"schemaVersion":1,"name":"hostile/img","tag":"1","fsLayers":[{"blobSum":"sha256:` + strings.Repeat("a", 64) + `"}]}`
	// What a script takes.
	type match func(h *registrytest.Hostile, r *http.Request) bool
	manifest := func(h *registrytest.Hostile, r *http.Request) bool { return registrytest.IsManifest(r) }
	config := (*registrytest.Hostile).IsConfig
	layer1 := func(h *registrytest.Hostile, r *http.Request) bool { return h.IsLayer(r, 1) }
	redirectLoop := func(what match) func(*registrytest.Hostile, *testing.T) func(http.ResponseWriter, *http.Request) bool {
		return func(h *registrytest.Hostile, t *testing.T) func(http.ResponseWriter, *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if !what(h, r) {
					return false
				}
				h.Take()
				http.Redirect(w, r, r.URL.Path+"?again", http.StatusFound)
				return true
			}
		}
	}
	serveManifest := func(contentType, body string) func(*registrytest.Hostile, *testing.T) func(http.ResponseWriter, *http.Request) bool {
		return func(h *registrytest.Hostile, t *testing.T) func(http.ResponseWriter, *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if !registrytest.IsManifest(r) {
					return false
				}
				h.Take()
				if contentType != "" {
					w.Header().Set("Content-Type", contentType)
				}
				h.Write(w, []byte(body))
				return true
			}
		}
	}
	stallOn := func(what match) func(*registrytest.Hostile, *testing.T) func(http.ResponseWriter, *http.Request) bool {
		return func(h *registrytest.Hostile, t *testing.T) func(http.ResponseWriter, *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if !what(h, r) {
					return false
				}
				h.Take()
				registrytest.Stall(r)
				return true
			}
		}
	}
	manyPlatforms := registrytest.ManyPlatforms(t, 40000)

	tests := []struct {
		name   string
		script func(h *registrytest.Hostile, t *testing.T) func(http.ResponseWriter, *http.Request) bool
		want   string // in the error
		is     error  // wrapped by the error, when not nil
	}{
		{name: "endless layer while another trickles", script: func(h *registrytest.Hostile, t *testing.T) func(http.ResponseWriter, *http.Request) bool {
			slow := h.Blob(h.Layers[0])
			return func(w http.ResponseWriter, r *http.Request) bool {
				switch {
				case h.IsLayer(r, 0):
					h.Take()
					h.Trickle(w, r, slow)
				case h.IsLayer(r, 1):
					h.Endless(w)
				default:
					return false
				}
				return true
			}
		}, is: loaderregistry.ErrTooLong},
		{name: "gzip Content-Encoding on a layer", script: func(h *registrytest.Hostile, t *testing.T) func(http.ResponseWriter, *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if !h.IsLayer(r, 2) {
					return false
				}
				h.Take()
				w.Header().Set("Content-Encoding", "gzip")
				h.Write(w, bomb)
				return true
			}
		}, want: "Content-Encoding"},
		{name: "redirect loop on the manifest", script: redirectLoop(manifest), want: "stopped after 10 redirects"},
		{name: "redirect loop on the config", script: redirectLoop(config), want: "stopped after 10 redirects"},
		{name: "redirect loop on a layer", script: redirectLoop(layer1), want: "stopped after 10 redirects"},
		{name: "redirect to a private IP", script: func(h *registrytest.Hostile, t *testing.T) func(http.ResponseWriter, *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if !h.IsLayer(r, 0) {
					return false
				}
				h.Take()
				http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
				return true
			}
		}, want: "link-local"},
		{name: "stall before the manifest's headers", script: stallOn(manifest), is: loaderregistry.ErrStalled},
		{name: "stall before the config's headers", script: stallOn(config), is: loaderregistry.ErrStalled},
		{name: "HTML manifest", script: serveManifest("text/html; charset=utf-8", "<!doctype html><title>Sign in</title>"), want: "HTML", is: loaderregistry.ErrManifest},
		{name: "empty manifest", script: serveManifest(string(types.OCIManifestSchema1), ""), want: "empty", is: loaderregistry.ErrManifest},
		{name: "schema1 manifest", script: serveManifest("application/json", schema1), want: "schema 1", is: loaderregistry.ErrManifest},
		{name: "index of 40,000 platforms", script: serveManifest(string(types.OCIImageIndex), string(manyPlatforms)), want: "and 39992 more", is: loaderregistry.ErrPlatform},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cache := cacheFor(t)
			h := registrytest.New(t, nil)
			h.On(tc.script(h, t))
			dir := filepath.Join(t.TempDir(), "img")
			_, err := Pull(t.Context(), h.Ref, dir, PullOptions{Jobs: 3, IdleTimeout: 300 * time.Millisecond})
			t.Logf("Pull = %v", err)
			checkErrLine(t, err, h.Ref)
			if tc.want != "" && !strings.Contains(fmt.Sprint(err), tc.want) {
				t.Errorf("Pull = %v, want it to say %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Pull = %v, want %v", err, tc.is)
			}
			if sent := h.Sent(); sent > 64<<20 {
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
			h := registrytest.New(t, nil)
			h.On(func(w http.ResponseWriter, r *http.Request) bool {
				if !h.IsLayer(r, 1) {
					return false
				}
				h.Take()
				h.Drip(w, r)
				return true
			})
			dir := filepath.Join(t.TempDir(), "img")
			registrytest.Cancel(t, h.Reached(), func(ctx context.Context) error {
				_, err := Pull(ctx, h.Ref, dir, PullOptions{Jobs: jobs})
				return err
			})
			checkNothingLeft(t, dir, cache)
		})
	}
}

// TestPullNestedIndexEndToEnd: an index holding an index, one level, is read.
func TestPullNestedIndexEndToEnd(t *testing.T) {
	cache := cacheFor(t)
	h := registrytest.New(t, nil)
	inner := registrytest.Index(t, registrytest.Platform(t, h.Img, "arm64"))
	outer := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: inner})
	ref := h.Host + "/hostile/nested:1"
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
	h := registrytest.New(t, registrytest.DuplicateLayer(t))
	for _, jobs := range []int{1, 3} {
		dir := filepath.Join(t.TempDir(), "img")
		if _, err := Pull(t.Context(), h.Ref, dir, PullOptions{Jobs: jobs}); err != nil {
			t.Fatalf("Pull (jobs %d) of an image listing a layer twice = %v", jobs, err)
		}
	}
}
