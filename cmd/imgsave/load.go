package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
	"github.com/imgsave/imgsave/loader"
)

var selectFlags = []cli.Flag{
	&cli.StringFlag{Name: "repo-tag", Usage: "pick the image tagged `NAME:TAG` in a directory holding several"},
	&cli.StringFlag{Name: "config", Usage: "pick the image whose config digest starts with `PREFIX`"},
	&cli.StringFlag{Name: "platform", Usage: "pick the image for `OS/ARCH[/VARIANT]` in a directory holding several platforms (default: the one the engine runs)", Action: checkPlatform(false)},
	&cli.BoolFlag{Name: "get", Usage: "when the engine lacks the image, fetch layers that are not here with 'git annex get' instead of failing"},
	sifCacheFlag,
	sifSiteCacheFlag,
	&cli.StringSliceFlag{Name: "sif-trust-owner", EnvVars: []string{"IMGSAVE_SIF_TRUST"}, Usage: "on Apptainer, also run SIF files that `USER` or the members of %GROUP put in a cache (repeat, or separate with commas; the caller and root are always trusted)"},
}

// sifSiteCacheFlag are the read-only SIF caches a site fills.
var sifSiteCacheFlag = &cli.StringFlag{Name: "sif-site-cache", EnvVars: []string{"IMGSAVE_SIF_SITE_CACHE"}, Usage: "on Apptainer, look first in the read-only SIF caches `DIR[:DIR...]` that a site fills (their owner must be trusted)"}

// sifCacheFlag is where Apptainer's SIF files are built and found.
var sifCacheFlag = &cli.StringFlag{Name: "sif-cache", EnvVars: []string{"IMGSAVE_SIF_CACHE"}, Usage: "on Apptainer, keep the SIF files built from images in `DIR` (default ~/.cache/imgsave/sif; a group's shared cache: see docs/cluster.md)"}

func loadCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "load",
		Usage:     "load a directory's image into the engine unless it is there already",
		ArgsUsage: "DIR",
		Description: `Computes the image ID offline from DIR (imgsave's layout, a raw extraction
of a legacy or Docker 25+ save, or an OCI layout written by skopeo, crane or
podman) and asks the engine for it. Only when the engine lacks it does
imgsave stream DIR into the engine's load, checking each file's digest on the
way. A tag in DIR that already names a different image in the engine is left
where it is. With --verify-key (or $IMGSAVE_VERIFY_KEY, a site's policy),
an image no signature kept in DIR proves is refused before anything is
loaded (see 'imgsave verify --key'), and the engine's image is taken for
DIR's only by ID, never a look-alike with another config.

Prints the ID the engine knows the image by on stdout (--json: also the
config and manifest digests, whether it loaded, and the tags it left alone).

EXAMPLES:
   imgsave load ./img
   imgsave load --repo-tag busybox:1.36 ./images
   imgsave load --json --quiet ./img
   imgsave load --verify-key cosign.pub ./img`,
		Flags: append(append([]cli.Flag{jsonFlag, verifyKeyFlag("load")}, sigstoreFlags("load")...), selectFlags...),
		Action: func(c *cli.Context) error {
			a, err := args(c, "DIR")
			if err != nil {
				return err
			}
			key, policy, err := signaturePolicy(c)
			if err != nil {
				return err
			}
			eng, err := runner(c)
			if err != nil {
				return err
			}
			if err := sifFlagsUsed(c, eng); err != nil {
				return err
			}
			opts, done := loadOptions(c, e)
			opts.VerifyKey, opts.VerifySigstore = key, policy
			l, err := imgsave.Load(c.Context, eng, a[0], opts)
			done()
			if err != nil {
				return engineHint(c, err)
			}
			if !c.Bool("json") {
				if l.SIF != "" {
					fmt.Fprintln(e.stdout, l.SIF)
					return nil
				}
				fmt.Fprintln(e.stdout, l.EngineID)
				return nil
			}
			return printJSON(e.stdout, struct {
				EngineID       string   `json:"engine_id"`
				ConfigDigest   string   `json:"config_digest"`
				ManifestDigest string   `json:"manifest_digest"`
				Loaded         bool     `json:"loaded"`
				RepoTags       []string `json:"repo_tags"`
				Kept           []string `json:"tags_left_on_other_images"`
				SIF            string   `json:"sif,omitempty"`
			}{string(l.EngineID), string(l.Image.ID), string(l.Image.ManifestDigest), l.Loaded, nonNil(l.Image.RepoTags), nonNil(l.TagsKept), l.SIF})
		},
	}
}

// verifyKeyEnv is the site's signature policy: a public key every load
// and run must verify with.
const verifyKeyEnv = "IMGSAVE_VERIFY_KEY"

// verifyKeyFlag is --verify-key of load and run (verb). It has no EnvVars:
// verifyKey reads $IMGSAVE_VERIFY_KEY itself, to tell unset from empty
// and to name the one at fault.
func verifyKeyFlag(verb string) cli.Flag {
	return &cli.StringFlag{Name: "verify-key", Usage: verb + " only if a signature kept in DIR verifies with cosign's public key `FILE` (see imgsave verify --key); default $" + verifyKeyEnv + ", a site's policy"}
}

