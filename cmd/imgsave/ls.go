package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave/archive"
)

// lsImage is one image in `ls --json`.
type lsImage struct {
	ID           string    `json:"id"`
	Manifest     string    `json:"manifest,omitempty"`
	RepoTags     []string  `json:"repo_tags"`
	Created      string    `json:"created,omitempty"`
	Platform     string    `json:"platform"`
	Config       lsFile    `json:"config"`
	Layers       []lsLayer `json:"layers"`
	Size         int64     `json:"size"`
	AllPresent   bool      `json:"all_present"`
	MissingFiles []string  `json:"missing_files"`
}

type lsFile struct {
	Path    string `json:"path"`
	Digest  string `json:"digest"`
	Size    int64  `json:"size"`
	Present bool   `json:"present"`
}

type lsLayer struct {
	lsFile
	DiffID string `json:"diff_id"`
}

func lsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list the images in a directory, offline",
		ArgsUsage: "DIR",
		Description: `Lists each image of DIR: repo tags, image ID, creation time, platform,
layer count and total size. Reads only the small files, so it works in a
clone whose layers were never fetched; --json also says which files are
present locally.

EXAMPLES:
   imgsave ls ./img
   imgsave ls --json --no-trunc ./img | jq '.[0].layers[].digest'`,
		Flags: []cli.Flag{jsonFlag, &cli.BoolFlag{Name: "no-trunc", Usage: "print full image IDs"}},
		Action: func(c *cli.Context) error {
			a, err := args(c, "DIR")
			if err != nil {
				return err
			}
			d, err := archive.OpenDir(a[0])
			if err != nil {
				return err
			}
			rows := make([]lsImage, 0, len(d.Images))
			for _, im := range d.Images {
				rows = append(rows, describe(d, im))
			}
			if c.Bool("json") {
				return printJSON(e.stdout, rows)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REPO TAGS\tIMAGE ID\tCREATED\tPLATFORM\tLAYERS\tSIZE\tPRESENT")
			for _, r := range rows {
				id := r.ID
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
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", tags, id, r.Created, r.Platform, len(r.Layers), size(float64(r.Size)), present)
			}
			return tw.Flush()
		},
	}
}

func describe(d *archive.Dir, im *archive.DirImage) lsImage {
	r := lsImage{
		ID:       string(im.ID),
		Manifest: string(im.ManifestDigest),
		RepoTags: im.RepoTags,
		Platform: im.Config.Platform(),
		Config:   lsFile{Path: im.ConfigPath, Digest: string(im.ID), Size: im.ConfigSize, Present: true},
		Size:     im.ConfigSize,
		Layers:   []lsLayer{},
	}
	if r.RepoTags == nil {
		r.RepoTags = []string{}
	}
	if im.Config.Created != nil {
		r.Created = im.Config.Created.UTC().Format(time.RFC3339)
	}
	r.MissingFiles = []string{}
	for _, l := range im.Layers {
		f := lsLayer{lsFile{Path: l.Path, Digest: string(l.Digest), Size: l.Size, Present: d.Present(l.Path)}, string(l.DiffID)}
		if !f.Present {
			r.MissingFiles = append(r.MissingFiles, l.Path)
		}
		r.Layers = append(r.Layers, f)
		r.Size += max(l.Size, 0)
	}
	r.AllPresent = len(r.MissingFiles) == 0
	return r
}
