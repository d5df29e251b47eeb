//go:build linux

// The keyless tests build and run the imgsave-sigstore verifier, which
// only Linux CI runs; other platforms are vetted without sigstore-go.

package imgsave

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader/registry/registrytest"
	"github.com/imgsave/imgsave/manifest/cosign"
	"github.com/imgsave/imgsave/manifest/sigstore/sigstoretest"
)

// buildVerifier builds imgsave-sigstore into a folder of t, as `go install
// ./cmd/...` puts it beside imgsave.
func buildVerifier(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "imgsave-sigstore")
	if out, err := exec.Command("go", "build", "-o", p, "./cmd/imgsave-sigstore").CombinedOutput(); err != nil {
		t.Fatalf("go build imgsave-sigstore: %v\n%s", err, out)
	}
	return p
}

// TestVerifyKeyless: a keyless Sigstore bundle of a throw-away Sigstore,
// kept as a referrer of the image's manifest or, for a single-platform
// pull, of the signed index, proves the image offline with the identity,
// issuer and trusted root, and down to its config; another identity,
// issuer or root does not, and neither does a missing policy part (#30).
// The old code kept no referrer and had no keyless check.
func TestVerifyKeyless(t *testing.T) {
	verifier := buildVerifier(t)
	vs, other := sigstoretest.New(t), sigstoretest.New(t)
	good := sigstoretest.TrustedRoot(t, vs, vs, vs)
	foreign := sigstoretest.TrustedRoot(t, other, vs, vs)
	const id, issuer = "release@example.com", "https://issuer.example"

	for _, signIndex := range []bool{false, true} {
		h := registrytest.Serve(t, nil)
		repo, err := name.NewRepository(h.Host + "/x/y")
		if err != nil {
			t.Fatal(err)
		}
		amd := registrytest.Platform(t, nil, "amd64")
		var raw []byte
		var mt types.MediaType
		if signIndex {
			idx := registrytest.Index(t, amd, registrytest.Platform(t, nil, "arm64"))
			if err := remote.WriteIndex(repo.Tag("1"), idx); err != nil {
				t.Fatal(err)
			}
			raw, _ = idx.RawManifest()
			mt = types.OCIImageIndex
		} else {
			if err := remote.Write(repo.Tag("1"), amd); err != nil {
				t.Fatal(err)
			}
			raw, _ = amd.RawManifest()
			mt, _ = amd.MediaType()
		}
		d, n, _ := ggcr.SHA256(strings.NewReader(string(raw)))
		subject := ggcr.Descriptor{MediaType: mt, Digest: d, Size: n}
		att, err := vs.AttestAtTime(id, issuer, sigstoretest.Statement(raw), time.Now(), true)
		if err != nil {
			t.Fatal(err)
		}
		bundle := putArtifact(t, repo, bundleType, bundleType, sigstoretest.Bundle(t, vs, att, "0.3"), &subject, nil)
		putReferrersTag(t, repo, d, bundle)
		dir := filepath.Join(t.TempDir(), "img")
		if _, err := Pull(t.Context(), h.Host+"/x/y:1", dir, PullOptions{Platform: "linux/amd64"}); err != nil {
			t.Fatalf("Pull = %v", err)
		}

		tests := []struct {
			name   string
			policy Sigstore
			refuse string // in a problem or the error; "" for verified
		}{
			{"the identity", Sigstore{TrustedRoot: good, Identity: id, Issuer: issuer}, ""},
			{"regexps", Sigstore{TrustedRoot: good, IdentityRegexp: `@example\.com$`, IssuerRegexp: `^https://issuer\.`}, ""},
			{"another identity", Sigstore{TrustedRoot: good, Identity: "mallory@example.com", Issuer: issuer}, "mallory@example.com"},
			{"another issuer", Sigstore{TrustedRoot: good, Identity: id, Issuer: "https://other.example"}, "https://other.example"},
			{"a root that does not chain", Sigstore{TrustedRoot: foreign, Identity: id, Issuer: issuer}, "does not verify"},
			{"no issuer", Sigstore{TrustedRoot: good, Identity: id}, "--certificate-oidc-issuer"},
			{"no trusted root", Sigstore{Identity: id, Issuer: issuer}, "--trusted-root"},
		}
		for _, tc := range tests {
			t.Run(map[bool]string{false: "image", true: "index"}[signIndex]+"/"+tc.name, func(t *testing.T) {
				tc.policy.Verifier = verifier
				res, err := VerifySigned(t.Context(), dir, VerifyOptions{}, nil, &tc.policy)
				var got string
				switch {
				case err != nil:
					got = err.Error()
				case !res.OK:
					for _, in := range res.Evidence {
						got += strings.Join(in.Problems, "; ")
					}
				}
				if tc.refuse == "" {
					if err != nil || !res.OK {
						t.Fatalf("VerifySigned = %+v, %v", res, err)
					}
					var signers []string
					for _, in := range res.Evidence {
						for _, r := range in.Referrers {
							if r.Verified {
								signers = append(signers, r.Identity+" "+r.Issuer)
							}
						}
					}
					if len(signers) != 1 || signers[0] != id+" "+issuer {
						t.Errorf("verified signers = %q, want %s %s", signers, id, issuer)
					}
					// The index's other platform, not pulled, is no problem.
					for _, in := range res.Evidence {
						if len(in.Problems) > 0 {
							t.Errorf("problems in %s: %q, want none", in.Path, in.Problems)
						}
					}
				} else if got == "" || !strings.Contains(got, tc.refuse) {
					t.Errorf("VerifySigned = %q, want a refusal naming %q", got, tc.refuse)
				}
				// Load and run ask the same.
				d, err := archive.OpenDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				err = checkSigned(t.Context(), d, d.Images[0], nil, &tc.policy)
				if (err == nil) != (tc.refuse == "") {
					t.Errorf("checkSigned = %v, want refused: %v", err, tc.refuse != "")
				}
			})
		}
	}
}