// verifyKey reads the key of --verify-key, else of $IMGSAVE_VERIFY_KEY
// when it is set; nil when neither is. An empty value (a script's unset
// $KEY, also over the variable), an empty, unreadable or oversized file is
// an error naming the flag or variable and the file, never "no check"
// (#28).
func verifyKey(c *cli.Context) ([]byte, error) {
	src, file := "--verify-key", c.String("verify-key")
	if !c.IsSet("verify-key") {
		v, ok := os.LookupEnv(verifyKeyEnv)
		if !ok {
			return nil, nil
		}
		src, file = verifyKeyEnv, v
	}
	if file == "" {
		return nil, fmt.Errorf("%s is empty: name cosign's public key FILE; an empty value does not switch the check off", src)
	}
	key, err := imgsave.ReadKey(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return key, nil
}

func loadOptions(c *cli.Context, e *env) (imgsave.LoadOptions, func()) {
	ev, done := events(c, e, "loading")
	return imgsave.LoadOptions{
		Selector: imgsave.Selector{RepoTag: c.String("repo-tag"), Config: c.String("config"), Platform: c.String("platform")},
		Events:   ev,
		Fetch:    c.Bool("get"),
		SIFCache: c.String("sif-cache"),
		// A site's list of caches is a search path, as PATH is.
		SIFSiteCaches:    filepath.SplitList(c.String("sif-site-cache")),
		SIFTrustedOwners: c.StringSlice("sif-trust-owner"),
	}, done
}

// sifFlagsUsed refuses --sif-cache, --sif-site-cache and --sif-trust-owner
// given on the command line to an engine that builds no SIF files, where
// they would be ignored; their variables (a site's settings, meant for
// when Apptainer is the engine) are not refused.
func sifFlagsUsed(c *cli.Context, r loader.Runtime) error {
	if _, ok := r.(imgsave.SIFBuilder); ok {
		return nil
	}
	for _, f := range []*cli.StringFlag{sifCacheFlag, sifSiteCacheFlag, {Name: "sif-trust-owner", EnvVars: []string{"IMGSAVE_SIF_TRUST"}}} {
		if _, env := os.LookupEnv(f.EnvVars[0]); c.IsSet(f.Name) && !env {
			return usagef(c, "%s: --%s is for Apptainer, and the engine is %s, which builds no SIF files: drop it, or add --engine apptainer", c.Command.Name, f.Name, r.Kind())
		}
	}
	return nil
}

// The site's keyless policy, as $IMGSAVE_VERIFY_KEY is its key policy:
// a trusted root and the identity and OIDC issuer a Sigstore bundle kept
// for the image must name (#30).
const (
	trustedRootEnv  = "IMGSAVE_TRUSTED_ROOT"
	certIdentityEnv = "IMGSAVE_CERT_IDENTITY"
	certIssuerEnv   = "IMGSAVE_CERT_OIDC_ISSUER"
)

// sigstoreFlags are the keyless policy of verify, load and run (verb),
// named as cosign names them.
func sigstoreFlags(verb string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "certificate-identity", Usage: verb + " only if a Sigstore bundle kept in DIR verifies offline, signed by `ID` (the certificate's SAN), with --certificate-oidc-issuer and --trusted-root; default $" + certIdentityEnv},
		&cli.StringFlag{Name: "certificate-identity-regexp", Usage: "as --certificate-identity, the SAN matching `RE`"},
		&cli.StringFlag{Name: "certificate-oidc-issuer", Usage: "the OIDC issuer `URL` the certificate must name; default $" + certIssuerEnv},
		&cli.StringFlag{Name: "certificate-oidc-issuer-regexp", Usage: "as --certificate-oidc-issuer, the issuer matching `RE`"},
		&cli.StringFlag{Name: "trusted-root", Usage: "Sigstore's trusted_root.json `FILE` (Fulcio, Rekor, CT log and TSA keys), never fetched; default $" + trustedRootEnv},
	}
}

// signaturePolicy is what load and run check before they use an image:
// the cosign key of --verify-key (or the site's), and the Sigstore
// policy of the keyless flags (or the site's); nil when none is set.
func signaturePolicy(c *cli.Context) ([]byte, *imgsave.Sigstore, error) {
	key, err := verifyKey(c)
	if err != nil {
		return nil, nil, err
	}
	policy, err := sigstorePolicy(c, true)
	return key, policy, err
}

// sigstorePolicy reads the keyless policy of the flags, each else (with
// site, for load and run) of its variable when set; nil when none is
// given. An empty value, of a flag or
// a variable, is an error naming it, never "no check".
func sigstorePolicy(c *cli.Context, site bool) (*imgsave.Sigstore, error) {
	var s imgsave.Sigstore
	given := false
	for _, f := range []struct {
		flag, env string
		into      *string
	}{
		{"trusted-root", trustedRootEnv, &s.TrustedRoot},
		{"certificate-identity", certIdentityEnv, &s.Identity},
		{"certificate-identity-regexp", "", &s.IdentityRegexp},
		{"certificate-oidc-issuer", certIssuerEnv, &s.Issuer},
		{"certificate-oidc-issuer-regexp", "", &s.IssuerRegexp},
	} {
		src, v, ok := "--"+f.flag, c.String(f.flag), c.IsSet(f.flag)
		if !ok && site && f.env != "" {
			src = f.env
			v, ok = os.LookupEnv(f.env)
		}
		if !ok {
			continue
		}
		if v == "" {
			return nil, fmt.Errorf("%s is empty; an empty value does not switch the check off", src)
		}
		*f.into, given = v, true
	}
	if !given {
		return nil, nil
	}
	return &s, nil
}
