package imgsave

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
)

// Selector picks one image of a directory that holds several: by repo tag,
// by a prefix of its config digest (with or without "sha256:"), or by
// platform ("os/arch[/variant]"). The zero Selector picks the only image,
// or, among several platforms of one image, the one the engine runs.
type Selector struct {
	RepoTag  string
	Config   string
	Platform string
}

// open reads the directory and picks the selected image, without an
// engine to ask for its platform.
func (s Selector) open(dir string) (*archive.Dir, *archive.DirImage, error) {
	return s.openFor(context.Background(), nil, dir)
}

// openFor reads the directory and picks the selected image; among
// several platforms of one image, the one eng runs natively (eng is asked
// only then).
func (s Selector) openFor(ctx context.Context, eng Runner, dir string) (*archive.Dir, *archive.DirImage, error) {
	d, err := archive.OpenDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var native func() (string, error)
	if p, ok := eng.(platformer); ok {
		native = func() (string, error) { return p.Platform(ctx) }
	}
	im, err := d.SelectPlatform(s.RepoTag, s.Config, s.Platform, native)
	if err != nil {
		return nil, nil, err
	}
	return d, im, nil
}

// platformer is a runtime that says what platform it runs natively:
// *loader.Engine, *loader.Apptainer.
type platformer interface {
	Platform(ctx context.Context) (string, error)
}

// LoadOptions tune [Load].
type LoadOptions struct {
	Selector
	Events
	// LockDir holds the lock files that serialise loads; empty means
	// imgsave/locks in the user's cache directory.
	LockDir string
	// VerifiedDir holds the record of layer files already hashed, which
	// a load of an unchanged layer trusts instead of hashing it again (see
	// [archive.VerifiedRecord] for what that trusts); empty means imgsave
	// in the user's cache directory.
	VerifiedDir string
	// Fetch gets layers whose git-annex content is not here with `git annex
	// get` before loading, instead of failing with ErrContentMissing. Only
	// a load that is needed fetches: an image the engine has runs without.
	Fetch bool
	// RecordDir holds loaded.json, the record of the images Load put into
	// an engine (see [LoadedImage]), the only ones [GC] may remove; empty
	// means imgsave in the user's cache directory.
	RecordDir string
	// SIFCache is the folder of SIF files built for Apptainer; "" means
	// the default (see [SIFCacheDir]).
	SIFCache string
	// SIFSiteCaches are read-only SIF caches, filled by an administrator or
	// a service account, consulted before SIFCache.
	SIFSiteCaches []string
	// SIFTrustedOwners are users (names or uids) and %groups, besides the
	// caller and root, whose SIF files Apptainer may run (see [Load]).
	SIFTrustedOwners []string
	// VerifyKey, when not nil, is a public key (PEM, as cosign.pub) a
	// stored signature must verify with, down to the image's config,
	// before anything is loaded or run (see [CheckSigned]); an empty one
	// is an error, never "no check". The engine's image then counts as the
	// directory's only by ID, its config digest or manifest digest, both
	// of which cover the config the signature was checked on: an image
	// that only looks like it (same layers, creation time and platform,
	// another Entrypoint, Env or User) is not taken for it, and the
	// directory's own image is loaded instead.
	VerifyKey []byte
	// VerifySigstore, when not nil, is a Sigstore policy (keyless, with a
	// trusted root) a Sigstore bundle kept for the image must verify
	// with, checked as VerifyKey is; with both, either proves the image.
	VerifySigstore *Sigstore
}

// verifiedRecord opens the record of verified files in dir, by default
// imgsave in the user's cache directory, or returns nil (hash everything).
func verifiedRecord(dir string) *archive.VerifiedRecord {
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil
		}
		dir = filepath.Join(cache, "imgsave")
	}
	return archive.OpenVerifiedRecord(dir)
}

// LoadResult is what [Load] did.
type LoadResult struct {
	// EngineID is the ID the engine knows the image by: the config digest
	// on a classic store or podman, a manifest digest on a containerd store.
	EngineID digest.Digest
	// Image is the directory's image that was selected.
	Image *archive.DirImage
	// Loaded is false when the engine already had the image.
	Loaded bool
	// TagsKept are the image's tags that name another image in the engine
	// and were left there.
	TagsKept []string
	// SIF is, on Apptainer, the SIF file built from the image, which run
	// runs; EngineID is then the manifest digest that names it.
	SIF string
}

