package main

import (
	"testing"

	"github.com/imgsave/imgsave"
)

// TestEvidenceCell: ls names the attestations kept, by cosign's --type
// name where there is one, not only how many (#29).
func TestEvidenceCell(t *testing.T) {
	tests := []struct {
		name string
		sigs int
		atts []string
		want string
	}{
		{"signature", 1, nil, "1 signature"},
		{"signatures", 2, nil, "2 signatures"},
		{"sbom", 1, []string{"https://spdx.dev/Document"}, "1 signature; attestations: spdxjson"},
		{"several", 0, []string{"https://slsa.dev/provenance/v1", "https://example.org/x", "https://slsa.dev/provenance/v1"}, "attestations: slsaprovenance1 (2), https://example.org/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := evidenceCell(imgsave.ImageInfo{Signatures: tc.sigs, Attestations: tc.atts}); got != tc.want {
				t.Errorf("evidenceCell(%d, %q) = %q, want %q", tc.sigs, tc.atts, got, tc.want)
			}
		})
	}
}
