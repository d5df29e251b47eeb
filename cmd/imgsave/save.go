package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/manifest"
)

var (
	forceFlag = &cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "replace DIR if it holds files (atomically, once the new tree is verified), keeping DIR/evidence that still applies"}
	// #28: a replacement never drops signatures unasked.
	dropEvidenceFlag = &cli.BoolFlag{Name: "drop-evidence", Usage: "with --force, drop DIR/evidence that does not apply to the new image (signatures and attestations of other digests)"}
	jsonFlag         = &cli.BoolFlag{Name: "json", Usage: "print the result as JSON on stdout"}
	// #18: the bound on decompression, for a real layer that passes it.
	maxExpandFlag = &cli.IntFlag{Name: "max-expand", Usage: "a compressed layer may expand to max(`RATIO` × its size, 2 GiB) bytes (0: 200; -1: no bound)"}
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

Prints each image's config digest (its ID on a classic store) on stdout, one
a line. In a git-annex dataset with imgsave's special remote, records the
engine as the source of DIR's layers (see imgsave remote --help).

EXAMPLES:
   imgsave save busybox ./img
   imgsave save python:3.12 python:3.13 ./pythons
   imgsave save --engine podman --pull never localhost/tool:1.2 ./tool
   imgsave save --force --json sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741 ./tool`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "pull", Value: "missing", Usage: "pull the image first: `missing|never|always`"},
			forceFlag, dropEvidenceFlag, jsonFlag, maxExpandFlag, savePlatformFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return usagef(c, "save: want IMAGE... DIR, got %d arguments", c.NArg())
			}
			a := c.Args().Slice()
			refs, dir := a[:len(a)-1], a[len(a)-1]
			if len(refs) == 1 {
				if err := checkOrder(c, "IMAGE... DIR", refs[0], dir, "imgsave save "+shellQuote(dir)+" "+shellQuote(refs[0])); err != nil {
					return err
				}
			}
			eng, err := engine(c)
			if err != nil {
				return err
			}
			ev, done := events(c, e, "saving "+strings.Join(refs, " "))
			res, err := imgsave.Save(c.Context, eng, refs, dir, imgsave.SaveOptions{Events: ev, Pull: imgsave.PullPolicy(c.String("pull")), Force: c.Bool("force"), DropEvidence: c.Bool("drop-evidence"), MaxExpand: c.Int("max-expand"), Platforms: platforms(c)})
			done()
			if errors.Is(err, imgsave.ErrNotInEngine) && c.String("pull") == "never" {
				return fmt.Errorf("%w (--pull never)", err)
			}
			if err != nil {
				return evidenceHint(err)
			}
			registerSources(c, e, dir, imgsave.RegisterOptions{Engine: eng})
			return report(c, e, dir, res)
		},
	}
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
   imgsave import busybox.tar ./busybox-tar
   docker save busybox | zstd | imgsave import - ./busybox-piped`,
		Flags: []cli.Flag{forceFlag, dropEvidenceFlag, jsonFlag, maxExpandFlag, savePlatformFlag},
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
			ev, done := events(c, e, "importing "+a[0])
			res, err := imgsave.Import(c.Context, src, a[1], imgsave.SaveOptions{Events: ev, Force: c.Bool("force"), DropEvidence: c.Bool("drop-evidence"), MaxExpand: c.Int("max-expand"), Platforms: platforms(c)})
			done()
			if err != nil {
				return evidenceHint(fmt.Errorf("import %s: %w", a[0], err))
			}
			return report(c, e, a[1], res)
		},
	}
}

// savedImage is one image in the --json of save, import and migrate.
type savedImage struct {
	ConfigDigest   string   `json:"config_digest"`
	ManifestDigest string   `json:"manifest_digest"`
	RepoTags       []string `json:"repo_tags"`
	Layers         []string `json:"layers"`
	Size           int64    `json:"size"`
}

// evidenceHint adds the flag that lets a replacement drop evidence to
// the error refusing to (#28).
func evidenceHint(err error) error {
	var ee *archive.EvidenceError
	if errors.As(err, &ee) {
		return fmt.Errorf("%w; --drop-evidence drops them", err)
	}
	return err
}

func report(c *cli.Context, e *env, dir string, res *archive.Result) error {
	if len(res.Dropped) > 0 && !globalBool(c, "quiet") {
		fmt.Fprintf(e.stderr, "imgsave: %s\n", printable(fmt.Sprintf("%s: left out platforms whose blobs were not in the archive: %s", dir, manifest.List(res.Dropped, manifest.MaxListed))))
	}
	if !globalBool(c, "quiet") {
		for _, m := range res.EvidenceLeftOut {
			fmt.Fprintf(e.stderr, "imgsave: %s\n", printable(fmt.Sprintf("%s: evidence left out: %s", dir, m)))
		}
	}
	var droppedEvidence []string
	for _, d := range res.DroppedEvidence {
		droppedEvidence = append(droppedEvidence, string(d))
	}
	if len(droppedEvidence) > 0 && !globalBool(c, "quiet") {
		fmt.Fprintf(e.stderr, "imgsave: %s\n", printable(fmt.Sprintf("%s: dropped the signatures and attestations of %s, which the new image does not have", filepath.Join(dir, archive.EvidenceDir), strings.Join(droppedEvidence, ", "))))
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
		// DroppedEvidence are the signed digests whose evidence a
		// replacement dropped (--drop-evidence).
		DroppedEvidence []string `json:"dropped_evidence"`
	}{Dir: dir, Images: []savedImage{}, Dropped: nonNil(res.Dropped), DroppedEvidence: nonNil(droppedEvidence)}
	for i, im := range res.Images {
		s := savedImage{ConfigDigest: string(im.ID()), ManifestDigest: string(res.Manifests[i]), RepoTags: nonNil(im.RepoTags), Layers: []string{}, Size: im.Config.Size}
		for _, l := range im.Layers {
			s.Layers = append(s.Layers, string(l.Digest))
			s.Size += l.Size
		}
		out.Images = append(out.Images, s)
	}
	return printJSON(e.stdout, out)
}

// nonNil makes an empty list print as [] in JSON.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// savePlatformFlag narrows a multi-platform save to some of its platforms.
var savePlatformFlag = &cli.StringFlag{Name: "platform", Usage: "keep only these platforms of a multi-platform image: `OS/ARCH[/VARIANT],...` (default: all the save holds)", Action: checkPlatform(true)}

// platforms is --platform as a list; "all" and "" mean every platform.
func platforms(c *cli.Context) []string {
	v := c.String("platform")
	if v == "" || v == "all" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
