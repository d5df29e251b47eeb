package imgdiff

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/archive"
)

// t0 is the time of every entry unless a test says otherwise.
var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// member is one tar entry of a test layer.
type member struct {
	hdr  tar.Header
	body string
}

func reg(name, body string) member {
	return member{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: t0}, body}
}

func dir(name string) member {
	return member{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: t0}}
}

func link(name, target string) member {
	return member{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: t0}}
}

// with returns m changed by f.
func (m member) with(f func(h *tar.Header)) member { f(&m.hdr); return m }

// mkLayer writes members as an uncompressed layer tar.
func mkLayer(tb testing.TB, ms ...member) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		h := m.hdr
		if err := tw.WriteHeader(&h); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write([]byte(m.body)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// image is a test image: its layers and what its config holds besides
// the platform and rootfs.
type image struct {
	layers [][]byte
	config map[string]any
}

// baseConfig is a config as a rebuild at time at writes it.
func baseConfig(at time.Time, layers int) map[string]any {
	var hist []any
	for i := range layers {
		hist = append(hist, map[string]any{"created": at, "created_by": "step " + string(rune('A'+i))})
	}
	return map[string]any{
		"created": at,
		"config":  map[string]any{"Env": []string{"PATH=/usr/bin"}, "Cmd": []string{"/bin/sh"}},
		"history": hist,
	}
}

// writeImage writes im as an OCI layout in a new folder and opens it.
func writeImage(tb testing.TB, im image) Side {
	tb.Helper()
	d := tb.TempDir()
	blobs := filepath.Join(d, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		tb.Fatal(err)
	}
	put := func(b []byte) digest.Digest {
		dg := digest.FromBytes(b)
		if err := os.WriteFile(filepath.Join(blobs, dg.Encoded()), b, 0o644); err != nil {
			tb.Fatal(err)
		}
		return dg
	}
	cfg := map[string]any{"architecture": "amd64", "os": "linux"}
	for k, v := range im.config {
		cfg[k] = v
	}
	var diffIDs []digest.Digest
	var ls []v1.Descriptor
	for _, l := range im.layers {
		dg := put(l)
		diffIDs = append(diffIDs, dg)
		ls = append(ls, v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: dg, Size: int64(len(l))})
	}
	cfg["rootfs"] = map[string]any{"type": "layers", "diff_ids": diffIDs}
	cb := mustJSON(tb, cfg)
	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: put(cb), Size: int64(len(cb))}, Layers: ls}
	m.SchemaVersion = 2
	mb := mustJSON(tb, m)
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{{MediaType: v1.MediaTypeImageManifest, Digest: put(mb), Size: int64(len(mb))}}}
	idx.SchemaVersion = 2
	if err := os.WriteFile(filepath.Join(d, "index.json"), mustJSON(tb, idx), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		tb.Fatal(err)
	}
	return open(tb, d)
}

func open(tb testing.TB, d string) Side {
	tb.Helper()
	ad, err := archive.OpenDir(d)
	if err != nil {
		tb.Fatal(err)
	}
	return Side{Name: filepath.Base(d), Dir: ad, Image: ad.Images[0]}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
