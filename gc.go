package imgsave

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

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
	// SIFOlderThan, when positive, takes also the SIFs, referenced or
	// not, last used (see [loader.SIFFile]) longer ago than it. SIFBudget,
	// when positive, takes the least recently used of those left until
	// the rest fit in it. A SIF taken for age or budget is rebuilt by the
	// next run that needs it.
	SIFOlderThan time.Duration
	SIFBudget    int64
	// Now is the time ages are counted from; zero means time.Now().
	Now time.Time
	// Engine, when it is an [Engine] (with ContainerImages and Remove, as
	// *loader.Engine has), is the engine whose images GC looks at too:
	// those imgsave loaded (see [LoadedImage]) and no collection
	// references. nil leaves the engine alone.
	Engine Runner
	// LockDir and RecordDir are [LoadOptions]'s: where loads take their
	// locks and record what they loaded; "" means the defaults.
	LockDir, RecordDir string
}

// GCSIF is a SIF file [GC] takes, and why: "unreferenced", "unused
// since ..." or "over budget".
type GCSIF struct {
	loader.SIFFile
	Reason string `json:"reason"`
}

// GCReport is what [GC] found, and removed when asked.
type GCReport struct {
	Removed bool `json:"removed"`
	// SIFs are the caller's SIF files built from images no dataset given
	// references; Busy those another imgsave was building or using,
	// left alone.
	SIFs []GCSIF  `json:"sifs"`
	Busy []string `json:"busy"`
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
	// EngineImages are the images imgsave loaded into the engine that
	// no dataset given references, no container uses and no other tag
	// names; EngineKept those of them kept, each with its reason, and
	// EngineBytes what the first take as the engine counts.
	EngineImages []GCEngineImage `json:"engine_images"`
	EngineKept   []GCEngineImage `json:"engine_images_kept"`
	EngineBytes  int64           `json:"engine_bytes"`
	// KeptEngineImages says why no engine image was taken, as KeptSIFs
	// does for SIFs.
	KeptEngineImages string `json:"kept_engine_images,omitempty"`
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
// references, staging folders that killed runs left, images imgsave
// loaded into opts.Engine that no collection references (see
// [GCReport.EngineImages]), and the git-annex content HEAD no longer
// uses. With opts.Remove it removes the first three: a SIF under the
// build lock of another imgsave is skipped (Busy), a staging folder whose
// writer is alive is never named, and an engine image a load or run of
// imgsave is using, one a container uses or one with a tag imgsave did
// not set is kept (EngineKept). Annexed content
// is only reported, with the `git annex dropunused` command, which keeps
// annex.numcopies.
func GC(ctx context.Context, roots []string, opts GCOptions) (*GCReport, error) {
	rep := &GCReport{Removed: opts.Remove, SIFs: []GCSIF{}, Busy: []string{}, Staging: []string{}, Unused: []AnnexUnused{}, EngineImages: []GCEngineImage{}, EngineKept: []GCEngineImage{}}
	cache, err := SIFCacheDir(opts.SIFCache)
	if err != nil {
		return nil, err
	}
	used := map[digest.Digest]bool{}
	ids := map[digest.Digest]bool{} // config and manifest digests
	unreadable := ""                // why no engine image may go
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
				unreadable = rep.KeptSIFs
			}
			for _, im := range cd.images {
				if im.ManifestDigest == "" {
					rep.KeptSIFs = fmt.Sprintf("the manifest digest of %s in %s is not known until its layers are present", im.ConfigDigest, filepath.Join(c.Root, cd.Path))
				}
				used[digest.Digest(im.ManifestDigest)] = true
				ids[digest.Digest(im.ManifestDigest)] = true
				ids[digest.Digest(im.ConfigDigest)] = true
			}
		}
		for _, parent := range c.staging {
			rep.Staging = append(rep.Staging, archive.Abandoned(parent, opts.Remove)...)
		}
	}
	files, err := loader.SIFFiles(cache)
	if err != nil {
		return nil, err
	}
	taken, rest, left := takeSIFs(files, used, rep.KeptSIFs == "", opts)
	for len(taken) > 0 {
		f := taken[0]
		taken = taken[1:]
		if opts.Remove {
			if err := loader.RemoveSIF(cache, f.Manifest); errors.Is(err, loader.ErrSIFBusy) {
				rep.Busy = append(rep.Busy, f.Path)
				// It stays: the next least recently used goes in
				// its place while the rest are over the budget.
				left += f.Size
				for opts.SIFBudget > 0 && left > opts.SIFBudget && len(rest) > 0 {
					taken = append(taken, GCSIF{rest[0], "over budget"})
					left -= rest[0].Size
					rest = rest[1:]
				}
				continue
			} else if err != nil {
				return rep, fmt.Errorf("removing %s: %w", f.Path, err)
			}
		}
		rep.SIFs = append(rep.SIFs, f)
		rep.Bytes += f.Size
	}
	if err := gcEngine(ctx, ids, unreadable, opts, rep); err != nil {
		// An engine that does not answer keeps its images; the rest of
		// gc goes on.
		if ctx.Err() != nil {
			return rep, err
		}
		rep.KeptEngineImages = err.Error()
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

// takeSIFs chooses among the caller's SIF files those GC removes: the
// ones no image uses (when unreferenced may be told), those last used
// before opts.SIFOlderThan, then the least recently used until the rest
// fit in opts.SIFBudget. Ties in age go by path, so a run is repeatable.
// It returns also the files kept, least recently used first, and the
// bytes they take, for GC to take more when one it chose is busy.
func takeSIFs(files []loader.SIFFile, used map[digest.Digest]bool, unreferenced bool, opts GCOptions) (taken []GCSIF, rest []loader.SIFFile, left int64) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	slices.SortFunc(files, func(a, b loader.SIFFile) int {
		if c := a.Used.Compare(b.Used); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	})
	var out []GCSIF
	kept := files[:0:0]
	for _, f := range files {
		switch {
		case unreferenced && !used[f.Manifest]:
			out = append(out, GCSIF{f, "unreferenced"})
		case opts.SIFOlderThan > 0 && now.Sub(f.Used) > opts.SIFOlderThan:
			out = append(out, GCSIF{f, "unused since " + f.Used.UTC().Format(time.DateOnly)})
		default:
			kept = append(kept, f)
			left += f.Size
		}
	}
	for len(kept) > 0 && opts.SIFBudget > 0 && left > opts.SIFBudget {
		out = append(out, GCSIF{kept[0], "over budget"})
		left -= kept[0].Size
		kept = kept[1:]
	}
	return out, kept, left
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
