package manifest

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestCleanPath(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		err  bool
	}{
		{name: "ok", in: "manifest.json", want: "manifest.json"},
		{name: "nested", in: "blobs/sha256/abc", want: "blobs/sha256/abc"},
		{name: "dot slash", in: "./a", want: "a"},
		{name: "repeated dot slash", in: "././a/b", want: "a/b"},
		{name: "dots in name", in: "a..b/..c", want: "a..b/..c"},
		{name: "absolute", in: "/etc/passwd", err: true},
		{name: "dot slash absolute", in: ".//etc/passwd", err: true},
		{name: "dotdot", in: "..", err: true},
		{name: "dotdot prefix", in: "../x", err: true},
		{name: "dotdot inside", in: "a/../b", err: true},
		{name: "dotdot after dot slash", in: "./../x", err: true},
		{name: "dotdot last", in: "a/..", err: true},
		{name: "backslash", in: `a\b`, err: true},
		{name: "backslash dotdot", in: `..\..\x`, err: true},
		{name: "NUL", in: "a\x00b", err: true},
		{name: "double slash", in: "a//b", err: true},
		{name: "trailing slash", in: "a/", err: true},
		{name: "dot inside", in: "a/./b", err: true},
		{name: "dot last", in: "a/.", err: true},
		{name: "empty", in: "", err: true},
		{name: "dot", in: ".", err: true},
		{name: "dot slash only", in: "./", err: true},
		{name: "slash", in: "/", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CleanPath(tc.in)
			if tc.err {
				if err == nil {
					t.Fatalf("CleanPath(%q) = %q, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("CleanPath(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
			}
			if again, err := CleanPath(got); err != nil || again != got {
				t.Errorf("CleanPath(%q) = %q, %v, want it unchanged", got, again, err)
			}
		})
	}
}

func TestCheckDigest(t *testing.T) {
	h := hex64("digest")
	tests := []struct {
		name string
		in   digest.Digest
		err  bool
	}{
		{name: "ok", in: digest.Digest("sha256:" + h)},
		{name: "FromBytes", in: digest.FromBytes([]byte("x"))},
		{name: "empty", in: "", err: true},
		{name: "no algorithm", in: digest.Digest(h), err: true},
		{name: "short", in: "sha256:abc", err: true},
		{name: "63 digits", in: digest.Digest("sha256:" + h[1:]), err: true},
		{name: "65 digits", in: digest.Digest("sha256:" + h + "0"), err: true},
		{name: "uppercase", in: digest.Digest("sha256:ABCDEF" + h[6:]), err: true},
		{name: "not hex", in: digest.Digest("sha256:" + "g" + h[1:]), err: true},
		{name: "sha512", in: digest.Digest("sha512:" + h + h), err: true},
		{name: "sha384", in: digest.Digest("sha384:" + h + h[:32]), err: true},
		{name: "trailing newline", in: digest.Digest("sha256:" + h[1:] + "\n"), err: true},
		{name: "path in it", in: digest.Digest("sha256:../../" + h[6:]), err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckDigest(tc.in); (err != nil) != tc.err {
				t.Errorf("CheckDigest(%q) = %v, want error %v", tc.in, err, tc.err)
			}
		})
	}
}

func TestDigestFromPath(t *testing.T) {
	h := hex64("path")
	d := digest.Digest("sha256:" + h)
	tests := []struct {
		name string
		in   string
		want digest.Digest
		ok   bool
	}{
		{name: "blob", in: "blobs/sha256/" + h, want: d, ok: true},
		{name: "legacy config", in: h + ".json", want: d, ok: true},
		{name: "BlobPath", in: BlobPath(d), want: d, ok: true},
		{name: "config in a folder", in: "x/" + h + ".json"},
		{name: "blob with suffix", in: "blobs/sha256/" + h + ".json"},
		{name: "blob below blob", in: "blobs/sha256/" + h + "/x"},
		{name: "short blob", in: "blobs/sha256/abc"},
		{name: "uppercase blob", in: "blobs/sha256/ABCDEF" + h[6:]},
		{name: "uppercase config", in: "ABCDEF" + h[6:] + ".json"},
		{name: "sha512 blob", in: "blobs/sha512/" + h + h},
		{name: "prefixed config", in: "sha256:" + h + ".json"},
		{name: "manifest.json", in: "manifest.json"},
		{name: "layer", in: h + "/layer.tar"},
		{name: "empty", in: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := DigestFromPath(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("DigestFromPath(%q) = %q, %v, want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}
