package loader

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// waitDelay is how long a command may take to exit after SIGINT before it
// is killed. Tests shorten it.
var waitDelay = 5 * time.Second

const (
	// stderrMax bounds the stderr kept for a RunError: the end of it, where
	// the engine puts its error.
	stderrMax = 4 << 10
	// outputMax bounds the stdout read from load and inspect.
	outputMax = 4 << 20
)

// Runtime is what every runtime [FindRuntime] finds does: say what it is
// and where it runs. An [*Engine] (docker, podman) also keeps an image
// store; an [*Apptainer] builds and runs SIF files.
type Runtime interface {
	// Kind is "docker", "podman" or "apptainer", for display: what a
	// runtime can do is asked of its methods.
	Kind() string
	// Endpoint identifies the binary and the daemon it talks to.
	Endpoint() string
	// Info asks the runtime what it is: its version, store, platform.
	Info(ctx context.Context) (*Info, error)
	// Platform is what its containers run natively, "os/arch[/variant]".
	Platform(ctx context.Context) (string, error)
	// Rootless reports whether its containers run as the caller.
	Rootless(ctx context.Context) (bool, error)
}

var (
	_ Runtime = (*Engine)(nil)
	_ Runtime = (*Apptainer)(nil)
)

// Engine is a container engine with an image store, docker or podman,
// driven through its command-line interface (and docker's socket).
type Engine struct {
	// Path is the absolute path of the CLI binary.
	Path string
	// Name is "docker" or "podman". Anything else is driven as docker.
	Name string
	// Env is appended to the environment of every command, after
	// os.Environ(), so DOCKER_HOST=... here overrides the process's own. It
	// may be nil.
	Env []string
	// Shim is set for a docker command that is podman-docker's script
	// running podman; Name is then "podman".
	Shim bool

	// cliOnly drives docker's save and load through its CLI even where
	// the socket's API would do, so that tests cover both paths.
	cliOnly bool
}

// FindRuntime resolves the runtime to use. An empty name means docker, falling
// back to podman, then apptainer, then singularity, whichever is first on
// $PATH; a name containing a slash is a path. An engine whose base name
// starts with "podman", that links to podman, or that is podman-docker's
// docker script, is podman; one named apptainer or singularity (or
// linking to one) is an [*Apptainer]; any other is driven as docker.
// FindRuntime fails with an error wrapping [ErrEngineNotFound] that names
// what it looked for.
func FindRuntime(name string) (Runtime, error) {
	names := []string{name}
	if name == "" {
		names = []string{"docker", "podman", "apptainer", "singularity"}
	}
	var err error
	for _, n := range names {
		var path string
		if path, err = exec.LookPath(n); err == nil {
			if path, err = filepath.Abs(path); err == nil {
				if isApptainer(path) {
					return &Apptainer{Path: path}, nil
				}
				e := &Engine{Path: path, Name: "docker"}
				if isPodman(path) {
					e.Name = "podman"
					e.Shim = !strings.HasPrefix(filepath.Base(path), "podman")
				}
				return e, nil
			}
		}
	}
	if name == "" {
		return nil, fmt.Errorf("%w: none of docker, podman, apptainer, singularity is in $PATH", ErrEngineNotFound)
	}
	return nil, fmt.Errorf("%w: %v", ErrEngineNotFound, err)
}

// SuggestRuntime adds to err, when it is docker's refusal of its socket
// ([ErrPermissionDenied]), the runtime on $PATH the caller could use
// instead: a plain user on a cluster is better off with Apptainer than in
// the docker group, which is as good as root there. Call it only when the
// engine was not chosen. Other errors come back as they are.
func SuggestRuntime(err error) error {
	if !errors.Is(err, ErrPermissionDenied) {
		return err
	}
	for _, alt := range []string{"apptainer", "singularity", "podman"} {
		if _, lerr := exec.LookPath(alt); lerr == nil {
			return fmt.Errorf("%w; docker's socket is not usable by you; %s is on PATH: --engine %s", err, alt, alt)
		}
	}
	return err
}

// Find is [FindRuntime] for a caller that needs an image store: an
// Apptainer found gives an error wrapping [ErrNoImageStore].
func Find(name string) (*Engine, error) {
	r, err := FindRuntime(name)
	if err != nil {
		return nil, err
	}
	e, ok := r.(*Engine)
	if !ok {
		return nil, fmt.Errorf("%s: %w", r.(*Apptainer).Path, ErrNoImageStore)
	}
	return e, nil
}

