package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imgsave/imgsave/loader"
)

// env carries what every command needs besides its flags.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// usageError marks a wrong command line, exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// run is the whole program but for process set-up: it parses args, runs
// the command and maps its error to an exit status in one place.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	app := newApp(e)
	err := app.RunContext(ctx, args)
	var exit *loader.ExitError
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.Code // the container's own status, already reported by it
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "imgsave: %v\nRun 'imgsave --help' for usage.\n", err)
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "imgsave: interrupted")
		return 130
	default:
		fmt.Fprintf(stderr, "imgsave: %s\n", oneLine(err.Error()))
		return 1
	}
}

// oneLine folds an error that carries an engine's multi-line stderr.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ⏎ ")), " ")
}

func newApp(e *env) *cli.App {
	return &cli.App{
		Name:    "imgsave",
		Version: version(),
		Usage:   "keep container images as verified, content-addressed directories in datasets",
		Description: `imgsave saves an image from the container engine into a directory with one
canonical layout (OCI layout plus manifest.json, uncompressed layers named by
digest), so that git-annex or DataLad store each layer once and the image ID
is known offline; and it loads and runs such a directory again, loading only
when the engine lacks the image.`,
		Flags: []cli.Flag{
			&cli.StringFlag{
				Name:    "engine",
				Usage:   "container engine CLI, a name on PATH or a path (default: docker, else podman)",
				EnvVars: []string{"IMGSAVE_ENGINE"},
			},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no progress or notices on stderr"},
		},
		Commands:        []*cli.Command{saveCommand(e), importCommand(e), loadCommand(e), runCommand(e), lsCommand(e), verifyCommand(e), migrateCommand(e)},
		Reader:          e.stdin,
		Writer:          e.stdout,
		ErrWriter:       e.stderr,
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
		CustomAppHelpTemplate: cli.AppHelpTemplate + `
EXAMPLES:
   imgsave save busybox:latest ./img     save an image into ./img
   git annex add img && git commit -m img
   imgsave run ./img -- sh -c 'echo hi'  run it, loading it only if needed
`,
	}
}

// version is the module version imgsave was built from ("(devel)" in a
// checkout), with the VCS revision when the build recorded it.
func version() string {
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

// engine resolves --engine / IMGSAVE_ENGINE.
func engine(c *cli.Context) (*loader.Engine, error) {
	return loader.Find(c.String("engine"))
}

// args checks the number of positional arguments.
func args(c *cli.Context, names ...string) ([]string, error) {
	if c.NArg() != len(names) {
		return nil, usagef("%s: want %d arguments (%s), got %d", c.Command.Name, len(names), strings.Join(names, " "), c.NArg())
	}
	return c.Args().Slice(), nil
}

// printJSON writes v to w as indented JSON, the form of every --json.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// notice writes one line to stderr unless --quiet.
func notice(c *cli.Context, e *env, format string, a ...any) {
	if !c.Bool("quiet") {
		fmt.Fprintf(e.stderr, "imgsave: "+format+"\n", a...)
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