// TestTrustedRootKept: a trusted root kept in the dataset by
// AddTrustedRoot is what a keyless check without --trusted-root uses, in
// a clone of the dataset too; with none kept, the check says how to give
// one. Something else than a trusted_root.json is refused (#30).
func TestTrustedRootKept(t *testing.T) {
	verifier := buildVerifier(t)
	vs := sigstoretest.New(t)
	root := sigstoretest.TrustedRoot(t, vs, vs, vs)
	const id, issuer = "release@example.com", "https://issuer.example"
	host := keylessImage(t, vs, id, issuer)

	ds := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", ds).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	dir := filepath.Join(ds, "images", "img")
	if _, err := Pull(t.Context(), host+"/x/y:1", dir, PullOptions{}); err != nil {
		t.Fatalf("Pull = %v", err)
	}
	policy := &Sigstore{Identity: id, Issuer: issuer, Verifier: verifier}
	if _, err := VerifySigned(t.Context(), dir, VerifyOptions{}, nil, policy); err == nil || !strings.Contains(err.Error(), "trust-root add") {
		t.Errorf("VerifySigned with no root kept = %v, want an error naming trust-root add", err)
	}
	if _, err := AddTrustedRoot(filepath.Join(dir, "index.json"), dir); err == nil {
		t.Error("AddTrustedRoot(index.json) = nil, want it refused")
	}
	p, err := AddTrustedRoot(root, dir)
	if err != nil || p != filepath.Join(ds, TrustedRootPath) {
		t.Fatalf("AddTrustedRoot = %q, %v; want %s", p, err, filepath.Join(ds, TrustedRootPath))
	}
	res, err := VerifySigned(t.Context(), dir, VerifyOptions{}, nil, policy)
	if err != nil || !res.OK {
		t.Errorf("VerifySigned with the kept root = %+v, %v; want OK", res, err)
	}
}

