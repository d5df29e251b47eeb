package imgsave

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/manifest"
)

// SIFCacheDir is the folder holding the SIF files built for Apptainer:
// dir when given, else imgsave/sif in the user's cache directory
// (~/.cache/imgsave/sif on Linux).
func SIFCacheDir(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("the SIF cache: %w", err)
	}
	return filepath.Join(cache, "imgsave", "sif"), nil
}

// sifName is the file name of the SIF built from the image whose manifest
// digest is m: the digest alone, so that every clone, path and node finds
// the same file.
func sifName(m digest.Digest) string { return m.Algorithm().String() + "-" + m.Encoded() + ".sif" }

// CachedSIF returns the path of the SIF file of the image whose manifest
// digest is m in the cache folder, or "" when it has not been built, or
// when the file there is not one imgsave would run (see [Load]): another
// user could have written it, or it is not whole, or it was built from
// another image.
func CachedSIF(cache string, m digest.Digest) string {
	if m == "" {
		return ""
	}
	t, _ := newSIFTrust(nil)
	dir, err := filepath.EvalSymlinks(cache)
	if err != nil {
		return ""
	}
	p, _ := findSIF(dir, m, t)
	return p
}

// loadSIF is [Load] on Apptainer: it finds the SIF file of the
// directory's image in the site caches or the caller's cache, and builds
// it into the caller's cache when none holds it.
//
// A SIF is run only when no one but the caller, root and the trusted
// owners (opts.SIFTrustedOwners) could have put it there: the file and
// every folder above it belong to them, and no folder is writable by
// others unless sticky. It must also be whole and record the image's
// manifest digest (see checkSIF). A SIF of a site cache that fails this is
// named in a notice and skipped; one in the caller's cache is rebuilt, or,
// when the cache is shared and the file another user's, built into the
// caller's own default cache instead.
//
// The file is built in a private folder in the cache and renamed into
// place, so a build that is killed or fails leaves no file under the
// final name, and a reader never sees half a file. Concurrent builds of one
// image are serialised by a lock file in the cache folder (flock, which
// Linux carries over NFS as a POSIX lock, so nodes sharing the cache
// exclude each other). Where the filesystem refuses locks (Lustre without
// -o flock, some FUSE filesystems, NFS for a lock file read-only to the
// caller) imgsave builds without one: a duplicate build costs time but no
// harm, because builds are reproducible and the rename replaces the file
// with the same bytes.
func loadSIF(ctx context.Context, b interface {
	BuildSIF(context.Context, loader.SIFBuild) error
}, d *archive.Dir, im *archive.DirImage, opts LoadOptions) (*LoadResult, error) {
	trust, err := newSIFTrust(opts.SIFTrustedOwners)
	if err != nil {
		return nil, err
	}
	m := im.ManifestDigest
	res := &LoadResult{EngineID: m, Image: im}
	for _, site := range opts.SIFSiteCaches {
		if site == "" {
			continue
		}
		dir, err := filepath.EvalSymlinks(site)
		if err == nil {
			res.SIF, err = findSIF(dir, m, trust)
		}
		if res.SIF != "" {
			return res, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			opts.notice(fmt.Sprintf("site SIF cache: %v", err))
		}
	}
	cache, err := writableSIFCache(opts, trust, m)
	if err != nil {
		return nil, err
	}
	if res.SIF, err = findSIF(cache, m, trust); res.SIF != "" || !canRebuild(err) {
		return res, err
	}
	if err := ociSource(d, im); err != nil {
		return nil, err
	}
	hex := m.Encoded()
	unlock, err := lockFileMode(ctx, filepath.Join(cache, "."+hex+".lock"), func() {
		opts.notice(fmt.Sprintf("waiting for another imgsave that is building the SIF of %s", short(m)))
	}, lockMode(cache))
	locked := err == nil
	switch {
	case locked:
		defer unlock()
	case ctx.Err() == nil && lockUnsupported(err):
		opts.notice(fmt.Sprintf("%s takes no locks (%v): building without one; a build elsewhere at the same time writes the same bytes", cache, errors.Unwrap(err)))
	default:
		return nil, err
	}
	res.SIF, err = findSIF(cache, m, trust)
	switch bad := (*BadSIFError)(nil); {
	case res.SIF != "" || !canRebuild(err):
		return res, err
	case errors.As(err, &bad):
		opts.notice(fmt.Sprintf("%v: rebuilding it", err))
	}
	if err := d.CheckPresent(im); err != nil {
		if !opts.Fetch || !errors.Is(err, archive.ErrContentMissing) {
			return nil, err
		}
		opts.notice(fmt.Sprintf("the SIF of %s is not built and its layers are not here: fetching them with git annex get", short(m)))
		if err := annexGet(ctx, d, im); err != nil {
			return nil, err
		}
		if err := d.CheckPresent(im); err != nil {
			return nil, err
		}
	}
	if locked {
		// Under the lock, another build's folder is a dead one's.
		sweepSIF(cache, m, opts.notice)
	}
	// A private folder (0700, made by mkdir, which never follows a link)
	// holds the build's layout view and its output: nothing another user
	// plants in the cache can redirect what the build writes.
	work, err := os.MkdirTemp(cache, ".tmp-"+hex+"-")
	if err != nil {
		return nil, fmt.Errorf("the SIF cache: %w", err)
	}
	defer os.RemoveAll(work)
	tmp := filepath.Join(work, "image.sif")
	opts.notice(fmt.Sprintf("building the SIF of %s (%s) in %s; later runs reuse it", d.Path, short(m), cache))
	var epoch int64
	if c := im.Config.Created; c != nil && c.Unix() > 0 {
		epoch = c.Unix()
	}
	// Apptainer's build checks no digest (a flipped byte in a layer goes
	// into the SIF unnoticed), so imgsave hashes every file the build
	// reads, while it builds: a failure stops the build, and its file is
	// never renamed into place.
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
	view, err := d.WriteView(work, im)
	if err != nil {
		stop(err)
		<-verified
		return nil, err
	}
	err = b.BuildSIF(bctx, loader.SIFBuild{Dir: view, Manifest: string(m), Dest: tmp, Epoch: epoch})
	if verr := <-verified; verr != nil && ctx.Err() == nil {
		return nil, verr
	}
	final := filepath.Join(cache, sifName(m))
	if err == nil {
		err = os.Chmod(tmp, sharedMode(cache, 0o600))
	}
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		return nil, fmt.Errorf("build the SIF of %s: %w", d.Path, err)
	}
	syncFile(cache)
	res.SIF, res.Loaded = final, true
	return res, nil
}

