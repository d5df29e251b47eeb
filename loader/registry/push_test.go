package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
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

// TestPushCompressed pushes each compression twice: the layers come back
// as they were (decompressed), the second push gives the same manifest
// and sends no blob again.
func TestPushCompressed(t *testing.T) {
	var uploads atomic.Int64
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			uploads.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	img, layers := pushFixture(t)
	decompress := map[string]func(io.Reader) (io.Reader, error){
		CompressGzip: func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
		CompressZstd: func(r io.Reader) (io.Reader, error) { return zstd.NewReader(r) },
	}
	for _, comp := range []string{CompressGzip, CompressZstd} {
		t.Run(comp, func(t *testing.T) {
			ref := u.Host + "/push/" + comp + ":1"
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
				d, err := name.NewDigest(u.Host + "/push/" + comp + "@" + pl.Digest)
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

// intercepted starts an in-memory registry behind handle, which sees each
// request first and answers it itself by returning true: a stand-in for a
// registry that misbehaves, which the real one does not do on demand.
func intercepted(t *testing.T, handle func(w http.ResponseWriter, r *http.Request) bool) string {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !handle(w, r) {
			reg.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestPushRedirectLoop: a registry that redirects one step of a push to
// itself, for ever, makes Push fail instead of hang (go-containerregistry's
// uploader follows redirects with no limit of its own).
func TestPushRedirectLoop(t *testing.T) {
	for _, tc := range []struct {
		name  string
		match func(r *http.Request) bool
	}{
		{"upload start", func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/")
		}},
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
			host := intercepted(t, func(w http.ResponseWriter, r *http.Request) bool {
				if !tc.match(r) {
					return false
				}
				redirects.Add(1)
				io.Copy(io.Discard, r.Body)
				http.Redirect(w, r, r.URL.String(), http.StatusTemporaryRedirect)
				return true
			})
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
				if n := redirects.Load(); n > maxPushRedirects+1 {
					t.Errorf("Push = %v after %d redirects, want at most %d", err, n, maxPushRedirects+1)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("Push still running after 30 s and %d redirects: it follows the loop for ever", redirects.Load())
			}
		})
	}
}
