package imgdiff

import (
	"archive/tar"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

var (
	genDiff   = flag.String("gen-diff", "", "write the image directories of scripts/bench-diff.sh under `DIR`")
	genDiffMB = flag.Int("gen-diff-mb", 300, "the size of each image of -gen-diff, in MB")
)

// TestWriteBenchImages writes, with -gen-diff=DIR, three image
// directories for scripts/bench-diff.sh, each of -gen-diff-mb MB of
// random files in three layers: DIR/a; DIR/b, a with the last file of
// its last layer changed (its two first layers shared with a); DIR/c, a
// rebuilt an hour later (every layer's times differ) with the same
// change. Layers stream to disk; nothing is held in memory.
func TestWriteBenchImages(t *testing.T) {
	if *genDiff == "" {
		t.Skip("-gen-diff=DIR writes the images of scripts/bench-diff.sh")
	}
	size := int64(*genDiffMB) << 20
	for _, v := range []struct {
		name    string
		changed bool
		shift   time.Duration
	}{{"a", false, 0}, {"b", true, 0}, {"c", true, time.Hour}} {
		layers := writeBenchImage(t, filepath.Join(*genDiff, v.name), size, v.changed, t0.Add(v.shift))
		// The layer files in order, one a line, for cmp and tar.
		var list string
		for _, d := range layers {
			list += filepath.Join(*genDiff, v.name, "blobs", "sha256", d.Encoded()) + "\n"
		}
		if err := os.WriteFile(filepath.Join(*genDiff, v.name+".layers"), []byte(list), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func writeBenchImage(t *testing.T, dir string, size int64, changed bool, at time.Time) []digest.Digest {
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	const fileSize = 8 << 20
	var diffIDs []digest.Digest
	var descs []v1.Descriptor
	for l := range 3 {
		f, err := os.CreateTemp(blobs, ".layer-")
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		cw := &countingWriter{w: io.MultiWriter(f, h)}
		tw := tar.NewWriter(cw)
		n := int(size / 3 / fileSize)
		for i := range n {
			seed := uint64(l*1000 + i)
			if changed && l == 2 && i == n-1 {
				seed += 1 << 32
			}
			hdr := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("data/%d/%03d", l, i), Mode: 0o644, Size: fileSize, ModTime: at}
			if err := tw.WriteHeader(hdr); err != nil {
				t.Fatal(err)
			}
			if _, err := io.CopyN(tw, rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 32)}), fileSize); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		d := digest.NewDigest(digest.SHA256, h)
		if err := os.Rename(f.Name(), filepath.Join(blobs, d.Encoded())); err != nil {
			t.Fatal(err)
		}
		diffIDs = append(diffIDs, d)
		descs = append(descs, v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: d, Size: cw.n})
	}
	put := func(b []byte) digest.Digest {
		d := digest.FromBytes(b)
		if err := os.WriteFile(filepath.Join(blobs, d.Encoded()), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	cfg := baseConfig(at, 3)
	cfg["architecture"], cfg["os"] = "amd64", "linux"
	cfg["rootfs"] = map[string]any{"type": "layers", "diff_ids": diffIDs}
	cb := mustJSON(t, cfg)
	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: put(cb), Size: int64(len(cb))}, Layers: descs}
	m.SchemaVersion = 2
	mb := mustJSON(t, m)
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{{MediaType: v1.MediaTypeImageManifest, Digest: put(mb), Size: int64(len(mb))}}}
	idx.SchemaVersion = 2
	if err := os.WriteFile(filepath.Join(dir, "index.json"), mustJSON(t, idx), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return diffIDs
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
