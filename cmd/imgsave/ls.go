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
says whether the SIF cache holds the image's SIF file ("built", "not
built"; --no-trunc and --json give its path). When DIR keeps signatures or
attestations (see imgsave verify --key), an EVIDENCE column counts the
signatures and names the attestations by predicate type (cosign's --type
name where it has one, as 'imgsave attestation --type' takes it).

EXAMPLES:
   imgsave ls ./img
   imgsave ls --json --no-trunc ./img | jq '.[0].layers[].digest'
   imgsave ls -r ~/datasets/containers   # every image directory under it (see imgsave du)`,
		Flags: []cli.Flag{jsonFlag, &cli.BoolFlag{Name: "no-trunc", Usage: "print full digests"}, sifCacheFlag, recursiveFlag},
		Action: func(c *cli.Context) error {
			if c.Bool("recursive") {
				return lsCollection(c, e)
			}
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
			evidence := slices.ContainsFunc(rows, func(r imgsave.ImageInfo) bool {
				return r.Signatures > 0 || len(r.Attestations) > 0 || len(r.Referrers) > 0
			})
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
				// A SIF's path is some 110 characters: --no-trunc and --json
				// give it (#29).
				switch {
				case !sif:
				case r.SIF != "" && c.Bool("no-trunc"):
					fmt.Fprintf(tw, "\t%s", printable(r.SIF))
				case r.SIF != "":
					fmt.Fprint(tw, "\tbuilt")
				default:
					fmt.Fprint(tw, "\tnot built")
				}
				if evidence {
					fmt.Fprintf(tw, "\t%s", printable(evidenceCell(r)))
				}
				fmt.Fprintln(tw)
			}
			return tw.Flush()
		},
	}
}

// signerCell names a keyless signer as its certificate claims it, with the
// time its log entry gives, all unchecked.
func signerCell(identity, issuer, logged string) string {
	if logged != "" {
		return fmt.Sprintf("keyless signer %s from %s, logged %s (unverified)", identity, issuer, logged)
	}
	return fmt.Sprintf("keyless signer %s from %s (unverified)", identity, issuer)
}

// evidenceCell is r's EVIDENCE column: "1 signature; attestations:
// spdxjson, slsaprovenance1 (2)", each predicate type once with its count.
func evidenceCell(r imgsave.ImageInfo) string {
	var parts []string
	switch r.Signatures {
	case 0:
	case 1:
		parts = append(parts, "1 signature")
	default:
		parts = append(parts, fmt.Sprintf("%d signatures", r.Signatures))
	}
	for _, si := range r.Signers {
		if si.SignerIdentity != "" {
			parts = append(parts, signerCell(si.SignerIdentity, si.SignerIssuer, si.SignerLogged))
		}
	}
	var names []string
	count := map[string]int{}
	for _, t := range r.Attestations {
		n := imgsave.PredicateName(t)
		if count[n] == 0 {
			names = append(names, n)
		}
		count[n]++
	}
	for i, n := range names {
		if count[n] > 1 {
			names[i] = fmt.Sprintf("%s (%d)", n, count[n])
		}
	}
	if len(names) > 0 {
		parts = append(parts, "attestations: "+strings.Join(names, ", "))
	}
	// Referrers by kind, with their predicate types (#30); a signature
	// bundle is counted above, and named by the signer its certificate
	// claims, which ls does not check.
	for _, ref := range r.Referrers {
		if ref.Signature {
			if ref.SignerIdentity != "" {
				parts = append(parts, signerCell(ref.SignerIdentity, ref.SignerIssuer, ref.SignerLogged))
			}
			continue
		}
		p := ref.Kind
		if p == "" {
			p = ref.ArtifactType
		}
		var preds []string
		for _, t := range ref.PredicateTypes {
			preds = append(preds, imgsave.PredicateName(t))
		}
		if len(preds) > 0 {
			p += " (" + strings.Join(preds, ", ") + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}
