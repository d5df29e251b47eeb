package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
)

func trustRootCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "trust-root",
		Usage: "keep a Sigstore trusted root in a dataset, for keyless verification offline",
		Description: `A keyless signature is checked against a trusted_root.json (Fulcio, Rekor,
CT log and TSA keys), which imgsave never fetches. Kept in the dataset, at
` + imgsave.TrustedRootPath + ` of the git repository holding the images, it is
what verify, load and run use when --certificate-identity is given without
--trusted-root: a clone verifies years later with the root that was valid
when the images were pulled.`,
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "copy a trusted_root.json into the dataset holding DIR",
				ArgsUsage: "FILE DIR",
				Description: `Copies FILE to ` + imgsave.TrustedRootPath + ` at the top of the git
repository holding DIR, replacing the one there, and prints its path; record
it with 'git add' (or 'datalad save').

EXAMPLES:
   imgsave trust-root add trusted_root.json ds/images/app
   imgsave verify --certificate-identity-regexp '^https://github.com/example/' --certificate-oidc-issuer https://token.actions.githubusercontent.com ds/images/app`,
				Action: func(c *cli.Context) error {
					a, err := args(c, "FILE", "DIR")
					if err != nil {
						return err
					}
					p, err := imgsave.AddTrustedRoot(a[0], a[1])
					if err != nil {
						return err
					}
					fmt.Fprintln(e.stdout, p)
					return nil
				},
			},
		},
	}
}
