package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// pushFixture is an image of two layers: random bytes (incompressible)
// and zeros (very compressible), with a config naming their diff IDs.
func pushFixture(t *testing.T) (Image, [][]byte) {
	t.Helper()
	random := make([]byte, 300<<10)
	rand.Read(random)
	layers := [][]byte{random, make([]byte, 200<<10)}
	var img Image
	var diffIDs []string
	for _, b := range layers {
		d := fmt.Sprintf("sha256:%x", sha256.Sum256(b))
		diffIDs = append(diffIDs, d)
		img.Layers = append(img.Layers, Layer{DiffID: d, Size: int64(len(b)), Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		}})
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		t.Fatal(err)
	}
	img.Config = cfg
	return img, layers
}

// isUploadStart reports the POST that starts a blob upload.
func isUploadStart(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/")
}

// uploadCounter serves a registry that counts the blob uploads started.
func uploadCounter(t *testing.T) (host string, uploads *atomic.Int64) {
	uploads = new(atomic.Int64)
	host = registrytest.Serve(t, func(w http.ResponseWriter, r *http.Request) bool {
		if isUploadStart(r) {
			uploads.Add(1)
		}
		return false
	}).Host
	return host, uploads
}

// TestPushCompressed pushes each compression twice: the layers come back
// as they were (decompressed), the second push gives the same manifest
// and sends no blob again.
func TestPushCompressed(t *testing.T) {
	host, uploads := uploadCounter(t)
	img, layers := pushFixture(t)
	decompress := map[string]func(io.Reader) (io.Reader, error){
		CompressGzip: func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
		CompressZstd: func(r io.Reader) (io.Reader, error) { return zstd.NewReader(r) },
	}
	for _, comp := range []string{CompressGzip, CompressZstd} {
		t.Run(comp, func(t *testing.T) {
			ref := host + "/push/" + comp + ":1"
			before := uploads.Load()
			first, err := Push(t.Context(), ref, img, PushOptions{Compress: comp})
			if err != nil {
				t.Fatalf("Push = %v", err)
			}
			sent := uploads.Load()
			if sent == before {
				t.Fatalf("the first push started no upload")
			}
			again, err := Push(t.Context(), ref, img, PushOptions{Compress: comp})
			if err != nil {
				t.Fatalf("second Push = %v", err)
			}
			if again.Manifest != first.Manifest {
				t.Errorf("the same image pushed twice gave manifests %s and %s", first.Manifest, again.Manifest)
			}
			if n := uploads.Load() - sent; n != 0 {
				t.Errorf("the second push started %d uploads, want none: the registry has every blob", n)
			}
			for i, pl := range first.Layers {
				if i == 1 && pl.Size >= int64(len(layers[i]))/10 {
					t.Errorf("layer %d (zeros) compressed to %d bytes of %d", i, pl.Size, len(layers[i]))
				}
				d, err := name.NewDigest(host + "/push/" + comp + "@" + pl.Digest)
				if err != nil {
					t.Fatal(err)
				}
				l, err := remote.Layer(d)
				if err != nil {
					t.Fatal(err)
				}
				rc, err := l.Compressed()
				if err != nil {
					t.Fatal(err)
				}
				dr, err := decompress[comp](rc)
				if err != nil {
					t.Fatalf("layer %d: %v", i, err)
				}
				got, err := io.ReadAll(dr)
				rc.Close()
				if err != nil || !bytes.Equal(got, layers[i]) {
					t.Errorf("layer %d decompressed to %d bytes (%v), want the %d pushed", i, len(got), err, len(layers[i]))
				}
			}
		})
	}
}

// TestPushRedirectLoop: a registry that redirects one step of a push to
// itself, for ever, makes Push fail instead of hang (go-containerregistry's
// uploader follows redirects with no limit of its own).
func TestPushRedirectLoop(t *testing.T) {
	for _, tc := range []struct {
		name  string
		match func(r *http.Request) bool
	}{
		{"upload start", isUploadStart},
		{"upload body", func(r *http.Request) bool { return r.Method == http.MethodPatch }},
		{"upload commit", func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/")
		}},
		{"manifest", func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var redirects atomic.Int64
			host := registrytest.Serve(t, func(w http.ResponseWriter, r *http.Request) bool {
				if !tc.match(r) {
					return false
				}
				redirects.Add(1)
				io.Copy(io.Discard, r.Body)
				http.Redirect(w, r, r.URL.String(), http.StatusTemporaryRedirect)
				return true
			}).Host
			img, _ := pushFixture(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := Push(ctx, host+"/loop/img:1", img, PushOptions{})
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatalf("Push through a redirect loop succeeded")
				}
				if n := redirects.Load(); n > maxRedirects+1 {
					t.Errorf("Push = %v after %d redirects, want at most %d", err, n, maxRedirects+1)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("Push still running after 30 s and %d redirects: it follows the loop for ever", redirects.Load())
			}
		})
	}
}

