package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
)

func pushCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "send a directory's image to a registry, without an engine",
		ArgsUsage: "DIR IMAGE",
		Description: `Pushes one image of DIR (--repo-tag or --config pick it in a directory of
several) to IMAGE in its registry: the config as it is, so the image ID does
not change, each layer compressed as --compress says and checked against its
diff ID as it is read (compressed once, while it is sent), and an OCI
manifest. The config, and layers sent uncompressed, are not sent again when
the registry has them; compressed layers are skipped only when the same image
goes to the same place again. DIR must hold uncompressed layers ('imgsave migrate'
makes them so) and have its content present.

When DIR holds several platforms of the image, all of them go, each as above
(a layer they share once), with an OCI image index listing them under IMAGE,
which engines pull for their platform; --platform sends one alone.

Prints the pushed manifest's digest, or the index's, on stdout (--json: also
each blob, and each platform's manifest). In a git-annex dataset with
imgsave's special remote, records IMAGE (each platform's manifest, by digest)
as a source of DIR's layers (see imgsave remote --help).

EXAMPLES:
   imgsave push ./img 127.0.0.1:5000/tools/align:2.1
   imgsave push --compress zstd --json ./img 127.0.0.1:5000/tools/align:2.1
   imgsave push --platform linux/arm64 ./multi 127.0.0.1:5000/tools/align:2.1-arm64`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "compress", Value: "gzip", Usage: "how layers travel: `gzip|zstd|none` (none keeps each blob digest equal to its diff ID)"},
			jsonFlag, insecureFlag, timeoutFlag,
			selectFlags[0], selectFlags[1],
			&cli.StringFlag{Name: "platform", Usage: "push only the image for `OS/ARCH[/VARIANT]` in a directory holding several platforms (default: all of them, with an index)", Action: checkPlatform(false)},
		},
		Action: func(c *cli.Context) error {
			a, err := args(c, "DIR", "IMAGE")
			if err != nil {
				return err
			}
			if err := checkTimeout(c); err != nil {
				return err
			}
			if err := checkOrder(c, "DIR IMAGE", a[1], a[0], "imgsave push "+shellQuote(a[1])+" "+shellQuote(a[0])); err != nil {
				return err
			}
			switch c.String("compress") {
			case "gzip", "zstd", "none":
			default:
				return usagef(c, "--compress %q: want gzip, zstd or none", c.String("compress"))
			}
			ev, done := events(c, e, "pushing "+a[1])
			p, err := imgsave.Push(c.Context, a[0], a[1], imgsave.PushOptions{
				Selector:    imgsave.Selector{RepoTag: c.String("repo-tag"), Config: c.String("config"), Platform: c.String("platform")},
				Events:      ev,
				Compress:    c.String("compress"),
				Insecure:    c.Bool("insecure"),
				IdleTimeout: c.Duration("timeout"),
			})
			done()
			if err != nil {
				return err
			}
			sources := []string{p.Source}
			if p.Index != "" {
				// Each platform's manifest, which names its layers.
				sources = sources[:0]
				for _, pl := range p.Platforms {
					sources = append(sources, pl.Source)
				}
			}
			registerSources(c, e, a[0], imgsave.RegisterOptions{Registries: sources, Insecure: c.Bool("insecure")})
			if c.Bool("json") {
				return printJSON(e.stdout, p)
			}
			if p.Index != "" {
				fmt.Fprintln(e.stdout, p.Index)
			} else {
				fmt.Fprintln(e.stdout, p.Manifest)
			}
			return nil
		},
	}
}
