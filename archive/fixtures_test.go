package archive

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
)

// fixture reads a tarball from the shared testdata folder.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExtractFixturesCanonical extracts real saves of one image from
// Docker 20.10 (legacy) and Docker 26 (OCI) and wants the same bytes.
func TestExtractFixturesCanonical(t *testing.T) {
	trees := map[string]map[string]node{}
	for _, name := range []string{"legacy.tar", "oci.tar"} {
		dir := filepath.Join(t.TempDir(), "img")
		res, err := Extract(t.Context(), bytes.NewReader(fixture(t, name)), dir, Options{})
		if err != nil {
			t.Fatalf("Extract(%s) = %v", name, err)
		}
		if len(res.Images) != 1 || len(res.Images[0].RepoTags) != 1 || res.Images[0].RepoTags[0] != "imgsave-fixture/hello:1" {
			t.Errorf("Extract(%s) images = %+v, want one tagged imgsave-fixture/hello:1", name, res.Images)
		}
		trees[name] = readTree(t, dir)
	}
	a, b := trees["legacy.tar"], trees["oci.tar"]
	if len(a) != len(b) {
		t.Fatalf("legacy gives %d files, oci %d", len(a), len(b))
	}
	for p, content := range a {
		if b[p] != content {
			t.Errorf("%s differs between the legacy and the OCI save", p)
		}
	}
}

// TestExtractFixtureGzipLayer stores a containerd-store save's gzip layer
// uncompressed, named by its diff_id, whether or not the whole stream is
// compressed too.
func TestExtractFixtureGzipLayer(t *testing.T) {
	raw := fixture(t, "oci-gzip.tar")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	for name, stream := range map[string][]byte{"plain": raw, "gzip": gz.Bytes()} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "img")
			res, err := Extract(t.Context(), bytes.NewReader(stream), dir, Options{})
			if err != nil {
				t.Fatalf("Extract = %v", err)
			}
			l := res.Images[0].Layers[0]
			b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", l.Digest.Encoded()))
			if err != nil {
				t.Fatal(err)
			}
			if got := digest.FromBytes(b); got != l.Digest {
				t.Errorf("layer blob digest = %s, want %s", got, l.Digest)
			}
			if !bytes.Contains(b, []byte("imgsave fixture\n")) {
				t.Errorf("layer blob is not the uncompressed tar")
			}
		})
	}
}
