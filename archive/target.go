package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/manifest"
)

// CheckTarget reports whether dir may receive an extraction: it must not
// exist (its parent must), or be an empty directory, or, with replace, a
// previous save: a directory holding nothing but what imgsave writes
// (oci-layout, index.json, manifest.json, .gitattributes, and files in
// blobs/sha256 named by a digest), so that replacing it never deletes a
// dataset or a file imgsave did not write. The error names the first
// foreign path. Callers check before starting a long save so that a wrong
// DIR fails at once; [Extract] checks again before it renames.
func CheckTarget(dir string, replace bool) error {
	return checkTarget(dir, replace, ownedCanonical)
}

// ownedCanonical reports whether the entry rel of a directory is one
// imgsave writes.
func ownedCanonical(rel string, d fs.DirEntry) bool {
	if ownedEvidence(rel, d) {
		return true
	}
	switch rel {
	case "oci-layout", "index.json", "manifest.json", ".gitattributes":
		return !d.IsDir()
	case "blobs", "blobs/sha256":
		return d.IsDir()
	}
	_, ok := manifest.DigestFromPath(rel)
	return ok && path.Dir(rel) == "blobs/sha256" && !d.IsDir()
}

// ownedRaw also accepts what a raw extraction of a legacy or Docker 25+
// save holds (what migrate rewrites): repositories, <id>.json configs,
// <id>/{layer.tar,json,VERSION} layer folders and podman's <id>.tar layers.
func ownedRaw(rel string, d fs.DirEntry) bool {
	if ownedCanonical(rel, d) || rel == "repositories" && !d.IsDir() {
		return true
	}
	isHex := isDigestHex
	dir, base := path.Split(rel)
	switch {
	case dir == "" && d.IsDir():
		return isHex(base)
	case dir == "":
		// <config>.json; podman's docker-archive also keeps <layer>.tar
		// at the top.
		return strings.HasSuffix(base, ".json") && isHex(strings.TrimSuffix(base, ".json")) ||
			strings.HasSuffix(base, ".tar") && isHex(strings.TrimSuffix(base, ".tar"))
	case strings.Count(rel, "/") == 1 && isHex(strings.TrimSuffix(dir, "/")) && !d.IsDir():
		return base == "layer.tar" || base == "json" || base == "VERSION"
	}
	return false
}

// isDigestHex reports whether s is 64 lowercase hexadecimal digits, a
// sha256 digest's; by hand, not a regular expression compiled at start (#29).
func isDigestHex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func checkTarget(dir string, replace bool, owned func(string, fs.DirEntry) bool) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		// Missing parents are made by the extraction (#9); one that
		// exists must be a folder.
		for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
			pfi, err := os.Stat(p)
			if err == nil && !pfi.IsDir() {
				return fmt.Errorf("%s: %s is not a directory", dir, p)
			}
			if err == nil || filepath.Dir(p) == p {
				return nil
			}
			if !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%s: %w", dir, err)
			}
		}
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: exists and is not a directory", dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err == io.EOF {
		return nil
	} else if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if !replace {
		return fmt.Errorf("%s: %w", dir, ErrNotEmpty)
	}
	if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
		return fmt.Errorf("%s: %w: it holds .git", dir, ErrNotImageDir)
	}
	image := false
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !owned(rel, d) {
			return fmt.Errorf("%s: %w: it holds %s, which imgsave did not write", dir, ErrNotImageDir, rel)
		}
		image = image || rel == "manifest.json" || rel == "index.json"
		return nil
	})
	if err != nil {
		return err
	}
	if !image {
		return fmt.Errorf("%s: %w: no manifest.json or index.json", dir, ErrNotImageDir)
	}
	return nil
}

// makeParents makes the missing folders above dir, as `mkdir -p` would,
// and returns a function that removes them again, deepest first, as long
// as they are empty: a failed extraction leaves no folder it made.
func makeParents(dir string) (undo func(), err error) {
	var made []string
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || filepath.Dir(p) == p {
			break
		}
		made = append(made, p)
	}
	undo = func() {
		for _, p := range made {
			os.Remove(p)
		}
	}
	for i := len(made) - 1; i >= 0; i-- {
		if err := os.Mkdir(made[i], 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			undo()
			return nil, err
		}
	}
	return undo, nil
}

// place moves the finished staging directory to dir. A missing or empty dir
// is replaced by one rename. A full one (only with replace) is swapped with
// staging in one atomic exchange where the platform has one (see
// exchange), so readers see the old tree or the new one, never a mix; the
// old tree is then removed. Elsewhere it takes two renames, and between
// them dir does not exist.
func place(staging, dir string, replace bool, owned func(string, fs.DirEntry) bool) error {
	if err := checkTarget(dir, replace, owned); err != nil {
		return err
	}
	if err := renameDir(staging, dir); err == nil {
		return nil
	} else if !replace {
		return err
	}
	if err := exchange(staging, dir); err == nil {
		return os.RemoveAll(staging)
	}
	// No exchange here (old kernels, some file systems, Windows): a short
	// window in which dir does not exist. A crash inside it leaves the old
	// tree at .DIR.imgsave-N.old, which the next extraction beside it
	// removes where it can lock staging folders (not on Windows).
	old := staging + ".old"
	// Locked as it is renamed, so that no extraction beside it takes the
	// old tree for abandoned while it may still have to come back.
	if unlock, ok := tryLockDir(dir); ok {
		defer unlock()
	}
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(staging, dir); err != nil {
		return errors.Join(err, os.Rename(old, dir))
	}
	return os.RemoveAll(old)
}