// counted is a layer's source whose opens, bytes read and closes are
// counted. reached is closed once stall bytes were read, if stall > 0.
type counted struct {
	r                    io.Reader
	stall                int64
	opens, closes, bytes atomic.Int64
	reached              chan struct{}
	once                 sync.Once
}

func newCounted(r io.Reader, stall int64) *counted {
	return &counted{r: r, stall: stall, reached: make(chan struct{})}
}

func (c *counted) open() (io.ReadCloser, error) {
	c.opens.Add(1)
	return c, nil
}

func (c *counted) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.bytes.Add(int64(n)) >= c.stall && c.stall > 0 {
		c.once.Do(func() { close(c.reached) })
	}
	return n, err
}

func (c *counted) Close() error {
	c.closes.Add(1)
	return nil
}

// zeros reads as an endless layer: a compression of gigabytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestPushReadsLayersOnce: each layer is opened and read through once,
// compressing while it is sent, and closed.
func TestPushReadsLayersOnce(t *testing.T) {
	host := registrytest.Serve(t, nil).Host
	for _, comp := range []string{CompressGzip, CompressZstd, CompressNone} {
		t.Run(comp, func(t *testing.T) {
			img, layers := pushFixture(t)
			var srcs []*counted
			for i := range img.Layers {
				c := newCounted(bytes.NewReader(layers[i]), 0)
				srcs = append(srcs, c)
				img.Layers[i].Open = c.open
			}
			if _, err := Push(t.Context(), host+"/once/"+comp+":1", img, PushOptions{Compress: comp}); err != nil {
				t.Fatalf("Push = %v", err)
			}
			for i, c := range srcs {
				if o, b, cl := c.opens.Load(), c.bytes.Load(), c.closes.Load(); o != 1 || b != int64(len(layers[i])) || cl != 1 {
					t.Errorf("layer %d: opened %d times, %d bytes read, closed %d times; want once, %d bytes, once", i, o, b, cl, len(layers[i]))
				}
			}
		})
	}
}

// pushCancelled pushes img to ref, cancels once reached is closed (the
// push is then half-way), and returns Push's error, failing as
// registrytest.Cancel does or if Push leaves src open.
func pushCancelled(t *testing.T, ref string, img Image, opts PushOptions, reached <-chan struct{}, src *counted) error {
	t.Helper()
	err := registrytest.Cancel(t, reached, func(ctx context.Context) error {
		_, err := Push(ctx, ref, img, opts)
		return err
	})
	if src.closes.Load() != src.opens.Load() {
		t.Errorf("Push returned with %d of the layer's %d opens not closed: its compression still runs", src.opens.Load()-src.closes.Load(), src.opens.Load())
	}
	return err
}

// TestPushCancelWhileCompressing: an endless layer, sent to a registry
// that takes all it gets, stops when ctx is cancelled: every read of the
// compression looks at ctx.
func TestPushCancelWhileCompressing(t *testing.T) {
	host := registrytest.Serve(t, nil).Host
	for _, comp := range []string{CompressGzip, CompressZstd, CompressNone} {
		t.Run(comp, func(t *testing.T) {
			img, _ := pushFixture(t)
			src := newCounted(zeros{}, 32<<20)
			img.Layers[0].Open = src.open
			img.Layers[0].Size = 1 << 40
			pushCancelled(t, host+"/endless/"+comp+":1", img, PushOptions{Compress: comp}, src.reached, src)
		})
	}
}

// TestPushCancelWhileSending: a registry that stops reading a layer's
// upload half-way leaves Push blocked on the network until ctx is
// cancelled; then it returns, its compression stopped.
func TestPushCancelWhileSending(t *testing.T) {
	for _, comp := range []string{CompressGzip, CompressZstd, CompressNone} {
		t.Run(comp, func(t *testing.T) {
			h := registrytest.Serve(t, nil)
			h.On(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPatch {
					return false
				}
				io.CopyN(io.Discard, r.Body, 256<<10)
				h.Take()
				registrytest.Stall(r) // until the client goes away
				return true
			})
			img, _ := pushFixture(t)
			random := make([]byte, 64<<20) // incompressible: more than the registry and the sockets take
			rand.Read(random)
			src := newCounted(bytes.NewReader(random), 0)
			img.Layers[0].Open = src.open
			img.Layers[0].Size = int64(len(random))
			img.Layers[0].DiffID = fmt.Sprintf("sha256:%x", sha256.Sum256(random))
			pushCancelled(t, h.Host+"/stalled/"+comp+":1", img, PushOptions{Compress: comp}, h.Reached(), src)
		})
	}
}

