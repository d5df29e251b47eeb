package loader

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestClassify holds stderr recorded from the engines. The docker lines
// were provoked on Debian's Docker 20.10 (classic store) and Docker 26
// (containerd store), through the 28.2 and 20.10 clients, except those
// needing a registry or another platform (pull, push, Docker Desktop),
// quoted like the podman lines from issue reports.
func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		stderr string
		want   error
	}{
		// docker load on Docker 26's containerd store, while another client
		// removed an image sharing a layer (seen in the tests).
		{"docker26 load content race", "failed to unpack loaded image: failed to extract layer sha256:ab2c0b2d73f34d86f85b73211e8e3640df33032133407a3bdcf1403aa8bc173e: failed to get reader from content store: content digest sha256:ab2c0b2d73f34d86f85b73211e8e3640df33032133407a3bdcf1403aa8bc173e: not found", ErrContentRace},
		// docker save nosuchimage:1, Docker 20.10 (any client).
		{"docker20 save missing", "Error response from daemon: reference does not exist", ErrImageNotFound},
		// docker save sha256:000..., Docker 20.10.
		{"docker20 save missing ID", "Error response from daemon: failed to get digest sha256:0000000000000000000000000000000000000000000000000000000000000000: open /var/lib/docker/image/overlay2/imagedb/content/sha256/0000000000000000000000000000000000000000000000000000000000000000: no such file or directory", ErrImageNotFound},
		// docker image inspect nosuchimage:1, Docker 20.10, client 28.
		{"docker20 inspect missing", "Error response from daemon: no such image: nosuchimage:1: No such image: nosuchimage:1", ErrImageNotFound},
		// The same, client 20.10.
		{"docker20 client inspect missing", "Error: No such image: nosuchimage:1", ErrImageNotFound},
		// docker save or tag nosuchimage:1, Docker 26.
		{"docker26 save missing", "Error response from daemon: No such image: nosuchimage:1", ErrImageNotFound},
		{"docker26 save missing ID", "Error response from daemon: No such image: sha256:0000000000000000000000000000000000000000000000000000000000000000", ErrImageNotFound},
		// docker run --pull=never nosuchimage:1, client 28, then 20.10.
		{"docker run missing", "docker: Error response from daemon: No such image: nosuchimage:1\n\nRun 'docker run --help' for more information", ErrImageNotFound},
		{"docker20 client run missing", "docker: Error response from daemon: No such image: nosuchimage:1.\nSee 'docker run --help'.", ErrImageNotFound},
		// docker push of an untagged name (older docker save said it too).
		{"docker push missing", "An image does not exist locally with the tag: chanmm/mymicroservice", ErrImageNotFound},
		// docker pull from a registry without the repository.
		{"docker pull denied", "Error response from daemon: pull access denied for nosuch, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", ErrImageNotFound},
		{"docker pull old", "Error response from daemon: repository nosuch not found: does not exist or no pull access", ErrImageNotFound},
		{"docker pull missing tag", "Error response from daemon: manifest for busybox:nosuch not found: manifest unknown: manifest unknown", ErrImageNotFound},
		{"docker26 pull missing tag", `Error response from daemon: failed to resolve reference "docker.io/library/busybox:nosuch": docker.io/library/busybox:nosuch: not found`, ErrImageNotFound},
		// DOCKER_HOST=unix:///nonexistent.sock docker save x (both clients).
		{"docker no socket", "Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?", ErrDaemonUnreachable},
		// DOCKER_HOST=tcp://127.0.0.1:1 docker image inspect x.
		{"docker tcp refused", "Cannot connect to the Docker daemon at tcp://127.0.0.1:1. Is the docker daemon running?", ErrDaemonUnreachable},
		// Docker Desktop, daemon stopped (docker 28 and later).
		{"docker desktop stopped", "failed to connect to the docker API at npipe:////./pipe/dockerDesktopLinuxEngine; check if the path is correct and if the daemon is running: open //./pipe/dockerDesktopLinuxEngine: The system cannot find the file specified.", ErrDaemonUnreachable},
		{"docker windows stopped", `error during connect: This error may indicate that the docker daemon is not running.: Get "http://%2F%2F.%2Fpipe%2Fdocker_engine/v1.24/containers/json": open //./pipe/docker_engine: The system cannot find the file specified.`, ErrDaemonUnreachable},
		// setpriv --reuid=65534 --regid=65534 --clear-groups docker save x,
		// client 28 against Docker 20.10, then client 20.10 against Docker 26.
		{"docker permission", `permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.50/images/get?names=x": dial unix /var/run/docker.sock: connect: permission denied`, ErrPermissionDenied},
		{"docker20 client permission", `permission denied while trying to connect to the Docker daemon socket at unix:///var/lib/imgsave-ci/docker26.sock: Get "http://%2Fvar%2Flib%2Fimgsave-ci%2Fdocker26.sock/v1.24/images/get?names=x": dial unix /var/lib/imgsave-ci/docker26.sock: connect: permission denied`, ErrPermissionDenied},
		// podman save nosuch (podman 4 and 5).
		{"podman save missing", "Error: nosuch: image not known", ErrImageNotFound},
		// podman inspect -t image, podman 4.3.1 (containers/podman-compose#631).
		{"podman inspect missing", "Error: inspecting object: stomppip_stompwheel: image not known", ErrImageNotFound},
		// podman image inspect (firecow/gitlab-ci-local#655).
		{"podman image inspect missing", `Error: inspecting object: unable to inspect "docker.io/tmknom/markdownlint:0.32.2": failed to find image docker.io/tmknom/markdownlint:0.32.2: docker.io/tmknom/markdownlint:0.32.2: image not known`, ErrImageNotFound},
		// podman 4.3 image inspect while another process loads the image
		// (seen in run_concurrent.txtar): not there yet.
		{"podman inspect half-loaded", `Error: inspecting object: locating item named "manifest-sha256:7c5b9a1c0e5f3d2b8a4c6e1f0d9b8a7c6e5f4d3c2b1a09f8e7d6c5b4a3928170" for image with ID "0f3a1c2e4b5d6f7081920a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6": file does not exist`, ErrImageNotFound},
		// podman pull (jasonacox/Powerwall-Dashboard#383, containers/podman#9990).
		{"podman pull denied", "Trying to pull docker.io/jasonacox/weather41:0.2.2...\nError: initializing source docker://jasonacox/weather41:0.2.2: reading manifest 0.2.2 in docker.io/jasonacox/weather41: requested access to the resource is denied", ErrImageNotFound},
		{"podman pull name unknown", "Error initializing source docker://registry.opensuse.org/sonartype/nexus3:latest: Error reading manifest latest in registry.opensuse.org/sonartype/nexus3: name unknown", ErrImageNotFound},
		// podman remote, machine stopped (ansible/ansible-navigator#1867).
		{"podman machine stopped", "Cannot connect to Podman. Please verify your connection to the Linux system using `podman system connection list`, or try `podman machine init` and `podman machine start` to manage a new Linux VM\nError: unable to connect to Podman socket: failed to connect: dial tcp 127.0.0.1:52298: connect: connection refused", ErrDaemonUnreachable},
		// podman remote, socket not there (containers/podman-tui#320).
		{"podman no socket", `Error: unable to connect to Podman socket: Get "http://d/v4.4.2/libpod/_ping": dial unix /run/user/1000/podman/podman.sock: connect: no such file or directory`, ErrDaemonUnreachable},
		// podman remote, root's socket (opendatahub-io/notebooks#1120).
		{"podman permission", `Error: unable to connect to Podman socket: Get "http://d/v5.5.0/libpod/_ping": dial unix /var/run/podman/podman.sock: connect: permission denied`, ErrPermissionDenied},
		// Failures callers do not branch on.
		{"docker20 load garbage", "Error processing tar file(exit status 1): unexpected EOF", nil},
		{"docker26 load garbage", "unexpected EOF", nil},
		{"docker pull offline", `Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host`, nil},
		{"docker26 pull offline", `Error response from daemon: failed to resolve reference "localhost:1/nosuch:1": failed to do request: Head "https://localhost:1/v2/nosuch/manifests/1": dial tcp 127.0.0.1:1: connect: connection refused`, nil},
		{"docker inspect bad name", "Error response from daemon: no such image: UPPER: invalid reference format: repository name must be lowercase", ErrImageNotFound},
		{"empty", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.stderr); got != tc.want {
				t.Errorf("Classify(%q) = %v, want %v", tc.stderr, got, tc.want)
			}
		})
	}
}

