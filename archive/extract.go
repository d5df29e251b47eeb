package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/manifest"
)

// Options tune [Extract].
type Options struct {
	// Replace allows a non-empty target, which is swapped for the new tree
	// atomically once that is complete.
	Replace bool
	// Progress, when set, is called with the number of bytes read from the
	// stream so far, after every read.
	Progress func(read int64)
	// Scratch skips making the tree durable (no file or file system
	// syncs): for a temporary copy that another program checks and keeps,
	// as the layers imgsave's special remote hands to git-annex.
	Scratch bool
	// MaxExpand bounds decompression: a gzip or zstd layer may expand to
	// at most max(MaxExpand × its compressed size, [ExpandFloor]) bytes,
	// and so may an archive compressed as a whole, measured on what has
	// been read of it so far. Past that, Extract stops with an
	// *[ExpandError] before writing more. 0 means [DefaultMaxExpand]; a
	// negative value lifts the bound.
	MaxExpand int
	// Platforms, when set, keeps only the images of these platforms
	// ("os/arch[/variant]", matched as [SamePlatform] does) of a
	// multi-platform save; each must be there, else Extract fails with
	// an error wrapping [ErrPlatform] that lists those the save holds.
	Platforms []string
	// Extra are files of the evidence folder written into the tree with
	// the image's (see [EvidenceDir]), so that the directory appears with
	// them or not at all.
	Extra []File
	// DropEvidence lets Replace drop the evidence of the target that no
	// longer applies to the new tree; without it Extract refuses with an
	// *[EvidenceError] (see [EvidenceError] for what applies).
	DropEvidence bool
	// Check, when set, is called with the path of the complete tree,
	// still under its temporary name, before it is put in place; its
	// error stops Extract and leaves the target as it was (a pull under a
	// verify key checks the signatures there).
	Check func(staged string) error

	// owned says which entries of a full target Replace may remove; nil
	// means only what imgsave writes. Migrate also allows a raw save's.
	owned func(rel string, d fs.DirEntry) bool
}

// Result describes what [Extract] wrote.
type Result struct {
	Images []manifest.Image
	// Manifests are the digests of the canonical OCI manifests, one per
	// image: the IDs a containerd-store engine gives them.
	Manifests []digest.Digest
	// Dropped lists the platforms of a multi-platform save that were left
	// out because their blobs were not in the archive.
	Dropped []string
	// DroppedEvidence are the signed digests whose folders of the
	// replaced target's evidence no longer applied and were dropped
	// (only with [Options.DropEvidence]).
	DroppedEvidence []digest.Digest
	// EvidenceLeftOut says which of BuildKit's attestation manifests the
	// archive lists about an image kept were left out of the evidence
	// folder, and why (their blobs missing, over a bound).
	EvidenceLeftOut []string
}

// modTime is the modification time of every file and folder imgsave writes,
// so that a directory's tar stream is the same whenever it was written.
var modTime = time.Unix(0, 0)

