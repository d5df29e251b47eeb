package imgsave

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/loader/annex"
	"github.com/imgsave/imgsave/loader/registry"
)

// RemoteType is the externaltype of imgsave's git-annex special remote:
// git-annex runs git-annex-remote-imgsave for it.
const RemoteType = "imgsave"

// ErrNoRemote is wrapped by [Register]'s error when the dataset has no
// special remote of type [RemoteType].
var ErrNoRemote = annex.ErrNoRemote

// urlPrefix starts every URL imgsave records for a layer.
const urlPrefix = "imgsave:"

// RemoteOptions tune [ServeRemote].
type RemoteOptions struct {
	// Engine finds the engine, when a layer is first asked of it; a
	// machine without one still gets layers from registries.
	Engine func() (Engine, error)
	// Insecure is as for [Pull].
	Insecure bool
	// IdleTimeout is as for [Pull], for registry sources.
	IdleTimeout time.Duration
}

// ServeRemote is git-annex's special remote of type [RemoteType], speaking
// the external special remote protocol on in and out until git-annex is
// done. It only reads: for a layer's key it finds the sources recorded for
// it (by [Register]), cheapest first, the engine before registries, and
// hands over the layer of the first that has it, checked against its diff
// ID by the same extraction as save and pull. git-annex then checks the
// key, whatever its backend. An image is streamed once, however many of
// its layers are asked for and however many sessions git-annex runs at once.
func ServeRemote(ctx context.Context, in io.Reader, out io.Writer, opts RemoteOptions) error {
	r := &annexRemote{opts: opts, images: map[string]string{}, holds: map[string]*flock.Flock{}, present: map[string]bool{}}
	defer r.cleanup()
	return annex.Serve(ctx, in, out, r)
}

type annexRemote struct {
	opts   RemoteOptions
	eng    Engine
	engErr error
	found  bool

	images  map[string]string       // source image → its extraction
	holds   map[string]*flock.Flock // extraction → this session's shared hold
	present map[string]bool         // registry image → the registry has it
}

// cleanup lets go of the session's extractions, and removes each that no
// other session holds. The empty lock files beside them stay: removing a
// lock file another process may have just opened would split the lock.
func (r *annexRemote) cleanup() {
	for dir, hold := range r.holds {
		hold.Unlock()
		if ok, _ := hold.TryLock(); ok {
			os.RemoveAll(dir)
			hold.Unlock()
		}
	}
}

func (r *annexRemote) engine() (Engine, error) {
	if !r.found {
		r.found = true
		if r.opts.Engine == nil {
			r.engErr = errors.New("no engine")
		} else {
			r.eng, r.engErr = r.opts.Engine()
		}
	}
	return r.eng, r.engErr
}

// registerHint is what a user runs to record a layer's sources.
const registerHint = "run `imgsave remote register DIR` for its image directory, or `imgsave remote init` for all of the dataset's"

// Init records, when git-annex sets the remote up (initremote, and
// enableremote in each clone), the engine as the source of the layers of
// every image directory already in the dataset, as [RegisterDataset] does:
// without it, images saved before the remote was added would have no
// source (#18). It never fails the set-up: what it could not record, it
// says, with the command that records it.
func (r *annexRemote) Init(ctx context.Context, c *annex.Conn) error {
	eng, err := r.engine()
	if err != nil {
		c.Info(fmt.Sprintf("imgsave: no layer sources recorded (%v); %s once an engine holds the images", err, registerHint))
		return nil
	}
	// git-annex runs the remote in the folder it was run in, inside the
	// work tree.
	reg, pairs, err := datasetSources(ctx, ".", RegisterOptions{Engine: eng, Insecure: r.opts.Insecure})
	if err == nil {
		err = c.RecordURLs(ctx, ".", pairs)
	}
	if err != nil {
		c.Info(fmt.Sprintf("imgsave: no layer sources recorded: %v; %s", err, registerHint))
		return nil
	}
	if reg.Keys > 0 {
		c.Info(fmt.Sprintf("imgsave: recorded %s as sources of %d layers in %d image directories", strings.Join(reg.Sources, " and "), reg.Keys, len(reg.Dirs)))
	}
	return nil
}

// Prepare removes the extractions that killed sessions left behind.
func (r *annexRemote) Prepare(ctx context.Context, c *annex.Conn) error {
	gitDir, err := c.GitDir()
	if err != nil {
		return err
	}
	sweep(filepath.Join(gitDir, "annex", "tmp", "imgsave-remote"))
	return nil
}

