package imgsave

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/manifest/sigstore"
)

// Sigstore is a keyless policy for the Sigstore bundles kept as referrers
// (cosign v3, #30): the signing certificate must chain to a Fulcio CA of
// TrustedRoot and name the identity (Identity, exactly, or matching
// IdentityRegexp) and OIDC issuer (Issuer or IssuerRegexp), with a Rekor
// entry and a verified time, all offline. Bundles are checked by the
// imgsave-sigstore binary (sigstore-go), never linked into imgsave.
type Sigstore struct {
	// TrustedRoot is a trusted_root.json file (Fulcio, Rekor, CT log and
	// TSA keys); "" takes the dataset's ([DatasetTrustedRoot]). With a
	// key (VerifyKey), it is optional: without it a key-based bundle's
	// signature alone is checked.
	TrustedRoot    string
	Identity       string
	IdentityRegexp string
	Issuer         string
	IssuerRegexp   string
	// Verifier is the imgsave-sigstore binary; "" finds it beside the
	// running executable, then on PATH ([sigstore.Find]).
	Verifier string
}

// checkLegacy verifies a keyless cosign 2 signature layer: restated as a
// bundle ([sigstore.LegacyBundle]), whose signed artifact is the payload.
func checkLegacy(bc *bundleChecker, s archive.SignatureLayer) (sigstore.Result, error) {
	b, err := sigstore.LegacyBundle(s.Payload, s.Signature, s.Annotations)
	if err != nil {
		return sigstore.Result{}, err
	}
	return bc.check(b, digest.FromBytes(s.Payload))
}

// keyless reports whether c checks certificates against an identity
// policy.
func (c *bundleChecker) keyless() bool {
	return c != nil && (c.opts.Identity != "" || c.opts.IdentityRegexp != "")
}

// keyless reports whether s names an identity policy.
func (s *Sigstore) keyless() bool {
	return s != nil && (s.Identity != "" || s.IdentityRegexp != "" || s.Issuer != "" || s.IssuerRegexp != "")
}

// check refuses a policy that is incomplete: an identity with no issuer,
// either with no trusted root.
func (s *Sigstore) check() error {
	if s == nil {
		return nil
	}
	switch {
	case s.Identity != "" && s.IdentityRegexp != "":
		return errors.New("--certificate-identity and --certificate-identity-regexp are exclusive")
	case s.Issuer != "" && s.IssuerRegexp != "":
		return errors.New("--certificate-oidc-issuer and --certificate-oidc-issuer-regexp are exclusive")
	case !s.keyless() && s.TrustedRoot == "":
		return nil
	case s.Identity == "" && s.IdentityRegexp == "":
		return errors.New("keyless verification needs --certificate-identity (or -regexp)")
	case s.Issuer == "" && s.IssuerRegexp == "":
		return errors.New("keyless verification needs --certificate-oidc-issuer (or -regexp): an identity means nothing without its issuer")
	case s.TrustedRoot == "":
		return errors.New("keyless verification needs --trusted-root (a trusted_root.json; nothing is fetched), or one kept in the dataset by `imgsave trust-root add`")
	}
	return nil
}

// sigstoreBundle is the media type prefix of a Sigstore bundle, as a
// referrer's artifact type and its layer's media type give it.
const sigstoreBundle = "application/vnd.dev.sigstore.bundle"

// cosignSignPredicate is the predicate type of the in-toto statement
// cosign v3 signs an image with; a bundle of any other predicate type is
// an attestation.
const cosignSignPredicate = "https://sigstore.dev/cosign/sign/v1"

// bundleChecker verifies Sigstore bundles against one policy with the
// verifier binary, each bundle written to a temporary folder first.
type bundleChecker struct {
	ctx      context.Context
	verifier string
	tmp      string
	opts     sigstore.Options // the policy; Bundle and Digest per bundle
	err      error            // why no bundle can be checked
	n        int
}

