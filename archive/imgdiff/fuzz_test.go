package imgdiff

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzReadTar: whatever a layer holds, readTar returns an error or
// entries whose paths are relative, clean and within the bounds, and a
// flattening of them that holds no whiteout.
func FuzzReadTar(f *testing.F) {
	f.Add(mkLayer(f, dir("etc"), reg("etc/a", "x"), link("etc/l", "/x"), reg(".wh.gone", ""), reg("etc/.wh..wh..opq", "")))
	f.Add(mkLayer(f, reg("../x", "y")))
	f.Add(sparseTar(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := readTar(bytes.NewReader(b), newBudget(1000, 1<<16), make([]byte, 512))
		if err != nil {
			return
		}
		for p, e := range l.entries {
			if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") || len(p) > MaxName ||
				strings.Contains("/"+p+"/", "/../") || strings.Contains("/"+p+"/", "/./") || e.Path != p {
				t.Fatalf("entry %q accepted", p)
			}
		}
		for p := range flatten([]*layer{l}) {
			if strings.HasPrefix(p[strings.LastIndex(p, "/")+1:], whiteoutPrefix) {
				t.Fatalf("whiteout %q left in the flattened filesystem", p)
			}
		}
	})
}
