package imgsave

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/manifest"
)

// LoadedImage is one image [Load] put into an engine, as the record of
// loads keeps it: [GC] removes only images found there, and only with the
// tags named here.
type LoadedImage struct {
	// Endpoint is the engine's (see [Runner.Endpoint]).
	Endpoint string `json:"endpoint"`
	// ID is the engine's ID of the image: the config digest on a classic
	// store and podman, the manifest digest a containerd store knows it by.
	ID digest.Digest `json:"id"`
	// Image is the directory's image ID (its config digest), which the
	// load and use locks are named by.
	Image digest.Digest `json:"image"`
	// Tags are those imgsave set.
	Tags   []string  `json:"tags"`
	Loaded time.Time `json:"loaded"`
}

// loadRecord is the file of [LoadedImage]s, loaded.json in its folder,
// changed under the lock loaded.json.lock beside it.
type loadRecord struct{ dir string }

// loadRecordMax bounds the record read: at a few hundred bytes an image,
// tens of thousands of loads.
const loadRecordMax = 16 << 20

// openLoadRecord is the record in dir; "" means imgsave in the user's
// cache directory.
func openLoadRecord(dir string) (loadRecord, error) {
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return loadRecord{}, err
		}
		dir = filepath.Join(cache, "imgsave")
	}
	return loadRecord{dir}, nil
}

func (r loadRecord) path() string { return filepath.Join(r.dir, "loaded.json") }

// read returns the images recorded; a missing record holds none.
func (r loadRecord) read() ([]LoadedImage, error) {
	f, err := os.Open(r.path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, loadRecordMax+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", r.path(), err)
	}
	if len(b) > loadRecordMax {
		return nil, fmt.Errorf("%s: larger than %d bytes", r.path(), loadRecordMax)
	}
	var out struct {
		Images []LoadedImage `json:"images"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", r.path(), err)
	}
	return out.Images, nil
}

// update changes the record with change, under its lock, and writes it
// whole to a temporary sibling renamed over it: a reader sees the old
// record or the new, and two loads at once both land.
func (r loadRecord) update(ctx context.Context, change func([]LoadedImage) []LoadedImage) error {
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return err
	}
	unlock, err := lockFile(ctx, r.path()+".lock", func() {})
	if err != nil {
		return err
	}
	defer unlock()
	imgs, err := r.read()
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(struct {
		Images []LoadedImage `json:"images"`
	}{nonNilImages(change(imgs))}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(r.dir, ".loaded-*.json")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), r.path()); err != nil {
		return err
	}
	done = true
	return nil
}

// add records img, replacing an earlier record of the same image in the
// same engine.
func (r loadRecord) add(ctx context.Context, img LoadedImage) error {
	return r.update(ctx, func(imgs []LoadedImage) []LoadedImage {
		imgs = slices.DeleteFunc(imgs, func(o LoadedImage) bool { return o.Endpoint == img.Endpoint && o.ID == img.ID })
		return append(imgs, img)
	})
}

// forget drops the records of the images of endpoint whose IDs gone
// lists.
func (r loadRecord) forget(ctx context.Context, endpoint string, gone []digest.Digest) error {
	if len(gone) == 0 {
		return nil
	}
	return r.update(ctx, func(imgs []LoadedImage) []LoadedImage {
		return slices.DeleteFunc(imgs, func(o LoadedImage) bool { return o.Endpoint == endpoint && slices.Contains(gone, o.ID) })
	})
}

func nonNilImages(s []LoadedImage) []LoadedImage {
	if s == nil {
		return []LoadedImage{}
	}
	return s
}

// sameName reports whether the engine's tag got names the reference set:
// the same once normalized ("busybox" is "docker.io/library/busybox:latest"),
// or, as podman names local images, got is "localhost/" followed by it.
func sameName(got, set string) bool {
	if got == set || got == "localhost/"+set {
		return true
	}
	a, err1 := manifest.ParseReference(got)
	b, err2 := manifest.ParseReference(set)
	return err1 == nil && err2 == nil && a.String() == b.String()
}