// newBundleChecker is a checker for the key (PEM, or nil) and s (or nil);
// nil when there is neither. A verifier that cannot be found is no error
// here: each bundle's check says it.
func newBundleChecker(ctx context.Context, key []byte, s *Sigstore) (*bundleChecker, error) {
	if key == nil && s == nil {
		return nil, nil
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	if key == nil && !s.keyless() {
		return nil, errors.New("a trusted root without a key needs --certificate-identity (or -regexp) and --certificate-oidc-issuer (or -regexp)")
	}
	c := &bundleChecker{ctx: ctx}
	if s != nil {
		c.opts = sigstore.Options{TrustedRoot: s.TrustedRoot, Identity: s.Identity, IdentityRegexp: s.IdentityRegexp, Issuer: s.Issuer, IssuerRegexp: s.IssuerRegexp}
		c.verifier = s.Verifier
	}
	if c.verifier == "" {
		self, _ := os.Executable()
		if c.verifier, c.err = sigstore.Find(self); c.err != nil {
			return c, nil
		}
	}
	var err error
	if c.tmp, err = os.MkdirTemp("", "imgsave-sigstore-"); err != nil {
		return nil, err
	}
	if key != nil {
		c.opts.Key = filepath.Join(c.tmp, "key.pub")
		if err := os.WriteFile(c.opts.Key, key, 0o600); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// close removes the checker's temporary folder.
func (c *bundleChecker) close() {
	if c != nil && c.tmp != "" {
		os.RemoveAll(c.tmp)
	}
}

// check verifies bundle (its JSON) against the digest it must cover.
// A bundle that does not verify is a Result with Verified false and its
// Error; the error is for a verifier that cannot be run or read.
func (c *bundleChecker) check(bundle []byte, dg digest.Digest) (sigstore.Result, error) {
	if c.err != nil {
		return sigstore.Result{}, c.err
	}
	c.n++
	o := c.opts
	o.Bundle, o.Digest = filepath.Join(c.tmp, fmt.Sprintf("bundle-%d.json", c.n)), dg
	if err := os.WriteFile(o.Bundle, bundle, 0o600); err != nil {
		return sigstore.Result{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(c.ctx, c.verifier, o.Args()...)
	cmd.Stdout, cmd.Stderr = &stdout, &limitedBuffer{max: 4 << 10, b: &stderr}
	runErr := cmd.Run()
	res, err := sigstore.ParseResult(&stdout)
	if err != nil {
		return res, fmt.Errorf("%s: %w (%v: %s)", c.verifier, err, runErr, strings.TrimSpace(stderr.String()))
	}
	if runErr != nil && res.Verified {
		return res, fmt.Errorf("%s: %v", c.verifier, runErr)
	}
	// The temporary file means nothing to the user; the caller names the
	// referrer.
	res.Error = strings.ReplaceAll(res.Error, "bundle "+o.Bundle+": ", "")
	return res, nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	max int
	b   *bytes.Buffer
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if n := l.max - l.b.Len(); n > 0 {
		l.b.Write(p[:min(n, len(p))])
	}
	return len(p), nil
}

// bundleOf is the Sigstore bundle a referrer holds (its one layer of a
// bundle media type), or nil.
func bundleOf(r *archive.Referrer) []byte {
	if !strings.HasPrefix(r.ArtifactType, sigstoreBundle) {
		return nil
	}
	for _, l := range r.Layers {
		if strings.HasPrefix(l.MediaType, sigstoreBundle) {
			return l.Data
		}
	}
	return nil
}

// Fulcio's certificate extensions for the OIDC issuer: 1.1 holds the
// raw string (deprecated), 1.8 a DER UTF8String
// (sigstore/fulcio docs/oid-info.md).
var (
	oidIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
)

// bundleSigner is the identity (the SAN: a URI or an e-mail address) and
// OIDC issuer that the leaf certificate of the Sigstore bundle b names,
// read with crypto/x509 alone and checked against nothing: ls shows who
// claims to have signed, verify says whether it holds. "" for a
// key-based bundle or one that cannot be read.
func bundleSigner(b []byte) (identity, issuer, logged string) {
	var doc struct {
		VerificationMaterial struct {
			TlogEntries []struct {
				IntegratedTime json.Number `json:"integratedTime"`
			} `json:"tlogEntries"`
			Certificate *struct {
				RawBytes []byte `json:"rawBytes"`
			} `json:"certificate"`
			Chain *struct {
				Certificates []struct {
					RawBytes []byte `json:"rawBytes"`
				} `json:"certificates"`
			} `json:"x509CertificateChain"`
		} `json:"verificationMaterial"`
	}
	if json.Unmarshal(b, &doc) != nil {
		return "", "", ""
	}
	for _, e := range doc.VerificationMaterial.TlogEntries {
		if n, err := e.IntegratedTime.Int64(); err == nil && logged == "" {
			logged = unixTime(n)
		}
	}
	var der []byte
	switch vm := doc.VerificationMaterial; {
	case vm.Certificate != nil:
		der = vm.Certificate.RawBytes
	case vm.Chain != nil && len(vm.Chain.Certificates) > 0:
		der = vm.Chain.Certificates[0].RawBytes
	}
	identity, issuer = certSigner(der)
	return identity, issuer, logged
}

// unixTime is RFC 3339 of a transparency log's integrated time, "" for
// none (0) or one past 9999.
func unixTime(n int64) string {
	if n <= 0 || n > 253402300799 {
		return ""
	}
	return time.Unix(n, 0).UTC().Format(time.RFC3339)
}

// legacySigner is the identity, OIDC issuer and log time of a keyless
// cosign 2 signature layer, read from its annotations and checked
// against nothing, as [bundleSigner] reads a bundle's.
func legacySigner(ann map[string]string) (identity, issuer, logged string) {
	if b, _ := pem.Decode([]byte(ann[sigstore.AnnotationCertificate])); b != nil {
		identity, issuer = certSigner(b.Bytes)
	}
	var rb struct {
		Payload struct {
			IntegratedTime int64 `json:"integratedTime"`
		}
	}
	if json.Unmarshal([]byte(ann[sigstore.AnnotationRekorBundle]), &rb) == nil {
		logged = unixTime(rb.Payload.IntegratedTime)
	}
	return identity, issuer, logged
}

// certSigner is the identity and OIDC issuer a Fulcio certificate (DER)
// names, unchecked; "" when it cannot be read.
func certSigner(der []byte) (identity, issuer string) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", ""
	}
	switch {
	case len(cert.URIs) > 0:
		identity = cert.URIs[0].String()
	case len(cert.EmailAddresses) > 0:
		identity = cert.EmailAddresses[0]
	}
	for _, ext := range cert.Extensions {
		switch {
		case ext.Id.Equal(oidIssuerV2):
			var s string
			if rest, err := asn1.Unmarshal(ext.Value, &s); err == nil && len(rest) == 0 {
				issuer = s
			}
		case ext.Id.Equal(oidIssuerV1) && issuer == "":
			issuer = string(ext.Value)
		}
	}
	return identity, issuer
}
