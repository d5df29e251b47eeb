package archive

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/manifest"
)

// Status is the outcome of checking one file.
type Status string

// The statuses [Verify] reports. All but StatusOK and StatusSkipped fail
// verification; all but those two and StatusCorrupt are also the Reason of
// a [FileError], why a file is not read.
const (
	StatusOK         Status = "ok"
	StatusSkipped    Status = "skipped"     // a layer, with VerifyOptions.MetadataOnly
	StatusCorrupt    Status = "corrupt"     // content does not match its digest
	StatusMissing    Status = "missing"     // referenced, but no such file
	StatusNotPresent Status = "not-present" // a git-annex file whose content is not here
	StatusNotRegular Status = "not-regular" // a fifo, device, socket or folder
	StatusLinkLoop   Status = "link-loop"   // symbolic links that never end
	StatusOutside    Status = "outside"     // resolves outside the directory and the annex
	StatusTooLarge   Status = "too-large"   // a JSON file over manifest.MaxJSON
	StatusUnreadable Status = "unreadable"  // any other failure to read it whole
)

// FileReport is what [Verify] found for one file.
type FileReport struct {
	Path   string        `json:"path"`
	Kind   string        `json:"kind"` // config, layer, manifest, index, blob
	Status Status        `json:"status"`
	Want   digest.Digest `json:"want,omitempty"`
	Got    digest.Digest `json:"got,omitempty"`
	Size   int64         `json:"size"`
	// WantSize is the size a manifest gives the file, -1 when none does;
	// a file of another size is corrupt.
	WantSize int64 `json:"want_size"`
}

// Report is the result of [Verify].
type Report struct {
	Files []FileReport `json:"files"`
	// Problems are inconsistencies between the manifests and the files.
	Problems []string `json:"problems"`
}

// OK reports whether every file checked was intact and present and the
// manifests agree.
func (r *Report) OK() bool {
	if len(r.Problems) > 0 {
		return false
	}
	for _, f := range r.Files {
		if f.Status != StatusOK && f.Status != StatusSkipped {
			return false
		}
	}
	return true
}

// VerifyOptions tune [Verify].
type VerifyOptions struct {
	// MetadataOnly checks only the small files git keeps (manifests,
	// index, configs), not the layers, so that a clone can be checked
	// without fetching any content.
	MetadataOnly bool
	// Jobs is how many files are hashed at once; 0 means the CPU count.
	Jobs int
	// Image, when set, narrows the check to the files of that image of
	// the directory (as OpenDir read it): its config, its layers and its
	// manifest blob, for a caller about to hand them to a tool that
	// checks no digest (Apptainer's build).
	Image *DirImage
}

// Verify recomputes, offline, every digest a load relies on and reports
// each file. It reads the directory through [OpenDir], the same model a load
// uses, so a directory that verifies is one that loads, and one that OpenDir
// refuses fails verification with OpenDir's error among the problems. It
// then hashes each config, each layer (a compressed layer against its blob
// digest and, decompressed, against its diff_id) and every file in
// blobs/sha256 against its name. It streams each file (memory does not grow
// with the image) and hashes several in parallel. Problems go into the
// report; the error is for a directory it cannot read at all, or the
// context's when ctx ends first.
func Verify(ctx context.Context, dir string, opts VerifyOptions) (*Report, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	v := &verifier{dir: dir, files: &tree{path: dir}, want: make(map[string]*FileReport), rep: &Report{Problems: []string{}}}
	for _, name := range []string{"manifest.json", "index.json"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			v.expect(name, "index", "", "", -1)
		}
	}
	if im := opts.Image; im != nil {
		v.expect(im.ConfigPath, "config", im.ID, "", im.ConfigSize)
		for _, l := range im.Layers {
			v.expect(l.Path, "layer", l.Digest, l.DiffID, l.Size)
		}
		if p := manifest.BlobPath(im.ManifestDigest); im.ManifestDigest != "" {
			if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(p))); err == nil {
				v.expect(p, "blob", im.ManifestDigest, "", -1)
			}
		}
		if err := v.hashAll(ctx, opts); err != nil {
			return nil, err
		}
		return v.rep, nil
	}
	if d, err := OpenDir(dir); err != nil {
		v.problem("%v", err)
	} else {
		for i, lie := range d.lies {
			if i == manifest.MaxListed {
				v.problem("and %d more entries that say another platform than their configs", len(d.lies)-i)
				break
			}
			v.problem("%s", lie)
		}
		for _, im := range d.Images {
			v.expect(im.ConfigPath, "config", im.ID, "", im.ConfigSize)
			for _, l := range im.Layers {
				// The content is checked against the diff_id after
				// decompression when the file is compressed, whatever its
				// name says, as an engine's load does.
				v.expect(l.Path, "layer", l.Digest, l.DiffID, l.Size)
			}
		}
	}
	// Every blob, referenced or not, must match its name.
	entries, _ := os.ReadDir(filepath.Join(v.dir, "blobs", "sha256"))
	for _, e := range entries {
		p := path.Join("blobs/sha256", e.Name())
		if d, ok := manifest.DigestFromPath(p); ok {
			v.expect(p, "blob", d, "", -1)
		} else {
			v.problem("%s: not named by a sha256 digest", p)
		}
	}
	if err := v.hashAll(ctx, opts); err != nil {
		return nil, err
	}
	return v.rep, nil
}

type verifier struct {
	dir    string
	files  *tree
	want   map[string]*FileReport
	diffID map[string]digest.Digest // layers: the digest of their content
	order  []string
	rep    *Report
}

