package archive

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"github.com/opencontainers/go-digest"
)

// Layer opens the layer l of the directory and streams its tar: the file
// itself when stored uncompressed (imgsave's layout), decompressed when a
// raw save or another tool's OCI layout keeps it gzip or zstd. The stream
// is hashed as it is read: the Read that reaches its end returns a
// *[DigestMismatchError] instead of io.EOF when it is not l.DiffID, so a
// caller that reads to the end has read the layer the config names.
// Reads stop with ctx's error once it ends. The file is read through the
// directory's one policy ([FileError], [ErrContentMissing]).
//
// With rec, an uncompressed layer file that rec holds as unchanged since it
// was hashed to l.DiffID is streamed unhashed and only checked unchanged
// at its end (see [VerifiedRecord]: load trusts the same record), and one
// hashed here to l.DiffID is added to rec; the caller saves rec.
func (d *Dir) Layer(ctx context.Context, l DirLayer, rec *VerifiedRecord) (io.ReadCloser, error) {
	f, fi, err := d.openLayer(l.Path)
	if err != nil {
		return nil, err
	}
	zr, format, err := decompress(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	lr := &layerReader{r: contextReader{ctx, zr}, zr: zr, f: f, want: l.DiffID}
	if format == "" {
		// The file's bytes are the stream's: its digest is the diff ID.
		lr.rec = rec
		var known bool
		lr.key, lr.keyed, known = rec.verified(f, fi, l.DiffID)
		if known {
			return lr, nil
		}
	}
	lr.h, lr.hashed = sha256.New(), time.Now()
	return lr, nil
}

// layerReader is the stream [Dir.Layer] returns. Without h, the file is
// one rec holds as verified with key.
type layerReader struct {
	r    io.Reader
	zr   io.Closer
	f    *os.File
	h    hash.Hash
	want digest.Digest

	rec    *VerifiedRecord
	key    fileKey
	keyed  bool
	hashed time.Time
}

func (l *layerReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if l.h != nil {
		l.h.Write(p[:n])
		bytesHashed.Add(int64(n))
	}
	switch {
	case err == io.EOF && l.h == nil:
		if !unchanged(l.f, l.key) {
			return n, fmt.Errorf("%s: changed while it was read", l.f.Name())
		}
	case err == io.EOF:
		if got := digest.NewDigest(digest.SHA256, l.h); got != l.want {
			return n, &DigestMismatchError{Path: l.f.Name(), Got: got, Want: l.want}
		}
		if l.keyed && unchanged(l.f, l.key) {
			l.rec.add(l.key, l.want, l.hashed)
		}
	case err != nil:
		err = fmt.Errorf("%s: %w", l.f.Name(), err)
	}
	return n, err
}

func (l *layerReader) Close() error {
	l.zr.Close()
	return l.f.Close()
}
