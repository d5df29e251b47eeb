package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/imgsave/imgsave/manifest/sigstore"
)

const (
	testIdentity = "release@example.com"
	testIssuer   = "https://issuer.example"
)

// virtual is a throw-away Sigstore: Fulcio CA, Rekor log and TSA.
func virtual(t *testing.T) *ca.VirtualSigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// trustedRoot writes a trusted_root.json with fulcio's CA, tsa's TSA and
// rekor's log. It names no CT log: VirtualSigstore's certificates carry no
// SCT, so the verifier requires none here.
func trustedRoot(t *testing.T, fulcio, tsa, rekor *ca.VirtualSigstore) string {
	t.Helper()
	return trustedRootCT(t, fulcio, tsa, rekor, nil)
}

// trustedRootCT is trustedRoot naming the CT logs ct.
func trustedRootCT(t *testing.T, fulcio, tsa, rekor *ca.VirtualSigstore, ct map[string]*root.TransparencyLog) string {
	t.Helper()
	// VirtualSigstore's logs carry their ID as hex text, which it
	// compares in memory; a trusted_root.json carries the raw key ID.
	logs := rekor.RekorLogs()
	for _, l := range logs {
		id, err := hex.DecodeString(string(l.ID))
		if err != nil {
			t.Fatal(err)
		}
		l.ID = id
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		fulcio.FulcioCertificateAuthorities(), ct, tsa.TimestampingAuthorities(), logs)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "trusted_root.json", data)
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// statement is an in-toto statement whose one subject is the manifest.
func statement(manifest []byte) []byte {
	sum := sha256.Sum256(manifest)
	return fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"example/img","digest":{"sha256":%q}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`, hex.EncodeToString(sum[:]))
}

// bundleJSON turns a VirtualSigstore entity into a bundle file of the given
// version ("0.1" keeps only the SET; "0.3" needs an inclusion proof).
func bundleJSON(t *testing.T, vs *ca.VirtualSigstore, e *ca.TestEntity, version string) []byte {
	t.Helper()
	mt, err := bundle.MediaTypeString(version)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := e.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	cert := vc.Certificate().Raw
	pb := &protobundle.Bundle{MediaType: mt, VerificationMaterial: &protobundle.VerificationMaterial{}}
	if version == "0.1" {
		pb.VerificationMaterial.Content = &protobundle.VerificationMaterial_X509CertificateChain{
			X509CertificateChain: &protocommon.X509CertificateChain{Certificates: []*protocommon.X509Certificate{{RawBytes: cert}}}}
	} else {
		pb.VerificationMaterial.Content = &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert}}
	}
	entries, err := e.TlogEntries()
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range entries {
		pb.VerificationMaterial.TlogEntries = append(pb.VerificationMaterial.TlogEntries, tlogEntry(t, vs, entry))
	}
	tss, err := e.Timestamps()
	if err != nil {
		t.Fatal(err)
	}
	pb.VerificationMaterial.TimestampVerificationData = &protobundle.TimestampVerificationData{}
	for _, ts := range tss {
		pb.VerificationMaterial.TimestampVerificationData.Rfc3161Timestamps = append(
			pb.VerificationMaterial.TimestampVerificationData.Rfc3161Timestamps, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
	}
	sc, err := e.SignatureContent()
	if err != nil {
		t.Fatal(err)
	}
	if env := sc.EnvelopeContent(); env != nil {
		raw := env.RawEnvelope()
		payload, err := base64.StdEncoding.DecodeString(raw.Payload)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := base64.StdEncoding.DecodeString(raw.Signatures[0].Sig)
		if err != nil {
			t.Fatal(err)
		}
		pb.Content = &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: payload, PayloadType: raw.PayloadType, Signatures: []*protodsse.Signature{{Sig: sig}}}}
	} else {
		ms := sc.MessageSignatureContent()
		pb.Content = &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: ms.Digest()},
			Signature:     ms.Signature()}}
	}
	data, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// tlogEntry is entry as a bundle carries it, with a fresh SET from vs's log
// (the entity keeps its SET private) and the kind and version of its body.
func tlogEntry(t *testing.T, vs *ca.VirtualSigstore, entry *tlog.Entry) *protorekor.TransparencyLogEntry {
	t.Helper()
	tle := entry.TransparencyLogEntry()
	var body struct{ Kind, APIVersion string }
	if err := json.Unmarshal(tle.CanonicalizedBody, &body); err != nil {
		t.Fatal(err)
	}
	tle.KindVersion = &protorekor.KindVersion{Kind: body.Kind, Version: body.APIVersion}
	set, err := vs.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
		IntegratedTime: tle.IntegratedTime,
		LogIndex:       tle.LogIndex,
		LogID:          hex.EncodeToString(tle.LogId.KeyId),
	})
	if err != nil {
		t.Fatal(err)
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	return tle
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
