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

// Engine is a container engine's command-line interface.
type Engine struct {
	// Path is the absolute path of the CLI binary.
	Path string
	// Name is "docker", "podman" or "apptainer" ([KindApptainer], also
	// for singularity). Anything else is driven as docker.
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

// Find resolves the engine to use. An empty name means docker, falling
// back to podman, then apptainer, then singularity, whichever is first on
// $PATH; a name containing a slash is a path. An engine whose base name
// starts with "podman", that links to podman, or that is podman-docker's
// docker script, is podman; one named apptainer or singularity (or
// linking to one) is Apptainer; any other is driven as docker. Find fails with an error wrapping
// [ErrEngineNotFound] that names what it looked for.
func Find(name string) (*Engine, error) {
	names := []string{name}
	if name == "" {
		names = []string{"docker", "podman", "apptainer", "singularity"}
	}
	var err error
	for _, n := range names {
		var path string
		if path, err = exec.LookPath(n); err == nil {
			if path, err = filepath.Abs(path); err == nil {
				e := &Engine{Path: path, Name: "docker"}
				if isApptainer(path) {
					e.Name = KindApptainer
				} else if isPodman(path) {
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
	if err := e.noStore("pull"); err != nil {
		return err
	}
	p := e.command(ctx, append([]string{"pull"}, operands(ref)...)...)
	return p.err(p.cmd.Run())
}

// Tag runs `E tag SRC DST`. A missing src gives an error wrapping
// [ErrImageNotFound].
func (e *Engine) Tag(ctx context.Context, src, dst string) error {
	if err := e.noStore("tag"); err != nil {
		return err
	}
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
	p := &proc{
		ctx:    ctx,
		cmd:    exec.CommandContext(ctx, e.Path, args...),
		args:   append([]string{filepath.Base(e.Path)}, args...),
		stderr: tailBuffer{max: stderrMax},
	}
	if len(e.Env) > 0 {
		p.cmd.Env = append(os.Environ(), e.Env...)
	}
	p.cmd.Cancel = func() error { return interrupt(p.cmd.Process) }
	p.cmd.WaitDelay = waitDelay
	p.cmd.Stderr = &p.stderr
	return p
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
