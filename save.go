package imgsave

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/manifest"
)

// PullPolicy says when [Save] pulls an image first.
type PullPolicy string

// The pull policies, as docker's --pull names them.
const (
	PullMissing PullPolicy = "missing" // pull an image the engine lacks (the default)
	PullNever   PullPolicy = "never"   // fail with ErrNotInEngine instead
	PullAlways  PullPolicy = "always"  // pull before saving
)

// SaveOptions tune [Save] and [Import].
type SaveOptions struct {
	Events
	// Pull is when to pull an image first; "" means PullMissing. Import
	// ignores it.
	Pull PullPolicy
	// Force replaces a previous save in the target, atomically once the new
	// tree is verified, carrying over the evidence that still applies to
	// the new image (see [archive.Options.DropEvidence]). It never replaces
	// a directory that is not an image directory ([archive.ErrNotImageDir]).
	Force bool
	// DropEvidence lets Force drop the target's signatures and
	// attestations that do not apply to the new image; without it such a
	// replacement fails with an *[archive.EvidenceError] and changes
	// nothing. Evidence that still applies is always kept (#28).
	DropEvidence bool
	// MaxExpand bounds how far a compressed layer may expand, as
	// [archive.Options.MaxExpand] says: 0 is the default, negative none.
	MaxExpand int
	// Platforms keeps only these platforms of a multi-platform save, as
	// [archive.Options.Platforms] says; nil keeps every platform whose
	// blobs the save holds.
	Platforms []string
}

// Save runs the engine's save of refs (references as the docker CLI reads
// them, or "sha256:..." image IDs) and streams it into dir, as
// [archive.Extract] does: verified, canonical, and complete or not there at
// all. Images the engine lacks are pulled first as opts.Pull says. It
// writes dir and nothing else: in a git-annex dataset, [Register] with
// eng records the engine as the layers' source for the special remote.
func Save(ctx context.Context, eng Engine, refs []string, dir string, opts SaveOptions) (*archive.Result, error) {
	if len(refs) == 0 {
		return nil, errors.New("save: no image given")
	}
	switch opts.Pull {
	case "":
		opts.Pull = PullMissing
	case PullMissing, PullNever, PullAlways:
	default:
		return nil, &OptionError{Option: "Pull", Value: string(opts.Pull), Want: "missing, never or always"}
	}
	var names []string
	for _, s := range refs {
		ref, err := manifest.ParseReference(s)
		if err != nil {
			return nil, err
		}
		names = append(names, ref.String())
	}
	what := strings.Join(names, " ")
	// A wrong DIR fails before a long save.
	if err := archive.CheckTarget(dir, opts.Force); err != nil {
		return nil, err
	}
	for _, n := range names {
		if err := ensureImage(ctx, eng, n, opts.Pull); err != nil {
			return nil, err
		}
	}
	rc, err := eng.Save(ctx, names...)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	res, err := archive.Extract(ctx, rc, dir, archive.Options{Replace: opts.Force, DropEvidence: opts.DropEvidence, Progress: opts.Progress, MaxExpand: opts.MaxExpand, Platforms: opts.Platforms})
	if err != nil {
		return nil, fmt.Errorf("save %s: %w", what, err)
	}
	return res, nil
}

// ensureImage applies the pull policy to one image.
func ensureImage(ctx context.Context, eng Engine, name string, pull PullPolicy) error {
	if pull != PullAlways {
		_, err := eng.Inspect(ctx, name)
		if err == nil {
			return nil
		}
		if !errors.Is(err, loader.ErrImageNotFound) {
			return err
		}
		if strings.HasPrefix(name, "sha256:") {
			return fmt.Errorf("image %s: %w, and no registry serves an image ID", name, ErrNotInEngine)
		}
		if pull == PullNever {
			return fmt.Errorf("image %s: %w", name, ErrNotInEngine)
		}
	}
	return eng.Pull(ctx, name) // its error names the command and the image
}

// Import reads a tarball written by `docker save` or `podman save` (legacy
// or OCI layout; plain, gzip or zstd) from r and writes it to dir exactly as
// [Save] would. A pipe or FIFO given as an *os.File is read so that ctx
// ending interrupts a read that waits for data; any other reader stops at
// its next read.
func Import(ctx context.Context, r io.Reader, dir string, opts SaveOptions) (*archive.Result, error) {
	r, stop, err := interruptible(ctx, r)
	if err != nil {
		return nil, err
	}
	defer stop()
	return archive.Extract(ctx, r, dir, archive.Options{Replace: opts.Force, DropEvidence: opts.DropEvidence, Progress: opts.Progress, MaxExpand: opts.MaxExpand, Platforms: opts.Platforms})
}
