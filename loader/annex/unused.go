package annex

import (
	"context"
	"strconv"
	"strings"
)

// Unused lists, by number and key, the annexed content of repo that no
// file of HEAD uses any more, as `git annex unused --used-refspec=+HEAD`
// finds it (it records the numbers for `git annex dropunused`). It drops
// nothing.
func Unused(ctx context.Context, repo string) (keys []string, err error) {
	out, err := gitAnnex(ctx, repo, "unused", "--used-refspec=+HEAD")
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if n, err := strconv.Atoi(f[0]); err == nil && n == len(keys)+1 {
			keys = append(keys, f[1])
		}
	}
	return keys, nil
}

// gitAnnex runs `git annex ARGS...` in repo and returns its stdout.
func gitAnnex(ctx context.Context, repo string, args ...string) (string, error) {
	out, err := git(ctx, repo, nil, append([]string{"annex"}, args...)...)
	return string(out), err
}