// Extract reads a save stream from r (tar, plain or gzip or zstd
// compressed) and writes imgsave's canonical layout to dir, making its
// missing parent folders. It streams:
// memory use does not grow with the size of the image. On any error dir is
// left as it was and nothing else remains, not even the parents it made.
// When ctx ends, the next read of r fails with the context's cause (a read
// already blocked in r is not interrupted: a caller whose r can block
// forever closes it, or makes it interruptible as imgsave.Import does).
func Extract(ctx context.Context, r io.Reader, dir string, opts Options) (_ *Result, err error) {
	dir = filepath.Clean(dir)
	if opts.owned == nil {
		opts.owned = ownedCanonical
	}
	if err := checkTarget(dir, opts.Replace, opts.owned); err != nil {
		return nil, err
	}
	unmake, err := makeParents(dir)
	if err != nil {
		return nil, err
	}
	removeAbandoned(filepath.Dir(dir))
	// Locked from its making until Extract returns, so that no other
	// extraction takes it for abandoned.
	staging, unlock, err := makeStaging(dir)
	if err != nil {
		unmake()
		return nil, err
	}
	defer unlock()
	done := false
	defer func() {
		if !done {
			os.RemoveAll(staging)
			unmake()
		}
	}()
	root, err := os.OpenRoot(staging)
	if err != nil {
		return nil, err
	}
	defer root.Close()

	if err := root.Mkdir("incoming", 0o700); err != nil {
		return nil, err
	}
	x := &extractor{ctx: ctx, root: root, entries: make(map[string]*entry), buf: make([]byte, 1<<20), peek: bufio.NewReaderSize(nil, 4<<10), pool: newPool(), scratch: opts.Scratch, maxExpand: opts.MaxExpand}
	defer x.stopSyncs() // before the cleanup above removes the files
	if err := x.read(contextReader{ctx, r}, opts.Progress); err != nil {
		return nil, err
	}
	res, err := x.build()
	if err != nil {
		return nil, err
	}
	if len(opts.Platforms) > 0 {
		if err := x.keepPlatforms(res, opts.Platforms); err != nil {
			return nil, err
		}
	}
	// BuildKit's attestations of the images kept, as pull keeps them
	// (#30), read while the archive's blobs are still staged.
	extra := opts.Extra
	if files, leftOut := x.buildkitEvidence(res, extra); len(files) > 0 || len(leftOut) > 0 {
		extra = append(slices.Clip(extra), files...)
		res.EvidenceLeftOut = leftOut
	}
	if err := x.write(res); err != nil {
		return nil, fmt.Errorf("writing %s: %w", staging, err)
	}
	if err := x.writeEvidence(extra); err != nil {
		return nil, fmt.Errorf("writing %s: %w", staging, err)
	}
	if opts.Replace {
		// #28: a re-save keeps the signatures that still apply, in the
		// same swap as the image.
		if res.DroppedEvidence, err = x.carryEvidence(dir, res, extra, opts.DropEvidence); err != nil {
			return nil, err
		}
		if err := x.keepAnnexLinks(ctx, dir); err != nil {
			return nil, err
		}
		if err := root.Chtimes("blobs/sha256", modTime, modTime); err != nil {
			return nil, err
		}
	}
	if opts.Check != nil {
		if err := opts.Check(staging); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(staging, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chtimes(staging, modTime, modTime); err != nil {
		return nil, err
	}
	// Nothing is put in place before its bytes are on disk.
	if err := x.finish(); err != nil {
		return nil, fmt.Errorf("syncing %s: %w", staging, err)
	}
	// Windows renames no folder with a handle open inside it.
	if err := root.Close(); err != nil {
		return nil, err
	}
	if err := place(staging, dir, opts.Replace, opts.owned); err != nil {
		return nil, err
	}
	done = true
	return res, nil
}

type kind int

const (
	kindDir kind = iota
	kindMeta
	kindFile
	kindLink
)

type entry struct {
	kind   kind
	data   []byte // kindMeta
	target string // kindLink: cleaned, relative to the archive's root
	// kindFile: the staged file, the digest and size of the bytes in the
	// archive, and of the content after decompression.
	tmp      string
	raw      digest.Digest
	rawSize  int64
	content  digest.Digest
	size     int64
	compress string
	dest     string // set when the file has a place in the layout
}

type extractor struct {
	ctx       context.Context
	maxExpand int // Options.MaxExpand
	root      *os.Root
	entries   map[string]*entry
	order     []string
	buf       []byte
	peek      *bufio.Reader   // sniffs each staged file's compression
	pool      *pool           // the pieces stage hands to its workers
	scratch   bool            // Options.Scratch: nothing is synced
	attested  []attestedIndex // indexes listing BuildKit attestations

	toSync  chan *os.File  // staged files for the syncers
	syncs   sync.WaitGroup // the syncers
	mu      sync.Mutex
	syncErr error
}

// metaNames are the top-level files read into memory rather than staged.
var metaNames = map[string]bool{"manifest.json": true, "index.json": true, "oci-layout": true, "repositories": true}

// contextReader fails every read once ctx has ended, so that a long copy
// stops at its next read.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := context.Cause(c.ctx); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// countReader counts bytes and keeps the first error of the source, so that
// an engine's failure is reported as itself rather than as a damaged archive.
type countReader struct {
	r        io.Reader
	n        int64
	err      error
	progress func(int64)
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	if c.progress != nil && n > 0 {
		c.progress(c.n)
	}
	return n, err
}

func (x *extractor) read(r io.Reader, progress func(int64)) error {
	src := &countReader{r: r, progress: progress}
	dr, comp, err := decompress(bufio.NewReaderSize(src, 1<<20))
	if err != nil {
		return firstErr(src.err, fmt.Errorf("reading archive: %w", err))
	}
	defer dr.Close()
	in := io.Reader(dr)
	if comp != "" {
		// A few compressed bytes of the source may expand to a lot: the
		// bound, and a look at ctx per read of what they expand to.
		in = contextReader{x.ctx, &expandReader{r: dr, ratio: x.maxExpand, compressed: func() int64 { return src.n }}}
	}
	// Go's tar reader answers io.EOF both at the end-of-archive blocks and
	// at a stream cut between two entries; counting what it consumed tells
	// them apart.
	tarSrc := &countReader{r: in}
	tr := tar.NewReader(tarSrc)
	var dataEnd int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			if tarSrc.n < dataEnd+2*512 {
				return firstErr(src.err, fmt.Errorf("reading archive: %w: truncated after %d bytes", io.ErrUnexpectedEOF, tarSrc.n))
			}
			break
		}
		if err != nil {
			return firstErr(src.err, fmt.Errorf("reading archive: %w", err))
		}
		dataEnd = tarSrc.n + (hdr.Size+511)/512*512
		if err := x.add(hdr, tr); err != nil {
			return firstErr(src.err, err)
		}
	}
	// Drain what follows the end-of-archive blocks (record padding), which
	// also collects the engine's exit status from the stream.
	if n, err := io.Copy(io.Discard, io.LimitReader(in, 1<<20+1)); err != nil {
		return firstErr(src.err, fmt.Errorf("reading archive: %w", err))
	} else if n > 1<<20 {
		return fmt.Errorf("reading archive: more than 1 MiB of data after the end of the archive")
	}
	if _, err := io.Copy(io.Discard, src); err != nil {
		return err
	}
	return src.err
}

