package manifest

import (
	"fmt"
	"io"
)

// Entry is one image of a docker-load manifest.json: the path of its config
// and of each layer, relative to the archive's root, and its repo tags.
type Entry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// ParseDocker reads a manifest.json, as written by `docker save` (both the
// legacy and the OCI layout), `podman save` and imgsave. Every path is checked
// with [CleanPath] and returned cleaned; an entry without a config, or a
// manifest without entries, is an error ([ErrEmpty]).
func ParseDocker(r io.Reader) ([]Entry, error) {
	var entries []Entry
	if err := decode(r, &entries); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, ErrEmpty
	}
	for i := range entries {
		e := &entries[i]
		if e.Config == "" {
			return nil, fmt.Errorf("image %d: no Config", i)
		}
		var err error
		if e.Config, err = CleanPath(e.Config); err != nil {
			return nil, fmt.Errorf("image %d: Config: %w", i, err)
		}
		for j, l := range e.Layers {
			if e.Layers[j], err = CleanPath(l); err != nil {
				return nil, fmt.Errorf("image %d: layer %d: %w", i, j, err)
			}
		}
		for _, t := range e.RepoTags {
			if ref, err := ParseReference(t); err != nil {
				return nil, fmt.Errorf("image %d: RepoTags: %w", i, err)
			} else if !ref.IsTag() {
				return nil, fmt.Errorf("image %d: RepoTags: %q is not a tag", i, t)
			}
		}
	}
	return entries, nil
}
