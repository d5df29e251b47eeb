package imgsave

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/opencontainers/go-digest"

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

// A source is one place a layer can be had from again: an image in the
// local engine, or an image in a registry, that holds it.
type source struct {
	// An engine image, by config digest (the ID on classic stores and
	// podman), the manifest digest imgsave loads it under (the ID on
	// containerd stores), and the ID the engine gave it when it was
	// recorded, if another (a containerd store's image that imgsave did
	// not load).
	config, manifest, id digest.Digest
	// A registry image, as repository@digest.
	ref string
	// The layer, by diff ID.
	layer digest.Digest
}

func (s source) engine() bool { return s.ref == "" }

// url renders s as the URL git-annex records for the layer's key.
func (s source) url() string {
	if s.engine() {
		u := urlPrefix + "engine?config=" + s.config.String()
		if s.manifest != "" {
			u += "&manifest=" + s.manifest.String()
		}
		if s.id != "" && s.id != s.config && s.id != s.manifest {
			u += "&id=" + s.id.String()
		}
		return u + "&layer=" + s.layer.String()
	}
	return urlPrefix + "registry?ref=" + s.ref + "&layer=" + s.layer.String()
}

// String is s for people: where the layer is.
func (s source) String() string {
	if s.engine() {
		return "the engine's image " + short(s.config)
	}
	return "the registry's " + s.ref
}

func parseSource(u string) (source, error) {
	rest, ok := strings.CutPrefix(u, urlPrefix)
	kind, query, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(query)
	if !ok || err != nil {
		return source{}, fmt.Errorf("%q: not an imgsave URL", u)
	}
	s := source{layer: digest.Digest(q.Get("layer"))}
	switch kind {
	case "engine":
		s.config, s.manifest, s.id = digest.Digest(q.Get("config")), digest.Digest(q.Get("manifest")), digest.Digest(q.Get("id"))
		if s.config.Validate() != nil || (s.manifest != "" && s.manifest.Validate() != nil) || (s.id != "" && s.id.Validate() != nil) {
			return source{}, fmt.Errorf("%q: want config=DIGEST", u)
		}
	case "registry":
		s.ref = q.Get("ref")
		if !strings.Contains(s.ref, "@sha256:") {
			return source{}, fmt.Errorf("%q: want ref=REPOSITORY@DIGEST", u)
		}
	default:
		return source{}, fmt.Errorf("%q: want imgsave:engine or imgsave:registry", u)
	}
	if s.layer.Validate() != nil {
		return source{}, fmt.Errorf("%q: want layer=DIGEST", u)
	}
	return s, nil
}

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

