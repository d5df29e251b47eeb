package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// The image stores [Info] tells apart.
const (
	StoreClassic    = "classic"            // docker's graph drivers: ID = config digest
	StoreContainerd = "containerd"         // docker's containerd image store: ID = manifest digest
	StoreContainers = "containers-storage" // podman: ID = config digest
)

// Info describes the engine as imgsave uses it.
type Info struct {
	Name     string `json:"name"` // docker, podman or apptainer
	Path     string `json:"path"`
	Shim     bool   `json:"podman_docker_shim"` // a docker command that runs podman
	Version  string `json:"version"`            // the daemon's or podman's
	Store    string `json:"store"`
	Rootless bool   `json:"rootless"`
	// Desktop is Docker Desktop (macOS, Windows or Linux), whose file
	// sharing gives the caller the files containers write in bind mounts.
	Desktop bool `json:"docker_desktop"`
	// Via is how imgsave asks the engine about images: the daemon's unix
	// socket, or its CLI.
	Via string `json:"via"`
	// Platform is what the engine's containers run natively, as
	// "os/arch[/variant]" in OCI's names ("linux/amd64", "linux/arm/v7").
	Platform string `json:"platform"`
	// Fuse, for Apptainer only, says whether the caller may use FUSE
	// mounts (/dev/fuse), which a plain user needs to run a SIF file
	// without unpacking it.
	Fuse *bool `json:"fuse,omitempty"`
}

// Info asks the engine what it is: docker over its socket (GET /info) when
// imgsave talks to the socket, else `E info`. A daemon that does not answer
// gives an error wrapping ErrDaemonUnreachable or ErrPermissionDenied.
func (e *Engine) Info(ctx context.Context) (*Info, error) {
	in := &Info{Name: e.Name, Path: e.Path, Shim: e.Shim, Via: "CLI"}
	if sock, ok := e.apiSocket(); ok && e.Name == "podman" {
		in.Via = "unix://" + sock // for images; its info comes from the CLI
	} else if ok {
		in.Via = "unix://" + sock
		body, err := e.getSocket(ctx, sock, "/info", []string{filepath.Base(e.Path), "info"})
		if err != nil {
			return in, err
		}
		return in, parseDockerInfo(body, in)
	}
	out, err := e.command(ctx, "info", "--format", "{{json .}}").output()
	if err != nil {
		return in, err
	}
	if e.Name == "podman" {
		return in, parsePodmanInfo(out, in)
	}
	return in, parseDockerInfo(out, in)
}

// parseDockerInfo reads docker's `info` (the API's /info): the version,
// the containerd snapshotter in the driver status, "name=rootless" among
// the security options, and Docker Desktop's OperatingSystem.
func parseDockerInfo(b []byte, in *Info) error {
	var d struct {
		ServerVersion   string
		OSType          string
		Architecture    string
		Driver          string
		DriverStatus    [][2]string
		SecurityOptions []string
		OperatingSystem string
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("docker info: %w", err)
	}
	in.Version, in.Store = d.ServerVersion, StoreClassic
	in.Platform = platformOf(d.OSType, d.Architecture)
	in.Desktop = d.OperatingSystem == "Docker Desktop"
	for _, kv := range d.DriverStatus {
		if strings.HasPrefix(kv[1], "io.containerd.snapshotter") {
			in.Store = StoreContainerd
		}
	}
	for _, o := range d.SecurityOptions {
		if o == "name=rootless" {
			in.Rootless = true
		}
	}
	return nil
}

// parsePodmanInfo reads `podman info --format json`.
func parsePodmanInfo(b []byte, in *Info) error {
	var p struct {
		Host struct {
			Security struct{ Rootless bool }
			OS       string
			Arch     string
			Variant  string
		}
		Version struct{ Version string }
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("podman info: %w", err)
	}
	in.Version, in.Store, in.Rootless = p.Version.Version, StoreContainers, p.Host.Security.Rootless
	in.Platform = platformOf(p.Host.OS, p.Host.Arch)
	if p.Host.Variant != "" && !strings.Contains(in.Platform, "/v") {
		in.Platform += "/" + p.Host.Variant
	}
	return nil
}

// isPodman reports whether the engine binary at path is podman: named so,
// a link to podman, or podman-docker's `docker`, a small script that runs
// podman.
func isPodman(path string) bool {
	if strings.HasPrefix(filepath.Base(path), "podman") {
		return true
	}
	if real, err := filepath.EvalSymlinks(path); err == nil && strings.HasPrefix(filepath.Base(real), "podman") {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head, _ := io.ReadAll(io.LimitReader(f, 4096))
	return bytes.HasPrefix(head, []byte("#!")) && bytes.Contains(head, []byte("podman"))
}

// Kind is "docker" or "podman", for display.
func (e *Engine) Kind() string { return e.Name }

// Rootless reports whether containers run in a user namespace owned by
// the caller, which decides how imgsave maps the caller's uid: podman
// on Linux talking to no remote service is rootless exactly when not run
// as root; docker whose local socket belongs to root is rootful, since a
// rootless daemon (or Docker Desktop) runs as its user and makes its
// socket as that user (this spares every `imgsave run` a GET /info, 7-15
// ms, #14); any other docker, and podman elsewhere (podman machine,
// rootless unless set --rootful), is asked (one request on its socket, or
// `E info`). Docker Desktop counts as rootless: its file sharing maps
// ownership as a user namespace would, so that root in the container
// writes the caller's files.
func (e *Engine) Rootless(ctx context.Context) (bool, error) {
	if e.localPodman() {
		return os.Geteuid() != 0, nil
	}
	if sock, ok := e.apiSocket(); ok && e.Name != "podman" && ownedByRoot(sock) {
		return false, nil
	}
	in, err := e.Info(ctx)
	if err != nil {
		return false, err
	}
	return in.Rootless || in.Desktop, nil
}

// platformOf turns an OS and an architecture as uname or an engine names
// them (x86_64, aarch64, armv7l) into OCI's "os/arch[/variant]".
func platformOf(goos, arch string) string {
	if goos == "" {
		goos = "linux"
	}
	switch arch {
	case "x86_64", "x86-64":
		arch = "amd64"
	case "aarch64", "arm64":
		arch = "arm64"
	case "armv7l", "armhf":
		arch = "arm/v7"
	case "armv6l", "armel":
		arch = "arm/v6"
	case "i386", "i486", "i586", "i686":
		arch = "386"
	case "":
		arch = runtime.GOARCH
	}
	return goos + "/" + arch
}

// Platform is what the engine's containers run natively ([Info]'s
// Platform): for podman on this Linux machine, this
// machine's; for docker, what the daemon says (one GET /info), since a
// daemon may run elsewhere (a remote host, a VM).
func (e *Engine) Platform(ctx context.Context) (string, error) {
	if e.localPodman() {
		return platformOf(runtime.GOOS, runtime.GOARCH), nil
	}
	in, err := e.Info(ctx)
	if err != nil {
		return "", err
	}
	if in.Platform == "" {
		return platformOf(runtime.GOOS, runtime.GOARCH), nil
	}
	return in.Platform, nil
}

// localPodman reports whether the engine is podman on this Linux machine,
// talking to no remote service: its containers run here, as the caller.
func (e *Engine) localPodman() bool {
	return e.Name == "podman" && runtime.GOOS == "linux" && e.getenv("CONTAINER_HOST") == "" && e.getenv("CONTAINER_CONNECTION") == ""
}
