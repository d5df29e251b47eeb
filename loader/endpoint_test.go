package loader

import (
	"path/filepath"
	"slices"
	"testing"
)

// env is a getenv over a fixed set of variables.
func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// TestResolveDockerHost resolves the daemon's address over recorded docker
// CLI homes (testdata/home, see its README) as the CLI would on each
// platform (#13).
func TestResolveDockerHost(t *testing.T) {
	home := func(name string) string { return filepath.Join("testdata", "home", name) }
	tests := []struct {
		name string
		goos string
		env  map[string]string
		want string // "" for "cannot tell"
	}{
		{name: "no config", goos: "linux", env: map[string]string{"HOME": t.TempDir()}, want: "unix:///var/run/docker.sock"},
		{name: "no current context", goos: "linux", env: map[string]string{"HOME": home("no-context")}, want: "unix:///var/run/docker.sock"},
		{name: "context named default", goos: "linux", env: map[string]string{"HOME": home("default")}, want: "unix:///var/run/docker.sock"},
		{name: "DOCKER_HOST wins over the context", goos: "darwin", env: map[string]string{"HOME": home("desktop-mac"), "DOCKER_HOST": "unix:///tmp/podman.sock"}, want: "unix:///tmp/podman.sock"},
		{name: "DOCKER_HOST over tcp", goos: "linux", env: map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:2375"}, want: "tcp://127.0.0.1:2375"},
		{name: "Docker Desktop on macOS", goos: "darwin", env: map[string]string{"HOME": home("desktop-mac")}, want: "unix:///Users/alice/.docker/run/docker.sock"},
		{name: "colima", goos: "darwin", env: map[string]string{"HOME": home("colima")}, want: "unix:///Users/alice/.colima/default/docker.sock"},
		{name: "rootless docker", goos: "linux", env: map[string]string{"HOME": home("rootless")}, want: "unix:///run/user/1000/docker.sock"},
		{name: "ssh context", goos: "linux", env: map[string]string{"HOME": home("remote")}, want: "ssh://alice@builder"},
		{name: "DOCKER_CONTEXT picks another context", goos: "darwin", env: map[string]string{"HOME": home("two"), "DOCKER_CONTEXT": "colima"}, want: "unix:///Users/alice/.colima/default/docker.sock"},
		{name: "DOCKER_CONTEXT=default", goos: "darwin", env: map[string]string{"HOME": home("two"), "DOCKER_CONTEXT": "default"}, want: "unix:///var/run/docker.sock"},
		{name: "DOCKER_CONFIG instead of HOME", goos: "darwin", env: map[string]string{"HOME": t.TempDir(), "DOCKER_CONFIG": filepath.Join(home("colima"), ".docker")}, want: "unix:///Users/alice/.colima/default/docker.sock"},
		{name: "a context without metadata", goos: "linux", env: map[string]string{"HOME": home("missing-meta")}},
		{name: "DOCKER_CONTEXT names no context", goos: "linux", env: map[string]string{"HOME": home("two"), "DOCKER_CONTEXT": "nosuch"}},
		{name: "Windows, no config: the engine's pipe", goos: "windows", env: map[string]string{"USERPROFILE": t.TempDir()}, want: "npipe:////./pipe/docker_engine"},
		{name: "Windows, Docker Desktop", goos: "windows", env: map[string]string{"USERPROFILE": home("desktop-windows")}, want: "npipe:////./pipe/dockerDesktopLinuxEngine"},
		{name: "Windows reads USERPROFILE, not HOME", goos: "windows", env: map[string]string{"HOME": home("colima"), "USERPROFILE": t.TempDir()}, want: "npipe:////./pipe/docker_engine"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := resolveDockerHost(tc.goos, env(tc.env))
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("resolveDockerHost(%s, %v) = %q, %v, want %q", tc.goos, tc.env, got, ok, tc.want)
			}
		})
	}
}

// TestAPISocket: the fast API path is taken for unix sockets only; other
// endpoints, and a context that cannot be read, go through the CLI.
func TestAPISocket(t *testing.T) {
	home := func(name string) string { return filepath.Join("testdata", "home", name) }
	tests := []struct {
		name string
		env  []string
		want string // "" for the CLI
	}{
		{name: "DOCKER_HOST socket", env: []string{"DOCKER_HOST=unix:///nonexistent.sock"}, want: "/nonexistent.sock"},
		{name: "DOCKER_HOST tcp", env: []string{"DOCKER_HOST=tcp://127.0.0.1:1"}},
		{name: "rootless context", env: []string{"DOCKER_HOST=", "HOME=" + home("rootless")}, want: "/run/user/1000/docker.sock"},
		{name: "ssh context", env: []string{"DOCKER_HOST=", "HOME=" + home("remote")}},
		{name: "unreadable context", env: []string{"DOCKER_HOST=", "HOME=" + home("missing-meta")}},
		{name: "pipe", env: []string{"DOCKER_HOST=npipe:////./pipe/docker_engine"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &Engine{Path: "/usr/bin/docker", Name: "docker", Env: append([]string{"DOCKER_CONTEXT=", "DOCKER_CONFIG="}, tc.env...)}
			got, ok := e.apiSocket()
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("apiSocket(%q) = %q, %v, want %q", tc.env, got, ok, tc.want)
			}
		})
	}
}

// TestPodmanSockets lists where podman's API service is looked for on
// each platform (#13).
func TestPodmanSockets(t *testing.T) {
	home := func(name string) string { return filepath.Join("testdata", "home", name) }
	machine := func(h, tmp string) []string {
		return []string{
			filepath.Join(tmp, "podman", "podman-machine-default-api.sock"),
			filepath.Join(h, ".local/share/containers/podman/machine/podman-machine-default/podman.sock"),
			filepath.Join(h, ".local/share/containers/podman/machine/podman.sock"),
		}
	}
	tests := []struct {
		name string
		goos string
		euid int
		env  map[string]string
		want []string
	}{
		{name: "linux root", goos: "linux", euid: 0, want: []string{"/run/podman/podman.sock"}},
		{name: "linux user", goos: "linux", euid: 1000, env: map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}, want: []string{"/run/user/1000/podman/podman.sock"}},
		{name: "linux user without XDG_RUNTIME_DIR", goos: "linux", euid: 1000},
		{name: "macOS, no connections file", goos: "darwin", euid: 501, env: map[string]string{"HOME": "/Users/alice", "TMPDIR": "/var/folders/x/T"},
			want: machine("/Users/alice", "/var/folders/x/T")},
		{name: "macOS, the machine's root connection", goos: "darwin", euid: 501, env: map[string]string{"HOME": home("podman-machine"), "TMPDIR": "/var/folders/x/T"},
			want: machine(home("podman-machine"), "/var/folders/x/T")},
		{name: "macOS, another default connection", goos: "darwin", euid: 501, env: map[string]string{"HOME": home("podman-other")}},
		{name: "macOS, XDG_CONFIG_HOME", goos: "darwin", euid: 501, env: map[string]string{"HOME": "/Users/alice", "XDG_CONFIG_HOME": filepath.Join(home("podman-other"), ".config")}},
		{name: "windows: a named pipe", goos: "windows", euid: -1, env: map[string]string{"USERPROFILE": `C:\Users\alice`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := podmanSockets(tc.goos, tc.euid, env(tc.env)); !slices.Equal(got, tc.want) {
				t.Errorf("podmanSockets(%s, %d, %v) = %q, want %q", tc.goos, tc.euid, tc.env, got, tc.want)
			}
		})
	}
}