// Load makes sure the engine has the directory's image and returns the ID
// to run it by. Deciding presence reads only the small files and asks the
// engine about the image's names; the layers are read, checked and streamed
// into the engine's load only when the engine lacks the image. A tag that
// names another image in the engine is never moved: the image is then
// loaded by ID only, with a notice. Free tags are applied, also to an image
// already present.
//
// Concurrent calls for one image and engine load it once: the others wait
// on a lock file, with a notice, and then find it present. Waiting ends
// when ctx does. A directory whose layers are not present locally fails
// with an error wrapping [archive.ErrContentMissing] before anything is sent.
//
// With a VerifyKey, an image no stored signature proves is refused with an
// error wrapping [ErrUnsigned] before the engine is asked anything.
//
// eng is an [Engine] or a [SIFBuilder] (on Apptainer, Load builds the
// SIF file run runs: see [LoadResult.SIF]).
func Load(ctx context.Context, eng Runner, dir string, opts LoadOptions) (*LoadResult, error) {
	d, im, err := opts.Selector.openFor(ctx, eng, dir)
	if err != nil {
		return nil, err
	}
	if err := opts.checkSigned(ctx, d, im); err != nil {
		return nil, err
	}
	unuse, err := useImage(ctx, eng, im, opts)
	if err != nil {
		return nil, err
	}
	defer unuse()
	return loadImage(ctx, eng, dir, d, im, opts)
}

// useImage takes the use lock of im in r (see lockUse), which keeps [GC]
// from removing it, when r is an [Engine]. Only gc looks at that lock: a
// lock folder this user cannot write (a cache folder of another uid, a
// read-only home) goes without it rather than refusing the load or run.
func useImage(ctx context.Context, r Runner, im *archive.DirImage, opts LoadOptions) (unlock func(), err error) {
	if _, ok := r.(Engine); !ok {
		return func() {}, nil
	}
	unlock, err = lockUse(ctx, opts.LockDir, r.Endpoint(), im.ID, func() {
		opts.notice(fmt.Sprintf("waiting for imgsave gc, which is looking at %s", short(im.ID)))
	})
	if err != nil && ctx.Err() == nil {
		return func() {}, nil
	}
	return unlock, err
}

// checkSigned is [CheckSigned] with opts.VerifyKey, when there is one.
func (opts LoadOptions) checkSigned(ctx context.Context, d *archive.Dir, im *archive.DirImage) error {
	if opts.VerifyKey == nil && opts.VerifySigstore == nil {
		return nil
	}
	return checkSigned(ctx, d, im, opts.VerifyKey, opts.VerifySigstore)
}

// match is how the engine's image is taken for the directory's: [same],
// or [sameID] alone under a verify key.
func (opts LoadOptions) match() func(*loader.Image, *archive.DirImage) bool {
	if opts.VerifyKey != nil || opts.VerifySigstore != nil {
		return sameID
	}
	return same
}

