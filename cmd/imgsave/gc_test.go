package main

import (
	"testing"
	"time"
)

func TestParseSizeAndAge(t *testing.T) {
	sizes := map[string]int64{"100": 100, "50G": 50 << 30, "800MiB": 800 << 20, "1.5k": 1536, "2TB": 2 << 40}
	for in, want := range sizes {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "-1G", "5X", "0"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
	ages := map[string]time.Duration{"90d": 90 * 24 * time.Hour, "36h": 36 * time.Hour, "0.5d": 12 * time.Hour}
	for in, want := range ages {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-3d", "3w", "0s"} {
		if got, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) = %v, want an error", in, got)
		}
	}
}
