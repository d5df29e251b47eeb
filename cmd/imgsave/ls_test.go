package main

import (
	"testing"

	"github.com/imgsave/imgsave"
)

// TestEvidenceCell: ls names the attestations kept, by cosign's --type
// name where there is one, not only how many (#29).
func TestEvidenceCell(t *testing.T) {
	bundle := imgsave.ReferrerInfo{Kind: "sigstore-bundle", Signature: true}
	keyless := bundle
	keyless.SignerIdentity, keyless.SignerIssuer = "release@example.com", "https://issuer.example"
	sbom := imgsave.ReferrerInfo{Kind: "sigstore-bundle", PredicateTypes: []string{"https://spdx.dev/Document"}}
	tests := []struct {
		name string
		sigs int
		atts []string
		refs []imgsave.ReferrerInfo
		want string
		// signers are keyless cosign 2 signatures (#30)
		signers []imgsave.SignerInfo
	}{
		// A bundle is one signature, not also a referrer (#30).
		{"key-based bundle", 1, nil, []imgsave.ReferrerInfo{bundle}, "1 signature", nil},
		{"keyless bundle", 1, nil, []imgsave.ReferrerInfo{keyless}, "1 signature; keyless signer release@example.com from https://issuer.example (unverified)", nil},
		{"attestation bundle", 0, nil, []imgsave.ReferrerInfo{sbom}, "sigstore-bundle (spdxjson)", nil},
		{"signature", 1, nil, nil, "1 signature", nil},
		{"keyless cosign 2 signature", 1, nil, nil, "1 signature; keyless signer ci@example.com from https://issuer.example (unverified)",
			[]imgsave.SignerInfo{{Signature: 1, SignerIdentity: "ci@example.com", SignerIssuer: "https://issuer.example"}}},
		{"keyless cosign 2 signature, logged", 1, nil, nil, "1 signature; keyless signer ci@example.com from https://issuer.example, logged 2023-05-07T13:15:14Z (unverified)",
			[]imgsave.SignerInfo{{Signature: 1, SignerIdentity: "ci@example.com", SignerIssuer: "https://issuer.example", SignerLogged: "2023-05-07T13:15:14Z"}}},
		{"signatures", 2, nil, nil, "2 signatures", nil},
		{"sbom", 1, []string{"https://spdx.dev/Document"}, nil, "1 signature; attestations: spdxjson", nil},
		{"several", 0, []string{"https://slsa.dev/provenance/v1", "https://example.org/x", "https://slsa.dev/provenance/v1"}, nil, "attestations: slsaprovenance1 (2), https://example.org/x", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := evidenceCell(imgsave.ImageInfo{Signatures: tc.sigs, Attestations: tc.atts, Referrers: tc.refs, Signers: tc.signers}); got != tc.want {
				t.Errorf("evidenceCell(%d, %q) = %q, want %q", tc.sigs, tc.atts, got, tc.want)
			}
		})
	}
}