// TestListKeylessSigner: List names the identity and OIDC issuer the
// leaf certificate of a kept keyless bundle claims, without the verifier
// (it checks nothing), and counts the bundle as a signature (#30). The
// old code gave neither.
func TestListKeylessSigner(t *testing.T) {
	vs := sigstoretest.New(t)
	const id, issuer = "release@example.com", "https://issuer.example"
	h := registrytest.Serve(t, nil)
	repo, err := name.NewRepository(h.Host + "/x/y")
	if err != nil {
		t.Fatal(err)
	}
	img := registrytest.Platform(t, nil, "amd64")
	if err := remote.Write(repo.Tag("1"), img); err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	d, n, _ := ggcr.SHA256(strings.NewReader(string(raw)))
	var bundles []ggcr.Descriptor
	for _, version := range []string{"0.1", "0.3"} {
		att, err := vs.AttestAtTime(id, issuer, sigstoretest.Statement(raw), time.Now(), true)
		if err != nil {
			t.Fatal(err)
		}
		at := "application/vnd.dev.sigstore.bundle+json;version=" + version
		if version == "0.3" {
			at = bundleType
		}
		bundles = append(bundles, putArtifact(t, repo, at, at, sigstoretest.Bundle(t, vs, att, version), &ggcr.Descriptor{MediaType: mt, Digest: d, Size: n}, nil))
	}
	putReferrersTag(t, repo, d, bundles...)
	dir := filepath.Join(t.TempDir(), "img")
	if _, err := Pull(t.Context(), h.Host+"/x/y:1", dir, PullOptions{}); err != nil {
		t.Fatalf("Pull = %v", err)
	}
	rows, err := List(t.Context(), dir, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows[0].Referrers {
		got = append(got, fmt.Sprintf("%v %s %s", r.Signature, r.SignerIdentity, r.SignerIssuer))
		if _, err := time.Parse(time.RFC3339, r.SignerLogged); err != nil {
			t.Errorf("signer logged %q: %v", r.SignerLogged, err)
		}
	}
	want := "true " + id + " " + issuer
	if len(got) != 2 || got[0] != want || got[1] != want || rows[0].Signatures != 2 {
		t.Errorf("List signers = %q, %d signatures; want twice %q, 2 signatures", got, rows[0].Signatures, want)
	}
}

// TestPullVerifySigstore: pull with a keyless policy keeps the image when
// its kept bundle verifies with it, and puts nothing in place when it
// does not (another identity, another root), as load and run refuse it
// (#30). The old pull took no keyless policy.
func TestPullVerifySigstore(t *testing.T) {
	verifier := buildVerifier(t)
	vs, other := sigstoretest.New(t), sigstoretest.New(t)
	good := sigstoretest.TrustedRoot(t, vs, vs, vs)
	foreign := sigstoretest.TrustedRoot(t, other, vs, vs)
	const id, issuer = "release@example.com", "https://issuer.example"
	host := keylessImage(t, vs, id, issuer)

	tests := []struct {
		name   string
		policy Sigstore
		refuse string
	}{
		{"the identity", Sigstore{TrustedRoot: good, Identity: id, Issuer: issuer}, ""},
		{"another identity", Sigstore{TrustedRoot: good, Identity: "mallory@example.com", Issuer: issuer}, "mallory@example.com"},
		{"a root that does not chain", Sigstore{TrustedRoot: foreign, Identity: id, Issuer: issuer}, "does not verify"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.policy.Verifier = verifier
			dir := filepath.Join(t.TempDir(), "img")
			_, err := Pull(t.Context(), host+"/x/y:1", dir, PullOptions{VerifySigstore: &tc.policy})
			_, statErr := os.Stat(dir)
			if tc.refuse == "" {
				if err != nil || statErr != nil {
					t.Fatalf("Pull = %v (dir: %v), want the image in place", err, statErr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.refuse) || !strings.Contains(err.Error(), dir) {
				t.Errorf("Pull = %v, want a refusal naming %q and %s", err, tc.refuse, dir)
			}
			if statErr == nil {
				t.Errorf("Pull refused, yet %s is in place", dir)
			}
		})
	}
}

// TestAttestationsInBundles: an attestation kept inside a Sigstore
// bundle (cosign v3 attest: a DSSE envelope in the bundle) is returned as
// cosign 2's are, by its predicate type; the bundle of the image
// signature is no attestation (#30). The old code returned none.
func TestAttestationsInBundles(t *testing.T) {
	vs := sigstoretest.New(t)
	h := registrytest.Serve(t, nil)
	repo, err := name.NewRepository(h.Host + "/x/y")
	if err != nil {
		t.Fatal(err)
	}
	img := registrytest.Platform(t, nil, "amd64")
	if err := remote.Write(repo.Tag("1"), img); err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	d, n, _ := ggcr.SHA256(strings.NewReader(string(raw)))
	subject := ggcr.Descriptor{MediaType: mt, Digest: d, Size: n}
	sign := sigstoretest.Statement(raw)
	sbom := strings.Replace(string(sign), `"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}`, `"predicateType":"https://spdx.dev/Document","predicate":{"spdxVersion":"SPDX-2.3"}`, 1)
	var refs []ggcr.Descriptor
	for _, st := range [][]byte{sign, []byte(sbom)} {
		att, err := vs.AttestAtTime("release@example.com", "https://issuer.example", st, time.Now(), true)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, putArtifact(t, repo, bundleType, bundleType, sigstoretest.Bundle(t, vs, att, "0.3"), &subject, nil))
	}
	putReferrersTag(t, repo, d, refs...)
	dir := filepath.Join(t.TempDir(), "img")
	if _, err := Pull(t.Context(), h.Host+"/x/y:1", dir, PullOptions{}); err != nil {
		t.Fatalf("Pull = %v", err)
	}
	for _, typ := range []string{"", "spdxjson"} {
		got, err := Attestations(t.Context(), dir, Selector{}, typ)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].PredicateType != "https://spdx.dev/Document" || string(got[0].Predicate) != `{"spdxVersion":"SPDX-2.3"}` {
			t.Errorf("Attestations(%q) = %+v, want the SPDX document alone", typ, got)
		}
	}
}

