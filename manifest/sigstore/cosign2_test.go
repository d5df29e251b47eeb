package sigstore

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
)

const testCert = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"

func TestLegacyBundle(t *testing.T) {
	rekor := `{"SignedEntryTimestamp":"c2V0","Payload":{"body":"eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiaGFzaGVkcmVrb3JkIn0=","integratedTime":1683465314,"logIndex":19941761,"logID":"c0d2"}}`
	payload := []byte(`{"critical":{}}`)
	b, err := LegacyBundle(payload, "c2ln", map[string]string{AnnotationCertificate: testCert, AnnotationRekorBundle: rekor, AnnotationTimestamp: `{"SignedRFC3161Timestamp":"dHM="}`})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		MediaType            string
		VerificationMaterial struct {
			X509CertificateChain struct{ Certificates []struct{ RawBytes []byte } }
			TlogEntries          []struct {
				LogIndex, IntegratedTime string
				LogID                    struct{ KeyID []byte } `json:"logId"`
				KindVersion              struct{ Kind, Version string }
				InclusionPromise         struct{ SignedEntryTimestamp []byte }
				CanonicalizedBody        []byte
			}
			TimestampVerificationData struct {
				RFC3161Timestamps []struct{ SignedTimestamp []byte }
			}
		}
		MessageSignature struct {
			MessageDigest struct {
				Algorithm string
				Digest    []byte
			}
			Signature []byte
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(payload)
	vm, e := doc.VerificationMaterial, doc.VerificationMaterial.TlogEntries
	if doc.MediaType != MediaTypeBundle01 || len(vm.X509CertificateChain.Certificates) != 1 || string(vm.X509CertificateChain.Certificates[0].RawBytes) != "0\x00" ||
		len(e) != 1 || e[0].LogIndex != "19941761" || e[0].IntegratedTime != "1683465314" || string(e[0].LogID.KeyID) != "\xc0\xd2" ||
		e[0].KindVersion.Kind != "hashedrekord" || e[0].KindVersion.Version != "0.0.1" || string(e[0].InclusionPromise.SignedEntryTimestamp) != "set" ||
		!strings.HasPrefix(string(e[0].CanonicalizedBody), `{"apiVersion"`) ||
		len(vm.TimestampVerificationData.RFC3161Timestamps) != 1 || string(vm.TimestampVerificationData.RFC3161Timestamps[0].SignedTimestamp) != "ts" ||
		doc.MessageSignature.MessageDigest.Algorithm != "SHA2_256" || string(doc.MessageSignature.MessageDigest.Digest) != string(sum[:]) || string(doc.MessageSignature.Signature) != "sig" {
		t.Errorf("bundle = %s", b)
	}

	if b, err := LegacyBundle(payload, "c2ln", nil); b != nil || err != nil {
		t.Errorf("a key-based layer: %s, %v; want nil, nil", b, err)
	}
	for name, tc := range map[string]struct {
		sig  string
		ann  map[string]string
		want string
	}{
		"not PEM":          {"c2ln", map[string]string{AnnotationCertificate: "junk"}, AnnotationCertificate},
		"signature":        {"!!", map[string]string{AnnotationCertificate: testCert}, "signature"},
		"rekor not JSON":   {"c2ln", map[string]string{AnnotationCertificate: testCert, AnnotationRekorBundle: "{"}, AnnotationRekorBundle},
		"rekor two values": {"c2ln", map[string]string{AnnotationCertificate: testCert, AnnotationRekorBundle: rekor + "{}"}, AnnotationRekorBundle},
		"rekor no SET":     {"c2ln", map[string]string{AnnotationCertificate: testCert, AnnotationRekorBundle: strings.Replace(rekor, "c2V0", "", 1)}, "SignedEntryTimestamp"},
		"rekor bad logID":  {"c2ln", map[string]string{AnnotationCertificate: testCert, AnnotationRekorBundle: strings.Replace(rekor, "c0d2", "zz", 1)}, "logID"},
		"timestamp":        {"c2ln", map[string]string{AnnotationCertificate: testCert, AnnotationTimestamp: "{}"}, AnnotationTimestamp},
	} {
		if _, err := LegacyBundle(payload, tc.sig, tc.ann); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", name, err, tc.want)
		}
	}
}

// FuzzLegacyBundle: hostile annotations never panic, and what is
// returned is JSON.
func FuzzLegacyBundle(f *testing.F) {
	f.Add("c2ln", testCert, `{"SignedEntryTimestamp":"c2V0","Payload":{"body":"eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiaGFzaGVkcmVrb3JkIn0=","integratedTime":1,"logIndex":2,"logID":"c0d2"}}`, `{"SignedRFC3161Timestamp":"dHM="}`)
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, sig, cert, rekor, ts string) {
		b, err := LegacyBundle([]byte("payload"), sig, map[string]string{AnnotationCertificate: cert, AnnotationRekorBundle: rekor, AnnotationTimestamp: ts})
		if err == nil && b != nil && !json.Valid(b) {
			t.Errorf("not JSON: %s", b)
		}
	})
}
