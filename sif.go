package imgsave

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/manifest"
)

// SIFCacheDir is the folder holding the SIF files built for Apptainer:
// dir when given, else imgsave/sif in the user's cache directory
// (~/.cache/imgsave/sif on Linux).
func SIFCacheDir(dir string) (string, error) { return loader.SIFCacheDir(dir) }

// CachedSIF returns the path of the SIF file of the image whose manifest
// digest is m in the cache folder, or "" when it has not been built, or
// when the file there is not one imgsave would run (see [Load]): another
// user could have written it, or it is not whole, or it was built from
// another image.
func CachedSIF(cache string, m digest.Digest) string { return loader.CachedSIF(cache, m) }

// UntrustedSIFError is a SIF file, or a folder above it, that someone
// other than the caller, root and the trusted owners could have written:
// imgsave does not run it (#28).
type UntrustedSIFError = loader.UntrustedSIFError

// BadSIFError is a file under a SIF's name in the cache that is not the
// SIF of the image asked for: truncated, built from another image, not a
// SIF at all. imgsave rebuilds it.
type BadSIFError = loader.BadSIFError

// loadSIF is [Load] on Apptainer: it finds the SIF file of the
// directory's image in the site caches or the caller's cache, and builds
// it into the caller's cache when none holds it (see loader.SIFCache for
// which files run, and how a build is kept whole and single).
//
// Apptainer's build checks no digest (a flipped byte in a layer goes into
// the SIF unnoticed), so imgsave hashes every file the build reads, while
// it builds: a failure stops the build, and its file is never renamed
// into place.
func loadSIF(ctx context.Context, b interface {
	BuildSIF(context.Context, loader.SIFBuild) error
}, d *archive.Dir, im *archive.DirImage, opts LoadOptions) (*LoadResult, error) {
	m := im.ManifestDigest
	cache := loader.SIFCache{Dir: opts.SIFCache, Sites: opts.SIFSiteCaches, TrustedOwners: opts.SIFTrustedOwners, Notice: opts.Notice}
	slot, err := cache.Lookup(m)
	if oe := (*loader.OwnerError)(nil); errors.As(err, &oe) {
		return nil, &OptionError{Option: "SIFTrustedOwners", Value: oe.Owner, Want: oe.Want()}
	}
	if err != nil {
		return nil, err
	}
	res := &LoadResult{EngineID: m, Image: im, SIF: slot.Path}
	if res.SIF != "" {
		return res, nil
	}
	if err := ociSource(d, im); err != nil {
		return nil, err
	}
	res.SIF, res.Loaded, err = slot.Build(ctx, func(ctx context.Context, work, dest string) error {
		if err := d.CheckPresent(im); err != nil {
			if !opts.Fetch || !errors.Is(err, archive.ErrContentMissing) {
				return err
			}
			opts.notice(fmt.Sprintf("the SIF of %s is not built and its layers are not here: fetching them with git annex get", short(m)))
			if err := annexGet(ctx, d, im); err != nil {
				return err
			}
			if err := d.CheckPresent(im); err != nil {
				return err
			}
		}
		opts.notice(fmt.Sprintf("building the SIF of %s (%s) in %s; later runs reuse it", d.Path, short(m), slot.Dir))
		var epoch int64
		if c := im.Config.Created; c != nil && c.Unix() > 0 {
			epoch = c.Unix()
		}
		bctx, stop := context.WithCancelCause(ctx)
		defer stop(nil)
		verified := make(chan error, 1)
		go func() {
			rep, err := archive.Verify(bctx, d.Path, archive.VerifyOptions{Image: im})
			if err == nil {
				err = reportError(d.Path, rep)
			}
			if err != nil {
				stop(err)
			}
			verified <- err
		}()
		// A private view (work is the build's own folder) holding the
		// image alone, which Apptainer reads through.
		view, err := d.WriteView(work, im)
		if err != nil {
			stop(err)
			<-verified
			return err
		}
		done := opts.step(fmt.Sprintf("building the SIF of %s", short(m)))
		err = b.BuildSIF(bctx, loader.SIFBuild{Dir: view, Manifest: string(m), Dest: dest, Epoch: epoch})
		done()
		if verr := <-verified; verr != nil && ctx.Err() == nil {
			return verr
		}
		if err != nil {
			return fmt.Errorf("build the SIF of %s: %w", d.Path, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// reportError is the first failure of a verification report, naming the
// file, or nil when the report is clean.
func reportError(dir string, rep *archive.Report) error {
	for _, f := range rep.Files {
		switch f.Status {
		case archive.StatusOK, archive.StatusSkipped:
		case archive.StatusCorrupt:
			return &archive.DigestMismatchError{Path: filepath.Join(dir, filepath.FromSlash(f.Path)), Got: f.Got, Want: f.Want}
		default:
			return fmt.Errorf("%s: %s: %s", dir, f.Path, f.Status)
		}
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("%s: %s", dir, rep.Problems[0])
	}
	return nil
}

// ociSource checks that Apptainer can build im from d: its manifest is a
// blob of the directory (an OCI layout; a raw extraction of a legacy save
// has none).
func ociSource(d *archive.Dir, im *archive.DirImage) error {
	rel := manifest.BlobPath(im.ManifestDigest)
	if _, err := os.Stat(filepath.Join(d.Path, filepath.FromSlash(rel))); err != nil || im.ManifestDigest == "" {
		return fmt.Errorf("%s: Apptainer builds from an OCI layout holding manifest %s, and %s is missing (imgsave migrate %s writes imgsave's layout)", d.Path, im.ManifestDigest, rel, d.Path)
	}
	return nil
}

// runApptainer is [Run] on Apptainer: it makes sure the SIF of the
// directory's image is built, then runs it (see loader.Apptainer.RunSIF
// for how the container keeps the host out). The caller runs as itself, as
// Apptainer always does; Root means --fakeroot for a plain user.
func runApptainer(ctx context.Context, b SIFBuilder, dir string, opts RunOptions) error {
	if opts.User != "" {
		return &OptionError{Option: "User", Value: opts.User, Want: "none on Apptainer, which runs containers as you: use --root for root inside (--fakeroot for a plain user), or --engine docker or podman to run as another user"}
	}
	if opts.Entrypoint != nil && *opts.Entrypoint == "" && len(opts.Command) == 0 {
		return &OptionError{Option: "Entrypoint", Value: "", Want: "a command to run (the image's entrypoint is cleared)"}
	}
	cwd, mounts, wd, err := runBinds(opts)
	if err != nil {
		return err
	}
	if cwd.Src != "" {
		mounts = append([]loader.Bind{cwd}, mounts...)
	}
	if err := checkSIFEnv(opts.Env); err != nil {
		return err
	}
	d, im, err := openToRun(ctx, b, dir, opts)
	if err != nil {
		return err
	}
	if wd == "" {
		wd = imageWorkdir(im)
	}
	l, err := loadSIF(ctx, b, d, im, opts.LoadOptions)
	if opts.AfterLoad != nil {
		opts.AfterLoad()
	}
	if err != nil {
		return err
	}
	if u, ok := b.(interface{ Unsquashes() bool }); ok && u.Unsquashes() {
		opts.notice("no usable /dev/fuse: Apptainer unpacks the image into a temporary folder for this run (--unsquash), which takes longer")
	}
	return b.RunSIF(ctx, loader.SIFRun{
		SIF: l.SIF, Entrypoint: opts.Entrypoint, Command: opts.Command,
		Binds: mounts, Workdir: wd, Env: opts.Env, Root: opts.Root, EngineArgs: opts.EngineArgs,
		Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr,
	})
}

// imageWorkdir is the working directory the image's config names, or /.
func imageWorkdir(im *archive.DirImage) string {
	var c struct {
		Config struct{ WorkingDir string }
	}
	if json.Unmarshal(im.ConfigBytes(), &c) == nil && path.IsAbs(c.Config.WorkingDir) {
		return c.Config.WorkingDir
	}
	return "/"
}
