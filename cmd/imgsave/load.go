package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

var selectFlags = []cli.Flag{
	&cli.StringFlag{Name: "repo-tag", Usage: "pick the image tagged `NAME:TAG` in a directory holding several"},
	&cli.StringFlag{Name: "config", Usage: "pick the image whose config digest starts with `PREFIX`"},
}

func loadCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "load",
		Usage:     "load a directory's image into the engine unless it is there already",
		ArgsUsage: "DIR",
		Description: `Computes the image ID offline from DIR (imgsave's layout, or a raw
extraction of a legacy or Docker 25+ save) and asks the engine for it. Only
when the engine lacks it does imgsave stream DIR into the engine's load,
checking each file's digest on the way. A tag in DIR that already names a
different image in the engine is left where it is.

Prints the image ID the engine knows the image by on stdout (--json: also
the config digest, whether it loaded, and the tags it left alone).

EXAMPLES:
   imgsave load ./img
   imgsave load --repo-tag busybox:1.36 ./images`,
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
			l, err := ensureLoaded(c.Context, eng, a[0], loadOpts(c, e))
			if err != nil {
				return err
			}
			if !c.Bool("json") {
				fmt.Fprintln(e.stdout, l.ID)
				return nil
			}
			return printJSON(e.stdout, struct {
				ID       string   `json:"id"`
				Config   string   `json:"config"`
				Loaded   bool     `json:"loaded"`
				RepoTags []string `json:"repo_tags"`
				Kept     []string `json:"tags_left_on_other_images"`
			}{string(l.ID), string(l.Image.ID), l.Loaded, l.Image.RepoTags, l.Kept})
		},
	}
}

func loadOpts(c *cli.Context, e *env) loadOptions {
	return loadOptions{
		repoTag:  c.String("repo-tag"),
		config:   c.String("config"),
		notice:   func(format string, a ...any) { notice(c, e, format, a...) },
		progress: newProgress(e.stderr, c.Bool("quiet"), "loading"),
	}
}
