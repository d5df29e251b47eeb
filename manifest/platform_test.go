package manifest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestParsePlatform: os/arch[/variant] of sane names, normalized as
// containerd does; a path in disguise and other junk refused (#28).
func TestParsePlatform(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" for an error
	}{
		{"linux/amd64", "linux/amd64"},
		{"linux/arm64/v8", "linux/arm64/v8"},
		{"linux/arm/v7", "linux/arm/v7"},
		{"Linux/AMD64", "linux/amd64"},
		{"linux/x86_64", "linux/amd64"},
		{"linux/aarch64", "linux/arm64"},
		{"linux/i386", "linux/386"},
		{"windows/amd64", "windows/amd64"},
		{"linux/mips64le", "linux/mips64le"},
		{"linux/riscv64/rva22u64", "linux/riscv64/rva22u64"},
		{"freebsd/amd64/v1.2-x_y", "freebsd/amd64/v1.2-x_y"},
		{"linux/amd64/../..", ""},
		{"linux/amd64/..", ""},
		{"linux/../amd64", ""},
		{"../linux/amd64", ""},
		{"linux/.", ""},
		{"linux/amd64/v1/v2", ""},
		{"linux", ""},
		{"linux/", ""},
		{"/amd64", ""},
		{"linux//amd64", ""},
		{"", ""},
		{"linux/amd64 ", ""},
		{"linux /amd64", ""},
		{"linux/amd64,linux/arm64", ""},
		{"linux/amd64:10.0", ""},
		{"linux/amd64\n", ""},
		{"linux/amd64\x00", ""},
		{"linux/amd64/%s", ""},
		{"linux/amd64/-v8", ""},
		{"linux/amd\u00e964", ""},
		{"linux/" + strings.Repeat("a", 65), ""},
	} {
		p, err := ParsePlatform(tc.in)
		switch {
		case tc.want == "" && !errors.Is(err, ErrPlatformSyntax):
			t.Errorf("ParsePlatform(%q) = %v, %v; want ErrPlatformSyntax", tc.in, PlatformString(&p), err)
		case tc.want == "" && !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in)):
			t.Errorf("ParsePlatform(%q) = %v, want it to name the value", tc.in, err)
		case tc.want != "" && (err != nil || PlatformString(&p) != tc.want):
			t.Errorf("ParsePlatform(%q) = %v, %v; want %s", tc.in, PlatformString(&p), err, tc.want)
		}
	}
}

// TestConfigDescribes: an index entry's platform against its config, with
// containerd's variant defaults.
func TestConfigDescribes(t *testing.T) {
	cfg := func(os, arch, variant string) *Config {
		return &Config{OS: os, Architecture: arch, Variant: variant}
	}
	win := &Config{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.2113", OSFeatures: []string{"win32k"}}
	for _, tc := range []struct {
		name string
		p    v1.Platform
		c    *Config
		want bool
	}{
		{"same", v1.Platform{OS: "linux", Architecture: "amd64"}, cfg("linux", "amd64", ""), true},
		{"spoofed arch", v1.Platform{OS: "linux", Architecture: "arm64"}, cfg("linux", "amd64", ""), false},
		{"spoofed os", v1.Platform{OS: "windows", Architecture: "amd64"}, cfg("linux", "amd64", ""), false},
		{"arm64 v8 default", v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, cfg("linux", "arm64", ""), true},
		{"arm64 v8 both", v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, cfg("linux", "arm64", "v8"), true},
		{"arm v7 default", v1.Platform{OS: "linux", Architecture: "arm"}, cfg("linux", "arm", "v7"), true},
		{"arm v6 says v7", v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, cfg("linux", "arm", "v7"), false},
		{"arm v6 config none", v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, cfg("linux", "arm", ""), false},
		{"amd64 v3 config v1", v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}, cfg("linux", "amd64", ""), false},
		{"riscv64 entry variant only", v1.Platform{OS: "linux", Architecture: "riscv64", Variant: "rva22u64"}, cfg("linux", "riscv64", ""), true},
		{"os.version same", v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.2113"}, win, true},
		{"os.version other", v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.5122"}, win, false},
		{"os.version entry only", v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.5122"}, cfg("windows", "amd64", ""), true},
		{"os.features same", v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"win32k"}}, win, true},
		{"os.features other", v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"gpu"}}, win, false},
	} {
		if got := tc.c.Describes(tc.p); got != tc.want {
			t.Errorf("%s: Config{%s}.Describes(%s) = %v, want %v", tc.name, tc.c.Platform(), PlatformString(&tc.p), got, tc.want)
		}
	}
}

func TestList(t *testing.T) {
	many := make([]string, 400)
	for i := range many {
		many[i] = fmt.Sprintf("linux/arch%03d", i)
	}
	for _, tc := range []struct {
		items []string
		want  string
	}{
		{nil, "no image"},
		{[]string{"a"}, "a"},
		{many[:8], strings.Join(many[:8], ", ")},
		{many[:9], strings.Join(many[:8], ", ") + " and 1 more"},
		{many, strings.Join(many[:8], ", ") + " and 392 more"},
	} {
		if got := List(tc.items, MaxListed); got != tc.want {
			t.Errorf("List(%d items) = %q, want %q", len(tc.items), got, tc.want)
		}
	}
	if got, want := ListSep([]string{"a (x, y)", "b", "c"}, 2, "; "), "a (x, y); b and 1 more"; got != want {
		t.Errorf("ListSep = %q, want %q", got, want)
	}
}

func TestParsePlatformList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // platforms joined by ",", "all", or "" for an error
	}{
		{"all", "all"},
		{"linux/amd64", "linux/amd64"},
		{"linux/amd64, linux/aarch64,linux/arm/v7", "linux/amd64,linux/arm64,linux/arm/v7"},
		{"", ""},
		{"linux/amd64,", ""},
		{",linux/amd64", ""},
		{"linux/amd64,all", ""},
		{"linux/amd64,linux/amd64/../..", ""},
		{"all,all", ""},
	} {
		ps, all, err := ParsePlatformList(tc.in)
		var got []string
		for _, p := range ps {
			got = append(got, PlatformString(&p))
		}
		g := strings.Join(got, ",")
		if all {
			g = "all"
		}
		if tc.want == "" && err == nil || tc.want != "" && (err != nil || g != tc.want) {
			t.Errorf("ParsePlatformList(%q) = %q, %v; want %q", tc.in, g, err, tc.want)
		}
	}
}
