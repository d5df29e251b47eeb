package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
	"github.com/imgsave/imgsave/loader"
)

func gcCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "gc",
		Usage:     "show, and with --yes remove, what the images under datasets no longer need",
		ArgsUsage: "[DATASET...]",
		Description: `Shows what can go, and removes it with --yes: SIF files of your SIF cache
built from images that no DATASET (default: the current folder) references,
staging folders that killed saves and pulls left, and images imgsave loaded
into the engine that no DATASET references (never one with a tag imgsave
did not set, one a container uses, running or stopped, or one a load or
run of imgsave is using; --engine-images=false leaves the engine alone).
A SIF another imgsave is building is skipped. The git-annex content HEAD no longer uses is only
reported, with the git annex dropunused command that drops it (keeping
annex.numcopies). --sif-older-than and --sif-budget take also SIFs of images
still referenced (the next run rebuilds them): those last used longer ago
than DURATION (on Linux the later of the file's access time, which a run
by Apptainer updates at most daily, and its modification time, its build;
elsewhere the modification time), then the least recently used until the
rest fit in SIZE. See docs/datasets.md for what gc can and cannot remove.

EXAMPLES:
   imgsave gc
   imgsave gc --yes ~/datasets/containers ~/datasets/lab
   imgsave gc --sif-older-than 90d --sif-budget 50G`,
		Flags: []cli.Flag{jsonFlag, sifCacheFlag, &cli.BoolFlag{Name: "yes", Usage: "remove what is shown"},
			&cli.StringFlag{Name: "sif-older-than", Usage: "take also SIFs last used longer than `DURATION` ago (90d, 36h)"},
			&cli.StringFlag{Name: "sif-budget", Usage: "take also the least recently used SIFs until the rest fit in `SIZE` (50G, 800MiB)"},
			&cli.BoolFlag{Name: "engine-images", Value: true, Usage: "take also the images imgsave loaded into the engine that no DATASET references"}},
		Action: func(c *cli.Context) error {
			roots, err := datasetArgs(c, true)
			if err != nil {
				return err
			}
			opts := imgsave.GCOptions{SIFCache: c.String("sif-cache"), Remove: c.Bool("yes")}
			if v := c.String("sif-older-than"); v != "" {
				if opts.SIFOlderThan, err = parseAge(v); err != nil {
					return usagef(c, "--sif-older-than %q: %v", v, err)
				}
			}
			if v := c.String("sif-budget"); v != "" {
				if opts.SIFBudget, err = parseSize(v); err != nil {
					return usagef(c, "--sif-budget %q: %v", v, err)
				}
			}
			if c.Bool("engine-images") {
				// Apptainer has no image store: nothing to say. No
				// engine at all is said only when asked for.
				r, err := runner(c)
				switch {
				case err == nil:
					opts.Engine = r
				case !errors.Is(err, loader.ErrEngineNotFound) || c.IsSet("engine-images"):
					fmt.Fprintf(e.stderr, "imgsave: leaving the engine's images alone: %s\n", printable(err.Error()))
				}
			}
			rep, err := imgsave.GC(c.Context, roots, opts)
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
				fmt.Fprintf(e.stdout, "%s %s (SIF, %s, %s)\n", verb, printable(f.Path), size(float64(f.Size)), f.Reason)
			}
			for _, p := range rep.Staging {
				fmt.Fprintf(e.stdout, "%s %s (staging left by a killed run)\n", verb, printable(p))
			}
			for _, m := range rep.EngineImages {
				fmt.Fprintf(e.stdout, "%s engine image %s (%s, %s, loaded by imgsave, unreferenced)\n", verb, m.ID, printable(orNone(m.Tags)), size(float64(m.Size)))
			}
			for _, m := range rep.EngineKept {
				fmt.Fprintf(e.stderr, "imgsave: kept engine image %s (%s): %s\n", m.ID, printable(orNone(m.Tags)), printable(oneLine(m.Reason)))
			}
			if rep.KeptEngineImages != "" {
				fmt.Fprintf(e.stderr, "imgsave: keeping the engine's images: %s\n", printable(rep.KeptEngineImages))
			}
			for _, p := range rep.Busy {
				fmt.Fprintf(e.stderr, "imgsave: skipped %s: another imgsave is building or using it\n", printable(p))
			}
			if rep.KeptSIFs != "" {
				fmt.Fprintf(e.stderr, "imgsave: keeping every SIF no age or budget takes: %s\n", printable(rep.KeptSIFs))
			}
			for _, u := range rep.Unused {
				fmt.Fprintf(e.stdout, "%d annexed files in %s are unused by HEAD; to drop them: %s\n", len(u.Keys), printable(u.Repo), printable(u.Command))
			}
			if !rep.Removed && len(rep.SIFs)+len(rep.Staging)+len(rep.EngineImages) > 0 {
				fmt.Fprintln(e.stderr, "imgsave: nothing removed; run again with --yes to remove it")
			}
			return nil
		},
	}
}

// parseAge is a duration as time.ParseDuration takes it, or a number of
// days ("90d"); it is positive.
func parseAge(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days float64
		days, err = strconv.ParseFloat(n, 64)
		d = time.Duration(days * 24 * float64(time.Hour))
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, errors.New("want a positive duration such as 90d or 36h")
	}
	return d, nil
}

// parseSize is a byte count: a number with an optional unit, K, M, G or
// T (powers of 1024, with or without "iB" or "B"), as du prints them.
func parseSize(s string) (int64, error) {
	num := strings.TrimRight(strings.TrimSpace(s), "BbiI")
	mult := 1.0
	if i := len(num) - 1; i >= 0 {
		if p := strings.IndexByte("KMGT", num[i]&^0x20); p >= 0 && num[i] >= 'A' {
			mult = math.Pow(1024, float64(p+1))
			num = num[:i]
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || n <= 0 || n*mult >= math.MaxInt64 {
		return 0, errors.New("want a positive size such as 50G or 800MiB")
	}
	return int64(n * mult), nil
}
