package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Image is what imgsave needs to know of an image in the engine's store.
type Image struct {
	// ID is the image ID: the config digest for docker's classic store and
	// podman, the manifest (or index) digest for docker's containerd store.
	ID digest.Digest
	// RepoTags are the names the image is tagged with, e.g. "busybox:latest".
	RepoTags []string
	// RepoDigests are repository@digest names. The classic store lists
	// only pulled images here; the containerd store lists the ID too.
	RepoDigests []string
	// DiffIDs are the digests of the uncompressed layers, from the base up.
	DiffIDs []digest.Digest
	// Architecture and OS are the platform, as in "amd64" and "linux".
	Architecture string
	OS           string
	// Created is the config's creation time, zero when it has none.
	Created time.Time
	// Size is the image's size as the engine reports it (its layers'
	// content, roughly what a save streams), 0 when it says none.
	Size int64
}

// Inspect describes one image, named by ID, digest or name. An absent
// image gives an error wrapping [ErrImageNotFound]; every failure is a
// *RunError naming `E image inspect NAME`.
//
// Inspect runs before every container, so when it can it asks the engine's
// API directly: one GET /images/{name}/json over the unix socket, about a
// millisecond where spawning the CLI costs over ten (podman's, over a
// hundred). That is docker's unix socket as the CLI would find it
// (DOCKER_HOST, else the current context's endpoint, else the default
// socket), or podman's Docker-compatible service socket when it runs
// (CONTAINER_HOST, else /run/podman/podman.sock for root and
// $XDG_RUNTIME_DIR/podman/podman.sock for others, podman machine's
// forwarded socket on macOS). It runs `E image inspect` instead for tcp://,
// ssh:// and npipe:// (Windows) endpoints, for a context it cannot read,
// when the default socket does not exist, and when podman's socket does
// not answer.
func (e *Engine) Inspect(ctx context.Context, name string) (*Image, error) {
	if sock, ok := e.apiSocket(); ok {
		img, err := e.inspectSocket(ctx, sock, name)
		if e.Name == "podman" && errors.Is(err, ErrDaemonUnreachable) {
			return e.inspectCLI(ctx, name) // a stale socket: podman needs no service
		}
		return img, err
	}
	return e.inspectCLI(ctx, name)
}

// InspectsAtOnce is how many [Engine.Inspect] calls a caller may make at
// once: several over an API socket (one request each), one through the
// CLI, where each is a process of its own (and concurrent rootless podman
// processes contend for its user namespace and locks).
func (e *Engine) InspectsAtOnce() int {
	if _, ok := e.apiSocket(); ok {
		return 4
	}
	return 1
}

// podmanSocket returns the socket of podman's API service when it serves
// the same store the CLI uses: CONTAINER_HOST's unix socket, or the
// default one for this user (see podmanSockets) when it exists. A named
// connection (CONTAINER_CONNECTION) or another scheme goes through the CLI.
func (e *Engine) podmanSocket() (string, bool) {
	if host := e.getenv("CONTAINER_HOST"); host != "" {
		return strings.CutPrefix(host, "unix://")
	}
	if e.getenv("CONTAINER_CONNECTION") != "" {
		return "", false
	}
	for _, sock := range podmanSockets(runtime.GOOS, os.Geteuid(), e.getenv) {
		if fi, err := os.Stat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return sock, true
		}
	}
	return "", false
}

// apiSocket returns the unix socket of the engine's API, or false if the
// CLI must be asked: for docker, the endpoint dockerHost resolves when it
// is a unix socket; tcp://, ssh:// and Windows' npipe:// go through the
// CLI (a named-pipe dialer would need a module of its own).
func (e *Engine) apiSocket() (string, bool) {
	if e.Name == "podman" {
		return e.podmanSocket()
	}
	host, ok := e.dockerHost()
	if !ok {
		return "", false
	}
	sock, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return "", false
	}
	// podman-docker's docker command runs podman, which has no socket here
	// unless podman.socket is enabled; its CLI answers (or says why not).
	if _, err := os.Stat(sock); err != nil && sock == defaultSocket && e.getenv("DOCKER_HOST") == "" {
		return "", false
	}
	return sock, true
}

