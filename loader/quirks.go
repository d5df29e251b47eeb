package loader

import (
	"context"
	"runtime"
	"strconv"
	"strings"
)

// What differs between docker and podman that imgsave's orchestration has
// to know is asked of the engine here, so that no caller switches on its
// Kind (#29).

// LoadsDockerArchive reports whether the engine's load wants the legacy
// docker-archive layout (manifest.json) rather than an OCI archive:
// podman's does, which names an OCI archive's image by its digest alone
// and drops its tags.
func (e *Engine) LoadsDockerArchive() bool { return e.Name == "podman" }

// ReadsZstd reports whether the engine's load reads zstd-compressed
// layers, and when not, its version, to say why. Docker before 23 reads
// gzip layers in a load but not zstd ones: its load fails with
// "archive/tar: invalid tar header" and loads nothing (#19). podman
// reads them, and so does an engine that cannot say its version (sent the
// layers as they are).
func (e *Engine) ReadsZstd(ctx context.Context) (bool, string) {
	if e.Name == "podman" {
		return true, ""
	}
	in, err := e.Info(ctx)
	if err != nil || in.Shim {
		return true, ""
	}
	// Docker's versions are years since 17.03; a docker CLI talking to
	// podman's compatible API reports podman's (4.9.3), which reads zstd.
	major, _, _ := strings.Cut(in.Version, ".")
	if n, err := strconv.Atoi(major); err != nil || n < 17 || n >= 23 {
		return true, ""
	}
	return false, in.Version
}

// UserMapping is how run maps the caller into containers.
type UserMapping int

const (
	MapUser   UserMapping = iota // --user UID:GID (rootful engines)
	MapKeepID                    // --userns=keep-id (rootless podman)
	MapNone                      // nothing: root inside is the caller (rootless docker, Docker Desktop, Windows)
)

func (m UserMapping) String() string {
	switch m {
	case MapKeepID:
		return "--userns=keep-id"
	case MapNone:
		return "none"
	}
	return "--user UID:GID"
}

// UserMapping says how run maps the caller into the engine's containers,
// asking [Engine.Rootless]: rootless podman keeps the caller's id;
// rootless docker and Docker Desktop (which counts as rootless) need
// nothing, as root inside writes the caller's files; nor does Windows,
// which has no uid to pass (datalad-container passes none there either).
func (e *Engine) UserMapping(ctx context.Context) (UserMapping, error) {
	rootless, err := e.Rootless(ctx)
	if err != nil {
		return MapUser, err
	}
	return pickMapping(runtime.GOOS, e.Name == "podman", rootless), nil
}

func pickMapping(goos string, podman, rootless bool) UserMapping {
	switch {
	case rootless && podman:
		return MapKeepID
	case rootless, goos == "windows":
		return MapNone
	}
	return MapUser
}

// Relabel is how a bind mount gets an SELinux label the container may
// use, on a host where SELinux is enforcing.
type Relabel int

const (
	RelabelNone   Relabel = iota // SELinux off or not enforcing
	RelabelMount                 // podman: --mount ...,relabel=shared (:z)
	RelabelVolume                // docker, whose --mount cannot relabel: --volume SRC:DST:z
)

// Relabel is how the engine relabels a bind mount for SELinux.
func (e *Engine) Relabel() Relabel {
	if e.Name == "podman" {
		return RelabelMount
	}
	return RelabelVolume
}