// canRebuild reports whether findSIF's err leaves the file to be
// (re)built: none is there, or the one there is not the image's SIF.
func canRebuild(err error) bool {
	bad := (*BadSIFError)(nil)
	return err == nil || errors.As(err, &bad)
}

// writableSIFCache is the folder, without links, where the caller builds
// SIFs: opts.SIFCache, or the default cache when that is not given, or
// when the folder or the image's SIF in it belongs to someone untrusted
// (a shared cache), with a notice. The error names what is untrusted.
func writableSIFCache(opts LoadOptions, trust *sifTrust, m digest.Digest) (string, error) {
	dirs := []string{opts.SIFCache}
	if opts.SIFCache != "" {
		dirs = append(dirs, "")
	}
	var prev error
	for _, d := range dirs {
		d, err := SIFCacheDir(d)
		if err != nil {
			return "", err
		}
		if prev != nil {
			opts.notice(fmt.Sprintf("%v: building the SIF in %s instead", prev, d))
		}
		cache, err := cacheFolder(d, trust)
		if err == nil {
			if _, err = findSIF(cache, m, trust); canRebuild(err) {
				return cache, nil
			}
		}
		if u := (*UntrustedSIFError)(nil); !errors.As(err, &u) {
			return "", err
		}
		prev = err
	}
	return "", prev
}

// lockMode is the mode of a lock file imgsave creates in the cache folder
// dir: readable by those who may enter the folder, so that they can take
// the lock too, and writable by the group when the group may write the
// folder (it could replace the file anyway), because flock on NFS needs a
// file open for writing.
func lockMode(dir string) fs.FileMode {
	m := sharedMode(dir, 0o600)
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o020 != 0 {
		m |= 0o020
	}
	return m
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

// lockUnsupported reports whether a lock failed because the filesystem
// offers none, rather than for a reason that should stop the build.
func lockUnsupported(err error) bool {
	return errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.ENOSYS) ||
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, errors.ErrUnsupported) ||
		errors.Is(err, syscall.EBADF)
}

// syncFile flushes a file, or a folder's entries, to disk.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", name, err)
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
