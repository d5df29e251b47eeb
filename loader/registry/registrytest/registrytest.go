package registrytest

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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A Script sees a request before the registry does and answers it itself
// by returning true; returning false passes it on to the registry.
type Script func(w http.ResponseWriter, r *http.Request) bool

// Hostile is an in-memory registry whose requests go to a script first.
// After [New] it holds Img, pushed as Ref; after [Serve] it is empty.
type Hostile struct {
	// Host is the server's host:port, on 127.0.0.1.
	Host string
	// Registry is the in-memory registry behind the script, for a script
	// that passes a request on and damages the answer.
	Registry http.Handler

	// Ref names Img in the registry; Config and Layers are its blobs'
	// digests, the layers in the manifest's order. All are empty after
	// [Serve].
	Ref    string
	Img    v1.Image
	Config v1.Hash
	Layers []v1.Hash

	t      testing.TB
	mu     sync.Mutex
	script Script

	taken   atomic.Int64  // requests the script took
	sent    atomic.Int64  // bytes the script sent through Write
	reached chan struct{} // closed when the script first takes a request
	once    sync.Once
}

// Serve starts an empty registry whose requests go to script first
// (none if nil; [Hostile.On] changes it). The server is closed when the
// test ends.
func Serve(t testing.TB, script Script) *Hostile {
	t.Helper()
	h := &Hostile{
		t:        t,
		Registry: registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		script:   script,
		reached:  make(chan struct{}),
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		script := h.script
		h.mu.Unlock()
		if script != nil && script(w, r) {
			return
		}
		h.Registry.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	h.Host = u.Host
	return h
}

// New starts a registry as [Serve] does and pushes img to it as Ref,
// host/hostile/img:1; a nil img is a random one of three layers of 64 KiB.
func New(t testing.TB, img v1.Image) *Hostile {
	t.Helper()
	h := Serve(t, nil)
	if img == nil {
		var err error
		if img, err = random.Image(64<<10, 3); err != nil {
			t.Fatal(err)
		}
	}
	h.Img = img
	h.Ref = h.Host + "/hostile/img:1"
	ref, err := name.ParseReference(h.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	if h.Config, err = img.ConfigName(); err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		h.Layers = append(h.Layers, d)
	}
	return h
}

// On sets the script, in place of any before it.
func (h *Hostile) On(script Script) {
	h.mu.Lock()
	h.script = script
	h.mu.Unlock()
}

// Take is called by a script as it takes a request, before it misbehaves:
// it counts the request and closes Reached the first time.
func (h *Hostile) Take() {
	h.taken.Add(1)
	h.once.Do(func() { close(h.reached) })
}

// Reached is closed when the script first takes a request: the client is
// then in the middle of what the script does to it.
func (h *Hostile) Reached() <-chan struct{} { return h.reached }

// Requests is how many requests the script took.
func (h *Hostile) Requests() int { return int(h.taken.Load()) }

// Write writes b to w, counting what is sent in [Hostile.Sent].
func (h *Hostile) Write(w http.ResponseWriter, b []byte) error {
	n, err := w.Write(b)
	h.sent.Add(int64(n))
	return err
}

// Sent is how many bytes scripts sent through [Hostile.Write].
func (h *Hostile) Sent() int64 { return h.sent.Load() }

// IsManifest reports a request for a manifest, by tag or digest.
func IsManifest(r *http.Request) bool {
	return strings.Contains(r.URL.Path, "/manifests/")
}

// IsBlob reports a GET of the blob d.
func IsBlob(r *http.Request, d v1.Hash) bool {
	return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String())
}

// IsConfig reports a GET of Img's config.
func (h *Hostile) IsConfig(r *http.Request) bool { return IsBlob(r, h.Config) }

// IsLayer reports a GET of Img's layer i, counted from 0.
func (h *Hostile) IsLayer(r *http.Request, i int) bool { return IsBlob(r, h.Layers[i]) }

// Blob is the bytes of Img's config or of one of its layers (compressed,
// as the registry serves them), for a Hostile made by [New]. An unknown d fails the test (with
// t.Error, so that a script may call it) and gives nil.
func (h *Hostile) Blob(d v1.Hash) []byte {
	h.t.Helper()
	if d == h.Config {
		b, err := h.Img.RawConfigFile()
		if err != nil {
			h.t.Error(err)
		}
		return b
	}
	ls, err := h.Img.Layers()
	if err != nil {
		h.t.Error(err)
		return nil
	}
	for _, l := range ls {
		if ld, _ := l.Digest(); ld != d {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			h.t.Error(err)
			return nil
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			h.t.Error(err)
		}
		return b
	}
	h.t.Errorf("no blob %s in the image", d)
	return nil
}

