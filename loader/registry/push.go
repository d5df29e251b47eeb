package registry

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	lazy "github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"
)

// The compressions [Push] offers.
const (
	CompressGzip = "gzip" // the default: what every registry and engine reads
	CompressZstd = "zstd"
	CompressNone = "none" // the blob digest is the diff ID
)

// pushJobs is how many layers [Push] compresses and sends at once, as
// many as go-containerregistry's remote.Write sends.
const pushJobs = 4

// Image is what [Push] sends: the config as it is (its digest is the image
// ID) and the uncompressed layers, in order.
type Image struct {
	Config []byte
	Layers []Layer
	// Platform is what [PushIndex] lists the image's manifest under; [Push]
	// does not look at it.
	Platform Platform
}

// Layer is one uncompressed layer.
type Layer struct {
	DiffID string // "sha256:..."
	Size   int64
	// Open returns the uncompressed tar. Push reads it once, compressing
	// it as it sends it; it opens it again only to send it again, when an
	// upload broke and is retried.
	Open func() (io.ReadCloser, error)
}

// PushOptions tune [Push].
type PushOptions struct {
	// Compress is CompressGzip (for ""), CompressZstd or CompressNone.
	Compress string
	// Insecure is as for [Options].
	Insecure bool
	// IdleTimeout is as for [Options]: no byte sent or received for that
	// long ends the push with [ErrStalled].
	IdleTimeout time.Duration
}

// Pushed is what [Push] or [PushIndex] sent. For one image, Manifest,
// Config and Layers say what went; for an index, Index names it and
// Platforms hold each platform's image as one image's Pushed.
type Pushed struct {
	// Index is the digest of the image index pushed by [PushIndex].
	Index string `json:"index_digest,omitempty"`
	// Platform is, in Platforms, the image's "os/arch[/variant]".
	Platform string `json:"platform,omitempty"`
	// Manifest is the digest of the manifest pushed.
	Manifest string `json:"manifest_digest,omitempty"`
	// Source names what was pushed (the index, or the manifest) as
	// repository@digest.
	Source string `json:"source"`
	// Config is the config's digest, the image ID of a classic store.
	Config string `json:"config_digest,omitempty"`
	// Layers are the layers' blob digests as pushed, with their diff IDs.
	Layers []PushedLayer `json:"layers,omitzero"`
	// Platforms are, for an index, its images in its order.
	Platforms []*Pushed `json:"platforms,omitempty"`
}

// PushedLayer is one layer as pushed.
type PushedLayer struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	DiffID string `json:"diff_id"`
	// Sent is false for a layer whose bytes did not go: the registry had
	// it, or it went once already for another image (or place) of this push.
	Sent bool `json:"sent"`
}

// Push sends img to ref with an OCI manifest, each layer compressed as
// opts says. Credentials come from the docker CLI's config.
//
// A compressed layer is compressed once, while it is sent, a few layers
// at a time: its digest and size are known only once it is sent, so the
// manifest goes last, after the layers and the config. A blob the
// registry already has is not sent again when the registry can be asked
// for it before: the config, every layer with CompressNone (its digest is
// its diff ID), and the compressed layers of a push of this same image
// with this compression to ref that the registry still holds. Compressed
// layers pushed before under another name are sent again: learning their
// digest would take a compression of its own. A layer listed twice is
// sent once.
//
// Every read of a layer looks at ctx: when ctx ends, Push stops within a
// read, waits for its compressions to stop, and returns an error wrapping
// ctx's cause. It writes nothing locally. An error reading or checking a
// layer (what Layer.Open returned fails) is returned as it is, wrapped
// with the layer's diff ID; a refusal of the registry wraps
// [ErrUnauthorized].
func Push(ctx context.Context, ref string, img Image, opts PushOptions) (*Pushed, error) {
	return pushWith(ctx, ref, opts, func(ctx context.Context, p *pusher) (*Pushed, error) {
		return p.push(ctx, img)
	})
}