// TestPushLayerFails: a layer that cannot be read fails Push with its own
// error, wrapped with its diff ID, not with how the upload saw it end.
func TestPushLayerFails(t *testing.T) {
	host := registrytest.Serve(t, nil).Host
	broken := errors.New("disk on fire")
	for _, comp := range []string{CompressGzip, CompressZstd, CompressNone} {
		t.Run(comp, func(t *testing.T) {
			img, layers := pushFixture(t)
			img.Layers[1].Open = func() (io.ReadCloser, error) {
				return io.NopCloser(io.MultiReader(bytes.NewReader(layers[1][:100<<10]), iotest.ErrReader(broken))), nil
			}
			_, err := Push(t.Context(), host+"/broken/"+comp+":1", img, PushOptions{Compress: comp})
			if !errors.Is(err, broken) || !strings.Contains(err.Error(), img.Layers[1].DiffID) {
				t.Errorf("Push = %v, want the layer's error, naming %s", err, img.Layers[1].DiffID)
			}
		})
	}
}

// TestPushAgainAfterBlobLost: pushing the image again to the same ref
// takes the layers of the manifest there only when the registry still has
// them; a lost one is compressed and sent again, to the same digest.
func TestPushAgainAfterBlobLost(t *testing.T) {
	host, uploads := uploadCounter(t)
	img, _ := pushFixture(t)
	ref := host + "/lost/img:1"
	first, err := Push(t.Context(), ref, img, PushOptions{})
	if err != nil {
		t.Fatalf("Push = %v", err)
	}
	lost := first.Layers[1].Digest
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, "http://"+host+"/v2/lost/img/blobs/"+lost, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE %s: %s", lost, resp.Status)
	}
	before := uploads.Load()
	again, err := Push(t.Context(), ref, img, PushOptions{})
	if err != nil {
		t.Fatalf("second Push = %v", err)
	}
	if n := uploads.Load() - before; n != 1 {
		t.Errorf("the second push started %d uploads, want 1: the lost layer's", n)
	}
	if again.Manifest != first.Manifest || again.Layers[1].Digest != lost {
		t.Errorf("pushed again as %s with layer %s, want %s with %s", again.Manifest, again.Layers[1].Digest, first.Manifest, lost)
	}
	l, err := remote.Layer(mustRef(t, host+"/lost/img@"+lost).(name.Digest))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Size(); err != nil {
		t.Errorf("the lost layer is still not in the registry: %v", err)
	}
}

// slowReader takes its time before its first byte, as a layer on a busy
// shared file system, or a zstd encoder eating hundreds of MB of zeros
// before its first output, does.
type slowReader struct {
	r     io.Reader
	pause time.Duration
	once  sync.Once
}

func (s *slowReader) Read(p []byte) (int, error) {
	s.once.Do(func() { time.Sleep(s.pause) })
	return s.r.Read(p)
}

// TestPushSlowSourceIsNotIdleRegistry: time spent producing an upload's
// bytes (reading, compressing) is this side's, not the registry's, so a
// layer slower to read than the idle timeout still goes up (#18 review).
// The pause is real time by necessity: it must outlast the timeout.
func TestPushSlowSourceIsNotIdleRegistry(t *testing.T) {
	host := registrytest.Serve(t, nil).Host
	for _, comp := range []string{CompressGzip, CompressNone} {
		t.Run(comp, func(t *testing.T) {
			img, layers := pushFixture(t)
			img.Layers[1].Open = func() (io.ReadCloser, error) {
				return io.NopCloser(&slowReader{r: bytes.NewReader(layers[1]), pause: 600 * time.Millisecond}), nil
			}
			// That layer alone: the in-memory registry serves one
			// upload at a time, so the others' commits would wait
			// behind it and time out instead.
			img.Layers = img.Layers[1:2]
			if _, err := Push(t.Context(), host+"/slow/"+comp+":1", img, PushOptions{Compress: comp, IdleTimeout: 300 * time.Millisecond}); err != nil {
				t.Errorf("Push of a layer slow to read, idle timeout 300ms = %v, want it pushed", err)
			}
		})
	}
}

// TestPushErrorIsOneLine: a registry's error body, however long and
// whatever it holds, reaches the caller as one line of bounded length, as
// Pull's errors do (#18 review).
func TestPushErrorIsOneLine(t *testing.T) {
	body := strings.Repeat("no\n\x1b[31mway ", 3000)
	h := registrytest.Serve(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, body)
		return true
	})
	img, _ := pushFixture(t)
	_, err := Push(t.Context(), h.Host+"/refused/img:1", img, PushOptions{})
	if err == nil {
		t.Fatal("Push to a registry refusing the manifest = nil, want an error")
	}
	if msg := err.Error(); len(msg) > maxErr+len("…") || strings.ContainsAny(msg, "\n\r\x1b") {
		t.Errorf("Push = %d bytes %q, want one line of at most %d bytes", len(msg), msg[:min(len(msg), 200)], maxErr)
	}
}
