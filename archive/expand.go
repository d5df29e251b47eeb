package archive

import (
	"fmt"
	"io"
	"math"
)

// A compressed layer of 10 MB (gzip) or 320 KB (zstd) can hold 10 GiB of
// zeros, and nothing but its diff_id, checked once it has been written out
// whole, would stop it (#18). Extraction therefore bounds what
// decompression may produce, before it is written.
//
// Real layers stay far below both numbers: layers compress 2-10 times, text
// and sparse files (expanded to zeros in a tar) at most a few hundred
// times, and gzip cannot exceed about 1032 times at all. A layer past
// the floor and the ratio at once is nearly all zeros and over 2 GiB.
const (
	// DefaultMaxExpand is the ratio [Options.MaxExpand] means when zero.
	DefaultMaxExpand = 200
	// ExpandFloor is what any compressed layer may expand to, whatever its
	// ratio, so that small layers full of zeros are never refused.
	ExpandFloor = 2 << 30
)

// ExpandError reports a compressed layer, or an archive compressed as a
// whole, whose decompression went past the bound of [Options.MaxExpand]. It
// wraps [ErrRefused].
type ExpandError struct {
	// Layer names the layer: its digest, or its name in the archive when
	// the name states none; "" for the archive as a whole.
	Layer string
	// Limit is the bound, in bytes, that decompression went past, and
	// Compressed the compressed size it was computed from.
	Limit, Compressed int64
}

func (e *ExpandError) Error() string {
	what := "archive"
	if e.Layer != "" {
		what = "layer " + e.Layer
	}
	ratio := ""
	if e.Compressed > 0 {
		ratio = fmt.Sprintf(" (%d× its %d compressed bytes)", e.Limit/e.Compressed, e.Compressed)
	}
	return fmt.Sprintf("%s expands past %d bytes%s; pass --max-expand=-1 to allow", what, e.Limit, ratio)
}

func (e *ExpandError) Unwrap() error { return ErrRefused }

// expandLimit is the most that compressed bytes may expand to with ratio
// (0 for the default), or -1 for no bound.
func expandLimit(ratio int, compressed int64) int64 {
	if ratio < 0 {
		return -1
	}
	if ratio == 0 {
		ratio = DefaultMaxExpand
	}
	if compressed > math.MaxInt64/int64(ratio) {
		return math.MaxInt64
	}
	return max(int64(ratio)*compressed, expandFloor)
}

// expandFloor is ExpandFloor, a variable so that tests can make bombs
// that cost little.
var expandFloor int64 = ExpandFloor

// expandReader reads a decompressor's output and fails with an
// *ExpandError once it goes past the bound for the compressed bytes read
// so far, before the bytes past it are returned.
type expandReader struct {
	r          io.Reader
	n          int64
	ratio      int
	layer      string
	compressed func() int64
}

func (e *expandReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.n += int64(n)
	if limit := expandLimit(e.ratio, e.compressed()); limit >= 0 && e.n > limit {
		return 0, &ExpandError{Layer: e.layer, Limit: limit, Compressed: e.compressed()}
	}
	return n, err
}
