package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/imgsave/imgsave/manifest/sigstore"
)

// Exit statuses: 0 verified, 1 not verified (including unreadable input),
// 2 usage error.
const (
	exitRefused = 1
	exitUsage   = 2
)

const usage = `usage: imgsave-sigstore verify --trusted-root FILE POLICY [--] BUNDLE DIGEST
       imgsave-sigstore verify --key FILE [--] BUNDLE DIGEST

Verifies a Sigstore bundle (v0.1 to v0.3 JSON) offline against a pinned
trusted_root.json, and prints one JSON object on stdout; exit status 0 only
when it verified.

POLICY is either
  --key FILE                             a PEM public key (key-based bundles)
or an identity and an issuer, as cosign names them:
  --certificate-identity ID | --certificate-identity-regexp RE
  --certificate-oidc-issuer URL | --certificate-oidc-issuer-regexp RE

DIGEST is sha256:<hex> of the signed artifact (the image manifest); for a
DSSE in-toto bundle a statement subject must carry it.

Examples:
  imgsave-sigstore verify --trusted-root trusted_root.json \
    --certificate-identity-regexp '^https://github.com/example/' \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com \
    img.sigstore.json sha256:9f3...
  imgsave-sigstore verify --trusted-root trusted_root.json --key cosign.pub \
    img.sigstore.json sha256:9f3...

With --key and no --trusted-root, the signature alone is checked with the
key (no transparency log, no timestamp): cosign v3's
'sign --key --tlog-upload=false', verified as 'cosign verify --key
--insecure-ignore-tlog' does.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the whole command; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var o sigstore.Options
	fs := flag.NewFlagSet("imgsave-sigstore verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.TrustedRoot, "trusted-root", "", "")
	fs.StringVar(&o.Key, "key", "", "")
	fs.StringVar(&o.Identity, "certificate-identity", "", "")
	fs.StringVar(&o.IdentityRegexp, "certificate-identity-regexp", "", "")
	fs.StringVar(&o.Issuer, "certificate-oidc-issuer", "", "")
	fs.StringVar(&o.IssuerRegexp, "certificate-oidc-issuer-regexp", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "imgsave-sigstore: %v\n", err)
		return exitUsage
	}
	if fs.NArg() != 2 {
		fmt.Fprintf(stderr, "imgsave-sigstore: verify takes BUNDLE and DIGEST, got %d arguments\n", fs.NArg())
		return exitUsage
	}
	o.Bundle = fs.Arg(0)
	if err := checkOptions(o); err != nil {
		fmt.Fprintf(stderr, "imgsave-sigstore: %v\n", err)
		return exitUsage
	}
	res, err := verifyFile(o, fs.Arg(1))
	if err != nil {
		res.Verified = false
		res.Error = err.Error()
		fmt.Fprintf(stderr, "imgsave-sigstore: %v\n", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		fmt.Fprintf(stderr, "imgsave-sigstore: %v\n", err)
		return exitRefused
	}
	if !res.Verified {
		return exitRefused
	}
	return 0
}

// checkOptions refuses a policy that is missing or mixed: a key, or exactly
// one identity option and one issuer option.
func checkOptions(o sigstore.Options) error {
	if o.TrustedRoot == "" && o.Key == "" {
		return errors.New("--trusted-root is required (a trusted_root.json; this verifier never fetches one); only --key may go without it")
	}
	keyless := o.Identity != "" || o.IdentityRegexp != "" || o.Issuer != "" || o.IssuerRegexp != ""
	switch {
	case o.Key != "" && keyless:
		return errors.New("--key and --certificate-* are exclusive: a bundle is key-based or keyless")
	case o.Key != "":
		return nil
	case o.Identity != "" && o.IdentityRegexp != "":
		return errors.New("--certificate-identity and --certificate-identity-regexp are exclusive")
	case o.Issuer != "" && o.IssuerRegexp != "":
		return errors.New("--certificate-oidc-issuer and --certificate-oidc-issuer-regexp are exclusive")
	case o.Identity == "" && o.IdentityRegexp == "":
		return errors.New("no identity policy: give --key, or --certificate-identity (or -regexp) with --certificate-oidc-issuer (or -regexp)")
	case o.Issuer == "" && o.IssuerRegexp == "":
		return errors.New("--certificate-oidc-issuer (or -regexp) is required with --certificate-identity: an identity means nothing without its issuer")
	}
	return nil
}

// oneLine keeps an error to one line: sigstore-go joins some with newlines.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
