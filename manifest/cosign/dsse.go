package cosign

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
)

// payloadTypeInToto is the DSSE payloadType of an in-toto statement, the
// only one `cosign attest` writes.
const payloadTypeInToto = "application/vnd.in-toto+json"

// Statement types of in-toto: cosign 2 writes v0.1; v1 is current.
const (
	statementV01 = "https://in-toto.io/Statement/v0.1"
	statementV1  = "https://in-toto.io/Statement/v1"
)

// maxEnvelope bounds an envelope: an SBOM predicate of a large image runs
// to megabytes, and base64 adds a third.
const maxEnvelope = 16 << 20

// maxSignatures bounds the signatures ParseEnvelope accepts, and so the
// verifications [Envelope.Verify] tries; cosign writes one.
const maxSignatures = 16

// Envelope is a DSSE envelope (github.com/secure-systems-lab/dsse,
// envelope.md), as `cosign attest` stores it in a layer of an attestation
// (.att) image and `cosign attest-blob` writes it.
type Envelope struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"` // base64
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"` // base64
	} `json:"signatures"`
}

// ParseEnvelope reads a DSSE envelope strictly: at most 16 MiB of one JSON
// object with exactly payloadType (not empty), payload and signatures (1 to
// 16 objects of sig and an optional keyid), payload and each sig in base64
// (standard or URL-safe, as DSSE allows), no key repeated or in another
// case. It does not verify anything; see [Envelope.Verify].
func ParseEnvelope(b []byte) (*Envelope, error) {
	e, err := parseEnvelope(b)
	if err != nil {
		return nil, fmt.Errorf("DSSE envelope: %w", err)
	}
	return e, nil
}

func parseEnvelope(b []byte) (*Envelope, error) {
	if err := checkJSON(b, maxEnvelope); err != nil {
		return nil, err
	}
	top, err := parseObject(b, []string{"payloadType", "payload", "signatures"})
	if err != nil {
		return nil, err
	}
	var e Envelope
	var sigs []json.RawMessage
	if err := firstErr(
		top.get("payloadType", &e.PayloadType),
		top.get("payload", &e.Payload),
		top.get("signatures", &sigs),
	); err != nil {
		return nil, err
	}
	if e.PayloadType == "" {
		return nil, fmt.Errorf("empty payloadType")
	}
	if _, err := decodeBase64(e.Payload); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if len(sigs) == 0 || len(sigs) > maxSignatures {
		return nil, fmt.Errorf("%d signatures, want 1 to %d", len(sigs), maxSignatures)
	}
	e.Signatures = make([]struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	}, len(sigs))
	for i, raw := range sigs {
		s := &e.Signatures[i]
		o, err := parseObject(raw, []string{"sig"}, "keyid")
		if err == nil {
			err = firstErr(o.get("sig", &s.Sig), o.get("keyid", &s.KeyID))
		}
		if err == nil {
			var sig []byte
			if sig, err = decodeBase64(s.Sig); err == nil && len(sig) == 0 {
				err = fmt.Errorf("empty sig")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("signature %d: %w", i, err)
		}
	}
	return &e, nil
}

// decodeBase64 decodes s in any of the encodings DSSE allows: standard or
// URL-safe, padded or not (as go-securesystemslib's dsse package reads it).
func decodeBase64(s string) ([]byte, error) {
	var first error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, fmt.Errorf("invalid base64: %w", first)
}

// pae is DSSE's pre-authentication encoding, the bytes a signature signs
// (envelope.md, protocol.md):
// "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
func pae(payloadType string, body []byte) []byte {
	b := []byte("DSSEv1 ")
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, ' ')
	return append(b, body...)
}

// Verify checks the envelope's signatures with pub over the DSSE PAE of its
// payloadType and payload, each as [Verify] checks a signature; one that
// verifies is enough. It returns an error wrapping [ErrBadSignature] when
// none does, and another error when pub is not a key cosign signs with or
// the payload is not base64.
func (e *Envelope) Verify(pub crypto.PublicKey) error {
	if err := checkKey(pub); err != nil {
		return fmt.Errorf("DSSE envelope: %w", err)
	}
	body, err := decodeBase64(e.Payload)
	if err != nil {
		return fmt.Errorf("DSSE envelope: payload: %w", err)
	}
	msg := pae(e.PayloadType, body)
	for _, s := range e.Signatures {
		sig, err := decodeBase64(s.Sig)
		if err != nil {
			continue
		}
		if Verify(pub, msg, sig) == nil {
			return nil
		}
	}
	return fmt.Errorf("DSSE envelope: none of %d signatures, %s: %w", len(e.Signatures), describe(pub), ErrBadSignature)
}

// Statement is the in-toto statement inside an attestation: what the
// predicate (an SBOM, provenance, …) says, about which subjects.
type Statement struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate json.RawMessage `json:"predicate"`
}

// Statement decodes the in-toto statement in the envelope's payload. The
// payloadType must be "application/vnd.in-toto+json"; the statement must
// have _type v0.1 (what cosign 2 writes) or v1, a predicateType, and at
// least one subject with a digest; keys are read as [ParseEnvelope] reads
// them. It does not verify: call [Envelope.Verify] first, and compare the
// subject's digest with the image's.
func (e *Envelope) Statement() (*Statement, error) {
	st, err := e.statement()
	if err != nil {
		return nil, fmt.Errorf("in-toto statement: %w", err)
	}
	return st, nil
}

func (e *Envelope) statement() (*Statement, error) {
	if e.PayloadType != payloadTypeInToto {
		return nil, fmt.Errorf("payloadType is %q, want %q", e.PayloadType, payloadTypeInToto)
	}
	body, err := decodeBase64(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if err := checkJSON(body, maxEnvelope); err != nil {
		return nil, err
	}
	top, err := parseObject(body, []string{"_type", "predicateType", "subject"}, "predicate")
	if err != nil {
		return nil, err
	}
	var st Statement
	var subjects []json.RawMessage
	if err := firstErr(
		top.get("_type", &st.Type),
		top.get("predicateType", &st.PredicateType),
		top.get("subject", &subjects),
	); err != nil {
		return nil, err
	}
	if st.Type != statementV01 && st.Type != statementV1 {
		return nil, fmt.Errorf("_type is %q, want %q or %q", st.Type, statementV01, statementV1)
	}
	if st.PredicateType == "" {
		return nil, fmt.Errorf("empty predicateType")
	}
	st.Predicate = top["predicate"]
	if len(subjects) == 0 {
		return nil, fmt.Errorf("no subject")
	}
	st.Subject = make([]struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	}, len(subjects))
	for i, raw := range subjects {
		s := &st.Subject[i]
		// v1 subjects are ResourceDescriptors, which may say more.
		o, err := parseObject(raw, []string{"digest"}, "name", "uri", "content", "downloadLocation", "mediaType", "annotations")
		if err == nil {
			err = firstErr(o.get("name", &s.Name), o.get("digest", &s.Digest))
		}
		if err == nil && len(s.Digest) == 0 {
			err = fmt.Errorf("empty digest")
		}
		if err != nil {
			return nil, fmt.Errorf("subject %d: %w", i, err)
		}
	}
	return &st, nil
}
