package registry

// Hostile registries (issue 18): a registrytest.Hostile serves a real
// image from go-containerregistry's in-memory registry, except for the
// requests a test's script answers itself. Each test is named for the
// attack, and checks that the pull fails (or succeeds, for valid images
// once refused), that the bytes taken stay bounded and that the spool
// folder is left empty.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// pullAll pulls ref and reads the whole stream; it checks that the spool
// folder is left empty, whatever happened.
func pullAll(t *testing.T, ctx context.Context, ref string, opts Options) (map[string][]byte, error) {
	t.Helper()
	opts.SpoolDir = t.TempDir()
	defer func() {
		if left, _ := os.ReadDir(opts.SpoolDir); len(left) != 0 {
			t.Errorf("the spool folder holds %v after the pull", left)
		}
	}()
	rc, err := Pull(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	m, err := readMembers(rc)
	rc.Close()
	return m, err
}

// checkLine fails unless err is one line of bounded length naming ref.
// (An error in the middle of the stream names the registry and the blob;
// the reader of the stream names the image: imgsave.Pull.)
func checkLine(t *testing.T, err error, ref string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") || len(msg) > maxErr+8 || !strings.Contains(msg, ref) {
		t.Errorf("error %.300q (%d bytes): want one line of at most %d bytes naming %s", msg, len(msg), maxErr, ref)
	}
}

// TestPullRefusesEndlessLayer: a layer that goes on past its size is
// refused at once while another layer trickles, and no more of it is
// taken than the socket buffers hold; one that announces more than its
// size is refused before a byte.
func TestPullRefusesEndlessLayer(t *testing.T) {
	for _, announce := range []bool{false, true} {
		for _, jobs := range []int{1, 3} {
			t.Run(fmt.Sprintf("jobs=%d/content-length=%v", jobs, announce), func(t *testing.T) {
				h := registrytest.New(t, nil)
				slow := h.Blob(h.Layers[0])
				h.On(func(w http.ResponseWriter, r *http.Request) bool {
					switch {
					case h.IsLayer(r, 0):
						h.Take()
						h.Trickle(w, r, slow)
					case h.IsLayer(r, 1):
						h.Take()
						if announce {
							w.Header().Set("Content-Length", strconv.Itoa(1<<30))
						}
						h.Endless(w)
					default:
						return false
					}
					return true
				})
				_, err := pullAll(t, t.Context(), h.Ref, Options{Jobs: jobs})
				if !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), h.Layers[1].String()) {
					t.Fatalf("Pull = %v, want %v naming layer %s", err, ErrTooLong, h.Layers[1])
				}
				if sent := h.Sent(); sent > 64<<20 {
					t.Errorf("the client took %d bytes from the registry, want the layers' size and socket buffers at most", sent)
				}
			})
		}
	}
}

// TestPullRefusesContentEncoding: a body sent with a Content-Encoding is
// refused, not decoded: 10 KB of gzip once became 10 GiB in the spool.
func TestPullRefusesContentEncoding(t *testing.T) {
	bomb := registrytest.GzipBomb()
	for _, target := range []string{"manifest", "config", "layer"} {
		t.Run(target, func(t *testing.T) {
			h := registrytest.New(t, nil)
			var asked atomic.Value
			h.On(func(w http.ResponseWriter, r *http.Request) bool {
				if !(target == "manifest" && registrytest.IsManifest(r) || target == "config" && h.IsConfig(r) || target == "layer" && h.IsLayer(r, 2)) {
					return false
				}
				h.Take()
				asked.Store(r.Header.Get("Accept-Encoding"))
				w.Header().Set("Content-Encoding", "gzip")
				h.Write(w, bomb)
				return true
			})
			_, err := pullAll(t, t.Context(), h.Ref, Options{Jobs: 3})
			if err == nil || !strings.Contains(err.Error(), `Content-Encoding "gzip"`) {
				t.Fatalf("Pull = %v, want the Content-Encoding refused", err)
			}
			if a, _ := asked.Load().(string); a != "identity" {
				t.Errorf("the request asked for Accept-Encoding %q, want identity", a)
			}
		})
	}
}

