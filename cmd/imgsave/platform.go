package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave/manifest"
)

// checkPlatform is the Action of every --platform flag: it reads the value
// with manifest.ParsePlatform, the one parser of platforms, and puts the
// normalized form back ("Linux/x86_64" is "linux/amd64"), so that junk
// such as linux/amd64/../.. is a usage error naming the flag rather than
// linux/amd64 (#28). With list, the value may also be several platforms
// separated by commas, or all.
func checkPlatform(list bool) func(*cli.Context, string) error {
	return func(c *cli.Context, v string) error {
		norm, err := parsePlatforms(v, list)
		if err != nil {
			return usagef(c, "--platform %q: %v", v, err)
		}
		return c.Set("platform", norm)
	}
}

// parsePlatforms normalizes a --platform value; see checkPlatform.
func parsePlatforms(v string, list bool) (string, error) {
	if !list || !strings.Contains(v, ",") {
		if list && v == "all" {
			return v, nil
		}
		p, err := manifest.ParsePlatform(v)
		if err != nil {
			return "", syntax(err)
		}
		return manifest.PlatformString(&p), nil
	}
	var out []string
	for _, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		if e == "all" {
			return "", errors.New("all stands alone, not in a list")
		}
		p, err := manifest.ParsePlatform(e)
		if err != nil {
			return "", fmt.Errorf("%q: %w", e, syntax(err))
		}
		out = append(out, manifest.PlatformString(&p))
	}
	return strings.Join(out, ","), nil
}

// syntax drops ParsePlatform's quoting of the value, which the flag's
// message already shows.
func syntax(err error) error {
	if errors.Is(err, manifest.ErrPlatformSyntax) {
		return manifest.ErrPlatformSyntax
	}
	return err
}
