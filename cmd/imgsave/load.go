package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
)

var selectFlags = []cli.Flag{
	&cli.StringFlag{Name: "repo-tag", Usage: "pick the image tagged `NAME:TAG` in a directory holding several"},
	&cli.StringFlag{Name: "config", Usage: "pick the image whose config digest starts with `PREFIX`"},
	&cli.StringFlag{Name: "platform", Usage: "pick the image for `OS/ARCH[/VARIANT]` in a directory holding several platforms (default: the one the engine runs)", Action: checkPlatform(false)},
	&cli.BoolFlag{Name: "get", Usage: "when the engine lacks the image, fetch layers that are not here with 'git annex get' instead of failing"},
	sifCacheFlag,
}

// sifCacheFlag is where Apptainer's SIF files are built and found.
var sifCacheFlag = &cli.StringFlag{Name: "sif-cache", EnvVars: []string{"IMGSAVE_SIF_CACHE"}, Usage: "on Apptainer, keep the SIF files built from images in `DIR` (default ~/.cache/imgsave/sif; a shared path serves a whole cluster)"}

func loadCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "load",
		Usage:     "load a directory's image into the engine unless it is there already",
		ArgsUsage: "DIR",
		Description: `Computes the image ID offline from DIR (imgsave's layout, a raw extraction
of a legacy or Docker 25+ save, or an OCI layout written by skopeo, crane or
podman) and asks the engine for it. Only when the engine lacks it does
imgsave stream DIR into the engine's load, checking each file's digest on the
way. A tag in DIR that already names a different image in the engine is left
where it is.

Prints the ID the engine knows the image by on stdout (--json: also the
config and manifest digests, whether it loaded, and the tags it left alone).

EXAMPLES:
   imgsave load ./img
   imgsave load --repo-tag busybox:1.36 ./images
   imgsave load --json --quiet ./img`,
		Flags: append([]cli.Flag{jsonFlag}, selectFlags...),
		Action: func(c *cli.Context) error {
			a, err := args(c, "DIR")
			if err != nil {
				return err
			}
			eng, err := engine(c)
			if err != nil {
				return err
			}
			opts, done := loadOptions(c, e)
			l, err := imgsave.Load(c.Context, eng, a[0], opts)
			done()
			if err != nil {
				return err
			}
			if !c.Bool("json") {
				if l.SIF != "" {
					fmt.Fprintln(e.stdout, l.SIF)
					return nil
				}
				fmt.Fprintln(e.stdout, l.EngineID)
				return nil
			}
			return printJSON(e.stdout, struct {
				EngineID       string   `json:"engine_id"`
				ConfigDigest   string   `json:"config_digest"`
				ManifestDigest string   `json:"manifest_digest"`
				Loaded         bool     `json:"loaded"`
				RepoTags       []string `json:"repo_tags"`
				Kept           []string `json:"tags_left_on_other_images"`
				SIF            string   `json:"sif,omitempty"`
			}{string(l.EngineID), string(l.Image.ID), string(l.Image.ManifestDigest), l.Loaded, nonNil(l.Image.RepoTags), l.TagsKept, l.SIF})
		},
	}
}

func loadOptions(c *cli.Context, e *env) (imgsave.LoadOptions, func()) {
	ev, done := events(c, e, "loading")
	return imgsave.LoadOptions{
		Selector: imgsave.Selector{RepoTag: c.String("repo-tag"), Config: c.String("config"), Platform: c.String("platform")},
		Events:   ev,
		Fetch:    c.Bool("get"),
		SIFCache: c.String("sif-cache"),
	}, done
}
