package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
	"github.com/imgsave/imgsave/archive"
)

func migrateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "migrate",
		Usage:     "rewrite an image directory into the canonical layout, in place",
		ArgsUsage: "DIR",
		Description: `Rewrites DIR, a raw extraction of a legacy or Docker 25+ save (as
datalad-container's docker adapter leaves it) or an OCI layout written by
skopeo, crane or podman, into imgsave's canonical layout, with every check of
'imgsave save', and swaps it in atomically. The image ID does not change and
the directory stays runnable by the adapter. All of DIR's content must be
present ('git annex get DIR' first).

Inside a git repository, imgsave says how to record the change: the old
files are gone from the work tree but still in git's index, and 'git annex
add' does not stage deletions.

EXAMPLES:
   imgsave migrate img && git annex add img && git add -u img && git commit -m 'img: canonical layout'
   imgsave migrate img && datalad save -m 'img: canonical layout' img`,
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			a, err := args(c, "DIR")
			if err != nil {
				return err
			}
			ev, done := events(c, e, "migrating "+a[0])
			res, err := imgsave.Migrate(c.Context, a[0], imgsave.MigrateOptions{Events: ev})
			done()
			if err != nil {
				return fmt.Errorf("migrate %s: %w", a[0], err)
			}
			if !globalBool(c, "quiet") {
				if how := recordHint(c.Context, a[0]); how != "" {
					fmt.Fprintf(e.stderr, "imgsave: %s\n", printable(how))
				}
			}
			return report(c, e, a[0], res)
		},
	}
}

// recordHint is the command that records a migrated dir in the git
// repository holding it, "" when dir is in none or git sees no change:
// migrate replaces tracked files, and `git annex add` alone would leave
// their deletions unstaged (#19).
func recordHint(ctx context.Context, dir string) string {
	status, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--", ".").Output()
	if err != nil || len(bytes.TrimSpace(status)) == 0 {
		return ""
	}
	top, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return ""
	}
	q := shellQuote(dir)
	root := strings.TrimSpace(string(top))
	switch {
	case exists(filepath.Join(root, ".datalad")):
		return fmt.Sprintf("%s changed; record it with: datalad save %s", dir, q)
	case archive.GitDir(root) != "" && exists(filepath.Join(archive.GitDir(root), "annex")):
		return fmt.Sprintf("%s changed; record it with: git annex add %s && git add -u %[2]s && git commit", dir, q)
	}
	return fmt.Sprintf("%s changed; record it with: git add -A %s && git commit", dir, q)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
