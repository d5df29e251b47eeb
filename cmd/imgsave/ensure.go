package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
)

// loadOptions select the image of a directory and say how to report.
type loadOptions struct {
	repoTag, config string
	notice          func(format string, a ...any)
	progress        *progress
}

// loaded is the outcome of ensureLoaded.
type loaded struct {
	ID     digest.Digest // the ID the engine knows the image by
	Image  *archive.DirImage
	Loaded bool     // false when the engine already had it
	Kept   []string // tags left on another image
}

// ensureLoaded makes sure the engine has the directory's image and returns
// the ID to run it by. Deciding presence reads only the small files; the
// layers are read, checked and streamed into `E load` only when the engine
// lacks the image. Concurrent calls for one image and engine load it once.
func ensureLoaded(ctx context.Context, eng *loader.Engine, dir string, o loadOptions) (*loaded, error) {
	d, err := archive.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	im, err := d.Select(o.repoTag, o.config)
	if err != nil {
		return nil, err
	}
	if id, err := present(ctx, eng, im); err != nil {
		return nil, err
	} else if id != "" {
		return tagPresent(ctx, eng, id, im)
	}
	unlock, err := lockImage(eng, im.ID, func() {
		o.notice("waiting for another imgsave that is loading %s", im.ID.Encoded()[:12])
	})
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another imgsave may have loaded it while this one waited.
	if id, err := present(ctx, eng, im); err != nil {
		return nil, err
	} else if id != "" {
		return tagPresent(ctx, eng, id, im)
	}
	if err := d.CheckPresent(im); err != nil {
		return nil, err
	}
	free, ours, kept, err := tags(ctx, eng, im)
	if err != nil {
		return nil, err
	}
	for _, t := range kept {
		o.notice("tag %s already names another image in the engine; left as it is, loading %s by ID only", t, im.ID.Encoded()[:12])
	}
	o.notice("loading %s (%s) into the engine", dir, im.ID.Encoded()[:12])
	pr, pw := io.Pipe()
	go func() {
		_, err := d.WriteTar(pw, im, append(free, ours...))
		pw.CloseWithError(err)
	}()
	var src io.Reader = pr
	if o.progress != nil {
		src = archive.ProgressReader(pr, o.progress.Set)
	}
	_, err = eng.Load(ctx, src)
	pr.Close()
	o.progress.Done()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	id, err := present(ctx, eng, im)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, fmt.Errorf("load %s: the engine loaded it but reports no image %s", dir, im.ID)
	}
	return &loaded{ID: id, Image: im, Loaded: true, Kept: kept}, nil
}

// tagPresent completes a present image: the directory's tags that name
// nothing in the engine are applied, as a load would; tags on another image
// stay where they are.
func tagPresent(ctx context.Context, eng *loader.Engine, id digest.Digest, im *archive.DirImage) (*loaded, error) {
	free, _, kept, err := tags(ctx, eng, im)
	if err != nil {
		return nil, err
	}
	for _, t := range free {
		if err := eng.Tag(ctx, string(id), t); err != nil {
			return nil, err
		}
	}
	return &loaded{ID: id, Image: im, Kept: kept}, nil
}

// present looks for the image without loading anything: by config digest
// (the ID on classic stores and podman), by the manifest digest imgsave
// loads it under (the ID on containerd stores), and by its tags (for an
// image another tool loaded). A hit counts only if its layers are the
// image's own, so a tag moved to another image is never taken for it.
func present(ctx context.Context, eng *loader.Engine, im *archive.DirImage) (digest.Digest, error) {
	names := []string{string(im.ID)}
	if im.ManifestDigest != "" {
		names = append(names, string(im.ManifestDigest))
	}
	for _, n := range append(names, im.RepoTags...) {
		got, err := eng.Inspect(ctx, n)
		if errors.Is(err, loader.ErrImageNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if same(got, im) {
			return got.ID, nil
		}
	}
	return "", nil
}

// same reports whether the engine's image is im: same layers, and the same
// ID on either store, or (an image loaded by another tool into a
// containerd store, under a manifest imgsave did not write) the same
// creation time and platform.
func same(got *loader.Image, im *archive.DirImage) bool {
	if !slices.Equal(got.DiffIDs, im.Config.RootFS.DiffIDs) {
		return false
	}
	if got.ID == im.ID || (im.ManifestDigest != "" && got.ID == im.ManifestDigest) {
		return true
	}
	c := im.Config
	return c.Created != nil && got.Created.Equal(*c.Created) && got.OS == c.OS && got.Architecture == c.Architecture
}

// tags sorts the image's tags: free ones, those already on this image,
// and those naming another image, which a load would silently move.
func tags(ctx context.Context, eng *loader.Engine, im *archive.DirImage) (free, ours, others []string, err error) {
	for _, t := range im.RepoTags {
		got, err := eng.Inspect(ctx, t)
		switch {
		case errors.Is(err, loader.ErrImageNotFound):
			free = append(free, t)
		case err != nil:
			return nil, nil, nil, err
		case same(got, im):
			ours = append(ours, t)
		default:
			others = append(others, t)
		}
	}
	return free, ours, others, nil
}

// lockImage takes an exclusive lock for loading one image into one engine,
// a file in the user's cache directory, held until unlock. It calls wait
// first if another process holds the lock.
func lockImage(eng *loader.Engine, id digest.Digest, wait func()) (unlock func(), err error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cache, "imgsave", "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	h := sha256.Sum256([]byte(eng.Path + "\x00" + os.Getenv("DOCKER_HOST") + "\x00" + string(id)))
	name := filepath.Join(dir, hex.EncodeToString(h[:16])+".lock")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil {
		return func() { f.Close() }, nil
	}
	wait()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}
