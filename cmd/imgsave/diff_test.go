package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/imgsave/imgsave"
	"github.com/imgsave/imgsave/archive/imgdiff"
)

// diff's output is bounded without --full and escapes what came from the
// images: a hostile image cannot flood or rewrite the terminal (#32).
func TestPrintDiffBounded(t *testing.T) {
	zero := 0
	r := &imgsave.DiffResult{Verdict: imgdiff.Different, Layers: []imgdiff.LayerDiff{{Index: 0, A: "sha256:aa", B: "sha256:bb", Status: imgdiff.LayerDifferent, Files: 45}}}
	for i := range 25 {
		r.Config = append(r.Config, imgdiff.FieldDiff{Field: fmt.Sprintf("config.Labels[\"l%02d\"]", i), A: []byte(`"` + strings.Repeat("x", 500) + `"`)})
	}
	for i := range 45 {
		r.Files = append(r.Files, imgdiff.FileDiff{Layer: &zero, Path: fmt.Sprintf("etc/\x1b[2Jf%02d", i), Changes: []string{imgdiff.Added}})
	}
	for _, tc := range []struct {
		full         bool
		config, file int
		more         int
	}{{false, 20, 40, 2}, {true, 25, 45, 0}} {
		var out bytes.Buffer
		if err := printDiff(&out, r, tc.full); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		if n := strings.Count(s, "config.Labels"); n != tc.config {
			t.Errorf("full=%v: %d config lines, want %d", tc.full, n, tc.config)
		}
		if n := strings.Count(s, "    added"); n != tc.file {
			t.Errorf("full=%v: %d file lines, want %d", tc.full, n, tc.file)
		}
		if n := strings.Count(s, "more (--full lists them all)"); n != tc.more {
			t.Errorf("full=%v: %d \"more\" lines, want %d:\n%s", tc.full, n, tc.more, s)
		}
		if strings.Contains(s, "\x1b") || !strings.Contains(s, `\x1b[2Jf00`) {
			t.Errorf("full=%v: control characters not escaped:\n%s", tc.full, s)
		}
		if long := strings.Repeat("x", 200); strings.Contains(s, long) != tc.full {
			t.Errorf("full=%v: a 500-byte value shown whole: %v", tc.full, !tc.full)
		}
	}
}
