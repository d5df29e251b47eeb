package imgsave

import (
	"context"
	"errors"
	"slices"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
)

// Whether the engine already holds a directory's image, and under which
// of its tags: what load asks before it sends anything.

// findPresent returns the result for an image the engine already has, as
// match judges it, with its free tags applied, or nil.
func findPresent(ctx context.Context, eng Engine, im *archive.DirImage, match func(*loader.Image, *archive.DirImage) bool) (*LoadResult, error) {
	got, err := presentWith(ctx, eng, im, match)
	if err != nil || got == nil {
		return nil, err
	}
	t, err := sortTags(ctx, eng, im, got, match)
	if err != nil {
		return nil, err
	}
	for _, tag := range t.free {
		if err := eng.Tag(ctx, string(got.ID), tag); err != nil {
			return nil, err
		}
	}
	return &LoadResult{EngineID: got.ID, Image: im, TagsKept: nonNil(t.others)}, nil
}

// present looks for the image without loading anything: by config digest
// (the ID on classic stores and podman), by the manifest digest imgsave
// loads it under (the ID on containerd stores), and by its tags (for an
// image another tool loaded). A hit counts only if its layers are the
// image's own, so a tag moved to another image is never taken for it. It
// returns the engine's image, or nil when the engine lacks it.
func present(ctx context.Context, eng Engine, im *archive.DirImage) (*loader.Image, error) {
	return presentWith(ctx, eng, im, same)
}

// presentWith is [present], a hit judged by match ([same] or [sameID]).
func presentWith(ctx context.Context, eng Engine, im *archive.DirImage, match func(*loader.Image, *archive.DirImage) bool) (*loader.Image, error) {
	// The two IDs first, at once (over the engine's socket; one after the
	// other through its CLI): one of them is the store's, and the other
	// one's miss costs a containerd store 1 ms. The tags, which find an
	// image the engine built itself, only when both miss: a containerd
	// store's inspect of a hit costs 4-6 ms of its CPU, and three at once
	// (the IDs and a tag) took 17 ms where one took 5 (#23).
	ids := []string{string(im.ID)}
	if im.ManifestDigest != "" {
		ids = append(ids, string(im.ManifestDigest))
	}
	for _, names := range [][]string{ids, im.RepoTags} {
		got, err := presentAs(ctx, eng, im, names, match)
		if got != nil || err != nil {
			return got, err
		}
	}
	return nil, nil
}

// presentAs asks the engine for each of names, as many at once as it
// takes, and returns the first, in names' order, that match takes for im.
func presentAs(ctx context.Context, eng Engine, im *archive.DirImage, names []string, match func(*loader.Image, *archive.DirImage) bool) (*loader.Image, error) {
	atOnce := 1
	if c, ok := eng.(interface{ InspectsAtOnce() int }); ok {
		atOnce = max(1, c.InspectsAtOnce())
	}
	// An engine asked through its CLI, one process per question, is asked
	// about all names in one (podman: 25 ms a process).
	if a, ok := eng.(interface {
		InspectsInOne() bool
		InspectAll(context.Context, []string) ([]*loader.Image, error)
	}); ok && len(names) > 1 && a.InspectsInOne() {
		imgs, err := a.InspectAll(ctx, names)
		if err != nil {
			return nil, err
		}
		for _, img := range imgs {
			if img != nil && match(img, im) {
				return img, nil
			}
		}
		return nil, nil
	}
	type answer struct {
		img *loader.Image
		err error
	}
	answers := make([]chan answer, len(names))
	ask := func(i int) {
		answers[i] = make(chan answer, 1)
		go func() {
			img, err := eng.Inspect(ctx, names[i])
			answers[i] <- answer{img, err}
		}()
	}
	for i := range min(len(names), atOnce) {
		ask(i)
	}
	for i := range names {
		if i+atOnce < len(names) {
			ask(i + atOnce)
		}
		a := <-answers[i]
		switch {
		case errors.Is(a.err, loader.ErrImageNotFound):
		case a.err != nil:
			return nil, a.err
		case match(a.img, im):
			return a.img, nil
		}
	}
	return nil, nil
}

// same reports whether the engine's image is im: same layers, and the same
// ID on either store ([sameID]), or (an image loaded by another tool into a
// containerd store, under a manifest imgsave did not write) the same
// creation time and platform. The look-alike match is kept for runs
// without a key: a containerd store knows an image pulled or loaded by
// another tool by that tool's manifest digest, which is neither of the
// directory's IDs, and without it every run would load the image again.
// It does not see the config's Entrypoint, Env or User, so a verify key
// uses [sameID] alone (#28).
func same(got *loader.Image, im *archive.DirImage) bool {
	if sameID(got, im) {
		return true
	}
	c := im.Config
	return slices.Equal(got.DiffIDs, c.RootFS.DiffIDs) && c.Created != nil && got.Created.Equal(*c.Created) && got.OS == c.OS && got.Architecture == c.Architecture
}

// sameID reports whether the engine's image is im by ID: its config digest
// (classic stores, podman) or the manifest digest imgsave loads it under
// (containerd stores). Either digest covers the config byte for byte, so
// the image runs with the config a signature was checked on.
func sameID(got *loader.Image, im *archive.DirImage) bool {
	if !slices.Equal(got.DiffIDs, im.Config.RootFS.DiffIDs) {
		return false
	}
	return got.ID == im.ID || (im.ManifestDigest != "" && got.ID == im.ManifestDigest)
}

// tagSort is an image's tags sorted by what they name in the engine.
type tagSort struct {
	free   []string // nothing: a load applies them
	ours   []string // this image already
	others []string // another image, which a load would silently move
}

// sortTags asks the engine what each of the image's tags names. A tag
// among the RepoTags of found, the engine's image that present already
// matched to im, is im's own without asking: every question is a request
// on every run (#14). A tag counts as im's when match takes its image for
// im.
func sortTags(ctx context.Context, eng Engine, im *archive.DirImage, found *loader.Image, match func(*loader.Image, *archive.DirImage) bool) (tagSort, error) {
	var t tagSort
	for _, tag := range im.RepoTags {
		if found != nil && slices.Contains(found.RepoTags, tag) {
			t.ours = append(t.ours, tag)
			continue
		}
		got, err := eng.Inspect(ctx, tag)
		switch {
		case errors.Is(err, loader.ErrImageNotFound):
			t.free = append(t.free, tag)
		case err != nil:
			return t, err
		case match(got, im):
			t.ours = append(t.ours, tag)
		default:
			t.others = append(t.others, tag)
		}
	}
	return t, nil
}
