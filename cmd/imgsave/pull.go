package main

import (
	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
)

var insecureFlag = &cli.BoolFlag{Name: "insecure", Usage: "speak plain HTTP to the registry (loopback registries need no flag)"}

func pullCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "fetch an image from its registry into a canonical directory, without an engine",
		ArgsUsage: "IMAGE DIR",
		Description: `Fetches IMAGE's manifest (for --platform, when it is a multi-platform
index), config and layers from its registry and writes DIR exactly as a
docker pull of IMAGE followed by imgsave save would: layers decompressed,
every digest checked, DIR complete or not there. No container engine is
needed. Credentials come from the docker CLI's config (docker login),
REGISTRY_AUTH_FILE or podman's auth.json.

--platform all keeps every platform of the index in DIR (attestations
left out), a list as linux/amd64,linux/arm64 those it names (each must be
there); a layer they share is fetched and kept once. load and run pick
the engine's platform among them, or --platform's.

Up to --jobs layers are fetched at once (3; from a registry on this
machine 1, since it sends faster than layers are written); those not yet
written wait, still compressed, in imgsave's cache folder (at most --jobs
of them). A broken
connection is resumed where it broke; a registry's Retry-After is honoured.
A registry that sends no byte for --timeout (IMGSAVE_REGISTRY_TIMEOUT) is
left, as is one redirecting more than 10 times.

Keeps the image's cosign signatures and attestations, with the manifest
they sign, in DIR/evidence (see imgsave verify --key); --no-evidence leaves
them in the registry. Only cosign's images are kept from its tags (what
else a registry serves there is left out); one that cannot be fetched is
left out with a notice, and the image pulled. --require-evidence fails the
pull instead, naming the tag, and fails it when the registry keeps no
signature or attestation for the image. With --verify-key (or
$IMGSAVE_VERIFY_KEY, a site's policy, as for load and run) the evidence is
required and a kept signature must verify with the key down to every
image's config before DIR is put in place; otherwise nothing is written.
So must a kept Sigstore bundle with the keyless flags (or their site
variables), as for load and run (see imgsave verify).

Prints the image's config digest on stdout, one line per platform. In a
git-annex dataset with imgsave's special remote, records IMAGE (by digest,
each platform's) as the source of DIR's layers (see imgsave remote --help).

EXAMPLES:
   imgsave pull 127.0.0.1:5000/tools/align:2.1 ./align
   imgsave pull --platform linux/arm64 --json 127.0.0.1:5000/tools/align:2.1 ./align-arm64
   imgsave pull --platform linux/amd64,linux/arm64 127.0.0.1:5000/tools/align:2.1 ./align-both
   imgsave pull --jobs 1 --timeout 5m 127.0.0.1:5000/tools/align:2.1 ./align-slow-link`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "platform", Usage: "the platforms of a multi-platform image to keep: `OS/ARCH[/VARIANT]`, several separated by commas, or all (default: linux and this machine's)", Action: checkPlatform(true)},
			&cli.IntFlag{Name: "jobs", DefaultText: "3; 1 for a registry on this machine", Usage: "fetch up to `N` layers at once (1: stream each straight through, nothing cached)"},
			timeoutFlag,
			forceFlag, dropEvidenceFlag, jsonFlag, insecureFlag, maxExpandFlag,
			&cli.BoolFlag{Name: "no-evidence", Usage: "leave the image's cosign signatures and attestations in the registry (kept in DIR/evidence by default)"},
			&cli.BoolFlag{Name: "require-evidence", Usage: "fail unless the image's cosign signatures or attestations are found and kept whole"},
			verifyKeyFlag("pull"),
		}, sigstoreFlags("pull")...),
		Action: func(c *cli.Context) error {
			a, err := args(c, "IMAGE", "DIR")
			if err != nil {
				return err
			}
			if err := checkOrder(c, "IMAGE DIR", a[0], a[1], "imgsave pull "+shellQuote(a[1])+" "+shellQuote(a[0])); err != nil {
				return err
			}
			if c.IsSet("jobs") && c.Int("jobs") < 1 {
				return usagef(c, "--jobs %d: want 1 or more", c.Int("jobs"))
			}
			if err := checkTimeout(c); err != nil {
				return err
			}
			if c.Bool("no-evidence") && c.Bool("require-evidence") {
				return usagef(c, "--no-evidence and --require-evidence: choose one")
			}
			key, policy, err := signaturePolicy(c)
			if err != nil {
				return err
			}
			if (key != nil || policy != nil) && c.Bool("no-evidence") {
				return usagef(c, "--no-evidence under a signature policy (--verify-key, the keyless flags or their site variables): the signatures are what is checked")
			}
			ev, done := events(c, e, "pulling "+a[0])
			res, err := imgsave.Pull(c.Context, a[0], a[1], imgsave.PullOptions{Events: ev, Platform: c.String("platform"), Force: c.Bool("force"), DropEvidence: c.Bool("drop-evidence"), Insecure: c.Bool("insecure"), Jobs: c.Int("jobs"), IdleTimeout: c.Duration("timeout"), MaxExpand: c.Int("max-expand"), NoEvidence: c.Bool("no-evidence"), RequireEvidence: c.Bool("require-evidence"), VerifyKey: key, VerifySigstore: policy})
			done()
			if err != nil {
				return evidenceHint(err)
			}
			registerSources(c, e, a[1], imgsave.RegisterOptions{Registries: res.Sources, Insecure: c.Bool("insecure")})
			return report(c, e, a[1], res.Result)
		},
	}
}

// timeoutFlag is the idle timeout of every exchange with a registry, for
// pull and push (#18).
var timeoutFlag = &cli.DurationFlag{Name: "timeout", Value: imgsave.DefaultIdleTimeout, EnvVars: []string{"IMGSAVE_REGISTRY_TIMEOUT"}, Usage: "give up on a registry that sends or takes no byte for `DURATION`"}

func checkTimeout(c *cli.Context) error {
	if c.Duration("timeout") <= 0 {
		return usagef(c, "--timeout %v: want a duration over 0, as 90s or 5m", c.Duration("timeout"))
	}
	return nil
}
