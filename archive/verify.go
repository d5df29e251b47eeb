package archive

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
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

// The statuses [Verify] reports.
const (
	StatusOK         Status = "ok"
	StatusCorrupt    Status = "corrupt"     // content does not match its digest
	StatusMissing    Status = "missing"     // referenced, but no such file
	StatusNotPresent Status = "not-present" // a git-annex file whose content is not here
	StatusSkipped    Status = "skipped"     // a layer, with VerifyOptions.MetadataOnly
)

// FileReport is what [Verify] found for one file.
type FileReport struct {
	Path   string        `json:"path"`
	Kind   string        `json:"kind"` // config, layer, manifest, index, blob
	Status Status        `json:"status"`
	Want   digest.Digest `json:"want,omitempty"`
	Got    digest.Digest `json:"got,omitempty"`
	Size   int64         `json:"size"`
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
}

// Verify recomputes, offline, the digest of every file a directory's
// manifests reference (each config, each layer against its diff_id or blob
// name, each OCI manifest and index) and of every file in blobs/sha256, and
// checks that manifest.json and index.json agree. It streams each file
// (memory does not grow with the image) and hashes several in parallel.
// Problems go into the report; the error is for a directory it cannot read
// at all.
func Verify(dir string, opts VerifyOptions) (*Report, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	v := &verifier{dir: dir, want: make(map[string]*FileReport), rep: &Report{Problems: []string{}}}
	v.plan()
	v.hashAll(opts)
	return v.rep, nil
}

type verifier struct {
	dir   string
	want  map[string]*FileReport
	order []string
	rep   *Report
}

func (v *verifier) problem(format string, a ...any) {
	v.rep.Problems = append(v.rep.Problems, fmt.Sprintf(format, a...))
}

// expect records that file p must have digest d; a file expected twice
// with two digests is a problem.
func (v *verifier) expect(p, kind string, d digest.Digest) {
	if f, ok := v.want[p]; ok {
		if d != "" && f.Want != "" && f.Want != d {
			v.problem("%s: referenced as %s and as %s", p, f.Want, d)
		}
		if f.Want == "" {
			f.Want = d
		}
		return
	}
	v.want[p] = &FileReport{Path: p, Kind: kind, Want: d}
	v.order = append(v.order, p)
}

// read reads a small file of the directory, or records why it cannot.
func (v *verifier) read(p, kind string, want digest.Digest) []byte {
	v.expect(p, kind, want)
	f, err := os.Open(filepath.Join(v.dir, filepath.FromSlash(p)))
	if err != nil {
		return nil // reported by the hashing pass
	}
	defer f.Close()
	b, err := manifest.ReadLimited(f)
	if err != nil || isAnnexPointer(b) {
		return nil
	}
	if want != "" && digest.FromBytes(b) != want {
		return nil
	}
	return b
}

func (v *verifier) plan() {
	docker := v.read("manifest.json", "index", "")
	var index []byte
	if _, err := os.Lstat(filepath.Join(v.dir, "index.json")); err == nil { // legacy saves have none
		index = v.read("index.json", "index", "")
	}
	if docker == nil && index == nil {
		v.problem("neither manifest.json nor index.json can be read: not an image directory")
	}
	configs := map[digest.Digest]bool{}
	if docker != nil {
		entries, err := manifest.ParseDocker(bytes.NewReader(docker))
		if err != nil {
			v.problem("manifest.json: %v", err)
		}
		for i, e := range entries {
			want, _ := manifest.DigestFromPath(e.Config)
			cb := v.read(e.Config, "config", want)
			if cb == nil {
				continue
			}
			configs[digest.FromBytes(cb)] = true
			cfg, err := manifest.ConfigFromBytes(cb)
			if err != nil {
				v.problem("%s: %v", e.Config, err)
				continue
			}
			if len(cfg.RootFS.DiffIDs) != len(e.Layers) {
				v.problem("manifest.json: image %d: %d layers, its config has %d diff_ids", i, len(e.Layers), len(cfg.RootFS.DiffIDs))
				continue
			}
			for j, l := range e.Layers {
				want := cfg.RootFS.DiffIDs[j]
				if named, ok := manifest.DigestFromPath(l); ok {
					want = named // a compressed blob: its name is its digest
				}
				v.expect(l, "layer", want)
			}
		}
	}
	if index != nil {
		idx, err := manifest.ParseIndex(bytes.NewReader(index))
		if err != nil {
			v.problem("index.json: %v", err)
		} else {
			indexed := map[digest.Digest]bool{}
			for _, d := range idx.Manifests {
				v.descriptor(d.Digest, d.MediaType, false, indexed)
			}
			for _, c := range slices.Sorted(maps.Keys(configs)) {
				if len(indexed) > 0 && !indexed[c] {
					v.problem("manifest.json lists config %s, which no manifest in index.json describes", c)
				}
			}
		}
	}
	// Every blob, referenced or not, must match its name.
	entries, _ := os.ReadDir(filepath.Join(v.dir, "blobs", "sha256"))
	for _, e := range entries {
		p := path.Join("blobs/sha256", e.Name())
		if d, ok := manifest.DigestFromPath(p); ok {
			v.expect(p, "blob", d)
		} else {
			v.problem("%s: not named by a sha256 digest", p)
		}
	}
}

