package imgsave

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// RunOptions tune [Run].
type RunOptions struct {
	LoadOptions
	// Command replaces the image's default command when not empty.
	Command []string
	// Workdir is where the current directory is mounted and the working
	// directory in the container; "" means /tmp, as datalad-container does.
	Workdir string
	// NoCwdMount leaves the current directory unmounted; Workdir, when set,
	// is still the working directory.
	NoCwdMount bool
	// Cwd is the directory mounted at Workdir; "" means the current one.
	Cwd string
	// Mounts are more bind mounts, "SRC:DST" or "SRC:DST:ro"; a relative
	// SRC is taken from the current directory.
	Mounts []string
	// Env sets variables in the container, each "K=V".
	Env []string
	// User runs the container as "UID[:GID]"; "" means the caller's uid and
	// gid, so that the files it writes are the caller's. Root keeps the
	// image's own user instead.
	User string
	Root bool
	// Entrypoint replaces the image's entrypoint when set.
	Entrypoint *string
	// EngineArgs go to the engine's run before the image.
	EngineArgs []string
	// TTY allocates a terminal (the CLI sets it when stdin and stdout are
	// terminals).
	TTY bool
	// Stdin, Stdout and Stderr are the container's; nil means the null
	// device.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// AfterLoad, when set, is called once the image is in the engine and
	// before the container starts, whether or not a load was needed (the
	// CLI clears its progress line there).
	AfterLoad func()
}

// Run loads the directory's image as [Load] does, then runs it with the
// engine's `run --rm --interactive` and returns when the container has
// exited: nil for status 0, else a *loader.ExitError with its status.
// Once the container runs, ctx ending does not stop it: SIGINT and SIGTERM
// are relayed to it instead, and it decides (see loader.Engine.Run). A
// malformed option is an *OptionError, reported before anything is loaded.
func Run(ctx context.Context, eng Engine, dir string, opts RunOptions) error {
	args, err := runArgs(opts)
	if err != nil {
		return err
	}
	l, err := Load(ctx, eng, dir, opts.LoadOptions)
	if opts.AfterLoad != nil {
		opts.AfterLoad()
	}
	if err != nil {
		return err
	}
	args = append(append(args, string(l.EngineID)), opts.Command...)
	return eng.Run(ctx, args, opts.Stdin, opts.Stdout, opts.Stderr)
}

// runArgs builds `run ...` up to the image.
func runArgs(o RunOptions) ([]string, error) {
	if o.User != "" && o.Root {
		return nil, &OptionError{Option: "User", Value: o.User, Want: "no user together with Root"}
	}
	a := []string{"run", "--rm", "--interactive"}
	if o.TTY {
		a = append(a, "--tty")
	}
	workdir := o.Workdir
	if workdir == "" {
		workdir = "/tmp"
	}
	if !o.NoCwdMount {
		cwd := o.Cwd
		if cwd == "" {
			var err error
			if cwd, err = os.Getwd(); err != nil {
				return nil, err
			}
		}
		a = append(a, "--volume", cwd+":"+workdir, "--workdir", workdir)
	} else if o.Workdir != "" {
		a = append(a, "--workdir", o.Workdir)
	}
	for _, m := range o.Mounts {
		src, rest, ok := strings.Cut(m, ":")
		if !ok || src == "" || rest == "" {
			return nil, &OptionError{Option: "Mounts", Value: m, Want: "SRC:DST[:ro]"}
		}
		abs, err := filepath.Abs(src)
		if err != nil {
			return nil, err
		}
		a = append(a, "--volume", abs+":"+rest)
	}
	for _, kv := range o.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, &OptionError{Option: "Env", Value: kv, Want: "K=V"}
		}
		a = append(a, "--env", kv)
	}
	switch {
	case o.Root:
	case o.User != "":
		a = append(a, "--user", o.User)
	default:
		a = append(a, "--user", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()))
	}
	if o.Entrypoint != nil {
		a = append(a, "--entrypoint", *o.Entrypoint)
	}
	return append(a, o.EngineArgs...), nil
}