// pushWith makes the pusher of one call of [Push] or [PushIndex], runs f
// with it, and makes f's error the one line those return.
func pushWith(ctx context.Context, ref string, opts PushOptions, f func(context.Context, *pusher) (*Pushed, error)) (*Pushed, error) {
	ctx = withIdleTimeout(ctx, opts.IdleTimeout)
	r, err := parse(ref, opts.Insecure)
	if err != nil {
		return nil, err
	}
	var comp compression.Compression
	layerType := types.OCILayer
	switch opts.Compress {
	case "", CompressGzip:
		comp = compression.GZip
	case CompressZstd:
		comp, layerType = compression.ZStd, types.OCILayerZStd
	case CompressNone:
		layerType = types.OCIUncompressedLayer
	default:
		return nil, fmt.Errorf("compression %q: want gzip, zstd or none", opts.Compress)
	}
	p := &pusher{ref: r, comp: comp, layerType: layerType, sent: map[string]*sentLayer{}}
	out, err := p.run(ctx, f)
	if err != nil {
		if ctx.Err() != nil {
			// Whatever the request in flight made of it.
			return nil, fmt.Errorf("push %s: %w", ref, context.Cause(ctx))
		}
		// One line of bounded length, as Pull's: a registry's error body
		// may be anything.
		return nil, oneLine(classify("push", ref, r, err))
	}
	return out, nil
}

// pusher is one call of [Push] or [PushIndex].
type pusher struct {
	ref       name.Reference
	comp      compression.Compression // "" for none
	layerType types.MediaType

	up      *remote.Pusher
	pl      *remote.Puller // for what an earlier push left
	running sync.WaitGroup // the compressions
	opts    []remote.Option

	mu   sync.Mutex
	sent map[string]*sentLayer // by diff ID: each layer goes once
}

// sentLayer is a layer of the push: being sent until done is closed.
type sentLayer struct {
	done chan struct{}
	d    ggcr.Descriptor
	err  error
}

// run sets up the pusher and runs f, with nothing outliving the call:
// every compression stops with ctx, and run waits for it, on every path.
func (p *pusher) run(ctx context.Context, f func(context.Context, *pusher) (*Pushed, error)) (*Pushed, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer p.running.Wait()
	defer cancel()

	// The shared transport, for its limits on what a registry sends back.
	p.opts = []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithUserAgent("imgsave"), remote.WithTransport(defaultTransport)}
	var err error
	if p.up, err = remote.NewPusher(p.opts...); err != nil {
		return nil, err
	}
	if p.pl, err = remote.NewPuller(p.opts...); err != nil {
		return nil, err
	}
	return f(ctx, p)
}

// push sends one image and its manifest, under p.ref.
func (p *pusher) push(ctx context.Context, img Image) (*Pushed, error) {
	before := func(ctx context.Context, _ int, cfg ggcr.Hash, n int) []*ggcr.Descriptor {
		desc, err := p.pl.Get(ctx, p.ref)
		if err != nil {
			return nil
		}
		return p.pushedBefore(ctx, desc, cfg, n)
	}
	outs, raws, err := p.images(ctx, []Image{img}, before)
	if err != nil {
		return nil, err
	}
	if err := p.up.Push(ctx, p.ref, rawManifest(raws[0])); err != nil {
		return nil, err
	}
	return outs[0], nil
}

