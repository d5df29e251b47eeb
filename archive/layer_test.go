package archive

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"
)

// Dir.Layer streams a layer whatever the reads asked of it, and its end
// is io.EOF for the right bytes; for others, a digest mismatch that stays
// when asked again (io.ReadFull drops an error that comes with the last
// bytes), and Close before the end stops the hashing.
func TestLayerStream(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 100_000) // 1.6 MB: several chunks
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "layer"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	d := newDir(dir)
	for _, tc := range []struct {
		name string
		want digest.Digest
		read func(io.Reader) ([]byte, error)
	}{
		{"ReadAll", digest.FromBytes(body), io.ReadAll},
		{"OneByte", digest.FromBytes(body), func(r io.Reader) ([]byte, error) { return io.ReadAll(iotest.OneByteReader(r)) }},
		{"Half", digest.FromBytes(body), func(r io.Reader) ([]byte, error) { return io.ReadAll(iotest.HalfReader(r)) }},
		{"Mismatch", digest.FromString("other"), io.ReadAll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := d.Layer(t.Context(), DirLayer{Path: "layer", DiffID: tc.want}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := tc.read(rc)
			if tc.want != digest.FromBytes(body) {
				var dm *DigestMismatchError
				if !errors.As(err, &dm) {
					t.Fatalf("read = %v, want a digest mismatch", err)
				}
				if _, again := rc.Read(make([]byte, 10)); !errors.As(again, &dm) {
					t.Fatalf("read again = %v, want the digest mismatch again", again)
				}
				return
			}
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("read %d bytes, %v; want %d, nil", len(got), err, len(body))
			}
		})
	}
	// Closed half-way: no goroutine left waiting (the race detector and
	// the test's end would show one).
	rc, err := d.Layer(t.Context(), DirLayer{Path: "layer", DiffID: digest.FromBytes(body)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, rc, 700_000); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
}
