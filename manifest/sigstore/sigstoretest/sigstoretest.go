// Package sigstoretest makes throw-away Sigstore evidence for tests, with
// sigstore-go's pkg/testing/ca VirtualSigstore: a Fulcio CA, Rekor log and
// TSA, their trusted_root.json, and bundle files (#30). Used by the
// verifier's tests and by imgsave's, which run the verifier binary.
package sigstoretest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"
)

// New is a throw-away Sigstore: Fulcio CA, Rekor log and TSA.
func New(t *testing.T) *ca.VirtualSigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// TrustedRoot writes a trusted_root.json with fulcio's CA, tsa's TSA and
// rekor's log. It names no CT log: VirtualSigstore's certificates carry no
// SCT, so the verifier requires none here.
func TrustedRoot(t *testing.T, fulcio, tsa, rekor *ca.VirtualSigstore) string {
	t.Helper()
	return TrustedRootCT(t, fulcio, tsa, rekor, nil)
}

// TrustedRootCT is TrustedRoot naming the CT logs ct.
func TrustedRootCT(t *testing.T, fulcio, tsa, rekor *ca.VirtualSigstore, ct map[string]*root.TransparencyLog) string {
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
	return WriteTemp(t, "trusted_root.json", data)
}

// WriteTemp writes data to a file name of a new temporary folder of t.
func WriteTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Statement is an in-toto statement whose one subject is the manifest.
func Statement(manifest []byte) []byte {
	sum := sha256.Sum256(manifest)
	return fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"example/img","digest":{"sha256":%q}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`, hex.EncodeToString(sum[:]))
}

// Bundle turns a VirtualSigstore entity into a bundle file of the given
// version ("0.1" keeps only the SET; "0.3" needs an inclusion proof).
func Bundle(t *testing.T, vs *ca.VirtualSigstore, e *ca.TestEntity, version string) []byte {
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

// Cosign2 signs payload (a cosign simple-signing payload) keyless with vs
// as cosign 2 does, and returns what cosign 2 puts on the layer of the
// signature image: the base64 signature and the other annotations (the
// Fulcio certificate in PEM, and the Rekor entry with its SET).
func Cosign2(t *testing.T, vs *ca.VirtualSigstore, identity, issuer string, payload []byte) (signature string, annotations map[string]string) {
	t.Helper()
	e, err := vs.Sign(identity, issuer, payload)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := e.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := e.SignatureContent()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := e.TlogEntries()
	if err != nil || len(entries) == 0 {
		t.Fatalf("no tlog entry (%v)", err)
	}
	tle := tlogEntry(t, vs, entries[0])
	rekor, err := json.Marshal(map[string]any{
		"SignedEntryTimestamp": tle.InclusionPromise.SignedEntryTimestamp,
		"Payload": map[string]any{
			"body":           base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
			"integratedTime": tle.IntegratedTime,
			"logIndex":       tle.LogIndex,
			"logID":          hex.EncodeToString(tle.LogId.KeyId),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vc.Certificate().Raw})
	return base64.StdEncoding.EncodeToString(sc.MessageSignatureContent().Signature()), map[string]string{
		"dev.sigstore.cosign/certificate": string(cert),
		"dev.sigstore.cosign/bundle":      string(rekor),
	}
}
