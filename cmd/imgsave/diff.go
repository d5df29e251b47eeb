package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
	"github.com/imgsave/imgsave/archive/imgdiff"
)

// errDiffer is returned by diff when the images differ under its options,
// having printed how: exit status 1, as diff(1) and cmp(1) give.
var errDiffer = errors.New("the images differ")

// troubleError is diff's failure to compare: exit status 2, as diff(1)
// and cmp(1) give, so that 1 means "different" alone.
type troubleError struct{ error }

func (e troubleError) Unwrap() error { return e.error }

// The bounds of diff's output without --full.
const (
	diffConfigLines = 20
	diffFileLines   = 40
	diffValueBytes  = 100
)

func diffCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare two images file by file, offline: did a rebuild reproduce an image?",
		ArgsUsage: "A B",
		Description: `Compares two images, each an image directory (imgsave's, a raw save, an OCI
layout), an image of the engine (read by its save stream, as save does) or,
written docker://IMAGE, a registry's (fetched as pull does, without
evidence); those two are written into a temporary folder and removed after.
Every layer is read once, streamed, each file hashed as it passes: nothing
is extracted, no link followed, and images with the same ID are not read.

The first line is the verdict: identical (the same image ID), equal except
metadata (naming which: timestamps, file order, layer boundaries, tar
encoding, config encoding), or different. Then the config's differences by
field (Env, Cmd, Labels, history...), a line per layer (same diff ID, the
same files with other metadata, different, added, removed) and the files
that differ, grouped by layer and folder: added, removed, type, content,
link, device, mode, owner, xattrs, mtime. Without --full, at most 20 config
fields and 40 files, then how many more.

--ignore-timestamps, --ignore-file-order and --ignore-layer-boundaries (all
three: --semantic) ignore what a rebuild changes by nature; with the last,
the flattened filesystems (whiteouts applied) are compared. Exits 0 when
the images are equal under these options, 1 when they differ, 2 when they
could not be compared (a missing layer, a hostile one, no such image).
--json prints the result in the schema of docs/diff.md.

EXAMPLES:
   imgsave diff ./archived ./rebuilt
   imgsave diff --semantic ./archived tools/align:2.1
   imgsave diff --ignore-timestamps --json ./archived docker://127.0.0.1:5000/tools/align:2.1 | jq .files
   imgsave diff --semantic -q ./archived ./rebuilt && echo reproduced`,
		Flags: []cli.Flag{
			jsonFlag,
			&cli.BoolFlag{Name: "full", Usage: "list every difference (default: 20 config fields, 40 files)"},
			&cli.BoolFlag{Name: "ignore-timestamps", Usage: "ignore files' times, the config's created, history times and build-date labels"},
			&cli.BoolFlag{Name: "ignore-file-order", Usage: "compare each layer's entries as a set, not a sequence"},
			&cli.BoolFlag{Name: "ignore-layer-boundaries", Usage: "compare the flattened filesystems, whiteouts applied, not layer by layer"},
			&cli.BoolFlag{Name: "semantic", Usage: "all three --ignore options, as diffoci's --semantic"},
			&cli.StringFlag{Name: "platform", Usage: "compare the images for `OS/ARCH[/VARIANT]` of directories holding several platforms (default: linux and this machine's)", Action: checkPlatform(false)},
			insecureFlag,
		},
		Action: func(c *cli.Context) error {
			a, err := args(c, "A", "B")
			if err != nil {
				return err
			}
			sem := c.Bool("semantic")
			opts := imgsave.DiffOptions{
				Options: imgdiff.Options{
					IgnoreTimestamps:      sem || c.Bool("ignore-timestamps"),
					IgnoreFileOrder:       sem || c.Bool("ignore-file-order"),
					IgnoreLayerBoundaries: sem || c.Bool("ignore-layer-boundaries"),
				},
				Selector: imgsave.Selector{Platform: c.String("platform")},
				Insecure: c.Bool("insecure"),
			}
			for _, s := range a {
				if !strings.HasPrefix(s, imgsave.RegistryPrefix) && !isDir(s) && opts.Engine == nil {
					// An engine's image: the engine is looked for only then.
					eng, err := engine(c)
					if err != nil {
						return troubleError{fmt.Errorf("%s: not a directory, and %w", s, engineHint(c, err))}
					}
					opts.Engine = eng
				}
			}
			ev, done := events(c, e, "diff")
			opts.Events = ev
			r, err := imgsave.Diff(c.Context, a[0], a[1], opts)
			done()
			if err != nil {
				return troubleError{err}
			}
			if c.Bool("json") {
				err = printJSON(e.stdout, r)
			} else {
				err = printDiff(e.stdout, r, c.Bool("full"))
			}
			if err != nil {
				return troubleError{err}
			}
			if !r.Equal {
				return errDiffer
			}
			return nil
		},
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// printDiff writes the result for people: the verdict, the sides, the
// config's fields, the layers, the files by layer and folder; everything
// from an image escaped, and bounded unless full.
func printDiff(w io.Writer, r *imgsave.DiffResult, full bool) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("%s\n", verdictLine(r))
	for _, s := range []struct {
		side string
		im   imgdiff.Image
	}{{"A", r.A}, {"B", r.B}} {
		p("%s: %s  %s  %s  %s\n", s.side, printable(s.im.Name), short(s.im.ID.String()), printable(s.im.Platform), plural(len(s.im.Layers), "layer"))
	}
	if r.Verdict == imgdiff.Identical {
		return nil
	}
	if len(r.Config) > 0 {
		p("config:\n")
		for i, f := range r.Config {
			if !full && i == diffConfigLines {
				p("  and %d more (--full lists them all)\n", len(r.Config)-i)
				break
			}
			note := ""
			if f.Metadata != "" {
				note = "  (" + f.Metadata + ")"
			}
			p("  %s: %s → %s%s\n", printable(f.Field), clipValue(f.A, full), clipValue(f.B, full), note)
		}
	}
	p("layers:\n")
	for _, l := range r.Layers {
		ids := short(string(l.A))
		switch {
		case l.A == "":
			ids = short(string(l.B))
		case l.B != "" && l.B != l.A:
			ids += " → " + short(string(l.B))
		}
		extra := ""
		if len(l.Metadata) > 0 {
			extra += "  (" + strings.Join(l.Metadata, ", ") + ")"
		}
		if l.Files > 0 {
			extra += "  " + plural(l.Files, "file")
		}
		p("  %-3d %-9s  %s%s\n", l.Index, l.Status, ids, extra)
	}
	if len(r.Files) == 0 {
		return nil
	}
	files := slices.Clone(r.Files)
	slices.SortStableFunc(files, func(x, y imgdiff.FileDiff) int {
		if lx, ly := layerOf(x), layerOf(y); lx != ly {
			return lx - ly
		}
		return strings.Compare(path.Dir(x.Path), path.Dir(y.Path))
	})
	p("files:\n")
	group := ""
	for i, f := range files {
		if !full && i == diffFileLines {
			p("  and %d more (--full lists them all)\n", len(files)-i)
			break
		}
		g := path.Dir(f.Path) + "/"
		if g == "./" {
			g = "/"
		}
		if f.Layer != nil {
			g = fmt.Sprintf("layer %d, %s", *f.Layer, g)
		}
		if g != group {
			group = g
			p("  %s\n", printable(g))
		}
		p("    %-16s %s%s\n", strings.Join(f.Changes, ","), printable(path.Base(f.Path)), fileDetail(f))
	}
	return nil
}

