package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave/manifest"
)

// checkPlatform is the Action of every --platform flag: it reads the value
// with manifest's parser of platforms and puts the normalized form back
// ("Linux/x86_64" is "linux/amd64"), so that junk such as
// linux/amd64/../.. is a usage error naming the flag rather than
// linux/amd64 (#28). With list, the value may also be several platforms
// separated by commas, or all.
func checkPlatform(list bool) func(*cli.Context, string) error {
	return func(c *cli.Context, v string) error {
		norm, err := parsePlatforms(v, list)
		if err != nil {
			return usagef(c, "--%v", err) // "--platform "x": want ..."
		}
		return c.Set("platform", norm)
	}
}

// parsePlatforms normalizes a --platform value; see checkPlatform.
func parsePlatforms(v string, list bool) (string, error) {
	if !list {
		p, err := manifest.ParsePlatform(v)
		if err != nil {
			return "", err
		}
		return manifest.PlatformString(&p), nil
	}
	ps, all, err := manifest.ParsePlatformList(v)
	if err != nil || all {
		return v, err
	}
	var out []string
	for _, p := range ps {
		out = append(out, manifest.PlatformString(&p))
	}
	return strings.Join(out, ","), nil
}
