package loader

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// ContainerImages lists the image IDs of every container the engine
// holds, running or stopped, each once: `E ps --all --quiet --no-trunc`,
// then `E container inspect --format {{.Image}}` of those. The ID is the
// one [Engine.Inspect] gives (docker's containerd store: the manifest or
// index digest). `ps --filter ancestor=` is not asked: it matches by
// name, and a tag moved since the container was made misleads it. A
// container removed between the two commands is asked about again, up
// to three times.
func (e *Engine) ContainerImages(ctx context.Context) ([]digest.Digest, error) {
	var err error
	for range 3 {
		var ids []string
		if ids, err = e.lines(ctx, "ps", "--all", "--quiet", "--no-trunc"); err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, nil
		}
		var images []string
		images, err = e.lines(ctx, append([]string{"container", "inspect", "--format", "{{.Image}}"}, operands(ids...)...)...)
		if err == nil {
			return imageIDs(images)
		}
		if ctx.Err() != nil || !strings.Contains(strings.ToLower(err.Error()), "no such container") {
			return nil, err
		}
	}
	return nil, err
}

// imageIDs parses the image IDs a container inspect printed, one a line,
// each once; podman's lack the "sha256:".
func imageIDs(lines []string) ([]digest.Digest, error) {
	var out []digest.Digest
	seen := map[digest.Digest]bool{}
	for _, l := range lines {
		if !strings.Contains(l, ":") {
			l = "sha256:" + l
		}
		d := digest.Digest(l)
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("a container's image %q: %w", l, err)
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out, nil
}

// lines runs `E ARGS...` and returns its output's non-empty lines. The
// output is bounded.
func (e *Engine) lines(ctx context.Context, args ...string) ([]string, error) {
	out, err := e.command(ctx, args...).output()
	if err != nil {
		return nil, err
	}
	var lines []string
	for l := range bytes.Lines(out) {
		if s := strings.TrimSpace(string(l)); s != "" {
			lines = append(lines, s)
		}
	}
	return lines, nil
}

// Remove runs `E rmi NAMES...`, never forced: the engine refuses an image
// a container uses, or one named by ID that several tags name. A name
// the engine lacks gives an error wrapping [ErrImageNotFound].
func (e *Engine) Remove(ctx context.Context, names ...string) error {
	p := e.command(ctx, append([]string{"rmi"}, operands(names...)...)...)
	return p.err(p.cmd.Run())
}
