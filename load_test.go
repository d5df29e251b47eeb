package imgsave

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/manifest"
)

// fakeEngine stands in for a daemon in the unit tests of Load: its load
// reads the tar imgsave sends as an engine would (manifest.json, the config,
// index.json) and files the image under the ID its store would give it.
type fakeEngine struct {
	containerd bool // IDs are manifest digests, not config digests
	// loadDelay keeps a load busy, so that concurrent callers wait.
	loadDelay time.Duration
	// forget makes a load succeed without keeping the image.
	forget bool
	// races is how many loads fail as a containerd store's GC race does.
	races int
	// saveFile is what every save streams: a real engine's save.
	saveFile string

	mu     sync.Mutex
	images map[string]*loader.Image // by ID, digest and tag
	loads  int
	saves  int
	tagged []string
	sent   []*tarSent
}

// tarSent is what one load received.
type tarSent struct {
	repoTags []string
	files    map[string][]byte
}

func newFake() *fakeEngine { return &fakeEngine{images: map[string]*loader.Image{}} }

func (f *fakeEngine) Inspect(ctx context.Context, name string) (*loader.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if im, ok := f.images[name]; ok {
		c := *im
		return &c, nil
	}
	return nil, &loader.RunError{Args: []string{"fake", "image", "inspect", name}, Err: loader.ErrImageNotFound}
}

func (f *fakeEngine) Load(ctx context.Context, r io.Reader) (string, error) {
	f.mu.Lock()
	race := f.races > 0
	f.races--
	f.mu.Unlock()
	if race {
		io.Copy(io.Discard, r)
		return "", &loader.RunError{Args: []string{"fake", "load"}, Err: loader.ErrContentRace}
	}
	sent := &tarSent{files: map[string][]byte{}}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return "", err
		}
		sent.files[hdr.Name] = b
	}
	select {
	case <-time.After(f.loadDelay):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	var entries []manifest.Entry
	if err := json.Unmarshal(sent.files["manifest.json"], &entries); err != nil || len(entries) != 1 {
		return "", fmt.Errorf("fake load: manifest.json: %v", err)
	}
	cfg, err := manifest.ConfigFromBytes(sent.files[entries[0].Config])
	if err != nil {
		return "", err
	}
	var idx struct {
		Manifests []struct{ Digest digest.Digest }
	}
	if err := json.Unmarshal(sent.files["index.json"], &idx); err != nil || len(idx.Manifests) == 0 {
		return "", fmt.Errorf("fake load: index.json: %v", err)
	}
	im := &loader.Image{ID: digest.FromBytes(sent.files[entries[0].Config]), DiffIDs: cfg.RootFS.DiffIDs, OS: cfg.OS, Architecture: cfg.Architecture}
	if f.containerd {
		im.ID = idx.Manifests[0].Digest
	}
	if cfg.Created != nil {
		im.Created = *cfg.Created
	}
	sent.repoTags = entries[0].RepoTags
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	f.sent = append(f.sent, sent)
	if !f.forget {
		f.put(im, entries[0].RepoTags...)
	}
	return "Loaded image ID: " + string(im.ID), nil
}

// put files im under its ID and the given tags; call with mu held.
func (f *fakeEngine) put(im *loader.Image, tags ...string) {
	f.images[string(im.ID)] = im
	for _, t := range tags {
		im.RepoTags = append(im.RepoTags, t)
		f.images[t] = im
	}
}

func (f *fakeEngine) Tag(ctx context.Context, src, dst string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	im, ok := f.images[src]
	if !ok {
		return loader.ErrImageNotFound
	}
	f.tagged = append(f.tagged, dst)
	f.images[dst] = im
	return nil
}

func (f *fakeEngine) Save(ctx context.Context, refs ...string) (io.ReadCloser, error) {
	if f.saveFile == "" {
		return nil, errors.New("fake: no save")
	}
	f.mu.Lock()
	f.saves++
	f.mu.Unlock()
	return os.Open(f.saveFile)
}
func (f *fakeEngine) Pull(ctx context.Context, ref string) error { return errors.New("fake: no pull") }
func (f *fakeEngine) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return errors.New("fake: no run")
}
func (f *fakeEngine) Endpoint() string                           { return fmt.Sprintf("fake %p", f) }
func (f *fakeEngine) Kind() string                               { return "docker" }
func (f *fakeEngine) Rootless(ctx context.Context) (bool, error) { return false, nil }

