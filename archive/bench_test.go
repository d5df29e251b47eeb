package archive

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
)

// The benchmarks measure the hot paths of a save and a load (#14): they
// report throughput (go test -bench . -benchmem ./archive) and assert
// nothing about it. Profile one with -cpuprofile.

// benchLayerSize is the uncompressed size of the benchmark image's layer.
const benchLayerSize = 64 << 20

// benchImage is an image whose one layer holds benchLayerSize bytes, half
// random and half repetitive text, so that gzip and zstd have something
// to do when decompressing.
func benchImage(b *testing.B) testImage {
	b.Helper()
	data := make([]byte, benchLayerSize-64<<10)
	rng := rand.NewChaCha8([32]byte{14})
	for off := 0; off < len(data); off += 1 << 20 {
		end := min(off+1<<20, len(data))
		if (off>>20)%2 == 0 {
			rng.Read(data[off:end])
		} else {
			const text = "imgsave keeps images as verified directories\n"
			for i := off; i < end; i++ {
				data[i] = text[i%len(text)]
			}
		}
	}
	layer := mkTar(b, folder("data/"), file("data/blob", string(data)))
	im := testImage{layer: layer, diffID: digest.FromBytes(layer), tag: "imgsave-bench/big:1", arch: "amd64"}
	im.config = []byte(mustJSON(b, map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{im.diffID}},
	}))
	im.id = digest.FromBytes(im.config)
	return im
}

// BenchmarkExtract is a save's side: the stream read, every blob hashed,
// a compressed layer decompressed into the canonical uncompressed one and
// hashed again, written and synced. Throughput is of the uncompressed
// layer.
func BenchmarkExtract(b *testing.B) {
	im := benchImage(b)
	for _, comp := range []string{"", "gzip", "zstd"} {
		name := comp
		if name == "" {
			name = "plain"
		}
		b.Run(name, func(b *testing.B) {
			archive := mkTar(b, im.oci(b, comp, true)...)
			parent := b.TempDir()
			b.SetBytes(int64(len(im.layer)))
			b.ReportAllocs()
			for b.Loop() {
				dir := filepath.Join(parent, "img")
				if _, err := Extract(b.Context(), bytes.NewReader(archive), dir, Options{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := os.RemoveAll(dir); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// benchDir extracts the benchmark image (its layer compressed with comp)
// into a directory.
func benchDir(b *testing.B, comp string) (*Dir, testImage) {
	b.Helper()
	im := benchImage(b)
	dir := filepath.Join(b.TempDir(), "img")
	if _, err := Extract(b.Context(), bytes.NewReader(mkTar(b, im.oci(b, comp, true)...)), dir, Options{}); err != nil {
		b.Fatal(err)
	}
	d, err := OpenDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	return d, im
}

// BenchmarkWriteTar is a load's side: the stream built from the
// directory's files, each hashed on the way.
func BenchmarkWriteTar(b *testing.B) {
	d, im := benchDir(b, "")
	b.SetBytes(int64(len(im.layer)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.WriteTar(io.Discard, d.Images[0], nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify rereads and rehashes a directory, as `imgsave verify`
// does (files in parallel).
func BenchmarkVerify(b *testing.B) {
	d, im := benchDir(b, "")
	b.SetBytes(int64(len(im.layer)))
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Verify(b.Context(), d.Path, VerifyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() {
			b.Fatalf("Verify: %+v", rep)
		}
	}
}
