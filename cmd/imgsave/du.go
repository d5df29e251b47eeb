package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
)

// datasetArgs are the one optional DATASET argument of ls -r, du and gc
// ("." when none).
func datasetArgs(c *cli.Context, many bool) ([]string, error) {
	a := c.Args().Slice()
	switch {
	case len(a) == 0:
		return []string{"."}, nil
	case len(a) > 1 && !many:
		return nil, usagef(c, "%s: want at most one DATASET, got %d", c.Command.Name, len(a))
	}
	return a, nil
}

var recursiveFlag = &cli.BoolFlag{Name: "recursive", Aliases: []string{"r"}, Usage: "list every image directory under DIR (default: the current folder), one row each: see imgsave du"}

// collect describes the collection under the DATASET argument.
func collect(c *cli.Context) (*imgsave.Collection, error) {
	a, err := datasetArgs(c, false)
	if err != nil {
		return nil, err
	}
	return imgsave.Collect(c.Context, a[0], imgsave.CollectOptions{SIFCache: c.String("sif-cache")})
}

// lsCollection is ls -r: one row per image directory under DATASET.
func lsCollection(c *cli.Context, e *env) error {
	col, err := collect(c)
	if err != nil {
		return err
	}
	// Loaded in the engine: one query for the whole collection; without a
	// usable engine the column is left out, with a notice.
	eng, err := engine(c)
	if err == nil {
		err = col.CheckLoaded(c.Context, eng)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "imgsave: not saying which images the engine holds: %s\n", printable(err.Error()))
	}
	if c.Bool("json") {
		return printJSON(e.stdout, col.Dirs)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	head := "PATH\tREPO TAGS\tPLATFORMS\tSIZE\tSHARED\tLAYERS\tSOURCES\tSIGNATURES\tSIF"
	if err == nil {
		head += "\tLOADED"
	}
	fmt.Fprintln(tw, head)
	for _, d := range col.Dirs {
		if d.Error != "" {
			fmt.Fprintf(tw, "%s\terror: %s\n", printable(d.Path), printable(d.Error))
			continue
		}
		layers := fmt.Sprintf("%d present", d.LayersPresent)
		if d.LayersAbsent > 0 {
			layers = fmt.Sprintf("%d/%d absent", d.LayersAbsent, d.LayersAbsent+d.LayersPresent)
		}
		sources := "-"
		if len(d.Sources) > 0 {
			sources = strings.Join(d.Sources, ",")
		}
		sif := "not built"
		if d.SIFs > 0 {
			sif = fmt.Sprintf("built %d/%d", d.SIFs, d.Images)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s", printable(d.Path), printable(orNone(d.RepoTags)), printable(strings.Join(d.Platforms, ",")),
			size(float64(d.Size)), size(float64(d.Shared)), layers, printable(sources), d.Signatures, sif)
		if d.Loaded != nil {
			fmt.Fprintf(tw, "\t%s", loadedCell(*d.Loaded, d.Images))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// loadedCell is ls -r's LOADED column: "yes", "no" or "1/2".
func loadedCell(n, of int) string {
	switch n {
	case of:
		return "yes"
	case 0:
		return "no"
	}
	return fmt.Sprintf("%d/%d", n, of)
}

func orNone(tags []string) string {
	if len(tags) == 0 {
		return "<none>"
	}
	return strings.Join(tags, ",")
}

func duCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "du",
		Usage:     "what the images under a dataset cost, and what they share",
		ArgsUsage: "[DATASET]",
		Description: `Finds every image directory under DATASET (default: the current folder;
installed subdatasets too, never through links or into .git) and prints,
for each, its size, the bytes only it holds (UNIQUE) and those other images
here hold too (SHARED: git-annex stores a layer once, whichever image
directories name it), then a summary: the logical sum, what is stored once,
the saving, and the SIF files the SIF cache holds for these images. Reads
only the small files: works in a clone without layers.

EXAMPLES:
   imgsave du
   imgsave du --json containers | jq .saving`,
		Flags: []cli.Flag{jsonFlag, sifCacheFlag},
		Action: func(c *cli.Context) error {
			col, err := collect(c)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(e.stdout, col)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PATH\tTOTAL\tUNIQUE\tSHARED\tSIF")
			for _, d := range col.Dirs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", printable(d.Path), size(float64(d.Size)), size(float64(d.Unique)), size(float64(d.Shared)), size(float64(d.SIFBytes)))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "%d image directories: %s logical, %s stored once, %s saved by sharing; SIF cache %s\n",
				len(col.Dirs), size(float64(col.Logical)), size(float64(col.Stored)), size(float64(col.Saving)), size(float64(col.SIFBytes)))
			return err
		},
	}
}