func (f *fakeEngine) loadCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loads
}

// imageDir extracts a fixture of ../testdata into a canonical directory.
func imageDir(tb testing.TB, fixture string) (string, *archive.DirImage) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		tb.Fatal(err)
	}
	dir := filepath.Join(tb.TempDir(), "img")
	if _, err := archive.Extract(tb.Context(), bytes.NewReader(b), dir, archive.Options{}); err != nil {
		tb.Fatal(err)
	}
	d, err := archive.OpenDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return dir, d.Images[0]
}

func TestLoadPresence(t *testing.T) {
	const tag = "imgsave-fixture/hello:1"
	tests := []struct {
		name       string
		containerd bool
		// before puts what the engine holds before the call.
		before   func(f *fakeEngine, im *archive.DirImage)
		loaded   bool
		kept     []string
		tagged   []string // tags applied by Tag
		sentTags []string // RepoTags of the load's manifest.json
	}{
		{name: "absent, classic", loaded: true, sentTags: []string{tag}},
		{name: "absent, containerd", containerd: true, loaded: true, sentTags: []string{tag}},
		{name: "by config digest", before: func(f *fakeEngine, im *archive.DirImage) {
			f.put(&loader.Image{ID: im.ID, DiffIDs: im.Config.RootFS.DiffIDs}, tag)
		}},
		{name: "by manifest digest", containerd: true, before: func(f *fakeEngine, im *archive.DirImage) {
			f.put(&loader.Image{ID: im.ManifestDigest, DiffIDs: im.Config.RootFS.DiffIDs}, tag)
		}},
		{name: "present without its tag: the free tag is applied", tagged: []string{tag}, before: func(f *fakeEngine, im *archive.DirImage) {
			f.put(&loader.Image{ID: im.ID, DiffIDs: im.Config.RootFS.DiffIDs})
		}},
		{name: "by tag, loaded by another tool", containerd: true, before: func(f *fakeEngine, im *archive.DirImage) {
			c := im.Config
			f.put(&loader.Image{ID: digest.FromString("another manifest"), DiffIDs: c.RootFS.DiffIDs, Created: *c.Created, OS: c.OS, Architecture: c.Architecture}, tag)
		}},
		{name: "tag on an image with other layers: loaded by ID, tag left", loaded: true, kept: []string{tag}, before: func(f *fakeEngine, im *archive.DirImage) {
			f.put(&loader.Image{ID: digest.FromString("other"), DiffIDs: []digest.Digest{digest.FromString("other layer")}}, tag)
		}},
		{name: "tag on an image with the same layers but another config", loaded: true, kept: []string{tag}, before: func(f *fakeEngine, im *archive.DirImage) {
			f.put(&loader.Image{ID: digest.FromString("other"), DiffIDs: im.Config.RootFS.DiffIDs, OS: "linux", Architecture: "riscv64"}, tag)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, im := imageDir(t, "legacy.tar")
			f := newFake()
			f.containerd = tc.containerd
			if tc.before != nil {
				tc.before(f, im)
			}
			var notices []string
			res, err := Load(t.Context(), f, dir, LoadOptions{LockDir: t.TempDir(), Events: Events{Notice: func(m string) { notices = append(notices, m) }}})
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			if res.Loaded != tc.loaded || f.loadCount() != map[bool]int{true: 1}[tc.loaded] {
				t.Errorf("Load: Loaded = %v after %d engine loads, want %v", res.Loaded, f.loadCount(), tc.loaded)
			}
			wantID := im.ID
			if tc.containerd {
				wantID = im.ManifestDigest
			}
			if got, err := f.Inspect(t.Context(), string(res.EngineID)); err != nil || !slices.Equal(got.DiffIDs, im.Config.RootFS.DiffIDs) {
				t.Errorf("Load: EngineID %s is not the image in the engine: %v", res.EngineID, err)
			} else if tc.loaded && res.EngineID != wantID {
				t.Errorf("Load: EngineID = %s, want %s", res.EngineID, wantID)
			}
			if !slices.Equal(res.TagsKept, nonNil(tc.kept)) {
				t.Errorf("Load: TagsKept = %q, want %q", res.TagsKept, tc.kept)
			}
			if !slices.Equal(f.tagged, tc.tagged) {
				t.Errorf("Load: tagged %q, want %q", f.tagged, tc.tagged)
			}
			if tc.loaded && !slices.Equal(f.sent[0].repoTags, tc.sentTags) {
				t.Errorf("Load sent RepoTags %q, want %q", f.sent[0].repoTags, tc.sentTags)
			}
			if len(tc.kept) > 0 && !slices.ContainsFunc(notices, func(n string) bool { return bytes.Contains([]byte(n), []byte("left as it is")) }) {
				t.Errorf("Load notices = %q, want one about the tag left as it is", notices)
			}
		})
	}
}

