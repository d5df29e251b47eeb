package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Platform is what an image runs on, as an image index lists it.
type Platform struct {
	OS           string
	Architecture string
	Variant      string
}

// String returns "os/arch[/variant]".
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// PushIndex sends several platforms of one image to ref as an OCI image
// index: each image as [Push] sends one (its config, its layers compressed
// while they are sent, its manifest, put by digest), then the index,
// listing each manifest with its image's Platform in the order of imgs,
// under ref. A layer two platforms share is sent once, and the layers of
// an image pushed before to ref (in the index there, for its platform)
// are not sent again while the registry holds them.
//
// The result's Index and Source name the index; its Platforms say what
// was pushed for each image. Two images of one platform, or one without
// an OS or architecture, are refused before anything is sent. Errors and
// cancelling are as for [Push].
func PushIndex(ctx context.Context, ref string, imgs []Image, opts PushOptions) (*Pushed, error) {
	if len(imgs) == 0 {
		return nil, fmt.Errorf("push %s: no image to list in an index", ref)
	}
	seen := map[Platform]bool{}
	for _, img := range imgs {
		if img.Platform.OS == "" || img.Platform.Architecture == "" {
			return nil, fmt.Errorf("push %s: an image without a platform (os %q, architecture %q) cannot be listed in an index", ref, img.Platform.OS, img.Platform.Architecture)
		}
		if seen[img.Platform] {
			return nil, fmt.Errorf("push %s: two images for the platform %s", ref, img.Platform)
		}
		seen[img.Platform] = true
	}
	return pushWith(ctx, ref, opts, func(ctx context.Context, p *pusher) (*Pushed, error) {
		return p.pushIndex(ctx, imgs)
	})
}

// pushIndex sends imgs, their manifests by digest, and their index under
// p.ref.
func (p *pusher) pushIndex(ctx context.Context, imgs []Image) (*Pushed, error) {
	repo := p.ref.Context()
	var earlier *ggcr.IndexManifest // what an earlier push put at p.ref
	before := func(ctx context.Context, i int, cfg ggcr.Hash, n int) []*ggcr.Descriptor {
		if earlier == nil {
			earlier = &ggcr.IndexManifest{}
			desc, err := p.pl.Get(ctx, p.ref)
			if err != nil || !desc.MediaType.IsIndex() {
				return nil
			}
			if m, err := ggcr.ParseIndexManifest(bytes.NewReader(desc.Manifest)); err == nil {
				earlier = m
			}
		}
		for _, d := range earlier.Manifests {
			if !d.MediaType.IsImage() || d.Platform == nil || platformOf(*d.Platform) != imgs[i].Platform {
				continue
			}
			desc, err := p.pl.Get(ctx, repo.Digest(d.Digest.String()))
			if err != nil {
				return nil
			}
			return p.pushedBefore(ctx, desc, cfg, n)
		}
		return nil
	}
	outs, raws, err := p.images(ctx, imgs, before)
	if err != nil {
		return nil, err
	}
	for i, raw := range raws {
		if err := p.up.Push(ctx, repo.Digest(outs[i].Manifest), rawManifest(raw)); err != nil {
			return nil, fmt.Errorf("manifest of %s: %w", imgs[i].Platform, err)
		}
		outs[i].Platform = imgs[i].Platform.String()
	}
	raw, err := index(imgs, raws)
	if err != nil {
		return nil, err
	}
	if err := p.up.Push(ctx, p.ref, rawIndex(raw)); err != nil {
		return nil, err
	}
	d, _, err := ggcr.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return &Pushed{Index: d.String(), Source: repo.Name() + "@" + d.String(), Platforms: outs}, nil
}

// index returns the OCI image index listing the manifests raws of imgs,
// in that order, each with its image's platform.
func index(imgs []Image, raws [][]byte) ([]byte, error) {
	if len(imgs) != len(raws) {
		return nil, errors.New("as many manifests as images")
	}
	m := ggcr.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: make([]ggcr.Descriptor, len(raws))}
	for i, raw := range raws {
		d, size, err := ggcr.SHA256(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		pl := imgs[i].Platform
		m.Manifests[i] = ggcr.Descriptor{
			MediaType: types.OCIManifestSchema1, Digest: d, Size: size,
			Platform: &ggcr.Platform{OS: pl.OS, Architecture: pl.Architecture, Variant: pl.Variant},
		}
	}
	return json.Marshal(m)
}

func platformOf(p ggcr.Platform) Platform {
	return Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// rawIndex is the index PushIndex made, as go-containerregistry puts it.
type rawIndex []byte

func (m rawIndex) RawManifest() ([]byte, error)        { return m, nil }
func (m rawIndex) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }

// Compile-time check: what Pusher.Push takes.
var _ remote.Taggable = rawIndex(nil)