// inspectSocket asks the daemon on sock about name, with an unversioned
// path so that any daemon answers in its own API version. Its errors are
// RunErrors for the `image inspect` command the CLI would have run.
func (e *Engine) inspectSocket(ctx context.Context, sock, name string) (*Image, error) {
	args := []string{filepath.Base(e.Path), "image", "inspect", name}
	body, err := e.getSocket(ctx, sock, "/images/"+url.PathEscape(name)+"/json", args)
	if err != nil {
		return nil, err
	}
	img, err := parseInspect(body)
	if err != nil {
		return nil, &RunError{Args: args, Err: err}
	}
	return img, nil
}

// getSocket sends GET path to the daemon on sock and returns the answer's
// body. Its errors are RunErrors for args, the command the CLI would have
// run; a 404 is ErrImageNotFound.
func (e *Engine) getSocket(ctx context.Context, sock, path string, args []string) ([]byte, error) {
	fail := func(err error, msg string) error {
		return &RunError{Args: args, Stderr: msg, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
	if err != nil {
		return nil, fail(err, "")
	}
	resp, err := socketClient(sock, 0, 0).Do(req)
	if err != nil {
		return nil, requestError(ctx, err, args)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, outputMax+1))
	switch {
	case err != nil:
		return nil, fail(err, "")
	case len(body) > outputMax:
		return nil, fail(fmt.Errorf("answer exceeds %d bytes", outputMax), "")
	case resp.StatusCode != http.StatusOK:
		var msg struct{ Message string }
		if json.Unmarshal(body, &msg) != nil || msg.Message == "" {
			msg.Message = strings.TrimSpace(string(body))
		}
		err := fmt.Errorf("daemon answered %s", resp.Status)
		if resp.StatusCode == http.StatusNotFound {
			err = ErrImageNotFound
		}
		return nil, fail(err, msg.Message)
	}
	return body, nil
}

// inspectCLI runs `E image inspect --format '{{json .}}' NAME`.
func (e *Engine) inspectCLI(ctx context.Context, name string) (*Image, error) {
	p := e.command(ctx, append([]string{"image", "inspect", "--format", "{{json .}}"}, operands(name)...)...)
	out, err := p.output()
	if err != nil {
		return nil, err
	}
	img, err := parseInspect(out)
	if err != nil {
		return nil, &RunError{Args: p.args, Err: err}
	}
	return img, nil
}

// InspectAll describes each of names, in one command where podman is
// asked through its CLI (`podman image inspect A B C`: each command is a
// process of its own, about 25 ms), else one at a time as [Engine.Inspect]
// asks. The result has one entry per name, nil for a
// name the engine does not have; any other failure is an error.
func (e *Engine) InspectAll(ctx context.Context, names []string) ([]*Image, error) {
	if len(names) < 2 || !e.InspectsInOne() {
		return e.inspectEach(ctx, names)
	}
	p := e.command(ctx, append([]string{"image", "inspect", "--format", "{{json .}}"}, operands(names...)...)...)
	// A line of stderr for each name it lacks: kept whole, or the names
	// past the kept end look present and every name is asked again, one
	// process each (200 images took 20 s).
	for _, n := range names {
		p.stderr.max += len(n) + 64
	}
	out := &tailBuffer{max: outputMax}
	p.cmd.Stdout = out
	missing := make([]bool, len(names))
	if err := p.cmd.Run(); err != nil {
		// The engine names each image it lacks on stderr and describes the
		// others, in order. An error that names none of them is the
		// command's own.
		stderr := p.stderr.String()
		named := false
		for i, n := range names {
			missing[i] = strings.Contains(stderr, "inspecting object: "+n+": image not known")
			named = named || missing[i]
		}
		if !named || ctx.Err() != nil {
			return nil, p.err(err)
		}
	}
	if out.dropped {
		return nil, &RunError{Args: p.args, Err: fmt.Errorf("output exceeds %d bytes", outputMax)}
	}
	raws, err := decodeInspects(out.buf)
	if err != nil {
		return nil, &RunError{Args: p.args, Err: err}
	}
	imgs := make([]*Image, len(names))
	for i := range names {
		if missing[i] {
			continue
		}
		if len(raws) == 0 {
			// Fewer images than names the engine did not call missing:
			// ask one at a time rather than guess which is which.
			return e.inspectEach(ctx, names)
		}
		if imgs[i], err = raw2image(raws[0]); err != nil {
			return nil, &RunError{Args: p.args, Err: err}
		}
		raws = raws[1:]
	}
	if len(raws) != 0 {
		return e.inspectEach(ctx, names)
	}
	return imgs, nil
}

// InspectsInOne reports whether [Engine.InspectAll] asks about several
// names in one command: for podman through its CLI. docker's CLI (for a
// remote daemon) keeps one name a command, its errors for several names
// not being pinned here, and an API socket takes one request per name.
func (e *Engine) InspectsInOne() bool {
	_, sock := e.apiSocket()
	return !sock && e.Name == "podman"
}

// inspectEach is [Engine.InspectAll] one name at a time.
func (e *Engine) inspectEach(ctx context.Context, names []string) ([]*Image, error) {
	imgs := make([]*Image, len(names))
	for i, n := range names {
		img, err := e.Inspect(ctx, n)
		switch {
		case errors.Is(err, ErrImageNotFound):
		case err != nil:
			return nil, err
		default:
			imgs[i] = img
		}
	}
	return imgs, nil
}

// decodeInspects reads `image inspect --format '{{json .}}'` of several
// images: podman's one array, or docker's one object per line.
func decodeInspects(data []byte) ([]inspectJSON, error) {
	data = bytes.TrimSpace(data)
	var list []inspectJSON
	if bytes.HasPrefix(data, []byte("[")) {
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("decoding inspect output: %w", err)
		}
		return list, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var raw inspectJSON
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("decoding inspect output: %w", err)
		}
		list = append(list, raw)
	}
	return list, nil
}

