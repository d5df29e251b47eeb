//go:build unix

package imgsave

import (
	"context"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/loader"
)

// removerFake is a fakeEngine that also lists its containers' images and
// removes images as docker and podman do: by tag (the last one takes the
// image), or by ID when at most one tag names it; never one a container
// uses.
type removerFake struct {
	*fakeEngine
	containers []digest.Digest
	// down makes ContainerImages fail as with the daemon down.
	down bool
	// run, when set, is what a container does.
	run func()
}

func (f *removerFake) ContainerImages(ctx context.Context) ([]digest.Digest, error) {
	if f.down {
		return nil, &loader.RunError{Args: []string{"fake", "ps"}, Err: loader.ErrDaemonUnreachable}
	}
	return f.containers, nil
}

func (f *removerFake) Remove(ctx context.Context, names ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range names {
		im, ok := f.images[n]
		if !ok {
			return &loader.RunError{Args: []string{"fake", "rmi", n}, Err: loader.ErrImageNotFound}
		}
		if slices.Contains(f.containers, im.ID) {
			return &loader.RunError{Args: []string{"fake", "rmi", n}, Stderr: "image is being used by stopped container"}
		}
		if n == string(im.ID) && len(im.RepoTags) > 1 {
			return &loader.RunError{Args: []string{"fake", "rmi", n}, Stderr: "image is referenced in multiple repositories"}
		}
		delete(f.images, n)
		im.RepoTags = slices.DeleteFunc(im.RepoTags, func(t string) bool { return t == n })
		if n == string(im.ID) || len(im.RepoTags) == 0 {
			delete(f.images, string(im.ID))
			for _, t := range im.RepoTags {
				delete(f.images, t)
			}
		}
	}
	return nil
}

func (f *removerFake) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if f.run != nil {
		f.run()
	}
	return nil
}

// retag gives the image id the tag, as `docker tag` does.
func (f *removerFake) retag(id digest.Digest, tag string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	im := f.images[string(id)]
	im.RepoTags = append(im.RepoTags, tag)
	f.images[tag] = im
}

func (f *removerFake) has(id digest.Digest) bool {
	_, err := f.Inspect(context.Background(), string(id))
	return err == nil
}

// TestGCEngineImages: gc takes an image imgsave loaded once no dataset
// given references it, and removes it with Remove; it keeps one another
// tag names, one a container uses, one a load or run holds, and never
// looks at one imgsave did not load. On a containerd store too, whose
// ID is not the config digest.
func TestGCEngineImages(t *testing.T) {
	for _, containerd := range []bool{false, true} {
		name := "classic"
		if containerd {
			name = "containerd"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			dirs := map[string]string{}
			for i, tag := range []string{"gone", "tagged", "contained", "busy", "referenced"} {
				dirs[tag] = filepath.Join(root, tag)
				genImage(t, dirs[tag], "coll/"+tag+":1", layerTar(t, tag, uint64(i), 100+i))
			}
			f := &removerFake{fakeEngine: newFake()}
			f.containerd = containerd
			locks, records := t.TempDir(), t.TempDir()
			ids := map[string]digest.Digest{}
			for tag, dir := range dirs {
				res, err := Load(ctx, f, dir, LoadOptions{LockDir: locks, RecordDir: records})
				if err != nil {
					t.Fatal(err)
				}
				ids[tag] = res.EngineID
			}
			// Loaded by another tool: not in the record.
			other := &loader.Image{ID: digest.FromString("another tool's image")}
			f.mu.Lock()
			f.put(other, "coll/other:1")
			f.mu.Unlock()

			f.retag(ids["tagged"], "mine:1")
			f.containers = []digest.Digest{ids["contained"]}
			img, _ := f.Inspect(ctx, string(ids["busy"]))
			_, dirImg, err := Selector{}.open(dirs["busy"])
			if err != nil {
				t.Fatal(err)
			}
			unuse, err := lockUse(ctx, locks, f.Endpoint(), dirImg.ID, func() {})
			if err != nil || img == nil {
				t.Fatal(err)
			}
			defer unuse()

			// The referenced image is in a dataset given, with the rest
			// of root's moved out of the way: gc is given only it.
			opts := GCOptions{SIFCache: t.TempDir(), Engine: f, LockDir: locks, RecordDir: records}
			refRoot := t.TempDir()
			genImage(t, filepath.Join(refRoot, "ref"), "coll/referenced:1", layerTar(t, "referenced", 4, 104))
			dry, err := GC(ctx, []string{refRoot}, opts)
			if err != nil {
				t.Fatal(err)
			}
			wantTaken := []digest.Digest{ids["gone"], ids["busy"]}
			if got := engineIDs(dry.EngineImages); !sameDigests(got, wantTaken) {
				t.Errorf("dry gc takes %v, want %v (gone, busy)", got, wantTaken)
			}
			for _, id := range ids {
				if !f.has(id) {
					t.Errorf("a dry gc removed %s", id)
				}
			}
			opts.Remove = true
			rep, err := GC(ctx, []string{refRoot}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := engineIDs(rep.EngineImages); !sameDigests(got, []digest.Digest{ids["gone"]}) {
				t.Errorf("gc --yes removed %v, want %v", got, ids["gone"])
			}
			reasons := map[digest.Digest]string{}
			for _, k := range rep.EngineKept {
				reasons[k.ID] = k.Reason
			}
			for tag, want := range map[string]string{"tagged": "tagged mine:1", "contained": "a container uses it", "busy": "using it"} {
				if !strings.Contains(reasons[ids[tag]], want) {
					t.Errorf("%s kept for %q, want %q", tag, reasons[ids[tag]], want)
				}
				if !f.has(ids[tag]) {
					t.Errorf("gc --yes removed %s (%s)", tag, ids[tag])
				}
			}
			if f.has(ids["gone"]) || !f.has(ids["referenced"]) || !f.has(other.ID) {
				t.Errorf("after gc --yes: gone %v, referenced %v, another tool's %v; want false, true, true", f.has(ids["gone"]), f.has(ids["referenced"]), f.has(other.ID))
			}
			if _, ok := reasons[other.ID]; ok {
				t.Errorf("gc named %s, which imgsave did not load", other.ID)
			}
			rec, _ := openLoadRecord(records)
			left, err := rec.read()
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != len(ids)-1 || slices.ContainsFunc(left, func(l LoadedImage) bool { return l.ID == ids["gone"] }) {
				t.Errorf("the record after gc holds %+v, want all but %s", left, ids["gone"])
			}
		})
	}
}