// loadImage is [Load] of the image im of the directory d, opened already.
func loadImage(ctx context.Context, r Runner, dir string, d *archive.Dir, im *archive.DirImage, opts LoadOptions) (*LoadResult, error) {
	if b, ok := r.(SIFBuilder); ok {
		return loadSIF(ctx, b, d, im, opts)
	}
	eng, ok := r.(Engine)
	if !ok {
		return nil, noRunner(r)
	}
	match := opts.match()
	if res, err := findPresent(ctx, eng, im, match); res != nil || err != nil {
		return res, err
	}
	dirID := im.ID
	unlock, err := lockLoad(ctx, opts.LockDir, eng.Endpoint(), im.ID, func() {
		opts.notice(fmt.Sprintf("waiting for another imgsave that is loading %s", short(im.ID)))
	})
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another process may have loaded it while this one waited.
	if res, err := findPresent(ctx, eng, im, match); res != nil || err != nil {
		return res, err
	}
	if err := d.CheckPresent(im); err != nil {
		if !opts.Fetch || !errors.Is(err, archive.ErrContentMissing) {
			return nil, err
		}
		opts.notice(fmt.Sprintf("the engine lacks %s and its layers are not here: fetching them with git annex get", short(im.ID)))
		if err := annexGet(ctx, d, im); err != nil {
			return nil, err
		}
		if err := d.CheckPresent(im); err != nil {
			return nil, err
		}
	}
	t, err := sortTags(ctx, eng, im, nil, match)
	if err != nil {
		return nil, err
	}
	for _, tag := range t.others {
		opts.notice(fmt.Sprintf("tag %s already names another image in the engine; left as it is, loading %s by ID only", tag, short(im.ID)))
	}
	opts.notice(fmt.Sprintf("loading %s (%s) into the engine", dir, short(im.ID)))
	tarOpts := archive.TarOptions{Verified: verifiedRecord(opts.VerifiedDir)}
	if l, ok := eng.(interface{ LoadsDockerArchive() bool }); ok {
		tarOpts.DockerArchive = l.LoadsDockerArchive()
	}
	if v := zstdUnreadable(ctx, eng, im); v != "" {
		tarOpts.Decompress = true
		opts.notice(fmt.Sprintf("docker %s reads no zstd layers: sending %s's layers decompressed", v, short(im.ID)))
	}
	sent, err := loadStream(ctx, eng, d, im, append(t.free, t.ours...), tarOpts, opts.Progress)
	if errors.Is(err, loader.ErrContentRace) {
		// A race inside a containerd store's garbage collection, which
		// loading again gets past.
		opts.notice(fmt.Sprintf("the engine lost a blob while loading %s; loading again", short(im.ID)))
		sent, err = loadStream(ctx, eng, d, im, append(t.free, t.ours...), tarOpts, opts.Progress)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	// A cache: one not saved costs a hash of each layer next time.
	_ = tarOpts.Verified.Save()
	// The image as sent knows its manifest digest, the ID a containerd
	// store gives it, also when a layer's size was unknown until it was read.
	// Sent decompressed (to Docker 20.10, a classic store whose ID is the
	// config digest), it is not the directory's image: the result keeps
	// the directory's.
	if !tarOpts.Decompress {
		im = sent
	}
	got, err := presentWith(ctx, eng, im, match)
	if err != nil {
		return nil, err
	}
	if got == nil {
		return nil, fmt.Errorf("load %s: %w", dir, &NotLoadedError{ID: im.ID})
	}
	// What GC may remove later: without a record it never does, so a
	// record not written costs only that.
	rec, err := openLoadRecord(opts.RecordDir)
	if err == nil {
		err = rec.add(ctx, LoadedImage{Endpoint: eng.Endpoint(), ID: got.ID, Image: dirID, Tags: nonNil(append(t.free, t.ours...)), Loaded: time.Now().UTC()})
	}
	if err != nil {
		opts.notice(fmt.Sprintf("loaded %s, but not recorded as imgsave's for gc to remove: %v", short(got.ID), err))
	}
	return &LoadResult{EngineID: got.ID, Image: im, Loaded: true, TagsKept: nonNil(t.others)}, nil
}

// loadStream writes the image's tar into the engine's load and waits for
// both sides: the writer has ended when it returns. It returns the image
// as WriteTar sent it, or im when the engine did not read it all.
func loadStream(ctx context.Context, eng Engine, d *archive.Dir, im *archive.DirImage, tags []string, opts archive.TarOptions, progress func(int64)) (*archive.DirImage, error) {
	src := &tarSource{ctx: ctx, d: d, im: im, tags: tags, opts: opts, progress: progress}
	_, err := eng.Load(ctx, src)
	if werr := src.close(); err == nil && werr != nil {
		err = werr
	}
	if src.sent == nil {
		return im, err
	}
	return src.sent, err
}

// tarSource is the image's tar as the reader Engine.Load takes. An engine
// that copies it with io.Copy gets it through WriteTo, written straight
// into its socket or pipe: no goroutine and no copy through an io.Pipe,
// which cost a load a third of its memory moves (#14). Read serves any
// other reader through a pipe fed by a goroutine.
type tarSource struct {
	ctx      context.Context
	d        *archive.Dir
	im       *archive.DirImage
	tags     []string
	opts     archive.TarOptions
	progress func(int64)
	sent     *archive.DirImage // what WriteTar sent, once it has

	pr   *io.PipeReader
	done chan error
	n    int64
}

// WriteTo writes the whole tar to w; an error is the tar's (a digest
// mismatch, a missing file) or w's.
func (s *tarSource) WriteTo(w io.Writer) (int64, error) {
	if s.pr != nil {
		return io.Copy(w, onlyReader{s})
	}
	cw := &countWriter{w: w, progress: s.progress}
	sent, err := s.d.WriteTarWith(s.ctx, cw, s.im, s.tags, s.opts)
	if err == nil {
		s.sent = sent
	}
	return cw.n, err
}

func (s *tarSource) Read(p []byte) (int, error) {
	if s.pr == nil {
		pr, pw := io.Pipe()
		s.pr, s.done = pr, make(chan error, 1)
		go func() {
			sent, err := s.d.WriteTarWith(s.ctx, pw, s.im, s.tags, s.opts)
			if err == nil {
				s.sent = sent // read after close has received from done
			}
			pw.CloseWithError(err)
			s.done <- err
		}()
	}
	n, err := s.pr.Read(p)
	s.n += int64(n)
	if s.progress != nil && n > 0 {
		s.progress(s.n)
	}
	return n, err
}

// close stops and waits for the goroutine Read started, if any, and
// returns its error.
func (s *tarSource) close() error {
	if s.pr == nil {
		return nil
	}
	s.pr.CloseWithError(errors.New("load ended")) // unblocks a writer the engine stopped reading
	return <-s.done
}

// onlyReader hides WriteTo.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// countWriter counts what it passes on, for progress.
type countWriter struct {
	w        io.Writer
	n        int64
	progress func(int64)
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(c.n)
	}
	return n, err
}

func short(d digest.Digest) string {
	if e := d.Encoded(); len(e) >= 12 {
		return e[:12]
	}
	return string(d)
}

// nonNil makes an empty list print as [] in JSON.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// zstdUnreadable is the engine's version when it cannot load the image
// because of its zstd layers (see loader.Engine.ReadsZstd), else "".
func zstdUnreadable(ctx context.Context, eng Engine, im *archive.DirImage) string {
	z, ok := eng.(interface {
		ReadsZstd(context.Context) (bool, string)
	})
	if !ok || !slices.ContainsFunc(im.Layers, func(l archive.DirLayer) bool { return strings.HasSuffix(l.MediaType, "+zstd") }) {
		return ""
	}
	if reads, v := z.ReadsZstd(ctx); !reads {
		return v
	}
	return ""
}