// TestPullRedirectLoop: a registry that redirects a manifest, config or
// blob to itself for ever is left after 10 redirects; it used to hang the
// pull while memory grew.
func TestPullRedirectLoop(t *testing.T) {
	for _, target := range []string{"manifest", "config", "layer"} {
		t.Run(target, func(t *testing.T) {
			h := registrytest.New(t, nil)
			h.On(func(w http.ResponseWriter, r *http.Request) bool {
				if !(target == "manifest" && registrytest.IsManifest(r) || target == "config" && h.IsConfig(r) || target == "layer" && h.IsLayer(r, 1)) {
					return false
				}
				h.Take()
				http.Redirect(w, r, r.URL.Path+"?again", http.StatusTemporaryRedirect)
				return true
			})
			_, err := pullAll(t, t.Context(), h.Ref, Options{Jobs: 3})
			if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
				t.Fatalf("Pull = %v, want it stopped after 10 redirects", err)
			}
			checkLine(t, err, h.Host)
			// Not asked again: a refused redirect is no broken
			// connection to resume.
			if n := h.Requests(); n > maxRedirects+1 {
				t.Errorf("the registry was asked %d times, want at most %d", n, maxRedirects+1)
			}
		})
	}
}

// TestPullRefusesRedirectToPrivateIP: a registry may send a blob or a
// manifest to another host (a CDN), but not to a private, loopback or
// link-local IP literal: the cloud's metadata service, say. A redirect to
// the same host, another port, is the registry's own business.
func TestPullRefusesRedirectToPrivateIP(t *testing.T) {
	for _, to := range []string{"10.0.0.1", "169.254.169.254", "192.168.1.1:5000", "[fd00::1]", "127.0.0.2", "0x7f.1", "[::ffff:10.0.0.1]"} {
		for _, target := range []string{"manifest", "layer"} {
			t.Run(target+"/"+to, func(t *testing.T) {
				h := registrytest.New(t, nil)
				h.On(func(w http.ResponseWriter, r *http.Request) bool {
					if !(target == "manifest" && registrytest.IsManifest(r) || target == "layer" && h.IsLayer(r, 0)) {
						return false
					}
					h.Take()
					http.Redirect(w, r, "http://"+to+r.URL.Path, http.StatusFound)
					return true
				})
				_, err := pullAll(t, t.Context(), h.Ref, Options{Jobs: 3, IdleTimeout: 2 * time.Second})
				// go-containerregistry's own check (manifests) says
				// "private/link-local", imgsave's "private or link-local".
				if err == nil || !strings.Contains(err.Error(), "link-local") {
					t.Fatalf("Pull = %v, want the redirect refused", err)
				}
			})
		}
	}
	t.Run("same host", func(t *testing.T) {
		h := registrytest.New(t, nil)
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(h.Blob(h.Layers[0]))
		}))
		t.Cleanup(other.Close)
		h.On(func(w http.ResponseWriter, r *http.Request) bool {
			if !h.IsLayer(r, 0) {
				return false
			}
			h.Take()
			http.Redirect(w, r, other.URL+"/storage/"+h.Layers[0].Hex, http.StatusFound)
			return true
		})
		if _, err := pullAll(t, t.Context(), h.Ref, Options{Jobs: 3}); err != nil {
			t.Fatalf("Pull with a blob redirected to another port of 127.0.0.1 = %v", err)
		}
	})
}

