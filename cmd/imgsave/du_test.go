package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/imgsave/imgsave"
)

// TestWriteDotBounded parses du --format dot of a collection sharing more
// files than it draws: every edge joins declared nodes, at most dotLayers
// layers are drawn, the rest counted, and a directory sharing none of
// those drawn is counted, not drawn.
func TestWriteDotBounded(t *testing.T) {
	col := &imgsave.Collection{Dirs: []imgsave.CollectionDir{{Path: "a"}, {Path: `b "quoted"`}, {Path: "c"}, {Path: "lonely"}}}
	var shared []imgsave.SharedLayer
	for i := range dotLayers + 10 {
		dirs := []int{0, 1}
		if i >= dotLayers {
			dirs = []int{2, 3} // smaller: not drawn
		}
		shared = append(shared, imgsave.SharedLayer{Digest: fmt.Sprintf("sha256:%064x", i), Size: int64(1000 - i), Dirs: dirs})
	}
	var b strings.Builder
	if err := writeDot(&b, col, shared); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.HasPrefix(out, "digraph imgsave_du {\n") || !strings.HasSuffix(out, "}\n") {
		t.Fatalf("not a digraph:\n%s", out)
	}
	nodes := map[string]string{}
	var edges [][2]string
	node := regexp.MustCompile(`^\t(\w+) \[(?:shape=(\w+), )?label="((?:[^"\\]|\\.)*)"\];$`)
	edge := regexp.MustCompile(`^\t(\w+) -> (\w+);$`)
	for _, line := range strings.Split(strings.TrimSuffix(out, "}\n"), "\n")[1:] {
		if m := node.FindStringSubmatch(line); m != nil {
			nodes[m[1]] = m[3]
		} else if m := edge.FindStringSubmatch(line); m != nil {
			edges = append(edges, [2]string{m[1], m[2]})
		} else if line != "" && !strings.HasPrefix(line, "\trankdir=") && !strings.HasPrefix(line, "\tnode [") && !strings.HasPrefix(line, "\tlabel=") {
			t.Errorf("line not parsed: %q", line)
		}
	}
	layers := 0
	for name := range nodes {
		if strings.HasPrefix(name, "l") {
			layers++
		}
	}
	if layers != dotLayers || len(edges) != 2*dotLayers {
		t.Errorf("%d layers and %d edges drawn, want %d and %d", layers, len(edges), dotLayers, 2*dotLayers)
	}
	for _, e := range edges {
		if _, ok := nodes[e[0]]; !ok {
			t.Errorf("edge from undeclared %s", e[0])
		}
		if _, ok := nodes[e[1]]; !ok {
			t.Errorf("edge to undeclared %s", e[1])
		}
	}
	if !strings.HasPrefix(nodes["d1"], `b \"quoted\"\n`) {
		t.Errorf("d1's label = %q, want its path quoted", nodes["d1"])
	}
	if _, ok := nodes["d2"]; ok {
		t.Errorf("c, which shares only files not drawn, is drawn")
	}
	if !strings.HasPrefix(nodes["more"], "10 smaller shared files not drawn") || !strings.HasPrefix(nodes["alone"], "2 image directories") {
		t.Errorf("notes: more %q, alone %q", nodes["more"], nodes["alone"])
	}
}
