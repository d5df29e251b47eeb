package imgsave

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/loader"
)

// TestSharedLayersSaving: the files SharedLayers lists, each stored once
// for all the directories holding it, account for du's whole saving, and
// come largest first.
func TestSharedLayersSaving(t *testing.T) {
	root := t.TempDir()
	genCollection(t, root, 12, rand.New(rand.NewPCG(3, 5)))
	c, err := Collect(context.Background(), root, CollectOptions{SIFCache: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	shared := c.SharedLayers()
	var saving int64
	for i, l := range shared {
		if len(l.Dirs) < 2 {
			t.Errorf("%s is held by %v only", l.Digest, l.Dirs)
		}
		if i > 0 && l.Size > shared[i-1].Size {
			t.Errorf("%s (%d bytes) comes after a smaller file", l.Digest, l.Size)
		}
		saving += int64(len(l.Dirs)-1) * l.Size
	}
	if len(shared) == 0 || saving != c.Saving {
		t.Errorf("%d shared files save %d bytes, du says %d", len(shared), saving, c.Saving)
	}
}

// failingEngine answers no question.
type failingEngine struct{ *fakeEngine }

func (failingEngine) Inspect(ctx context.Context, name string) (*loader.Image, error) {
	return nil, &loader.RunError{Args: []string{"fake", "image", "inspect", name}, Err: loader.ErrDaemonUnreachable}
}

// TestCollectAsksEngine: Collect with an engine says which directories'
// images it holds, asking it while git-annex is asked; an engine that
// cannot answer is LoadedErr, every Loaded nil, and the rest is there.
func TestCollectAsksEngine(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	for i, name := range []string{"a", "b", "c"} {
		genImage(t, filepath.Join(root, name), "coll/"+name+":1", layerTar(t, name, uint64(i), 100+i))
	}
	f := newFake()
	if _, err := Load(ctx, f, filepath.Join(root, "b"), LoadOptions{LockDir: t.TempDir(), RecordDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	c, err := Collect(ctx, root, CollectOptions{SIFCache: t.TempDir(), Engine: f})
	if err != nil || c.LoadedErr != nil {
		t.Fatal(err, c.LoadedErr)
	}
	var got []string
	for _, d := range c.Dirs {
		if d.Loaded == nil {
			t.Fatalf("%s: Loaded not set", d.Path)
		}
		got = append(got, fmt.Sprintf("%s=%d", d.Path, *d.Loaded))
	}
	if want := "a=0 b=1 c=0"; strings.Join(got, " ") != want {
		t.Errorf("Loaded: %s, want %s", strings.Join(got, " "), want)
	}
	c, err = Collect(ctx, root, CollectOptions{SIFCache: t.TempDir(), Engine: failingEngine{f}})
	if err != nil || !errors.Is(c.LoadedErr, loader.ErrDaemonUnreachable) || len(c.Dirs) != 3 {
		t.Fatalf("Collect with an engine down: %v, LoadedErr %v, %d dirs", err, c.LoadedErr, len(c.Dirs))
	}
	for _, d := range c.Dirs {
		if d.Loaded != nil {
			t.Errorf("%s: Loaded %d with the engine down", d.Path, *d.Loaded)
		}
	}
}

// listingFake is a fakeEngine that lists its store in one request, as
// docker's API socket does, and counts the names it is asked about.
type listingFake struct {
	*fakeEngine
	mu    sync.Mutex
	asked []string
}

func (f *listingFake) ListImages(ctx context.Context) (*loader.ImageList, error) {
	f.fakeEngine.mu.Lock()
	defer f.fakeEngine.mu.Unlock()
	l := &loader.ImageList{}
	for name, im := range f.images {
		if name == string(im.ID) {
			l.IDs = append(l.IDs, im.ID)
		} else {
			l.Tags = append(l.Tags, "localhost/"+name) // as podman names them
		}
	}
	return l, nil
}

func (f *listingFake) Inspect(ctx context.Context, name string) (*loader.Image, error) {
	f.mu.Lock()
	f.asked = append(f.asked, name)
	f.mu.Unlock()
	return f.fakeEngine.Inspect(ctx, name)
}

// TestCheckLoadedAsksListed: an engine that lists its store in one
// request is asked only about the names it lists: the image loaded by
// ID, the one another tool tagged alike by its tag, and nothing about
// the images it lacks; the answer is the one asking about every name
// gives.
func TestCheckLoadedAsksListed(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	for i, name := range []string{"a", "b", "c", "d"} {
		genImage(t, filepath.Join(root, name), "coll/"+name+":1", layerTar(t, name, uint64(i), 100+i))
	}
	f := newFake()
	if _, err := Load(ctx, f, filepath.Join(root, "b"), LoadOptions{LockDir: t.TempDir(), RecordDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	// c as another tool loaded it: under another ID, tagged alike.
	_, c, err := Selector{}.open(filepath.Join(root, "c"))
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.put(&loader.Image{ID: digest.FromString("c elsewhere"), DiffIDs: []digest.Digest{c.Layers[0].DiffID}, OS: "linux", Architecture: "amd64"}, "coll/c:1")
	f.mu.Unlock()
	loaded := func(eng Engine) string {
		col, err := Collect(ctx, root, CollectOptions{SIFCache: t.TempDir(), Engine: eng})
		if err != nil || col.LoadedErr != nil {
			t.Fatal(err, col.LoadedErr)
		}
		var got []string
		for _, d := range col.Dirs {
			got = append(got, fmt.Sprintf("%s=%d", d.Path, *d.Loaded))
		}
		return strings.Join(got, " ")
	}
	want := loaded(f)
	lf := &listingFake{fakeEngine: f}
	if got := loaded(lf); got != want {
		t.Errorf("Loaded with a listing engine: %s, want %s as without", got, want)
	}
	// c is not taken for the directory's: its config has no creation
	// time to compare.
	if want != "a=0 b=1 c=0 d=0" {
		t.Errorf("Loaded: %s", want)
	}
	_, b, err := Selector{}.open(filepath.Join(root, "b"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lf.asked, " "); got != string(b.ID)+" coll/c:1" {
		t.Errorf("asked about %s, want b's ID and c's tag alone", got)
	}
}
