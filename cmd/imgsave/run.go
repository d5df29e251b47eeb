package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
)

func runCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a command in a directory's image, loading it first only if needed",
		ArgsUsage: "DIR [--] [CMD [ARG...]]",
		Description: `Loads DIR's image as 'imgsave load' does, then runs it with the engine's
'run --rm --interactive' (and --tty when stdin and stdout are terminals),
the current directory mounted at /tmp and used as the working directory, and
your uid:gid, so that files written there are yours. Inside a git-annex
dataset, the top of the dataset is mounted at /tmp instead (of its outermost
superdataset: parents that record it as a submodule, never a repository
that merely sits above, such as an annexed home) and the working directory is the current one's place
below it, so that annexed files (links into .git/annex) can be read;
--cwd-only mounts the current directory alone. Without CMD the image's
default command runs. The container's exit status is imgsave's; SIGINT and
SIGTERM are passed on to it.

On Apptainer (--engine apptainer, or when it is the only engine on PATH)
there is no image store: the first run builds a SIF file from DIR into the
SIF cache (--sif-cache, shared ones with --sif-site-cache) and later runs
reuse it. The container runs as you, always (--user is refused; --root is
--fakeroot for a plain user), with its own /tmp, /dev and an empty home
(--containall), none of the host's variables but --env's, and the same
mounts and working directory as on docker. Without /dev/fuse a plain user's
run unpacks the image each time (--unsquash), with a notice. Apptainer's
own messages are shown with --verbose.

Flags go before DIR; everything after DIR (and an optional --) is the command.

EXAMPLES:
   imgsave run ./img -- sh -c 'ls -l'
   imgsave run --workdir /data --mount ~/ref:/ref:ro ./img -- align /ref/genome.fa
   imgsave run --root --env DEBUG=1 --engine-arg=--network=none ./img`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "workdir", Value: "/tmp", Usage: "where the current directory is mounted, and the working directory"},
			&cli.BoolFlag{Name: "no-cwd-mount", Usage: "do not mount the current directory"},
			&cli.BoolFlag{Name: "cwd-only", Usage: "mount only the current directory, not the top of its git-annex dataset (datalad-container's way)"},
			// KeepSpace: a value's spaces and line breaks are its own, as
			// on docker (#28).
			&cli.StringSliceFlag{Name: "mount", KeepSpace: true, Usage: "also mount `SRC:DST[:ro|:rw]` (repeatable)"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, KeepSpace: true, Usage: "set `K=V` in the container (repeatable)"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run as `UID[:GID]` (default: yours)"},
			&cli.BoolFlag{Name: "root", Usage: "run as the image's user (usually root), not yours"},
			&cli.StringFlag{Name: "entrypoint", Usage: "override the image's entrypoint"},
			&cli.StringSliceFlag{Name: "engine-arg", Usage: "pass `ARG` to the engine's run, before the image (repeatable)"},
			verifyKeyFlag("run"),
		}, append(sigstoreFlags("run"), selectFlags...)...),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usagef(c, "run: want DIR [--] [CMD [ARG...]]")
			}
			rest := c.Args().Slice()
			dir, cmd := rest[0], rest[1:]
			if err := misplacedFlags(c, dir, cmd); err != nil {
				return err
			}
			if len(cmd) > 0 && cmd[0] == "--" {
				cmd = cmd[1:]
			}
			if c.IsSet("user") && c.Bool("root") {
				return usagef(c, "run: --user and --root exclude each other")
			}
			// An empty --user (a script's unset variable) would run as
			// the image's user, usually root (#8).
			if c.IsSet("user") && c.String("user") == "" {
				return usagef(c, "run: --user needs UID[:GID]; use --root for the image's own user")
			}
			key, policy, err := signaturePolicy(c)
			if err != nil {
				return err
			}
			eng, err := runner(c)
			if err != nil {
				return err
			}
			if err := sifFlagsUsed(c, eng); err != nil {
				return err
			}
			load, done := loadOptions(c, e)
			load.VerifyKey, load.VerifySigstore = key, policy
			opts := imgsave.RunOptions{
				LoadOptions: load,
				Command:     cmd,
				NoCwdMount:  c.Bool("no-cwd-mount"),
				CwdOnly:     c.Bool("cwd-only"),
				Mounts:      c.StringSlice("mount"),
				Env:         c.StringSlice("env"),
				User:        c.String("user"),
				Root:        c.Bool("root"),
				EngineArgs:  c.StringSlice("engine-arg"),
				TTY:         isTerminalReader(e.stdin) && isTerminal(e.stdout),
				Stdin:       e.stdin, Stdout: e.stdout, Stderr: e.stderr,
				AfterLoad: done,
			}
			if !opts.NoCwdMount || c.IsSet("workdir") {
				opts.Workdir = c.String("workdir")
			}
			if c.IsSet("entrypoint") {
				ep := c.String("entrypoint")
				opts.Entrypoint = &ep
			}
			return engineHint(c, imgsave.Run(c.Context, eng, dir, opts))
		},
	}
}

// misplacedFlags refuses a flag of run's given after DIR, which the
// command line parser takes as the container's command (`imgsave run ./img
// --root -- id` ran "--root", #19): the flags before "--", or the first
// word of the command when there is no "--", that name one of run's flags.
func misplacedFlags(c *cli.Context, dir string, after []string) error {
	words := after
	if i := slices.Index(after, "--"); i >= 0 {
		words = after[:i]
	} else if len(after) > 0 {
		words = after[:1]
	}
	var flags, others []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		name, _, valued := strings.Cut(strings.TrimLeft(w, "-"), "=")
		j := slices.IndexFunc(c.Command.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), name) })
		if !strings.HasPrefix(w, "-") || j < 0 {
			others = append(others, w)
			continue
		}
		flags = append(flags, w)
		if f, ok := c.Command.Flags[j].(cli.DocGenerationFlag); ok && f.TakesValue() && !valued && i+1 < len(words) {
			i++
			flags = append(flags, words[i])
		}
	}
	if len(flags) == 0 {
		return nil
	}
	fixed := append(append(append([]string{"imgsave", "run"}, flags...), dir), others...)
	if rest := after[len(words):]; len(rest) > 0 {
		fixed = append(fixed, rest...)
	}
	return usagef(c, "run: %s after DIR would be the container's command; flags go before DIR: %s", strings.Join(flags, " "), strings.Join(fixed, " "))
}
