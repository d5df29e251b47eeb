package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/script")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"imgsave": func() { os.Exit(main1()) }, remoteProgram: func() { os.Exit(main1()) }})
}

// testEngine is one Docker daemon the scripts run against.
type testEngine struct {
	host  string // DOCKER_HOST
	name  string // e.g. docker-20.10.24 or docker-26.1.5
	store string // "classic" or "containerd"
}

var (
	enginesOnce sync.Once
	enginesList []testEngine
	enginesErr  error
)

// engines lists the daemons named in IMGSAVE_ENGINES (DOCKER_HOST values,
// space-separated), or the default socket. With IMGSAVE_E2E=1, as in CI, a
// listed daemon that does not answer fails the tests instead of skipping.
func engines(t *testing.T) []testEngine {
	enginesOnce.Do(func() {
		hosts := strings.Fields(os.Getenv("IMGSAVE_ENGINES"))
		if len(hosts) == 0 {
			hosts = []string{"unix:///var/run/docker.sock"}
		}
		for _, h := range hosts {
			if h == "podman-rootless" && os.Getuid() == 0 {
				// Rootless podman belongs to a user: the whole suite runs
				// again as the test user, in a child test process
				// (runRootless), where this engine is plain podman.
				user := os.Getenv("IMGSAVE_TEST_USER")
				if user == "" {
					enginesErr = fmt.Errorf("engine podman-rootless: IMGSAVE_TEST_USER is unset")
					continue
				}
				enginesList = append(enginesList, testEngine{host: h, name: "podman-rootless-as-" + user, store: "containers-storage"})
				continue
			}
			if h == "podman" || h == "podman-rootless" {
				// Rootful podman, driven through a podman-docker-like
				// `docker` script that the setup puts first on PATH, so
				// that the scripts' docker commands reach podman too.
				var stderr bytes.Buffer
				cmd := exec.Command("podman", "version", "--format", "{{.Client.Version}}")
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					enginesErr = fmt.Errorf("engine %s: %v: %s", h, err, bytes.TrimSpace(stderr.Bytes()))
					continue
				}
				name := "podman-" + strings.TrimSpace(string(out))
				if h == "podman-rootless" {
					name += "-rootless"
				}
				enginesList = append(enginesList, testEngine{host: h, name: name, store: "containers-storage"})
				continue
			}
			cmd := exec.Command("docker", "version", "--format", "{{.Server.Version}}|{{.Server.Os}}")
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+h)
			out, err := cmd.CombinedOutput()
			if err != nil {
				enginesErr = fmt.Errorf("engine %s: %v: %s", h, err, bytes.TrimSpace(out))
				continue
			}
			e := testEngine{host: h, name: "docker-" + strings.Split(strings.TrimSpace(string(out)), "|")[0], store: "classic"}
			cmd = exec.Command("docker", "info", "--format", "{{.DriverStatus}}")
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+h)
			if out, err := cmd.Output(); err == nil && strings.Contains(string(out), "io.containerd.snapshotter") {
				e.store = "containerd"
			}
			enginesList = append(enginesList, e)
		}
	})
	if os.Getenv("IMGSAVE_E2E") == "1" {
		if enginesErr != nil {
			t.Fatalf("IMGSAVE_E2E=1 but %v (start the engines with scripts/engines.sh)", enginesErr)
		}
		if _, err := exec.LookPath("podman"); err != nil {
			t.Fatalf("IMGSAVE_E2E=1 but no podman on PATH (scripts/engines.sh installs it)")
		}
		if _, err := exec.LookPath("git-annex"); err != nil {
			t.Fatalf("IMGSAVE_E2E=1 but no git-annex on PATH (scripts/engines.sh installs it)")
		}
		if os.Getenv("IMGSAVE_DATALAD_ADAPTER") == "" || os.Getenv("IMGSAVE_DATALAD_PYTHONPATH") == "" {
			t.Fatalf("IMGSAVE_E2E=1 but IMGSAVE_DATALAD_ADAPTER or IMGSAVE_DATALAD_PYTHONPATH is unset (scripts/datalad.sh installs the adapter and prints both)")
		}
		if os.Getenv("IMGSAVE_REGISTRY") == "" || os.Getenv("IMGSAVE_REGISTRY_TLS") == "" {
			t.Fatalf("IMGSAVE_E2E=1 but IMGSAVE_REGISTRY is unset (scripts/engines.sh starts a registry and prints it)")
		}
		if os.Getenv("IMGSAVE_TEST_USER") == "" {
			t.Fatalf("IMGSAVE_E2E=1 but IMGSAVE_TEST_USER is unset (scripts/engines.sh adds the user and prints it)")
		}
		if _, err := exec.LookPath("datalad"); err != nil {
			t.Fatalf("IMGSAVE_E2E=1 but no datalad on PATH (scripts/datalad.sh installs it)")
		}
		if a := os.Getenv("IMGSAVE_APPTAINER"); a == "" {
			t.Fatalf("IMGSAVE_E2E=1 but IMGSAVE_APPTAINER is unset (scripts/apptainer.sh builds Apptainer and prints it)")
		} else if _, err := os.Stat(a); err != nil {
			t.Fatalf("IMGSAVE_E2E=1 but IMGSAVE_APPTAINER: %v", err)
		}
		if os.Getenv("IMGSAVE_ARM64_BUSYBOX") == "" {
			t.Fatalf("IMGSAVE_E2E=1 but IMGSAVE_ARM64_BUSYBOX is unset (scripts/foreign.sh downloads it and prints it)")
		}
		if os.Getenv("SLURM_CONF") == "" {
			t.Fatalf("IMGSAVE_E2E=1 but SLURM_CONF is unset (scripts/slurm.sh starts a one-node cluster and prints it)")
		} else if _, err := exec.LookPath("sbatch"); err != nil {
			t.Fatalf("IMGSAVE_E2E=1 but no sbatch on PATH (scripts/slurm.sh installs SLURM)")
		}
	}
	return enginesList
}

