package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
)

func engineCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "engine",
		Usage: "say which container engine imgsave uses and how, and what stands in the way",
		Description: `Finds the engine as every command does (--engine, IMGSAVE_ENGINE, else
docker, else podman, else apptainer, else singularity; podman-docker's
docker counts as podman) and prints its version, image store (classic,
containerd, containers-storage, or sif for Apptainer), whether it is
rootless, how imgsave asks it about images (its socket or its CLI), how run
maps your uid into containers, and for Apptainer whether FUSE mounts work
for you and the SIF caches load and run use (site caches first). Each problem comes with what to do. Exits 1 when there is one.

EXAMPLES:
   imgsave engine
   imgsave engine --engine podman --json
   imgsave engine --engine apptainer`,
		Flags: []cli.Flag{jsonFlag, sifCacheFlag, sifSiteCacheFlag},
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			r, err := imgsave.Doctor(c.Context, global(c, "engine"), imgsave.DoctorOptions{
				SIFCache:      c.String("sif-cache"),
				SIFSiteCaches: filepath.SplitList(c.String("sif-site-cache")),
			})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := printJSON(e.stdout, r); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				if r.Path != "" {
					name := r.Name
					if r.Shim {
						name += " (podman-docker's docker)"
					}
					fmt.Fprintf(tw, "engine\t%s\n", name)
					fmt.Fprintf(tw, "path\t%s\n", r.Path)
				}
				if r.Version != "" {
					fmt.Fprintf(tw, "version\t%s\n", printable(r.Version))
					fmt.Fprintf(tw, "store\t%s\n", r.Store)
					if r.Platform != "" {
						fmt.Fprintf(tw, "platform\t%s\n", printable(r.Platform))
					}
					fmt.Fprintf(tw, "rootless\t%v\n", r.Rootless)
					fmt.Fprintf(tw, "asked via\t%s\n", r.Via)
					fmt.Fprintf(tw, "run maps you as\t%s\n", r.UserMapping)
					if r.Fuse != nil {
						fmt.Fprintf(tw, "fuse mounts\t%v\n", *r.Fuse)
					}
					for _, s := range r.SIFCaches {
						fmt.Fprintf(tw, "SIF cache\t%s\n", printable(s))
					}
				}
				for _, n := range r.Notes {
					fmt.Fprintf(tw, "note\t%s\n", printable(n))
				}
				for _, p := range r.Problems {
					fmt.Fprintf(tw, "problem\t%s\n", printable(oneLine(p)))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if len(r.Problems) > 0 {
				return errors.New("the engine is not usable as it is")
			}
			return nil
		},
	}
}
