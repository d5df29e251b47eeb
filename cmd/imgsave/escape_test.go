package main

import "testing"

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"busybox:1.36", "busybox:1.36"},
		{"linux/amd64", "linux/amd64"},
		{"naïve ⏎ folded", "naïve ⏎ folded"},
		{"amd64\x1b[2K\rok", `amd64\x1b[2K\rok`},
		{"a\tb", `a\tb`},
		{"bad\xffbyte", `bad\xffbyte`},
		{"c1\u0085", `c1\u0085`},
		{`quote " and \ kept when clean`, `quote " and \ kept when clean`},
	}
	for _, tc := range tests {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
