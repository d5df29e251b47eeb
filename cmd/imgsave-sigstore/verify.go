package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/imgsave/imgsave/manifest/sigstore"
)

// Size limits for the inputs. Public-good bundles are a few kilobytes and
// its trusted_root.json about 10 KB; these leave room for long histories
// and many timestamps while keeping a hostile file from filling memory.
const (
	maxBundleSize      = 4 << 20
	maxTrustedRootSize = 4 << 20
	maxKeySize         = 64 << 10
)

// init makes every HTTP request of this process fail: the verifier is
// offline by design (#30). It constructs no TUF client and no Rekor client,
// and this guard catches any library that would reach for the network
// anyway through the default transport.
func init() {
	http.DefaultTransport = offline{}
	http.DefaultClient = &http.Client{Transport: offline{}}
}

type offline struct{}

func (offline) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("%s is offline: refused a request to %s", sigstore.Name, r.URL.Redacted())
}

// readFile reads name whole, refusing more than limit bytes.
func readFile(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return data, nil
}

// verifyFile verifies o.Bundle against the digest dgst, returning what was
// verified. The Result carries the bundle and digest even on error.
func verifyFile(o sigstore.Options, dgst string) (sigstore.Result, error) {
	res := sigstore.Result{Bundle: o.Bundle, Digest: digest.Digest(dgst)}
	d, err := digest.Parse(dgst)
	if err != nil {
		return res, fmt.Errorf("digest %q: %w (want sha256:<64 hex digits>)", dgst, err)
	}
	algo, ok := map[digest.Algorithm]string{digest.SHA256: "sha256", digest.SHA384: "sha384", digest.SHA512: "sha512"}[d.Algorithm()]
	if !ok {
		return res, fmt.Errorf("digest %q: algorithm %s not supported", dgst, d.Algorithm())
	}
	sum, err := hex.DecodeString(d.Encoded())
	if err != nil {
		return res, fmt.Errorf("digest %q: %w", dgst, err)
	}

	var tr *root.TrustedRoot
	if o.TrustedRoot != "" {
		rootJSON, err := readFile(o.TrustedRoot, maxTrustedRootSize)
		if err != nil {
			return res, fmt.Errorf("trusted root: %w", err)
		}
		if tr, err = root.NewTrustedRootFromJSON(rootJSON); err != nil {
			return res, fmt.Errorf("trusted root %s: %s", o.TrustedRoot, oneLine(err.Error()))
		}
	}
	bundleJSON, err := readFile(o.Bundle, maxBundleSize)
	if err != nil {
		return res, fmt.Errorf("bundle: %w", err)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return res, fmt.Errorf("bundle %s: %s", o.Bundle, oneLine(err.Error()))
	}
	res.MediaType = b.GetMediaType()

	var material root.TrustedMaterialCollection
	if tr != nil {
		material = append(material, tr)
	}
	var identity verify.PolicyOption
	if o.Key != "" {
		km, err := keyMaterial(o.Key)
		if err != nil {
			return res, err
		}
		material = append(material, km)
		identity = verify.WithKey()
	} else {
		id, err := verify.NewShortCertificateIdentity(o.Issuer, o.IssuerRegexp, o.Identity, o.IdentityRegexp)
		if err != nil {
			return res, fmt.Errorf("identity policy: %s", oneLine(err.Error()))
		}
		identity = verify.WithCertificateIdentity(id)
	}

	v, err := verify.NewVerifier(material, verifierOptions(&b, tr, o.Key != "")...)
	if err != nil {
		return res, fmt.Errorf("bundle %s: %s", o.Bundle, oneLine(err.Error()))
	}
	vr, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest(algo, sum), identity))
	if err != nil {
		return res, fmt.Errorf("bundle %s: %s", o.Bundle, oneLine(err.Error()))
	}
	fill(&res, vr, o.Key != "")
	res.Verified = true
	return res, nil
}

// verifierOptions is the policy on logs and times:
//   - at least one transparency log entry, checked by its inclusion proof
//     (bundle v0.2 and later) or its SET (v0.1);
//   - at least one verified time (the log's integrated time or an RFC 3161
//     timestamp), and the certificate valid at each: sigstore-go checks the
//     chain at every verified time;
//   - every RFC 3161 timestamp the bundle carries verified against the
//     root's TSAs: one from an authority not in the root is refused rather
//     than skipped;
//   - for keyless bundles, a certificate transparency SCT when the trusted
//     root names a CT log (public-good does; cosign requires it too).
//
// A key with no trusted root (tr nil) checks the signature alone, at the
// current time, the key being valid at any time: cosign v3's `sign --key
// --tlog-upload=false` writes no log entry and no timestamp (#30).
func verifierOptions(b *bundle.Bundle, tr *root.TrustedRoot, key bool) []verify.VerifierOption {
	if tr == nil {
		return []verify.VerifierOption{verify.WithCurrentTime()}
	}
	opts := []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
	if ts, err := b.Timestamps(); err == nil && len(ts) > 0 {
		opts = append(opts, verify.WithSignedTimestamps(len(ts)))
	}
	if !key && len(tr.CTLogs()) > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	return opts
}

// keyMaterial reads a PEM public key as cosign writes cosign.pub, valid at
// any time: a key has no validity period of its own, and the transparency
// log and timestamps still bound when it signed.
func keyMaterial(name string) (root.TrustedMaterial, error) {
	pemBytes, err := readFile(name, maxKeySize)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("key %s: %s", name, oneLine(err.Error()))
	}
	sv, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return nil, fmt.Errorf("key %s: %s", name, oneLine(err.Error()))
	}
	return root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return anyTime{sv}, nil
	}), nil
}

type anyTime struct{ signature.Verifier }

func (anyTime) ValidAtTime(time.Time) bool { return true }

// fill copies what sigstore-go verified into res.
func fill(res *sigstore.Result, vr *verify.VerificationResult, key bool) {
	res.Key = key
	if vr.Signature != nil && vr.Signature.Certificate != nil {
		c := vr.Signature.Certificate
		res.Identity = c.SubjectAlternativeName
		res.Issuer = c.Extensions.Issuer
		res.CertificateIssuer = c.CertificateIssuer
	}
	for _, t := range vr.VerifiedTimestamps {
		res.Timestamps = append(res.Timestamps, sigstore.Timestamp{Type: t.Type, URI: t.URI, Time: t.Timestamp.UTC()})
		if t.Type == "Tlog" && res.IntegratedTime == nil {
			it := t.Timestamp.UTC()
			res.IntegratedTime = &it
		}
	}
	if st := vr.Statement; st != nil {
		res.PredicateType = st.GetPredicateType()
		for _, s := range st.GetSubject() {
			sub := sigstore.Subject{Name: s.GetName(), Digests: []digest.Digest{}}
			for algo, hexSum := range s.GetDigest() {
				sub.Digests = append(sub.Digests, digest.NewDigestFromEncoded(digest.Algorithm(strings.ToLower(algo)), hexSum))
			}
			res.Subjects = append(res.Subjects, sub)
		}
	}
}
