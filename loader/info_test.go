package loader

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseInfo reads recorded `info` output: docker's from Debian's
// Docker 20.10 and trixie's Docker 26 (containerd store), rootless
// docker's security options as the daemon reports them, and podman 4.3's
// `info --format json`, rootful and rootless (trimmed to the fields read).
func TestParseInfo(t *testing.T) {
	tests := []struct {
		name, out     string
		podman        bool
		version       string
		store         string
		rootless, bad bool
		desktop       bool
	}{
		{name: "docker 20.10 classic", out: `{"ServerVersion":"20.10.24+dfsg1","Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"],["Supports d_type","true"],["Native Overlay Diff","true"],["userxattr","false"]],"SecurityOptions":["name=seccomp,profile=default"]}`,
			version: "20.10.24+dfsg1", store: StoreClassic},
		{name: "docker 26 containerd store", out: `{"ServerVersion":"26.1.5+dfsg1","Driver":"overlayfs","DriverStatus":[["driver-type","io.containerd.snapshotter.v1"]],"SecurityOptions":["name=seccomp,profile=builtin","name=cgroupns"]}`,
			version: "26.1.5+dfsg1", store: StoreContainerd},
		{name: "rootless docker", out: `{"ServerVersion":"28.2.2","Driver":"overlay2","DriverStatus":[],"SecurityOptions":["name=seccomp,profile=builtin","name=rootless","name=cgroupns"]}`,
			version: "28.2.2", store: StoreClassic, rootless: true},
		{name: "Docker Desktop", out: `{"ServerVersion":"28.0.4","Driver":"overlayfs","DriverStatus":[["driver-type","io.containerd.snapshotter.v1"]],"SecurityOptions":["name=seccomp,profile=unconfined","name=cgroupns"],"OperatingSystem":"Docker Desktop","OSType":"linux"}`,
			version: "28.0.4", store: StoreContainerd, desktop: true},
		{name: "podman rootful", podman: true, out: `{"host":{"security":{"rootless":false}},"store":{"graphDriverName":"overlay"},"version":{"Version":"4.3.1"}}`,
			version: "4.3.1", store: StoreContainers},
		{name: "podman rootless", podman: true, out: `{"host":{"security":{"rootless":true}},"store":{"graphDriverName":"overlay"},"version":{"Version":"4.3.1"}}`,
			version: "4.3.1", store: StoreContainers, rootless: true},
		{name: "not JSON", out: "Error: cannot connect", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in Info
			var err error
			if tc.podman {
				err = parsePodmanInfo([]byte(tc.out), &in)
			} else {
				err = parseDockerInfo([]byte(tc.out), &in)
			}
			if (err != nil) != tc.bad {
				t.Fatalf("parse(%s) = %v, want error %v", tc.name, err, tc.bad)
			}
			if !tc.bad && (in.Version != tc.version || in.Store != tc.store || in.Rootless != tc.rootless || in.Desktop != tc.desktop) {
				t.Errorf("parse(%s) = %+v, want version %s, store %s, rootless %v, desktop %v", tc.name, in, tc.version, tc.store, tc.rootless, tc.desktop)
			}
		})
	}
}

