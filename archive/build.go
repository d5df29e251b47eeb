package archive

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

// ErrNotImage is returned for an archive with neither manifest.json nor
// index.json.
var ErrNotImage = errors.New("neither manifest.json nor index.json in the archive: not a saved image")

// build resolves the archive's images: from manifest.json when there is one
// (every engine's save writes it, and `docker load` reads it), else from
// index.json (OCI archives). index.json is walked in both cases so that each
// of its references is checked and missing platforms are reported.
func (x *extractor) build() (*Result, error) {
	if err := x.checkTree(); err != nil {
		return nil, err
	}
	res := &Result{}
	docker, index := x.meta("manifest.json"), x.meta("index.json")
	if docker == nil && index == nil {
		return nil, ErrNotImage
	}
	var fromIndex []manifest.Image
	if index != nil {
		idx, err := manifest.ParseIndex(bytes.NewReader(index))
		if err != nil {
			return nil, fmt.Errorf("index.json: %w", err)
		}
		for i, d := range idx.Manifests {
			ims, err := x.walk(d, false, res)
			if err != nil {
				return nil, fmt.Errorf("index.json: manifests[%d]: %w", i, err)
			}
			fromIndex = append(fromIndex, ims...)
		}
	}
	if docker == nil {
		res.Images = merge(fromIndex)
	} else {
		entries, err := manifest.ParseDocker(bytes.NewReader(docker))
		if err != nil {
			return nil, fmt.Errorf("manifest.json: %w", err)
		}
		for i, e := range entries {
			im, err := x.image(e.Config, e.Layers)
			if err != nil {
				return nil, fmt.Errorf("manifest.json: image %d: %w", i, err)
			}
			im.RepoTags = e.RepoTags
			res.Images = append(res.Images, im)
		}
		res.Images = merge(res.Images)
		// A multi-platform layout's manifest.json (imgsave's) lists one
		// platform, the one `docker load` should get; index.json has them
		// all.
		for _, im := range merge(fromIndex) {
			if !slices.ContainsFunc(res.Images, func(o manifest.Image) bool { return o.Config.Digest == im.Config.Digest }) {
				res.Images = append(res.Images, im)
			}
		}
	}
	if len(res.Images) == 0 {
		return nil, fmt.Errorf("no platform of the image has all its blobs in the archive (missing: %s)", manifest.List(res.Dropped, manifest.MaxListed))
	}
	return res, nil
}

func (x *extractor) meta(name string) []byte {
	if e := x.entries[name]; e != nil && e.kind == kindMeta {
		return e.data
	}
	return nil
}

// blob finds the blob a descriptor points to and checks its size; its
// digest was checked against its name when it was staged.
func (x *extractor) blob(d v1.Descriptor) (*entry, error) {
	p := manifest.BlobPath(d.Digest)
	e, err := x.lookup(p)
	if err != nil {
		return nil, err
	}
	if e.rawSize != d.Size {
		return nil, fmt.Errorf("%q: size %d, descriptor says %d", p, e.rawSize, d.Size)
	}
	return e, nil
}

// walk follows one descriptor of an index. Inside a nested index (a
// multi-platform image) a platform whose blobs are missing is dropped and
// noted; at the top level a missing blob is an error.
func (x *extractor) walk(d v1.Descriptor, nested bool, res *Result) ([]manifest.Image, error) {
	e, err := x.blob(d)
	if err != nil {
		return nil, err
	}
	b, err := x.readStaged(e)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", manifest.BlobPath(d.Digest), err)
	}
	switch {
	case manifest.IsIndex(d.MediaType):
		if nested {
			return nil, fmt.Errorf("%q: index nested more than once", manifest.BlobPath(d.Digest))
		}
		idx, err := manifest.ParseIndex(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", manifest.BlobPath(d.Digest), err)
		}
		var out []manifest.Image
		ai := attestedIndex{desc: d, data: b, idx: idx, platforms: map[digest.Digest][]byte{}, configs: map[digest.Digest]digest.Digest{}}
		attested := false
		for _, c := range idx.Manifests {
			if c.Platform != nil && c.Platform.OS == "unknown" {
				attested = attested || isAttestation(c)
				continue // build attestations, not runnable images
			}
			ims, err := x.walk(c, true, res)
			if err != nil {
				if errors.Is(err, errMissing) {
					res.Dropped = append(res.Dropped, platform(c))
					continue
				}
				return nil, err
			}
			out = append(out, ims...)
			if len(ims) == 1 {
				if e, err := x.blob(c); err == nil {
					if mb, err := x.readStaged(e); err == nil {
						ai.platforms[c.Digest] = mb
						ai.configs[c.Digest] = ims[0].Config.Digest
					}
				}
			}
		}
		if attested {
			x.attested = append(x.attested, ai)
		}
		return withNames(out, d), nil
	case manifest.IsManifest(d.MediaType):
		m, err := manifest.Parse(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", manifest.BlobPath(d.Digest), err)
		}
		layers := make([]string, len(m.Layers))
		for i, l := range m.Layers {
			if _, err := x.blob(l); err != nil {
				return nil, err
			}
			layers[i] = manifest.BlobPath(l.Digest)
		}
		if _, err := x.blob(m.Config); err != nil {
			return nil, err
		}
		im, err := x.image(manifest.BlobPath(m.Config.Digest), layers)
		if err != nil {
			return nil, err
		}
		return withNames([]manifest.Image{im}, d), nil
	}
	return nil, fmt.Errorf("%q: unsupported media type %q", manifest.BlobPath(d.Digest), d.MediaType)
}