// keylessImage serves, on a registry of its own, an image x/y:1 with a
// keyless Sigstore bundle of vs for id and issuer at its referrers tag,
// and returns the registry's host.
func keylessImage(t *testing.T, vs *ca.VirtualSigstore, id, issuer string) string {
	t.Helper()
	h := registrytest.Serve(t, nil)
	repo, err := name.NewRepository(h.Host + "/x/y")
	if err != nil {
		t.Fatal(err)
	}
	img := registrytest.Platform(t, nil, "amd64")
	if err := remote.Write(repo.Tag("1"), img); err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	d, n, _ := ggcr.SHA256(strings.NewReader(string(raw)))
	att, err := vs.AttestAtTime(id, issuer, sigstoretest.Statement(raw), time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	putReferrersTag(t, repo, d, putArtifact(t, repo, bundleType, bundleType, sigstoretest.Bundle(t, vs, att, "0.3"), &ggcr.Descriptor{MediaType: mt, Digest: d, Size: n}, nil))
	return h.Host
}

// TestKeylessCosign2: a keyless cosign 2 signature (a .sig image whose
// layer carries the Fulcio certificate and the Rekor entry in its
// annotations, as most public keyless signatures are) is kept by pull,
// names its signer in List unchecked, and proves the image with a keyless
// policy, down to its config; another identity or root does not (#30).
// The old code kept the annotations nowhere and checked no certificate.
func TestKeylessCosign2(t *testing.T) {
	verifier := buildVerifier(t)
	vs, other := sigstoretest.New(t), sigstoretest.New(t)
	const id, issuer = "release@example.com", "https://issuer.example"
	h := registrytest.Serve(t, nil)
	img := registrytest.Platform(t, nil, "amd64")
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	payload := cosign.NewPayload("", d.String())
	sig, ann := sigstoretest.Cosign2(t, vs, id, issuer, payload)
	ann[cosign.AnnotationSignature] = sig
	for tag, im := range map[string]ggcr.Image{"1": img, "sha256-" + d.Hex + ".sig": cosignImage(t, payload, cosign.MediaTypeSimpleSigning, ann)} {
		if err := remote.Write(mustRef(t, h.Host+"/x/y:"+tag), im); err != nil {
			t.Fatal(err)
		}
	}
	// The same image under x/k, with a key-based signature.
	for tag, im := range map[string]ggcr.Image{"1": img, "sha256-" + d.Hex + ".sig": cosignImage(t, payload, cosign.MediaTypeSimpleSigning, map[string]string{cosign.AnnotationSignature: sig})} {
		if err := remote.Write(mustRef(t, h.Host+"/x/k:"+tag), im); err != nil {
			t.Fatal(err)
		}
	}
	keyDir := filepath.Join(t.TempDir(), "key")
	if _, err := Pull(t.Context(), h.Host+"/x/k:1", keyDir, PullOptions{}); err != nil {
		t.Fatalf("Pull = %v", err)
	}
	t.Run("a key-based signature under a keyless policy", func(t *testing.T) {
		policy := &Sigstore{TrustedRoot: sigstoretest.TrustedRoot(t, vs, vs, vs), Identity: id, Issuer: issuer, Verifier: verifier}
		res, err := VerifySigned(t.Context(), keyDir, VerifyOptions{}, nil, policy)
		if err != nil || res.OK || len(res.Evidence) != 1 || !strings.Contains(strings.Join(res.Evidence[0].Problems, "; "), "no certificate: it is key-based") {
			t.Errorf("VerifySigned = %+v, %v; want refused, saying the signature is key-based", res, err)
		}
	})
	dir := filepath.Join(t.TempDir(), "img")
	if _, err := Pull(t.Context(), h.Host+"/x/y:1", dir, PullOptions{}); err != nil {
		t.Fatalf("Pull = %v", err)
	}
	rows, err := List(t.Context(), dir, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := rows[0].Signers; rows[0].Signatures != 1 || len(s) != 1 || s[0].SignerIdentity != id || s[0].SignerIssuer != issuer || s[0].SignerLogged == "" || s[0].Verified {
		t.Errorf("List: %d signatures, signers %+v; want 1, %s from %s unverified", rows[0].Signatures, s, id, issuer)
	}

	tests := []struct {
		name   string
		policy Sigstore
		refuse string
	}{
		{"the identity", Sigstore{TrustedRoot: sigstoretest.TrustedRoot(t, vs, vs, vs), Identity: id, Issuer: issuer}, ""},
		{"another identity", Sigstore{TrustedRoot: sigstoretest.TrustedRoot(t, vs, vs, vs), Identity: "mallory@example.com", Issuer: issuer}, "mallory@example.com"},
		{"a root that does not chain", Sigstore{TrustedRoot: sigstoretest.TrustedRoot(t, other, vs, vs), Identity: id, Issuer: issuer}, "keyless signature 1 does not verify"},
		{"another log", Sigstore{TrustedRoot: sigstoretest.TrustedRoot(t, vs, vs, other), Identity: id, Issuer: issuer}, "log"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.policy.Verifier = verifier
			res, err := VerifySigned(t.Context(), dir, VerifyOptions{}, nil, &tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			var problems []string
			var signers []SignerInfo
			for _, in := range res.Evidence {
				problems = append(problems, in.Problems...)
				signers = append(signers, in.Signers...)
			}
			if tc.refuse == "" {
				if !res.OK || len(problems) > 0 || len(signers) != 1 || !signers[0].Verified || signers[0].Identity != id || signers[0].Time == "" {
					t.Errorf("VerifySigned = %+v, problems %q, signers %+v; want OK, verified by %s", res.OK, problems, signers, id)
				}
			} else if res.OK || !strings.Contains(strings.Join(problems, "; "), tc.refuse) {
				t.Errorf("VerifySigned OK %v, problems %q; want refused naming %q", res.OK, problems, tc.refuse)
			}
			// Load and run ask the same.
			ad, err := archive.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkSigned(t.Context(), ad, ad.Images[0], nil, &tc.policy); (err == nil) != (tc.refuse == "") {
				t.Errorf("checkSigned = %v, want refused: %v", err, tc.refuse != "")
			}
		})
	}
}
