package imgsave

import (
	"encoding/csv"
	"strings"
	"testing"
)

// TestApptainerMount: a bind mount becomes Apptainer's --mount value,
// built from the paths themselves, so that a source holding ",target="
// (which a rewrite of docker's value turned into another path, #28),
// commas, quotes or a line break arrives as it is.
func TestApptainerMount(t *testing.T) {
	for _, tc := range []struct{ src, dst string }{
		{"/data", "/tmp"},
		{"/data,2", "/ref"},
		{"/data", "/re,f"},
		{`/da"ta`, `/r"ef`},
		{"/a:b", "/c"},
		{"/in,target=/etc", "/ref"},
		{`/in,"target=/etc"`, "/ref"},
		{"/a\nb\n", "/ref"},
	} {
		got := apptainerMount(bind{src: tc.src, dst: tc.dst, ro: true})
		fields, err := csv.NewReader(strings.NewReader(got)).Read()
		if err != nil {
			t.Fatalf("apptainerMount(%q, %q) = %q: %v", tc.src, tc.dst, got, err)
		}
		want := []string{"type=bind", "source=" + tc.src, "destination=" + tc.dst, "ro"}
		if strings.Join(fields, "\n") != strings.Join(want, "\n") {
			t.Errorf("apptainerMount(%q, %q) = %q, want fields %q", tc.src, tc.dst, fields, want)
		}
	}
}