// TestScript runs every script in testdata/script against each engine; a
// script that needs none runs against the first only ([engine] condition).
func TestScript(t *testing.T) {
	t.Cleanup(removeMade)
	engs := engines(t)
	if len(engs) == 0 {
		engs = []testEngine{{}}
	}
	for i, e := range engs {
		name := e.name
		if name == "" {
			name = "no-engine"
		}
		t.Run(name, func(t *testing.T) {
			if e.host == "podman-rootless" && os.Getuid() == 0 {
				runRootless(t)
				return
			}
			testscript.Run(t, testscript.Params{
				Dir:                 "testdata/script",
				UpdateScripts:       *update,
				RequireExplicitExec: true,
				RequireUniqueNames:  true,
				Setup:               func(env *testscript.Env) error { return setup(env, e, engs, i) },
				Condition:           func(cond string) (bool, error) { return condition(cond, e, engs, i) },
				Cmds:                map[string]func(*testscript.TestScript, bool, []string){"mkimage": cmdMkimage, "mktar": cmdMktar, "cmpdir": cmdCmpdir, "blobsok": cmdBlobsok, "zstdlayout": cmdZstdLayout, "mkmulti": cmdMkmulti, "verifier": cmdVerifier},
			})
		})
	}
}

// setup gives each script its engine, a home, and its own image repository
// $T (scripts run in parallel against one daemon), removed afterwards.
func setup(env *testscript.Env, e testEngine, all []testEngine, i int) error {
	fixtures, err := filepath.Abs(filepath.Join("..", "..", "testdata"))
	if err != nil {
		return err
	}
	env.Setenv("FIXTURES", fixtures)
	env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
	if err := os.Mkdir(filepath.Join(env.WorkDir, "home"), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	env.Setenv("XDG_CACHE_HOME", filepath.Join(env.WorkDir, "home", ".cache"))
	if e.host == "" {
		return nil
	}
	if isPodman(e) {
		shim := filepath.Join(env.WorkDir, ".engine-bin")
		if err := os.MkdirAll(shim, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(shim, "docker"), []byte("#!/bin/sh\n# podman-docker's way: docker is podman\nexec podman \"$@\"\n"), 0o755); err != nil {
			return err
		}
		env.Setenv("PATH", shim+string(os.PathListSeparator)+env.Getenv("PATH"))
		env.Setenv("MKIMAGE_ENGINE", "podman")
		// The scripts' recording wrappers are named docker and run the
		// shim; imgsave would take one for docker and ask docker's
		// default socket. A DOCKER_HOST that is not a unix socket makes
		// it ask through the CLI (the wrapper, then podman), which podman
		// ignores.
		env.Setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
		if e.host == "podman-rootless" {
			// One store for the user, as users have, outside the
			// script's HOME: its files belong to subordinate IDs
			// that the script's cleanup could not remove.
			env.Setenv("XDG_DATA_HOME", filepath.Join(os.Getenv("HOME"), ".local", "share"))
			// Without it podman re-executes itself into its user
			// namespace, and 4.3's outer process then loses a relayed
			// SIGTERM and exits 0.
			env.Setenv("XDG_RUNTIME_DIR", os.Getenv("XDG_RUNTIME_DIR"))
		}
	} else {
		env.Setenv("DOCKER_HOST", e.host)
	}
	env.Setenv("IMGSAVE_DATALAD_ADAPTER", os.Getenv("IMGSAVE_DATALAD_ADAPTER"))
	env.Setenv("IMGSAVE_DATALAD_PYTHONPATH", os.Getenv("IMGSAVE_DATALAD_PYTHONPATH"))
	env.Setenv("IMGSAVE_TEST_USER", os.Getenv("IMGSAVE_TEST_USER"))
	env.Setenv("APPTAINER", os.Getenv("IMGSAVE_APPTAINER"))
	env.Setenv("ARM64_BUSYBOX", os.Getenv("IMGSAVE_ARM64_BUSYBOX"))
	env.Setenv("EMULATION", os.Getenv("IMGSAVE_EMULATION"))
	env.Setenv("CRANE", os.Getenv("IMGSAVE_CRANE"))
	env.Setenv("COSIGN", os.Getenv("IMGSAVE_COSIGN"))
	env.Setenv("COSIGN3", os.Getenv("IMGSAVE_COSIGN3"))
	env.Setenv("REGISTRY_REFERRERS", os.Getenv("IMGSAVE_REGISTRY_REFERRERS"))
	env.Setenv("BUILDX_HOST", os.Getenv("IMGSAVE_BUILDX_HOST"))
	env.Setenv("SLURM_CONF", os.Getenv("SLURM_CONF"))
	env.Setenv("REGISTRY", os.Getenv("IMGSAVE_REGISTRY"))
	env.Setenv("REGISTRY_TLS", os.Getenv("IMGSAVE_REGISTRY_TLS"))
	env.Setenv("REGISTRY_CA", os.Getenv("IMGSAVE_REGISTRY_CA"))
	env.Setenv("REGISTRY_DATA", os.Getenv("IMGSAVE_REGISTRY_DATA")) // its storage, for tampering
	// Debian 12's rootful podman cannot set its default rlimits in this
	// sandbox; a containers.conf the harness owns (never the user's or
	// the system's) gives it ones it may. Rootless containers get no
	// network: theirs needs /dev/net/tun, which the sandbox lacks.
	conf := "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"
	if e.host == "podman-rootless" {
		conf += "netns = \"none\"\n"
	}
	confFile := filepath.Join(env.WorkDir, ".containers.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		return err
	}
	env.Setenv("CONTAINERS_CONF", confFile)
	// Docker trusts a loopback registry over plain HTTP; podman is told,
	// in a registries.conf the harness owns.
	if reg := os.Getenv("IMGSAVE_REGISTRY"); reg != "" {
		regConf := filepath.Join(env.WorkDir, ".registries.conf")
		if err := os.WriteFile(regConf, []byte(fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", reg)), 0o644); err != nil {
			return err
		}
		env.Setenv("CONTAINERS_REGISTRIES_CONF", regConf)
	}
	env.Setenv("STORE", e.store)
	// The process ID keeps two test runs on one machine apart.
	repo := fmt.Sprintf("imgsave-e2e/%s-%d", strings.ToLower(strings.ReplaceAll(filepath.Base(env.WorkDir), "script-", "")), os.Getpid())
	env.Setenv("T", repo)
	env.Defer(func() { removeImages(repo, e.host) })
	if other := otherDocker(all, i); other != "" {
		env.Setenv("OTHER_DOCKER_HOST", other)
		env.Defer(func() { removeImages(repo, other) })
	}
	return nil
}

// otherDocker is the next docker daemon after engine i, for the
// cross-engine scripts, or "" when there is none.
func otherDocker(all []testEngine, i int) string {
	for k := 1; k < len(all); k++ {
		if o := all[(i+k)%len(all)]; !isPodman(o) {
			return o.host
		}
	}
	return ""
}

func removeImages(repo, host string) {
	engine, env := "docker", "DOCKER_HOST="+host
	if strings.HasPrefix(host, "podman") {
		engine, env = "podman", "IMGSAVE_NOTHING=1"
	}
	cmd := exec.Command("sh", "-c", `$1 image ls --format '{{.Repository}}:{{.Tag}}' | sed 's|^localhost/||' | grep "^$0:" | xargs -r $1 rmi -f >/dev/null`, repo, engine)
	cmd.Env = append(os.Environ(), env)
	cmd.Run()
}

// made lists each image mkimage made: engine, DOCKER_HOST and ID. An
// image a second mkimage of the same tag left untagged, or one a load of a
// pulled directory tagged under the registry's name, is found by no $T
// name, and a full run left about 57 on the engines of the machine:
// removeMade removes them by ID once every script has ended. Not at each
// script's end: on a containerd image store, every removal runs a garbage
// collection that can take a snapshot another script's load is reusing
// (containerd#3787).
var made struct {
	sync.Mutex
	images []madeImage
}

type madeImage struct{ engine, host, id string }

func removeMade() {
	made.Lock()
	defer made.Unlock()
	for _, m := range made.images {
		cmd := exec.Command(m.engine, "rmi", "-f", m.id)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+m.host)
		cmd.Run()
	}
	made.images = nil
}

func condition(cond string, e testEngine, all []testEngine, i int) (bool, error) {
	switch cond {
	case "engine":
		return e.host != "", nil
	case "classic", "containerd":
		return e.store == cond, nil
	case "other":
		return otherDocker(all, i) != "", nil
	case "podman":
		return isPodman(e), nil
	case "rootless":
		return e.host == "podman-rootless", nil
	case "first":
		// The rootless child runs the suite a second time: scripts
		// that run once ran in the parent.
		return i == 0 && os.Getenv("IMGSAVE_TEST_CHILD") == "", nil
	case "adapter":
		return os.Getenv("IMGSAVE_DATALAD_ADAPTER") != "", nil
	case "registry":
		return os.Getenv("IMGSAVE_REGISTRY") != "", nil
	case "registry_tls":
		return os.Getenv("IMGSAVE_REGISTRY_TLS") != "", nil
	case "testuser":
		return os.Getenv("IMGSAVE_TEST_USER") != "" && os.Getuid() == 0, nil
	case "datalad":
		_, err := exec.LookPath("datalad")
		return err == nil && os.Getenv("IMGSAVE_DATALAD_PYTHONPATH") != "", nil
	case "root":
		// Under IMGSAVE_E2E=1 (CI) the suite runs as root, and a script
		// that needs root must not skip silently (#28). The rootless
		// child runs as the test user on purpose: the parent ran those
		// scripts as root.
		if os.Getuid() != 0 && os.Getenv("IMGSAVE_E2E") == "1" && os.Getenv("IMGSAVE_TEST_CHILD") == "" {
			return false, fmt.Errorf("IMGSAVE_E2E=1 but the tests run as uid %d: this script needs root (CI runs make test as root)", os.Getuid())
		}
		return os.Getuid() == 0, nil
	case "apptainer":
		return os.Getenv("IMGSAVE_APPTAINER") != "", nil
	case "foreign":
		return os.Getenv("IMGSAVE_ARM64_BUSYBOX") != "", nil
	case "crane":
		if os.Getenv("IMGSAVE_CRANE") == "" && os.Getenv("IMGSAVE_E2E") == "1" {
			return false, fmt.Errorf("IMGSAVE_E2E=1 but IMGSAVE_CRANE is unset (scripts/foreign.sh installs crane and prints it)")
		}
		return os.Getenv("IMGSAVE_CRANE") != "", nil
	case "cosign":
		if os.Getenv("IMGSAVE_COSIGN") == "" && os.Getenv("IMGSAVE_E2E") == "1" {
			return false, fmt.Errorf("IMGSAVE_E2E=1 but IMGSAVE_COSIGN is unset (scripts/cosign.sh installs cosign and prints it)")
		}
		return os.Getenv("IMGSAVE_COSIGN") != "", nil
	case "cosign3":
		if os.Getenv("IMGSAVE_COSIGN3") == "" && os.Getenv("IMGSAVE_E2E") == "1" {
			return false, fmt.Errorf("IMGSAVE_E2E=1 but IMGSAVE_COSIGN3 is unset (scripts/cosign.sh builds cosign v3 and prints it)")
		}
		return os.Getenv("IMGSAVE_COSIGN3") != "", nil
	case "referrers":
		if os.Getenv("IMGSAVE_REGISTRY_REFERRERS") == "" && os.Getenv("IMGSAVE_E2E") == "1" {
			return false, fmt.Errorf("IMGSAVE_E2E=1 but IMGSAVE_REGISTRY_REFERRERS is unset (scripts/engines.sh starts it and prints it)")
		}
		return os.Getenv("IMGSAVE_REGISTRY_REFERRERS") != "", nil
	case "buildx":
		// docker buildx and its build daemon (scripts/buildx.sh).
		if os.Getenv("IMGSAVE_BUILDX_HOST") == "" && os.Getenv("IMGSAVE_E2E") == "1" {
			return false, fmt.Errorf("IMGSAVE_E2E=1 but IMGSAVE_BUILDX_HOST is unset (scripts/buildx.sh installs docker buildx, starts its build daemon and prints it)")
		}
		return os.Getenv("IMGSAVE_BUILDX_HOST") != "", nil
	case "emulation":
		// qemu-user-static registered for arm64 (scripts/foreign.sh says).
		return os.Getenv("IMGSAVE_EMULATION") != "", nil
	case "slurm":
		_, err := exec.LookPath("sbatch")
		return err == nil && os.Getenv("SLURM_CONF") != "", nil
	case "nozstd":
		// Docker before 23, whose load reads no zstd layers.
		v, ok := strings.CutPrefix(e.name, "docker-")
		major, err := strconv.Atoi(strings.Split(v, ".")[0])
		return ok && err == nil && major < 23, nil
	}
	if tool, ok := strings.CutPrefix(cond, "have:"); ok {
		// exec:TOOL, except that with IMGSAVE_E2E=1 (CI) a missing tool
		// fails the script instead of skipping it (#18).
		_, err := exec.LookPath(tool)
		if err != nil && os.Getenv("IMGSAVE_E2E") == "1" {
			return false, fmt.Errorf("IMGSAVE_E2E=1 but %s is not on PATH (scripts/engines.sh installs it)", tool)
		}
		return err == nil, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

// cmdMkimage builds a tiny busybox image offline with `docker import` (or
// $MKIMAGE_ENGINE's): mkimage REF [PATH=CONTENT...]. Extra files make
// distinct images.
func cmdMkimage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: mkimage REF [PATH=CONTENT...]")
	}
	bb, err := os.ReadFile("/bin/busybox")
	ts.Check(err)
	var files [][2]string
	for _, a := range args[1:] {
		name, content, _ := strings.Cut(a, "=")
		files = append(files, [2]string{name, content})
	}
	// A layer of its own: scripts run in parallel, and on a containerd
	// store one script's rmi can garbage-collect a layer another script's
	// load is importing, when both images share it.
	files = append(files, [2]string{".imgsave-e2e-ref", args[0]})
	buf := bytes.NewBuffer(busyboxTar(ts, bb, []string{"sh", "cat", "echo", "ls", "id", "touch", "sleep", "true", "false", "stat", "kill", "trap", "wc", "head", "env", "pwd"}, files...))
	engine := ts.Getenv("MKIMAGE_ENGINE")
	if engine == "" {
		engine = "docker"
	}
	host := ts.Getenv("DOCKER_HOST")
	cmd := exec.Command(engine, "import", "-c", `CMD ["/bin/sh"]`, "-", args[0])
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
	cmd.Stdin = buf
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		ts.Fatalf("%s import %s: %v: %s", engine, args[0], err, stderr.Bytes())
	}
	id := strings.TrimSpace(string(out))
	if !strings.HasPrefix(id, "sha256:") && engine != "podman" || strings.ContainsAny(id, " \t\n") {
		ts.Fatalf("%s import %s printed %q, not an image ID", engine, args[0], out)
	}
	made.Lock()
	made.images = append(made.images, madeImage{engine, host, id})
	made.Unlock()
}

