package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
)

func runCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a command in a directory's image, loading it first only if needed",
		ArgsUsage: "DIR [--] [CMD [ARG...]]",
		Description: `Loads DIR's image as 'imgsave load' does, then runs it with the engine's
'run --rm --interactive' (and --tty when stdin and stdout are terminals),
the current directory mounted at /tmp and used as the working directory, and
your uid:gid, so that files written there are yours. Without CMD the image's
default command runs. The container's exit status is imgsave's; SIGINT and
SIGTERM are passed on to it.

Flags go before DIR; everything after DIR (and an optional --) is the command.

EXAMPLES:
   imgsave run ./img -- sh -c 'ls -l'
   imgsave run --workdir /data --mount ~/ref:/ref:ro ./img -- align /ref/genome.fa
   imgsave run --root --env DEBUG=1 --engine-arg=--network=none ./img`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "workdir", Value: "/tmp", Usage: "where the current directory is mounted, and the working directory"},
			&cli.BoolFlag{Name: "no-cwd-mount", Usage: "do not mount the current directory"},
			&cli.StringSliceFlag{Name: "mount", Usage: "also mount `SRC:DST[:ro]` (repeatable)"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set `K=V` in the container (repeatable)"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run as `UID[:GID]` (default: yours)"},
			&cli.BoolFlag{Name: "root", Usage: "run as the image's user (usually root), not yours"},
			&cli.StringFlag{Name: "entrypoint", Usage: "override the image's entrypoint"},
			&cli.StringSliceFlag{Name: "engine-arg", Usage: "pass `ARG` to the engine's run, before the image (repeatable)"},
		}, selectFlags...),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usagef("run: want DIR [--] [CMD [ARG...]]")
			}
			rest := c.Args().Slice()
			dir, cmd := rest[0], rest[1:]
			if len(cmd) > 0 && cmd[0] == "--" {
				cmd = cmd[1:]
			}
			if c.IsSet("user") && c.Bool("root") {
				return usagef("run: --user and --root exclude each other")
			}
			runArgs, err := dockerRunArgs(c, e)
			if err != nil {
				return err
			}
			eng, err := engine(c)
			if err != nil {
				return err
			}
			l, err := ensureLoaded(c.Context, eng, dir, loadOpts(c, e))
			if err != nil {
				return err
			}
			runArgs = append(append(runArgs, string(l.ID)), cmd...)
			return eng.Run(c.Context, runArgs, e.stdin, e.stdout, e.stderr)
		},
	}
}

// dockerRunArgs builds `run ...` up to the image from the flags.
func dockerRunArgs(c *cli.Context, e *env) ([]string, error) {
	a := []string{"run", "--rm", "--interactive"}
	if isTerminalReader(e.stdin) && isTerminal(e.stdout) {
		a = append(a, "--tty")
	}
	if !c.Bool("no-cwd-mount") {
		cwd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		a = append(a, "--volume", cwd+":"+c.String("workdir"), "--workdir", c.String("workdir"))
	} else if c.IsSet("workdir") {
		a = append(a, "--workdir", c.String("workdir"))
	}
	for _, m := range c.StringSlice("mount") {
		src, rest, ok := strings.Cut(m, ":")
		if !ok || src == "" || rest == "" {
			return nil, usagef("--mount %q: want SRC:DST[:ro]", m)
		}
		abs, err := filepath.Abs(src)
		if err != nil {
			return nil, err
		}
		a = append(a, "--volume", abs+":"+rest)
	}
	for _, kv := range c.StringSlice("env") {
		if !strings.Contains(kv, "=") {
			return nil, usagef("--env %q: want K=V", kv)
		}
		a = append(a, "--env", kv)
	}
	switch {
	case c.Bool("root"):
	case c.IsSet("user"):
		a = append(a, "--user", c.String("user"))
	default:
		a = append(a, "--user", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()))
	}
	if c.IsSet("entrypoint") {
		a = append(a, "--entrypoint", c.String("entrypoint"))
	}
	return append(a, c.StringSlice("engine-arg")...), nil
}
