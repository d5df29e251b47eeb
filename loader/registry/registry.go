// Package registry fetches images from OCI registries (distribution and
// the registries built on it) without a container engine. It owns the
// registry side of imgsave: references, the platform of a multi-platform
// index, credentials from the docker CLI's config, and turning what a
// registry serves into the stream a save would give.
//
// [Pull] hands on the blobs as the registry serves them, in an OCI
// image-layout tarball, and the reader of that stream (archive.Extract)
// checks every digest. What it refuses itself is what a hostile registry
// could use to fill the disk or hang a pull (issue 18): a blob past the
// size its descriptor gives ([ErrTooLong]), a body with a Content-Encoding,
// more than 10 redirects or one to a private IP literal, an exchange idle
// for longer than [Options].IdleTimeout ([ErrStalled]), and what is no
// manifest it reads ([ErrManifest]). Its errors are one line of bounded
// length. It imports nothing of imgsave's.
//
// [FetchEvidence] takes what a registry keeps beside an image: cosign 2's
// signature and attestation images at their tags, the image's referrers
// (the OCI 1.1 referrers API, else the referrers tag) whose artifact type
// is evidence ([EvidenceKind]: a Sigstore bundle, an in-toto attestation,
// an SBOM, provenance), and the attestation manifests BuildKit lists in
// an index; each checked against its digest and bounded
// ([MaxEvidenceBlob], [MaxEvidenceLayers], [MaxEvidenceBytes],
// [MaxEvidenceReferrers]).
package registry

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrPlatform is wrapped by the error of [Pull] when an image index holds
// no manifest for the platform asked for; the error lists those it holds.
var ErrPlatform = errors.New("no image for the platform")

// ErrUnauthorized is wrapped by the error of [Pull] and [Push] when the
// registry refuses the credentials found (or their absence): 401 or 403.
var ErrUnauthorized = errors.New("the registry refused access")

// classify names what went wrong with the registry at ref's host.
func classify(op, ref string, r name.Reference, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%s %s: %w with the credentials of the docker config, REGISTRY_AUTH_FILE or podman's auth.json, or none there (log in with `docker login %s`): %v",
			op, ref, ErrUnauthorized, r.Context().RegistryStr(), err)
	}
	return fmt.Errorf("%s %s: %w", op, ref, err)
}

// ErrTooLong is wrapped by the error of [Pull] when the registry sends
// more bytes for a blob than the manifest gives: they are refused at once,
// and nothing past the promised size is kept.
var ErrTooLong = errors.New("the registry sends more bytes than the manifest gives")

// Options tune [Pull].
type Options struct {
	// Platform is "os/arch" or "os/arch/variant"; "" means linux and the
	// architecture this program runs on. [Pull] also takes several,
	// separated by commas, or "all": every platform of an index but its
	// attestations (unknown/unknown); see [Pull].
	Platform string
	// Insecure speaks plain HTTP to the registry (or HTTPS without
	// checking its certificate). Loopback registries get plain HTTP
	// without it, as docker does.
	Insecure bool
	// Jobs is how many layers are fetched at once; 0 means 3, or 1 for a
	// registry on this machine (see [DefaultJobs]). With more than one,
	// the layers after the one being read are kept in files under
	// SpoolDir (the system's temporary folder for "") until read, at most
	// Jobs at a time; with 1, each layer streams straight through.
	Jobs     int
	SpoolDir string
	// IdleTimeout ends an exchange with the registry in which no byte
	// moves for that long (before the answer, or in its body) with an
	// error wrapping [ErrStalled]; 0 means [DefaultIdleTimeout]. A blob
	// that stalls is resumed as one whose connection broke.
	IdleTimeout time.Duration
	// EvidenceOf, for [FetchEvidence] of an index, are the digests
	// (sha256:...) of the index's manifests that were pulled: BuildKit's
	// attestation manifests are fetched for those alone. Nil fetches
	// those of every manifest.
	EvidenceOf []string
}

