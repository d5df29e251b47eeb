package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
)

func lsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list the images in a directory, offline",
		ArgsUsage: "DIR",
		Description: `Lists each image of DIR: repo tags, config digest (the image ID on a
classic store), creation time, platform, layer count and total size. Reads
only the small files, so it works in a clone whose layers were never fetched;
--json also gives the manifest digest and says which files are present
locally.

EXAMPLES:
   imgsave ls ./img
   imgsave ls --json --no-trunc ./img | jq '.[0].layers[].digest'`,
		Flags: []cli.Flag{jsonFlag, &cli.BoolFlag{Name: "no-trunc", Usage: "print full digests"}},
		Action: func(c *cli.Context) error {
			a, err := args(c, "DIR")
			if err != nil {
				return err
			}
			rows, err := imgsave.List(c.Context, a[0])
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(e.stdout, rows)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REPO TAGS\tIMAGE ID\tCREATED\tPLATFORM\tLAYERS\tSIZE\tPRESENT")
			for _, r := range rows {
				id := r.ConfigDigest
				if !c.Bool("no-trunc") {
					id = strings.TrimPrefix(id, "sha256:")[:12]
				}
				tags := strings.Join(r.RepoTags, ",")
				if tags == "" {
					tags = "<none>"
				}
				present := "yes"
				if !r.AllPresent {
					present = fmt.Sprintf("no (%d missing)", len(r.MissingFiles))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", printable(tags), id, r.Created, printable(r.Platform), len(r.Layers), size(float64(r.Size)), present)
			}
			return tw.Flush()
		},
	}
}
