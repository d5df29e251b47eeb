package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/imgsave/imgsave/manifest"
)

// FileError reports a file of an image directory that imgsave refuses to
// read, and why. It wraps [ErrContentMissing] for StatusNotPresent.
type FileError struct {
	Path   string // as the user would name it: the directory joined with the file
	Reason Status
	What   string // for StatusNotRegular: "fifo", "device", ...; else a detail
	Err    error
}

func (e *FileError) Error() string {
	switch e.Reason {
	case StatusNotPresent:
		return e.Path + ": " + e.Err.Error()
	case StatusNotRegular:
		return fmt.Sprintf("%s: is a %s, not a regular file", e.Path, e.What)
	case StatusOutside:
		return fmt.Sprintf("%s: resolves to %s, outside the directory and its repository's annex", e.Path, e.What)
	case StatusLinkLoop:
		return e.Path + ": symbolic link loop"
	case StatusTooLarge:
		return fmt.Sprintf("%s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// tree is the file-system side of an image directory: every file is read
// through open, which accepts only a regular file inside the directory, or
// reached through symbolic links that resolve inside the directory (legacy
// saves link repeated layers) or inside the git-annex object store of the
// repository holding it. It opens nothing that could block (a fifo) or act
// (a device), and follows no link anywhere else.
type tree struct {
	path string
	once sync.Once
	abs  string // the absolute path of the directory
	real string // the directory with its links resolved
	// annex is the resolved annex object store of the enclosing repository,
	// "" outside one.
	annex string
}

func (t *tree) init() {
	t.once.Do(func() {
		abs, err := filepath.Abs(t.path)
		if err != nil {
			abs = t.path
		}
		t.abs = abs
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			abs = r
		}
		t.real = abs
		// The git directory exists before git-annex has fetched anything
		// (its objects folder may not, in a fresh clone): resolve that.
		if objects := annexObjects(abs); objects != "" {
			if r, err := filepath.EvalSymlinks(filepath.Dir(filepath.Dir(objects))); err == nil {
				t.annex = filepath.Join(r, "annex", "objects")
			}
		}
	})
}

// annexObjects finds the git-annex object store of the repository that
// holds dir: annex/objects in the git directory of the nearest enclosing
// work tree.
func annexObjects(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if g := GitDir(d); g != "" {
			return filepath.Join(g, "annex", "objects")
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// GitDir returns the git directory of the work tree whose top is d: its
// .git folder, or the folder a .git file names (submodules, worktrees), or
// for a worktree the common directory it shares with its main work tree,
// where git-annex keeps its objects. It returns "" when d holds no .git.
func GitDir(d string) string {
	gitDir := filepath.Join(d, ".git")
	fi, err := os.Lstat(gitDir)
	if err != nil {
		return ""
	}
	if fi.Mode().IsRegular() {
		b, err := os.ReadFile(gitDir)
		rest, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
		if err != nil || !ok {
			return ""
		}
		if !filepath.IsAbs(rest) {
			rest = filepath.Join(d, rest)
		}
		gitDir = rest
	}
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		c := strings.TrimSpace(string(b))
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitDir, c)
		}
		gitDir = c
	}
	return gitDir
}

// within reports whether p is base or below it.
func within(p, base string) bool {
	if base == "" {
		return false
	}
	rel, err := filepath.Rel(base, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// open opens the file rel (a clean relative path) for reading, or returns a
// *FileError saying why it will not.
func (t *tree) open(rel string) (*os.File, error) {
	if _, err := manifest.CleanPath(rel); err != nil {
		return nil, fmt.Errorf("%s: %w", t.path, err)
	}
	t.init()
	p := filepath.Join(t.path, filepath.FromSlash(rel))
	fail := func(r Status, what string, err error) error {
		return &FileError{Path: p, Reason: r, What: what, Err: err}
	}
	lfi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fail(StatusMissing, "", fs.ErrNotExist)
		}
		return nil, fail(StatusUnreadable, "", err)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(t.abs, filepath.FromSlash(rel)))
	switch {
	case err == nil:
	case errors.Is(err, syscall.ELOOP) || strings.Contains(err.Error(), "too many links"):
		return nil, fail(StatusLinkLoop, "", err)
	case errors.Is(err, fs.ErrNotExist) && lfi.Mode()&fs.ModeSymlink != 0:
		if target, _ := os.Readlink(p); strings.Contains(filepath.ToSlash(target), "annex/objects/") {
			return nil, fail(StatusNotPresent, "", t.remedy())
		}
		return nil, fail(StatusMissing, "", fmt.Errorf("symbolic link to a file that does not exist: %w", fs.ErrNotExist))
	default:
		return nil, fail(StatusUnreadable, "", err)
	}
	if !within(real, t.real) && !within(real, t.annex) {
		return nil, fail(StatusOutside, real, errors.New("outside the directory"))
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return nil, fail(StatusUnreadable, "", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fail(StatusNotRegular, kindOf(fi.Mode()), errors.New("not a regular file"))
	}
	// Non-blocking and not following a link swapped in since: what opens
	// is the regular file just checked, or the open fails.
	f, err := os.OpenFile(real, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, fail(StatusUnreadable, "", err)
	}
	if ofi, err := f.Stat(); err != nil || !os.SameFile(fi, ofi) {
		f.Close()
		return nil, fail(StatusUnreadable, "", errors.New("changed while being opened"))
	}
	return f, nil
}

func (t *tree) remedy() error {
	return fmt.Errorf("%w; run `git annex get %s` (or `datalad get %s`) first", ErrContentMissing, t.path, t.path)
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "folder"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0 || m&fs.ModeCharDevice != 0:
		return "device"
	}
	return "special file"
}
