package imgsave

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// Each long operation, cancelled half-way, returns soon after with an
// error wrapping context.Canceled and leaves nothing behind: no target, no
// staging folder beside it, no spool under the cache. Half-way is a state
// the test waits for (bytes through, a request stalled), never a sleep;
// the 5 s bound after the cancel only tells a hang from a slow return.

// cancelBound is how long a cancelled call may take to return before the
// test calls it a hang.
const cancelBound = 5 * time.Second

// bigSave is a `docker save` tarball (legacy layout) of one image named
// tag, whose layers each hold size bytes of random data: big enough that
// what a test cancels is still running.
func bigSave(t testing.TB, tag string, layers, size int) []byte {
	t.Helper()
	rnd := rand.NewChaCha8([32]byte{byte(layers), byte(size >> 20)})
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	var diffIDs, paths []string
	for i := range layers {
		data := make([]byte, size)
		rnd.Read(data)
		var lb bytes.Buffer
		ltw := tar.NewWriter(&lb)
		if err := ltw.WriteHeader(&tar.Header{Name: "data" + strconv.Itoa(i), Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		ltw.Write(data)
		if err := ltw.Close(); err != nil {
			t.Fatal(err)
		}
		hex := fmt.Sprintf("%x", sha256.Sum256(lb.Bytes()))
		diffIDs = append(diffIDs, "sha256:"+hex)
		paths = append(paths, hex+"/layer.tar")
		writeMember(t, tw, hex+"/layer.tar", lb.Bytes())
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux", "created": "2026-01-01T00:00:00Z",
		"config": map[string]any{"Cmd": []string{"/data0"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(cfg))
	writeMember(t, tw, cfgName, cfg)
	m, err := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{tag}, "Layers": paths}})
	if err != nil {
		t.Fatal(err)
	}
	writeMember(t, tw, "manifest.json", m)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func writeMember(t testing.TB, tw *tar.Writer, name string, b []byte) {
	t.Helper()
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(b); err != nil {
		t.Fatal(err)
	}
}

// bigDir imports bigSave's tarball into a directory and returns it.
func bigDir(t *testing.T, tag string, layers, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "img")
	if _, err := Import(t.Context(), bytes.NewReader(bigSave(t, tag, layers, size)), dir, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cancelHalfway runs call in the background, cancels its context once
// halfway is closed, and returns call's error. It fails the test if call
// returns before halfway, or not within cancelBound of the cancel, or
// with an error that does not wrap context.Canceled.
func cancelHalfway(t *testing.T, halfway <-chan struct{}, call func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- call(ctx) }()
	select {
	case <-halfway:
	case err := <-done:
		t.Fatalf("returned %v before it was half-way", err)
	case <-time.After(2 * time.Minute):
		t.Fatalf("never got half-way")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled half-way: %v, want an error wrapping context.Canceled", err)
		}
	case <-time.After(cancelBound):
		t.Fatalf("still running %v after its context was cancelled", cancelBound)
	}
}

// stallAt returns a progress callback that, once n bytes went through,
// closes halfway and then holds the caller until ctx ends: the operation
// is stopped half-way, and goes on only to find ctx cancelled.
func stallAt(n int64) (progress func(ctx context.Context) func(int64), halfway chan struct{}) {
	halfway = make(chan struct{})
	var once sync.Once
	return func(ctx context.Context) func(int64) {
		return func(read int64) {
			if read >= n {
				once.Do(func() {
					close(halfway)
					<-ctx.Done()
				})
			}
		}
	}, halfway
}

// assertNothingLeft fails if parent holds anything but the names in keep,
// or if the user's cache holds a pull's spool.
func assertNothingLeft(t *testing.T, parent string, keep ...string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(keep, e.Name()) {
			t.Errorf("left %s in %s", e.Name(), parent)
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return
	}
	filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "imgsave-pull-") {
			t.Errorf("left the spool %s", p)
		}
		return nil
	})
}

