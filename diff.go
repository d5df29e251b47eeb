package imgsave

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/archive/imgdiff"
)

// DiffOptions tune [Diff].
type DiffOptions struct {
	Events
	// Options are the metadata the comparison ignores.
	imgdiff.Options
	// Selector picks the image of each side's directory: by platform
	// ("os/arch[/variant]"), repo tag or config; among several platforms
	// of one image, by default linux on this machine's architecture, as
	// [Pull] picks one from a registry.
	Selector Selector
	// Engine is where a side that is neither a directory nor a registry
	// reference is read from, by its save stream; nil when none is.
	Engine Engine
	// Insecure speaks plain HTTP to a registry side not on loopback, as
	// for [Pull].
	Insecure bool
	// TempDir is where an engine's or a registry's image is written for
	// the comparison, and removed after it; "" is the system's.
	TempDir string
	// VerifiedDir holds the record of layer files already hashed, shared
	// with [Load] ([LoadOptions].VerifiedDir): a layer file unchanged since
	// it was hashed is not hashed again against its diff ID (its files
	// are, to compare them).
	VerifiedDir string
}

// DiffResult is the outcome of [Diff]: the verdict, then the config's,
// the layers' and the files' differences.
type DiffResult = imgdiff.Result

// RegistryPrefix marks a side of [Diff] that is a registry reference:
// "docker://registry.example/app:1", as skopeo writes it.
const RegistryPrefix = "docker://"

// ErrNoSide is wrapped by the error of [Diff] for a side that is no
// directory, when there is no engine to ask for an image of that name.
var ErrNoSide = errors.New("no such directory")

// Diff compares two images, each an image directory, a registry reference
// after [RegistryPrefix], or else an image of opts.Engine, and says how
// they differ, as [imgdiff.Compare] does: every layer is read once,
// streamed, and never extracted. An engine's image is written by its save
// stream, and a registry's by a pull (without evidence), into a
// temporary directory first, exactly as [Save] and [Pull] would, and
// removed when the comparison ends. Differences are the result, not an
// error: the error is for a side that cannot be read.
func Diff(ctx context.Context, a, b string, opts DiffOptions) (*DiffResult, error) {
	tmp := ""
	defer func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}()
	var sides [2]imgdiff.Side
	for i, s := range []string{a, b} {
		dir, err := opts.fetch(ctx, s, i, &tmp)
		if err != nil {
			return nil, err
		}
		sel := opts.Selector
		d, err := archive.OpenDir(dir)
		if err != nil {
			return nil, err
		}
		im, err := d.SelectPlatform(sel.RepoTag, sel.Config, sel.Platform, func() (string, error) { return "linux/" + runtime.GOARCH, nil })
		if err != nil {
			return nil, err
		}
		sides[i] = imgdiff.Side{Name: s, Dir: d, Image: im}
	}
	o := opts.Options
	if o.Verified == nil {
		o.Verified = verifiedRecord(opts.VerifiedDir)
	}
	res, err := imgdiff.Compare(ctx, sides[0], sides[1], o)
	_ = o.Verified.Save() // a cache: losing it costs a hash next time
	return res, err
}

// fetch returns the directory of side s (the i-th), writing a registry's
// or an engine's image into the temporary folder *tmp (made on first use).
func (opts DiffOptions) fetch(ctx context.Context, s string, i int, tmp *string) (string, error) {
	ref, registry := strings.CutPrefix(s, RegistryPrefix)
	if !registry {
		if fi, err := os.Stat(s); err == nil && fi.IsDir() {
			return s, nil
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if opts.Engine == nil {
			return "", fmt.Errorf("%s: %w, and no engine to read an image of that name from", s, ErrNoSide)
		}
	}
	if *tmp == "" {
		t, err := os.MkdirTemp(opts.TempDir, "imgsave-diff-")
		if err != nil {
			return "", err
		}
		*tmp = t
	}
	dir := filepath.Join(*tmp, fmt.Sprint(i))
	if registry {
		_, err := Pull(ctx, ref, dir, PullOptions{Events: opts.Events, Platform: opts.Selector.Platform, Insecure: opts.Insecure, NoEvidence: true})
		return dir, err
	}
	if _, err := Save(ctx, opts.Engine, []string{s}, dir, SaveOptions{Events: opts.Events, Pull: PullNever}); err != nil {
		return "", fmt.Errorf("%s: not a directory, and %w", s, err)
	}
	return dir, nil
}
