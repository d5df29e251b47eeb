package imgsave

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/loader/annex"
)

// GCOptions tune [GC].
type GCOptions struct {
	// SIFCache is the caller's SIF cache folder; "" means the default
	// (see [SIFCacheDir]).
	SIFCache string
	// Remove removes what GC finds; without it GC only reports.
	Remove bool
}

// GCReport is what [GC] found, and removed when asked.
type GCReport struct {
	Removed bool `json:"removed"`
	// SIFs are the caller's SIF files built from images no dataset given
	// references; Busy those another imgsave was building or using,
	// left alone.
	SIFs []loader.SIFFile `json:"sifs"`
	Busy []string         `json:"busy"`
	// KeptSIFs says why no SIF was taken: an image directory that could
	// not be read, or whose manifest digest is not known here, could be
	// any SIF's image.
	KeptSIFs string `json:"kept_sifs,omitempty"`
	// Staging are the staging folders of killed saves and pulls (see
	// [archive.Abandoned]).
	Staging []string `json:"staging"`
	// Unused is the annexed content each repository's HEAD no longer
	// uses, never dropped by GC: the command says how.
	Unused []AnnexUnused `json:"annex_unused"`
	Bytes  int64         `json:"bytes"` // what the SIFs take
}

// AnnexUnused is the annexed content of one repository that its HEAD no
// longer uses.
type AnnexUnused struct {
	Repo    string   `json:"repo"`
	Keys    []string `json:"keys"`
	Command string   `json:"command"`
}

// GC finds what can go in and beside the collections under roots:
// SIF files of the caller's SIF cache whose image no collection
// references, staging folders that killed runs left, and the git-annex
// content HEAD no longer uses. With opts.Remove it removes the first two:
// a SIF under the build lock of another imgsave is skipped (Busy), and a
// staging folder whose writer is alive is never named. Annexed content
// is only reported, with the `git annex dropunused` command, which keeps
// annex.numcopies.
func GC(ctx context.Context, roots []string, opts GCOptions) (*GCReport, error) {
	rep := &GCReport{Removed: opts.Remove, SIFs: []loader.SIFFile{}, Busy: []string{}, Staging: []string{}, Unused: []AnnexUnused{}}
	cache, err := SIFCacheDir(opts.SIFCache)
	if err != nil {
		return nil, err
	}
	used := map[digest.Digest]bool{}
	repos := map[string]bool{}
	for _, root := range roots {
		c, err := Collect(ctx, root, CollectOptions{SIFCache: cache})
		if err != nil {
			return nil, err
		}
		for _, cd := range c.Dirs {
			repos[cd.repo] = true
			if cd.Error != "" {
				rep.KeptSIFs = fmt.Sprintf("%s cannot be read: %s", filepath.Join(c.Root, cd.Path), cd.Error)
			}
			for _, im := range cd.images {
				if im.ManifestDigest == "" {
					rep.KeptSIFs = fmt.Sprintf("the manifest digest of %s in %s is not known until its layers are present", im.ConfigDigest, filepath.Join(c.Root, cd.Path))
				}
				used[digest.Digest(im.ManifestDigest)] = true
			}
		}
		for _, parent := range c.staging {
			rep.Staging = append(rep.Staging, archive.Abandoned(parent, opts.Remove)...)
		}
	}
	if rep.KeptSIFs == "" {
		files, err := loader.SIFFiles(cache)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if used[f.Manifest] {
				continue
			}
			if opts.Remove {
				if err := loader.RemoveSIF(cache, f.Manifest); errors.Is(err, loader.ErrSIFBusy) {
					rep.Busy = append(rep.Busy, f.Path)
					continue
				} else if err != nil {
					return rep, fmt.Errorf("removing %s: %w", f.Path, err)
				}
			}
			rep.SIFs = append(rep.SIFs, f)
			rep.Bytes += f.Size
		}
	}
	for _, repo := range slices.Sorted(maps.Keys(repos)) {
		if !annex.IsAnnex(ctx, repo) {
			continue
		}
		keys, err := annex.Unused(ctx, repo)
		if err != nil {
			return rep, err
		}
		if len(keys) > 0 {
			rep.Unused = append(rep.Unused, AnnexUnused{Repo: repo, Keys: keys, Command: fmt.Sprintf("git -C %s annex dropunused 1-%d", shellQuote(repo), len(keys))})
		}
	}
	return rep, nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
