package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
	"github.com/imgsave/imgsave/archive"
)

// errVerify is returned when verify found a problem it already reported.
var errVerify = errors.New("verification failed")

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check every digest of a directory offline",
		ArgsUsage: "DIR",
		Description: `Reads DIR as 'imgsave load' does, then recomputes the digest of every
config, layer (a compressed one against its blob name and, decompressed,
its diff_id) and blob, and reports each file: ok, corrupt (got vs want),
missing, or not-present (a git-annex file whose content is not here). A
directory that load would refuse is reported with load's error. Each
platform an index lists (index.json, a nested index) must be its config's
os, architecture and variant, and manifest.json must name the index's
first platform: engines, skopeo and containerd pick by those fields. Files are
hashed in parallel, streamed. With --key, also checks each signature kept
in DIR/evidence offline: the signature over its payload with the key, the
payload's manifest digest against the stored manifest, that manifest's
config against DIR's, whose diff_ids name the layers checked above. Exits 0
only when all is intact (and, with --key, every image is signed). Sigstore
bundles kept as referrers (cosign v3) are checked by imgsave-sigstore,
offline: with --key, or keyless with --certificate-identity[-regexp],
--certificate-oidc-issuer[-regexp] and a pinned --trusted-root; a bundle
that verifies proves the image as a signature does.

EXAMPLES:
   imgsave verify ./img
   imgsave verify --metadata-only ./img   # in a clone, before 'git annex get'
   imgsave verify --json ./img | jq '.files[] | select(.status != "ok")'
   imgsave verify --key cosign.pub ./img
   imgsave verify --trusted-root trusted_root.json --certificate-identity-regexp '^https://github.com/example/' --certificate-oidc-issuer https://token.actions.githubusercontent.com ./img`,
		Flags: append([]cli.Flag{
			jsonFlag,
			&cli.BoolFlag{Name: "metadata-only", Usage: "check only the files kept in git (manifests, index, configs), not the layers"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "files hashed at once", DefaultText: "the CPU count"},
			&cli.StringFlag{Name: "key", Usage: "also check the signatures kept in DIR/evidence with cosign's public key `FILE`: every image must have one that verifies, down to its config"},
		}, sigstoreFlags("verify")...),
		Action: func(c *cli.Context) error {
			a, err := args(c, "DIR")
			if err != nil {
				return err
			}
			vopts := imgsave.VerifyOptions{MetadataOnly: c.Bool("metadata-only"), Jobs: c.Int("jobs")}
			var rep *imgsave.VerifyResult
			policy, err := sigstorePolicy(c, false)
			if err != nil {
				return usagef(c, "verify: %v", err)
			}
			var key []byte
			if c.IsSet("key") {
				if c.String("key") == "" {
					return usagef(c, "verify: --key needs cosign's public key FILE")
				}
				var kerr error
				if key, kerr = imgsave.ReadKey(c.String("key")); kerr != nil {
					return fmt.Errorf("--key: %w", kerr)
				}
			}
			if key != nil || policy != nil {
				rep, err = imgsave.VerifySigned(c.Context, a[0], vopts, key, policy)
			} else {
				rep, err = imgsave.Verify(c.Context, a[0], vopts)
			}
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := printJSON(e.stdout, rep); err != nil {
					return err
				}
			} else {
				for _, f := range rep.Files {
					switch {
					case f.Status == archive.StatusCorrupt && f.WantSize >= 0 && f.Size != f.WantSize:
						fmt.Fprintf(e.stdout, "%-11s %s: size %d, want %d\n", f.Status, printable(f.Path), f.Size, f.WantSize)
					case f.Status == archive.StatusCorrupt:
						fmt.Fprintf(e.stdout, "%-11s %s: got %s, want %s\n", f.Status, printable(f.Path), f.Got, f.Want)
					default:
						fmt.Fprintf(e.stdout, "%-11s %s\n", f.Status, printable(f.Path))
					}
				}
				for _, p := range rep.Problems {
					fmt.Fprintf(e.stdout, "%-11s %s\n", "problem", printable(p))
				}
				for _, ev := range rep.Evidence {
					// No dangling "attestations: " where there is none (#29).
					atts := ""
					if len(ev.Attestations) > 0 {
						atts = "; attestations: " + printable(strings.Join(ev.Attestations, ", "))
					}
					fmt.Fprintf(e.stdout, "%-11s %s: %d of %d signatures verify%s\n", "evidence", printable(ev.Path), ev.Verified, ev.Signatures, atts)
					for _, p := range ev.Problems {
						fmt.Fprintf(e.stdout, "%-11s %s: %s\n", "problem", printable(ev.Path), printable(p))
					}
				}
				for _, ev := range rep.Evidence {
					for _, si := range ev.Signers {
						if si.Verified {
							fmt.Fprintf(e.stdout, "%-11s %s: keyless signature %d verifies%s\n", "signed", printable(ev.Path), si.Signature, signer(imgsave.ReferrerInfo{Identity: si.Identity, Issuer: si.Issuer, Time: si.Time}))
						}
					}
					for _, r := range ev.Referrers {
						if r.Verified {
							fmt.Fprintf(e.stdout, "%-11s %s: %s %s verifies%s\n", "signed", printable(ev.Path), r.Kind, r.Digest, signer(r))
						}
					}
				}
				for _, id := range rep.Unsigned {
					fmt.Fprintf(e.stdout, "%-11s image %s: no signature verifies with the key\n", "unsigned", id)
				}
			}
			if !rep.OK {
				return fmt.Errorf("%s: %w", a[0], errVerify)
			}
			return nil
		},
	}
}

// signer is ", signed by IDENTITY (ISSUER) at TIME" for a verified
// keyless bundle, what is known of it for a key-based one.
func signer(r imgsave.ReferrerInfo) string {
	s := ""
	if r.Identity != "" {
		s += ", signed by " + printable(r.Identity) + " (" + printable(r.Issuer) + ")"
	}
	if r.Time != "" {
		s += " at " + r.Time
	}
	return s
}
