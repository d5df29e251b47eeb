package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/imgsave/imgsave/manifest/sigstore"
	"github.com/imgsave/imgsave/manifest/sigstore/sigstoretest"
)

const (
	testIdentity = "release@example.com"
	testIssuer   = "https://issuer.example"
)

// The throw-away Sigstore of package sigstoretest, by this file's names.
func virtual(t *testing.T) *ca.VirtualSigstore { return sigstoretest.New(t) }
func trustedRoot(t *testing.T, fulcio, tsa, rekor *ca.VirtualSigstore) string {
	return sigstoretest.TrustedRoot(t, fulcio, tsa, rekor)
}
func trustedRootCT(t *testing.T, fulcio, tsa, rekor *ca.VirtualSigstore, ct map[string]*root.TransparencyLog) string {
	return sigstoretest.TrustedRootCT(t, fulcio, tsa, rekor, ct)
}
func writeTemp(t *testing.T, name string, data []byte) string {
	return sigstoretest.WriteTemp(t, name, data)
}
func statement(manifest []byte) []byte { return sigstoretest.Statement(manifest) }
func bundleJSON(t *testing.T, vs *ca.VirtualSigstore, e *ca.TestEntity, version string) []byte {
	return sigstoretest.Bundle(t, vs, e, version)
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// verifyArgs runs the command in-process and returns its status and JSON.
func verifyArgs(t *testing.T, args ...string) (int, sigstore.Result, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"verify"}, args...), &stdout, &stderr)
	res, err := sigstore.ParseResult(&stdout)
	if err != nil {
		t.Fatalf("output: %v\nstderr: %s", err, stderr.String())
	}
	if strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 {
		t.Errorf("stderr has more than one line:\n%s", stderr.String())
	}
	return code, res, stderr.String()
}

