package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Start-up (#29): `imgsave --version` was 4.6 ms against 1.3 ms for an
// empty Go program, half of it package initialisation, mostly regular
// expressions compiled at start. These tests pin the causes, not the time
// (which `make bench` measures): they fail on what made start-up slow.

// TestStartLinksNoInitRegexpPackage: the program links no package known to
// compile many regular expressions when it starts, where a hand-written
// parser does (manifest.ParseReference for distribution/reference).
func TestStartLinksNoInitRegexpPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, p := range []string{"github.com/distribution/reference"} {
		if slices.Contains(deps, p) {
			t.Errorf("imgsave links %s, whose regular expressions compile at every start", p)
		}
	}
}

// TestNoRegexpCompiledAtInit: no package of this module compiles a regular
// expression in a package-level variable; one compiles on first use
// (sync.OnceValue) or is a hand-written matcher.
func TestNoRegexpCompiledAtInit(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata"):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go"):
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			ast.Inspect(g, func(n ast.Node) bool {
				if _, lit := n.(*ast.FuncLit); lit {
					return false // runs when called, not at start
				}
				if call, ok := n.(*ast.CallExpr); ok && isRegexpCompile(call) {
					t.Errorf("%s: regular expression compiled when imgsave starts; compile it on first use", fset.Position(call.Pos()))
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func isRegexpCompile(call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "regexp" && (sel.Sel.Name == "Compile" || strings.HasPrefix(sel.Sel.Name, "MustCompile"))
}

// initBudget is how many bytes all packages' initialisation may allocate
// in `imgsave --version`: 1,034,768 before #29 (distribution/reference
// alone 414,600), 453,192 after. Bytes, not time: they do not depend on
// the machine's load.
const initBudget = 600_000

// TestInitAllocations runs the built program with GODEBUG=inittrace=1 and
// holds the bytes its package initialisation allocates to initBudget.
func TestInitAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("builds imgsave")
	}
	bin := filepath.Join(t.TempDir(), "imgsave")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("imgsave --version: %v\n%s", err, out)
	}
	type pkgInit struct {
		name  string
		bytes int
	}
	var inits []pkgInit
	total := 0
	for line := range strings.Lines(string(out)) {
		// init net/netip @8.4 ms, 2.4 ms clock, 744 bytes, 18 allocs
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("inittrace line %q: %v", line, err)
		}
		inits = append(inits, pkgInit{f[1], n})
		total += n
	}
	if len(inits) == 0 {
		t.Fatalf("GODEBUG=inittrace=1 printed no init lines:\n%s", out)
	}
	if total > initBudget {
		sort.Slice(inits, func(i, j int) bool { return inits[i].bytes > inits[j].bytes })
		t.Errorf("package initialisation allocates %d bytes, want at most %d; the largest:", total, initBudget)
		for _, p := range inits[:min(5, len(inits))] {
			t.Errorf("  %s: %d bytes", p.name, p.bytes)
		}
	}
}
