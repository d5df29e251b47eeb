package main

import (
	"io"

	"github.com/urfave/cli/v2"
)

// manCommand prints imgsave's manual page, made from its command
// definitions; `make man` writes it to docs/imgsave.1, and docs/cli.md
// from --markdown (TestDocsGenerated holds both to the definitions).
// Hidden: it is for packagers and make, not for daily use.
func manCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the manual page (roff), made from the command definitions",
		Hidden: true,
		Flags:  []cli.Flag{&cli.BoolFlag{Name: "markdown", Usage: "print it as Markdown instead"}},
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			// A fresh definition: c.App's flags took this environment's
			// values (IMGSAVE_ENGINE), which are no one else's defaults.
			def := newApp(&env{})
			var page string
			var err error
			if c.Bool("markdown") {
				page, err = def.ToMarkdown()
			} else {
				page, err = def.ToManWithSection(1)
			}
			if err != nil {
				return err
			}
			_, err = io.WriteString(e.stdout, page)
			return err
		},
	}
}