// TestPullStall: a registry that stops sending, before its answer or in
// the middle of a blob, is left after the idle timeout with an error
// naming what was being fetched from where.
func TestPullStall(t *testing.T) {
	quickResume(t)
	tests := []struct {
		name  string
		match func(h *registrytest.Hostile, r *http.Request) bool
		half  bool // send half the body first
		want  string
	}{
		{"manifest before headers", func(h *registrytest.Hostile, r *http.Request) bool { return registrytest.IsManifest(r) }, false, "/manifests/1"},
		{"config before headers", func(h *registrytest.Hostile, r *http.Request) bool { return h.IsConfig(r) }, false, "/blobs/sha256:"},
		{"blob before headers", func(h *registrytest.Hostile, r *http.Request) bool { return h.IsLayer(r, 1) }, false, "/blobs/sha256:"},
		{"blob midway", func(h *registrytest.Hostile, r *http.Request) bool { return h.IsLayer(r, 1) }, true, "/blobs/sha256:"},
		{"config midway", func(h *registrytest.Hostile, r *http.Request) bool { return h.IsConfig(r) }, true, "/blobs/sha256:"},
	}
	for _, tc := range tests {
		for _, jobs := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/jobs=%d", tc.name, jobs), func(t *testing.T) {
				h := registrytest.New(t, nil)
				h.On(func(w http.ResponseWriter, r *http.Request) bool {
					if !tc.match(h, r) {
						return false
					}
					h.Take()
					if tc.half {
						b := h.BlobFor(r)
						w.Header().Set("Content-Length", strconv.Itoa(len(b)))
						h.Write(w, b[:len(b)/2])
						w.(http.Flusher).Flush()
					}
					registrytest.Stall(r)
					return true
				})
				_, err := pullAll(t, t.Context(), h.Ref, Options{Jobs: jobs, IdleTimeout: 200 * time.Millisecond})
				if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), h.Host) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Pull = %v, want %v naming %s and %s", err, ErrStalled, h.Host, tc.want)
				}
				checkLine(t, err, h.Host)
			})
		}
	}
}

// TestPullCancel: cancelling the context while a hostile registry holds
// the pull (trickling, stalled, endless) ends it promptly, with the spool
// folder removed.
func TestPullCancel(t *testing.T) {
	tests := []struct {
		name   string
		answer func(h *registrytest.Hostile, w http.ResponseWriter, r *http.Request) bool
	}{
		{"manifest stalled", func(h *registrytest.Hostile, w http.ResponseWriter, r *http.Request) bool {
			if !registrytest.IsManifest(r) {
				return false
			}
			h.Take()
			registrytest.Stall(r)
			return true
		}},
		{"blob stalled midway", func(h *registrytest.Hostile, w http.ResponseWriter, r *http.Request) bool {
			if !h.IsLayer(r, 2) {
				return false
			}
			h.Take()
			h.Write(w, make([]byte, 1000))
			w.(http.Flusher).Flush()
			registrytest.Stall(r)
			return true
		}},
		{"blob endless", func(h *registrytest.Hostile, w http.ResponseWriter, r *http.Request) bool {
			if !h.IsLayer(r, 0) {
				return false
			}
			h.Take()
			h.Drip(w, r)
			return true
		}},
	}
	for _, tc := range tests {
		for _, jobs := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/jobs=%d", tc.name, jobs), func(t *testing.T) {
				h := registrytest.New(t, nil)
				h.On(func(w http.ResponseWriter, r *http.Request) bool { return tc.answer(h, w, r) })
				registrytest.Cancel(t, h.Reached(), func(ctx context.Context) error {
					_, err := pullAll(t, ctx, h.Ref, Options{Jobs: jobs, IdleTimeout: time.Hour})
					return err
				})
			})
		}
	}
}

// TestPullDuplicateLayer: an image listing a layer twice (A, B, A), which
// docker and containerd pull, pulls, with the blob once in the stream.
func TestPullDuplicateLayer(t *testing.T) {
	ref := registrytest.New(t, registrytest.DuplicateLayer(t)).Ref
	for _, jobs := range []int{1, 3} {
		t.Run(strconv.Itoa(jobs), func(t *testing.T) {
			rc, err := Pull(t.Context(), ref, Options{Jobs: jobs, SpoolDir: t.TempDir()})
			if err != nil {
				t.Fatalf("Pull = %v", err)
			}
			m := members(t, rc)
			var man ggcr.Manifest
			if err := json.Unmarshal(m["blobs/sha256/"+indexOf(t, m).Manifests[0].Digest.Hex], &man); err != nil || len(man.Layers) != 3 {
				t.Fatalf("manifest %v (%v), want three layers", man.Layers, err)
			}
			if len(m) != 2+4 { // layers A and B, config, manifest, index.json, oci-layout
				t.Errorf("the stream holds %d members, want 6", len(m))
			}
			var size int64 = man.Config.Size + man.Layers[0].Size + man.Layers[1].Size
			if rc.Size != size {
				t.Errorf("Pulled.Size = %d, want %d, each blob once", rc.Size, size)
			}
		})
	}
}

