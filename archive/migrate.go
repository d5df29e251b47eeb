package archive

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
)

// Migrate rewrites an image directory (a raw extraction of a legacy or
// Docker 25+ save, such as datalad-container's docker adapter leaves, or
// an older imgsave layout) into the canonical layout, in place and
// atomically: the directory is streamed as a tar, following git-annex
// symlinks, through [Extract] with Replace, so every check of a save
// applies and the image ID does not change. Every file must be present
// locally. When ctx ends, Migrate stops and leaves dir as it was.
func Migrate(ctx context.Context, dir string, opts Options) (*Result, error) {
	d := newDir(dir)
	// The evidence folder is carried over as it is.
	extra, err := ReadExtra(dir)
	if err != nil {
		return nil, err
	}
	opts.Extra = append(opts.Extra, extra...)
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(d.writeAll(pw))
	}()
	opts.Replace, opts.owned = true, ownedRaw
	res, err := Extract(ctx, pr, dir, opts)
	pr.CloseWithError(errors.New("migration stopped"))
	<-done
	return res, err
}

// writeAll streams every file of the directory as a tar, symbolic links
// replaced by the content they point to.
func (d *Dir) writeAll(w io.Writer) error {
	tw := tar.NewWriter(w)
	buf := make([]byte, 1<<20)
	err := filepath.WalkDir(d.Path, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(d.Path, p)
		if err != nil || rel == "." || e.IsDir() {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == EvidenceDir || strings.HasPrefix(rel, EvidenceDir+"/") {
			return nil // carried over by Migrate, not read as the image's
		}
		_, err = d.copyFile(tw, rel, rel, "", -1, buf, nil)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