// plural is "1 layer", "2 layers".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func layerOf(f imgdiff.FileDiff) int {
	if f.Layer == nil {
		return -1
	}
	return *f.Layer
}

// verdictLine is the first line: the verdict, and what of it the options
// ignore.
func verdictLine(r *imgsave.DiffResult) string {
	switch r.Verdict {
	case imgdiff.Identical:
		return "identical"
	case imgdiff.EqualExceptMetadata:
		s := "equal except metadata: " + strings.Join(r.Metadata, ", ")
		if r.Equal {
			return s + " (ignored)"
		}
		return s
	}
	if len(r.Metadata) > 0 {
		return "different; metadata differs too: " + strings.Join(r.Metadata, ", ")
	}
	return "different"
}

// fileDetail is what changed, for the changes that have values.
func fileDetail(f imgdiff.FileDiff) string {
	a, b := f.A, f.B
	if a == nil || b == nil {
		return ""
	}
	var d []string
	for _, c := range f.Changes {
		switch c {
		case imgdiff.Type:
			d = append(d, a.Type+" → "+b.Type)
		case imgdiff.Content:
			if a.Size != b.Size {
				d = append(d, fmt.Sprintf("%d → %d bytes", a.Size, b.Size))
			}
		case imgdiff.Link:
			d = append(d, printable(clip(a.Link))+" → "+printable(clip(b.Link)))
		case imgdiff.Device:
			d = append(d, a.Device+" → "+b.Device)
		case imgdiff.ModeCh:
			d = append(d, a.Mode.String()+" → "+b.Mode.String())
		case imgdiff.Owner:
			d = append(d, fmt.Sprintf("%d:%d → %d:%d", a.UID, a.GID, b.UID, b.GID))
		case imgdiff.MTime:
			if len(f.Changes) == 1 {
				d = append(d, a.ModTime.Format("2006-01-02T15:04:05Z")+" → "+b.ModTime.Format("2006-01-02T15:04:05Z"))
			}
		}
	}
	if len(d) == 0 {
		return ""
	}
	return "  " + strings.Join(d, "; ")
}

// clipValue is a config value as JSON, "-" when absent, cut short unless
// full.
func clipValue(v []byte, full bool) string {
	if v == nil {
		return "-"
	}
	if full {
		return printable(string(v))
	}
	return printable(clip(string(v)))
}

func clip(s string) string {
	if len(s) <= diffValueBytes {
		return s
	}
	return s[:diffValueBytes] + "…"
}

// short is "sha256:" and 12 hex digits.
func short(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}
