package imgsave

import (
	"context"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/imgsave/imgsave/loader"
)

// fakeApptainer stands in for Apptainer in the unit tests of Run: its
// build writes a file and its runs record what they were given.
type fakeApptainer struct {
	*fakeEngine
	args, env []string
}

func (f *fakeApptainer) Kind() string { return loader.KindApptainer }

func (f *fakeApptainer) BuildSIF(ctx context.Context, b loader.SIFBuild) error {
	return os.WriteFile(b.Dest, []byte("a stand-in SIF"), 0o644)
}

func (f *fakeApptainer) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f.args = args
	return nil
}

func (f *fakeApptainer) RunSIF(ctx context.Context, args, env []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f.args, f.env = args, env
	return nil
}

// TestRunApptainerPassesBytes (#28): --env values reach Apptainer as
// they are, never through its --env, which splits at commas and strips
// quotes ('X=a=1,Y=2' set Y too); a mount source holding ",target=" or
// quotes is passed as it is, not rewritten into another path.
func TestRunApptainerPassesBytes(t *testing.T) {
	dir, _ := imageDir(t, "oci.tar")
	odd := filepath.Join(t.TempDir(), "in,target=x", `"q",ro`)
	if err := os.MkdirAll(odd, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"X=a=1,Y=2", `Q="q"`, "S='s' \\ $HOME `id` \n2", "E="}
	f := &fakeApptainer{fakeEngine: newFake()}
	err := Run(t.Context(), f, dir, RunOptions{
		LoadOptions: LoadOptions{SIFCache: t.TempDir()},
		Cwd:         odd,
		CwdOnly:     true,
		Mounts:      []string{odd + ":/ref:ro"},
		Env:         env,
		Command:     []string{"true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.env, env) {
		t.Errorf("the container's environment = %q, want %q", f.env, env)
	}
	var mounts [][]string
	for i, a := range f.args {
		if a == "--env" || strings.HasPrefix(a, "--env=") || a == "--env-file" {
			t.Fatalf("args %q pass the environment through Apptainer's %s", f.args, a)
		}
		if a == "--mount" && i+1 < len(f.args) {
			fields, err := csv.NewReader(strings.NewReader(f.args[i+1])).Read()
			if err != nil {
				t.Fatalf("--mount %q: %v", f.args[i+1], err)
			}
			mounts = append(mounts, fields)
		}
	}
	want := [][]string{
		{"type=bind", "source=" + odd, "destination=/tmp"},
		{"type=bind", "source=" + odd, "destination=/ref", "ro"},
	}
	if !slices.EqualFunc(mounts, want, slices.Equal) {
		t.Errorf("mounts = %q, want %q", mounts, want)
	}
}
