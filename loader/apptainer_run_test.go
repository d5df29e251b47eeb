package loader

import (
	"encoding/csv"
	"slices"
	"strings"
	"testing"
)

// TestApptainerMount: a bind mount becomes Apptainer's --mount value,
// built from the paths themselves, so that a source holding ",target="
// (which a rewrite of docker's value turned into another path, #28),
// commas, quotes or a line break arrives as it is.
func TestApptainerMount(t *testing.T) {
	for _, tc := range []struct{ src, dst string }{
		{"/data", "/tmp"},
		{"/data,2", "/ref"},
		{"/data", "/re,f"},
		{`/da"ta`, `/r"ef`},
		{"/a:b", "/c"},
		{"/in,target=/etc", "/ref"},
		{`/in,"target=/etc"`, "/ref"},
		{"/a\nb\n", "/ref"},
	} {
		got := Bind{Src: tc.src, Dst: tc.dst, ReadOnly: true}.apptainerMount()
		fields, err := csv.NewReader(strings.NewReader(got)).Read()
		if err != nil {
			t.Fatalf("apptainerMount(%q, %q) = %q: %v", tc.src, tc.dst, got, err)
		}
		want := []string{"type=bind", "source=" + tc.src, "destination=" + tc.dst, "ro"}
		if strings.Join(fields, "\n") != strings.Join(want, "\n") {
			t.Errorf("apptainerMount(%q, %q) = %q, want fields %q", tc.src, tc.dst, fields, want)
		}
	}
}

// TestSIFRunArgs (#29): Apptainer's command line is built from the run
// options themselves: the container keeps the host out, --root is
// --fakeroot for a plain user only, an entrypoint makes it an exec, and
// the mounts, the working directory and the engine's arguments come
// before the SIF file.
func TestSIFRunArgs(t *testing.T) {
	ep, none := "/bin/sh", ""
	base := []string{"run", "--containall", "--cleanenv", "--no-eval"}
	for _, tc := range []struct {
		name     string
		r        SIFRun
		euid     int
		unsquash bool
		want     []string
	}{
		{"plain", SIFRun{SIF: "x.sif", Workdir: "/"}, 1000, false, append(base, "--pwd", "/", "x.sif")},
		{"root as a plain user", SIFRun{SIF: "x.sif", Workdir: "/", Root: true}, 1000, false, append(base, "--fakeroot", "--pwd", "/", "x.sif")},
		{"root as root", SIFRun{SIF: "x.sif", Workdir: "/", Root: true}, 0, false, append(base, "--pwd", "/", "x.sif")},
		{"no fuse", SIFRun{SIF: "x.sif", Workdir: "/"}, 1000, true, append(base, "--unsquash", "--pwd", "/", "x.sif")},
		{"mounts, args, command", SIFRun{SIF: "x.sif", Workdir: "/tmp/a", Binds: []Bind{{Src: "/w", Dst: "/tmp"}, {Src: "/r", Dst: "/ref", ReadOnly: true}}, EngineArgs: []string{"--nv"}, Command: []string{"ls", "-l"}}, 1000, false,
			append(base, "--mount", "type=bind,source=/w,destination=/tmp", "--mount", "type=bind,source=/r,destination=/ref,ro", "--pwd", "/tmp/a", "--nv", "x.sif", "ls", "-l")},
		{"entrypoint", SIFRun{SIF: "x.sif", Workdir: "/", Entrypoint: &ep, Command: []string{"-c", "id"}}, 1000, false,
			[]string{"exec", "--containall", "--cleanenv", "--no-eval", "--pwd", "/", "x.sif", "/bin/sh", "-c", "id"}},
		{"entrypoint cleared", SIFRun{SIF: "x.sif", Workdir: "/", Entrypoint: &none, Command: []string{"id"}}, 1000, false,
			[]string{"exec", "--containall", "--cleanenv", "--no-eval", "--pwd", "/", "x.sif", "id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.args(tc.euid, tc.unsquash); !slices.Equal(got, tc.want) {
				t.Errorf("args = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPickMapping: how run maps the caller, by platform and engine (#13).
func TestPickMapping(t *testing.T) {
	tests := []struct {
		goos     string
		podman   bool
		rootless bool
		want     UserMapping
	}{
		{goos: "linux", want: MapUser},
		{goos: "linux", podman: true, want: MapUser},
		{goos: "linux", rootless: true, want: MapNone},
		{goos: "linux", podman: true, rootless: true, want: MapKeepID},
		// Docker Desktop reports itself rootless (Engine.Rootless).
		{goos: "darwin", rootless: true, want: MapNone},
		{goos: "windows", rootless: true, want: MapNone},
		// colima, or a remote daemon: the caller's uid, as datalad-container
		// passes it on macOS.
		{goos: "darwin", want: MapUser},
		// No uid on Windows, whatever the daemon says.
		{goos: "windows", want: MapNone},
		// podman machine: rootless unless set --rootful.
		{goos: "darwin", podman: true, rootless: true, want: MapKeepID},
		{goos: "windows", podman: true, rootless: true, want: MapKeepID},
	}
	for _, tc := range tests {
		if got := pickMapping(tc.goos, tc.podman, tc.rootless); got != tc.want {
			t.Errorf("pickMapping(%s, podman %v, rootless %v) = %v, want %v", tc.goos, tc.podman, tc.rootless, got, tc.want)
		}
	}
}
