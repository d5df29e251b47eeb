package imgsave

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader/annex"
)

// Collection is every image directory found under a folder, as [Collect]
// describes it, with what its images cost together.
type Collection struct {
	Root string          `json:"root"`
	Dirs []CollectionDir `json:"images"`
	// Logical is the sum of every directory's Size; Stored counts each
	// file once (git-annex keeps one copy of a layer that several image
	// directories hold), and Saving is the difference.
	Logical int64 `json:"logical"`
	Stored  int64 `json:"stored"`
	Saving  int64 `json:"saving"`
	// SIFBytes is the size of the SIF files built from these images
	// that the SIF cache holds.
	SIFBytes int64 `json:"sif_bytes"`
	// LoadedErr is why CollectOptions.Engine could not say which images
	// it holds (each directory's Loaded is then nil).
	LoadedErr error `json:"-"`

	staging []string // folders holding staging folders (see archive.Walk)
}

// CollectionDir is one image directory of a [Collection].
type CollectionDir struct {
	// Path is the directory, relative to the collection's root.
	Path      string   `json:"path"`
	RepoTags  []string `json:"repo_tags"`
	Platforms []string `json:"platforms"`
	// Size counts each file (config, layer) of the directory once.
	// Shared is the part that other directories of the collection hold
	// too, Unique the rest.
	Size   int64 `json:"size"`
	Shared int64 `json:"shared"`
	Unique int64 `json:"unique"`
	// LayersPresent and LayersAbsent count the layer files whose content
	// is here or not; Sources are the git-annex repositories (remotes,
	// the imgsave special remote) its location log says hold the absent
	// ones.
	LayersPresent int      `json:"layers_present"`
	LayersAbsent  int      `json:"layers_absent"`
	Sources       []string `json:"sources"`
	Signatures    int      `json:"signatures"`
	// Images counts the images of the directory, SIFs those whose SIF
	// the SIF cache holds.
	Images   int   `json:"images"`
	SIFs     int   `json:"sifs"`
	SIFBytes int64 `json:"sif_bytes"`
	// Loaded counts the images the engine holds ([Collection.CheckLoaded]);
	// nil when no engine was asked.
	Loaded *int `json:"loaded"`
	// Error says why the directory could not be read; the rest is then
	// empty.
	Error string `json:"error,omitempty"`

	images []ImageInfo
	repo   string
}

// CollectOptions tune [Collect].
type CollectOptions struct {
	// SIFCache is the folder of SIF files to look in; "" means the
	// default (see [SIFCacheDir]).
	SIFCache string
	// Engine, when not nil, is asked which images it holds, as
	// [Collection.CheckLoaded] asks, while git-annex is asked where the
	// absent layers are; its failure is the Collection's LoadedErr, not
	// Collect's.
	Engine Engine
}