// sources are the key's recorded sources, the engine's first.
func (r *annexRemote) sources(c *annex.Conn, key string) ([]source, error) {
	urls, err := c.URLs(key, urlPrefix)
	if err != nil {
		return nil, err
	}
	var out []source
	for _, u := range urls {
		if s, err := parseSource(u); err == nil {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b source) int {
		switch {
		case a.engine() == b.engine():
			return 0
		case a.engine():
			return -1
		}
		return 1
	})
	return out, nil
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
	progress := keyProgress(c, key, total)
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

// keyProgress maps the bytes read of an image's stream, of total expected,
// onto key's size: git-annex shows one transfer, and the whole image is
// read for it. A PROGRESS goes at each new percent; with no total or no
// size in the key, none.
func keyProgress(c *annex.Conn, key string, total int64) func(read int64) {
	size, ok := annex.KeySize(key)
	if !ok || total <= 0 {
		return nil
	}
	last := int64(-1)
	return func(read int64) {
		pct := share(min(max(read, 0), total), 100, total)
		if pct != last {
			last = pct
			c.Progress(share(size, pct, 100))
		}
	}
}

// share is n×num/den for 0 ≤ num ≤ den and n ≥ 0, without the overflow
// of n×num: a key's size, or a stream's, may be near MaxInt64 (#28).
func share(n, num, den int64) int64 {
	hi, lo := bits.Mul64(uint64(n), uint64(num))
	q, _ := bits.Div64(hi, lo, uint64(den)) // hi < den since num ≤ den
	return int64(q)
}

// inEngine finds the engine's image of s, by config digest or manifest
// digest, if it holds s's layer.
func inEngine(ctx context.Context, eng Engine, s source) (*loader.Image, error) {
	for _, n := range []digest.Digest{s.config, s.manifest, s.id} {
		if n == "" {
			continue
		}
		img, err := eng.Inspect(ctx, string(n))
		if errors.Is(err, loader.ErrImageNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if slices.Contains(img.DiffIDs, s.layer) {
			return img, nil
		}
	}
	return nil, fmt.Errorf("%w: no image %s holding the layer (removed, or never on this machine)", ErrNotInEngine, short(s.config))
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

// has reports whether s can give its layer now: the engine holds the
// image, or the registry has the manifest and its config lists the layer.
func (r *annexRemote) has(ctx context.Context, s source) (bool, error) {
	if s.engine() {
		eng, err := r.engine()
		if err != nil {
			return false, err
		}
		_, err = inEngine(ctx, eng, s)
		if errors.Is(err, ErrNotInEngine) {
			return false, nil
		}
		return err == nil, err
	}
	k := s.ref + " " + s.layer.String()
	if ok, seen := r.present[k]; seen {
		return ok, nil
	}
	d, err := registry.Describe(ctx, s.ref, registry.Options{Insecure: r.opts.Insecure, IdleTimeout: r.opts.IdleTimeout})
	if errors.Is(err, registry.ErrNotFound) {
		r.present[k] = false
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r.present[k] = slices.Contains(d.DiffIDs, s.layer.String())
	return r.present[k], nil
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

// RegisterOptions say which sources [Register] records.
type RegisterOptions struct {
	// Engine, when set, is recorded as a source of every layer of the
	// directory's images, with the registries it knows them from: their
	// repo digests, but for the engine's own ID (containerd stores list
	// it) and podman's localhost/ names.
	Engine Engine
	// Registries name images in registries (repository:tag or
	// repository@digest), each recorded for the layers it holds.
	Registries []string
	// Insecure is as for [Pull].
	Insecure bool
}

// Registered is what [Register] and [RegisterDataset] recorded.
type Registered struct {
	// Dirs are the image directories whose layers were looked at.
	Dirs []string `json:"dirs"`
	// Keys counts the layer files whose sources were recorded.
	Keys int `json:"keys"`
	// Sources are the sources recorded, as git-annex keeps them.
	Sources []string `json:"sources"`
}

// Register records, in the git-annex repository holding dir, where the
// layers of dir's images can be had again, so that `git annex get` (and
// `datalad get`) in any clone can take them from the engine or a registry
// through the special remote of type [RemoteType] instead of a copy of the
// dataset's own. It writes to the git-annex branch and nothing else.
//
// [Save], [Pull] and [Push] record nothing themselves: a caller that wants
// the remote to find what they wrote calls Register after them, with the
// engine it saved from, or the Source of [Pulled] or
// [registry.Pushed] as a registry. The imgsave command does so whenever
// the dataset has the remote.
//
// The repository must have that remote (see [InitRemote]); without it the
// error wraps [ErrNoRemote]. Only uncompressed layer files, named by their
// diff ID, are recorded: those are what the remote hands over. A layer
// several images share is recorded with each image's sources.
func Register(ctx context.Context, dir string, opts RegisterOptions) (*Registered, error) {
	rem, err := annex.FindRemote(ctx, dir, RemoteType)
	if err != nil {
		return nil, err
	}
	described, err := describeRegistries(ctx, opts)
	if err != nil {
		return nil, err
	}
	reg := &Registered{Dirs: []string{}, Sources: []string{}}
	pairs, err := reg.add(ctx, dir, opts, described)
	if err != nil {
		return nil, err
	}
	if err := annex.RegisterURLs(ctx, dir, rem, pairs); err != nil {
		return nil, err
	}
	return reg, nil
}

// RegisterDataset records, as [Register] does, the sources of every image
// directory in the git repository holding dir: each folder whose tracked
// manifest.json or index.json [archive.OpenDir] accepts. Folders it does
// not accept, such as one whose content is not present in a clone, are
// left out. It is what a dataset whose images were saved before it had the
// remote needs once; the remote's INITREMOTE does the same for the engine.
func RegisterDataset(ctx context.Context, dir string, opts RegisterOptions) (*Registered, error) {
	rem, err := annex.FindRemote(ctx, dir, RemoteType)
	if err != nil {
		return nil, err
	}
	reg, pairs, err := datasetSources(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	if err := annex.RegisterURLs(ctx, dir, rem, pairs); err != nil {
		return nil, err
	}
	return reg, nil
}

// datasetSources finds the image directories of the work tree holding dir
// and the {key, URL} pairs of their layers' sources.
func datasetSources(ctx context.Context, dir string, opts RegisterOptions) (*Registered, [][2]string, error) {
	top, files, err := annex.TrackedFiles(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	described, err := describeRegistries(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	var dirs []string
	seen := map[string]bool{}
	for _, f := range files {
		if b := filepath.Base(f); b != "manifest.json" && b != "index.json" {
			continue
		}
		if d := filepath.Dir(f); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	reg := &Registered{Dirs: []string{}, Sources: []string{}}
	var pairs [][2]string
	for _, d := range dirs {
		p, err := reg.add(ctx, filepath.Join(top, d), opts, described)
		if errors.Is(err, errNotImageDir) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		pairs = append(pairs, p...)
	}
	return reg, pairs, nil
}

// errNotImageDir: a folder [archive.OpenDir] refuses.
var errNotImageDir = errors.New("not an image directory")

// describeRegistries looks up each of opts.Registries.
func describeRegistries(ctx context.Context, opts RegisterOptions) ([]*registry.Described, error) {
	var described []*registry.Described
	for _, ref := range opts.Registries {
		desc, err := registry.Describe(ctx, ref, registry.Options{Insecure: opts.Insecure})
		if err != nil {
			return nil, err
		}
		described = append(described, desc)
	}
	return described, nil
}

// add works out the sources of the layers of dir's images, returns them as
// {key, URL} pairs, and counts them in reg.
func (reg *Registered) add(ctx context.Context, dir string, opts RegisterOptions, described []*registry.Described) ([][2]string, error) {
	d, err := archive.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNotImageDir, err)
	}
	var files []string
	var urls [][]string
	index := map[string]int{} // layer file → its place in files
	for _, im := range d.Images {
		var refs []string
		var engineID digest.Digest
		if opts.Engine != nil {
			img, err := present(ctx, opts.Engine, im)
			if err != nil {
				return nil, err
			}
			if img != nil {
				engineID = img.ID
				for _, rd := range img.RepoDigests {
					// Not the engine's own ID (containerd stores list it),
					// nor podman's name for a local image.
					if repo, dg, ok := strings.Cut(rd, "@"); ok && digest.Digest(dg) != img.ID && !strings.HasPrefix(repo, "localhost/") && !slices.Contains(refs, rd) {
						refs = append(refs, rd)
					}
				}
			}
		}
		for _, l := range im.Layers {
			if l.Digest != l.DiffID {
				continue // a compressed blob: not what the remote hands over
			}
			var us []string
			if opts.Engine != nil {
				us = append(us, source{config: im.ID, manifest: im.ManifestDigest, id: engineID, layer: l.DiffID}.url())
			}
			for _, rd := range refs {
				us = append(us, source{ref: rd, layer: l.DiffID}.url())
			}
			for _, desc := range described {
				if slices.Contains(desc.DiffIDs, l.DiffID.String()) {
					us = append(us, source{ref: desc.Source, layer: l.DiffID}.url())
				}
			}
			if len(us) == 0 {
				continue
			}
			// A layer another image shares keeps that image's sources and
			// gains this one's (#18): either may leave the engine.
			i, ok := index[l.Path]
			if !ok {
				i = len(files)
				index[l.Path] = i
				files = append(files, filepath.FromSlash(l.Path))
				urls = append(urls, nil)
			}
			for _, u := range us {
				if !slices.Contains(urls[i], u) {
					urls[i] = append(urls[i], u)
				}
				s, _ := parseSource(u)
				s.layer = ""
				if n := s.String(); !slices.Contains(reg.Sources, n) {
					reg.Sources = append(reg.Sources, n)
				}
			}
		}
	}
	keys, err := annex.Keys(ctx, dir, files)
	if err != nil {
		return nil, err
	}
	var pairs [][2]string
	for i, k := range keys {
		for _, u := range urls[i] {
			pairs = append(pairs, [2]string{k, u})
		}
	}
	reg.Dirs = append(reg.Dirs, dir)
	reg.Keys += len(keys)
	return pairs, nil
}

// HasRemote reports whether the git-annex repository holding dir has the
// special remote of type [RemoteType]: false too when dir is in no
// repository or git is not there.
func HasRemote(ctx context.Context, dir string) bool {
	_, err := annex.FindRemote(ctx, dir, RemoteType)
	return err == nil
}

// InitRemote sets up imgsave's special remote, named name, in the
// git-annex repository at dir: enabled in every clone by `git annex init`
// when git-annex-remote-imgsave is on PATH, and untrusted, since an engine
// or a registry may drop an image at any time, so that its copies never
// count towards numcopies. A repository that has the remote is left as it
// is; one whose git-annex branch has it, not enabled here, enables it.
// Setting it up or enabling it runs the remote's INITREMOTE, which
// records the engine's sources as [RegisterDataset] does; a caller that
// wants them recorded in every case calls RegisterDataset after.
func InitRemote(ctx context.Context, dir, name string) error {
	return annex.InitRemote(ctx, dir, name, RemoteType)
}

// LinkRemote makes git-annex-remote-imgsave, the program git-annex runs
// for the remote, a link to exe (imgsave itself) in dir, "" meaning exe's
// own folder, and returns the link's path. A link that is already there
// and right is left as it is; anything else there is not replaced.
func LinkRemote(exe, dir string) (string, error) {
	exe, err := filepath.Abs(exe)
	if err != nil {
		return "", err
	}
	if dir == "" {
		dir = filepath.Dir(exe)
	}
	link := filepath.Join(dir, "git-annex-remote-"+RemoteType)
	if t, err := os.Readlink(link); err == nil && t == exe {
		return link, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("link the remote: %w", err)
	}
	if err := os.Symlink(exe, link); err != nil {
		return "", fmt.Errorf("link the remote: %w", err)
	}
	return link, nil
}
