package imgsave

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader/registry"
)

// ErrCompressedLayers is returned by [Push] for an image whose layers the
// directory keeps compressed (a raw Docker 25+ save, an OCI layout from
// another tool): `imgsave migrate` turns it into the canonical layout.
var ErrCompressedLayers = errors.New("its layers are stored compressed; run `imgsave migrate` on the directory first")

// PushOptions tune [Push].
type PushOptions struct {
	Selector
	Events
	// Compress is how layers travel: "gzip" (for ""), "zstd", or "none",
	// which keeps each blob digest equal to its diff ID.
	Compress string
	// Insecure speaks plain HTTP to a registry that is not on loopback.
	Insecure bool
	// IdleTimeout ends the push when the registry takes (or sends) no
	// byte for that long; 0 means [DefaultIdleTimeout].
	IdleTimeout time.Duration
}

// Push sends one image of the directory to ref: its config as it is (so
// the image ID does not change), its layers compressed as opts says while
// they are sent, with an OCI manifest. Every layer is checked against its
// diff ID as it is read. Blobs the registry has already are not sent again
// when their digest is known before compressing: see [registry.Push]. All
// layers must be present locally (wraps [archive.ErrContentMissing]
// otherwise). Cancelling ctx stops the push within a read of a layer; the
// error then wraps ctx's cause. It changes nothing in dir's dataset:
// [Register] with the result's Source as a registry records the registry
// as the layers' source for the special remote.
func Push(ctx context.Context, dir, ref string, opts PushOptions) (*registry.Pushed, error) {
	d, im, err := opts.Selector.open(dir)
	if err != nil {
		return nil, err
	}
	if err := d.CheckPresent(im); err != nil {
		return nil, err
	}
	img := registry.Image{Config: im.ConfigBytes()}
	for _, l := range im.Layers {
		if l.Digest != l.DiffID {
			return nil, fmt.Errorf("push %s: %w", dir, ErrCompressedLayers)
		}
		img.Layers = append(img.Layers, registry.Layer{
			DiffID: string(l.DiffID),
			Size:   l.Size,
			Open: func() (io.ReadCloser, error) {
				f, err := d.Open(l.Path)
				if err != nil {
					return nil, err
				}
				return &checkedReader{rc: f, h: sha256.New(), want: l.DiffID, path: filepath.Join(dir, filepath.FromSlash(l.Path))}, nil
			},
		})
	}
	pushed, err := registry.Push(ctx, ref, img, registry.PushOptions{Compress: opts.Compress, Insecure: opts.Insecure, IdleTimeout: opts.IdleTimeout})
	if err != nil {
		return nil, err
	}
	return pushed, nil
}

// checkedReader fails its last Read when what it read does not have the
// digest it should, so that a damaged layer is never pushed as the layer.
type checkedReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want digest.Digest
	path string
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.h.Write(p[:n])
	if err == io.EOF {
		if got := digest.NewDigest(digest.SHA256, c.h); got != c.want {
			return n, &archive.DigestMismatchError{Path: c.path, Got: got, Want: c.want}
		}
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.rc.Close() }