// TestVerifyVirtual verifies bundles of a throw-away Sigstore and refuses
// each broken link, one per case.
func TestVerifyVirtual(t *testing.T) {
	vs, other := virtual(t), virtual(t)
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)
	dgst := digestOf(manifest)

	// A cosign v3-like image signature: DSSE in-toto statement, bundle v0.3
	// with an inclusion proof and a TSA timestamp.
	att, err := vs.AttestAtTime(testIdentity, testIssuer, statement(manifest), time.Now().Add(5*time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	dsseBundle := writeTemp(t, "dsse.sigstore.json", bundleJSON(t, vs, att, "0.3"))
	// A message signature over the manifest, bundle v0.1 (SET only).
	sig, err := vs.Sign(testIdentity, testIssuer, manifest)
	if err != nil {
		t.Fatal(err)
	}
	msgBundle := writeTemp(t, "msg.sigstore.json", bundleJSON(t, vs, sig, "0.1"))
	// The certificate is valid for 10 minutes from now: a log entry made
	// 30 minutes on is outside it, whatever the TSA says.
	late, err := vs.AttestAtTime(testIdentity, testIssuer, statement(manifest), time.Now().Add(30*time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	lateBundle := writeTemp(t, "late.sigstore.json", bundleJSON(t, vs, late, "0.3"))
	tampered := writeTemp(t, "tampered.sigstore.json", tamperProof(t, bundleJSON(t, vs, att, "0.3")))

	good := trustedRoot(t, vs, vs, vs)
	foreignCA := trustedRoot(t, other, vs, vs)
	foreignTSA := trustedRoot(t, vs, other, vs)
	// A root naming a CT log: its certificates must carry an SCT, and
	// VirtualSigstore's carry none.
	withCT := trustedRootCT(t, vs, vs, vs, vs.CTLogs())
	id := []string{"--certificate-identity", testIdentity, "--certificate-oidc-issuer", testIssuer}

	tests := []struct {
		name   string
		args   []string
		refuse string // "" for verified; else a part of the error
	}{
		{"dsse", append([]string{"--trusted-root", good}, append(id, dsseBundle, dgst)...), ""},
		{"message", append([]string{"--trusted-root", good}, append(id, msgBundle, dgst)...), ""},
		{"regexps", []string{"--trusted-root", good, "--certificate-identity-regexp", `@example\.com$`, "--certificate-oidc-issuer-regexp", `^https://issuer\.`, dsseBundle, dgst}, ""},
		{"wrong subject", []string{"--trusted-root", good, "--certificate-identity", "mallory@example.com", "--certificate-oidc-issuer", testIssuer, dsseBundle, dgst}, "mallory@example.com"},
		{"wrong issuer", []string{"--trusted-root", good, "--certificate-identity", testIdentity, "--certificate-oidc-issuer", "https://other.example", dsseBundle, dgst}, "https://other.example"},
		{"expired certificate outside the timestamp", append([]string{"--trusted-root", good}, append(id, lateBundle, dgst)...), "integrated time outside certificate validity"},
		{"tampered inclusion proof", append([]string{"--trusted-root", good}, append(id, tampered, dgst)...), "failed to verify log inclusion"},
		{"root does not chain", append([]string{"--trusted-root", foreignCA}, append(id, dsseBundle, dgst)...), "leaf certificate verification failed"},
		{"untrusted TSA", append([]string{"--trusted-root", foreignTSA}, append(id, dsseBundle, dgst)...), "verified signed timestamps"},
		{"no SCT though the root names a CT log", append([]string{"--trusted-root", withCT}, append(id, dsseBundle, dgst)...), "SCT"},
		{"wrong artifact digest dsse", append([]string{"--trusted-root", good}, append(id, dsseBundle, digestOf([]byte("other")))...), "digest"},
		{"wrong artifact digest message", append([]string{"--trusted-root", good}, append(id, msgBundle, digestOf([]byte("other")))...), "digest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, res, stderr := verifyArgs(t, tc.args...)
			if tc.refuse == "" {
				if code != 0 || !res.Verified {
					t.Fatalf("verify = %d, %+v, want verified\n%s", code, res, stderr)
				}
				if res.Identity != testIdentity || res.Issuer != testIssuer {
					t.Errorf("identity, issuer = %q, %q, want %q, %q", res.Identity, res.Issuer, testIdentity, testIssuer)
				}
				if len(res.Timestamps) == 0 || res.IntegratedTime == nil {
					t.Errorf("timestamps = %+v, integrated %v, want some", res.Timestamps, res.IntegratedTime)
				}
				return
			}
			if code != exitRefused || res.Verified {
				t.Fatalf("verify = %d, verified %v, want %d, refused", code, res.Verified, exitRefused)
			}
			if !strings.Contains(res.Error, tc.refuse) || !strings.Contains(stderr, res.Error) {
				t.Errorf("error = %q (stderr %q), want it to mention %q", res.Error, stderr, tc.refuse)
			}
		})
	}

	t.Run("dsse result", func(t *testing.T) {
		_, res, _ := verifyArgs(t, append([]string{"--trusted-root", good}, append(id, dsseBundle, dgst)...)...)
		if res.PredicateType != "https://sigstore.dev/cosign/sign/v1" || len(res.Subjects) != 1 || len(res.Subjects[0].Digests) != 1 || string(res.Subjects[0].Digests[0]) != dgst {
			t.Errorf("predicate %q, subjects %+v, want cosign/sign/v1 and %s", res.PredicateType, res.Subjects, dgst)
		}
		var types []string
		for _, ts := range res.Timestamps {
			types = append(types, ts.Type)
		}
		if !strings.Contains(strings.Join(types, ","), "TimestampAuthority") {
			t.Errorf("timestamp types %v, want a TimestampAuthority one", types)
		}
	})
}

// tamperProof flips a bit of the first hash of the inclusion proof.
func tamperProof(t *testing.T, data []byte) []byte {
	t.Helper()
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(data, &pb); err != nil {
		t.Fatal(err)
	}
	p := pb.GetVerificationMaterial().GetTlogEntries()[0].GetInclusionProof()
	if p == nil {
		t.Fatal("bundle has no inclusion proof to tamper with")
	}
	if len(p.Hashes) > 0 {
		p.Hashes[0][0] ^= 1
	} else {
		p.RootHash[0] ^= 1
	}
	out, err := protojson.Marshal(&pb)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
