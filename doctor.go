package imgsave

import (
	"context"
	"runtime"

	"github.com/imgsave/imgsave/loader"
)

// EngineReport is what [Doctor] found out about the engine.
type EngineReport struct {
	loader.Info
	// UserMapping is how run maps the caller into containers:
	// "--user UID:GID", "--userns=keep-id" or "none".
	UserMapping string `json:"user_mapping"`
	// Problems are what stands in the way, each saying what to do.
	Problems []string `json:"problems"`
	// Notes are what works, but slower or otherwise than expected.
	Notes []string `json:"notes,omitempty"`
}

// Doctor finds the engine as every command does (name as in loader.Find)
// and asks it what it is: its version, image store, whether it is rootless
// and how imgsave talks to it. What fails goes into Problems, with the
// remedy the error carries; the error is for a context that ended.
func Doctor(ctx context.Context, name string) (*EngineReport, error) {
	r := &EngineReport{Problems: []string{}}
	eng, err := loader.Find(name)
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
		return r, nil
	}
	in, err := eng.Info(ctx)
	r.Info = *in
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		r.Problems = append(r.Problems, err.Error())
		return r, nil
	}
	r.UserMapping = pickMapping(runtime.GOOS, in.Name, in.Rootless || in.Desktop).String()
	if in.Name == loader.KindApptainer {
		r.UserMapping = "the caller (Apptainer's own way)"
		if in.Fuse != nil && !*in.Fuse && in.Rootless {
			r.Notes = append(r.Notes, "no usable /dev/fuse: run unpacks the image into a temporary folder each time (--unsquash)")
		}
	}
	return r, nil
}
