package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
	"github.com/imgsave/imgsave/loader"
)

// remoteProgram is the name git-annex runs imgsave's special remote by.
const remoteProgram = "git-annex-remote-" + imgsave.RemoteType

func remoteCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "remote",
		Usage: "get layers back from the engine or a registry through a git-annex special remote",
		Description: `A git-annex special remote that never stores anything: it hands git-annex
the layers of a dataset's image directories from wherever they already are,
the local engine first (no network), then registries. Setting the remote up
(imgsave remote init, or git annex initremote or enableremote) records the
engine as the source of every image directory already in the dataset; after
that, imgsave save, pull and push record the sources of what they write
(git annex whereis shows them). imgsave remote register records more, such
as a registry that also has an image. (The Go API records nothing by itself:
a program calls imgsave.Register.)

Each time git-annex starts the remote, it removes the extractions that a
killed earlier run left under .git/annex/tmp.

Set up once per dataset, then clone and get as usual:

   imgsave remote install            # git-annex-remote-imgsave beside imgsave
   imgsave remote init               # in the dataset: initremote + untrust
   imgsave save busybox:1.36 img     # records the engine as the layers' source
   git annex add img && git commit -m img
   # in a clone, on a machine whose engine has the image:
   git annex get --from imgsave img  # the layers come out of the engine

A plain 'git annex get' takes each file from the cheapest remote that has
it: from origin when the dataset cloned holds the layers, from imgsave in a
clone of a git-only copy, or with --from imgsave.

The remote is untrusted: an engine or a registry may drop an image any
time, so its copies never count towards numcopies.`,
		Subcommands: []*cli.Command{
			{
				Name:      "install",
				Usage:     "link git-annex-remote-imgsave to this imgsave, so that git-annex finds the remote",
				ArgsUsage: " ",
				Description: `Makes the link git-annex-remote-imgsave -> imgsave in --dir (default: the
folder imgsave is in), and says whether that folder is on PATH.

EXAMPLES:
   imgsave remote install
   imgsave remote install --dir ~/.local/bin`,
				Flags: []cli.Flag{&cli.StringFlag{Name: "dir", Usage: "make the link in `DIR`"}},
				Action: func(c *cli.Context) error {
					if _, err := args(c); err != nil {
						return err
					}
					self, err := os.Executable()
					if err != nil {
						return err
					}
					link, err := imgsave.LinkRemote(self, c.String("dir"))
					if err != nil {
						return err
					}
					fmt.Fprintln(e.stdout, link)
					if p, err := exec.LookPath(remoteProgram); err != nil || p != link {
						fmt.Fprintf(e.stderr, "imgsave: %s is not first on PATH: add %s to PATH so that git-annex finds it\n", remoteProgram, filepath.Dir(link))
					}
					return nil
				},
			},
			{
				Name:      "init",
				Usage:     "set up the remote in a git-annex repository (initremote, autoenable, untrust) and record the sources of its images",
				ArgsUsage: "[DIR]",
				Description: `Runs, in the repository holding DIR (default: the current folder):
   git annex initremote NAME type=external externaltype=imgsave encryption=none autoenable=true
   git annex untrust NAME
Clones enable the remote by themselves (git annex init) when
git-annex-remote-imgsave is on PATH.

Then records the engine as the source of the layers of every image directory
tracked in the repository (each folder with a manifest.json or index.json
that imgsave reads). In a repository that has the remote already, or one
whose git-annex branch has it but that has not enabled it, it does only what
is missing, and records again: running it twice is harmless.

EXAMPLES:
   imgsave remote init
   imgsave remote init --name engine ./dataset`,
				Flags: []cli.Flag{&cli.StringFlag{Name: "name", Value: imgsave.RemoteType, Usage: "the remote's `NAME` in git-annex"}},
				Action: func(c *cli.Context) error {
					dir := "."
					if c.NArg() > 1 {
						return usagef(c, "init: want at most one argument (DIR), got %d", c.NArg())
					}
					if c.NArg() == 1 {
						dir = c.Args().First()
					}
					if _, err := exec.LookPath(remoteProgram); err != nil {
						return notOnPath()
					}
					if err := imgsave.InitRemote(c.Context, dir, c.String("name")); err != nil {
						return err
					}
					eng, err := engine(c)
					var reg *imgsave.Registered
					if err == nil {
						reg, err = imgsave.RegisterDataset(c.Context, dir, imgsave.RegisterOptions{Engine: eng})
					}
					if err != nil && (eng == nil || engineUnusable(err)) {
						// The remote is set up, and serves from registries;
						// engine sources can come later, from where an engine
						// has the images: a notice, not a failure (#29).
						if !globalBool(c, "quiet") {
							fmt.Fprintf(e.stderr, "imgsave: %s\n", printable(fmt.Sprintf("the remote is set up; no engine sources recorded: %v (run imgsave remote register DIR where an engine has the images, or imgsave remote register --registry IMAGE DIR)", err)))
						}
						return nil
					}
					if err != nil {
						return err
					}
					if !globalBool(c, "quiet") && reg.Keys > 0 {
						fmt.Fprintf(e.stderr, "imgsave: recorded %s as sources of %d layers in %d image directories\n", strings.Join(reg.Sources, " and "), reg.Keys, len(reg.Dirs))
					}
					return nil
				},
			},
			{
				Name:      "register",
				Usage:     "record where the layers of an image directory can be had again",
				ArgsUsage: "DIR",
				Description: `Records, for each layer file of DIR, the engine's image (unless --no-engine)
and each --registry image that holds it, in git-annex's location log, so
that every clone knows them. With --registry, an engine that cannot say what
it holds (none, a socket not yours, Apptainer, which keeps no image store)
is left out with a notice: the registries are recorded alone. imgsave save, pull and push do this by
themselves in a dataset that has the remote, and imgsave remote init for
every image directory already there.

EXAMPLES:
   imgsave remote register img
   imgsave remote register --registry 127.0.0.1:5000/tools/align:2.1 img
   imgsave remote register --no-engine --registry 127.0.0.1:5000/tools/align:2.1 img`,
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "registry", Usage: "an image in a registry holding DIR's layers: `IMAGE` (repeatable)"},
					&cli.BoolFlag{Name: "no-engine", Usage: "do not record the engine"},
					jsonFlag, insecureFlag,
				},
				Action: func(c *cli.Context) error {
					a, err := args(c, "DIR")
					if err != nil {
						return err
					}
					opts := imgsave.RegisterOptions{Registries: c.StringSlice("registry"), Insecure: c.Bool("insecure")}
					if !c.Bool("no-engine") {
						eng, err := engine(c)
						switch {
						case err == nil:
							opts.Engine = eng
						case len(opts.Registries) == 0 || !engineUnusable(err):
							return err
						default:
							engineLeftOut(c, e, err)
						}
					}
					reg, err := imgsave.Register(c.Context, a[0], opts)
					if err != nil && opts.Engine != nil && len(opts.Registries) > 0 && engineUnusable(err) {
						// --registry needs no engine: one that cannot say
						// what it holds is left out, with a notice (#29).
						engineLeftOut(c, e, err)
						opts.Engine = nil
						reg, err = imgsave.Register(c.Context, a[0], opts)
					}
					if errors.Is(err, imgsave.ErrNoRemote) {
						return fmt.Errorf("%w (run imgsave remote init in the dataset)", err)
					}
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(e.stdout, reg)
					}
					fmt.Fprintf(e.stdout, "%d layers: %s\n", reg.Keys, strings.Join(reg.Sources, ", "))
					return nil
				},
			},
			{
				Name:      "serve",
				Usage:     "speak git-annex's external special remote protocol on stdin and stdout (what git-annex-remote-imgsave runs)",
				ArgsUsage: " ",
				Description: `git-annex runs git-annex-remote-imgsave with no arguments: set
IMGSAVE_REGISTRY_TIMEOUT in its environment to change how long a registry
source may send nothing (default 1m).`,
				Flags: []cli.Flag{timeoutFlag},
				Action: func(c *cli.Context) error {
					if _, err := args(c); err != nil {
						return err
					}
					if err := checkTimeout(c); err != nil {
						return err
					}
					return imgsave.ServeRemote(c.Context, e.stdin, e.stdout, imgsave.RemoteOptions{
						Engine:      func() (imgsave.Engine, error) { return engine(c) },
						IdleTimeout: c.Duration("timeout"),
					})
				},
			},
		},
	}
}

