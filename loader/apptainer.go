package loader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// KindApptainer is the Name of an Engine that is Apptainer, or
// SingularityCE or an older Singularity, whose command line is the same.
// It has no daemon and no image store: imgsave builds a SIF file from a
// directory ([Engine.BuildSIF]) and runs that (`apptainer run SIF`).
const KindApptainer = "apptainer"

// StoreSIF is the store [Info] reports for Apptainer: SIF files that the
// caller keeps.
const StoreSIF = "sif"

// ErrNoImageStore is wrapped by the errors of [Engine.Save], [Engine.Load],
// [Engine.Inspect], [Engine.Tag] and [Engine.Pull] on Apptainer, which
// keeps no images of its own.
var ErrNoImageStore = errors.New("apptainer keeps no image store (imgsave builds a SIF file from the directory instead; save and pull with docker, podman or from a registry)")

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

// noStore is the error of the image-store methods on Apptainer.
func (e *Engine) noStore(op string) error {
	if e.Name != KindApptainer {
		return nil
	}
	return fmt.Errorf("%s: %w", op, ErrNoImageStore)
}

// apptainerInfo fills in what `apptainer version` and this process can
// tell: the version, whether the caller is root (Apptainer runs containers
// as the caller; Rootless means not root) and whether FUSE mounts work.
func (e *Engine) apptainerInfo(ctx context.Context, in *Info) error {
	in.Store, in.Rootless = StoreSIF, os.Geteuid() != 0
	in.Platform = platformOf(runtime.GOOS, runtime.GOARCH)
	fuse := FuseUsable()
	in.Fuse = &fuse
	p := e.command(ctx, "version")
	out := &tailBuffer{max: outputMax}
	p.cmd.Stdout = out
	if err := p.err(p.cmd.Run()); err != nil {
		return err
	}
	in.Version = strings.TrimSpace(out.String())
	return nil
}

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
func (e *Engine) BuildSIF(ctx context.Context, b SIFBuild) error {
	if e.Name != KindApptainer {
		return fmt.Errorf("build SIF: %s is not apptainer", e.Path)
	}
	dest, err := filepath.Abs(b.Dest)
	if err != nil {
		return err
	}
	p := e.command(ctx, "build", "--reproducible", "--disable-cache", dest, "oci:.@"+b.Manifest)
	p.cmd.Dir = b.Dir
	p.cmd.Env = append(os.Environ(), e.Env...)
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
