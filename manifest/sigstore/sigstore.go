package sigstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// Name is the verifier's command name, installed beside imgsave by
// `go install github.com/imgsave/imgsave/cmd/...`.
const Name = "imgsave-sigstore"

// MaxResultSize bounds the JSON object read back by [ParseResult]; the
// verifier prints well under a kilobyte per subject.
const MaxResultSize = 1 << 20

// ErrVerifierNotFound is returned by [Find] when imgsave-sigstore is neither
// beside the running executable nor on PATH.
var ErrVerifierNotFound = errors.New(Name + " not found beside imgsave or on PATH; install it with `go install github.com/imgsave/imgsave/cmd/imgsave-sigstore@latest`")

// Find returns the path of the verifier: first the file named [Name] (with
// ".exe" on Windows) in the folder of self, the running executable as
// [os.Executable] reports it, so a release folder or GOBIN pairs the two
// binaries; then [exec.LookPath]. self may be empty to skip the first step.
// It returns [ErrVerifierNotFound] when neither has it.
func Find(self string) (string, error) {
	file := Name
	if runtime.GOOS == "windows" {
		file += ".exe"
	}
	if self != "" {
		p := filepath.Join(filepath.Dir(self), file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	p, err := exec.LookPath(Name)
	if err != nil {
		return "", fmt.Errorf("%w (%v)", ErrVerifierNotFound, err)
	}
	return p, nil
}

// Options is one verification: a bundle file, the digest it must cover, a
// trusted root, and an identity policy, either Key or a certificate identity
// (Identity or IdentityRegexp) with an OIDC issuer (Issuer or IssuerRegexp).
type Options struct {
	Bundle      string        // a Sigstore bundle, v0.1 to v0.3 JSON
	Digest      digest.Digest // the signed manifest's digest
	TrustedRoot string        // a trusted_root.json; "" with Key checks the signature alone
	Key         string        // a PEM public key file, for key-based bundles

	Identity       string // the certificate's subject alternative name, exactly
	IdentityRegexp string
	Issuer         string // the certificate's OIDC issuer, exactly
	IssuerRegexp   string
}

// Args returns the verifier's arguments for o, after the command name:
// `verify`, the flags that are set, then BUNDLE and DIGEST. Empty options
// are left out; the verifier refuses what is missing.
func (o Options) Args() []string {
	args := []string{"verify"}
	for _, f := range []struct{ name, val string }{
		{"--trusted-root", o.TrustedRoot},
		{"--key", o.Key},
		{"--certificate-identity", o.Identity},
		{"--certificate-identity-regexp", o.IdentityRegexp},
		{"--certificate-oidc-issuer", o.Issuer},
		{"--certificate-oidc-issuer-regexp", o.IssuerRegexp},
	} {
		if f.val != "" {
			args = append(args, f.name, f.val)
		}
	}
	// "--" so that a bundle path starting with "-" stays a path.
	return append(args, "--", o.Bundle, string(o.Digest))
}

// Result is the one JSON object the verifier prints on stdout, whether or
// not the bundle verified. Verified is true only with exit status 0.
type Result struct {
	Verified bool   `json:"verified"`
	Error    string `json:"error,omitempty"` // why not, one line
	Bundle   string `json:"bundle"`          // the file given
	// MediaType is the bundle's, e.g.
	// "application/vnd.dev.sigstore.bundle.v0.3+json".
	MediaType string        `json:"mediaType,omitempty"`
	Digest    digest.Digest `json:"digest"` // the digest the bundle covers

	// Identity and Issuer are the certificate's subject alternative name
	// and OIDC issuer (keyless); empty for a key-based bundle.
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	// CertificateIssuer is the signing certificate's issuing CA.
	CertificateIssuer string `json:"certificateIssuer,omitempty"`
	// Key is true for a bundle verified with --key.
	Key bool `json:"key,omitempty"`

	// IntegratedTime is the transparency log's time of entry, when the
	// log gives one (Rekor v1).
	IntegratedTime *time.Time `json:"integratedTime,omitempty"`
	// Timestamps are every verified time: "Tlog" (integrated time) and
	// "TimestampAuthority" (RFC 3161), each with its authority's URI.
	Timestamps []Timestamp `json:"timestamps,omitempty"`

	// PredicateType and Subjects are set for a DSSE in-toto statement
	// (an attestation, or a cosign v3 image signature).
	PredicateType string    `json:"predicateType,omitempty"`
	Subjects      []Subject `json:"subjects,omitempty"`
}

// Timestamp is one verified time.
type Timestamp struct {
	Type string    `json:"type"`
	URI  string    `json:"uri,omitempty"`
	Time time.Time `json:"time"`
}

// Subject is one subject of an in-toto statement, with each of its digests.
type Subject struct {
	Name    string          `json:"name,omitempty"`
	Digests []digest.Digest `json:"digests"`
}

// ParseResult reads the verifier's JSON object, at most [MaxResultSize]
// bytes, refusing data after it. Unknown fields are ignored, so a newer
// verifier may add some.
func ParseResult(r io.Reader) (Result, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxResultSize+1))
	if err != nil {
		return Result{}, err
	}
	if len(data) > MaxResultSize {
		return Result{}, fmt.Errorf("%s output larger than %d bytes", Name, MaxResultSize)
	}
	var res Result
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&res); err != nil {
		return Result{}, fmt.Errorf("%s output: %w", Name, err)
	}
	if dec.More() {
		return Result{}, fmt.Errorf("%s output: data after the JSON object", Name)
	}
	return res, nil
}
