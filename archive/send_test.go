package archive

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/manifest"
)

// bigImageDir extracts an image whose one layer is several of sendHashed's
// pieces long (random, so every piece differs), the path WriteTar takes
// for real layers.
func bigImageDir(tb testing.TB) string {
	tb.Helper()
	data := make([]byte, 5*chunkSize+123)
	rand.Read(data)
	layer := mkTar(tb, file("data.bin", string(data)))
	im := newImage(tb, "big")
	im.layer, im.diffID = layer, digest.FromBytes(layer)
	im.config = []byte(mustJSON(tb, map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{im.diffID}},
	}))
	im.id = digest.FromBytes(im.config)
	dir, _ := extract(tb, bytes.NewReader(mkTar(tb, im.legacy(tb)...)), Options{})
	return dir
}

// TestWriteTarLargeLayer sends a layer larger than one piece through the
// reader, hasher and writer goroutines: it arrives whole, and one byte
// changed in it is refused as before.
func TestWriteTarLargeLayer(t *testing.T) {
	dir := bigImageDir(t)
	d, im := openOne(t, dir)
	var buf bytes.Buffer
	if _, err := d.WriteTar(&buf, im, im.RepoTags); err != nil {
		t.Fatalf("WriteTar = %v", err)
	}
	back, _ := extract(t, bytes.NewReader(buf.Bytes()), Options{})
	if diff := diffTrees(readTree(t, back), readTree(t, dir)); diff != "" {
		t.Errorf("Extract(WriteTar(dir)) differs from dir:\n%s", diff)
	}

	flipByte(t, layerFile(t, dir))
	buf.Reset()
	_, err := d.WriteTar(&buf, im, im.RepoTags)
	var dm *DigestMismatchError
	if !errors.As(err, &dm) {
		t.Fatalf("WriteTar of a changed layer = %v, want a *DigestMismatchError", err)
	}
	if names, _ := tarNames(buf.Bytes()); slices.Contains(names, "manifest.json") || slices.Contains(names, "index.json") {
		t.Errorf("WriteTar of a changed layer sent %q, want no manifest", names)
	}
}

// failAfter fails every write once n bytes have been taken.
type failAfter struct {
	n   int
	err error
}

func (w *failAfter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, w.err
	}
	w.n -= len(p)
	return len(p), nil
}

// TestSendHashedStopsOnWriteError: an engine that stops reading (its
// socket or pipe fails) ends the send with that error, without the rest
// of the file being read for nothing.
func TestSendHashedStopsOnWriteError(t *testing.T) {
	gone := errors.New("broken pipe")
	src := &countReader{r: io.LimitReader(zeros{}, 1<<30)}
	h := digest.SHA256.Hash()
	_, err := sendHashed(&failAfter{n: 2 * chunkSize, err: gone}, src, h)
	if !errors.Is(err, gone) {
		t.Fatalf("sendHashed = %v, want %v", err, gone)
	}
	if limit := int64((3 + 2*chunksInFlight) * chunkSize); src.n > limit {
		t.Errorf("sendHashed read %d bytes after the writer failed at %d, want at most %d", src.n, 2*chunkSize, limit)
	}
}

// TestWriteTarDockerArchive: the form sent to podman holds the blobs and
// manifest.json alone, its tags in full, and reads back as the same image.
func TestWriteTarDockerArchive(t *testing.T) {
	dir, _ := canonicalDir(t, "legacy.tar")
	d, im := openOne(t, dir)
	var buf bytes.Buffer
	sent, err := d.WriteTarWith(t.Context(), &buf, im, []string{"imgsave-test/x:1", "example.org:5000/y:2"}, TarOptions{DockerArchive: true})
	if err != nil {
		t.Fatalf("WriteTarWith(DockerArchive) = %v", err)
	}
	if sent.ID != im.ID {
		t.Errorf("sent ID %s, want %s", sent.ID, im.ID)
	}
	names, err := tarNames(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{manifest.BlobPath(im.ID), manifest.BlobPath(im.Layers[0].Digest), "manifest.json"}
	if !slices.Equal(names, want) {
		t.Errorf("members %q, want %q", names, want)
	}
	_, res := extract(t, bytes.NewReader(buf.Bytes()), Options{})
	if len(res.Images) != 1 || res.Images[0].ID() != im.ID {
		t.Fatalf("Extract of the Docker archive = %+v, want image %s", res.Images, im.ID)
	}
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	var raw string
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no manifest.json in the tar: %v", err)
		}
		if hdr.Name == "manifest.json" {
			b, _ := io.ReadAll(tr)
			raw = string(b)
			break
		}
	}
	if !strings.Contains(raw, `"docker.io/imgsave-test/x:1"`) || !strings.Contains(raw, `"example.org:5000/y:2"`) {
		t.Errorf("manifest.json = %s, want the tags in full", raw)
	}
}