// TestPullNestedIndex: an index holding an index (one level of nesting,
// as README says is read) gives the platform's image; one nested deeper
// is not read, and the error says so.
func TestPullNestedIndex(t *testing.T) {
	host := registrytest.Serve(t, nil).Host
	amd, arm := registrytest.Platform(t, nil, "amd64"), registrytest.Platform(t, nil, "arm64")
	inner := registrytest.Index(t, amd, arm)
	outer := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: inner})
	deep := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: outer})
	for _, tc := range []struct {
		name string
		idx  ggcr.ImageIndex
	}{{"nested", outer}, {"deep", deep}} {
		if err := remote.WriteIndex(mustRef(t, host+"/"+tc.name+":1"), tc.idx); err != nil {
			t.Fatal(err)
		}
	}
	armDigest, _ := arm.Digest()
	rc, err := Pull(t.Context(), host+"/nested:1", Options{Platform: "linux/arm64"})
	if err != nil {
		t.Fatalf("Pull of an index holding an index = %v", err)
	}
	if got := indexOf(t, members(t, rc)).Manifests[0].Digest; got != armDigest {
		t.Errorf("Pull streamed manifest %s, want %s", got, armDigest)
	}
	_, err = Pull(t.Context(), host+"/nested:1", Options{Platform: "linux/s390x"})
	if !errors.Is(err, ErrPlatform) || !strings.Contains(err.Error(), "it holds linux/amd64, linux/arm64") {
		t.Errorf("Pull for a platform it lacks = %v, want the nested platforms listed", err)
	}
	_, err = Pull(t.Context(), host+"/deep:1", Options{Platform: "linux/arm64"})
	if !errors.Is(err, ErrPlatform) || !strings.Contains(err.Error(), "1 indexes nested deeper than one level not read") {
		t.Errorf("Pull of an index nested two deep = %v, want it said that deeper ones are not read", err)
	}
}

// TestPullRefusesNonManifest: what a registry serves as a manifest and is
// none gets an error naming the image and saying what it is instead.
func TestPullRefusesNonManifest(t *testing.T) {
	schema1 := `{"schemaVersion":1,"name":"hostile/img","tag":"1","architecture":"amd64","fsLayers":[{"blobSum":"sha256:` + strings.Repeat("a", 64) + `"}],"history":[]}`
	tests := []struct {
		name, contentType, body, want string
	}{
		{"HTML", "text/html", "<!DOCTYPE html><html><body>Sign in</body></html>", "HTML"},
		{"HTML as JSON", "application/vnd.oci.image.manifest.v1+json", "\n  <html>", "HTML"},
		{"empty", "application/vnd.oci.image.manifest.v1+json", "", "empty manifest"},
		{"empty without type", "", "", "empty manifest"},
		{"schema1 signed", string(types.DockerManifestSchema1Signed), schema1, "schema 1"},
		{"schema1 as JSON", "application/json", schema1, "schema 1"},
		{"not JSON", "application/json", "manifest: yes\n" + strings.Repeat("x", 5000), "not JSON"},
		{"schemaVersion 3", string(types.OCIManifestSchema1), `{"schemaVersion":3}`, "schemaVersion 3"},
		{"artifact", "application/vnd.oci.artifact.manifest.v1+json", `{"schemaVersion":2,"mediaType":"application/vnd.oci.artifact.manifest.v1+json"}`, "media type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := registrytest.New(t, nil)
			h.On(func(w http.ResponseWriter, r *http.Request) bool {
				if !registrytest.IsManifest(r) {
					return false
				}
				h.Take()
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				h.Write(w, []byte(tc.body))
				return true
			})
			_, err := pullAll(t, t.Context(), h.Ref, Options{})
			if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Pull = %v, want %v saying %q", err, ErrManifest, tc.want)
			}
			checkLine(t, err, h.Ref)
		})
	}
}