// TestCancelImport: `save | imgsave import -` stopped while the pipe
// waits for data (the writer has stalled half-way).
func TestCancelImport(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	tb := bigSave(t, "imgsave-cancel/import:1", 1, 8<<20)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	half := len(tb) / 2
	go pw.Write(tb[:half]) // and no more: the saving engine stalls
	halfway := make(chan struct{})
	var once sync.Once
	parent := t.TempDir()
	cancelHalfway(t, halfway, func(ctx context.Context) error {
		_, err := Import(ctx, pr, filepath.Join(parent, "new", "img"), SaveOptions{Events: Events{Progress: func(n int64) {
			if n >= int64(half) {
				once.Do(func() { close(halfway) })
			}
		}}})
		return err
	})
	assertNothingLeft(t, parent)
}

// TestCancelVerify: verify stopped while it hashes a large layer. The
// layer is replaced by a sparse file of 16 GiB (verify reads it all and
// finds it corrupt); half-way is its read offset, as /proc shows it.
func TestCancelVerify(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("watches the read offset in /proc/self/fdinfo")
	}
	dir := bigDir(t, "imgsave-cancel/verify:1", 1, 1<<20)
	d, err := archive.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(dir, filepath.FromSlash(d.Images[0].Layers[0].Path))
	if err := os.Remove(layer); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(layer)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(16 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before := listTree(t, dir)
	halfway := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			if readOffset(layer) >= 256<<20 {
				close(halfway)
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	cancelHalfway(t, halfway, func(ctx context.Context) error {
		_, err := Verify(ctx, dir, VerifyOptions{})
		return err
	})
	if after := listTree(t, dir); !slices.Equal(before, after) {
		t.Errorf("verify changed the directory: %q, then %q", before, after)
	}
}

// readOffset is the largest offset at which this process has path open,
// or -1.
func readOffset(p string) int64 {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	off := int64(-1)
	for _, fd := range fds {
		if target, err := os.Readlink(path.Join("/proc/self/fd", fd.Name())); err != nil || target != p {
			continue
		}
		b, err := os.ReadFile(path.Join("/proc/self/fdinfo", fd.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "pos:"); ok {
				if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n > off {
					off = n
				}
			}
		}
	}
	return off
}

// listTree lists a directory's files with their sizes and modes.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %v %d", p, fi.Mode(), fi.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// stallingWriter passes on the first n bytes of a response, then flushes
// them, closes halfway and holds the handler until the client goes away:
// a registry that stops sending in the middle of a blob.
type stallingWriter struct {
	http.ResponseWriter
	r       *http.Request
	n       int
	once    *sync.Once
	halfway chan struct{}
}

func (s *stallingWriter) Write(p []byte) (int, error) {
	if len(p) < s.n {
		s.n -= len(p)
		return s.ResponseWriter.Write(p)
	}
	w, _ := s.ResponseWriter.Write(p[:s.n])
	s.n = 0
	s.ResponseWriter.(http.Flusher).Flush()
	s.once.Do(func() { close(s.halfway) })
	<-s.r.Context().Done()
	return w, s.r.Context().Err()
}

// TestCancelPull: a pull stopped while the registry trickles its layers
// (two, so that one is spooled under the cache while the other streams).
func TestCancelPull(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	tb := bigSave(t, "imgsave-cancel/pull:1", 2, 4<<20)
	img, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tb)), nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	halfway := make(chan struct{})
	var once sync.Once
	h := registrytest.Serve(t, nil)
	h.On(func(w http.ResponseWriter, r *http.Request) bool {
		if !isBlob(r) || strings.HasSuffix(r.URL.Path, cfg.String()) {
			return false
		}
		h.Registry.ServeHTTP(&stallingWriter{ResponseWriter: w, r: r, n: 1 << 20, once: &once, halfway: halfway}, r)
		return true
	})
	ref := h.Host + "/cancel/pull:1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	cancelHalfway(t, halfway, func(ctx context.Context) error {
		// Jobs 3, so that a layer is spooled (a loopback registry gets 1).
		_, err := Pull(ctx, ref, filepath.Join(parent, "img"), PullOptions{Jobs: 3})
		return err
	})
	assertNothingLeft(t, parent)
}