// Collect describes every image directory under root (see [archive.Walk]:
// subdatasets that are installed, never through links, never .git) from
// its small files and git-annex's location log alone: it reads no layer.
// Where layers are absent it asks git-annex where they are, in one
// process per repository. A directory that cannot be read is a row with
// its Error, not a failure of the whole.
func Collect(ctx context.Context, root string, opts CollectOptions) (*Collection, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	found, err := archive.Walk(ctx, root)
	if err != nil {
		return nil, err
	}
	cache, err := SIFCacheDir(opts.SIFCache)
	if err != nil {
		return nil, err
	}
	c := &Collection{Root: root, Dirs: []CollectionDir{}, staging: found.Staging}
	absent := map[string][]string{} // repository -> git-annex keys of absent files
	for _, dir := range found.Dirs {
		rel, _ := filepath.Rel(root, dir)
		cd := CollectionDir{Path: filepath.ToSlash(rel), RepoTags: []string{}, Platforms: []string{}, Sources: []string{}, repo: found.Repo[dir]}
		ims, err := List(ctx, dir, ListOptions{SIFCache: cache})
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			cd.Error = err.Error()
			c.Dirs = append(c.Dirs, cd)
			continue
		}
		cd.images = ims
		seen := map[string]bool{}
		for _, im := range ims {
			cd.Images++
			cd.RepoTags = appendNew(cd.RepoTags, im.RepoTags...)
			cd.Platforms = appendNew(cd.Platforms, im.Platform)
			cd.Signatures += im.Signatures
			if im.SIF != "" {
				cd.SIFs++
				cd.SIFBytes += fileSize(im.SIF)
			}
			for _, l := range im.Layers {
				if seen[l.Path] {
					continue
				}
				seen[l.Path] = true
				if l.Present {
					cd.LayersPresent++
					continue
				}
				cd.LayersAbsent++
				if k := annexKey(filepath.Join(dir, filepath.FromSlash(l.Path))); k != "" {
					absent[cd.repo] = append(absent[cd.repo], k)
				}
			}
		}
		c.Dirs = append(c.Dirs, cd)
	}
	share(c)
	// The engine's answers and git-annex's, at once: each mostly waits
	// (1000 images: some 0.6 s each).
	var loaded chan error
	if opts.Engine != nil {
		loaded = make(chan error, 1)
		go func() { loaded <- c.CheckLoaded(ctx, opts.Engine) }()
	}
	err = sources(ctx, c, absent)
	if loaded != nil {
		c.LoadedErr = <-loaded
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// blobs are the files of an image directory that take room, each once, by
// digest: its configs and layers. A size not known counts 0.
func (cd *CollectionDir) blobs() map[string]int64 {
	out := map[string]int64{}
	for _, im := range cd.images {
		out[im.Config.Digest] = max(im.Config.Size, 0)
		for _, l := range im.Layers {
			out[l.Digest] = max(l.Size, 0)
		}
	}
	return out
}

// share fills in each directory's Size, Shared and Unique and the
// collection's sums: a file is shared when another directory holds a
// file of the same digest (git-annex stores the two once).
func share(c *Collection) {
	holders := map[string]int{}
	sizes := map[string]int64{}
	all := make([]map[string]int64, len(c.Dirs))
	for i := range c.Dirs {
		all[i] = c.Dirs[i].blobs()
		for d, n := range all[i] {
			holders[d]++
			sizes[d] = n
		}
	}
	for i := range c.Dirs {
		cd := &c.Dirs[i]
		for d, n := range all[i] {
			cd.Size += n
			if holders[d] > 1 {
				cd.Shared += n
			}
		}
		cd.Unique = cd.Size - cd.Shared
		c.Logical += cd.Size
		c.SIFBytes += cd.SIFBytes
	}
	for _, n := range sizes {
		c.Stored += n
	}
	c.Saving = c.Logical - c.Stored
}

// sources asks git-annex, once per repository, where the absent files
// are. A repository without git-annex has no sources to give. The
// repositories are asked at once, a few at a time: each git-annex spends
// most of its time waiting on its git processes.
func sources(ctx context.Context, c *Collection, absent map[string][]string) error {
	where := map[string]map[string][]annex.Source{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for repo, files := range absent {
		g.Go(func() error {
			w, err := annex.Whereis(gctx, repo, files)
			if err != nil {
				if gctx.Err() != nil || annex.IsAnnex(gctx, repo) {
					return err
				}
				return nil
			}
			mu.Lock()
			where[repo] = w
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i := range c.Dirs {
		cd := &c.Dirs[i]
		for _, im := range cd.images {
			for _, l := range im.Layers {
				if l.Present {
					continue
				}
				k := annexKey(filepath.Join(c.Root, filepath.FromSlash(cd.Path), filepath.FromSlash(l.Path)))
				for _, s := range where[cd.repo][k] {
					if s.Here {
						continue
					}
					name := s.Name
					if name == "" {
						name = s.Description
					}
					cd.Sources = appendNew(cd.Sources, name)
				}
			}
		}
		slices.Sort(cd.Sources)
	}
	return nil
}

// annexKey is the git-annex key of the file at p: the name its link
// points to (a locked file), or the one its pointer file names (an
// unlocked one); "" for neither.
func annexKey(p string) string {
	target, err := os.Readlink(p)
	if err != nil {
		f, err := os.Open(p)
		if err != nil {
			return ""
		}
		defer f.Close()
		b := make([]byte, 512)
		n, _ := io.ReadFull(f, b)
		s, ok := strings.CutPrefix(strings.TrimSpace(string(b[:n])), "/annex/objects/")
		if !ok || strings.ContainsAny(s, "\n/") {
			return ""
		}
		return s
	}
	if !strings.Contains(filepath.ToSlash(target), "annex/objects/") {
		return ""
	}
	return filepath.Base(target)
}

// appendNew appends those of vs that s does not hold yet.
func appendNew(s []string, vs ...string) []string {
	for _, v := range vs {
		if v != "" && !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	return s
}

// fileSize is the size of the file at p, 0 when it cannot be read.
func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}