func platform(d v1.Descriptor) string {
	if d.Platform == nil {
		return string(d.Digest)
	}
	p := d.Platform.OS + "/" + d.Platform.Architecture
	if d.Platform.Variant != "" {
		p += "/" + d.Platform.Variant
	}
	return p
}

// withNames gives images the name an index descriptor's annotations carry.
func withNames(ims []manifest.Image, d v1.Descriptor) []manifest.Image {
	if tag, ok := repoTag(d); ok {
		for i := range ims {
			ims[i].RepoTags = append(ims[i].RepoTags, tag)
		}
	}
	return ims
}

var errMissing = errors.New("not in the archive")

// image checks one image: its config is a JSON file whose digest is stated
// by its name where the name states one, and each layer's content (after
// decompression) has the digest the config's rootfs.diff_ids gives at its
// position. It marks the files it uses for the layout.
func (x *extractor) image(config string, layers []string) (manifest.Image, error) {
	var im manifest.Image
	ce, err := x.lookup(config)
	if err != nil {
		return im, err
	}
	b, err := x.readStaged(ce)
	if err != nil {
		return im, fmt.Errorf("config %q: %w", config, err)
	}
	cfg, err := manifest.ConfigFromBytes(b)
	if err != nil {
		return im, fmt.Errorf("config %q: %w", config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return im, fmt.Errorf("config %q: %d diff_ids for %d layers", config, len(cfg.RootFS.DiffIDs), len(layers))
	}
	im.Config = v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: ce.raw, Size: ce.size}
	im.Platform = &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	x.use(ce, ce.raw)
	for i, l := range layers {
		le, err := x.lookup(l)
		if err != nil {
			return im, err
		}
		if want := cfg.RootFS.DiffIDs[i]; le.content != want {
			return im, &DigestMismatchError{Path: l, Got: le.content, Want: want}
		}
		x.use(le, le.content)
		im.Layers = append(im.Layers, v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: le.content, Size: le.size})
	}
	return im, nil
}

func (x *extractor) use(e *entry, d digest.Digest) {
	e.dest = manifest.BlobPath(d)
}

// merge folds images with the same config (one image under several names)
// into one.
func merge(ims []manifest.Image) []manifest.Image {
	var out []manifest.Image
	for _, im := range ims {
		i := slices.IndexFunc(out, func(o manifest.Image) bool { return o.Config.Digest == im.Config.Digest })
		if i < 0 {
			out = append(out, im)
			continue
		}
		out[i].RepoTags = append(out[i].RepoTags, im.RepoTags...)
	}
	return out
}

// keepPlatforms narrows res to the images of the platforms asked for, and
// the files written to theirs: a layer two platforms share stays.
func (x *extractor) keepPlatforms(res *Result, platforms []string) error {
	var kept []manifest.Image
	var have []string
	for _, im := range res.Images {
		have = append(have, manifest.PlatformString(im.Platform))
	}
	for _, p := range platforms {
		pp, err := manifest.ParsePlatform(p)
		if err != nil {
			return err
		}
		p = manifest.PlatformString(&pp)
		i := slices.IndexFunc(res.Images, func(im manifest.Image) bool { return SamePlatform(manifest.PlatformString(im.Platform), p) })
		if i < 0 {
			return fmt.Errorf("%w %s; the save holds %s", ErrPlatform, p, manifest.List(have, manifest.MaxListed))
		}
		if !slices.ContainsFunc(kept, func(im manifest.Image) bool { return im.Config.Digest == res.Images[i].Config.Digest }) {
			kept = append(kept, res.Images[i])
		}
	}
	want := map[string]bool{}
	for _, im := range kept {
		want[manifest.BlobPath(im.Config.Digest)] = true
		for _, l := range im.Layers {
			want[manifest.BlobPath(l.Digest)] = true
		}
	}
	for _, e := range x.entries {
		if e.dest != "" && !want[e.dest] {
			e.dest = ""
		}
	}
	res.Images = kept
	return nil
}
