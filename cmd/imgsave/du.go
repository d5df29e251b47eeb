package main

import (
	"fmt"
	"io"
	"strconv"
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

// collect describes the collection under the DATASET argument; eng, when
// not nil, says which of its images it holds (see
// imgsave.CollectOptions.Engine).
func collect(c *cli.Context, eng imgsave.Engine) (*imgsave.Collection, error) {
	a, err := datasetArgs(c, false)
	if err != nil {
		return nil, err
	}
	return imgsave.Collect(c.Context, a[0], imgsave.CollectOptions{SIFCache: c.String("sif-cache"), Engine: eng})
}

// lsCollection is ls -r: one row per image directory under DATASET.
func lsCollection(c *cli.Context, e *env) error {
	// Loaded in the engine: one query for the whole collection; without a
	// usable engine the column is left out, with a notice.
	var eng imgsave.Engine
	found, err := engine(c)
	if err == nil {
		eng = found
	}
	col, cerr := collect(c, eng)
	if cerr != nil {
		return cerr
	}
	if err == nil {
		err = col.LoadedErr
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
   imgsave du --json containers | jq .saving
   imgsave du --format dot containers | dot -Tsvg > sharing.svg`,
		Flags: []cli.Flag{jsonFlag, sifCacheFlag, &cli.StringFlag{Name: "format", Value: "table", Usage: "`FORMAT`: table, or dot: a layer-sharing graph for Graphviz (images to the layers they share, sizes as labels; the " + strconv.Itoa(dotLayers) + " largest shared layers)"}},
		Action: func(c *cli.Context) error {
			format := c.String("format")
			if format != "table" && format != "dot" {
				return usagef(c, "--format %q: want table or dot", format)
			}
			col, err := collect(c, nil)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(e.stdout, col)
			}
			if format == "dot" {
				return writeDot(e.stdout, col, col.SharedLayers())
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

// dotLayers bounds du --format dot: the largest shared layers drawn; the
// others are counted in one node.
const dotLayers = 50

// writeDot writes du --format dot of col, whose shared files
// ([imgsave.Collection.SharedLayers]) are shared: a Graphviz graph with a box per image
// directory (its size and unique bytes) and an edge to each shared layer
// (an ellipse with its short digest and size) it holds. Directories that
// share nothing drawn are counted in one node, so the graph stays
// readable (and its size bounded by dotLayers) for a big collection.
func writeDot(w io.Writer, col *imgsave.Collection, shared []imgsave.SharedLayer) error {
	var more int
	var moreBytes int64
	if len(shared) > dotLayers {
		for _, l := range shared[dotLayers:] {
			more++
			moreBytes += l.Size
		}
		shared = shared[:dotLayers]
	}
	drawn := map[int]bool{}
	for _, l := range shared {
		for _, d := range l.Dirs {
			drawn[d] = true
		}
	}
	var b strings.Builder
	b.WriteString("digraph imgsave_du {\n\trankdir=LR;\n\tnode [shape=box];\n")
	fmt.Fprintf(&b, "\tlabel=%s;\n", dotQuote(fmt.Sprintf("%d image directories: %s logical, %s stored once, %s saved by sharing",
		len(col.Dirs), size(float64(col.Logical)), size(float64(col.Stored)), size(float64(col.Saving)))))
	alone := 0
	for i, d := range col.Dirs {
		if !drawn[i] {
			alone++
			continue
		}
		fmt.Fprintf(&b, "\td%d [label=%s];\n", i, dotQuote(fmt.Sprintf("%s\n%s, %s unique", printable(d.Path), size(float64(d.Size)), size(float64(d.Unique)))))
	}
	for j, l := range shared {
		fmt.Fprintf(&b, "\tl%d [shape=ellipse, label=%s];\n", j, dotQuote(fmt.Sprintf("%s\n%s", shortDigest(l.Digest), size(float64(l.Size)))))
		for _, d := range l.Dirs {
			fmt.Fprintf(&b, "\td%d -> l%d;\n", d, j)
		}
	}
	if alone > 0 {
		fmt.Fprintf(&b, "\talone [shape=note, label=%s];\n", dotQuote(fmt.Sprintf("%d image directories share no layer drawn", alone)))
	}
	if more > 0 {
		fmt.Fprintf(&b, "\tmore [shape=note, label=%s];\n", dotQuote(fmt.Sprintf("%d smaller shared files not drawn (%s)", more, size(float64(moreBytes)))))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// dotQuote is s as a DOT string: in quotes, with quotes and backslashes
// escaped; a newline becomes DOT's centred line break.
func dotQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"`
}

// shortDigest is "sha256:" and the first 12 hex digits of d.
func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}
