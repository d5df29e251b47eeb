package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/imgsave/imgsave/manifest/sigstore"
	"github.com/imgsave/imgsave/manifest/sigstore/sigstoretest"
)

// Real: the annotations of a keyless cosign 2 signature layer of a public
// image (testdata/README.md), and the digest of its simple-signing payload
// (the hashedrekord entry's data hash).
const (
	realCosign2Layer    = "testdata/cosign2-keyless-layer.json"
	realCosign2Payload  = "sha256:cb314ddc9783c1812afe8235fd2b7d6323e408cc53d06a69ccba604510a5ca85"
	realCosign2Identity = "cosign-svc-account@mineral-minutia-820.iam.gserviceaccount.com"
	googleAccounts      = "https://accounts.google.com"
)

// cosign2Bundle restates a cosign 2 signature layer as the bundle imgsave
// gives the verifier, and writes it.
func cosign2Bundle(t *testing.T, payload []byte, sig string, ann map[string]string) string {
	t.Helper()
	b, err := sigstore.LegacyBundle(payload, sig, ann)
	if err != nil || b == nil {
		t.Fatalf("LegacyBundle = %s, %v", b, err)
	}
	return writeTemp(t, "cosign2.sigstore.json", b)
}

// TestVerifyCosign2Public verifies a real keyless cosign 2 signature (a
// .sig layer with Fulcio certificate and Rekor SET in its annotations)
// against the public-good trusted root, offline.
func TestVerifyCosign2Public(t *testing.T) {
	data, err := os.ReadFile(realCosign2Layer)
	if err != nil {
		t.Fatal(err)
	}
	var ann map[string]string
	if err := json.Unmarshal(data, &ann); err != nil {
		t.Fatal(err)
	}
	// The payload is not kept: its digest is what the signature covers,
	// and LegacyBundle takes the payload to compute it; a stand-in payload
	// gives another digest, which the verifier is not told about here.
	bundle, err := sigstore.LegacyBundle([]byte("unused"), ann["dev.cosignproject.cosign/signature"], ann)
	if err != nil {
		t.Fatal(err)
	}
	// Put the real payload digest in place of the stand-in's.
	var doc map[string]any
	if err := json.Unmarshal(bundle, &doc); err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(strings.TrimPrefix(realCosign2Payload, "sha256:"))
	if err != nil {
		t.Fatal(err)
	}
	doc["messageSignature"].(map[string]any)["messageDigest"].(map[string]any)["digest"] = base64.StdEncoding.EncodeToString(raw)
	fixed, _ := json.Marshal(doc)
	file := writeTemp(t, "real.sigstore.json", fixed)

	id := []string{"--certificate-identity", realCosign2Identity, "--certificate-oidc-issuer", googleAccounts}
	code, res, stderr := verifyArgs(t, append(append([]string{"--trusted-root", publicRoot}, id...), file, realCosign2Payload)...)
	if code != 0 || !res.Verified || res.Identity != realCosign2Identity || res.Issuer != googleAccounts ||
		res.IntegratedTime == nil || res.IntegratedTime.UTC().Format("2006-01-02") != "2023-05-07" {
		t.Fatalf("verify = %d, %+v, want verified by %s at 2023-05-07\n%s", code, res, realCosign2Identity, stderr)
	}
	code, res, _ = verifyArgs(t, "--trusted-root", publicRoot, "--certificate-identity", "mallory@example.com", "--certificate-oidc-issuer", googleAccounts, file, realCosign2Payload)
	if code != exitRefused || res.Verified {
		t.Fatalf("other identity: verify = %d, %+v, want refused", code, res)
	}
}

// TestVerifyCosign2Virtual signs a payload keyless as cosign 2 does with a
// throw-away Sigstore and refuses each broken link.
func TestVerifyCosign2Virtual(t *testing.T) {
	vs, other := virtual(t), virtual(t)
	payload := []byte(`{"critical":{"identity":{"docker-reference":"example/img"},"image":{"docker-manifest-digest":"sha256:` + strings.Repeat("a", 64) + `"},"type":"cosign container image signature"},"optional":null}`)
	sig, ann := sigstoretest.Cosign2(t, vs, testIdentity, testIssuer, payload)
	good := cosign2Bundle(t, payload, sig, ann)
	root := trustedRoot(t, vs, vs, vs)
	id := []string{"--certificate-identity", testIdentity, "--certificate-oidc-issuer", testIssuer}

	// Another signature of the same payload, with this one's certificate
	// and log entry: the entry's body holds the first signature.
	osig, _ := sigstoretest.Cosign2(t, vs, testIdentity, testIssuer, payload)
	// The SET over a changed integrated time.
	var rb map[string]any
	json.Unmarshal([]byte(ann["dev.sigstore.cosign/bundle"]), &rb)
	rb["Payload"].(map[string]any)["integratedTime"] = rb["Payload"].(map[string]any)["integratedTime"].(float64) + 1
	moved, _ := json.Marshal(rb)
	late := map[string]string{"dev.sigstore.cosign/certificate": ann["dev.sigstore.cosign/certificate"], "dev.sigstore.cosign/bundle": string(moved)}
	noLog := map[string]string{"dev.sigstore.cosign/certificate": ann["dev.sigstore.cosign/certificate"]}

	tests := []struct {
		name   string
		args   []string
		refuse string
	}{
		{"verified", append(append([]string{"--trusted-root", root}, id...), good, digestOf(payload)), ""},
		{"wrong identity", []string{"--trusted-root", root, "--certificate-identity", "mallory@example.com", "--certificate-oidc-issuer", testIssuer, good, digestOf(payload)}, "mallory@example.com"},
		{"other payload", append(append([]string{"--trusted-root", root}, id...), good, digestOf([]byte("other"))), "digest"},
		{"root does not chain", append(append([]string{"--trusted-root", trustedRoot(t, other, vs, vs)}, id...), good, digestOf(payload)), "leaf certificate verification failed"},
		{"log from another Rekor", append(append([]string{"--trusted-root", trustedRoot(t, vs, vs, other)}, id...), good, digestOf(payload)), "log"},
		{"signature not the log entry's", append(append([]string{"--trusted-root", root}, id...), cosign2Bundle(t, payload, osig, ann), digestOf(payload)), "signature"},
		{"SET over another time", append(append([]string{"--trusted-root", root}, id...), cosign2Bundle(t, payload, sig, late), digestOf(payload)), "log"},
		{"no Rekor entry", append(append([]string{"--trusted-root", root}, id...), cosign2Bundle(t, payload, sig, noLog), digestOf(payload)), "log"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, res, stderr := verifyArgs(t, tc.args...)
			if tc.name == "verified" {
				if code != 0 || !res.Verified || res.Identity != testIdentity || res.Issuer != testIssuer {
					t.Fatalf("verify = %d, %+v, want verified\n%s", code, res, stderr)
				}
				return
			}
			if code != exitRefused || res.Verified || !strings.Contains(res.Error, tc.refuse) {
				t.Fatalf("verify = %d, verified %v, error %q; want refused, mentioning %q", code, res.Verified, res.Error, tc.refuse)
			}
			t.Logf("refused: %s", res.Error)
		})
	}
}