// images sends the configs of imgs, then all their layers, a few at a
// time, each distinct layer once; it returns what it sent and each
// image's manifest, which it does not send. before(i, cfg, n) gives the
// descriptors of the i-th image's layers in an earlier push of it (see
// pushedBefore), to be sent again only when the registry lost them.
func (p *pusher) images(ctx context.Context, imgs []Image, before func(ctx context.Context, i int, cfg ggcr.Hash, n int) []*ggcr.Descriptor) ([]*Pushed, [][]byte, error) {
	repo := p.ref.Context()
	// The configs first: small requests that need push access, so that a
	// refusal comes before any compression.
	ms := make([]ggcr.Manifest, len(imgs))
	outs := make([]*Pushed, len(imgs))
	befores := make([][]*ggcr.Descriptor, len(imgs))
	for i, img := range imgs {
		cfg := static.NewLayer(img.Config, types.OCIConfigJSON)
		cfgHash, err := cfg.Digest()
		if err != nil {
			return nil, nil, err
		}
		if err := p.up.Upload(ctx, repo, cfg); err != nil {
			return nil, nil, err
		}
		if p.comp != "" {
			befores[i] = before(ctx, i, cfgHash, len(img.Layers))
		}
		ms[i] = ggcr.Manifest{
			SchemaVersion: 2,
			MediaType:     types.OCIManifestSchema1,
			Config:        ggcr.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgHash, Size: int64(len(img.Config))},
			Layers:        make([]ggcr.Descriptor, len(img.Layers)),
		}
		outs[i] = &Pushed{Config: cfgHash.String(), Layers: make([]PushedLayer, len(img.Layers))}
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pushJobs)
	for i, img := range imgs {
		for j, l := range img.Layers {
			g.Go(func() error {
				var prev *ggcr.Descriptor
				if j < len(befores[i]) {
					prev = befores[i][j]
				}
				d, sent, err := p.layer(gctx, l, prev)
				if err != nil {
					return fmt.Errorf("layer %s: %w", l.DiffID, err)
				}
				ms[i].Layers[j] = d
				outs[i].Layers[j] = PushedLayer{Digest: d.Digest.String(), Size: d.Size, DiffID: l.DiffID, Sent: sent}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	raws := make([][]byte, len(imgs))
	for i := range imgs {
		raw, err := json.Marshal(ms[i])
		if err != nil {
			return nil, nil, err
		}
		md, _, err := ggcr.SHA256(bytes.NewReader(raw))
		if err != nil {
			return nil, nil, err
		}
		raws[i] = raw
		outs[i].Manifest = md.String()
		outs[i].Source = repo.Name() + "@" + outs[i].Manifest
	}
	return outs, raws, nil
}

// layer sends a layer, unless the registry has it (as prev, when an
// earlier push left it there) or another image of this push sends it, and
// returns its descriptor and whether its bytes went in this call.
func (p *pusher) layer(ctx context.Context, l Layer, prev *ggcr.Descriptor) (ggcr.Descriptor, bool, error) {
	p.mu.Lock()
	s, ok := p.sent[l.DiffID]
	if !ok {
		s = &sentLayer{done: make(chan struct{})}
		p.sent[l.DiffID] = s
	}
	p.mu.Unlock()
	if ok {
		select {
		case <-s.done:
			return s.d, false, s.err
		case <-ctx.Done():
			return ggcr.Descriptor{}, false, context.Cause(ctx)
		}
	}
	var sent bool
	s.d, sent, s.err = p.send(ctx, l, prev)
	close(s.done)
	return s.d, sent, s.err
}

// send is [pusher.layer] for the first of a push to need the layer.
func (p *pusher) send(ctx context.Context, l Layer, prev *ggcr.Descriptor) (ggcr.Descriptor, bool, error) {
	diffID, err := ggcr.NewHash(l.DiffID)
	if err != nil {
		return ggcr.Descriptor{}, false, err
	}
	var up interface {
		ggcr.Layer
		sourceErr() error
		opened() bool
	}
	if p.comp == "" {
		up = &plainLayer{source: source{ctx: ctx, layer: l}, diffID: diffID}
	} else {
		if prev != nil && p.has(ctx, *prev) {
			return *prev, false, nil
		}
		up = &streamLayer{source: source{ctx: ctx, layer: l}, comp: p.comp, mediaType: p.layerType, diffID: diffID, running: &p.running}
	}
	if err := p.up.Upload(ctx, p.ref.Context(), up); err != nil {
		if serr := up.sourceErr(); serr != nil && ctx.Err() == nil {
			return ggcr.Descriptor{}, false, serr // the layer's own failure, not how the request reported it
		}
		return ggcr.Descriptor{}, false, err
	}
	d, err := up.Digest()
	if err != nil {
		return ggcr.Descriptor{}, false, err
	}
	size, err := up.Size()
	if err != nil {
		return ggcr.Descriptor{}, false, err
	}
	// An uncompressed layer the registry has is never opened:
	// go-containerregistry asks for it by digest first.
	return ggcr.Descriptor{MediaType: p.layerType, Digest: d, Size: size}, up.opened(), nil
}

// pushedBefore returns, for each layer, its descriptor in the manifest
// desc when that manifest is this image's (the same config, as many
// layers) pushed with this compression, or nil. Any failure to ask means
// nil: this only spares sending again.
//
// Taking a layer from there trusts the registry (and whoever may push to
// ref) that the blob is the layer compressed, as a mount would: the diff
// IDs of the config are what an engine and `imgsave pull` check it by.
func (p *pusher) pushedBefore(ctx context.Context, desc *remote.Descriptor, cfg ggcr.Hash, n int) []*ggcr.Descriptor {
	if !desc.MediaType.IsImage() {
		return nil
	}
	m, err := ggcr.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil || m.Config.Digest != cfg || len(m.Layers) != n {
		return nil
	}
	out := make([]*ggcr.Descriptor, n)
	for i, d := range m.Layers {
		if d.MediaType == p.layerType {
			out[i] = &ggcr.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
		}
	}
	return out
}

// has asks the registry whether it holds the blob d, of d's size.
func (p *pusher) has(ctx context.Context, d ggcr.Descriptor) bool {
	l, err := p.pl.Layer(ctx, p.ref.Context().Digest(d.Digest.String()))
	if err != nil {
		return false
	}
	size, err := l.Size() // a HEAD of the blob
	return err == nil && size == d.Size
}

// rawManifest is the manifest Push made, as go-containerregistry puts it.
type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error)        { return m, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// source opens a layer for one read through it, which stops when ctx
// ends and keeps the layer's own failure (not ctx's) for the error Push
// returns: the request that was reading it reports only that it broke.
type source struct {
	ctx   context.Context
	layer Layer

	mu    sync.Mutex
	err   error
	opens bool // opened at least once
}

func (s *source) open() (io.ReadCloser, error) {
	s.mu.Lock()
	s.opens = true
	s.mu.Unlock()
	rc, err := s.layer.Open()
	if err != nil {
		s.fail(err)
		return nil, err
	}
	return &sourceReader{s: s, rc: rc}, nil
}

func (s *source) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && s.ctx.Err() == nil {
		s.err = err
	}
}

func (s *source) opened() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

func (s *source) sourceErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// sourceReader looks at ctx before every read, so that compressing a
// layer of gigabytes stops within a read of Ctrl-C.
type sourceReader struct {
	s  *source
	rc io.ReadCloser
}

func (r *sourceReader) Read(b []byte) (int, error) {
	if r.s.ctx.Err() != nil {
		return 0, context.Cause(r.s.ctx)
	}
	n, err := r.rc.Read(b)
	if err != nil && err != io.EOF {
		r.s.fail(err)
	}
	return n, err
}

func (r *sourceReader) Close() error { return r.rc.Close() }

// plainLayer is an uncompressed layer pushed as it is: its digest is its
// diff ID, known before, so the registry is asked for it first.
type plainLayer struct {
	source
	diffID ggcr.Hash
}

func (l *plainLayer) Digest() (ggcr.Hash, error)           { return l.diffID, nil }
func (l *plainLayer) DiffID() (ggcr.Hash, error)           { return l.diffID, nil }
func (l *plainLayer) Compressed() (io.ReadCloser, error)   { return l.open() }
func (l *plainLayer) Uncompressed() (io.ReadCloser, error) { return l.open() }
func (l *plainLayer) Size() (int64, error)                 { return l.layer.Size, nil }
func (l *plainLayer) MediaType() (types.MediaType, error)  { return types.OCIUncompressedLayer, nil }

// streamLayer is a layer compressed while it is sent, as
// go-containerregistry's stream.Layer is (go-containerregistry then asks
// for its digest and size once the upload read it all, to commit the
// upload), but by klauspost/compress: gzip at its best speed, as
// go-containerregistry's own layers are made, with much less CPU than
// compress/gzip (0.97 s of user time for a 316 MB push instead of 2.17 s);
// zstd at its default. Nothing is kept in memory or on disk.
//
// Unlike a stream.Layer it may be read again (go-containerregistry sends
// a layer again after a broken upload, and an HTTP redirect of the upload
// sends its body again): each Compressed compresses from a new Open, and
// the read that reaches the end sets the digest and size.
type streamLayer struct {
	source
	comp      compression.Compression
	mediaType types.MediaType
	diffID    ggcr.Hash
	running   *sync.WaitGroup

	mu     sync.Mutex
	done   bool
	digest ggcr.Hash
	size   int64
}

func (l *streamLayer) Digest() (ggcr.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		return ggcr.Hash{}, lazy.ErrNotComputed
	}
	return l.digest, nil
}

func (l *streamLayer) Size() (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		return 0, lazy.ErrNotComputed
	}
	return l.size, nil
}