// exchange atomically swaps the directories a and b, or fails when the
// platform or file system cannot; a variable so that tests can force the
// two-rename fallback.
var exchange = exchangeDirs

// EvidenceError is returned by [Extract] with Replace, before anything is
// changed, when the target's evidence folder holds evidence that does not
// apply to the new tree and [Options.DropEvidence] is not set.
type EvidenceError struct {
	Dir     string          // the evidence folder
	Digests []digest.Digest // the signed digests that no longer apply
}

func (e *EvidenceError) Error() string {
	return fmt.Sprintf("%s holds signatures or attestations for %s, which the new image does not have", e.Dir, manifest.List(digestStrings(e.Digests), 8))
}

// carryEvidence copies into the staged tree, byte for byte, the entries
// of dir's evidence folder that still apply to the new tree res, so that
// a replacing save swaps them in with the image and a re-save of the same
// image changes nothing (#28). An entry named by a signed digest
// (evidence/<hex>, or what an interrupted write left as <hex>.old) applies
// when that digest is a blob of the new tree (the canonical manifest
// `imgsave sign` signs, or an index), or when a manifest it signs names a
// config of the new tree (a registry's manifest kept by pull: what
// verify --key checks it against). Other entries are carried as they are;
// the folder's .gitattributes only along with something else. Entries
// that extra writes anew are taken from extra. Evidence that does not
// apply is an *EvidenceError unless drop, and then its digests are
// returned.
func (x *extractor) carryEvidence(dir string, res *Result, extra []File, drop bool) ([]digest.Digest, error) {
	top := filepath.Join(dir, EvidenceDir)
	entries, err := os.ReadDir(top)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	fresh := func(name string) bool {
		return slices.ContainsFunc(extra, func(f File) bool {
			return f.Path == EvidenceDir+"/"+name || strings.HasPrefix(f.Path, EvidenceDir+"/"+name+"/")
		})
	}
	keep := map[string]bool{}
	var dropped []digest.Digest
	for _, e := range entries {
		name := e.Name()
		if fresh(name) {
			continue
		}
		if len(name) >= 64 && isDigestHex(name[:64]) && (len(name) == 64 || !isHexDigit(name[64])) {
			sub := digest.NewDigestFromEncoded(digest.SHA256, name[:64])
			if !x.applies(dir, path.Join(EvidenceDir, name), e.IsDir(), sub, res) {
				if !slices.Contains(dropped, sub) {
					dropped = append(dropped, sub)
				}
				continue
			}
		}
		keep[name] = true
	}
	if len(dropped) > 0 && !drop {
		return nil, &EvidenceError{Dir: top, Digests: dropped}
	}
	if len(keep) == 1 && keep[".gitattributes"] {
		delete(keep, ".gitattributes")
	}
	if len(keep) == 0 {
		return dropped, nil
	}
	files, err := ReadExtra(dir)
	if err != nil {
		return nil, err
	}
	files = slices.DeleteFunc(files, func(f File) bool {
		name, _, _ := strings.Cut(strings.TrimPrefix(f.Path, EvidenceDir+"/"), "/")
		return !keep[name]
	})
	if err := x.writeEvidence(files); err != nil {
		return nil, fmt.Errorf("carrying %s: %w", top, err)
	}
	return dropped, nil
}

func digestStrings(ds []digest.Digest) []string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = string(d)
	}
	return s
}

func isHexDigit(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// applies reports whether the evidence entry rel of dir, named by the
// signed digest sub, applies to the staged tree res, as carryEvidence
// says. Evidence that cannot be read applies only by its name.
func (x *extractor) applies(dir, rel string, isDir bool, sub digest.Digest, res *Result) bool {
	if fi, err := x.root.Lstat(manifest.BlobPath(sub)); err == nil && fi.Mode().IsRegular() {
		return true
	}
	if !isDir {
		return false
	}
	ev, err := readEvidence(dir, rel)
	if err != nil {
		return false
	}
	signed := [][]byte{ev.SubjectData}
	if manifest.IsIndex(ev.SubjectMediaType) {
		signed = slices.Collect(maps.Values(ev.Children))
	}
	for _, b := range signed {
		var m struct {
			Config struct {
				Digest digest.Digest `json:"digest"`
			} `json:"config"`
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if slices.ContainsFunc(res.Images, func(im manifest.Image) bool { return im.ID() == m.Config.Digest }) {
			return true
		}
	}
	return false
}
