package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
	"github.com/imgsave/imgsave/loader"
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
locally. With Apptainer as the engine (or when one is built), a SIF column
gives the image's SIF file in the SIF cache, or "not built". When DIR keeps
signatures or attestations (see imgsave verify --key), an EVIDENCE column
counts them (--json: signatures, and attestations' predicate types).

EXAMPLES:
   imgsave ls ./img
   imgsave ls --json --no-trunc ./img | jq '.[0].layers[].digest'`,
		Flags: []cli.Flag{jsonFlag, &cli.BoolFlag{Name: "no-trunc", Usage: "print full digests"}, sifCacheFlag},
		Action: func(c *cli.Context) error {
			a, err := args(c, "DIR")
			if err != nil {
				return err
			}
			rows, err := imgsave.List(c.Context, a[0], imgsave.ListOptions{SIFCache: c.String("sif-cache")})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(e.stdout, rows)
			}
			// The SIF column, for those who run on Apptainer or have.
			sif := slices.ContainsFunc(rows, func(r imgsave.ImageInfo) bool { return r.SIF != "" })
			if r, err := runner(c); err == nil && r.Kind() == loader.KindApptainer {
				sif = true
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			head := "REPO TAGS\tIMAGE ID\tCREATED\tPLATFORM\tLAYERS\tSIZE\tPRESENT"
			if sif {
				head += "\tSIF"
			}
			evidence := slices.ContainsFunc(rows, func(r imgsave.ImageInfo) bool { return r.Signatures > 0 || len(r.Attestations) > 0 })
			if evidence {
				head += "\tEVIDENCE"
			}
			fmt.Fprintln(tw, head)
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
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s", printable(tags), id, r.Created, printable(r.Platform), len(r.Layers), size(float64(r.Size)), present)
				switch {
				case !sif:
				case r.SIF != "":
					fmt.Fprintf(tw, "\t%s", printable(r.SIF))
				default:
					fmt.Fprint(tw, "\tnot built")
				}
				if evidence {
					fmt.Fprintf(tw, "\t%d signatures, %d attestations", r.Signatures, len(r.Attestations))
				}
				fmt.Fprintln(tw)
			}
			return tw.Flush()
		},
	}
}
