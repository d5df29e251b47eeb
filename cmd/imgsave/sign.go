package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/imgsave/imgsave"
	"github.com/imgsave/imgsave/archive"
)

func signCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "sign a directory's images with a cosign key, the signature kept in the directory",
		ArgsUsage: "DIR",
		Description: fmt.Sprintf(`Signs imgsave's canonical manifest digest of each image of DIR (or of the
one --repo-tag, --config or --platform picks): the image's identity
whatever engine or registry it passes through, its ID in a containerd store
after a load. The signature is cosign's (a simple-signing payload signed
with the key), kept in DIR/evidence/<digest> as 'cosign save' lays one out,
beside any there already (at most %d), so that every clone checks it
offline with 'imgsave verify --key' or 'imgsave run --verify-key', and
cosign with 'cosign verify --key cosign.pub --insecure-ignore-tlog
--local-image DIR/evidence/<digest>'. The key is cosign's encrypted private key
('cosign generate-key-pair'); its password comes from COSIGN_PASSWORD, or
is asked for at a terminal. Prints each digest signed. In a dataset,
DIR/evidence is then to be committed (git annex add, or datalad save),
as it says: a clone gets the signatures only from a commit. Nothing is written
through a symbolic link: one at DIR/evidence, its .gitattributes or the
folder replaced is refused. The folder is swapped in whole: a sign
interrupted at any point leaves the old signatures or the new ones.

EXAMPLES:
   imgsave sign --key cosign.key ./img
   imgsave sign --key cosign.key --repo-tag tool:2.1 ./images`, archive.MaxEvidenceLayers),
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "key", Required: true, Usage: "cosign's encrypted private key `FILE` (cosign.key)"},
		}, selectFlags[0], selectFlags[1],
			// Offline: no engine's platform to default to.
			&cli.StringFlag{Name: "platform", Usage: "pick the image for `OS/ARCH[/VARIANT]` in a directory holding several platforms", Action: checkPlatform(false)}),
		Action: func(c *cli.Context) error {
			a, err := args(c, "DIR")
			if err != nil {
				return err
			}
			key, err := imgsave.ReadKey(c.String("key"))
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			pw, err := password(e)
			if err != nil {
				return err
			}
			signed, err := imgsave.Sign(c.Context, a[0], imgsave.SignOptions{
				Selector: imgsave.Selector{RepoTag: c.String("repo-tag"), Config: c.String("config"), Platform: c.String("platform")},
				Key:      key, Password: pw,
			})
			if err != nil {
				return err
			}
			for _, d := range signed {
				fmt.Fprintln(e.stdout, d)
			}
			// The signature is in DIR/evidence only until it is committed:
			// a clone has none (#29).
			if !globalBool(c, "quiet") {
				if how := recordHint(c.Context, filepath.Join(a[0], archive.EvidenceDir)); how != "" {
					fmt.Fprintf(e.stderr, "imgsave: %s\n", printable(how))
				}
			}
			return nil
		},
	}
}

// password is cosign's: COSIGN_PASSWORD, else asked for at the terminal.
func password(e *env) ([]byte, error) {
	if pw, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
		return []byte(pw), nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, errors.New("the key's password: set COSIGN_PASSWORD (no terminal to ask at)")
	}
	fmt.Fprint(e.stderr, "Enter password for private key: ")
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	return pw, err
}

func attestationCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "attestation",
		Usage:     "print an image's attestations kept in the directory (an SBOM, provenance), offline",
		ArgsUsage: "DIR",
		Description: `Prints the predicate of each attestation kept for DIR's image (pulled with
it from the registry, where 'cosign attest' put it) whose predicate type is
--type: a URI, or cosign's --type names (spdxjson, cyclonedx,
slsaprovenance, slsaprovenance1, vuln, custom, link). Only attestations
whose in-toto subject is the signed image (its manifest, or the index
holding it) count: one kept beside it about another image is never printed
('imgsave verify --key' fails over it). BuildKit's attestations (docker
buildx build --sbom=true, unsigned) about the image's manifest are printed
too. One JSON document a line; --json
gives [{"predicate_type": ..., "predicate": ...}]. It checks no signature:
'imgsave verify --key' does. Exits 1 when none is kept.

EXAMPLES:
   imgsave attestation --type spdxjson ./img             # the SBOM, as cosign attested it
   imgsave attestation --json ./img`,
		Flags: append([]cli.Flag{
			jsonFlag,
			&cli.StringFlag{Name: "type", Usage: "the predicate `TYPE`: a URI or cosign's name (default: every type)"},
		}, selectFlags[0], selectFlags[1],
			// Offline: no engine's platform to default to.
			&cli.StringFlag{Name: "platform", Usage: "pick the image for `OS/ARCH[/VARIANT]` in a directory holding several platforms", Action: checkPlatform(false)}),
		Action: func(c *cli.Context) error {
			a, err := args(c, "DIR")
			if err != nil {
				return err
			}
			atts, err := imgsave.Attestations(c.Context, a[0], imgsave.Selector{RepoTag: c.String("repo-tag"), Config: c.String("config"), Platform: c.String("platform")}, c.String("type"))
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := printJSON(e.stdout, atts); err != nil {
					return err
				}
			} else {
				for _, at := range atts {
					fmt.Fprintln(e.stdout, strings.TrimSpace(string(at.Predicate)))
				}
			}
			if len(atts) == 0 {
				return fmt.Errorf("%s: no attestation of type %q kept", a[0], c.String("type"))
			}
			return nil
		},
	}
}
