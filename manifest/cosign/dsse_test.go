package cosign

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// attestations are the envelopes cosign attest-blob made, by key.
var attestations = []string{"ecdsa-p256", "ed25519", "rsa2048"}

func envelope(t testing.TB, name string) *Envelope {
	t.Helper()
	e, err := ParseEnvelope(readFile(t, name+".att.json"))
	if err != nil {
		t.Fatalf("ParseEnvelope(%s.att.json) = %v", name, err)
	}
	return e
}

// TestPAE checks the encoding against the example of DSSE's protocol.md.
func TestPAE(t *testing.T) {
	got := string(pae("http://example.com/HelloWorld", []byte("hello world")))
	if want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"; got != want {
		t.Errorf("pae = %q, want %q", got, want)
	}
}

func TestEnvelopeVerify(t *testing.T) {
	for i, name := range attestations {
		t.Run(name, func(t *testing.T) {
			e := envelope(t, name)
			if err := e.Verify(publicKey(t, name)); err != nil {
				t.Fatalf("Verify(%s.pub) = %v", name, err)
			}
			other := attestations[(i+1)%len(attestations)]
			if err := e.Verify(publicKey(t, other)); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify(%s.pub) = %v, want ErrBadSignature", other, err)
			}
			if err := e.Verify(publicKey(t, "ecdsa-p384")); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify(ecdsa-p384.pub) = %v, want ErrBadSignature", err)
			}

			// Each change to what the signature covers.
			body, err := base64.StdEncoding.DecodeString(e.Payload)
			if err != nil {
				t.Fatal(err)
			}
			changedPayload := *e
			changedPayload.Payload = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(body), "subject.txt", "subject.txx", 1)))
			changedType := *e
			changedType.PayloadType = "application/json"
			changedSig := *e
			changedSig.Signatures = append(changedSig.Signatures[:0:0], e.Signatures...)
			sig, _ := base64.StdEncoding.DecodeString(e.Signatures[0].Sig)
			sig[len(sig)/2] ^= 1
			changedSig.Signatures[0].Sig = base64.StdEncoding.EncodeToString(sig)
			for what, bad := range map[string]Envelope{"payload": changedPayload, "payloadType": changedType, "sig": changedSig} {
				if err := bad.Verify(publicKey(t, name)); !errors.Is(err, ErrBadSignature) {
					t.Errorf("Verify with changed %s = %v, want ErrBadSignature", what, err)
				}
			}

			// One good signature among bad ones is enough.
			more := changedSig
			more.Signatures = append(more.Signatures, e.Signatures...)
			if err := more.Verify(publicKey(t, name)); err != nil {
				t.Errorf("Verify(bad and good signatures) = %v", err)
			}
		})
	}
}

func TestEnvelopeStatement(t *testing.T) {
	sum := sha256.Sum256(readFile(t, "subject.txt"))
	var wantPredicate any
	if err := json.Unmarshal(readFile(t, "sbom.spdx.json"), &wantPredicate); err != nil {
		t.Fatal(err)
	}
	for _, name := range attestations {
		t.Run(name, func(t *testing.T) {
			st, err := envelope(t, name).Statement()
			if err != nil {
				t.Fatalf("Statement() = %v", err)
			}
			if st.Type != "https://in-toto.io/Statement/v0.1" || st.PredicateType != "https://spdx.dev/Document" {
				t.Errorf("Statement() _type, predicateType = %q, %q", st.Type, st.PredicateType)
			}
			if len(st.Subject) != 1 || st.Subject[0].Name != "subject.txt" || st.Subject[0].Digest["sha256"] != hex.EncodeToString(sum[:]) {
				t.Errorf("Statement().Subject = %+v, want subject.txt with sha256 %x", st.Subject, sum)
			}
			var predicate any
			if err := json.Unmarshal(st.Predicate, &predicate); err != nil || !reflect.DeepEqual(predicate, wantPredicate) {
				t.Errorf("Statement().Predicate = %s (%v), want sbom.spdx.json", st.Predicate, err)
			}
		})
	}
}

// envelopeJSON is a cosign-shaped envelope around statement.
func envelopeJSON(payloadType, statement string) string {
	return `{"payloadType":"` + payloadType + `","payload":"` + base64.StdEncoding.EncodeToString([]byte(statement)) + `","signatures":[{"keyid":"","sig":"AAAA"}]}`
}

