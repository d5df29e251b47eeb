package imgsave

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/manifest"
)

// CheckLoaded asks eng which of the collection's images it holds and sets
// each directory's Loaded. It asks once for the whole collection, by the
// two IDs load looks an image up by (config digest and manifest digest,
// see [present]): an engine asked through its CLI gets one command, one
// with an API socket one request per name. A hit counts only with the
// image's own layers; an image another tool loaded under another ID is
// not found by tags here (a tag moves), so it counts as not loaded.
func (c *Collection) CheckLoaded(ctx context.Context, eng Engine) error {
	store, err := listStore(ctx, eng)
	if err != nil {
		return err
	}
	var names []string
	for _, cd := range c.Dirs {
		for _, im := range cd.images {
			if store.hasID(im.ConfigDigest) {
				names = append(names, im.ConfigDigest)
			}
			if im.ManifestDigest != "" && store.hasID(im.ManifestDigest) {
				names = append(names, im.ManifestDigest)
			}
		}
	}
	imgs, err := inspectAll(ctx, eng, names)
	if err != nil {
		return err
	}
	byID := map[string]*loader.Image{}
	for _, img := range imgs {
		if img != nil {
			byID[string(img.ID)] = img
		}
	}
	// Those not found by ID, by their tags, as load looks for an image
	// the engine built or another tool loaded (a containerd store knows
	// it by that tool's manifest digest): then it is the image when it
	// looks alike (see [same]).
	var tags []string
	for _, cd := range c.Dirs {
		for _, im := range cd.images {
			if !loadedIn(byID, im) {
				for _, t := range im.RepoTags {
					if store.hasTag(t) {
						tags = append(tags, t)
					}
				}
			}
		}
	}
	tagged := map[string]*loader.Image{}
	if len(tags) > 0 {
		imgs, err := inspectAll(ctx, eng, tags)
		if err != nil {
			return err
		}
		for i, img := range imgs {
			if img != nil {
				tagged[tags[i]] = img
			}
		}
	}
	for i := range c.Dirs {
		cd := &c.Dirs[i]
		if cd.Error != "" {
			continue
		}
		n := 0
		for _, im := range cd.images {
			if loadedIn(byID, im) || slices.ContainsFunc(im.RepoTags, func(t string) bool { return looksLike(tagged[t], im) }) {
				n++
			}
		}
		cd.Loaded = &n
	}
	return nil
}

// storeList is what the engine's store holds, when it can list it in one
// request and would answer each name in a request of its own (its API
// socket: 1000 images were some 3000 requests, 0.65 s). CheckLoaded then
// asks only about the names it lists; all is true when it cannot list.
type storeList struct {
	all  bool
	ids  map[digest.Digest]bool
	tags map[string]bool // as listed, normalized, and without podman's localhost/
}

// listStore lists eng's store (see storeList). A list that fails (an
// answer too large) leaves every name to be asked.
func listStore(ctx context.Context, eng Engine) (*storeList, error) {
	l, ok := eng.(interface {
		ListImages(context.Context) (*loader.ImageList, error)
	})
	if !ok {
		return &storeList{all: true}, nil
	}
	list, err := l.ListImages(ctx)
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	if err != nil || list == nil {
		return &storeList{all: true}, nil
	}
	s := &storeList{ids: map[digest.Digest]bool{}, tags: map[string]bool{}}
	for _, id := range list.IDs {
		s.ids[id] = true
	}
	for _, t := range list.Tags {
		s.tags[t] = true
		s.tags[strings.TrimPrefix(t, "localhost/")] = true
		if r, err := manifest.ParseReference(t); err == nil {
			s.tags[r.String()] = true
		}
	}
	return s, nil
}

func (s *storeList) hasID(id string) bool { return s.all || s.ids[digest.Digest(id)] }

// hasTag reports whether the store may hold the tag t: listed as it is,
// normalized ("busybox" is "docker.io/library/busybox:latest"), or with
// podman's "localhost/" before it, as [sameName] matches them.
func (s *storeList) hasTag(t string) bool {
	if s.all || s.tags[t] {
		return true
	}
	r, err := manifest.ParseReference(t)
	return err == nil && s.tags[r.String()]
}

// looksLike is [same]'s look-alike test on an [ImageInfo]: the same
// layers, creation time and platform.
func looksLike(got *loader.Image, im ImageInfo) bool {
	if got == nil || im.Created == "" {
		return false
	}
	created, err := time.Parse(time.RFC3339Nano, im.Created)
	// ls gives whole seconds
	if err != nil || !got.Created.Truncate(time.Second).Equal(created) {
		return false
	}
	plat := got.OS + "/" + got.Architecture
	if !strings.HasPrefix(im.Platform+"/", plat+"/") {
		return false
	}
	return loadedIn(map[string]*loader.Image{im.ConfigDigest: {ID: got.ID, DiffIDs: got.DiffIDs}}, im)
}

// loadedIn reports whether byID, the engine's images by ID, holds im with
// its own layers.
func loadedIn(byID map[string]*loader.Image, im ImageInfo) bool {
	var diffIDs []string
	for _, l := range im.Layers {
		diffIDs = append(diffIDs, l.DiffID)
	}
	for _, id := range []string{im.ConfigDigest, im.ManifestDigest} {
		got := byID[id]
		if id == "" || got == nil {
			continue
		}
		have := make([]string, len(got.DiffIDs))
		for i, d := range got.DiffIDs {
			have[i] = string(d)
		}
		if slices.Equal(have, diffIDs) {
			return true
		}
	}
	return false
}

// inspectAll asks eng about every name: in one command where the engine
// is asked through its CLI and can ([loader.Engine.InspectAll]), else
// over its socket as many at once as it takes. An absent image is nil.
func inspectAll(ctx context.Context, eng Engine, names []string) ([]*loader.Image, error) {
	if a, ok := eng.(interface {
		InspectsInOne() bool
		InspectAll(context.Context, []string) ([]*loader.Image, error)
	}); ok && a.InspectsInOne() {
		return a.InspectAll(ctx, names)
	}
	atOnce := 1
	if c, ok := eng.(interface{ InspectsAtOnce() int }); ok {
		atOnce = max(1, c.InspectsAtOnce())
	}
	out := make([]*loader.Image, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	slots := make(chan struct{}, atOnce)
	for i, n := range names {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			img, err := eng.Inspect(ctx, n)
			if !errors.Is(err, loader.ErrImageNotFound) {
				out[i], errs[i] = img, err
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SharedLayer is a file (layer or config) that several image directories
// of a [Collection] hold, stored once.
type SharedLayer struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	// Dirs are the indexes in Collection.Dirs of the directories that
	// hold it.
	Dirs []int `json:"dirs"`
}

// SharedLayers lists the files that more than one image directory holds,
// the largest first (ties by digest).
func (c *Collection) SharedLayers() []SharedLayer {
	byDigest := map[string]*SharedLayer{}
	for i := range c.Dirs {
		for d, n := range c.Dirs[i].blobs() {
			s := byDigest[d]
			if s == nil {
				s = &SharedLayer{Digest: d, Size: n}
				byDigest[d] = s
			}
			s.Dirs = append(s.Dirs, i)
		}
	}
	var out []SharedLayer
	for _, s := range byDigest {
		if len(s.Dirs) > 1 {
			slices.Sort(s.Dirs)
			out = append(out, *s)
		}
	}
	slices.SortFunc(out, func(a, b SharedLayer) int {
		if a.Size != b.Size {
			return cmp.Compare(b.Size, a.Size)
		}
		return strings.Compare(a.Digest, b.Digest)
	})
	return out
}
