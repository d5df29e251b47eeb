package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// readmeSections are the README sections whose shell blocks TestReadme
// runs, in this order, as one script: what a newcomer types (#19).
var readmeSections = []string{"Using imgsave in a dataset", "DataLad", "Getting layers back"}

// TestReadme executes README: the shell blocks of the sections above, in
// order, in one bash script in an empty folder, with the real engine (the
// first of IMGSAVE_ENGINES), git-annex, DataLad and the loopback registry,
// so that README cannot drift from the tool. The Quick start's demo runs
// first, from the checkout; its other line is `make test`, which runs this
// test. README's conventions, applied here and nowhere else:
//
//   - a command whose comment starts with "# fails" must fail (the script
//     stops if it succeeds), the others must succeed (bash -e);
//   - busybox:1.36 is made offline in the engine first (scripts/mkimage.sh),
//     and the registry 127.0.0.1:5000 is $IMGSAVE_REGISTRY.
func TestReadme(t *testing.T) {
	if os.Getenv("IMGSAVE_E2E") != "1" {
		t.Skip("IMGSAVE_E2E=1 runs README against the real engines")
	}
	engs := engines(t)
	if len(engs) == 0 || engs[0].host == "" || strings.HasPrefix(engs[0].host, "podman") {
		t.Fatalf("TestReadme needs a docker engine first in IMGSAVE_ENGINES, got %v", engs)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := shellBlocks(string(readme))
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "imgsave"), "./cmd/imgsave")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	home := t.TempDir()
	env := append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"DOCKER_HOST="+engs[0].host,
		"PYTHONPATH="+os.Getenv("IMGSAVE_DATALAD_PYTHONPATH"),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org",
	)
	bash := func(dir, script string) {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README script failed: %v\n--- script ---\n%s\n--- output ---\n%s", err, script, out)
		}
		t.Logf("README script:\n%s\n--- output ---\n%s", script, out)
	}

	// The Quick start's first line; its second is `make test`.
	quick := blocks["Quick start"]
	if len(quick) != 2 || !strings.HasPrefix(quick[0], "make demo") || !strings.HasPrefix(quick[1], "make test") {
		t.Fatalf("Quick start is %q, want make demo then make test", quick)
	}
	bash(root, "make demo")

	bash(root, "scripts/mkimage.sh busybox:1.36 >/dev/null")
	t.Cleanup(func() { exec.Command("docker", "-H", engs[0].host, "rmi", "-f", "busybox:1.36").Run() })
	var script []string
	for _, s := range readmeSections {
		if len(blocks[s]) == 0 {
			t.Fatalf("README has no shell block in the section %q", s)
		}
		script = append(script, "# ## "+s)
		script = append(script, blocks[s]...)
	}
	registry := os.Getenv("IMGSAVE_REGISTRY")
	for i, line := range script {
		script[i] = strings.ReplaceAll(line, "127.0.0.1:5000", registry)
	}
	bash(t.TempDir(), strings.Join(script, "\n"))
}

// shellBlocks returns the commands of README's ```sh blocks by section
// ("## " heading), one per line (continued lines joined), each turned
// into a line of bash: "# fails" commands wrapped so that success stops
// the script.
func shellBlocks(readme string) map[string][]string {
	blocks := map[string][]string{}
	section, in, cont := "", false, ""
	sc := bufio.NewScanner(strings.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		case !in && line == "```sh":
			in = true
		case in && line == "```":
			in = false
		case in:
			if strings.HasSuffix(line, "\\") {
				cont += strings.TrimSuffix(line, "\\") + " "
				continue
			}
			line, cont = cont+line, ""
			code, comment, _ := strings.Cut(line, " # ")
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				code, comment = "", strings.TrimPrefix(strings.TrimSpace(line), "# ")
			}
			code = strings.TrimSpace(code)
			if code == "" {
				if strings.TrimSpace(comment) != "" {
					blocks[section] = append(blocks[section], "# "+comment)
				}
				continue
			}
			if strings.HasPrefix(strings.TrimSpace(comment), "fails") {
				code = fmt.Sprintf("if %s; then echo 'README: want a failure: %s' >&2; exit 1; fi", code, strings.ReplaceAll(code, "'", ""))
			}
			blocks[section] = append(blocks[section], code)
		}
	}
	return blocks
}

// TestReadmeJobScript holds README's SLURM job script (On a cluster) to the
// one slurm_array.txtar submits, so that the script README shows is the
// one tested.
func TestReadmeJobScript(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "`job.sh`, run from the dataset's top")
	if !ok {
		t.Fatal("README: no job.sh under On a cluster")
	}
	_, block, _ := strings.Cut(after, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	ar, err := txtar.ParseFile(filepath.Join("testdata", "script", "slurm_array.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ar.Files {
		if f.Name == "job.sh" {
			if string(f.Data) != block {
				t.Errorf("README's job.sh differs from slurm_array.txtar's:\n%s\n---\n%s", block, f.Data)
			}
			return
		}
	}
	t.Fatal("slurm_array.txtar: no job.sh")
}
