package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
)

func gcCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "gc",
		Usage:     "show, and with --yes remove, what the images under datasets no longer need",
		ArgsUsage: "[DATASET...]",
		Description: `Shows what can go, and removes it with --yes: SIF files of your SIF cache
built from images that no DATASET (default: the current folder) references,
and staging folders that killed saves and pulls left. A SIF another imgsave
is building is skipped. The git-annex content HEAD no longer uses is only
reported, with the git annex dropunused command that drops it (keeping
annex.numcopies). See docs/datasets.md for what gc can and cannot remove.

EXAMPLES:
   imgsave gc
   imgsave gc --yes ~/datasets/containers ~/datasets/lab`,
		Flags: []cli.Flag{jsonFlag, sifCacheFlag, &cli.BoolFlag{Name: "yes", Usage: "remove what is shown"}},
		Action: func(c *cli.Context) error {
			roots, err := datasetArgs(c, true)
			if err != nil {
				return err
			}
			rep, err := imgsave.GC(c.Context, roots, imgsave.GCOptions{SIFCache: c.String("sif-cache"), Remove: c.Bool("yes")})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(e.stdout, rep)
			}
			verb := "would remove"
			if rep.Removed {
				verb = "removed"
			}
			for _, f := range rep.SIFs {
				fmt.Fprintf(e.stdout, "%s %s (SIF, %s)\n", verb, printable(f.Path), size(float64(f.Size)))
			}
			for _, p := range rep.Staging {
				fmt.Fprintf(e.stdout, "%s %s (staging left by a killed run)\n", verb, printable(p))
			}
			for _, p := range rep.Busy {
				fmt.Fprintf(e.stderr, "imgsave: skipped %s: another imgsave is building or using it\n", printable(p))
			}
			if rep.KeptSIFs != "" {
				fmt.Fprintf(e.stderr, "imgsave: keeping every SIF: %s\n", printable(rep.KeptSIFs))
			}
			for _, u := range rep.Unused {
				fmt.Fprintf(e.stdout, "%d annexed files in %s are unused by HEAD; to drop them: %s\n", len(u.Keys), printable(u.Repo), printable(u.Command))
			}
			if !rep.Removed && len(rep.SIFs)+len(rep.Staging) > 0 {
				fmt.Fprintln(e.stderr, "imgsave: nothing removed; run again with --yes to remove it")
			}
			return nil
		},
	}
}