func engineIDs(imgs []GCEngineImage) []digest.Digest {
	var out []digest.Digest
	for _, i := range imgs {
		out = append(out, i.ID)
	}
	return out
}

func sameDigests(a, b []digest.Digest) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// TestRunHoldsImageAgainstGC: from before run looks for the image until
// its container has exited, gc cannot take the image's use lock, so it
// cannot remove an image a run has found or loaded and not yet started.
func TestRunHoldsImageAgainstGC(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "img")
	genImage(t, dir, "coll/run:1", layerTar(t, "run", 1, 100))
	_, im, err := Selector{}.open(dir)
	if err != nil {
		t.Fatal(err)
	}
	locks := t.TempDir()
	f := &removerFake{fakeEngine: newFake()}
	var busy []bool
	f.run = func() {
		unlock, ok, err := tryLockUse(locks, f.Endpoint(), im.ID)
		if err != nil {
			t.Error(err)
		}
		if ok {
			unlock()
		}
		busy = append(busy, !ok)
	}
	for range 2 { // loaded, then found present
		if err := Run(ctx, f, dir, RunOptions{LoadOptions: LoadOptions{LockDir: locks, RecordDir: t.TempDir()}, User: "0", NoCwdMount: true}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(busy, []bool{true, true}) {
		t.Errorf("gc's lock taken while the container ran: busy %v, want [true true]", busy)
	}
	unlock, ok, err := tryLockUse(locks, f.Endpoint(), im.ID)
	if err != nil || !ok {
		t.Fatalf("after the runs gc cannot take the lock: %v, %v", ok, err)
	}
	unlock()
}

// TestLoadRecordConcurrent: loads recording at once all land.
func TestLoadRecordConcurrent(t *testing.T) {
	rec, _ := openLoadRecord(t.TempDir())
	errs := make(chan error, 20)
	for i := range 20 {
		go func() {
			errs <- rec.add(context.Background(), LoadedImage{Endpoint: "e", ID: digest.FromString(string(rune('a' + i)))})
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := rec.read()
	if err != nil || len(got) != 20 {
		t.Fatalf("the record holds %d images (%v), want 20", len(got), err)
	}
}

// TestGCEngineKeptWhenUnreadable: a dataset directory that cannot be read
// could reference any image: none is taken.
func TestGCEngineKeptWhenUnreadable(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	genImage(t, filepath.Join(root, "a"), "coll/a:1", layerTar(t, "a", 1, 100))
	f := &removerFake{fakeEngine: newFake()}
	locks, records := t.TempDir(), t.TempDir()
	if _, err := Load(ctx, f, filepath.Join(root, "a"), LoadOptions{LockDir: locks, RecordDir: records}); err != nil {
		t.Fatal(err)
	}
	bad := t.TempDir()
	genImage(t, filepath.Join(bad, "b"), "coll/b:1", layerTar(t, "b", 2, 100))
	if err := os.WriteFile(filepath.Join(bad, "b", "manifest.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := GC(ctx, []string{bad}, GCOptions{SIFCache: t.TempDir(), Engine: f, LockDir: locks, RecordDir: records, Remove: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.EngineImages) != 0 || rep.KeptEngineImages == "" {
		t.Errorf("gc with an unreadable directory took %v (kept: %q), want nothing and a reason", rep.EngineImages, rep.KeptEngineImages)
	}
}

// TestRunWithoutUseLock: a run whose lock folder cannot be made (a cache
// of another uid, as run_owner.txtar has it) still runs a present image:
// only gc looks at the use lock.
func TestRunWithoutUseLock(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "img")
	genImage(t, dir, "coll/nolock:1", layerTar(t, "nolock", 1, 100))
	f := &removerFake{fakeEngine: newFake()}
	if _, err := Load(ctx, f, dir, LoadOptions{LockDir: t.TempDir(), RecordDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ran := false
	f.run = func() { ran = true }
	if err := Run(ctx, f, dir, RunOptions{LoadOptions: LoadOptions{LockDir: notDir, RecordDir: t.TempDir()}, User: "0", NoCwdMount: true}); err != nil || !ran {
		t.Fatalf("Run with a lock folder that cannot be made: %v (ran %v)", err, ran)
	}
}

// TestGCEngineKeepsReferenced is a property: over random collections
// loaded into one engine, gc --yes over one of them never removes an
// image it holds, and takes every other image imgsave loaded, or says
// why not.
func TestGCEngineKeepsReferenced(t *testing.T) {
	ctx := context.Background()
	removed := 0
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 11))
		given, other := t.TempDir(), t.TempDir()
		gl := genCollection(t, given, 1+rng.IntN(9), rng)
		ol := genCollection(t, other, 1+rng.IntN(9), rand.New(rand.NewPCG(seed, 13)))
		f := &removerFake{fakeEngine: newFake()}
		locks, records := t.TempDir(), t.TempDir()
		keep := map[digest.Digest]bool{}
		var loaded []digest.Digest
		for _, set := range []struct {
			root   string
			layers map[string][][]byte
		}{{other, ol}, {given, gl}} {
			for _, rel := range slices.Sorted(maps.Keys(set.layers)) {
				res, err := Load(ctx, f, filepath.Join(set.root, rel), LoadOptions{LockDir: locks, RecordDir: records})
				if err != nil {
					t.Fatal(err)
				}
				loaded = append(loaded, res.EngineID)
				if set.root == given {
					keep[res.EngineID] = true
				}
			}
		}
		rep, err := GC(ctx, []string{given}, GCOptions{SIFCache: t.TempDir(), Engine: f, LockDir: locks, RecordDir: records, Remove: true})
		if err != nil {
			t.Fatal(err)
		}
		removed += len(rep.EngineImages)
		kept := map[digest.Digest]bool{}
		for _, k := range rep.EngineKept {
			kept[k.ID] = true
		}
		for _, id := range loaded {
			switch {
			case keep[id] && !f.has(id):
				t.Errorf("seed %d: gc --yes removed %s, which the dataset given holds", seed, id)
			case !keep[id] && f.has(id) && !kept[id]:
				t.Errorf("seed %d: gc --yes left %s, which no dataset given holds, unnamed", seed, id)
			}
		}
	}
	if removed == 0 {
		t.Error("no seed had an image to remove")
	}
}

// TestGCEngineDown: an engine that does not answer keeps its images, and
// says so; the rest of gc is done.
func TestGCEngineDown(t *testing.T) {
	ctx := context.Background()
	root, cache := t.TempDir(), t.TempDir()
	genImage(t, filepath.Join(root, "a"), "coll/a:1", layerTar(t, "a", 1, 100))
	f := &removerFake{fakeEngine: newFake()}
	locks, records := t.TempDir(), t.TempDir()
	res, err := Load(ctx, f, filepath.Join(root, "a"), LoadOptions{LockDir: locks, RecordDir: records})
	if err != nil {
		t.Fatal(err)
	}
	sif := plantSIF(t, cache, digest.FromString("no image here"))
	f.down = true
	rep, err := GC(ctx, []string{t.TempDir()}, GCOptions{SIFCache: cache, Engine: f, LockDir: locks, RecordDir: records, Remove: true})
	if err != nil {
		t.Fatalf("gc with the engine down: %v", err)
	}
	if !strings.Contains(rep.KeptEngineImages, "not reachable") || !f.has(res.EngineID) || len(rep.SIFs) != 1 {
		t.Errorf("gc with the engine down: kept %q, image there %v, SIFs %v; want the reason, the image, %s removed", rep.KeptEngineImages, f.has(res.EngineID), rep.SIFs, sif)
	}
}