// registerSources records, after a save, pull or push into a dataset that
// has the special remote, where dir's layers can be had again: the library
// leaves that to its caller (#18). Without the remote it does nothing; a
// failure is a notice and never the command's.
func registerSources(c *cli.Context, e *env, dir string, opts imgsave.RegisterOptions) {
	if !imgsave.HasRemote(c.Context, dir) {
		return
	}
	reg, err := imgsave.Register(c.Context, dir, opts)
	if globalBool(c, "quiet") {
		return
	}
	var msg string
	if err != nil {
		msg = fmt.Sprintf("%s: layer sources not recorded for git-annex: %v (run imgsave remote register %s)", dir, err, dir)
	} else {
		msg = fmt.Sprintf("%s: recorded %s as sources of %d layers for git-annex", dir, strings.Join(reg.Sources, " and "), reg.Keys)
	}
	fmt.Fprintf(e.stderr, "imgsave: %s\n", printable(msg))
}

// engineUnusable reports whether err says the engine cannot tell what
// images it holds: none found, its daemon down or its socket not the
// caller's, or a runtime with no image store (Apptainer). The remote
// serves from registries without one.
func engineUnusable(err error) bool {
	return errors.Is(err, loader.ErrEngineNotFound) || errors.Is(err, loader.ErrDaemonUnreachable) ||
		errors.Is(err, loader.ErrPermissionDenied) || errors.Is(err, loader.ErrNoImageStore)
}

// engineLeftOut says that register records the registries alone.
func engineLeftOut(c *cli.Context, e *env, err error) {
	if !globalBool(c, "quiet") {
		fmt.Fprintf(e.stderr, "imgsave: %s\n", printable(fmt.Sprintf("the engine is not recorded: %v; recording the registries alone", err)))
	}
}

// notOnPath says what to do when git-annex-remote-imgsave is not on PATH:
// add the folder where `remote install` made it (beside imgsave, or the
// usual --dir ~/.local/bin) to PATH, or make it (#19).
func notOnPath() error {
	var dirs []string
	if self, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(self))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".local", "bin"))
	}
	for _, d := range dirs {
		if _, err := os.Lstat(filepath.Join(d, remoteProgram)); err == nil {
			return fmt.Errorf("%s is in %s, which is not on PATH, and git-annex runs it: add that folder to PATH (export PATH=%s:$PATH)", remoteProgram, d, shellQuote(d))
		}
	}
	return fmt.Errorf("%s is not on PATH, and git-annex runs it (run imgsave remote install)", remoteProgram)
}
