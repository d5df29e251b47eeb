package archive

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// CheckTarget reports whether dir may receive an extraction: it must not
// exist (its parent must), or be an empty directory, or, with replace, a
// previous save: a directory with a manifest.json or index.json and no .git,
// so that --force never deletes a dataset or files that are not an image.
// Callers check before starting a long save so that a wrong DIR
// fails at once; [Extract] checks again before it renames.
func CheckTarget(dir string, replace bool) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		parent := filepath.Dir(dir)
		if pfi, err := os.Stat(parent); err != nil || !pfi.IsDir() {
			return fmt.Errorf("%s: parent directory %s does not exist", dir, parent)
		}
		return nil
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
	for _, name := range []string{"manifest.json", "index.json"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s: %w: no manifest.json or index.json", dir, ErrNotImageDir)
}

// place moves the finished staging directory to dir. A missing or empty dir
// is replaced by one rename. A full one (only with replace) is swapped in one
// atomic RENAME_EXCHANGE, so readers see the old tree or the new one, never a
// mix; the old tree is then removed.
func place(staging, dir string, replace bool) error {
	if err := CheckTarget(dir, replace); err != nil {
		return err
	}
	// rename(2) replaces an empty directory; os.Rename refuses to.
	if err := unix.Rename(staging, dir); err == nil {
		return nil
	} else if !replace {
		return &os.LinkError{Op: "rename", Old: staging, New: dir, Err: err}
	}
	if err := unix.Renameat2(unix.AT_FDCWD, staging, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE); err == nil {
		return os.RemoveAll(staging)
	}
	// Without RENAME_EXCHANGE (old kernels, some file systems) there is a
	// short window in which dir does not exist.
	old := staging + ".old"
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(staging, dir); err != nil {
		return errors.Join(err, os.Rename(old, dir))
	}
	return os.RemoveAll(old)
}
