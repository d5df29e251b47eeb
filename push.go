package imgsave

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
// when their digest is known before compressing: see [registry.Push].
//
// When the selection (by repo tag and config, with no platform) matches
// several platforms of one image (images with the same repo tags, each
// for another platform), Push sends each of them and an OCI image index
// listing them in the directory's order, under ref: see
// [registry.PushIndex]. A Selector.Platform sends that platform alone, as
// one image. Images that are not platforms of one image are refused with
// an error wrapping [archive.ErrSelect].
//
// All layers must be present locally (wraps [archive.ErrContentMissing]
// otherwise) and stored uncompressed ([ErrCompressedLayers] otherwise),
// in every image sent, before anything is sent. Cancelling ctx stops the
// push within a read of a layer; the error then wraps ctx's cause. It
// changes nothing in dir's dataset: [Register] with the result's Source
// as a registry (each platform's, for an index) records the registry as
// the layers' source for the special remote.
//
// opts.Progress gets the bytes of layer files read so far, across every
// image sent; opts.Notice is told, after the push, when dir keeps
// signatures none of which signs a digest the push sent.
func Push(ctx context.Context, dir, ref string, opts PushOptions) (*registry.Pushed, error) {
	d, ims, err := opts.Selector.openPlatforms(dir)
	if err != nil {
		return nil, err
	}
	read := &readCounter{progress: opts.Progress}
	var imgs []registry.Image
	for _, im := range ims {
		if err := d.CheckPresent(im); err != nil {
			return nil, err
		}
		img, err := pushImage(d, im, read)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	ro := registry.PushOptions{Compress: opts.Compress, Insecure: opts.Insecure, IdleTimeout: opts.IdleTimeout}
	var p *registry.Pushed
	if len(imgs) > 1 {
		p, err = registry.PushIndex(ctx, ref, imgs, ro)
	} else {
		p, err = registry.Push(ctx, ref, imgs[0], ro)
	}
	if err != nil {
		return nil, err
	}
	if evs, _ := archive.ReadEvidence(dir); len(evs) > 0 && !signedPushed(evs, p) {
		opts.notice(fmt.Sprintf("%s keeps signatures of manifests this push does not send (it sent %s): none applies to it, and none is pushed; sign the pushed image with cosign", filepath.Join(dir, archive.EvidenceDir), p.Source))
	}
	return p, nil
}

// signedPushed reports whether the evidence signs a digest p sent: the
// index, or a manifest (imgsave's canonical one goes as it is with
// Compress "none"), so that the signature kept applies to the pushed
// image (#29).
func signedPushed(evs []*archive.Evidence, p *registry.Pushed) bool {
	sent := []string{p.Index, p.Manifest}
	for _, pl := range p.Platforms {
		sent = append(sent, pl.Manifest)
	}
	return slices.ContainsFunc(evs, func(ev *archive.Evidence) bool { return slices.Contains(sent, string(ev.Subject)) })
}

// readCounter sums the bytes read of the layers a push sends, from
// several layers at once, and reports the sum as progress.
type readCounter struct {
	mu       sync.Mutex
	n        int64
	progress func(int64)
}

func (c *readCounter) add(n int) {
	if c == nil || c.progress == nil || n == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += int64(n)
	c.progress(c.n)
}

// pushImage is the directory's image im as the registry takes it; the
// bytes read of its layers are counted in read.
func pushImage(d *archive.Dir, im *archive.DirImage, read *readCounter) (registry.Image, error) {
	img := registry.Image{
		Config:   im.ConfigBytes(),
		Platform: registry.Platform{OS: im.Config.OS, Architecture: im.Config.Architecture, Variant: im.Config.Variant},
	}
	for _, l := range im.Layers {
		if l.Digest != l.DiffID {
			return registry.Image{}, fmt.Errorf("push %s: %w", d.Path, ErrCompressedLayers)
		}
		img.Layers = append(img.Layers, registry.Layer{
			DiffID: string(l.DiffID),
			Size:   l.Size,
			Open: func() (io.ReadCloser, error) {
				f, err := d.Open(l.Path)
				if err != nil {
					return nil, err
				}
				return &checkedReader{rc: f, h: sha256.New(), want: l.DiffID, path: filepath.Join(d.Path, filepath.FromSlash(l.Path)), read: read}, nil
			},
		})
	}
	return img, nil
}

// errSeveral stops [archive.Dir.SelectPlatform] where it would ask the
// engine's platform: the selection holds several platforms.
var errSeveral = errors.New("several platforms")

// openPlatforms reads the directory and picks the selected image, or,
// when the selection matches several platforms of one image and names no
// platform, each of them, in the directory's order.
func (s Selector) openPlatforms(dir string) (*archive.Dir, []*archive.DirImage, error) {
	d, err := archive.OpenDir(dir)
	if err != nil {
		return nil, nil, err
	}
	ims, err := s.selectPlatforms(d)
	if err != nil {
		return nil, nil, err
	}
	return d, ims, nil
}

// selectPlatforms is openPlatforms for a directory read.
func (s Selector) selectPlatforms(d *archive.Dir) ([]*archive.DirImage, error) {
	// SelectPlatform asks for the native platform only when several
	// images, each of another platform, match.
	im, err := d.SelectPlatform(s.RepoTag, s.Config, s.Platform, func() (string, error) { return "", errSeveral })
	if err == nil {
		return []*archive.DirImage{im}, nil
	}
	if !errors.Is(err, errSeveral) {
		return nil, err
	}
	if s.Platform != "" {
		// A platform named is one image, even where variants leave it
		// several ("linux/arm" for linux/arm and linux/arm/v7).
		_, err := d.SelectPlatform(s.RepoTag, s.Config, s.Platform, nil)
		return nil, err
	}
	// The same selection, one image at a time: by its whole config
	// digest (a platform could match a variant-less image as well),
	// keeping those the selector's own prefix keeps.
	var ims []*archive.DirImage
	for _, im := range d.Images {
		if !strings.HasPrefix(im.ID.Encoded(), strings.TrimPrefix(s.Config, "sha256:")) {
			continue
		}
		if got, err := d.SelectPlatform(s.RepoTag, im.ID.Encoded(), "", nil); err == nil && got == im {
			ims = append(ims, im)
		}
	}
	if len(ims) < 2 || !oneImage(ims) {
		// Platforms of different images: the choice is the user's.
		_, err := d.SelectPlatform(s.RepoTag, s.Config, s.Platform, nil)
		return nil, err
	}
	return ims, nil
}

// oneImage reports whether ims are platforms of one image: they have the
// same repo tags.
func oneImage(ims []*archive.DirImage) bool {
	tags := func(im *archive.DirImage) []string {
		t := slices.Clone(im.RepoTags)
		slices.Sort(t)
		return t
	}
	for _, im := range ims[1:] {
		if !slices.Equal(tags(im), tags(ims[0])) {
			return false
		}
	}
	return true
}

// checkedReader fails its last Read when what it read does not have the
// digest it should, so that a damaged layer is never pushed as the layer.
type checkedReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want digest.Digest
	path string
	read *readCounter
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.h.Write(p[:n])
	c.read.add(n)
	if err == io.EOF {
		if got := digest.NewDigest(digest.SHA256, c.h); got != c.want {
			return n, &archive.DigestMismatchError{Path: c.path, Got: got, Want: c.want}
		}
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.rc.Close() }
