package imgsave

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoKindSwitches (#29): the root package asks a runtime what it can do
// (an Engine with an image store, a SIFBuilder, a method such as
// LoadsDockerArchive) and never what it is: no call of Kind(), no
// loader.KindApptainer, and no comparison or switch case with an engine's
// name. A fourth runtime then touches loader and the CLI's engine list,
// not the orchestration.
func TestNoKindSwitches(t *testing.T) {
	for _, bad := range kindSwitches(t, ".") {
		t.Errorf("%s", bad)
	}
}

// kindSwitches lists, as "file:line: what", every place in the non-test Go
// files of the package in dir that dispatches on an engine's kind.
func kindSwitches(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{"docker": true, "podman": true, "apptainer": true, "singularity": true}
	isName := func(e ast.Expr) bool {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return false
		}
		s, err := strconv.Unquote(lit.Value)
		return err == nil && names[s]
	}
	var bad []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		report := func(n ast.Node, what string) {
			bad = append(bad, fset.Position(n.Pos()).String()+": "+what)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Kind" && len(n.Args) == 0 {
					report(n, "calls Kind()")
				}
			case *ast.SelectorExpr:
				if n.Sel.Name == "KindApptainer" {
					report(n, "uses KindApptainer")
				}
			case *ast.BinaryExpr:
				if (n.Op == token.EQL || n.Op == token.NEQ) && (isName(n.X) || isName(n.Y)) {
					report(n, "compares with an engine's name")
				}
			case *ast.CaseClause:
				for _, e := range n.List {
					if isName(e) {
						report(e, "switches on an engine's name")
					}
				}
			}
			return true
		})
	}
	return bad
}
