package imgsave

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// TestPullPlatforms: --platform all and a list make one directory of an
// index's platforms, in its order, with a source for each (#21).
func TestPullPlatforms(t *testing.T) {
	host := registrytest.Serve(t, nil).Host
	base, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	amd, arm := registrytest.Platform(t, base, "amd64"), registrytest.Platform(t, base, "arm64")
	ref := host + "/multi/img:1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, registrytest.Index(t, amd, arm)); err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, img := range []v1.Image{amd, arm} {
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, strings.TrimSuffix(ref, ":1")+"@"+d.String())
	}
	for _, platform := range []string{"all", "linux/arm64,linux/amd64"} {
		t.Run(platform, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "img")
			res, err := Pull(t.Context(), ref, dir, PullOptions{Platform: platform})
			if err != nil {
				t.Fatalf("Pull = %v", err)
			}
			if !slices.Equal(res.Sources, sources) {
				t.Errorf("Pulled.Sources = %q, want %q", res.Sources, sources)
			}
			d, err := archive.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, im := range d.Images {
				got = append(got, im.Config.Platform())
			}
			if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(got, want) || len(res.Images) != 2 {
				t.Errorf("the directory holds %q (%d images pulled), want %q", got, len(res.Images), want)
			}
		})
	}
}
