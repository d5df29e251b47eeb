package imgsave

import (
	"encoding/csv"
	"strings"
	"testing"
)

// TestApptainerMount: docker's --mount value, as bindMount renders it,
// becomes Apptainer's with the target named "destination", and the CSV
// quoting of awkward paths survives.
func TestApptainerMount(t *testing.T) {
	for _, tc := range []struct{ src, dst string }{
		{"/data", "/tmp"},
		{"/data,2", "/ref"},
		{"/data", "/re,f"},
		{`/da"ta`, `/r"ef`},
		{"/a:b", "/c"},
	} {
		m, err := bindMount(tc.src, tc.dst, true, relabelNone)
		if err != nil {
			t.Fatal(err)
		}
		got := apptainerMount(m[1])
		fields, err := csv.NewReader(strings.NewReader(got)).Read()
		if err != nil {
			t.Fatalf("apptainerMount(%q) = %q: %v", m[1], got, err)
		}
		want := []string{"type=bind", "source=" + tc.src, "destination=" + tc.dst, "readonly"}
		if strings.Join(fields, "\n") != strings.Join(want, "\n") {
			t.Errorf("apptainerMount(%q) = %q, want fields %q", m[1], fields, want)
		}
	}
}