func TestErrEngineNotFoundIsExecNotFound(t *testing.T) {
	if !errors.Is(ErrEngineNotFound, exec.ErrNotFound) {
		t.Errorf("errors.Is(ErrEngineNotFound, exec.ErrNotFound) = false")
	}
}

func TestRunErrorOneLine(t *testing.T) {
	tests := []struct {
		name string
		err  *RunError
		want string
	}{
		{
			"classified",
			&RunError{Args: []string{"docker", "save", "nosuch:latest"}, Stderr: "Error response from daemon: reference does not exist", Err: ErrImageNotFound},
			"docker save nosuch:latest: image not found: Error response from daemon: reference does not exist",
		},
		{
			"quoted, multi-line",
			&RunError{Args: []string{"docker", "image", "inspect", "--format", "{{json .}}", "it's"}, Stderr: "a\n\n  b\n", Err: errors.New("exit status 1")},
			`docker image inspect --format '{{json .}}' 'it'\''s': exit status 1: a; b`,
		},
		{
			"no stderr",
			&RunError{Args: []string{"podman", "load", ""}, Err: errors.New("signal: killed")},
			"podman load '': signal: killed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"fits", []string{"ab", "cd"}, "abcd"},
		{"exactly", []string{"abcdefgh"}, "abcdefgh"},
		{"drops the start", []string{"abcdef", "ghij"}, "...cdefghij"},
		{"one long write", []string{"xy", "abcdefghijkl"}, "...efghijkl"},
		{"trimmed", []string{"\n a \n"}, "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &tailBuffer{max: 8}
			for _, w := range tc.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := b.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseInspect(t *testing.T) {
	const (
		id    = "sha256:e40734ee0cc323fe76f01fee8e79214a45f05a34fc587ff9d6bdc1a1c2c4bb2a"
		layer = "sha256:8c6fc3cfc02f389a51e8609528cd988910d9356922834c066143c948045292d8"
	)
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		// docker image inspect --format '{{json .}}', trimmed.
		{"docker", `{"Id":"` + id + `","RepoTags":["imgsave-test/bb:1"],"RepoDigests":[],"Created":"2026-11-25T04:21:21.720144327Z","Architecture":"amd64","Os":"linux","Size":2129,"RootFS":{"Type":"layers","Layers":["` + layer + `"]}}` + "\n", ""},
		{"no creation time", `{"Id":"` + id + `","RepoTags":["imgsave-test/bb:1"],"Created":"","Architecture":"amd64","Os":"linux","RootFS":{"Type":"layers","Layers":["` + layer + `"]}}`, ""},
		// podman applies --format to the whole list; its IDs are bare.
		{"podman", `[{"Id":"` + strings.TrimPrefix(id, "sha256:") + `","Digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","RepoTags":["imgsave-test/bb:1"],"Architecture":"amd64","Os":"linux","RootFS":{"Type":"layers","Layers":["` + layer + `"]}}]`, ""},
		{"empty list", `[]`, "got 0 images, want 1"},
		{"no ID", `{"RepoTags":["x:1"]}`, `image ID "sha256:"`},
		{"bad layer", `{"Id":"` + id + `","RootFS":{"Layers":["sha256:zz"]}}`, `layer "sha256:zz"`},
		{"not JSON", `Error: nosuch: image not known`, "decoding inspect output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := parseInspect([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseInspect(%q) = %v, want error containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseInspect(%q) = %v", tc.in, err)
			}
			if tc.name == "docker" && (img.Created.IsZero() || img.Size != 2129) {
				t.Errorf("parseInspect(%q): creation time %v, size %d; want both", tc.in, img.Created, img.Size)
			}
			if img.ID != id || len(img.DiffIDs) != 1 || img.DiffIDs[0] != layer ||
				len(img.RepoTags) != 1 || img.Architecture != "amd64" || img.OS != "linux" {
				t.Errorf("parseInspect(%q) = %+v", tc.in, img)
			}
		})
	}
}
