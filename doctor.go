package imgsave

import (
	"context"

	"github.com/imgsave/imgsave/loader"
)

// EngineReport is what [Doctor] found out about the engine.
type EngineReport struct {
	loader.Info
	// UserMapping is how run maps the caller into containers:
	// "--user UID:GID", "--userns=keep-id" or "none".
	UserMapping string `json:"user_mapping"`
	// SIFCaches are, on Apptainer, the SIF caches load and run use: the
	// site caches, read first, then the caller's own.
	SIFCaches []string `json:"sif_caches,omitempty"`
	// Problems are what stands in the way, each saying what to do.
	Problems []string `json:"problems"`
	// Notes are what works, but slower or otherwise than expected.
	Notes []string `json:"notes,omitempty"`
}

// DoctorOptions tune [Doctor].
type DoctorOptions struct {
	// SIFCache and SIFSiteCaches are as [LoadOptions] has them.
	SIFCache      string
	SIFSiteCaches []string
}

// Doctor finds the engine as every command does (name as in
// loader.FindRuntime) and asks it what it is: its version, image store,
// whether it is rootless and how imgsave talks to it. What fails goes
// into Problems, with the remedy the error carries; the error is for a
// context that ended.
func Doctor(ctx context.Context, name string, opts DoctorOptions) (*EngineReport, error) {
	r := &EngineReport{Problems: []string{}}
	eng, err := loader.FindRuntime(name)
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
		if name == "" {
			err = loader.SuggestRuntime(err)
		}
		r.Problems = append(r.Problems, err.Error())
		return r, nil
	}
	switch eng := eng.(type) {
	case Engine:
		m, err := userMapping(ctx, eng)
		if err != nil {
			r.Problems = append(r.Problems, err.Error())
		}
		r.UserMapping = m.String()
		// What makes every run fail, found without running one.
		if p, ok := eng.(interface {
			Problems(context.Context) []string
		}); ok {
			r.Problems = append(r.Problems, p.Problems(ctx)...)
		}
	case SIFBuilder:
		r.UserMapping = "the caller (Apptainer's own way)"
		if u, ok := eng.(interface{ Unsquashes() bool }); ok && u.Unsquashes() {
			r.Notes = append(r.Notes, "no usable /dev/fuse: run unpacks the image into a temporary folder each time (--unsquash)")
		}
		for _, s := range opts.SIFSiteCaches {
			if s != "" {
				r.SIFCaches = append(r.SIFCaches, s)
			}
		}
		own, err := SIFCacheDir(opts.SIFCache)
		if err != nil {
			r.Problems = append(r.Problems, err.Error())
		} else {
			r.SIFCaches = append(r.SIFCaches, own)
		}
	}
	return r, nil
}
