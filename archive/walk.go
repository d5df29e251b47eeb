package archive

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Found is what [Walk] finds under a folder: the image directories and the
// staging folders Extract left (see [Abandoned]), all as paths under the
// root given.
type Found struct {
	Dirs    []string
	Staging []string // folders holding staging folders
	// Repo maps each of Dirs to the repository (or subdataset) holding
	// it: the nearest folder under root with a .git, else root.
	Repo map[string]string
}

// Walk finds every image directory under root (a folder holding
// manifest.json or index.json), in lexical order, without entering one it
// found (its blobs are not images), .git folders, or links: a link to a
// folder outside root is not followed, so a collection is what the tree
// holds. Installed subdatasets are folders like any other; one not
// installed is an empty folder. It reads directory entries only.
func Walk(ctx context.Context, root string) (*Found, error) {
	f := &Found{Repo: map[string]string{}}
	parents := map[string]bool{}
	repos := map[string]string{root: root} // folder -> its repository
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p != root && errors.Is(err, fs.ErrPermission) {
				return fs.SkipDir
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !e.IsDir() {
			return nil
		}
		name := e.Name()
		if p != root {
			repos[p] = repos[filepath.Dir(p)]
			if _, err := os.Lstat(filepath.Join(p, ".git")); err == nil {
				repos[p] = p
			}
		}
		switch {
		case name == ".git" && p != root:
			return fs.SkipDir
		case IsStaging(name):
			if parent := filepath.Dir(p); !parents[parent] {
				parents[parent] = true
				f.Staging = append(f.Staging, parent)
			}
			return fs.SkipDir
		}
		if isImageDir(p) {
			f.Dirs = append(f.Dirs, p)
			f.Repo[p] = repos[p]
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// isImageDir reports whether the folder p holds manifest.json or
// index.json: a file, a git-annex pointer or a link into the annex.
func isImageDir(p string) bool {
	for _, n := range []string{"manifest.json", "index.json"} {
		if _, err := os.Lstat(filepath.Join(p, n)); err == nil {
			return true
		}
	}
	return false
}
