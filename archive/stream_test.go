package archive

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"
	"testing/iotest"
)

// TestExtractShortReads feeds the stream in awkward pieces.
func TestExtractShortReads(t *testing.T) {
	im := newImage(t, "stream")
	plain := mkTar(t, im.legacy(t)...)
	want, _ := extract(t, bytes.NewReader(plain), Options{})
	wantTree := readTree(t, want)
	streams := []struct {
		name string
		data []byte
	}{
		{name: "plain", data: plain},
		{name: "gzip", data: gz(t, plain)},
		{name: "zstd", data: zst(t, plain)},
		{name: "oci zstd layer", data: mkTar(t, im.oci(t, "zstd", true)...)},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{name: "OneByteReader", wrap: iotest.OneByteReader},
		{name: "HalfReader", wrap: iotest.HalfReader},
		{name: "DataErrReader", wrap: iotest.DataErrReader},
	}
	for _, s := range streams {
		for _, r := range readers {
			t.Run(s.name+"/"+r.name, func(t *testing.T) {
				dir, res := extract(t, r.wrap(bytes.NewReader(s.data)), Options{})
				checkLayout(t, dir, res, im)
				if d := diffTrees(readTree(t, dir), wantTree); d != "" {
					t.Errorf("Extract through %s differs:\n%s", r.name, d)
				}
			})
		}
	}
}

// TestExtractReaderError pins that an engine's failure, which reaches
// Extract as a read error, is reported as itself wherever it cuts the
// stream, and leaves nothing behind.
func TestExtractReaderError(t *testing.T) {
	im := newImage(t, "fail")
	errEngine := errors.New("engine exited with status 1")
	plain := mkTar(t, im.legacy(t)...)
	streams := []struct {
		name string
		data []byte
	}{
		{name: "plain", data: plain},
		{name: "gzip", data: gz(t, plain)},
		{name: "zstd", data: zst(t, plain)},
	}
	for _, s := range streams {
		for _, n := range []int{0, 1, 100, 512, 700, len(s.data) / 2, len(s.data) - 1030, len(s.data) - 1, len(s.data)} {
			t.Run(s.name+"/"+strconv.Itoa(n), func(t *testing.T) {
				r := io.MultiReader(io.LimitReader(bytes.NewReader(s.data), int64(n)), iotest.ErrReader(errEngine))
				if err := mustFail(t, r, Options{}); !errors.Is(err, errEngine) {
					t.Errorf("Extract(stream failing after %d bytes) = %v, want %v", n, err, errEngine)
				}
			})
		}
	}
	t.Run("TimeoutReader", func(t *testing.T) {
		if err := mustFail(t, iotest.TimeoutReader(bytes.NewReader(plain)), Options{}); !errors.Is(err, iotest.ErrTimeout) {
			t.Errorf("Extract(TimeoutReader) = %v, want %v", err, iotest.ErrTimeout)
		}
	})
}

func TestExtractProgress(t *testing.T) {
	im := newImage(t, "progress")
	data := gz(t, mkTar(t, im.legacy(t)...))
	var calls []int64
	extract(t, iotest.HalfReader(bytes.NewReader(data)), Options{Progress: func(n int64) { calls = append(calls, n) }})
	if len(calls) == 0 {
		t.Fatal("Progress never called")
	}
	for i := 1; i < len(calls); i++ {
		if calls[i] <= calls[i-1] {
			t.Fatalf("Progress calls %v, want them increasing", calls)
		}
	}
	if last := calls[len(calls)-1]; last != int64(len(data)) {
		t.Errorf("last Progress(%d), want %d (the stream's length)", last, len(data))
	}
}