// extractionName matches what a session makes under
// .git/annex/tmp/imgsave-remote: an image's extraction, named by the hash
// of its source, and the staging folders [archive.Extract] builds it in.
// Compiled on first use, not when every imgsave command starts (#29).
var extractionName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:([0-9a-f]{32})|\.([0-9a-f]{32})\.imgsave-(?:new-)?[0-9]+(?:\.old)?)$`)
})

// sweep removes the extractions, and their staging folders, that no live
// session holds. A session holds its image's NAME.use shared from before
// it extracts until it ends, and cleans up after itself; one killed
// outright (SIGKILL, a crash, a power cut) cannot, but the system drops
// its locks (#18). So whatever can be locked exclusively is abandoned, and
// a session that asks for the image meanwhile waits for the sweep and
// extracts it again. A folder it cannot remove is left for the next time.
func sweep(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		m := extractionName().FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		hold := flock.New(filepath.Join(base, m[1]+m[2]) + ".use")
		if ok, err := hold.TryLock(); err != nil || !ok {
			continue // a live session's
		}
		os.RemoveAll(filepath.Join(base, e.Name()))
		hold.Unlock()
	}
}

func (r *annexRemote) ClaimURL(u string) bool {
	_, err := parseSource(u)
	return err == nil
}

func (r *annexRemote) Info() [][2]string {
	return [][2]string{{"sources", "the local engine's images, then registries, as recorded by imgsave"}}
}

func (r *annexRemote) WhereIs(ctx context.Context, c *annex.Conn, key string) string {
	srcs, err := r.sources(c, key)
	if err != nil {
		return ""
	}
	var s []string
	for _, src := range srcs {
		s = append(s, src.String())
	}
	return strings.Join(s, ", ")
}

func (r *annexRemote) Retrieve(ctx context.Context, c *annex.Conn, key, file string) error {
	srcs, err := r.sources(c, key)
	if err != nil {
		return err
	}
	if len(srcs) == 0 {
		return fmt.Errorf("no source recorded for this key; %s", registerHint)
	}
	var errs []string
	for _, s := range srcs {
		err := r.retrieve(ctx, c, s, key, file)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v", s, err))
	}
	return fmt.Errorf("%s (to record another source, run `imgsave remote register --registry IMAGE DIR`)", strings.Join(errs, "; "))
}

// retrieve hands file the layer of s's image (a hard link into the
// extraction, else a copy), the image extracted, and so checked, once.
func (r *annexRemote) retrieve(ctx context.Context, c *annex.Conn, s source, key, file string) error {
	dir, err := r.image(ctx, c, s, key)
	if err != nil {
		return err
	}
	p := filepath.Join(dir, "blobs", s.layer.Algorithm().String(), s.layer.Encoded())
	if _, err := os.Lstat(p); err != nil {
		return fmt.Errorf("its image holds no layer %s", s.layer)
	}
	// A link, not a move: another session may want the same layer.
	os.Remove(file)
	if err := os.Link(p, file); err == nil {
		return nil
	}
	return copyFile(p, file)
}

// image extracts s's image once, reporting its progress as key's, the
// transfer git-annex waits for meanwhile. The extraction, under
// .git/annex/tmp/imgsave-remote, is shared by every session git-annex runs
// at once (git annex get -J): the first extracts it, under a lock, and the
// last to finish removes it. Each session holds it shared until then.
func (r *annexRemote) image(ctx context.Context, c *annex.Conn, s source, key string) (string, error) {
	id := s.ref
	if s.engine() {
		id = string(s.config)
	}
	if dir, ok := r.images[id]; ok {
		return dir, nil
	}
	// The engine is asked first: an image it lacks fails here, with
	// nothing made on disk.
	var eng Engine
	var img *loader.Image
	if s.engine() {
		var err error
		if eng, err = r.engine(); err != nil {
			return "", err
		}
		if img, err = inEngine(ctx, eng, s); err != nil {
			return "", err
		}
	}
	gitDir, err := c.GitDir()
	if err != nil {
		return "", err
	}
	base := filepath.Join(gitDir, "annex", "tmp", "imgsave-remote")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	dir := extractionDir(base, id)
	if _, held := r.holds[dir]; !held {
		hold := flock.New(dir + ".use")
		if err := hold.RLock(); err != nil {
			return "", fmt.Errorf("holding %s: %w", dir, err)
		}
		r.holds[dir] = hold
	}
	unlock, err := lockFile(ctx, dir+".lock", func() { c.Debug("waiting for another session extracting " + s.String()) })
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(dir); err == nil { // extractions are put in place whole
		r.images[id] = dir
		return dir, nil
	}

	var rc io.ReadCloser
	var total int64 // the stream's expected length, for progress
	if s.engine() {
		if rc, err = eng.Save(ctx, string(img.ID)); err != nil {
			return "", err
		}
		total = img.Size
	} else {
		p, err := registry.Pull(ctx, s.ref, registry.Options{Insecure: r.opts.Insecure, Jobs: 1, IdleTimeout: r.opts.IdleTimeout})
		if err != nil {
			return "", err
		}
		rc, total = p, p.Size
	}
	defer rc.Close()
	progress := c.KeyProgress(key, total)
	if _, err := archive.Extract(ctx, rc, dir, archive.Options{Scratch: true, Progress: progress}); err != nil {
		return "", err
	}
	if err := rc.Close(); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if progress != nil {
		progress(total) // all read, whatever the engine's estimate said
	}
	r.images[id] = dir
	return dir, nil
}

// extractionDir is where the sessions under base extract the image id.
// Each holds dir.use shared while it may use the extraction, which keeps
// [sweep] from it; dir.lock is taken to extract.
func extractionDir(base, id string) string {
	h := sha256.Sum256([]byte(id))
	return filepath.Join(base, hex.EncodeToString(h[:16]))
}

func (r *annexRemote) CheckPresent(ctx context.Context, c *annex.Conn, key string) (bool, error) {
	srcs, err := r.sources(c, key)
	if err != nil {
		return false, err
	}
	var errs []string
	for _, s := range srcs {
		ok, err := r.has(ctx, s)
		if ok {
			return true, nil
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", s, err))
		}
	}
	if len(errs) > 0 {
		return false, errors.New(strings.Join(errs, "; "))
	}
	return false, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	return out.Close()
}