// busyboxTar is a layer of busybox (bb), with a link to it in bin/ for
// each applet, a /tmp, and files {name, content}, in that order.
func busyboxTar(ts *testscript.TestScript, bb []byte, applets []string, files ...[2]string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, data []byte) {
		h.Size = int64(len(data))
		ts.Check(tw.WriteHeader(h))
		_, err := tw.Write(data)
		ts.Check(err)
	}
	add(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, nil)
	add(&tar.Header{Name: "bin/busybox", Mode: 0o755}, bb)
	for _, l := range applets {
		add(&tar.Header{Name: "bin/" + l, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	for _, f := range files {
		add(&tar.Header{Name: f[0], Mode: 0o644}, []byte(f[1]))
	}
	ts.Check(tw.Close())
	return buf.Bytes()
}

// cmdMktar writes a tarball with exactly the entries given, hostile ones
// included: mktar FILE ENTRY... where ENTRY is NAME=CONTENT (file),
// NAME->TARGET (symlink), NAME=>TARGET (hard link), NAME/ (folder) or
// NAME|fifo, NAME|char.
func cmdMktar(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: mktar FILE ENTRY...")
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, a := range args[1:] {
		h := &tar.Header{Mode: 0o644, Typeflag: tar.TypeReg}
		var data string
		switch {
		case strings.Contains(a, "->"):
			h.Name, h.Linkname, _ = strings.Cut(a, "->")
			h.Typeflag = tar.TypeSymlink
		case strings.Contains(a, "=>"):
			h.Name, h.Linkname, _ = strings.Cut(a, "=>")
			h.Typeflag = tar.TypeLink
		case strings.HasSuffix(a, "|fifo"):
			h.Name, h.Typeflag = strings.TrimSuffix(a, "|fifo"), tar.TypeFifo
		case strings.HasSuffix(a, "|char"):
			h.Name, h.Typeflag = strings.TrimSuffix(a, "|char"), tar.TypeChar
		case strings.HasSuffix(a, "/"):
			h.Name, h.Typeflag = a, tar.TypeDir
		default:
			h.Name, data, _ = strings.Cut(a, "=")
			h.Size = int64(len(data))
		}
		ts.Check(tw.WriteHeader(h))
		_, err := tw.Write([]byte(data))
		ts.Check(err)
	}
	ts.Check(tw.Close())
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), buf.Bytes(), 0o644))
}

