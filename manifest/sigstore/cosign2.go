package sigstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
)

// The annotations cosign 2 puts on a layer of a signature image (the
// `sha256-<hex>.sig` tag) beside dev.cosignproject.cosign/signature when it
// signs keyless: the Fulcio certificate and its chain (PEM), the Rekor
// entry it made (its body, time, index and signed entry timestamp), and an
// RFC 3161 timestamp when a TSA was asked.
const (
	AnnotationCertificate = "dev.sigstore.cosign/certificate"
	AnnotationChain       = "dev.sigstore.cosign/chain"
	AnnotationRekorBundle = "dev.sigstore.cosign/bundle"
	AnnotationTimestamp   = "dev.sigstore.cosign/rfc3161timestamp"
)

// MediaTypeBundle01 is the media type of the bundles [LegacyBundle] writes.
const MediaTypeBundle01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"

// LegacyBundle restates a keyless cosign 2 signature (a layer of a
// signature image: its payload, its base64 signature annotation and the
// other annotations) as a Sigstore bundle v0.1, so that the verifier checks
// it as it checks any bundle: the certificate chain to the trusted root,
// the identity policy, the Rekor entry's SET, its body against the
// signature and certificate, and the signing time. Nothing is checked here:
// the bundle only carries the same bytes. Its signed artifact is the
// payload, so the verifier is given the payload's sha256 digest; the
// payload's docker-manifest-digest is the caller's to check.
//
// It returns nil and no error for a layer without a certificate (a
// key-based signature), and an error naming the annotation for one that
// cannot be read.
func LegacyBundle(payload []byte, signature string, ann map[string]string) ([]byte, error) {
	certPEM := ann[AnnotationCertificate]
	if certPEM == "" {
		return nil, nil
	}
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("annotation %s: not a PEM certificate", AnnotationCertificate)
	}
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("annotation dev.cosignproject.cosign/signature: not base64 (%v)", err)
	}
	sum := sha256.Sum256(payload)
	b := bundle01{MediaType: MediaTypeBundle01}
	b.VerificationMaterial.Chain.Certificates = []rawBytes{{block.Bytes}}
	b.MessageSignature.MessageDigest.Algorithm = "SHA2_256"
	b.MessageSignature.MessageDigest.Digest = sum[:]
	b.MessageSignature.Signature = sig
	if s := ann[AnnotationRekorBundle]; s != "" {
		e, err := rekorEntry(s)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %w", AnnotationRekorBundle, err)
		}
		b.VerificationMaterial.TlogEntries = []tlogEntry{e}
	}
	if s := ann[AnnotationTimestamp]; s != "" {
		var ts struct {
			SignedRFC3161Timestamp []byte
		}
		if err := strictJSON([]byte(s), &ts); err != nil || len(ts.SignedRFC3161Timestamp) == 0 {
			return nil, fmt.Errorf("annotation %s: no SignedRFC3161Timestamp (%v)", AnnotationTimestamp, err)
		}
		b.VerificationMaterial.Timestamps = &timestamps{RFC3161: []signedTimestamp{{ts.SignedRFC3161Timestamp}}}
	}
	return json.Marshal(b)
}

// rekorEntry is the transparency-log entry of cosign's Rekor bundle
// annotation: {"SignedEntryTimestamp": base64, "Payload": {"body": base64,
// "integratedTime": n, "logIndex": n, "logID": hex}}.
func rekorEntry(s string) (tlogEntry, error) {
	var rb struct {
		SignedEntryTimestamp []byte
		Payload              struct {
			Body           string `json:"body"`
			IntegratedTime int64  `json:"integratedTime"`
			LogIndex       int64  `json:"logIndex"`
			LogID          string `json:"logID"`
		}
	}
	if err := strictJSON([]byte(s), &rb); err != nil {
		return tlogEntry{}, err
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return tlogEntry{}, fmt.Errorf("body: %w", err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return tlogEntry{}, fmt.Errorf("logID: %w", err)
	}
	// The entry's kind and version are its body's, as Rekor wrote it.
	var kv struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kv); err != nil || kv.Kind == "" || kv.APIVersion == "" {
		return tlogEntry{}, fmt.Errorf("body names no kind and apiVersion (%v)", err)
	}
	if len(rb.SignedEntryTimestamp) == 0 {
		return tlogEntry{}, errors.New("no SignedEntryTimestamp")
	}
	e := tlogEntry{
		LogIndex:          strconv.FormatInt(rb.Payload.LogIndex, 10),
		IntegratedTime:    strconv.FormatInt(rb.Payload.IntegratedTime, 10),
		CanonicalizedBody: body,
	}
	e.LogID.KeyID = logID
	e.KindVersion.Kind, e.KindVersion.Version = kv.Kind, kv.APIVersion
	e.InclusionPromise.SignedEntryTimestamp = rb.SignedEntryTimestamp
	return e, nil
}

// strictJSON decodes one JSON value, refusing data after it.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// bundle01 is a Sigstore bundle v0.1 holding a message signature, in the
// protobuf JSON mapping the verifier reads (bytes as base64, 64-bit
// integers as strings).
type bundle01 struct {
	MediaType            string `json:"mediaType"`
	VerificationMaterial struct {
		Chain struct {
			Certificates []rawBytes `json:"certificates"`
		} `json:"x509CertificateChain"`
		TlogEntries []tlogEntry `json:"tlogEntries"`
		Timestamps  *timestamps `json:"timestampVerificationData,omitempty"`
	} `json:"verificationMaterial"`
	MessageSignature struct {
		MessageDigest struct {
			Algorithm string `json:"algorithm"`
			Digest    []byte `json:"digest"`
		} `json:"messageDigest"`
		Signature []byte `json:"signature"`
	} `json:"messageSignature"`
}

type rawBytes struct {
	RawBytes []byte `json:"rawBytes"`
}

type tlogEntry struct {
	LogIndex string `json:"logIndex"`
	LogID    struct {
		KeyID []byte `json:"keyId"`
	} `json:"logId"`
	KindVersion struct {
		Kind    string `json:"kind"`
		Version string `json:"version"`
	} `json:"kindVersion"`
	IntegratedTime   string `json:"integratedTime"`
	InclusionPromise struct {
		SignedEntryTimestamp []byte `json:"signedEntryTimestamp"`
	} `json:"inclusionPromise"`
	CanonicalizedBody []byte `json:"canonicalizedBody"`
}

type timestamps struct {
	RFC3161 []signedTimestamp `json:"rfc3161Timestamps"`
}

type signedTimestamp struct {
	SignedTimestamp []byte `json:"signedTimestamp"`
}