// TestPullIndexManyPlatforms: the error for an index of 40,000 platforms
// lists a few, then how many more, in one line of bounded length.
func TestPullIndexManyPlatforms(t *testing.T) {
	h := registrytest.New(t, nil)
	body := registrytest.ManyPlatforms(t, 40000)
	h.On(func(w http.ResponseWriter, r *http.Request) bool {
		if !registrytest.IsManifest(r) {
			return false
		}
		h.Take()
		w.Header().Set("Content-Type", string(types.OCIImageIndex))
		h.Write(w, body)
		return true
	})
	_, err := pullAll(t, t.Context(), h.Ref, Options{Platform: "linux/s390x"})
	if !errors.Is(err, ErrPlatform) || !strings.Contains(err.Error(), "linux/a0, linux/a1") || !strings.Contains(err.Error(), "and 39992 more") {
		t.Fatalf("Pull = %.500v, want a few platforms then how many more", err)
	}
	checkLine(t, err, h.Ref)
}

// TestOneLine: whatever a registry puts in an error, it is said in one
// line of at most maxErr bytes, and errors.Is still sees through it.
func TestOneLine(t *testing.T) {
	long := fmt.Errorf("pull x: %w: %s", ErrNotFound, strings.Repeat("é", 2000))
	tests := []error{
		fmt.Errorf("pull x: %w: line one\nline two\r\x1b[31m", ErrNotFound),
		long,
	}
	for _, in := range tests {
		got := oneLine(in)
		if msg := got.Error(); strings.ContainsAny(msg, "\n\r\x1b") || len(msg) > maxErr+len("…") || !errors.Is(got, ErrNotFound) {
			t.Errorf("oneLine(%.40q) = %.80q (%d bytes), want one line of at most %d bytes, still %v", in, msg, len(msg), maxErr, ErrNotFound)
		}
	}
	if short := errors.New("short"); oneLine(short) != short {
		t.Errorf("oneLine changed a short error")
	}
}

// TestPrivateIP: the IP literals a redirect may not go to, in the forms
// the system's resolver reads, and names, which are not resolved.
func TestPrivateIP(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"10.1.2.3", true}, {"172.16.0.1", true}, {"192.168.0.1", true},
		{"169.254.169.254", true}, {"127.0.0.1", true}, {"0.0.0.0", true},
		{"::1", true}, {"fe80::1%eth0", true}, {"fd00::1", true}, {"::ffff:10.0.0.1", true},
		{"127.1", true}, {"0x7f.0.0.1", true}, {"2130706433", true}, {"012.0.0.1", true},
		{"8.8.8.8", false}, {"2001:db8::1", false}, {"registry.example", false}, {"1.2.3.4.5", false},
	}
	for _, tc := range tests {
		if got := privateIP(tc.host); got != tc.want {
			t.Errorf("privateIP(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

// TestPullPlatformNamesAreNotFormats: the platforms an index lists are the
// registry's words, printed as they are, never read as a format string
// (#18 review: "%d" became "%!d(MISSING)").
func TestPullPlatformNamesAreNotFormats(t *testing.T) {
	h := registrytest.New(t, nil)
	idx := ggcr.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []ggcr.Descriptor{{
		MediaType: types.OCIManifestSchema1, Size: 1,
		Digest:   ggcr.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)},
		Platform: &ggcr.Platform{OS: "%[2]v%w", Architecture: "%d"},
	}}}
	body, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	h.On(func(w http.ResponseWriter, r *http.Request) bool {
		if !registrytest.IsManifest(r) {
			return false
		}
		w.Header().Set("Content-Type", string(types.OCIImageIndex))
		h.Write(w, body)
		return true
	})
	_, err = pullAll(t, t.Context(), h.Ref, Options{Platform: "linux/s390x"})
	if !errors.Is(err, ErrPlatform) || !strings.Contains(err.Error(), "it holds %[2]v%w/%d") {
		t.Fatalf("Pull = %v, want the platform named as the registry wrote it", err)
	}
}