// cmdCmpdir compares two trees: names, types, modes and bytes.
func cmdCmpdir(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmpdir DIR1 DIR2")
	}
	a, b := treeOf(ts, ts.MkAbs(args[0])), treeOf(ts, ts.MkAbs(args[1]))
	same := a == b
	if same == neg {
		ts.Fatalf("cmpdir %s %s: same=%v\n--- %s\n%s--- %s\n%s", args[0], args[1], same, args[0], a, args[1], b)
	}
}

func treeOf(ts *testscript.TestScript, dir string) string {
	var sb strings.Builder
	ts.Check(filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		sum := ""
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			sum = hex.EncodeToString(h[:8])
		}
		fmt.Fprintf(&sb, "%s %v %s\n", rel, fi.Mode(), sum)
		return nil
	}))
	return sb.String()
}

// cmdBlobsok checks that every file in DIR/blobs/sha256 is named by the
// sha256 of its content and that the tree holds only regular files and
// folders.
func cmdBlobsok(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: blobsok DIR")
	}
	dir := ts.MkAbs(args[0])
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	ts.Check(err)
	if len(entries) == 0 {
		ts.Fatalf("%s: no blobs", args[0])
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", e.Name()))
		ts.Check(err)
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != e.Name() {
			ts.Fatalf("%s: content has sha256 %x", e.Name(), got)
		}
	}
	ts.Check(filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		return err
	}))
}