func TestStatementRejects(t *testing.T) {
	subject := `"subject":[{"name":"x","digest":{"sha256":"` + hexX + `"}}]`
	for _, tc := range []struct {
		name, payloadType, statement, want string
	}{
		{"other payloadType", "application/json", `{}`, `payloadType is "application/json"`},
		{"not JSON", payloadTypeInToto, `{`, "unexpected end"},
		{"other _type", payloadTypeInToto, `{"_type":"https://in-toto.io/Statement/v2","predicateType":"p",` + subject + `}`, `_type is "https://in-toto.io/Statement/v2"`},
		{"no predicateType", payloadTypeInToto, `{"_type":"` + statementV1 + `","predicateType":"",` + subject + `}`, "empty predicateType"},
		{"no subject", payloadTypeInToto, `{"_type":"` + statementV1 + `","predicateType":"p","subject":[]}`, "no subject"},
		{"subject without digest", payloadTypeInToto, `{"_type":"` + statementV1 + `","predicateType":"p","subject":[{"name":"x","digest":{}}]}`, "subject 0: empty digest"},
		{"predicateType twice", payloadTypeInToto, `{"_type":"` + statementV1 + `","predicateType":"p","predicateType":"q",` + subject + `}`, "appears twice"},
		{"case-folded key", payloadTypeInToto, `{"_type":"` + statementV1 + `","PredicateType":"p",` + subject + `}`, `unknown field "PredicateType"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseEnvelope([]byte(envelopeJSON(tc.payloadType, tc.statement)))
			if err != nil {
				t.Fatal(err)
			}
			st, err := e.Statement()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Statement() = %+v, %v; want an error with %q", st, err, tc.want)
			}
		})
	}
	// A v1 subject may say more (a ResourceDescriptor).
	e, err := ParseEnvelope([]byte(envelopeJSON(payloadTypeInToto, `{"_type":"`+statementV1+`","predicateType":"p","subject":[{"digest":{"sha256":"`+hexX+`"},"uri":"oci://x","annotations":{"a":"b"}}]}`)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Statement(); err != nil {
		t.Errorf("Statement() of a v1 statement = %v", err)
	}
}

func TestParseEnvelopeRejects(t *testing.T) {
	good, swap := swapper(t, "ecdsa-p256.att.json")
	for _, tc := range []struct {
		name string
		in   []byte
		want string // in the error
	}{
		{"empty", nil, "empty"},
		{"null", []byte("null"), "not a JSON object"},
		{"trailing data", []byte(good + "x"), "data after the top-level value"},
		{"no signatures", []byte(`{"payloadType":"t","payload":"","signatures":[]}`), "0 signatures"},
		{"null signatures", []byte(`{"payloadType":"t","payload":"","signatures":null}`), `"signatures": null`},
		{"too many signatures", []byte(`{"payloadType":"t","payload":"","signatures":[` + strings.Repeat(`{"sig":"AA=="},`, maxSignatures) + `{"sig":"AA=="}]}`), "17 signatures"},
		{"empty payloadType", swap(`"payloadType":"application/vnd.in-toto+json"`, `"payloadType":""`), "empty payloadType"},
		{"payload not base64", swap(`"payload":"`, `"payload":"!`), "payload: invalid base64"},
		{"sig not base64", swap(`"sig":"`, `"sig":"!`), "signature 0: invalid base64"},
		{"empty sig", []byte(`{"payloadType":"t","payload":"","signatures":[{"sig":""}]}`), "signature 0: empty sig"},
		{"no sig", []byte(`{"payloadType":"t","payload":"","signatures":[{"keyid":"k"}]}`), `signature 0: no field "sig"`},
		{"payload twice", swap(`"payload":"`, `"payload":"","payload":"`), "appears twice"},
		{"case-folded key", swap(`"payloadType"`, `"PayloadType"`), `unknown field "PayloadType"`},
		{"unknown field", swap(`"signatures"`, `"extra":1,"signatures"`), `unknown field "extra"`},
		{"unknown signature field", swap(`"keyid"`, `"cert":"","keyid"`), `signature 0: unknown field "cert"`},
		{"too large", []byte(`{"payloadType":"t","payload":"` + strings.Repeat("A", maxEnvelope) + `","signatures":[{"sig":"AA=="}]}`), "over 16777216 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseEnvelope(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseEnvelope(%.60q) = %+v, %v; want an error with %q", tc.in, e, err, tc.want)
			}
		})
	}
}

// TestParseEnvelopeBase64: DSSE allows standard and URL-safe base64, with
// or without padding.
func TestParseEnvelopeBase64(t *testing.T) {
	e := envelope(t, "ecdsa-p256")
	body, _ := base64.StdEncoding.DecodeString(e.Payload)
	sig, _ := base64.StdEncoding.DecodeString(e.Signatures[0].Sig)
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		in, _ := json.Marshal(map[string]any{
			"payloadType": e.PayloadType,
			"payload":     enc.EncodeToString(body),
			"signatures":  []map[string]string{{"keyid": "", "sig": enc.EncodeToString(sig)}},
		})
		got, err := ParseEnvelope(in)
		if err != nil {
			t.Fatalf("ParseEnvelope(%s) = %v", in, err)
		}
		if err := got.Verify(publicKey(t, "ecdsa-p256")); err != nil {
			t.Errorf("Verify(%s) = %v", in, err)
		}
	}
}