// Endpoint identifies the engine binary and the daemon it talks to: its
// path; for docker the daemon's address as the CLI resolves it (so that
// `docker context use` names another daemon); for podman CONTAINER_HOST
// and CONTAINER_CONNECTION.
func (e *Engine) Endpoint() string {
	if e.Name == "podman" {
		return strings.Join([]string{e.Path, e.getenv("CONTAINER_HOST"), e.getenv("CONTAINER_CONNECTION")}, "\x00")
	}
	host, _ := e.dockerHost()
	return strings.Join([]string{e.Path, host}, "\x00")
}

// Pull runs `E pull REF`, discarding its progress output. A reference the
// registry does not have gives an error wrapping [ErrImageNotFound].
func (e *Engine) Pull(ctx context.Context, ref string) error {
	p := e.command(ctx, append([]string{"pull"}, operands(ref)...)...)
	return p.err(p.cmd.Run())
}

// Tag runs `E tag SRC DST`. A missing src gives an error wrapping
// [ErrImageNotFound].
func (e *Engine) Tag(ctx context.Context, src, dst string) error {
	p := e.command(ctx, append([]string{"tag"}, operands(src, dst)...)...)
	return p.err(p.cmd.Run())
}

// proc is an engine command built by [Engine.command].
type proc struct {
	ctx    context.Context
	cmd    *exec.Cmd
	args   []string // for RunError: the engine's base name, then the arguments
	stderr tailBuffer
}

// command builds every engine command. Cancelling ctx sends the engine
// SIGINT, so that it can tell its daemon to stop too, and kills it if it
// has not exited waitDelay later (on Windows at once: see interrupt).
// Stderr is kept (its end) for the RunError.
func (e *Engine) command(ctx context.Context, args ...string) *proc {
	return newProc(ctx, e.Path, e.Env, args...)
}

// newProc is [Engine.command] of the binary at path, env appended to the
// environment.
func newProc(ctx context.Context, path string, env []string, args ...string) *proc {
	p := &proc{
		ctx:    ctx,
		cmd:    exec.CommandContext(ctx, path, args...),
		args:   append([]string{filepath.Base(path)}, args...),
		stderr: tailBuffer{max: stderrMax},
	}
	if len(env) > 0 {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Cancel = func() error { return interrupt(p.cmd.Process) }
	p.cmd.WaitDelay = waitDelay
	p.cmd.Stderr = &p.stderr
	return p
}

// output runs p's command and returns its stdout, at most outputMax
// bytes: more is an error, as the command's failure is (see err).
func (p *proc) output() ([]byte, error) {
	out := &tailBuffer{max: outputMax}
	p.cmd.Stdout = out
	if err := p.err(p.cmd.Run()); err != nil {
		return nil, err
	}
	if out.dropped {
		return nil, &RunError{Args: p.args, Err: fmt.Errorf("output exceeds %d bytes", outputMax)}
	}
	return out.buf, nil
}

// err turns an error from starting or waiting for p's command into a
// *RunError carrying the classified sentinel, the context's cause when the
// context ended, or else err itself. It returns nil for nil.
func (p *proc) err(err error) error {
	if err == nil {
		return nil
	}
	stderr := p.stderr.String()
	switch {
	case p.ctx.Err() != nil:
		err = context.Cause(p.ctx)
	case p.cmd.ProcessState == nil && (errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist)):
		err = ErrEngineNotFound
	default:
		if c := Classify(stderr); c != nil {
			err = c
		}
	}
	return &RunError{Args: p.args, Stderr: stderr, Err: err}
}

// operands protects image references from being read as options: a
// reference starting with "-" is a hostile one, and after "--" the engine
// rejects it instead of obeying it (docker save --output=...).
func operands(args ...string) []string {
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			return append([]string{"--"}, args...)
		}
	}
	return args
}

// getenv looks key up in e.Env (the last setting wins, as for the engine
// itself), then in the process's environment.
func (e *Engine) getenv(key string) string {
	for i := len(e.Env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(e.Env[i], "="); ok && k == key {
			return v
		}
	}
	return os.Getenv(key)
}

// tailBuffer is an io.Writer keeping the last max bytes written to it.
type tailBuffer struct {
	buf     []byte
	max     int
	dropped bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= b.max {
		b.dropped = b.dropped || len(b.buf) > 0 || len(p) > b.max
		b.buf = append(b.buf[:0], p[len(p)-b.max:]...)
		return n, nil
	}
	if over := len(b.buf) + len(p) - b.max; over > 0 {
		b.dropped = true
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

// String returns what was kept, trimmed, led by "..." when its start was
// dropped.
func (b *tailBuffer) String() string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b.buf), ""))
	if b.dropped && s != "" {
		s = "..." + s
	}
	return s
}
