package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
)

func migrateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "migrate",
		Usage:     "rewrite an image directory into the canonical layout, in place",
		ArgsUsage: "DIR",
		Description: `Rewrites DIR, a raw extraction of a legacy or Docker 25+ save (as
datalad-container's docker adapter leaves it) or an OCI layout written by
skopeo, crane or podman, into imgsave's canonical layout, with every check of
'imgsave save', and swaps it in atomically. The image ID does not change and
the directory stays runnable by the adapter. All of DIR's content must be
present ('git annex get DIR' first).

EXAMPLES:
   imgsave migrate ./img && git annex add img && git commit -m 'img: canonical layout'`,
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			a, err := args(c, "DIR")
			if err != nil {
				return err
			}
			ev, done := events(c, e, "migrating "+a[0])
			res, err := imgsave.Migrate(c.Context, a[0], imgsave.MigrateOptions{Events: ev})
			done()
			if err != nil {
				return fmt.Errorf("migrate %s: %w", a[0], err)
			}
			return report(c, e, a[0], res)
		},
	}
}