// BlobFor is the [Hostile.Blob] that r asks for.
func (h *Hostile) BlobFor(r *http.Request) []byte {
	h.t.Helper()
	for _, d := range append([]v1.Hash{h.Config}, h.Layers...) {
		if IsBlob(r, d) {
			return h.Blob(d)
		}
	}
	h.t.Errorf("no blob of the image at %s", r.URL.Path)
	return nil
}

// Endless sends zeros until the client goes (or 1 GiB, so that a
// regression fails the test rather than the disk).
func (h *Hostile) Endless(w http.ResponseWriter) {
	chunk := make([]byte, 64<<10)
	for range (1 << 30) / len(chunk) {
		if h.Write(w, chunk) != nil {
			return
		}
	}
}

// Trickle sends b, with its Content-Length, in ten pieces 50 ms apart: a
// blob slow enough that the ones after it are fetched meanwhile. It stops
// when the client goes.
func (h *Hostile) Trickle(w http.ResponseWriter, r *http.Request, b []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	step := (len(b) + 9) / 10
	for len(b) > 0 {
		n := min(step, len(b))
		if h.Write(w, b[:n]) != nil {
			return
		}
		w.(http.Flusher).Flush()
		b = b[n:]
		select {
		case <-r.Context().Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Drip sends a zero byte every 10 ms until the client goes: a blob that
// is still arriving when the client is cancelled.
func (h *Hostile) Drip(w http.ResponseWriter, r *http.Request) {
	for r.Context().Err() == nil && h.Write(w, []byte{0}) == nil {
		w.(http.Flusher).Flush()
		time.Sleep(10 * time.Millisecond)
	}
}

// Stall answers nothing until the client goes.
func Stall(r *http.Request) {
	<-r.Context().Done()
}

// Cancel calls call with a context that it cancels once reached is
// closed (call is then half-way: a script took its request, say), and
// returns call's error. It fails the test if call returns before reached,
// or unless call returns within 5 s of the cancel an error wrapping
// context.Canceled. The bounds only catch a hang.
func Cancel(t testing.TB, reached <-chan struct{}, call func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- call(ctx) }()
	select {
	case <-reached:
	case err := <-done:
		t.Fatalf("returned %v before it was half-way", err)
	case <-time.After(time.Minute):
		t.Fatalf("never got half-way")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled half-way: %v, want an error wrapping %v", err, context.Canceled)
		}
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5 s after its context was cancelled")
	}
	return nil
}

// GzipBomb is 10 MiB of zeros, gzipped into some 10 KB: a body that a
// client decoding its Content-Encoding would let grow a thousandfold.
func GzipBomb() []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(make([]byte, 10<<20))
	zw.Close()
	return b.Bytes()
}

// ManyPlatforms is an OCI image index of n platforms, linux/a0 to
// linux/a{n-1}: one too long to list in an error.
func ManyPlatforms(t testing.TB, n int) []byte {
	t.Helper()
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for i := range n {
		idx.Manifests = append(idx.Manifests, v1.Descriptor{
			MediaType: types.OCIManifestSchema1,
			Size:      1,
			Digest:    v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i)},
			Platform:  &v1.Platform{OS: "linux", Architecture: fmt.Sprintf("a%d", i)},
		})
	}
	b, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// DuplicateLayer is a random image whose manifest lists its first layer
// twice, A, B, A, as docker and containerd pull.
func DuplicateLayer(t testing.TB) v1.Image {
	t.Helper()
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, ls[0]); err != nil {
		t.Fatal(err)
	}
	return img
}

// Platform is img with a config saying it is for linux/arch; a nil img is
// a random one of two small layers.
func Platform(t testing.TB, img v1.Image, arch string) v1.Image {
	t.Helper()
	if img == nil {
		var err error
		if img, err = random.Image(512, 2); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// Index is an image index of imgs, each listed with the platform its
// config names.
func Index(t testing.TB, imgs ...v1.Image) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture}}})
	}
	return mutate.AppendManifests(empty.Index, adds...)
}

// Sizes sets a script that answers every manifest request (by tag or
// digest) with Img's manifest, its layer sizes replaced by sizes in
// order, and returns that manifest's digest: the sizes a hostile
// registry may claim, MaxInt64 or negative ones (#28). Blobs are the
// registry's.
func (h *Hostile) Sizes(sizes ...int64) v1.Hash {
	h.t.Helper()
	m, err := h.Img.Manifest()
	if err != nil {
		h.t.Fatal(err)
	}
	m = m.DeepCopy()
	for i, s := range sizes {
		m.Layers[i].Size = s
	}
	raw, err := json.Marshal(m)
	if err != nil {
		h.t.Fatal(err)
	}
	d, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		h.t.Fatal(err)
	}
	h.On(func(w http.ResponseWriter, r *http.Request) bool {
		if !IsManifest(r) {
			return false
		}
		w.Header().Set("Content-Type", string(m.MediaType))
		w.Header().Set("Docker-Content-Digest", d.String())
		w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
		if r.Method != http.MethodHead {
			w.Write(raw)
		}
		return true
	})
	return d
}
