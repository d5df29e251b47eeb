package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// baseTools are commands the e2e scripts call that every Debian machine
// has: they come from Essential packages (coreutils, dash, grep, tar,
// util-linux), which no setup script needs to install.
var baseTools = []string{"sh", "cat", "cp", "env", "grep", "id", "ls", "mkfifo", "mv", "rm", "setpriv", "sleep", "stat", "tar", "test", "touch", "unshare"}

// toolPackages names, for every other command an e2e script calls (exec
// TOOL or [have:TOOL]), the package a setup script that `make test` runs
// must install. A new tool in a script fails TestE2EToolsInstalled until
// it has an entry here and an install line there (#28: skopeo was used by
// ten scripts and installed by none, so a fresh machine failed CI).
var toolPackages = map[string]string{
	"curl":    "curl",
	"datalad": "datalad",
	"docker":  "docker.io",
	"dot":     "graphviz",
	// docker buildx, a CLI plugin: scripts/buildx.sh unpacks trixie's.
	"docker-buildx": "docker-buildx",
	"git":           "git",
	"git-annex":     "git-annex",
	"podman":        "podman",
	"python3":       "python3-datalad", // depends on python3
	"sbatch":        "slurm-wlm",
	"skopeo":        "skopeo",
}

// installLine matches a line of a setup script that installs packages.
var installLine = regexp.MustCompile(`apt-get install|apt_q install|apt_get install|apt-get download|go install|need\+=|pkgs\+=|for p in `)

// TestE2EToolsInstalled checks, with no engine, that every command the
// e2e scripts call is installed by the scripts that `make test` runs, so
// that CI on a new machine cannot depend on a tool installed by hand.
func TestE2EToolsInstalled(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	target, ok := strings.CutPrefix(string(mk[strings.Index(string(mk), "\ntest:"):]), "\ntest:")
	if !ok {
		t.Fatal("Makefile has no test target")
	}
	if end := regexp.MustCompile(`\n[A-Za-z_-]+:`).FindStringIndex(target); end != nil {
		target = target[:end[0]]
	}
	var installs []string
	setup := regexp.MustCompile(`scripts/[A-Za-z0-9_.-]+\.sh`).FindAllString(target, -1)
	if len(setup) == 0 {
		t.Fatal("the Makefile's test target runs no setup script")
	}
	for _, s := range append(setup, ".ci/run") {
		b, err := os.ReadFile(filepath.Join("..", "..", s))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if installLine.MatchString(line) {
				installs = append(installs, line)
			}
		}
	}
	installed := func(pkg string) bool {
		word := regexp.MustCompile(`(^|[\s(/"])` + regexp.QuoteMeta(pkg) + `($|[\s)/"@;])`)
		return slices.ContainsFunc(installs, word.MatchString)
	}

	scripts, err := filepath.Glob(filepath.Join("testdata", "script", "*.txtar"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no e2e scripts: %v", err)
	}
	execRE := regexp.MustCompile(`(?m)^\s*(?:\[[^\]]*\]\s*)*!?\s*exec\s+(\S+)`)
	haveRE := regexp.MustCompile(`\[!?have:([A-Za-z0-9_.-]+)\]`)
	// A docker CLI plugin runs as `docker NAME`, installed apart.
	pluginRE := regexp.MustCompile(`(?m)^\s*(?:\[[^\]]*\]\s*)*!?\s*exec\s+docker\s+(buildx)\b`)
	used := map[string]string{} // tool -> first script using it
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		var tools []string
		for _, m := range execRE.FindAllStringSubmatch(string(b), -1) {
			tools = append(tools, m[1])
		}
		for _, m := range haveRE.FindAllStringSubmatch(string(b), -1) {
			tools = append(tools, m[1])
		}
		for _, m := range pluginRE.FindAllStringSubmatch(string(b), -1) {
			tools = append(tools, "docker-"+m[1])
		}
		for _, tool := range tools {
			// $VAR tools ($CRANE, $COSIGN) come from the setup scripts'
			// output, checked by their conditions; imgsave is built here.
			if strings.HasPrefix(tool, "$") || tool == "imgsave" || tool == remoteProgram {
				continue
			}
			if _, ok := used[tool]; !ok {
				used[tool] = filepath.Base(s)
			}
		}
	}
	for tool, script := range used {
		if slices.Contains(baseTools, tool) {
			continue
		}
		pkg, ok := toolPackages[tool]
		if !ok {
			t.Errorf("%s calls %s, which is not in toolPackages: name the package that provides it there and install it in a script that `make test` runs (%s)", script, tool, strings.Join(setup, " "))
			continue
		}
		if !installed(pkg) {
			t.Errorf("%s calls %s, but no script that `make test` runs (%s) installs %s: a new machine would fail CI", script, tool, strings.Join(setup, " "), pkg)
		}
	}
}
