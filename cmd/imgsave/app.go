package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave"
	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/manifest"
)

// env carries what every command needs besides its flags.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// usageError marks a wrong command line, exit status 2. cmd is the
// command whose --help the hint names, "" for imgsave's own.
type usageError struct{ cmd, msg string }

func (e usageError) Error() string { return e.msg }

func usagef(c *cli.Context, format string, args ...any) error {
	return usageError{cmdName(c), fmt.Sprintf(format, args...)}
}

func cmdName(c *cli.Context) string {
	// The path from imgsave down ("remote init"), from the contexts'
	// lineage: a subcommand's FullName is not yet set when it runs.
	var path []string
	if c == nil {
		return ""
	}
	for _, x := range c.Lineage() {
		if x.Command != nil && x.Command.Name != "" && x.Command.Name != "imgsave" &&
			(len(path) == 0 || path[0] != x.Command.Name) {
			path = append([]string{x.Command.Name}, path...)
		}
	}
	return strings.Join(path, " ")
}

// run is the whole program but for process set-up: it parses args, runs
// the command and maps its error to an exit status in one place.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	app := newApp(e)
	err := app.RunContext(ctx, args)
	var exit *loader.ExitError
	var usage usageError
	var trouble troubleError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.Code // the container's own status, already reported by it
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "imgsave: %v\n", printable(usage.msg))
		if usage.cmd != "" {
			fmt.Fprintf(stderr, "Run 'imgsave %s --help' for usage.\n", usage.cmd)
		} else {
			fmt.Fprintln(stderr, "Run 'imgsave --help' for usage.")
		}
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "imgsave: interrupted")
		return 130
	case errors.Is(err, errDiffer):
		return 1 // diff printed how they differ
	case errors.As(err, &trouble):
		fmt.Fprintf(stderr, "imgsave: %s%s\n", printable(oneLine(err.Error())), hint(err))
		return 2 // diff's error, as diff(1) and cmp(1) give
	default:
		fmt.Fprintf(stderr, "imgsave: %s%s\n", printable(oneLine(err.Error())), hint(err))
		return 1
	}
}

// optionFlags names the flag behind each field of an *imgsave.OptionError.
var optionFlags = map[string]string{"Pull": "--pull", "Mounts": "--mount", "Env": "--env", "User": "--user", "SIFTrustedOwners": "--sif-trust-owner"}

// hint is what to type next, for the library errors that a flag remedies.
func hint(err error) string {
	switch {
	case errors.Is(err, archive.ErrNotEmpty):
		return " (use --force to replace it)"
	case errors.Is(err, archive.ErrSelect):
		return " (pick one with --repo-tag or --config)"
	}
	return ""
}

// oneLine folds an error that carries an engine's multi-line stderr.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ⏎ ")), " ")
}

// globalFlags are accepted before the command name and after it
// (`imgsave --quiet run` and `imgsave run --quiet`); read them with
// [global] and [globalBool].
func globalFlags(app bool) []cli.Flag {
	engine := &cli.StringFlag{Name: "engine", Usage: "container engine CLI, a name on PATH or a path (default: docker, else podman, else apptainer, else singularity)"}
	if app {
		engine.EnvVars = []string{"IMGSAVE_ENGINE"}
	}
	return []cli.Flag{engine, &cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no progress or notices on stderr"},
		&cli.BoolFlag{Name: "verbose", Usage: "also show the engine's own messages (Apptainer's WARNING and INFO lines)"}}
}

// global is a global flag's value: the command's when given after its
// name, else the one given before it (or its environment variable).
func global(c *cli.Context, name string) string {
	for _, x := range c.Lineage() {
		if x.IsSet(name) {
			return x.String(name)
		}
	}
	return ""
}

func globalBool(c *cli.Context, name string) bool {
	for _, x := range c.Lineage() {
		if x.IsSet(name) {
			return x.Bool(name)
		}
	}
	return false
}

