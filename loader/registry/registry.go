// Package registry fetches images from OCI registries (distribution and
// the registries built on it) without a container engine. It owns the
// registry side of imgsave: references, the platform of a multi-platform
// index, credentials from the docker CLI's config, and turning what a
// registry serves into the stream a save would give.
//
// It refuses nothing itself: [Pull] hands on the blobs as the registry
// serves them, in an OCI image-layout tarball, and the reader of that
// stream (archive.Extract) checks every digest. It imports nothing of
// imgsave's.
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
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/distribution/reference"
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

// Options tune [Pull].
type Options struct {
	// Platform is "os/arch" or "os/arch/variant"; "" means linux and the
	// architecture this program runs on.
	Platform string
	// Insecure speaks plain HTTP to the registry (or HTTPS without
	// checking its certificate). Loopback registries get plain HTTP
	// without it, as docker does.
	Insecure bool
	// Jobs is how many layers are fetched at once; 0 means 3. With more
	// than one, the layers after the one being read are kept in files
	// under SpoolDir (the system's temporary folder for "") until read, at
	// most Jobs at a time; with 1, each layer streams straight through.
	Jobs     int
	SpoolDir string
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
	// for again.
	Source string
	// Size is the sum of the blobs the stream carries, config and layers
	// as the manifest lists them: the stream's length but for its tar
	// headers and small JSON files, for progress.
	Size int64
}

// Pull fetches ref's image (for the platform, when ref names an index)
// and returns it as an OCI image-layout tarball, streamed as it is fetched:
// every blob as the registry serves it (layers compressed), the manifest,
// index.json naming the image by ref, and oci-layout. Nothing is held in
// memory but the manifest and config. The last Read reports a failed fetch.
// Close stops the fetch and waits for it.
func Pull(ctx context.Context, ref string, opts Options) (*Pulled, error) {
	ctx, cancel := context.WithCancel(ctx)
	r, img, err := resolve(ctx, "pull", ref, opts)
	if err != nil {
		cancel()
		return nil, err
	}
	b, err := newBlobs(ctx, r)
	if err != nil {
		cancel()
		return nil, classify("pull", ref, r, err)
	}
	m, err := img.Manifest()
	if err != nil {
		cancel()
		return nil, classify("pull", ref, r, err)
	}
	var src layerSource = direct{ctx: ctx, b: b, layers: m.Layers}
	if jobs := cmp.Or(opts.Jobs, 3); jobs > 1 && len(m.Layers) > 1 {
		if src, err = newSpooled(ctx, b, m.Layers, jobs, opts.SpoolDir); err != nil {
			cancel()
			return nil, err
		}
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := write(pw, img, src, ref)
		src.close()
		pw.CloseWithError(err)
	}()
	md, err := img.Digest()
	if err != nil {
		cancel()
		return nil, classify("pull", ref, r, err)
	}
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return &Pulled{ReadCloser: &pullReader{PipeReader: pr, cancel: cancel, done: done}, Source: r.Context().Name() + "@" + md.String(), Size: size}, nil
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

// pick resolves an index to the image for the platform. A single image
// is checked against the platform only when one was asked for.
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
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	var have []string
	for _, m := range im.Manifests {
		p := m.Platform
		if p == nil || p.OS == "unknown" || !m.MediaType.IsImage() {
			continue // attestations
		}
		if p.OS == want.OS && p.Architecture == want.Architecture && (want.Variant == "" || p.Variant == want.Variant) {
			return idx.Image(m.Digest)
		}
		have = append(have, p.String())
	}
	return nil, fmt.Errorf("pull %s: %w %s; it holds %s", ref, ErrPlatform, want.String(), strings.Join(have, ", "))
}

// write streams img as an OCI image-layout tarball: config, layers,
// manifest, then index.json and oci-layout.
func write(w io.Writer, img ggcr.Image, src layerSource, ref string) error {
	tw := tar.NewWriter(w)
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if err := file(tw, blobName(m.Config.Digest), rawConfig); err != nil {
		return err
	}
	for i, l := range m.Layers {
		rc := src.next(i)
		err = stream(tw, blobName(l.Digest), l.Size, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.Digest, err)
		}
	}
	md, err := img.Digest()
	if err != nil {
		return err
	}
	if err := file(tw, blobName(md), rawManifest); err != nil {
		return err
	}
	// Named as docker names what it pulls (docker.io/library/busybox:1.36,
	// not go-containerregistry's index.docker.io), so that the directory
	// is the one `docker pull` then `imgsave save` gives.
	annotations := map[string]string{}
	if n, err := reference.ParseNormalizedNamed(ref); err == nil {
		if t, ok := reference.TagNameOnly(n).(reference.Tagged); ok {
			if _, digested := n.(reference.Digested); !digested {
				annotations["io.containerd.image.name"] = t.String()
				annotations["org.opencontainers.image.ref.name"] = t.Tag()
			}
		}
	}
	index, err := json.Marshal(ggcr.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests:     []ggcr.Descriptor{{MediaType: mt, Digest: md, Size: int64(len(rawManifest)), Annotations: annotations}},
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

func blobName(d ggcr.Hash) string { return "blobs/" + d.Algorithm + "/" + d.Hex }

func file(tw *tar.Writer, name string, data []byte) error {
	return stream(tw, name, int64(len(data)), bytes.NewReader(data))
}

// stream writes size bytes of r under name; a blob shorter or longer than
// its descriptor says is an error.
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
	return nil
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
	r, err := parse(ref, opts.Insecure)
	if err != nil {
		return nil, nil, err
	}
	want, err := platform(opts.Platform)
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
	img, err := pick(desc, want, opts.Platform != "", ref)
	if err != nil {
		return nil, nil, err
	}
	return r, img, nil
}