// ProgressReader returns a reader of r that calls progress with the number
// of bytes read so far after each read, for a caller's progress display.
func ProgressReader(r io.Reader, progress func(read int64)) io.Reader {
	return &countReader{r: r, progress: progress}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) add(hdr *tar.Header, tr io.Reader) error {
	raw := hdr.Name
	if hdr.Typeflag == tar.TypeDir {
		raw = strings.TrimSuffix(raw, "/")
		if raw == "." || raw == "" {
			return nil // the root folder of `tar -C DIR -c .`
		}
	}
	name, err := manifest.CleanPath(raw)
	if err != nil {
		return refuse(hdr.Name, "%v", err)
	}
	if _, dup := x.entries[name]; dup {
		return refuse(hdr.Name, "duplicate name")
	}
	for k := range hdr.PAXRecords {
		// Go's reader expands PAX sparse files: a few bytes could fill the
		// disk, and no engine writes them.
		if strings.HasPrefix(k, "GNU.sparse.") {
			return refuse(hdr.Name, "sparse file")
		}
	}
	e := &entry{}
	switch hdr.Typeflag {
	case tar.TypeDir:
		e.kind = kindDir
	case tar.TypeReg:
		if metaNames[name] {
			if hdr.Size > manifest.MaxJSON {
				return refuse(hdr.Name, "%d bytes, over the %d byte limit for JSON files", hdr.Size, manifest.MaxJSON)
			}
			e.kind = kindMeta
			if e.data, err = io.ReadAll(tr); err != nil {
				return fmt.Errorf("reading %q: %w", hdr.Name, err)
			}
		} else if err := x.stage(e, name, hdr.Size, tr); err != nil {
			if ee := (*ExpandError)(nil); errors.As(err, &ee) {
				return err // it names the layer
			}
			return fmt.Errorf("extracting %q: %w", hdr.Name, err)
		}
	case tar.TypeSymlink:
		e.kind = kindLink
		if e.target, err = linkTarget(name, hdr.Linkname); err != nil {
			return refuse(hdr.Name, "%v", err)
		}
	case tar.TypeLink:
		return refuse(hdr.Name, "hard link to %q", hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return refuse(hdr.Name, "device file")
	case tar.TypeFifo:
		return refuse(hdr.Name, "fifo")
	default:
		return refuse(hdr.Name, "unsupported entry type %q", hdr.Typeflag)
	}
	x.entries[name] = e
	x.order = append(x.order, name)
	return nil
}

// linkTarget resolves a symbolic link's target against the link's folder
// and refuses one that leaves the archive.
func linkTarget(name, target string) (string, error) {
	if target == "" || strings.ContainsAny(target, "\x00\\") {
		return "", fmt.Errorf("link target %q: invalid", target)
	}
	if path.IsAbs(target) {
		return "", fmt.Errorf("link target %q: absolute", target)
	}
	t := path.Join(path.Dir(name), target)
	if t == "." || t == ".." || strings.HasPrefix(t, "../") {
		return "", fmt.Errorf("link target %q: leaves the archive", target)
	}
	return t, nil
}

// stage streams one regular file into the staging directory, hashing the
// archived bytes and, for a gzip or zstd blob, decompressing it on the way.
// The reading stays on this goroutine; hashing, decompressing and writing
// run on workers (pipe.go). The file's sync and close finish in the
// background, collected by finish.
func (x *extractor) stage(e *entry, name string, size int64, tr io.Reader) error {
	e.kind = kindFile
	e.tmp = fmt.Sprintf("incoming/%d", len(x.order))
	f, err := x.root.OpenFile(e.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	x.peek.Reset(tr)
	magic, err := x.peek.Peek(len(magicZstd))
	if err != nil && err != io.EOF {
		f.Close()
		return err
	}
	rawHash := sha256.New()
	raw := &fanout{pool: x.pool, workers: []*worker{hashWorker(rawHash)}}
	var dec *decompressWorker
	if bytes.HasPrefix(magic, magicGzip) || bytes.HasPrefix(magic, magicZstd) {
		layer := strconv.Quote(name)
		if d, ok := manifest.DigestFromPath(name); ok {
			layer = string(d)
		}
		dec = startDecompress(x.ctx, f, !x.scratch, &expandReader{ratio: x.maxExpand, layer: layer})
		raw.workers = append(raw.workers, dec.worker)
	} else {
		raw.workers = append(raw.workers, fileWorker(f, !x.scratch))
	}
	n, rerr := raw.copy(x.peek)
	x.peek.Reset(nil)
	werr := raw.wait()
	e.raw = digest.NewDigest(digest.SHA256, rawHash)
	// A blob read whole that is not what its name says is refused as
	// such, whatever its decompression made of it (a CRC error, say).
	if want, ok := manifest.DigestFromPath(name); ok && rerr == nil && e.raw != want {
		f.Close()
		return &DigestMismatchError{Path: name, Got: e.raw, Want: want}
	}
	if err := firstErr(werr, rerr); err != nil {
		f.Close()
		return err
	}
	e.rawSize = n
	e.content, e.size = e.raw, n
	if dec != nil {
		// Uncompressed content is hashed once, on the way in; compressed,
		// both the blob and its content.
		e.content, e.size, e.compress = digest.NewDigest(digest.SHA256, dec.content), dec.size, dec.comp
	}
	return x.syncLater(f)
}

// maxSyncing bounds the staged files being synced at once, each an open
// file: an archive of many small files once had as many open as it had
// files (#18). Syncs overlap with the next files' streaming all the same.
const maxSyncing = 16

// syncFile makes a staged file durable; a variable so that tests can see
// how many run at once.
var syncFile = (*os.File).Sync

// syncLater hands a staged file to the syncers, which sync and close it in
// the background while the next ones stream. It waits while maxSyncing
// files are being synced, or until ctx ends; finish waits for all of them.
func (x *extractor) syncLater(f *os.File) error {
	if x.toSync == nil {
		files := make(chan *os.File)
		x.toSync = files
		for range maxSyncing {
			x.syncs.Go(func() { x.syncer(files) })
		}
	}
	select {
	case x.toSync <- f:
		return nil
	case <-x.ctx.Done():
		f.Close()
		return context.Cause(x.ctx)
	}
}

// syncer syncs and closes the files it receives, one at a time.
func (x *extractor) syncer(files <-chan *os.File) {
	for f := range files {
		var err error
		if !x.scratch {
			err = syncFile(f)
		}
		err = errors.Join(err, f.Close())
		x.mu.Lock()
		x.syncErr = firstErr(x.syncErr, err)
		x.mu.Unlock()
	}
}

// stopSyncs waits for the files handed to the syncers, and ends them.
func (x *extractor) stopSyncs() {
	if x.toSync != nil {
		close(x.toSync)
		x.toSync = nil
	}
	x.syncs.Wait()
}

// finish makes the staged tree durable before it is put in place: the
// staged files' own syncs, then one sync of everything else written.
func (x *extractor) finish() error {
	x.stopSyncs()
	if x.syncErr != nil || x.scratch {
		return x.syncErr
	}
	return syncTree(x.root)
}

// lookup finds the regular file a manifest's path refers to, following
// symbolic links in the archive's name table.
func (x *extractor) lookup(name string) (*entry, error) {
	p := name
	for range 16 {
		e := x.entries[p]
		switch {
		case e == nil:
			return nil, fmt.Errorf("%q: %w", name, errMissing)
		case e.kind == kindFile:
			return e, nil
		case e.kind == kindLink:
			p = e.target
		default:
			return nil, fmt.Errorf("%q: not a regular file", name)
		}
	}
	return nil, fmt.Errorf("%q: too many levels of symbolic links", name)
}

// checkTree refuses members below a symbolic link or a file, in whichever
// order the archive lists them.
func (x *extractor) checkTree() error {
	for _, name := range x.order {
		for p := path.Dir(name); p != "."; p = path.Dir(p) {
			if e := x.entries[p]; e != nil && e.kind != kindDir {
				return refuse(name, "below %q, which is not a folder", p)
			}
		}
	}
	return nil
}

// readStaged reads a small staged file (a config or manifest) through the
// JSON size limit.
func (x *extractor) readStaged(e *entry) ([]byte, error) {
	if e.compress != "" {
		return nil, fmt.Errorf("%s-compressed where JSON was expected", e.compress)
	}
	if e.size > manifest.MaxJSON {
		return nil, fmt.Errorf("%w: %d bytes", manifest.ErrTooLarge, e.size)
	}
	return x.root.ReadFile(e.tmp)
}

// keepAnnexLinks puts back, in the new tree, the symbolic links of the
// tree it replaces (git-annex's, whatever its key backend) wherever they
// lead to the same blob: a regular file in the directory or its
// repository's annex whose content has the digest the blob is named by. So
// re-saving an unchanged image into a dataset leaves git with nothing to
// commit, and a link whose content is absent or damaged gives way to the
// bytes just saved (#8). It stops when ctx ends.
func (x *extractor) keepAnnexLinks(ctx context.Context, dir string) error {
	blobs, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		return nil // nothing to keep
	}
	old := &tree{path: dir}
	for _, b := range blobs {
		name := "blobs/sha256/" + b.Name()
		want, ok := manifest.DigestFromPath(name)
		if b.Type()&os.ModeSymlink == 0 || !ok {
			continue
		}
		staged, err := x.root.Lstat(name)
		if err != nil {
			continue // not part of the new tree
		}
		target, err := os.Readlink(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			continue
		}
		if same, err := sameContent(ctx, old, name, staged.Size(), want, x.buf); err != nil {
			return err
		} else if !same {
			continue
		}
		if err := x.root.Remove(name); err != nil {
			return err
		}
		if err := x.root.Symlink(target, name); err != nil {
			return err
		}
	}
	return nil
}

// sameContent reports whether the file rel of t can be read and holds size
// bytes with digest want. Only the context's end is an error.
func sameContent(ctx context.Context, t *tree, rel string, size int64, want digest.Digest, buf []byte) (bool, error) {
	f, err := t.open(rel)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != size {
		return false, nil
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, contextReader{ctx, f}, buf); err != nil {
		return false, context.Cause(ctx)
	}
	return digest.NewDigest(digest.SHA256, h) == want, nil
}