func newApp(e *env) *cli.App {
	cmds := []*cli.Command{saveCommand(e), pullCommand(e), pushCommand(e), importCommand(e), loadCommand(e), runCommand(e), lsCommand(e), diffCommand(e), duCommand(e), gcCommand(e), verifyCommand(e), signCommand(e), attestationCommand(e), trustRootCommand(e), migrateCommand(e), engineCommand(e), remoteCommand(e), completionCommand(e), manCommand(e)}
	for _, c := range cmds {
		c.Flags = append(c.Flags, globalFlags(false)...)
		wrap(c)
	}
	return &cli.App{
		Name:    "imgsave",
		Version: buildVersion(),
		Usage:   "keep container images as verified, content-addressed directories in datasets",
		Description: `imgsave saves an image from the container engine into a directory with one
canonical layout (OCI layout plus manifest.json, uncompressed layers named by
digest), so that git-annex or DataLad store each layer once and the image ID
is known offline; and it loads and runs such a directory again, loading only
when the engine lacks the image. Global options go before or after the
command name.`,
		Flags:           globalFlags(true),
		Commands:        cmds,
		Reader:          e.stdin,
		Writer:          e.stdout,
		ErrWriter:       e.stderr,
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		// --mount and --env values may hold commas (paths, lists): one flag,
		// one value.
		DisableSliceFlagSeparator: true,
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageError{msg: err.Error()}
		},
		// Without an Action, urfave/cli answers an unknown command with
		// "No help topic" and status 1: a usage error instead (#19).
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowAppHelp(c)
			}
			return usageError{msg: unknownCommand("", c.Args().First(), cmds)}
		},
		CustomAppHelpTemplate: cli.AppHelpTemplate + `
EXAMPLES:
   imgsave save busybox:latest ./img     save an image into ./img
   git annex add img && git commit -m img
   imgsave run ./img -- sh -c 'echo hi'  run it, loading it only if needed
`,
	}
}

// wrap gives c and its subcommands one usage-error path and the option
// error mapping. A group without an Action of its own (remote) answers no
// subcommand, or an unknown one, with a usage error: urfave/cli would call
// its nil Action (#19).
func wrap(c *cli.Command) {
	c.OnUsageError = func(c *cli.Context, err error, _ bool) error { return usagef(c, "%v", err) }
	for _, sub := range c.Subcommands {
		sub.Flags = append(sub.Flags, globalFlags(false)...)
		wrap(sub)
	}
	action := c.Action
	if action == nil {
		action = func(x *cli.Context) error {
			if x.NArg() == 0 {
				return usageError{c.Name, fmt.Sprintf("%s: a command is needed: %s", c.Name, strings.Join(names(c.Subcommands), ", "))}
			}
			return usageError{c.Name, unknownCommand(c.Name, x.Args().First(), c.Subcommands)}
		}
	}
	c.Action = func(c *cli.Context) error {
		err := action(c)
		// A malformed option value is a wrong command line: name the flag.
		if opt := (*imgsave.OptionError)(nil); errors.As(err, &opt) {
			return usagef(c, "%s %q: want %s", optionFlags[opt.Option], opt.Value, opt.Want)
		}
		return err
	}
}

func names(cmds []*cli.Command) []string {
	var n []string
	for _, c := range cmds {
		if !c.Hidden && c.Name != "help" {
			n = append(n, c.Name)
		}
	}
	return n
}

// unknownCommand says that name is not one of cmds (of group, "" for
// imgsave's own), suggesting the one it looks like a slip of.
func unknownCommand(group, name string, cmds []*cli.Command) string {
	msg := fmt.Sprintf("no command %q", name)
	if group != "" {
		msg = group + ": " + msg
	}
	best, bestD := "", 3
	for _, c := range cmds {
		if c.Hidden || c.Name == "help" {
			continue
		}
		if d := editDistance(strings.ToLower(name), c.Name); d < bestD || (strings.HasPrefix(c.Name, name) && name != "" && bestD > 0) {
			best, bestD = c.Name, min(d, 1)
		}
	}
	if best != "" {
		msg += fmt.Sprintf("; did you mean %q?", best)
	}
	return msg
}

// editDistance is Levenshtein's distance between a and b, for suggestions.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// version is stamped in by `make release` (scripts/release.sh):
// -ldflags "-X main.version=v1.2.3".
var version string

// buildVersion is the stamped version; else the module version imgsave was
// built from ("(devel)" in a checkout), with the VCS revision when the
// build recorded it.
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// engine resolves --engine / IMGSAVE_ENGINE for a command that needs an
// image store: Apptainer gives an error wrapping loader.ErrNoImageStore.
func engine(c *cli.Context) (*loader.Engine, error) {
	return loader.Find(global(c, "engine"))
}

