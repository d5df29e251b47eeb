package archive

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"

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
func (d *Dir) Layer(ctx context.Context, l DirLayer) (io.ReadCloser, error) {
	f, _, err := d.openLayer(l.Path)
	if err != nil {
		return nil, err
	}
	zr, _, err := decompress(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return &layerReader{r: contextReader{ctx, zr}, zr: zr, f: f, h: sha256.New(), want: l.DiffID}, nil
}

// layerReader is the stream [Dir.Layer] returns.
type layerReader struct {
	r    io.Reader
	zr   io.Closer
	f    *os.File
	h    hash.Hash
	want digest.Digest
}

func (l *layerReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.h.Write(p[:n])
	if err == io.EOF {
		if got := digest.NewDigest(digest.SHA256, l.h); got != l.want {
			return n, &DigestMismatchError{Path: l.f.Name(), Got: got, Want: l.want}
		}
	} else if err != nil {
		err = fmt.Errorf("%s: %w", l.f.Name(), err)
	}
	return n, err
}

func (l *layerReader) Close() error {
	l.zr.Close()
	return l.f.Close()
}