func isPodman(e testEngine) bool { return strings.HasPrefix(e.host, "podman") }

// runRootless runs this test binary again as IMGSAVE_TEST_USER, with
// rootless podman as its one engine, from a world-readable copy of the
// binary and the test data: the scripts then run as the user would, every
// command and file theirs.
func runRootless(t *testing.T) {
	u, err := user.Lookup(os.Getenv("IMGSAVE_TEST_USER"))
	if err != nil {
		t.Fatalf("rootless podman: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	d, err := os.MkdirTemp("", "imgsave-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		os.CopyFS(filepath.Join(d, "cmd", "imgsave", "testdata"), os.DirFS("testdata")),
		os.CopyFS(filepath.Join(d, "testdata"), os.DirFS(filepath.Join("..", "..", "testdata"))),
		os.WriteFile(filepath.Join(d, "imgsave.test"), bin, 0o755),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(d, "tmp")
	for _, err := range []error{os.Chmod(d, 0o755), os.Mkdir(tmp, 0o700), os.Chown(tmp, uid, gid)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"-test.run=^TestScript$", "-test.count=1", "-test.timeout=30m"}
	if f := flag.Lookup("test.run"); f != nil {
		if parts := strings.SplitN(f.Value.String(), "/", 3); len(parts) == 3 {
			args[0] = "-test.run=^TestScript$/.*/" + parts[2]
		}
	}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(filepath.Join(d, "imgsave.test"), args...)
	cmd.Dir = filepath.Join(d, "cmd", "imgsave")
	runAs(t, cmd, uid, gid)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + u.HomeDir,
		"XDG_RUNTIME_DIR=/run/user/" + u.Uid,
		"TMPDIR=" + tmp,
		"IMGSAVE_TEST_CHILD=1",
		"IMGSAVE_ENGINES=podman-rootless",
	}
	for _, k := range []string{"IMGSAVE_E2E", "IMGSAVE_TEST_USER", "IMGSAVE_REGISTRY", "IMGSAVE_REGISTRY_TLS", "IMGSAVE_REGISTRY_CA", "IMGSAVE_REGISTRY_DATA", "IMGSAVE_DATALAD_ADAPTER", "IMGSAVE_DATALAD_PYTHONPATH", "IMGSAVE_APPTAINER", "SLURM_CONF", "IMGSAVE_ARM64_BUSYBOX", "IMGSAVE_EMULATION", "IMGSAVE_CRANE", "IMGSAVE_COSIGN", "IMGSAVE_COSIGN3", "IMGSAVE_REGISTRY_REFERRERS", "IMGSAVE_BUILDX_HOST", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the suite as %s on rootless podman: %v\n%s", u.Username, err, out)
	}
	t.Logf("the suite as %s on rootless podman:\n%s", u.Username, out)
}

// cmdZstdLayout writes an OCI layout of DIR's image with its layers
// compressed with zstd, as `skopeo copy --dest-compress-format zstd` to an
// oci: destination leaves it: zstdlayout DIR OUT. No manifest.json; the
// same config, so the same image ID (#19).
func cmdZstdLayout(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: zstdlayout DIR OUT")
	}
	src, out := ts.MkAbs(args[0]), ts.MkAbs(args[1])
	blob := func(d string) string { return filepath.Join("blobs", "sha256", strings.TrimPrefix(d, "sha256:")) }
	put := func(data []byte) string {
		sum := sha256.Sum256(data)
		d := "sha256:" + hex.EncodeToString(sum[:])
		ts.Check(os.MkdirAll(filepath.Join(out, "blobs", "sha256"), 0o755))
		ts.Check(os.WriteFile(filepath.Join(out, blob(d)), data, 0o644))
		return d
	}
	var index struct {
		Manifests []map[string]any `json:"manifests"`
	}
	b, err := os.ReadFile(filepath.Join(src, "index.json"))
	ts.Check(err)
	ts.Check(json.Unmarshal(b, &index))
	desc := index.Manifests[0]
	b, err = os.ReadFile(filepath.Join(src, blob(desc["digest"].(string))))
	ts.Check(err)
	var m struct {
		SchemaVersion int              `json:"schemaVersion"`
		MediaType     string           `json:"mediaType"`
		Config        map[string]any   `json:"config"`
		Layers        []map[string]any `json:"layers"`
	}
	ts.Check(json.Unmarshal(b, &m))
	config, err := os.ReadFile(filepath.Join(src, blob(m.Config["digest"].(string))))
	ts.Check(err)
	put(config)
	for _, l := range m.Layers {
		data, err := os.ReadFile(filepath.Join(src, blob(l["digest"].(string))))
		ts.Check(err)
		var buf bytes.Buffer
		zw, err := zstd.NewWriter(&buf)
		ts.Check(err)
		_, err = zw.Write(data)
		ts.Check(err)
		ts.Check(zw.Close())
		l["mediaType"], l["digest"], l["size"] = "application/vnd.oci.image.layer.v1.tar+zstd", put(buf.Bytes()), buf.Len()
	}
	mb, err := json.Marshal(m)
	ts.Check(err)
	desc["digest"], desc["size"] = put(mb), len(mb)
	ib, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{desc}})
	ts.Check(err)
	ts.Check(os.WriteFile(filepath.Join(out, "index.json"), ib, 0o644))
	ts.Check(os.WriteFile(filepath.Join(out, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
}

// cmdMkmulti writes an OCI archive of one image for two platforms under one
// name, as a multi-platform save or a registry's index holds it: linux/amd64
// from this machine's /bin/busybox and linux/arm64 from $ARM64_BUSYBOX
// (Debian's busybox-static for arm64, scripts/foreign.sh), each with
// /platform naming it: mkmulti TAR REF. With a third argument, lie, the
// arm64 entry is a lie (#28): its image is a second amd64 one, from
// /bin/busybox, whose config says so.
func cmdMkmulti(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 && (len(args) != 3 || args[2] != "lie") {
		ts.Fatalf("usage: mkmulti TAR REF [lie]")
	}
	lie := len(args) == 3
	blobs := map[string][]byte{}
	put := func(b []byte) (string, int) {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs[d] = b
		return d, len(b)
	}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		ts.Check(err)
		return b
	}
	var manifests []any
	for _, p := range []struct{ arch, busybox string }{{"amd64", "/bin/busybox"}, {"arm64", ts.Getenv("ARM64_BUSYBOX")}} {
		claim := p.arch
		if lie {
			p.arch, p.busybox = "amd64", "/bin/busybox"
		}
		bb, err := os.ReadFile(p.busybox)
		ts.Check(err)
		ld, ls := put(busyboxTar(ts, bb, []string{"sh", "cat", "echo", "uname", "true", "ls"}, [2]string{"platform", "linux/" + claim + "\n"}, [2]string{".imgsave-e2e-ref", args[1]}))
		cd, cs := put(mustJSON(map[string]any{
			"architecture": p.arch, "os": "linux", "created": "2026-01-01T00:00:00Z",
			"config": map[string]any{"Cmd": []string{"/bin/sh"}},
			"rootfs": map[string]any{"type": "layers", "diff_ids": []string{ld}},
		}))
		md, ms := put(mustJSON(map[string]any{
			"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
			"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
			"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}},
		}))
		manifests = append(manifests, map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
			"platform": map[string]any{"os": "linux", "architecture": claim}})
	}
	id, is := put(mustJSON(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}))
	top := mustJSON(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{
		map[string]any{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": id, "size": is,
			"annotations": map[string]string{"io.containerd.image.name": args[1]}},
	}})
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	file := func(name string, data []byte) {
		ts.Check(tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data))}))
		_, err := tw.Write(data)
		ts.Check(err)
	}
	file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	file("index.json", top)
	for d, b := range blobs {
		file("blobs/sha256/"+strings.TrimPrefix(d, "sha256:"), b)
	}
	ts.Check(tw.Close())
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), out.Bytes(), 0o644))
}

var (
	verifierOnce sync.Once
	verifierDir  string
	verifierErr  error
)

// cmdVerifier puts imgsave-sigstore, the Sigstore bundle verifier imgsave
// runs (#30), first on the script's PATH: built once per test process
// from ../imgsave-sigstore, as `go install ./cmd/...` installs it beside
// imgsave. It is not a testscript command of this binary, which must not
// link sigstore-go.
func cmdVerifier(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: verifier")
	}
	verifierOnce.Do(func() {
		if verifierDir, verifierErr = os.MkdirTemp("", "imgsave-verifier-"); verifierErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(verifierDir, "imgsave-sigstore"), "../imgsave-sigstore").CombinedOutput()
		if err != nil {
			verifierErr = fmt.Errorf("go build imgsave-sigstore: %v: %s", err, out)
		}
	})
	ts.Check(verifierErr)
	ts.Setenv("PATH", verifierDir+string(os.PathListSeparator)+ts.Getenv("PATH"))
}