// TestCancelPush: a push stopped while the registry has stopped reading
// a layer's upload half-way; the directory is as it was.
func TestCancelPush(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := bigDir(t, "imgsave-cancel/push:1", 1, 16<<20)
	before := listTree(t, dir)
	halfway := make(chan struct{})
	var once sync.Once
	host := registrytest.Serve(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPatch {
			return false
		}
		io.CopyN(io.Discard, r.Body, 1<<20)
		once.Do(func() { close(halfway) })
		<-r.Context().Done() // the client went away
		return true
	}).Host
	cancelHalfway(t, halfway, func(ctx context.Context) error {
		_, err := Push(ctx, dir, host+"/cancel/push:1", PushOptions{})
		return err
	})
	if after := listTree(t, dir); !slices.Equal(before, after) {
		t.Errorf("push changed the directory: %q, then %q", before, after)
	}
	assertNothingLeft(t, filepath.Dir(dir), "img")
}

// blockingSave is a fake engine's save stream that sends the first n
// bytes of a real save and then waits for ctx, as a real engine's does
// whose save has stalled: the stream of loader.Engine.Save ends when ctx
// does (the CLI is stopped) or when it is closed.
type blockingSave struct {
	ctx     context.Context
	r       io.Reader
	n       int
	halfway chan struct{}
	once    *sync.Once
	closed  chan struct{}
	close   sync.Once
}

func (b *blockingSave) Read(p []byte) (int, error) {
	if b.n > 0 {
		n, err := b.r.Read(p[:min(len(p), b.n)])
		b.n -= n
		return n, err
	}
	b.once.Do(func() { close(b.halfway) })
	select {
	case <-b.ctx.Done():
		return 0, context.Cause(b.ctx)
	case <-b.closed:
		return 0, errors.New("save stream closed")
	}
}

func (b *blockingSave) Close() error {
	b.close.Do(func() { close(b.closed) })
	return nil
}

// stallingEngine is fakeEngine whose saves stall after n bytes.
type stallingEngine struct {
	*fakeEngine
	n       int
	halfway chan struct{}
	once    sync.Once
	mu      sync.Mutex
	streams []*blockingSave
}

func (s *stallingEngine) Save(ctx context.Context, refs ...string) (io.ReadCloser, error) {
	b, err := os.ReadFile(s.saveFile)
	if err != nil {
		return nil, err
	}
	st := &blockingSave{ctx: ctx, r: bytes.NewReader(b), n: s.n, halfway: s.halfway, once: &s.once, closed: make(chan struct{})}
	s.mu.Lock()
	s.streams = append(s.streams, st)
	s.mu.Unlock()
	return st, nil
}

// TestCancelRemoteRetrieve: git-annex's retrieve of a layer, out of an
// engine whose save stalls half-way, ends when the session's context
// does; the session's extraction is removed and the save stream closed.
func TestCancelRemoteRetrieve(t *testing.T) {
	im, fake := remoteFixture(t)
	eng := &stallingEngine{fakeEngine: fake, n: 8 << 10, halfway: make(chan struct{})}
	src := source{config: im.ID, manifest: im.ManifestDigest, layer: im.Layers[0].DiffID}
	key := "SHA256E-s1000--" + im.Layers[0].DiffID.Encoded()
	gitDir := t.TempDir()
	file := filepath.Join(t.TempDir(), "key")
	in := strings.NewReader(strings.Join([]string{"TRANSFER RETRIEVE " + key + " " + file, "VALUE " + src.url(), "VALUE", "VALUE " + gitDir}, "\n") + "\n")
	var out bytes.Buffer
	cancelHalfway(t, eng.halfway, func(ctx context.Context) error {
		return ServeRemote(ctx, in, &out, RemoteOptions{Engine: func() (Engine, error) { return eng, nil }})
	})
	if !strings.Contains(out.String(), "TRANSFER-FAILURE RETRIEVE "+key) {
		t.Errorf("the remote said %q, want a failed retrieve", out.String())
	}
	assertNoExtraction(t, gitDir)
	eng.mu.Lock()
	defer eng.mu.Unlock()
	for _, st := range eng.streams {
		select {
		case <-st.closed:
		default:
			t.Errorf("the engine's save stream was left open")
		}
	}
}