// inspectJSON holds the fields of docker's and podman's image inspect
// output that Image needs.
type inspectJSON struct {
	ID           string `json:"Id"`
	RepoTags     []string
	RepoDigests  []string
	Architecture string
	OS           string `json:"Os"`
	Created      string
	Size         int64
	RootFS       struct {
		Layers []string
	}
}

// parseInspect decodes one image's inspect output: an object from docker,
// or an array holding one from podman (whose --format applies to the
// array). Podman's IDs lack the "sha256:" prefix.
func parseInspect(data []byte) (*Image, error) {
	data = bytes.TrimSpace(data)
	var list []inspectJSON
	if bytes.HasPrefix(data, []byte("[")) {
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("decoding inspect output: %w", err)
		}
		if len(list) != 1 {
			return nil, fmt.Errorf("decoding inspect output: got %d images, want 1", len(list))
		}
	} else {
		list = make([]inspectJSON, 1)
		if err := json.Unmarshal(data, &list[0]); err != nil {
			return nil, fmt.Errorf("decoding inspect output: %w", err)
		}
	}
	return raw2image(list[0])
}

// raw2image turns one image's inspect output into an Image.
func raw2image(raw inspectJSON) (*Image, error) {
	if !strings.Contains(raw.ID, ":") {
		raw.ID = string(digest.SHA256) + ":" + raw.ID
	}
	id, err := digest.Parse(raw.ID)
	if err != nil {
		return nil, fmt.Errorf("image ID %q: %w", raw.ID, err)
	}
	img := &Image{
		ID:           id,
		RepoTags:     raw.RepoTags,
		RepoDigests:  raw.RepoDigests,
		Architecture: raw.Architecture,
		OS:           raw.OS,
		Size:         raw.Size,
	}
	// A creation time docker leaves empty, or one that does not parse,
	// stays zero: it describes the image, it does not identify it.
	img.Created, _ = time.Parse(time.RFC3339Nano, raw.Created)
	for _, l := range raw.RootFS.Layers {
		d, err := digest.Parse(l)
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", l, err)
		}
		img.DiffIDs = append(img.DiffIDs, d)
	}
	return img, nil
}