func (v *verifier) problem(format string, a ...any) {
	v.rep.Problems = append(v.rep.Problems, fmt.Sprintf(format, a...))
}

// expect records that file p must have digest d, size (when >= 0) and,
// for a layer, content with digest diffID once decompressed. A file named
// twice is checked against everything it is named for: two different
// digests for one file are a problem, since no file has both.
func (v *verifier) expect(p, kind string, d, diffID digest.Digest, size int64) {
	f, ok := v.want[p]
	if !ok {
		f = &FileReport{Path: p, Kind: kind, WantSize: -1}
		v.want[p] = f
		v.order = append(v.order, p)
	}
	switch {
	case f.Want == "":
		f.Want = d
		if d != "" {
			f.Kind = kind // the most specific name: a config or layer that is also a blob
		}
	case d != "" && d != f.Want:
		v.problem("%s: named as %s %s and as %s %s", p, f.Kind, f.Want, kind, d)
	}
	if diffID != "" {
		if v.diffID == nil {
			v.diffID = make(map[string]digest.Digest)
		}
		if old, ok := v.diffID[p]; ok && old != diffID {
			v.problem("%s: layer with diff_id %s and with diff_id %s", p, old, diffID)
		}
		v.diffID[p] = diffID
	}
	if size >= 0 {
		if f.WantSize >= 0 && f.WantSize != size {
			v.problem("%s: described with size %d and with size %d", p, f.WantSize, size)
		}
		f.WantSize = size
	}
}

// hashAll checks the planned files, several at a time.
func (v *verifier) hashAll(ctx context.Context, opts VerifyOptions) error {
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	work := make(chan *FileReport)
	var wg sync.WaitGroup
	for range jobs {
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			for f := range work {
				v.check(ctx, f, opts.MetadataOnly, buf)
			}
		})
	}
	for _, p := range v.order {
		if ctx.Err() != nil {
			break
		}
		work <- v.want[p]
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	for _, p := range v.order {
		v.rep.Files = append(v.rep.Files, *v.want[p])
	}
	slices.SortStableFunc(v.rep.Files, func(a, b FileReport) int { return strings.Compare(a.Path, b.Path) })
	return nil
}

// check hashes one file, read as a load reads it.
func (v *verifier) check(ctx context.Context, f *FileReport, metadataOnly bool, buf []byte) {
	if metadataOnly && f.Kind == "layer" {
		f.Status = StatusSkipped
		return
	}
	fh, err := v.files.open(f.Path)
	if err != nil {
		f.Status = StatusUnreadable
		if fe := (*FileError)(nil); errors.As(err, &fe) {
			f.Status = fe.Reason
		}
		if f.Status == StatusNotPresent && metadataOnly && f.Kind == "blob" {
			f.Status = StatusSkipped
		}
		return
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		f.Status = StatusUnreadable
		return
	}
	f.Size = fi.Size()
	if (f.Kind == "index" || f.Kind == "config") && f.Size > manifest.MaxJSON {
		f.Status = StatusTooLarge // a load refuses to read it
		return
	}
	if metadataOnly && f.Kind == "blob" && f.Size > manifest.MaxJSON {
		f.Status = StatusSkipped // too large to be a manifest or config
		return
	}
	h := sha256.New()
	head := make([]byte, 16)
	n, _ := io.ReadFull(fh, head)
	if isAnnexPointer(head[:n]) && f.Size < 1024 {
		f.Status = StatusNotPresent
		if metadataOnly && f.Kind == "blob" {
			f.Status = StatusSkipped
		}
		return
	}
	h.Write(head[:n])
	src := io.Reader(contextReader{ctx, fh})
	var content digest.Digest
	compressed := bytes.HasPrefix(head[:n], magicGzip) || bytes.HasPrefix(head[:n], magicZstd)
	if v.diffID[f.Path] != "" && compressed {
		// A compressed layer: hash the bytes and, decompressed, the tar.
		var err error
		if content, err = contentDigest(ctx, io.MultiReader(bytes.NewReader(head[:n]), io.TeeReader(src, h))); err != nil {
			content = ""
		}
		src = fh // the rest, if the decompressor stopped short
	}
	if _, err := io.CopyBuffer(h, src, buf); err != nil {
		f.Status = StatusUnreadable
		if ctx.Err() != nil {
			f.Status = "" // interrupted: Verify returns the context's error
		}
		return
	}
	f.Got = digest.NewDigest(digest.SHA256, h)
	if !compressed {
		content = f.Got // an uncompressed tar is its own content
	}
	switch {
	case f.Want != "" && f.Got != f.Want:
		f.Status = StatusCorrupt
	case f.WantSize >= 0 && f.Size != f.WantSize:
		f.Status = StatusCorrupt
	case v.diffID[f.Path] != "" && content != v.diffID[f.Path]:
		f.Status, f.Want, f.Got = StatusCorrupt, v.diffID[f.Path], content
	default:
		f.Status = StatusOK
	}
}

// contentDigest is the digest of r's content after decompression. It
// stops when ctx ends: a few bytes of r can expand to gigabytes (#18).
// Verify writes nothing, so it does not bound the content, which a save
// with --max-expand may have let through.
func contentDigest(ctx context.Context, r io.Reader) (digest.Digest, error) {
	dr, _, err := decompress(bufio.NewReaderSize(r, 1<<16))
	if err != nil {
		return "", err
	}
	defer dr.Close()
	h := sha256.New()
	if _, err := io.Copy(h, contextReader{ctx, dr}); err != nil {
		return "", err
	}
	return digest.NewDigest(digest.SHA256, h), nil
}
