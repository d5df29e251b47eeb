package archive

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

func TestDecompress(t *testing.T) {
	text := []byte(strings.Repeat("imgsave ", 1000))
	tests := []struct {
		name string
		in   []byte
		comp string
		want []byte
		err  bool
	}{
		{name: "plain", in: text, want: text},
		{name: "gzip", in: gz(t, text), comp: "gzip", want: text},
		{name: "zstd", in: zst(t, text), comp: "zstd", want: text},
		{name: "gzip of nothing", in: gz(t, nil), comp: "gzip", want: []byte{}},
		{name: "empty", in: nil, want: []byte{}},
		{name: "one byte", in: []byte{0x1f}, want: []byte{0x1f}},
		{name: "zstd magic prefix", in: []byte{0x28, 0xb5, 0x2f}, want: []byte{0x28, 0xb5, 0x2f}},
		{name: "gzip magic only", in: []byte{0x1f, 0x8b}, err: true},
		{name: "bad gzip header", in: []byte{0x1f, 0x8b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, wrap := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.OneByteReader} {
				dr, comp, err := decompress(bufio.NewReader(wrap(bytes.NewReader(tc.in))))
				if err == nil {
					var got []byte
					got, err = io.ReadAll(dr)
					dr.Close()
					if err == nil && (comp != tc.comp || !bytes.Equal(got, tc.want)) {
						t.Errorf("decompress(%.20q) = %.20q, %q, want %.20q, %q", tc.in, got, comp, tc.want, tc.comp)
					}
				}
				if (err != nil) != tc.err {
					t.Errorf("decompress(%.20q) error = %v, want error %v", tc.in, err, tc.err)
				}
			}
		})
	}
}

func TestLayout(t *testing.T) {
	cfg, layer := digest.FromString("config"), digest.FromString("layer")
	im := manifest.Image{
		Config:   v1.Descriptor{Digest: cfg, Size: 6},
		Layers:   []v1.Descriptor{{Digest: layer, Size: 5}},
		RepoTags: []string{"x:1"},
	}
	files, digests, err := layout([]manifest.Image{im})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Name)
	}
	want := []string{manifest.BlobPath(digests[0]), "index.json", "manifest.json", "oci-layout", ".gitattributes"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Layout names = %q, want %q", got, want)
	}
	if digests[0] != digest.FromBytes(files[0].Data) {
		t.Errorf("Layout digest = %s, want %s", digests[0], digest.FromBytes(files[0].Data))
	}
	attrs := string(files[4].Data)
	for _, line := range []string{"* annex.largefiles=anything", "/manifest.json annex.largefiles=nothing",
		"/" + manifest.BlobPath(cfg) + " annex.largefiles=nothing", "/" + manifest.BlobPath(digests[0]) + " annex.largefiles=nothing"} {
		if !strings.Contains(attrs, line+"\n") {
			t.Errorf(".gitattributes = %q, want a line %q", attrs, line)
		}
	}
	if strings.Contains(attrs, layer.Encoded()) {
		t.Errorf(".gitattributes = %q, want the layer left to git-annex", attrs)
	}
	again, _, err := layout([]manifest.Image{im})
	if err != nil {
		t.Fatal(err)
	}
	for i := range files {
		if !bytes.Equal(files[i].Data, again[i].Data) {
			t.Errorf("Layout twice: %s differs", files[i].Name)
		}
	}
}

func TestDigestMismatchError(t *testing.T) {
	e := &DigestMismatchError{Path: "blobs/sha256/x", Got: "sha256:aa", Want: "sha256:bb"}
	if got, want := e.Error(), "blobs/sha256/x: digest mismatch: got sha256:aa, want sha256:bb"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