// DefaultJobs is how many layers a pull from registry (host[:port])
// fetches at once when not told: 3, so that a remote registry's latency
// and per-connection limits are hidden, and 1 for a registry on this
// machine (localhost or a loopback address), which sends faster than the
// layers are decompressed, hashed and written: fetching ahead there only
// wrote each layer to the spool and read it back. A 1.5 GB pull from
// the loopback registry took 2.2-2.3 s straight through against
// 2.3-3.0 s with 3 jobs, five interleaved rounds (#23).
func DefaultJobs(registry string) int {
	host := strings.Trim(registry, "[]")
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	if host == "localhost" {
		return 1
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Unmap().IsLoopback() {
		return 1
	}
	return 3
}

func parse(ref string, insecure bool) (name.Reference, error) {
	var o []name.Option
	if insecure {
		o = append(o, name.Insecure)
	}
	r, err := name.ParseReference(ref, o...)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	return r, nil
}

// Pulled is the stream [Pull] returns, and what it pulls.
type Pulled struct {
	io.ReadCloser
	// Source names the image pulled exactly, as repository@digest of its
	// manifest (the platform's, for an index), so that it can be asked
	// for again. For several platforms it names the index they came from.
	Source string
	// Sources name each platform's manifest pulled, as Source does, in the
	// stream's order: Source alone for one platform.
	Sources []string
	// Index names, for one platform picked from an index, that index as
	// repository@digest: `cosign sign` of a multi-platform image signs
	// the index, so its evidence is the platform's too (#30). Empty
	// otherwise (for several platforms, Source names the index).
	Index string
	// Size is the sum of the blobs the stream carries, config and layers
	// as the manifest lists them: the stream's length but for its tar
	// headers and small JSON files, for progress.
	Size int64
}

// Pull fetches ref's image (for the platform, when ref names an index)
// and returns it as an OCI image-layout tarball, streamed as it is fetched:
// every blob as the registry serves it (layers compressed), the manifest,
// index.json naming the image by ref, and oci-layout. Nothing is held in
// memory but the manifests and one config at a time. The last Read
// reports a failed fetch. Close stops the fetch and waits for it.
//
// For several platforms of an index (Options.Platform "all" or a list),
// index.json names instead an index, also in the stream, that lists each
// platform's manifest in the order ref's index does, and the stream holds
// every platform's blobs, each once. A platform of the list that the index
// lacks is an error wrapping [ErrPlatform] that lists those it holds; so
// is one that a single image is not. One platform chosen, whatever the
// way, gives the stream of one.
//
// Every exchange with the registry has a redirect limit and an idle
// timeout (see [Options]); a blob is refused past the size its descriptor
// gives ([ErrTooLong]). Errors name ref and say in one line of bounded
// length what was wrong.
func Pull(ctx context.Context, ref string, opts Options) (*Pulled, error) {
	p, err := pull(ctx, ref, opts)
	return p, oneLine(err)
}

func pull(ctx context.Context, ref string, opts Options) (*Pulled, error) {
	ctx, cancel := context.WithCancel(withIdleTimeout(ctx, opts.IdleTimeout))
	p, err := start(ctx, cancel, ref, opts)
	if err != nil {
		cancel()
	}
	return p, err
}

// start resolves ref to the images to pull and starts streaming them;
// cancel, which ends ctx, stops the stream.
func start(ctx context.Context, cancel context.CancelFunc, ref string, opts Options) (*Pulled, error) {
	sel, err := parseSelection(opts.Platform)
	if err != nil {
		return nil, err
	}
	var r name.Reference
	var imgs []chosen
	source, index := "", ""
	if sel.single() {
		one := opts
		if len(sel.want) == 1 {
			one.Platform = sel.want[0].String() // the same one twice is one
		}
		want, err := platform(one.Platform)
		if err != nil {
			return nil, err
		}
		var desc *remote.Descriptor
		if r, desc, err = get(ctx, "pull", ref, one); err != nil {
			return nil, err
		}
		img, err := pick(desc, want, one.Platform != "", ref)
		if err != nil {
			return nil, err
		}
		if desc.MediaType.IsIndex() {
			index = r.Context().Name() + "@" + desc.Digest.String()
		}
		imgs = []chosen{{img: img}}
	} else {
		var desc *remote.Descriptor
		if r, desc, err = get(ctx, "pull", ref, opts); err != nil {
			return nil, err
		}
		if imgs, err = pickAll(desc, sel, ref); err != nil {
			return nil, err
		}
		if len(imgs) > 1 {
			source = r.Context().Name() + "@" + desc.Digest.String()
		} else {
			imgs[0].platform = nil // the stream of one image, as for one platform
		}
	}
	parts, sources, err := partsOf(imgs, r)
	if err != nil {
		return nil, classify("pull", ref, r, err)
	}
	var layers []ggcr.Descriptor
	var size int64
	for _, p := range parts {
		layers = append(layers, p.layers...)
		if size, err = addSize(size, p.configSize, p.configDigest); err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		for _, l := range p.layers {
			if size, err = addSize(size, l.Size, l.Digest); err != nil {
				return nil, fmt.Errorf("pull %s: %w", ref, err)
			}
		}
	}
	b, err := newBlobs(ctx, r)
	if err != nil {
		return nil, classify("pull", ref, r, err)
	}
	var src layerSource = direct{ctx: ctx, b: b, layers: layers}
	if jobs := cmp.Or(opts.Jobs, DefaultJobs(r.Context().RegistryStr())); jobs > 1 && len(layers) > 1 {
		if src, err = newSpooled(ctx, b, layers, jobs, opts.SpoolDir); err != nil {
			return nil, err
		}
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := write(pw, parts, src, ref)
		src.close()
		pw.CloseWithError(oneLine(err))
	}()
	return &Pulled{ReadCloser: &pullReader{PipeReader: pr, cancel: cancel, done: done}, Source: cmp.Or(source, sources[0]), Sources: sources, Index: index, Size: size}, nil
}

// part is one image of the stream: what write needs of it.
type part struct {
	img      ggcr.Image
	platform *ggcr.Platform // as the nested index lists it; nil for one image
	// config says whether the image's config is written with it: not when
	// an image before it has the same config. configSize is what that
	// adds to the stream.
	config       bool
	configSize   int64
	configDigest ggcr.Hash
	layers       []ggcr.Descriptor // those not written with an image before it
}

// partsOf reads the manifests of imgs and says what each adds to the
// stream: a blob two platforms share is written with the first. It
// returns each image's repository@digest too.
func partsOf(imgs []chosen, r name.Reference) ([]part, []string, error) {
	seen := map[ggcr.Hash]bool{}
	var parts []part
	var sources []string
	for _, c := range imgs {
		m, err := c.img.Manifest()
		if err != nil {
			return nil, nil, err
		}
		md, err := c.img.Digest()
		if err != nil {
			return nil, nil, err
		}
		p := part{img: c.img, platform: c.platform, config: !seen[m.Config.Digest]}
		if p.layers, err = layersOf(m, seen); err != nil {
			if len(imgs) > 1 {
				err = fmt.Errorf("manifest %s: %w", md, err)
			}
			return nil, nil, err
		}
		if p.config {
			p.configSize, p.configDigest = m.Config.Size, m.Config.Digest
		}
		parts = append(parts, p)
		sources = append(sources, r.Context().Name()+"@"+md.String())
	}
	return parts, sources, nil
}

type pullReader struct {
	*io.PipeReader
	cancel context.CancelFunc
	done   chan struct{}
}

func (p *pullReader) Close() error {
	p.cancel()
	p.PipeReader.CloseWithError(errors.New("pull stopped"))
	<-p.done
	return nil
}

// addSize adds a blob's size, as a registry gave it, to the total of the
// image(s) pulled: a negative size, or one whose sum with the others
// would wrap past MaxInt64 (and then pass every later check of a size
// against what was read), is an error naming the blob (#28).
func addSize(total, n int64, d ggcr.Hash) (int64, error) {
	if n < 0 || n > math.MaxInt64-total {
		return 0, fmt.Errorf("%w: blob %s has the size %d, which is negative or, with the %d bytes of the blobs before it, more than any image can be", ErrManifest, d, n, total)
	}
	return total + n, nil
}

// layersOf lists the layers of m to fetch: each once, though the manifest
// may list one twice (A, B, A: docker and containerd pull such images, and
// the layout holds one blob per digest), and none that is in seen: the
// config, or a blob of an image before it in the stream. It adds m's
// config and layers to seen. A descriptor without a digest or with a
// negative size is refused.
func layersOf(m *ggcr.Manifest, seen map[ggcr.Hash]bool) ([]ggcr.Descriptor, error) {
	if m.Config.Digest.Algorithm == "" {
		return nil, fmt.Errorf("%w: the manifest names no config", ErrManifest)
	}
	if m.Config.Size < 0 {
		return nil, fmt.Errorf("%w: config %s has the negative size %d", ErrManifest, m.Config.Digest, m.Config.Size)
	}
	seen[m.Config.Digest] = true
	var out []ggcr.Descriptor
	for _, l := range m.Layers {
		if l.Digest.Algorithm == "" {
			return nil, fmt.Errorf("%w: a layer without a digest", ErrManifest)
		}
		if l.Size < 0 {
			return nil, fmt.Errorf("%w: layer %s has the negative size %d", ErrManifest, l.Digest, l.Size)
		}
		if !seen[l.Digest] {
			seen[l.Digest] = true
			out = append(out, l)
		}
	}
	return out, nil
}

// platform parses "os/arch[/variant]".
func platform(s string) (ggcr.Platform, error) {
	if s == "" {
		return ggcr.Platform{OS: "linux", Architecture: runtime.GOARCH}, nil
	}
	p, err := ggcr.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return ggcr.Platform{}, fmt.Errorf("platform %q: want OS/ARCH[/VARIANT]", s)
	}
	return *p, nil
}

