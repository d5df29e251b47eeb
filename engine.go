package imgsave

import (
	"context"
	"io"

	"github.com/imgsave/imgsave/loader"
)

// Engine is what imgsave needs of a container engine. *loader.Engine
// implements it; see there for the errors each method returns
// ([loader.ErrImageNotFound] and friends).
type Engine interface {
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
	// Run runs the engine with args and the given standard streams.
	Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
	// Endpoint identifies the engine and the daemon it talks to, so that
	// loads into one daemon are serialised and loads into two are not.
	Endpoint() string
	// Kind is "docker" or "podman".
	Kind() string
	// Rootless reports whether containers run in a user namespace owned
	// by the caller, or behind file sharing that maps ownership as one
	// would (Docker Desktop).
	Rootless(ctx context.Context) (bool, error)
}

var _ Engine = (*loader.Engine)(nil)

// Events receives what a long call has to say while it works. Every field
// may be nil.
type Events struct {
	// Notice is one line for the user, such as a tag left where it is.
	Notice func(msg string)
	// Progress is called with the number of bytes streamed so far.
	Progress func(n int64)
}

func (e Events) notice(msg string) {
	if e.Notice != nil {
		e.Notice(msg)
	}
}
