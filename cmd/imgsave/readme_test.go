package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// guide is what TestReadme runs, in this order, as one script: the shell
// blocks of a "## " section of README.md or of a file under docs/, what a
// newcomer types (#19, #29). Text that moves must move here too:
// TestGuideSections fails, without any engine, when a section is gone.
var guide = []struct{ file, section string }{
	{"README.md", "A dataset"},
	{"README.md", "DataLad"},
	{"docs/datasets.md", "Getting layers back"},
	{"README.md", "A registry"},
	{"README.md", "Did my rebuild reproduce it?"},
	{"README.md", "Evidence"},
}

// TestReadme executes README and docs/: the shell blocks of the guide's
// sections, in order, in one bash script in an empty folder, with the real
// engine (the first of IMGSAVE_ENGINES), git-annex, DataLad, cosign and the
// loopback registry, so that the guide cannot drift from the tool. The
// Quick start's demo runs first, from the checkout; its other line is
// `make test`, which runs this test. The conventions of README and docs/,
// applied here and nowhere else:
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
	blocks, err := guideBlocks(root)
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "imgsave"), "./cmd/imgsave")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	home := t.TempDir()
	env := append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+filepath.Dir(os.Getenv("IMGSAVE_COSIGN"))+string(os.PathListSeparator)+os.Getenv("PATH"),
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
			t.Fatalf("guide script failed: %v\n--- script ---\n%s\n--- output ---\n%s", err, script, out)
		}
		t.Logf("guide script:\n%s\n--- output ---\n%s", script, out)
	}

	// The Quick start's first line; its second is `make test`.
	quick := blocks["README.md"]["Quick start"]
	if len(quick) != 2 || !strings.HasPrefix(quick[0], "make demo") || !strings.HasPrefix(quick[1], "make test") {
		t.Fatalf("Quick start is %q, want make demo then make test", quick)
	}
	bash(root, "make demo")

	bash(root, "scripts/mkimage.sh busybox:1.36 >/dev/null")
	t.Cleanup(func() { exec.Command("docker", "-H", engs[0].host, "rmi", "-f", "busybox:1.36").Run() })
	var script []string
	for _, g := range guide {
		script = append(script, "# ## "+g.file+": "+g.section)
		script = append(script, blocks[g.file][g.section]...)
	}
	registry := os.Getenv("IMGSAVE_REGISTRY")
	for i, line := range script {
		script[i] = strings.ReplaceAll(line, "127.0.0.1:5000", registry)
	}
	bash(t.TempDir(), strings.Join(script, "\n"))
}

// guideBlocks reads README.md and every docs/*.md under root and returns
// their shell blocks by file (relative to root) and section, after
// checking that each section of the guide has one.
func guideBlocks(root string) (map[string]map[string][]string, error) {
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		return nil, err
	}
	blocks := map[string]map[string][]string{}
	for _, f := range append([]string{filepath.Join(root, "README.md")}, files...) {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(root, f)
		if err != nil {
			return nil, err
		}
		blocks[filepath.ToSlash(rel)] = shellBlocks(string(b))
	}
	for _, g := range guide {
		if len(blocks[g.file][g.section]) == 0 {
			return nil, fmt.Errorf("%s has no shell block in the section %q", g.file, g.section)
		}
	}
	return blocks, nil
}

// TestGuideSections: every section TestReadme runs is where the guide
// says, so that moving text in README or docs/ cannot leave it untested
// (TestReadme itself runs only under IMGSAVE_E2E=1).
func TestGuideSections(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := guideBlocks(root); err != nil {
		t.Fatal(err)
	}
}

// shellBlocks returns the commands of a Markdown file's ```sh blocks by section
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

// TestReadmeJobScript holds the SLURM job script of docs/cluster.md to the
// one slurm_array.txtar submits, so that the script the docs show is the
// one tested.
func TestReadmeJobScript(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "docs", "cluster.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "`job.sh`, run from the dataset's top")
	if !ok {
		t.Fatal("docs/cluster.md: no job.sh")
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
				t.Errorf("docs/cluster.md's job.sh differs from slurm_array.txtar's:\n%s\n---\n%s", block, f.Data)
			}
			return
		}
	}
	t.Fatal("slurm_array.txtar: no job.sh")
}

// TestDocLinks: every relative link of README.md and docs/*.md names a
// file that exists and, after #, a heading of it (GitHub's anchor), so
// that text moved between files leaves no link behind (#29).
func TestDocLinks(t *testing.T) {
	root := filepath.Join("..", "..")
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(root, "README.md"))
	anchors := map[string]map[string]bool{}
	heads := func(f string) map[string]bool {
		if a, ok := anchors[f]; ok {
			return a
		}
		a := map[string]bool{}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in := false
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "```") {
				in = !in
			}
			if in || !strings.HasPrefix(line, "#") {
				continue
			}
			var slug strings.Builder
			for _, r := range strings.ToLower(strings.TrimLeft(line, "# ")) {
				switch {
				case r == ' ':
					slug.WriteRune('-')
				case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
					slug.WriteRune(r)
				}
			}
			a[slug.String()] = true
		}
		anchors[f] = a
		return a
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			dest := f
			if path != "" {
				dest = filepath.Join(filepath.Dir(f), path)
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s: link %s: %v", f, target, err)
					continue
				}
			}
			if anchor != "" && !heads(dest)[anchor] {
				t.Errorf("%s: link %s: no heading %q in %s", f, target, anchor, dest)
			}
		}
	}
}
