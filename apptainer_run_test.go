package imgsave

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/imgsave/imgsave/loader"
)

// fakeApptainer stands in for Apptainer in the unit tests of Run: its
// build writes a file and its runs record what they were given. It is a
// SIFBuilder and no Engine, as Apptainer is.
type fakeApptainer struct {
	run loader.SIFRun
}

func (f *fakeApptainer) Endpoint() string { return "fake apptainer" }

func (f *fakeApptainer) BuildSIF(ctx context.Context, b loader.SIFBuild) error {
	return os.WriteFile(b.Dest, []byte("a stand-in SIF"), 0o644)
}

func (f *fakeApptainer) RunSIF(ctx context.Context, r loader.SIFRun) error {
	f.run = r
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
	f := &fakeApptainer{}
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
	if !slices.Equal(f.run.Env, env) {
		t.Errorf("the container's environment = %q, want %q", f.run.Env, env)
	}
	want := []loader.Bind{{Src: odd, Dst: "/tmp"}, {Src: odd, Dst: "/ref", ReadOnly: true}}
	if !slices.Equal(f.run.Binds, want) {
		t.Errorf("mounts = %+v, want %+v", f.run.Binds, want)
	}
}