// TestFindPodman tells podman from docker by what the binary is: the
// podman-docker shim (Debian's /usr/bin/docker script), a link to podman,
// and a plain docker.
func TestFindPodman(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("podman", "#!/bin/sh\necho podman\n")
	write("docker-shim", "#!/bin/sh\n[ -e /etc/containers/nodocker ] || \\\necho \"Emulate Docker CLI using podman. Create /etc/containers/nodocker to quiet msg.\" >&2\nexec /usr/bin/podman \"$@\"\n")
	write("docker-real", "\x7fELF\x02\x01\x01 a docker binary")
	if err := os.Symlink("podman", filepath.Join(dir, "docker-link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		wantName string
		wantShim bool
	}{
		{"podman", "podman", false},
		{"docker-shim", "podman", true},
		{"docker-link", "podman", true},
		{"docker-real", "docker", false},
	}
	for _, tc := range tests {
		e, err := Find(filepath.Join(dir, tc.name))
		if err != nil {
			t.Fatalf("Find(%s) = %v", tc.name, err)
		}
		if e.Name != tc.wantName || e.Shim != tc.wantShim {
			t.Errorf("Find(%s) = %s, shim %v, want %s, shim %v", tc.name, e.Name, e.Shim, tc.wantName, tc.wantShim)
		}
	}
}

func TestPlatformOf(t *testing.T) {
	for _, tc := range []struct{ os, arch, want string }{
		{"linux", "x86_64", "linux/amd64"},
		{"linux", "aarch64", "linux/arm64"},
		{"linux", "armv7l", "linux/arm/v7"},
		{"linux", "amd64", "linux/amd64"},
		{"", "s390x", "linux/s390x"},
		{"windows", "x86_64", "windows/amd64"},
	} {
		if got := platformOf(tc.os, tc.arch); got != tc.want {
			t.Errorf("platformOf(%q, %q) = %q, want %q", tc.os, tc.arch, got, tc.want)
		}
	}
	in := &Info{}
	if err := parseDockerInfo([]byte(`{"ServerVersion":"26.1.5","OSType":"linux","Architecture":"aarch64"}`), in); err != nil || in.Platform != "linux/arm64" {
		t.Errorf("docker info: %q, %v; want linux/arm64", in.Platform, err)
	}
	if err := parsePodmanInfo([]byte(`{"host":{"os":"linux","arch":"arm","variant":"v7"},"version":{"Version":"4.3.1"}}`), in); err != nil || in.Platform != "linux/arm/v7" {
		t.Errorf("podman info: %q, %v; want linux/arm/v7", in.Platform, err)
	}
}

// TestInspectAllAsksOnce (#29): podman through its CLI is asked about all
// names in one `podman image inspect A B C`, where each command is a
// process of its own; the images it describes are matched to the names it
// did not call missing, in order. The stand-in prints what podman 4.3
// prints for two present images and one absent (an exit status of 125 and
// the absent one named on stderr), and counts its runs: a real podman
// cannot count them.
func TestInspectAllAsksOnce(t *testing.T) {
	dir := t.TempDir()
	// A named connection keeps podman's API socket, which may exist here,
	// out of it.
	t.Setenv("CONTAINER_HOST", "")
	t.Setenv("CONTAINER_CONNECTION", "stand-in")
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	e := &Engine{Name: "podman", Path: standIn(t, dir, "podman", `echo run >> "$COUNT"
echo '[{"Id":"`+a+`","RepoTags":["localhost/x:1"]},{"Id":"`+b+`"}]'
echo 'Error: inspecting object: sha256:`+strings.Repeat("c", 64)+`: image not known' >&2
exit 125`), Env: []string{"COUNT=" + filepath.Join(dir, "count")}}
	imgs, err := e.InspectAll(t.Context(), []string{"sha256:" + a, "sha256:" + strings.Repeat("c", 64), "x:2"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, img := range imgs {
		if img == nil {
			got = append(got, "-")
		} else {
			got = append(got, string(img.ID)[7:8])
		}
	}
	if strings.Join(got, "") != "a-b" {
		t.Errorf("InspectAll = %q, want a, none, b", got)
	}
	if n, _ := os.ReadFile(filepath.Join(dir, "count")); string(n) != "run\n" {
		t.Errorf("podman ran %q, want once", n)
	}
}

// TestPodmanConf (#29): what podman's containers.conf says about the
// limits and the network that decide whether its runs can work here.
func TestPodmanConf(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	harness := write("harness.conf", "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\nnetns = \"none\"   # no /dev/net/tun\n")
	commented := write("commented.conf", "[containers]\n# default_ulimits = [\"nofile=1024:1024\"]\n#netns = \"none\"\nnetns = \"slirp4netns\"\n")
	nproc := write("nproc.conf", "[containers]\ndefault_ulimits = [\"nproc=1024:1024\"]\n")
	for _, tc := range []struct {
		files        []string
		ulimits, net bool
	}{
		{[]string{harness}, true, true},
		{[]string{commented}, false, false},
		{[]string{nproc}, false, false},
		{[]string{filepath.Join(dir, "missing"), harness}, true, true},
		{nil, false, false},
	} {
		got := podmanConf(tc.files)
		if got["default_ulimits"] != tc.ulimits || got["netns=none"] != tc.net {
			t.Errorf("podmanConf(%q) = %v, want ulimits %v, netns none %v", tc.files, got, tc.ulimits, tc.net)
		}
	}
}
