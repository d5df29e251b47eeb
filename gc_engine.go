package imgsave

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/loader"
)

// GCEngineImage is an image imgsave loaded into the engine that no
// dataset given references: one [GC] takes, or one it keeps, and why.
type GCEngineImage struct {
	ID   digest.Digest `json:"id"`
	Tags []string      `json:"tags"`
	Size int64         `json:"size"`
	// Reason is why it is kept: another tag, a container, a load or
	// run using it, or the engine's refusal.
	Reason string `json:"reason,omitempty"`
}

// imageRemover is an [Engine] that says which images its containers use
// and removes images: *loader.Engine.
type imageRemover interface {
	Engine
	// ContainerImages lists the IDs of the images containers use,
	// running or stopped.
	ContainerImages(ctx context.Context) ([]digest.Digest, error)
	// Remove removes images by tag or ID, never forced.
	Remove(ctx context.Context, names ...string) error
}

var _ imageRemover = (*loader.Engine)(nil)

// gcEngine is [GC] of the engine's images: those the record of loads
// holds for it (see [LoadedImage]) that no image of the collections
// (used: config and manifest digests) is, whose tags are all tags
// imgsave set, and that no container uses. With opts.Remove it removes
// them, each under its use lock taken exclusively (see lockUse), so
// never one a load or run is using; the engine's refusal keeps an image,
// with its reason. Records of images the engine no longer has are
// dropped. When unreadable says why some dataset directory could not be
// read, it could be any image's: none is taken.
func gcEngine(ctx context.Context, used map[digest.Digest]bool, unreadable string, opts GCOptions, rep *GCReport) error {
	r, ok := opts.Engine.(Engine)
	if !ok {
		return nil // no image store: nothing loaded to remove
	}
	rec, err := openLoadRecord(opts.RecordDir)
	if err != nil {
		return err
	}
	all, err := rec.read()
	if err != nil {
		return err
	}
	endpoint := r.Endpoint()
	var mine []LoadedImage
	for _, l := range all {
		if l.Endpoint == endpoint && !used[l.ID] && !used[l.Image] {
			mine = append(mine, l)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	if unreadable != "" {
		rep.KeptEngineImages = unreadable
		return nil
	}
	eng, ok := r.(imageRemover)
	if !ok {
		rep.KeptEngineImages = "the engine cannot say which images its containers use"
		return nil
	}
	slices.SortFunc(mine, func(a, b LoadedImage) int { return a.Loaded.Compare(b.Loaded) })
	// The use locks first, then the engine's answers: a run that starts
	// after them waits for gc, one that started before holds its lock.
	if opts.Remove {
		var unlocks []func()
		defer func() {
			for _, u := range unlocks {
				u()
			}
		}()
		free := mine[:0]
		for _, l := range mine {
			unlock, ok, err := tryLockUse(opts.LockDir, endpoint, l.Image)
			if err != nil {
				return err
			}
			if !ok {
				rep.EngineKept = append(rep.EngineKept, GCEngineImage{ID: l.ID, Tags: nonNil(l.Tags), Reason: "an imgsave load or run is using it"})
				continue
			}
			unlocks = append(unlocks, unlock)
			free = append(free, l)
		}
		mine = free
	}
	inUse, err := eng.ContainerImages(ctx)
	if err != nil {
		return err
	}
	var gone []digest.Digest
	defer func() {
		// A cache of what gc may remove: a stale entry costs an inspect.
		_ = rec.forget(context.WithoutCancel(ctx), endpoint, gone)
	}()
	for _, l := range mine {
		got, err := eng.Inspect(ctx, string(l.ID))
		if errors.Is(err, loader.ErrImageNotFound) {
			gone = append(gone, l.ID)
			continue
		}
		if err != nil {
			return err
		}
		img := GCEngineImage{ID: got.ID, Tags: nonNil(got.RepoTags), Size: got.Size}
		if other := otherTags(got.RepoTags, l.Tags); len(other) > 0 {
			img.Reason = "tagged " + strings.Join(other, ", ") + ", which imgsave did not set"
		} else if slices.Contains(inUse, got.ID) {
			img.Reason = "a container uses it"
		} else if opts.Remove {
			if err := removeEngineImage(ctx, eng, got); err != nil {
				if ctx.Err() != nil {
					return err
				}
				img.Reason = "the engine refused: " + err.Error()
			} else {
				gone = append(gone, l.ID)
			}
		}
		if img.Reason != "" {
			rep.EngineKept = append(rep.EngineKept, img)
			continue
		}
		rep.EngineImages = append(rep.EngineImages, img)
		rep.EngineBytes += img.Size
	}
	return nil
}

// otherTags are the engine's tags of an image that are none of those
// imgsave set.
func otherTags(tags, set []string) []string {
	var out []string
	for _, t := range tags {
		if !slices.ContainsFunc(set, func(s string) bool { return sameName(t, s) }) {
			out = append(out, t)
		}
	}
	return out
}

// removeEngineImage removes img from the engine: its tags, which takes the
// image with the last on docker and podman, then the image by ID if it
// is still there. Both engines refuse an ID that several tags name.
func removeEngineImage(ctx context.Context, eng imageRemover, img *loader.Image) error {
	if len(img.RepoTags) > 0 {
		if err := eng.Remove(ctx, img.RepoTags...); err != nil {
			return err
		}
	}
	if _, err := eng.Inspect(ctx, string(img.ID)); errors.Is(err, loader.ErrImageNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	return eng.Remove(ctx, string(img.ID))
}