// runner resolves --engine / IMGSAVE_ENGINE for load and run, which take
// any runtime: an Engine or Apptainer, whose chatter stays off unless
// --verbose.
func runner(c *cli.Context) (loader.Runtime, error) {
	r, err := loader.FindRuntime(global(c, "engine"))
	if err != nil {
		return nil, err
	}
	if a, ok := r.(*loader.Apptainer); ok {
		a.Verbose = globalBool(c, "verbose")
	}
	return r, nil
}

// engineHint adds to an engine's refusal of its socket what else this
// user can run on, when the engine was not chosen: a plain user on a
// cluster is better off with Apptainer than joining the docker group,
// which is as good as root there.
func engineHint(c *cli.Context, err error) error {
	if global(c, "engine") != "" {
		return err
	}
	return loader.SuggestRuntime(err)
}

// args checks the number of positional arguments.
func args(c *cli.Context, names ...string) ([]string, error) {
	if c.NArg() != len(names) && len(names) == 0 {
		return nil, usagef(c, "%s: takes no arguments, got %q", c.Command.Name, c.Args().Slice())
	}
	if c.NArg() != len(names) {
		return nil, usagef(c, "%s: want %d arguments (%s), got %d", c.Command.Name, len(names), strings.Join(names, " "), c.NArg())
	}
	return c.Args().Slice(), nil
}

// printJSON writes v to w as indented JSON, the form of every --json.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// events wires a command's notices (unless --quiet) and its progress line
// (when stderr is a terminal) to stderr. Call done when the work ends.
func events(c *cli.Context, e *env, label string) (ev imgsave.Events, done func()) {
	quiet := globalBool(c, "quiet")
	p := newProgress(e.stderr, quiet, label)
	ev.Progress = p.Func()
	if !quiet {
		ev.Notice = func(msg string) {
			p.Clear()
			fmt.Fprintf(e.stderr, "imgsave: %s\n", printable(msg))
		}
	}
	if !quiet && isTerminal(e.stderr) {
		ev.Step = func(what string) func() { return stepLine(e.stderr, what) }
	}
	return ev, p.Done
}

// stepLine draws "imgsave: WHAT  12s" on one terminal line, once a
// second, until done is called, which clears it: the progress of a long
// step that streams no bytes (the build of a SIF file).
func stepLine(w io.Writer, what string) (done func()) {
	start := time.Now()
	stop, stopped := make(chan struct{}), make(chan struct{})
	draw := func() {
		fmt.Fprintf(w, "\r\x1b[Kimgsave: %s  %ds", printable(what), int(time.Since(start).Seconds()))
	}
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		draw()
		for {
			select {
			case <-stop:
				fmt.Fprint(w, "\r\x1b[K")
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return func() {
		close(stop)
		<-stopped
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerm(f)
}

func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && isTerm(f)
}

// checkOrder refuses IMAGE and DIR given the wrong way round (`imgsave pull
// ./dir 127.0.0.1:5000/x:1` went looking for a registry named "."), #19:
// asDir, given where the image belongs, is an image directory or a path no
// reference can be, and asImage, given where DIR belongs, is a reference
// and no path. order names the right one ("IMAGE DIR"), fixed the command
// line that means it.
func checkOrder(c *cli.Context, order, asDir, asImage, fixed string) error {
	_, dirRefErr := manifest.ParseReference(asDir)
	_, imageRefErr := manifest.ParseReference(asImage)
	// A bare name (img) may be an engine's image and a folder at once:
	// only a path no reference can be, or an image directory given
	// beside a reference with a tag, digest or repository, counts.
	pathOnly := dirRefErr != nil && (strings.HasPrefix(asDir, ".") || filepath.IsAbs(asDir) || strings.HasPrefix(asDir, "~"))
	dirLike := pathOnly || isImageDir(asDir) && strings.ContainsAny(asImage, ":@/")
	if dirLike && imageRefErr == nil && !exists(asImage) {
		return usagef(c, "%s: %q looks like a directory and %q like an image: the order is %s, as in %s", c.Command.Name, asDir, asImage, order, fixed)
	}
	return nil
}

// isImageDir reports whether p is a directory holding an image's JSON.
func isImageDir(p string) bool {
	return exists(filepath.Join(p, "index.json")) || exists(filepath.Join(p, "manifest.json"))
}
