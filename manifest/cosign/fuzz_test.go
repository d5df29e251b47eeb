package cosign

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

// addFiles seeds f with every testdata file matching pattern.
func addFiles(f *testing.F, pattern string) {
	names, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(names) == 0 {
		f.Fatalf("no seeds for %s (%v)", pattern, err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParsePayload checks that an accepted payload holds a sha256 digest and
// the cosign type, and that NewPayload of what it read reads back the same.
func FuzzParsePayload(f *testing.F) {
	addFiles(f, "payload*.json")
	for _, s := range []string{
		`{"critical":{"identity":{"docker-reference":""},"image":{"docker-manifest-digest":"` + digestX + `"},"type":"cosign container image signature"}}`,
		`{"critical":{"identity":{"docker-reference":"a\u003cb"},"image":{"docker-manifest-digest":"` + digestX + `","docker-manifest-digest":"` + digestX + `"},"type":"cosign container image signature"},"optional":{}}`,
		`{"Critical":{}}`, `null`, ``, `[]`, `{"critical":{"image":{"docker-manifest-digest":1}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePayload(data)
		if err != nil {
			return
		}
		d, ref := p.Critical.Image.DockerManifestDigest, p.Critical.Identity.DockerReference
		if !isSHA256(d) || p.Critical.Type != payloadType {
			t.Fatalf("ParsePayload(%q) = digest %q, type %q", data, d, p.Critical.Type)
		}
		if SignatureTag(d) == "" || AttestationTag(d) == "" {
			t.Errorf("ParsePayload(%q) accepts digest %q that SignatureTag refuses", data, d)
		}
		again, err := ParsePayload(NewPayload(ref, d))
		if err != nil {
			t.Fatalf("ParsePayload(NewPayload(%q, %q)) = %v", ref, d, err)
		}
		if again.Critical.Image.DockerManifestDigest != d || again.Critical.Identity.DockerReference != ref {
			t.Errorf("ParsePayload(NewPayload(%q, %q)) = %q, %q", ref, d, again.Critical.Identity.DockerReference, again.Critical.Image.DockerManifestDigest)
		}
	})
}

// FuzzParseEnvelope checks that an accepted envelope decodes, that Verify
// and Statement do not panic on it, and that a cosign key's signature does
// not verify over anything but what it signed.
func FuzzParseEnvelope(f *testing.F) {
	addFiles(f, "*.att.json")
	f.Add([]byte(envelopeJSON(payloadTypeInToto, `{"_type":"`+statementV1+`","predicateType":"p","subject":[{"digest":{"sha256":"`+hexX+`"}}]}`)))
	f.Add([]byte(`{"payloadType":"t","payload":"","signatures":[{"sig":"AA=="}],"payload":""}`))
	good, err := ParseEnvelope(readFile(f, "ecdsa-p256.att.json"))
	if err != nil {
		f.Fatal(err)
	}
	pub := publicKey(f, "ecdsa-p256")
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEnvelope(data)
		if err != nil {
			return
		}
		if len(e.Signatures) == 0 || e.PayloadType == "" {
			t.Fatalf("ParseEnvelope(%q) = %+v", data, e)
		}
		if _, err := decodeBase64(e.Payload); err != nil {
			t.Fatalf("ParseEnvelope(%q) accepts payload that does not decode: %v", data, err)
		}
		e.Statement()
		if e.Verify(pub) == nil {
			body, _ := decodeBase64(e.Payload)
			goodBody, _ := decodeBase64(good.Payload)
			if e.PayloadType != good.PayloadType || !bytes.Equal(body, goodBody) {
				t.Errorf("ParseEnvelope(%q) verifies under ecdsa-p256.pub but is not what it signed", data)
			}
		}
	})
}

// FuzzParsePublicKey checks that an accepted key is one Verify takes.
func FuzzParsePublicKey(f *testing.F) {
	addFiles(f, "*.pub")
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMA==\n-----END PUBLIC KEY-----\n"))
	sig := base64.StdEncoding.EncodeToString([]byte("not a signature"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pub, err := ParsePublicKey(data)
		if err != nil {
			return
		}
		if err := checkKey(pub); err != nil {
			t.Fatalf("ParsePublicKey(%q) = %T that checkKey refuses: %v", data, pub, err)
		}
		if err := Verify(pub, []byte("payload"), []byte(sig)); err == nil {
			t.Errorf("Verify(ParsePublicKey(%q)) accepts a junk signature", data)
		}
	})
}
