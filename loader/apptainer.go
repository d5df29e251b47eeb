package loader

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// KindApptainer is the Kind (and [Info] Name) of an [Apptainer].
const KindApptainer = "apptainer"

// Apptainer is Apptainer's command line, or SingularityCE's or an older
// Singularity's, which is the same. It runs containers but has no daemon
// and no image store, so it is no [Engine]: imgsave builds a SIF file from
// a directory ([Apptainer.BuildSIF]) and runs that ([Apptainer.RunSIF]).
type Apptainer struct {
	// Path is the absolute path of the binary.
	Path string
	// Env is appended to the environment of every command, after
	// os.Environ(). It may be nil.
	Env []string
	// Verbose keeps Apptainer's own WARNING and INFO lines ("Converting
	// SIF file to temporary sandbox...", "Cleaning up image..."); without
	// it every command is started with --silent, which keeps its errors.
	Verbose bool
}

// Kind is "apptainer".
func (a *Apptainer) Kind() string { return KindApptainer }

// Endpoint identifies the binary: Apptainer has no daemon.
func (a *Apptainer) Endpoint() string { return a.Path }

// command builds every Apptainer command, --silent unless a.Verbose.
func (a *Apptainer) command(ctx context.Context, args ...string) *proc {
	if !a.Verbose {
		args = append([]string{"--silent"}, args...)
	}
	return newProc(ctx, a.Path, a.Env, args...)
}

// StoreSIF is the store [Info] reports for Apptainer: SIF files that the
// caller keeps.
const StoreSIF = "sif"

// ErrNoImageStore is wrapped by the error of [Find] when the engine found
// is Apptainer, which keeps no images of its own: there is no [Engine] to
// save from, inspect or tag in.
var ErrNoImageStore = errors.New("apptainer has no image store: save from docker or podman, or pull from a registry")

// isApptainer reports whether the engine binary at path is Apptainer or
// Singularity: named so, or a link to one.
func isApptainer(path string) bool {
	named := func(p string) bool {
		b := filepath.Base(p)
		return strings.HasPrefix(b, "apptainer") || strings.HasPrefix(b, "singularity")
	}
	if named(path) {
		return true
	}
	real, err := filepath.EvalSymlinks(path)
	return err == nil && named(real)
}

// apptainerInfo fills in what `apptainer version` and this process can
// tell: the version, whether the caller is root (Apptainer runs containers
// as the caller; Rootless means not root) and whether FUSE mounts work.
func (a *Apptainer) Info(ctx context.Context) (*Info, error) {
	in := &Info{Name: KindApptainer, Path: a.Path, Via: "CLI"}
	in.Store, in.Rootless = StoreSIF, os.Geteuid() != 0
	in.Platform = platformOf(runtime.GOOS, runtime.GOARCH)
	fuse := FuseUsable()
	in.Fuse = &fuse
	out, err := a.command(ctx, "version").output()
	if err != nil {
		return in, err
	}
	in.Version = strings.TrimSpace(string(out))
	return in, nil
}

// Rootless reports whether the caller is not root: Apptainer runs
// containers as the caller.
func (a *Apptainer) Rootless(context.Context) (bool, error) { return os.Geteuid() != 0, nil }

// Platform is this machine's: Apptainer runs containers here.
func (a *Apptainer) Platform(context.Context) (string, error) {
	return platformOf(runtime.GOOS, runtime.GOARCH), nil
}

// Unsquashes reports whether a run unpacks the SIF into a temporary folder
// (--unsquash) instead of mounting it: for a plain user without a usable
// /dev/fuse.
func (a *Apptainer) Unsquashes() bool { return os.Geteuid() != 0 && !FuseUsable() }

// FuseUsable reports whether this process may open /dev/fuse, which
// Apptainer needs to mount a SIF file without privileges (squashfuse).
// Root mounts SIF files with the kernel's squashfs instead.
func FuseUsable() bool {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// SIFBuild is one conversion of an OCI image layout into a SIF file.
type SIFBuild struct {
	// Dir is the OCI image layout and Manifest the digest of the image's
	// manifest in its index.json.
	Dir, Manifest string
	// Dest is the SIF file to write; it must not exist.
	Dest string
	// Epoch is SOURCE_DATE_EPOCH: every timestamp in the file, so that the
	// same image gives the same bytes.
	Epoch int64
	// TmpDir is where Apptainer unpacks the image while it builds
	// (APPTAINER_TMPDIR); "" leaves Apptainer's default.
	TmpDir string
}

// BuildSIF runs `apptainer build --reproducible DEST oci:DIR@MANIFEST`,
// reproducibly: with SOURCE_DATE_EPOCH, without Apptainer's layer cache
// (which would keep a second copy of every layer in the caller's home),
// and from a source reference that names no host path, so that the SIF
// file is the same bytes whatever the directory's path (Apptainer records
// the source in the file's build definition). Cancelling ctx interrupts
// the build and every process it started (they share a process group of
// their own), and the kernel kills the build if imgsave dies; what it
// leaves at Dest is the caller's to remove.
func (a *Apptainer) BuildSIF(ctx context.Context, b SIFBuild) error {
	dest, err := filepath.Abs(b.Dest)
	if err != nil {
		return err
	}
	p := a.command(ctx, "build", "--reproducible", "--disable-cache", dest, "oci:.@"+b.Manifest)
	p.cmd.Dir = b.Dir
	p.cmd.Env = append(os.Environ(), a.Env...)
	p.cmd.Env = append(p.cmd.Env, "SOURCE_DATE_EPOCH="+strconv.FormatInt(b.Epoch, 10))
	if b.TmpDir != "" {
		p.cmd.Env = append(p.cmd.Env, "APPTAINER_TMPDIR="+b.TmpDir, "SINGULARITY_TMPDIR="+b.TmpDir)
	}
	// Pdeathsig follows the thread that started the build: keep it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	end := ownGroup(p.cmd)
	err = p.cmd.Run()
	end()
	return p.err(err)
}
