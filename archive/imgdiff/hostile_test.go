package imgdiff

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgsave/imgsave/archive"
)

// Hostile layers, one attack per case: each is refused, naming the entry,
// before more is read or kept.
func TestReadTarRefuses(t *testing.T) {
	long := strings.Repeat("a/", MaxName/2) + "f"
	tests := []struct {
		name   string
		layer  []byte
		budget [2]int64 // entries, xattr bytes
		want   string
	}{
		{"DotDot", mkLayer(t, reg("../../etc/passwd", "x")), [2]int64{10, 10}, `"../../etc/passwd": refused: has a .. component`},
		{"LongName", mkLayer(t, reg(long, "x")), [2]int64{10, 10}, "name or link target over 4096 bytes"},
		{"LongLinkTarget", mkLayer(t, link("l", long)), [2]int64{10, 10}, "name or link target over 4096 bytes"},
		{"PAXSparse", sparseTar(t), [2]int64{10, 10}, "sparse file"},
		{"ManyEntries", mkLayer(t, reg("a", ""), reg("b", ""), reg("c", "")), [2]int64{2, 10}, `"c": refused: over`},
		{"XattrFlood", mkLayer(t, reg("a", "").with(func(h *tar.Header) {
			h.PAXRecords = map[string]string{"SCHILY.xattr.user.x": strings.Repeat("v", 100)}
			h.Format = tar.FormatPAX
		})), [2]int64{10, 50}, "bytes of extended attributes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBudget(tc.budget[0], tc.budget[1])
			_, err := readTar(bytes.NewReader(tc.layer), b, make([]byte, 4096))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, archive.ErrRefused) {
				t.Fatalf("readTar = %v, want an error wrapping ErrRefused with %q", err, tc.want)
			}
		})
	}
}

// sparseTar is a layer of 1.5 KB holding a PAX 1.0 sparse file of 1 TiB
// of zeros, which Go's reader would expand: archive/tar writes no PAX
// header by hand, so the 'x' header is a ustar one retyped.
func sparseTar(tb testing.TB) []byte {
	rec := func(k, v string) string {
		s := " " + k + "=" + v + "\n"
		n := len(s) + 1
		for len(fmt.Sprint(n))+len(s) != n {
			n = len(fmt.Sprint(n)) + len(s)
		}
		return fmt.Sprint(n) + s
	}
	pax := rec("GNU.sparse.major", "1") + rec("GNU.sparse.minor", "0") + rec("GNU.sparse.name", "s") + rec("GNU.sparse.realsize", "1099511627776")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	write := func(name, body string) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(body)), Format: tar.FormatUSTAR}); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			tb.Fatal(err)
		}
	}
	write("PaxHeaders/s", pax)
	if err := tw.Flush(); err != nil {
		tb.Fatal(err)
	}
	b := buf.Bytes()
	b[156] = tar.TypeXHeader
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	sparseMap := "1\n1099511627775\n1\n"
	write("s", sparseMap+strings.Repeat("\x00", 512-len(sparseMap))+"x")
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Links, devices and fifos are compared as what the tar says, never
// followed or opened: a hard link to a file outside is its name.
func TestReadTarKeepsLinksAsText(t *testing.T) {
	l := mkLayer(t,
		member{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "h", Linkname: "/etc/shadow", ModTime: t0}},
		link("s", "../../../../etc/shadow"),
		member{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "null", Devmajor: 1, Devminor: 3, ModTime: t0}},
		member{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "p", ModTime: t0}},
	)
	b := newBudget(MaxEntries, MaxXattrBytes)
	got, err := readTar(bytes.NewReader(l), b, make([]byte, 4096))
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"h": "hardlink etc/shadow", "s": "symlink ../../../../etc/shadow", "null": "char 1,3", "p": "fifo "} {
		e := got.entries[p]
		if e == nil {
			t.Fatalf("no entry %q", p)
		}
		if s := e.Type + " " + e.Link + e.Device; s != want {
			t.Errorf("entry %q = %q, want %q", p, s, want)
		}
	}
}

// A layer file whose bytes are not its diff ID fails the comparison,
// naming the file, after it is read once.
func TestCompareCorruptLayer(t *testing.T) {
	a := writeImage(t, image{layers: [][]byte{mkLayer(t, reg("a", "1"))}, config: baseConfig(t0, 1)})
	b := writeImage(t, image{layers: [][]byte{mkLayer(t, reg("a", "2"))}, config: baseConfig(t0, 1)})
	p := filepath.Join(b.Dir.Path, b.Image.Layers[0].Path)
	if err := os.WriteFile(p, mkLayer(t, reg("a", "3")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Compare(context.Background(), a, b, Options{})
	var dm *archive.DigestMismatchError
	if !errors.As(err, &dm) || !strings.Contains(err.Error(), b.Image.Layers[0].DiffID.Encoded()) {
		t.Fatalf("Compare = %v, want a digest mismatch naming the layer", err)
	}
}

// A cancelled comparison stops with the context's error.
func TestCompareCancelled(t *testing.T) {
	a := writeImage(t, image{layers: [][]byte{mkLayer(t, reg("a", "1"))}, config: baseConfig(t0, 1)})
	b := writeImage(t, image{layers: [][]byte{mkLayer(t, reg("a", "2"))}, config: baseConfig(t0, 1)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Compare(ctx, a, b, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Compare = %v, want context.Canceled", err)
	}
}