// descriptor follows an index entry to its manifest (or nested index) and
// the config and layers it names, collecting config digests.
func (v *verifier) descriptor(d digest.Digest, mt string, nested bool, configs map[digest.Digest]bool) {
	p := manifest.BlobPath(d)
	b := v.read(p, "manifest", d)
	if b == nil {
		return
	}
	switch {
	case manifest.IsIndex(mt) && !nested:
		idx, err := manifest.ParseIndex(bytes.NewReader(b))
		if err != nil {
			v.problem("%s: %v", p, err)
			return
		}
		for _, c := range idx.Manifests {
			if _, err := os.Lstat(filepath.Join(v.dir, filepath.FromSlash(manifest.BlobPath(c.Digest)))); errors.Is(err, os.ErrNotExist) {
				continue // a platform the save left out
			}
			v.descriptor(c.Digest, c.MediaType, true, configs)
		}
	case manifest.IsManifest(mt):
		m, err := manifest.ParseManifest(bytes.NewReader(b))
		if err != nil {
			v.problem("%s: %v", p, err)
			return
		}
		configs[m.Config.Digest] = true
		v.expect(manifest.BlobPath(m.Config.Digest), "config", m.Config.Digest)
		for _, l := range m.Layers {
			v.expect(manifest.BlobPath(l.Digest), "layer", l.Digest)
		}
	default:
		v.problem("%s: unsupported media type %q", p, mt)
	}
}

// hashAll checks the planned files, several at a time.
func (v *verifier) hashAll(opts VerifyOptions) {
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	work := make(chan *FileReport)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for f := range work {
				v.check(f, opts.MetadataOnly, buf)
			}
		}()
	}
	for _, p := range v.order {
		work <- v.want[p]
	}
	close(work)
	wg.Wait()
	for _, p := range v.order {
		v.rep.Files = append(v.rep.Files, *v.want[p])
	}
	slices.SortStableFunc(v.rep.Files, func(a, b FileReport) int { return strings.Compare(a.Path, b.Path) })
}

// check hashes one file, following git-annex symlinks.
func (v *verifier) check(f *FileReport, metadataOnly bool, buf []byte) {
	if metadataOnly && f.Kind == "layer" {
		f.Status = StatusSkipped
		return
	}
	p := filepath.Join(v.dir, filepath.FromSlash(f.Path))
	fh, err := os.Open(p)
	if err != nil {
		f.Status = StatusMissing
		if fi, lerr := os.Lstat(p); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			f.Status = StatusNotPresent
			if metadataOnly && f.Kind == "blob" {
				f.Status = StatusSkipped
			}
		}
		return
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Status = StatusMissing
		return
	}
	f.Size = fi.Size()
	h := sha256.New()
	head := make([]byte, 16)
	n, _ := io.ReadFull(fh, head)
	if isAnnexPointer(head[:n]) && f.Size < 1024 {
		f.Status = StatusNotPresent
		return
	}
	h.Write(head[:n])
	if _, err := io.CopyBuffer(h, fh, buf); err != nil {
		f.Status = StatusMissing
		return
	}
	f.Got = digest.NewDigest(digest.SHA256, h)
	if f.Want == "" || f.Got == f.Want {
		f.Status = StatusOK
	} else {
		f.Status = StatusCorrupt
	}
}