// e2eEngines returns an engine for each daemon named in IMGSAVE_ENGINES
// (DOCKER_HOST values, or podman), or the environment's own docker.
// Without one that answers the test is skipped, or fails with
// IMGSAVE_E2E=1 (CI), as in loader's end-to-end tests.
func e2eEngines(t *testing.T) []*loader.Engine {
	t.Helper()
	ci := os.Getenv("IMGSAVE_E2E") == "1"
	skipOrFail := func(format string, args ...any) {
		t.Helper()
		if ci {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	hosts := strings.Fields(os.Getenv("IMGSAVE_ENGINES"))
	if len(hosts) == 0 {
		hosts = []string{""}
	}
	var out []*loader.Engine
	for _, h := range hosts {
		var e *loader.Engine
		switch h {
		case "podman-rootless":
			continue // a user's engine: cmd/imgsave's scripts run as that user
		case "podman":
			p, err := loader.Find("podman")
			if err != nil {
				skipOrFail("IMGSAVE_ENGINES names podman: %v", err)
			}
			// As in loader's tests: Debian 12's rootful podman cannot set its
			// default rlimits in this sandbox.
			conf := filepath.Join(t.TempDir(), "containers.conf")
			if err := os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			p.Env = []string{"CONTAINERS_CONF=" + conf}
			e = p
		default:
			d, err := loader.Find("docker")
			if err != nil {
				skipOrFail("%v", err)
			}
			if h != "" {
				d.Env = []string{"DOCKER_HOST=" + h}
			}
			e = d
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		_, err := e.Rootless(ctx)
		cancel()
		if err != nil {
			skipOrFail("engine %s %v does not answer: %v", e.Name, e.Env, err)
		}
		out = append(out, e)
	}
	return out
}

// engineName names an engine in a subtest.
func engineName(e *loader.Engine) string {
	if len(e.Env) == 0 || e.Name == "podman" {
		return e.Name
	}
	return e.Name + "-" + path.Base(e.Env[0])
}

// removeImage removes ref from the engine, whatever happened before.
func removeImage(e *loader.Engine, ref string) {
	cmd := exec.Command(e.Path, "rmi", "-f", ref)
	cmd.Env = append(os.Environ(), e.Env...)
	cmd.Run()
}

// TestCancelSave: a save stopped half-way through the engine's stream.
func TestCancelSave(t *testing.T) {
	for _, e := range e2eEngines(t) {
		t.Run(engineName(e), func(t *testing.T) {
			tag := fmt.Sprintf("imgsave-cancel/save-%d:1", time.Now().UnixNano())
			t.Cleanup(func() { removeImage(e, tag) })
			if _, err := e.Load(t.Context(), bytes.NewReader(bigSave(t, tag, 1, 64<<20))); err != nil {
				t.Fatal(err)
			}
			progress, halfway := stallAt(8 << 20)
			parent := t.TempDir()
			cancelHalfway(t, halfway, func(ctx context.Context) error {
				_, err := Save(ctx, e, []string{tag}, filepath.Join(parent, "img"), SaveOptions{Pull: PullNever, Events: Events{Progress: progress(ctx)}})
				return err
			})
			assertNothingLeft(t, parent)
		})
	}
}

// TestCancelLoad: a load stopped half-way through the stream into the
// engine, which then lacks the image.
func TestCancelLoad(t *testing.T) {
	for _, e := range e2eEngines(t) {
		t.Run(engineName(e), func(t *testing.T) {
			tag := fmt.Sprintf("imgsave-cancel/load-%d:1", time.Now().UnixNano())
			t.Cleanup(func() { removeImage(e, tag) })
			dir := bigDir(t, tag, 1, 64<<20)
			d, err := archive.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			progress, halfway := stallAt(8 << 20)
			cancelHalfway(t, halfway, func(ctx context.Context) error {
				_, err := Load(ctx, e, dir, LoadOptions{LockDir: t.TempDir(), Events: Events{Progress: progress(ctx)}})
				return err
			})
			if got, err := present(t.Context(), e, d.Images[0]); got != nil || err != nil {
				t.Errorf("after a cancelled load the engine has %+v (%v), want no image", got, err)
			}
		})
	}
}
