package loader

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInspectAllManyAbsent (#31): podman asked about 100 names it lacks
// names each on stderr, past the 4 KiB a command's stderr keeps;
// InspectAll reads them all and asks once, where it asked again one name
// a process (ls -r of 200 images took 20 s). The stand-in counts its
// runs, which a real podman cannot.
func TestInspectAllManyAbsent(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CONTAINER_HOST", "")
	t.Setenv("CONTAINER_CONNECTION", "stand-in")
	e := &Engine{Name: "podman", Path: standIn(t, dir, "podman", `echo run >> "$COUNT"
shift 4
for n; do echo "Error: inspecting object: $n: image not known" >&2; done
exit 125`), Env: []string{"COUNT=" + filepath.Join(dir, "count")}}
	var names []string
	for i := range 100 {
		names = append(names, fmt.Sprintf("sha256:%064x", i))
	}
	imgs, err := e.InspectAll(t.Context(), names)
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range imgs {
		if img != nil {
			t.Errorf("InspectAll found %s", names[i])
		}
	}
	if n, _ := os.ReadFile(filepath.Join(dir, "count")); strings.Count(string(n), "run") != 1 {
		t.Errorf("podman ran %d times, want once", strings.Count(string(n), "run"))
	}
}