// maxNested is how many nested indexes one pull reads at most: an index
// of a registry's choosing could otherwise make it ask for thousands.
const maxNested = 16

// pick resolves an index to the image for the platform: one of its
// images, or of the images of an index it holds (one level of nesting;
// deeper ones are not read). A single image is checked against the
// platform only when one was asked for.
func pick(desc *remote.Descriptor, want ggcr.Platform, asked bool, ref string) (ggcr.Image, error) {
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil || !asked {
			return img, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		got := ggcr.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		if got.OS != want.OS || got.Architecture != want.Architecture || (want.Variant != "" && got.Variant != want.Variant) {
			return nil, fmt.Errorf("pull %s: %w %s; it is %s", ref, ErrPlatform, want.String(), got.String())
		}
		return img, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	var have []string
	nested, deeper := 0, 0
	img, err := pickIn(idx, want, &have, func(child ggcr.ImageIndex) (ggcr.Image, error) {
		if nested++; nested > maxNested {
			return nil, nil
		}
		return pickIn(child, want, &have, func(ggcr.ImageIndex) (ggcr.Image, error) {
			deeper++
			return nil, nil
		})
	})
	if err != nil || img != nil {
		if err != nil {
			err = fmt.Errorf("pull %s: %w", ref, err)
		}
		return img, err
	}
	var why []string
	if nested > maxNested {
		why = append(why, fmt.Sprintf("%d nested indexes not read, past the first %d", nested-maxNested, maxNested))
	}
	if deeper > 0 {
		why = append(why, fmt.Sprintf("%d indexes nested deeper than one level not read", deeper))
	}
	// The platforms are the registry's words: never a format string.
	extra := ""
	if len(why) > 0 {
		extra = " (" + strings.Join(why, "; ") + ")"
	}
	return nil, fmt.Errorf("pull %s: %w %s; it holds %s%s", ref, ErrPlatform, want.String(), list(have, 8), extra)
}

// pickIn looks for want among idx's images, in order, calling nested for
// each index idx holds; the platforms seen go to have.
func pickIn(idx ggcr.ImageIndex, want ggcr.Platform, have *[]string, nested func(ggcr.ImageIndex) (ggcr.Image, error)) (ggcr.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, m := range im.Manifests {
		p := m.Platform
		if m.MediaType.IsIndex() {
			if p != nil && (p.OS != want.OS || p.Architecture != want.Architecture) {
				*have = append(*have, p.String())
				continue
			}
			child, err := idx.ImageIndex(m.Digest)
			if err != nil {
				return nil, fmt.Errorf("nested index %s: %w", m.Digest, err)
			}
			if err := checkRaw(child); err != nil {
				return nil, fmt.Errorf("nested index %s: %w", m.Digest, err)
			}
			img, err := nested(child)
			if err != nil || img != nil {
				return img, err
			}
			continue
		}
		if p == nil || p.OS == "unknown" || !m.MediaType.IsImage() {
			continue // attestations
		}
		if p.OS == want.OS && p.Architecture == want.Architecture && (want.Variant == "" || p.Variant == want.Variant) {
			img, err := idx.Image(m.Digest)
			if err != nil {
				return nil, err
			}
			if err := checkRaw(img); err != nil {
				return nil, fmt.Errorf("manifest %s: %w", m.Digest, err)
			}
			return img, nil
		}
		*have = append(*have, p.String())
	}
	return nil, nil
}

// checkRaw refuses a manifest or index fetched by digest that is no
// manifest imgsave reads (as [kind] says).
func checkRaw(m interface{ RawManifest() ([]byte, error) }) error {
	raw, err := m.RawManifest()
	if err != nil {
		return err
	}
	_, err = kind(raw, "")
	return err
}

// list says the first n of items, then how many more: the error of an
// index with 40,000 platforms was once a line of 680 KB (issue 18).
func list(items []string, n int) string {
	if len(items) == 0 {
		return "no image"
	}
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// write streams parts as an OCI image-layout tarball: for each image its
// config and layers (those not written before), then its manifest; for
// several images, the index listing them; then index.json, naming the
// image or that index by ref, and oci-layout.
func write(w io.Writer, parts []part, src layerSource, ref string) error {
	tw := tar.NewWriter(w)
	var listed []ggcr.Descriptor
	next := 0 // the layers of src written so far
	for i := range parts {
		d, err := writeImage(tw, parts[i], src, next)
		if err != nil {
			return err
		}
		next += len(parts[i].layers)
		// Its manifest and config are not needed any more: with several
		// platforms, one config at a time is held.
		parts[i].img = nil
		listed = append(listed, d)
	}
	top := listed[0]
	if len(parts) > 1 {
		nested, err := json.Marshal(ggcr.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: listed})
		if err != nil {
			return err
		}
		d, n, err := ggcr.SHA256(bytes.NewReader(nested))
		if err != nil {
			return err
		}
		if err := file(tw, blobName(d), nested); err != nil {
			return err
		}
		top = ggcr.Descriptor{MediaType: types.OCIImageIndex, Digest: d, Size: n}
	}
	top.Annotations = names(ref)
	index, err := json.Marshal(ggcr.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests:     []ggcr.Descriptor{top},
	})
	if err != nil {
		return err
	}
	if err := file(tw, "index.json", index); err != nil {
		return err
	}
	if err := file(tw, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	return tw.Close()
}

// writeImage writes p's config (unless an image before it did), its
// layers, the first of which is src's layer next, and its manifest. It
// returns the manifest's descriptor.
func writeImage(tw *tar.Writer, p part, src layerSource, next int) (ggcr.Descriptor, error) {
	mt, err := p.img.MediaType()
	if err != nil {
		return ggcr.Descriptor{}, err
	}
	rawManifest, err := p.img.RawManifest()
	if err != nil {
		return ggcr.Descriptor{}, err
	}
	md, err := p.img.Digest()
	if err != nil {
		return ggcr.Descriptor{}, err
	}
	if p.config {
		m, err := p.img.Manifest()
		if err != nil {
			return ggcr.Descriptor{}, err
		}
		rawConfig, err := p.img.RawConfigFile()
		if err != nil {
			return ggcr.Descriptor{}, err
		}
		if err := file(tw, blobName(m.Config.Digest), rawConfig); err != nil {
			return ggcr.Descriptor{}, err
		}
	}
	for i, l := range p.layers {
		rc := src.next(next + i)
		err = stream(tw, blobName(l.Digest), l.Size, rc)
		rc.Close()
		if err != nil {
			return ggcr.Descriptor{}, fmt.Errorf("layer %s: %w", l.Digest, err)
		}
	}
	if err := file(tw, blobName(md), rawManifest); err != nil {
		return ggcr.Descriptor{}, err
	}
	return ggcr.Descriptor{MediaType: mt, Digest: md, Size: int64(len(rawManifest)), Platform: p.platform}, nil
}

// names are the annotations of index.json's one entry: the image named as
// docker names what it pulls (docker.io/library/busybox:1.36, not
// go-containerregistry's index.docker.io), so that the directory is the
// one `docker pull` then `imgsave save` gives. A ref by digest gives none.
func names(ref string) map[string]string {
	annotations := map[string]string{}
	// go-containerregistry's name, not distribution/reference, whose
	// regular expressions, compiled at start, cost every imgsave command
	// 0.8 ms (#29).
	if t, err := name.NewTag(ref); err == nil {
		registry := t.RegistryStr()
		if registry == name.DefaultRegistry {
			registry = "docker.io"
		}
		annotations["io.containerd.image.name"] = registry + "/" + t.RepositoryStr() + ":" + t.TagStr()
		annotations["org.opencontainers.image.ref.name"] = t.TagStr()
	}
	return annotations
}

func blobName(d ggcr.Hash) string { return "blobs/" + d.Algorithm + "/" + d.Hex }

func file(tw *tar.Writer, name string, data []byte) error {
	return stream(tw, name, int64(len(data)), bytes.NewReader(data))
}

// stream writes size bytes of r under name; a blob shorter or longer than
// its descriptor says is an error ([ErrTooLong] for longer).
func stream(tw *tar.Writer, name string, size int64, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Size: size, Mode: 0o644, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	n, err := io.Copy(tw, io.LimitReader(r, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s: %w: got %d of %d bytes", name, io.ErrUnexpectedEOF, n, size)
	}
	var one [1]byte
	switch _, err := io.ReadFull(r, one[:]); err {
	case io.EOF:
		return nil
	case nil:
		return fmt.Errorf("%s: %w (%d)", name, ErrTooLong, size)
	default:
		return err
	}
}

// ErrNotFound is wrapped by [Describe]'s error when the registry has no
// such repository, tag or manifest.
var ErrNotFound = errors.New("the registry has no such image")

// Described is what a registry says of one image.
type Described struct {
	// Source is repository@digest of the image's manifest.
	Source string
	// DiffIDs are its layers' uncompressed digests, from its config.
	DiffIDs []string
}

// Describe asks the registry for ref's image (the platform's, for an
// index) without fetching its layers.
func Describe(ctx context.Context, ref string, opts Options) (*Described, error) {
	d, err := describe(withIdleTimeout(ctx, opts.IdleTimeout), ref, opts)
	return d, oneLine(err)
}

func describe(ctx context.Context, ref string, opts Options) (*Described, error) {
	r, img, err := resolve(ctx, "describe", ref, opts)
	if err != nil {
		return nil, err
	}
	md, err := img.Digest()
	if err != nil {
		return nil, classify("describe", ref, r, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, classify("describe", ref, r, err)
	}
	d := &Described{Source: r.Context().Name() + "@" + md.String()}
	for _, h := range cf.RootFS.DiffIDs {
		d.DiffIDs = append(d.DiffIDs, h.String())
	}
	return d, nil
}

// resolve finds ref's image: its manifest, or the platform's in an index.
// A repository, tag or manifest the registry lacks wraps [ErrNotFound].
func resolve(ctx context.Context, op, ref string, opts Options) (name.Reference, ggcr.Image, error) {
	want, err := platform(opts.Platform)
	if err != nil {
		return nil, nil, err
	}
	r, desc, err := get(ctx, op, ref, opts)
	if err != nil {
		return nil, nil, err
	}
	img, err := pick(desc, want, opts.Platform != "", ref)
	if err != nil {
		return nil, nil, err
	}
	return r, img, nil
}

// get fetches what ref names: an image's manifest or an index, checked to
// be one (see [kind]). A repository, tag or manifest the registry lacks
// wraps [ErrNotFound].
func get(ctx context.Context, op, ref string, opts Options) (name.Reference, *remote.Descriptor, error) {
	r, err := parse(ref, opts.Insecure)
	if err != nil {
		return nil, nil, err
	}
	desc, err := remote.Get(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithUserAgent("imgsave"), remote.WithTransport(defaultTransport))
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return nil, nil, fmt.Errorf("%s %s: %w", op, ref, ErrNotFound)
		}
		return nil, nil, classify(op, ref, r, err)
	}
	if desc.MediaType, err = kind(desc.Manifest, desc.MediaType); err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", op, ref, err)
	}
	return r, desc, nil
}
