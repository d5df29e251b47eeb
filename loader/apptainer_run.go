package loader

import (
	"context"
	"io"
	"os"
	"strings"
)

// Bind is a bind mount: the host path Src at Dst in the container.
type Bind struct {
	Src, Dst string
	ReadOnly bool
}

// SIFRun is one run of a SIF file, as [Apptainer.RunSIF] takes it: the
// run options themselves, which Apptainer's command line is built from.
type SIFRun struct {
	// SIF is the file to run.
	SIF string
	// Entrypoint, when set, replaces the image's entrypoint (`apptainer
	// exec SIF ENTRYPOINT COMMAND...`); "" clears it, and Command is then
	// what runs. Unset, `apptainer run` follows the image's entrypoint
	// and command, as docker does.
	Entrypoint *string
	// Command replaces the image's command when not empty.
	Command []string
	// Binds are mounted in order; Workdir is the working directory.
	Binds   []Bind
	Workdir string
	// Env sets "K=V" in the container byte for byte (see [CheckSIFEnv]).
	Env []string
	// Root runs as root in the container: --fakeroot for a plain user.
	Root bool
	// EngineArgs go to Apptainer's run before the SIF file.
	EngineArgs []string
	// Stdin, Stdout and Stderr are the container's; nil means the null
	// device.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// args is `run ...` (or `exec ...`) of r, up to the command. The
// container keeps the host out: --containall (its own /tmp, /dev, PID and
// IPC namespaces, an empty home), --cleanenv (no host variables), and
// --no-eval, so that arguments reach the command as given, not through a
// shell. A plain user without /dev/fuse runs the SIF unpacked
// (--unsquash).
func (r SIFRun) args(euid int, unsquash bool) []string {
	a := []string{"run", "--containall", "--cleanenv", "--no-eval"}
	if r.Entrypoint != nil {
		a[0] = "exec"
	}
	if r.Root && euid != 0 {
		a = append(a, "--fakeroot")
	}
	if unsquash {
		a = append(a, "--unsquash")
	}
	for _, b := range r.Binds {
		a = append(a, "--mount", b.apptainerMount())
	}
	a = append(append(a, "--pwd", r.Workdir), r.EngineArgs...)
	a = append(a, r.SIF)
	if r.Entrypoint != nil && *r.Entrypoint != "" {
		a = append(a, *r.Entrypoint)
	}
	return append(a, r.Command...)
}

// apptainerMount is Apptainer's --mount value for b: a CSV record as
// docker's (Apptainer parses it with encoding/csv), each field quoted when
// it holds a comma, quote or line break, so that a source such as
// "a,target=b" stays one path.
func (b Bind) apptainerMount() string {
	f := []string{"type=bind", csvField("source=" + b.Src), csvField("destination=" + b.Dst)}
	if b.ReadOnly {
		f = append(f, "ro")
	}
	return strings.Join(f, ",")
}

// csvField quotes s as a CSV field when it needs it.
func csvField(s string) string {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// RunSIF runs r with `apptainer run` (or `exec`), as [Engine.Run] runs a
// container: signals relayed, its status returned as an *ExitError. r.Env
// is set in the container byte for byte, as docker's --env sets it
// (Apptainer's own --env would split a value at its commas), and the
// host's variables that would change the container are kept out of
// Apptainer's environment (see apptainerEnviron). An env that
// [CheckSIFEnv] refuses is an error before anything runs.
func (a *Apptainer) RunSIF(ctx context.Context, r SIFRun) error {
	if err := CheckSIFEnv(r.Env); err != nil {
		return err
	}
	p := a.command(context.WithoutCancel(ctx), r.args(os.Geteuid(), a.Unsquashes())...)
	p.cmd.Env = apptainerEnviron(append(os.Environ(), a.Env...), r.Env)
	return p.attach(r.Stdin, r.Stdout, r.Stderr, nil)
}
