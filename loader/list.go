package loader

import (
	"context"
	"encoding/json"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// ImageList is, in brief, what an engine's store holds: its images' IDs
// and tags.
type ImageList struct {
	IDs  []digest.Digest
	Tags []string
}

// ListImages lists the store's images, over the engine's API socket (see
// [Engine.Inspect]): one `GET /images/json`, where asking about each of
// many names is a request each. Without a socket it returns nil and no
// error: through the CLI, [Engine.InspectAll] asks about many names in
// one command, or each is a process anyway. Its errors are RunErrors for
// `E image ls`; an answer over 4 MiB (thousands of images) is one.
func (e *Engine) ListImages(ctx context.Context) (*ImageList, error) {
	sock, ok := e.apiSocket()
	if !ok {
		return nil, nil
	}
	args := []string{filepath.Base(e.Path), "image", "ls"}
	body, err := e.getSocket(ctx, sock, "/images/json", args)
	if err != nil {
		return nil, err
	}
	var raw []struct {
		ID       string   `json:"Id"`
		RepoTags []string `json:"RepoTags"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &RunError{Args: args, Err: err}
	}
	l := &ImageList{}
	for _, r := range raw {
		id := digest.Digest(r.ID)
		if id.Validate() != nil {
			id = "sha256:" + id // podman's compatible API, in some versions
		}
		if id.Validate() == nil {
			l.IDs = append(l.IDs, id)
		}
		for _, t := range r.RepoTags {
			if t != "" && t != "<none>:<none>" {
				l.Tags = append(l.Tags, t)
			}
		}
	}
	return l, nil
}
