package loader

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// The docker CLI's default daemon address: a unix socket, or on Windows
// the named pipe Docker Desktop's engine listens on.
const (
	defaultSocket = "/var/run/docker.sock"
	defaultPipe   = "npipe:////./pipe/docker_engine"
)

// dockerHost returns the address of the daemon the docker CLI talks to,
// resolved as the CLI does (cli/command.resolveContextName and the context
// store): DOCKER_HOST; else the context DOCKER_CONTEXT names, else the
// config's currentContext, whose endpoint is in
// contexts/meta/<sha256 of its name>/meta.json under the config directory
// (Docker Desktop's desktop-linux, colima, rootless Docker each make one);
// else the platform's default. ok is false when it cannot tell: a context
// without readable metadata, which the CLI reports itself.
func (e *Engine) dockerHost() (host string, ok bool) {
	return resolveDockerHost(runtime.GOOS, e.getenv)
}

func resolveDockerHost(goos string, getenv func(string) string) (string, bool) {
	if h := getenv("DOCKER_HOST"); h != "" {
		return h, true
	}
	dir := dockerConfigDir(goos, getenv)
	name := getenv("DOCKER_CONTEXT")
	if name == "" {
		name = currentContext(dir)
	}
	if name == "" || name == "default" {
		if goos == "windows" {
			return defaultPipe, true
		}
		return "unix://" + defaultSocket, true
	}
	return contextHost(dir, name)
}

// dockerConfigDir is the docker CLI's configuration directory:
// DOCKER_CONFIG, else .docker in the home directory (USERPROFILE on
// Windows).
func dockerConfigDir(goos string, getenv func(string) string) string {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home := "HOME"
	if goos == "windows" {
		home = "USERPROFILE"
	}
	return filepath.Join(getenv(home), ".docker")
}

// currentContext reads currentContext from the docker CLI's config.json,
// ignoring the rest of the file (and any error: the CLI falls back to the
// default context too).
func currentContext(dir string) string {
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	readJSON(filepath.Join(dir, "config.json"), &cfg)
	return cfg.CurrentContext
}

// contextHost reads the docker endpoint of the context name from its
// metadata.
func contextHost(dir, name string) (string, bool) {
	h := sha256.Sum256([]byte(name))
	var meta struct {
		Endpoints struct {
			Docker struct{ Host string } `json:"docker"`
		}
	}
	readJSON(filepath.Join(dir, "contexts", "meta", hex.EncodeToString(h[:]), "meta.json"), &meta)
	host := meta.Endpoints.Docker.Host
	return host, host != ""
}

// readJSON decodes the file at p into v, through a size limit; an error
// leaves v as it was.
func readJSON(p string, v any) {
	f, err := os.Open(p)
	if err != nil {
		return
	}
	defer f.Close()
	json.NewDecoder(io.LimitReader(f, outputMax)).Decode(v)
}

// podmanMachine is the machine `podman machine init` makes when given no
// name; its root connection adds "-root".
const podmanMachine = "podman-machine-default"

// podmanSockets lists where podman's API service may listen for this
// user, most likely first: on Linux the service's own socket (root's, or
// the user's under XDG_RUNTIME_DIR); on macOS the socket podman machine
// forwards to the default machine's service (podman 5 in
// $TMPDIR/podman, podman 4 under ~/.local/share), unless podman's
// connections file makes another connection the default. Windows has
// none: podman machine listens on a named pipe there.
func podmanSockets(goos string, euid int, getenv func(string) string) []string {
	switch goos {
	case "linux":
		if euid == 0 {
			return []string{"/run/podman/podman.sock"}
		}
		if dir := getenv("XDG_RUNTIME_DIR"); dir != "" {
			return []string{filepath.Join(dir, "podman", "podman.sock")}
		}
	case "darwin":
		config := getenv("XDG_CONFIG_HOME")
		if config == "" {
			config = filepath.Join(getenv("HOME"), ".config")
		}
		var conns struct{ Connection struct{ Default string } }
		readJSON(filepath.Join(config, "containers", "podman-connections.json"), &conns)
		if d := conns.Connection.Default; d != "" && strings.TrimSuffix(d, "-root") != podmanMachine {
			return nil
		}
		tmp := getenv("TMPDIR")
		if tmp == "" {
			tmp = "/tmp"
		}
		machines := filepath.Join(getenv("HOME"), ".local", "share", "containers", "podman", "machine")
		return []string{
			filepath.Join(tmp, "podman", podmanMachine+"-api.sock"),
			filepath.Join(machines, podmanMachine, "podman.sock"),
			filepath.Join(machines, "podman.sock"),
		}
	}
	return nil
}