func TestLoadNotLoaded(t *testing.T) {
	dir, im := imageDir(t, "legacy.tar")
	f := newFake()
	f.forget = true
	_, err := Load(t.Context(), f, dir, LoadOptions{LockDir: t.TempDir()})
	var nl *NotLoadedError
	if !errors.As(err, &nl) || nl.ID != im.ID {
		t.Errorf("Load into an engine that forgets = %v, want a *NotLoadedError for %s", err, im.ID)
	}
}

// TestLoadRetriesContentRace: a load that a containerd store's GC race
// breaks is tried once more, and only once.
func TestLoadRetriesContentRace(t *testing.T) {
	for _, tc := range []struct {
		races int
		ok    bool
	}{{1, true}, {2, false}} {
		dir, _ := imageDir(t, "legacy.tar")
		f := newFake()
		f.races = tc.races
		res, err := Load(t.Context(), f, dir, LoadOptions{LockDir: t.TempDir()})
		if tc.ok && (err != nil || !res.Loaded) || !tc.ok && !errors.Is(err, loader.ErrContentRace) {
			t.Errorf("Load with %d races = %+v, %v, want ok: %v", tc.races, res, err, tc.ok)
		}
	}
}

func TestLoadMissingContent(t *testing.T) {
	dir, im := imageDir(t, "legacy.tar")
	layer := filepath.Join(dir, filepath.FromSlash(im.Layers[0].Path))
	if err := os.Remove(layer); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../.git/annex/objects/xx/yy/SHA256E-s1--0/SHA256E-s1--0", layer); err != nil {
		t.Fatal(err)
	}
	f := newFake()
	_, err := Load(t.Context(), f, dir, LoadOptions{LockDir: t.TempDir()})
	if !errors.Is(err, archive.ErrContentMissing) || f.loadCount() != 0 {
		t.Errorf("Load with a layer not present = %v after %d loads, want %v and no load", err, f.loadCount(), archive.ErrContentMissing)
	}
}

// TestLoadConcurrent starts several loads of one image into one engine at
// once: one loads, the others wait on the lock and find it present.
func TestLoadConcurrent(t *testing.T) {
	dir, _ := imageDir(t, "legacy.tar")
	f := newFake()
	f.loadDelay = 200 * time.Millisecond
	locks := t.TempDir()
	const n = 5
	results := make([]*LoadResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = Load(t.Context(), f, dir, LoadOptions{LockDir: locks}) })
	}
	wg.Wait()
	loaded := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Load %d = %v", i, errs[i])
		}
		if results[i].Loaded {
			loaded++
		}
		if results[i].EngineID != results[0].EngineID {
			t.Errorf("Load %d: EngineID %s, Load 0: %s", i, results[i].EngineID, results[0].EngineID)
		}
	}
	if loaded != 1 || f.loadCount() != 1 {
		t.Errorf("%d concurrent loads: %d said Loaded, the engine loaded %d times, want 1 and 1", n, loaded, f.loadCount())
	}
}

// TestLoadCancelWhileWaiting holds the lock as another process would and
// cancels a load waiting for it: it returns promptly with the context's
// error, having sent nothing.
func TestLoadCancelWhileWaiting(t *testing.T) {
	dir, im := imageDir(t, "legacy.tar")
	f := newFake()
	locks := t.TempDir()
	unlock, err := lockLoad(t.Context(), locks, f.Endpoint(), im.ID, func() { t.Error("the lock was free, want it taken") })
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(t.Context())
	waiting := make(chan struct{})
	var errLoad error
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, errLoad = Load(ctx, f, dir, LoadOptions{LockDir: locks, Events: Events{Notice: func(string) { close(waiting) }}})
	}()
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("Load did not say it was waiting for the lock")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Load went on waiting for the lock after its context was cancelled")
	}
	if !errors.Is(errLoad, context.Canceled) || f.loadCount() != 0 {
		t.Errorf("cancelled Load = %v after %d loads, want %v and none", errLoad, f.loadCount(), context.Canceled)
	}
}
