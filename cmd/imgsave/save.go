package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/manifest"
)

var (
	forceFlag = &cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "replace DIR if it holds files (atomically, once the new tree is verified)"}
	jsonFlag  = &cli.BoolFlag{Name: "json", Usage: "print the result as JSON on stdout"}
)

func saveCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "save",
		Usage:     "save an image from the engine into a canonical directory",
		ArgsUsage: "IMAGE... DIR",
		Description: `Runs the engine's save and streams it straight into DIR (no temporary
tarball), checking every blob against its digest and refusing anything a real
save never contains. DIR must not exist or be empty; it is written in a
temporary sibling and renamed into place only when complete and verified.

Several images go into one directory (layers they share are stored once);
'imgsave load' and 'imgsave run' then pick one with --repo-tag or --config.

Prints each image ID (the config digest) on stdout, one a line.

EXAMPLES:
   imgsave save busybox ./img
   imgsave save python:3.12 python:3.13 ./pythons
   imgsave save --engine podman --pull never localhost/tool:1.2 ./img
   imgsave save --force --json sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741 ./img`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "pull", Value: "missing", Usage: "pull the image first: `missing|never|always`"},
			forceFlag, jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return usagef("save: want IMAGE... DIR, got %d arguments", c.NArg())
			}
			a := c.Args().Slice()
			dir := a[len(a)-1]
			var refs []manifest.Reference
			var names []string
			for _, s := range a[:len(a)-1] {
				ref, err := manifest.ParseReference(s)
				if err != nil {
					return err
				}
				refs, names = append(refs, ref), append(names, ref.String())
			}
			pull := c.String("pull")
			if pull != "missing" && pull != "never" && pull != "always" {
				return usagef("--pull %q: want missing, never or always", pull)
			}
			if err := archive.CheckTarget(dir, c.Bool("force")); err != nil {
				return err
			}
			eng, err := engine(c)
			if err != nil {
				return err
			}
			for _, ref := range refs {
				if err := ensureImage(c, eng, ref, pull); err != nil {
					return err
				}
			}
			what := strings.Join(names, " ")
			rc, err := eng.Save(c.Context, names...)
			if err != nil {
				return fmt.Errorf("save %s: %w", what, err)
			}
			defer rc.Close()
			res, err := extract(c, e, rc, dir, "saving "+what)
			if err != nil {
				return fmt.Errorf("save %s: %w", what, err)
			}
			return report(c, e, dir, res)
		},
	}
}

// ensureImage applies --pull.
func ensureImage(c *cli.Context, eng *loader.Engine, ref manifest.Reference, pull string) error {
	if pull != "always" {
		_, err := eng.Inspect(c.Context, ref.String())
		if err == nil {
			return nil
		}
		if !errors.Is(err, loader.ErrImageNotFound) {
			return err
		}
		if pull == "never" || ref.ID() != "" {
			return fmt.Errorf("image %s: not in the engine (--pull %s)", ref, pull)
		}
	}
	if err := eng.Pull(c.Context, ref.String()); err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	return nil
}

func importCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "write a saved tarball (docker or podman save; plain, gzip or zstd) as a canonical directory",
		ArgsUsage: "TARBALL|- DIR",
		Description: `Reads a tarball written by 'docker save' or 'podman save' (legacy or OCI
layout, plain, gzip or zstd compressed; "-" reads stdin) and writes it to DIR
exactly as 'imgsave save' would, with the same checks.

EXAMPLES:
   imgsave import busybox.tar ./img
   docker save busybox | zstd | imgsave import - ./img`,
		Flags: []cli.Flag{forceFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			a, err := args(c, "TARBALL", "DIR")
			if err != nil {
				return err
			}
			var src io.Reader = e.stdin
			if a[0] != "-" {
				f, err := openFile(a[0])
				if err != nil {
					return err
				}
				defer f.Close()
				src = f
			}
			res, err := extract(c, e, src, a[1], "importing "+a[0])
			if err != nil {
				return fmt.Errorf("import %s: %w", a[0], err)
			}
			return report(c, e, a[1], res)
		},
	}
}

func extract(c *cli.Context, e *env, r io.Reader, dir, label string) (*archive.Result, error) {
	p := newProgress(e.stderr, c.Bool("quiet"), label)
	defer p.Done()
	return archive.Extract(c.Context, r, dir, archive.Options{Replace: c.Bool("force"), Progress: p.Func()})
}

// savedImage is one image in --json output.
type savedImage struct {
	ID       string   `json:"id"`
	Manifest string   `json:"manifest"`
	RepoTags []string `json:"repo_tags"`
	Layers   []string `json:"layers"`
	Size     int64    `json:"size"`
}

func report(c *cli.Context, e *env, dir string, res *archive.Result) error {
	if len(res.Dropped) > 0 {
		notice(c, e, "%s: left out platforms whose blobs were not in the archive: %v", dir, res.Dropped)
	}
	if !c.Bool("json") {
		for _, im := range res.Images {
			fmt.Fprintln(e.stdout, im.ID())
		}
		return nil
	}
	out := struct {
		Dir     string       `json:"dir"`
		Images  []savedImage `json:"images"`
		Dropped []string     `json:"dropped_platforms"`
	}{Dir: dir, Images: []savedImage{}, Dropped: res.Dropped}
	for i, im := range res.Images {
		s := savedImage{ID: string(im.ID()), Manifest: string(res.Manifests[i]), RepoTags: im.RepoTags, Size: im.Config.Size}
		for _, l := range im.Layers {
			s.Layers = append(s.Layers, string(l.Digest))
			s.Size += l.Size
		}
		out.Images = append(out.Images, s)
	}
	return printJSON(e.stdout, out)
}