func (l *streamLayer) DiffID() (ggcr.Hash, error)           { return l.diffID, nil }
func (l *streamLayer) MediaType() (types.MediaType, error)  { return l.mediaType, nil }
func (l *streamLayer) Uncompressed() (io.ReadCloser, error) { return l.open() }

// Compressed streams the layer as it is compressed. Close stops the
// compression and waits for it; so does ctx ending.
func (l *streamLayer) Compressed() (io.ReadCloser, error) {
	src, err := l.open()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	b := &compressedBody{pr: pr, done: make(chan struct{})}
	// A compression blocked on a reader that went away ends with ctx.
	b.stop = context.AfterFunc(l.ctx, func() { pr.CloseWithError(context.Cause(l.ctx)) })
	l.running.Add(1)
	go func() {
		defer l.running.Done()
		defer close(b.done)
		h := sha256.New()
		n := &counter{}
		err := l.compress(io.MultiWriter(pw, h, n), src)
		src.Close()
		if err == nil {
			l.finish(h, n.n) // before the reader's EOF, after which the upload is committed by digest
		}
		pw.CloseWithError(err)
	}()
	return b, nil
}

func (l *streamLayer) compress(w io.Writer, src io.Reader) error {
	// Whole blocks into the pipe, as stream.Layer does.
	bw := bufio.NewWriterSize(w, 64<<10)
	var zw io.WriteCloser
	var err error
	if l.comp == compression.ZStd {
		zw, err = zstd.NewWriter(bw, zstd.WithEncoderConcurrency(1))
	} else {
		zw, err = gzip.NewWriterLevel(bw, gzip.BestSpeed)
	}
	if err != nil {
		return err
	}
	if _, err := io.Copy(zw, src); err != nil {
		zw.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

func (l *streamLayer) finish(h hash.Hash, size int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.digest = ggcr.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	l.size = size
	l.done = true
}

// errBodyClosed ends a compression whose reader closed before its end.
var errBodyClosed = errors.New("upload body closed")

// compressedBody is the upload's body: the pipe out of the compression.
type compressedBody struct {
	pr   *io.PipeReader
	stop func() bool
	done chan struct{}
}

func (b *compressedBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *compressedBody) Close() error {
	b.stop()
	b.pr.CloseWithError(errBodyClosed)
	<-b.done
	return nil
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
