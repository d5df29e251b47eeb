package manifest

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrPlatformSyntax is wrapped by the error of [ParsePlatform] for a
// platform that is not "os/arch[/variant]" of sane names.
var ErrPlatformSyntax = errors.New("want OS/ARCH[/VARIANT] of lowercase letters, digits, '_', '-' and '.', each starting with a letter or digit")

// ParsePlatform reads a platform as users write it on a command line,
// "os/arch[/variant]", and returns it normalized the way containerd's
// platforms.Parse does: lowercased, with the architecture names other
// tools use mapped to OCI's (x86_64 is amd64, aarch64 arm64, i386 386).
// Each part is letters, digits, '_', '-' or '.', starting with a letter
// or digit, as containerd's specifier components are, minus "." and ".."
// which containerd lets through; anything else (a fourth part,
// "linux/amd64/../..", an empty part, a space, an os.version suffix)
// wraps [ErrPlatformSyntax].
func ParsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return v1.Platform{}, fmt.Errorf("platform %q: %w", s, ErrPlatformSyntax)
	}
	for _, p := range parts {
		if !saneName(p) {
			return v1.Platform{}, fmt.Errorf("platform %q: %w", s, ErrPlatformSyntax)
		}
	}
	p := v1.Platform{OS: strings.ToLower(parts[0]), Architecture: strings.ToLower(parts[1])}
	if len(parts) == 3 {
		p.Variant = strings.ToLower(parts[2])
	}
	if a, ok := archAliases[p.Architecture]; ok {
		p.Architecture = a
	}
	if p.OS == "macos" {
		p.OS = "darwin"
	}
	return p, nil
}

// ParsePlatformList reads a list of platforms as --platform of save,
// import and pull takes it: several [ParsePlatform] platforms separated by
// commas (spaces around each ignored), or "all" alone, which gives all
// true and no platforms. An empty entry, "all" in a list, or a platform
// ParsePlatform refuses is an error naming the entry.
func ParsePlatformList(s string) (platforms []v1.Platform, all bool, err error) {
	if s == "all" {
		return nil, true, nil
	}
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "all" {
			return nil, false, fmt.Errorf("platform %q: all stands alone, not in a list", s)
		}
		p, err := ParsePlatform(e)
		if err != nil {
			return nil, false, err
		}
		platforms = append(platforms, p)
	}
	return platforms, false, nil
}

// archAliases are the architecture names containerd's normalizeArch
// (and uname -m) use for OCI's.
var archAliases = map[string]string{"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386"}

// saneName reports whether s is a platform part: [A-Za-z0-9][A-Za-z0-9_.-]*,
// at most 64 bytes.
func saneName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// MaxListed is how many items an error lists before saying how many more
// there are (see [List]).
const MaxListed = 8

// List says the first n of items, comma-separated, then how many more:
// "a, b and 3 more". An error of a 400-platform directory was once a line
// of 6 KB, and of an index with 40,000 platforms one of 680 KB (issues 18
// and 28). No items is "no image".
func List(items []string, n int) string { return ListSep(items, n, ", ") }

// ListSep is [List] with another separator, for items that hold commas
// themselves ("3f1c… (a:1, b:1); 9e2d… (c:1)").
func ListSep(items []string, n int, sep string) string {
	if len(items) == 0 {
		return "no image"
	}
	if len(items) <= n {
		return strings.Join(items, sep)
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], sep), len(items)-n)
}

// Describes reports whether the platform an index entry gives (p) is the
// config's: the same os and architecture, the same variant once each
// side's default is filled in as containerd's matcher does (arm64 is v8,
// arm v7, amd64 v1; an architecture without a default matches any variant
// when one side names none), and the same os.version and os.features
// where both say one. Engines, skopeo and containerd pick an image of an
// index by p alone, so an entry that lies makes them run another
// platform's image than asked.
func (c *Config) Describes(p v1.Platform) bool {
	if p.OS != c.OS || p.Architecture != c.Architecture {
		return false
	}
	a, b := defaultVariant(p.Architecture, p.Variant), defaultVariant(c.Architecture, c.Variant)
	if a != "" && b != "" && a != b {
		return false
	}
	if p.OSVersion != "" && c.OSVersion != "" && p.OSVersion != c.OSVersion {
		return false
	}
	if len(p.OSFeatures) > 0 && len(c.OSFeatures) > 0 && !sameSet(p.OSFeatures, c.OSFeatures) {
		return false
	}
	return true
}

// defaultVariant is variant, or the architecture's default when empty.
func defaultVariant(arch, variant string) string {
	if variant != "" {
		return variant
	}
	switch arch {
	case "arm64":
		return "v8"
	case "arm":
		return "v7"
	case "amd64":
		return "v1"
	}
	return ""
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
