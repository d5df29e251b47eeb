package imgsave

import (
	"context"
	"fmt"
	"io"

	"github.com/imgsave/imgsave/loader"
)

// Runner is what every runtime imgsave drives has: an identity, so that
// loads into one are serialised and loads into two are not. What else a
// runtime can do is asked of it once, where it is needed, by the
// interfaces below: an [Engine] keeps an image store and runs containers
// from it (*loader.Engine: docker, podman); a [SIFBuilder] builds SIF
// files and runs them (*loader.Apptainer). [Load] and [Run] take either;
// [Save] needs an Engine.
type Runner interface {
	// Endpoint identifies the runtime and the daemon it talks to.
	Endpoint() string
}

// Engine is a runtime with an image store. *loader.Engine implements it;
// see there for the errors each method returns ([loader.ErrImageNotFound]
// and friends).
type Engine interface {
	Runner
	// Inspect describes one image, named by ID, digest or name.
	Inspect(ctx context.Context, name string) (*loader.Image, error)
	// Save streams the engine's save of refs.
	Save(ctx context.Context, refs ...string) (io.ReadCloser, error)
	// Load feeds r to the engine's load.
	Load(ctx context.Context, r io.Reader) (string, error)
	// Tag points dst at the image src.
	Tag(ctx context.Context, src, dst string) error
	// Pull fetches ref from its registry.
	Pull(ctx context.Context, ref string) error
	// Run runs the engine with args (`run --rm ...`) and the given
	// standard streams, relaying signals, and returns the container's
	// status as a *loader.ExitError.
	Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
	// Rootless reports whether containers run in a user namespace owned
	// by the caller, or behind file sharing that maps ownership as one
	// would (Docker Desktop).
	Rootless(ctx context.Context) (bool, error)
}

// SIFBuilder is a runtime without an image store that builds a SIF file
// from an OCI layout and runs that: *loader.Apptainer.
type SIFBuilder interface {
	Runner
	BuildSIF(ctx context.Context, b loader.SIFBuild) error
	RunSIF(ctx context.Context, r loader.SIFRun) error
}

var (
	_ Engine     = (*loader.Engine)(nil)
	_ SIFBuilder = (*loader.Apptainer)(nil)
)

// noRunner is the error for a Runner that is neither an Engine nor a
// SIFBuilder.
func noRunner(r Runner) error {
	return fmt.Errorf("%s: neither an image store nor a SIF builder", r.Endpoint())
}

// Events receives what a long call has to say while it works. Every field
// may be nil.
type Events struct {
	// Notice is one line for the user, such as a tag left where it is.
	Notice func(msg string)
	// Progress is called with the number of bytes streamed so far.
	Progress func(n int64)
	// Step is called when a long step that streams no bytes begins (the
	// build of a SIF file), with what it does; the function it returns is
	// called when the step ends.
	Step func(what string) (done func())
}

func (e Events) notice(msg string) {
	if e.Notice != nil {
		e.Notice(msg)
	}
}

// step begins a long step: see Events.Step.
func (e Events) step(what string) (done func()) {
	if e.Step == nil {
		return func() {}
	}
	return e.Step(what)
}
