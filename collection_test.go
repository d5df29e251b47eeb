package imgsave

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/archive"
)

// layerTar is a layer tar holding one file of n bytes drawn from seed.
func layerTar(tb testing.TB, name string, seed uint64, n int) []byte {
	tb.Helper()
	body := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range body {
		body[i] = byte(r.Uint32())
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(n), Typeflag: tar.TypeReg}); err != nil {
		tb.Fatal(err)
	}
	tw.Write(body)
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// genImage writes an image directory at dir holding the image tag made of
// layers, as a `docker save` of it would be extracted.
func genImage(tb testing.TB, dir, tag string, layers ...[]byte) {
	tb.Helper()
	var diffs []digest.Digest
	var names []string
	files := map[string][]byte{}
	for i, l := range layers {
		diffs = append(diffs, digest.FromBytes(l))
		names = append(names, fmt.Sprintf("l%d.tar", i))
		files[names[i]] = l
	}
	files["config.json"] = configFor(layers)
	m, _ := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{tag}, "Layers": names}})
	files["manifest.json"] = m
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range append(names, "config.json", "manifest.json") {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		tw.Write(files[n])
	}
	tw.Close()
	if _, err := archive.Extract(context.Background(), &b, dir, archive.Options{Scratch: true}); err != nil {
		tb.Fatalf("writing %s: %v", dir, err)
	}
}

// configFor is the image config genImage writes for layers.
func configFor(layers [][]byte) []byte {
	diffs := []digest.Digest{}
	for _, l := range layers {
		diffs = append(diffs, digest.FromBytes(l))
	}
	config, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffs}})
	return config
}

// genCollection writes n image directories under root the way real
// collections share layers: a few bases, apps on them, versions of each
// (app a, version v is apps/a/v, on base a%3, with a layer of its own).
// It returns each directory's layers by relative path.
func genCollection(tb testing.TB, root string, n int, rng *rand.Rand) map[string][][]byte {
	tb.Helper()
	bases := make([][]byte, 3)
	for i := range bases {
		bases[i] = layerTar(tb, fmt.Sprintf("base%d", i), uint64(i), 4096+i*1000)
	}
	out := map[string][][]byte{}
	for i := range n {
		app, version := i/3, i%3
		rel := fmt.Sprintf("apps/app%d/v%d", app, version)
		if rng != nil && rng.IntN(4) == 0 {
			rel = fmt.Sprintf("sub/app%d/v%d", app, version) // into the subdataset
		}
		ls := [][]byte{bases[app%len(bases)], layerTar(tb, "app", uint64(1000+i), 512+i)}
		if rng != nil && rng.IntN(3) == 0 {
			ls = ls[:1] // an image that is its base alone, sharing all
		}
		genImage(tb, filepath.Join(root, rel), fmt.Sprintf("coll/app%d:v%d", app, version), ls...)
		out[rel] = ls
	}
	return out
}

// directShare computes each directory's shared bytes from the files it
// was made of: the layers and config another directory holds too (two
// images of the same layers have the same config).
func directShare(layers map[string][][]byte) map[string]int64 {
	holders := map[digest.Digest]int{}
	for _, ls := range layers {
		seen := map[digest.Digest]bool{}
		for _, l := range slices.Concat(ls, [][]byte{configFor(ls)}) {
			if d := digest.FromBytes(l); !seen[d] {
				seen[d] = true
				holders[d]++
			}
		}
	}
	out := map[string]int64{}
	for rel, ls := range layers {
		for _, l := range slices.Concat(ls, [][]byte{configFor(ls)}) {
			if holders[digest.FromBytes(l)] > 1 {
				out[rel] += int64(len(l))
			}
		}
	}
	return out
}

func TestCollectShared(t *testing.T) {
	root := t.TempDir()
	layers := genCollection(t, root, 20, rand.New(rand.NewPCG(1, 2)))
	c, err := Collect(context.Background(), root, CollectOptions{SIFCache: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Dirs) != len(layers) {
		t.Fatalf("Collect found %d directories, want %d", len(c.Dirs), len(layers))
	}
	want := directShare(layers)
	var logical int64
	for _, d := range c.Dirs {
		if d.Error != "" {
			t.Fatalf("%s: %s", d.Path, d.Error)
		}
		if d.Shared != want[d.Path] {
			t.Errorf("%s: shared = %d, want %d", d.Path, d.Shared, want[d.Path])
		}
		if d.Unique != d.Size-d.Shared || d.LayersAbsent != 0 || d.LayersPresent != len(layers[d.Path]) {
			t.Errorf("%s: size %d unique %d layers %d present %d absent, want %d present", d.Path, d.Size, d.Unique, d.LayersPresent, d.LayersAbsent, len(layers[d.Path]))
		}
		logical += d.Size
	}
	if c.Logical != logical || c.Saving != c.Logical-c.Stored || c.Saving <= 0 {
		t.Errorf("logical %d stored %d saving %d, want logical %d and a saving", c.Logical, c.Stored, c.Saving, logical)
	}
}

// TestCollectSkipsLinksAndGit: a link to a folder of images outside the
// collection, and images under .git, are not the collection's.
func TestCollectSkipsLinksAndGit(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	genImage(t, filepath.Join(root, "img"), "coll/a:1", layerTar(t, "a", 1, 100))
	genImage(t, filepath.Join(outside, "other"), "coll/b:1", layerTar(t, "b", 2, 100))
	genImage(t, filepath.Join(root, ".git", "x"), "coll/c:1", layerTar(t, "c", 3, 100))
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	c, err := Collect(context.Background(), root, CollectOptions{SIFCache: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Dirs) != 1 || c.Dirs[0].Path != "img" {
		t.Errorf("Collect found %+v, want img alone", c.Dirs)
	}
}

// haveAnnex fails under IMGSAVE_E2E=1 and skips elsewhere without git-annex.
func haveAnnex(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git-annex"); err != nil {
		if os.Getenv("IMGSAVE_E2E") == "1" {
			t.Fatal("git-annex is not installed")
		}
		t.Skip("no git-annex")
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
	return string(out)
}

// annexDataset makes a git-annex dataset at root with a subdataset at
// root/sub, generates n images into them and commits all.
func annexDataset(t *testing.T, root string, n int, rng *rand.Rand) map[string][][]byte {
	t.Helper()
	for _, d := range []string{root, filepath.Join(root, "sub")} {
		git(t, ".", "init", "-q", d)
		git(t, d, "annex", "init", "-q", "test")
	}
	layers := genCollection(t, root, n, rng)
	git(t, filepath.Join(root, "sub"), "annex", "add", "-q", ".")
	git(t, filepath.Join(root, "sub"), "commit", "-q", "--allow-empty", "-m", "images")
	git(t, root, "annex", "add", "-q", "apps")
	git(t, root, "submodule", "add", "-q", "./sub", "sub")
	git(t, root, "commit", "-q", "-m", "images")
	return layers
}

// TestCollectClone: in a clone with no content every layer is absent and
// the origin is named as its source, from a subdirectory too; what was
// shared stays shared.
func TestCollectClone(t *testing.T) {
	haveAnnex(t)
	ds := filepath.Join(t.TempDir(), "ds")
	layers := annexDataset(t, ds, 12, rand.New(rand.NewPCG(3, 4)))
	clone := filepath.Join(t.TempDir(), "clone")
	git(t, ".", "clone", "-q", ds, clone)
	git(t, clone, "annex", "init", "-q", "clone")
	c, err := Collect(context.Background(), filepath.Join(clone, "apps"), CollectOptions{SIFCache: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	apps := map[string][][]byte{} // what the collection of apps/ holds
	for rel, ls := range layers {
		if strings.HasPrefix(rel, "apps/") {
			apps[rel] = ls
		}
	}
	if len(c.Dirs) != len(apps) {
		t.Fatalf("Collect found %d directories, want %d", len(c.Dirs), len(apps))
	}
	want := directShare(apps)
	for _, d := range c.Dirs {
		if d.LayersPresent != 0 || d.LayersAbsent != len(layers["apps/"+d.Path]) {
			t.Errorf("%s: %d present, %d absent, want all %d absent", d.Path, d.LayersPresent, d.LayersAbsent, len(layers["apps/"+d.Path]))
		}
		if len(d.Sources) != 1 || d.Sources[0] != "origin" {
			t.Errorf("%s: sources %q, want [origin]", d.Path, d.Sources)
		}
		if d.Shared != want["apps/"+d.Path] {
			t.Errorf("%s: shared = %d, want %d", d.Path, d.Shared, want["apps/"+d.Path])
		}
	}
	// one image's layers partly present: the base fetched, its own layer not
	var part string
	for rel, ls := range apps {
		if len(ls) == 2 && part == "" || len(ls) == 2 && rel < part {
			part = rel
		}
	}
	base := "blobs/sha256/" + digest.FromBytes(apps[part][0]).Encoded()
	git(t, clone, "annex", "get", "-q", part+"/"+base)
	if c, err = Collect(context.Background(), filepath.Join(clone, part), CollectOptions{SIFCache: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if d := c.Dirs[0]; d.LayersPresent != 1 || d.LayersAbsent != 1 || !slices.Equal(d.Sources, []string{"origin"}) {
		t.Errorf("%s with its base fetched: %d present, %d absent, sources %q; want 1, 1, [origin]", part, d.LayersPresent, d.LayersAbsent, d.Sources)
	}

	// the subdataset, installed but not yet initialised by git-annex (its
	// .git a file): its sources too
	git(t, clone, "-c", "protocol.file.allow=always", "submodule", "update", "-q", "--init")
	c, err = Collect(context.Background(), filepath.Join(clone, "sub"), CollectOptions{SIFCache: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range c.Dirs {
		if d.LayersAbsent == 0 || !slices.Equal(d.Sources, []string{"origin"}) {
			t.Errorf("sub/%s: %d absent, sources %q, want [origin]", d.Path, d.LayersAbsent, d.Sources)
		}
	}
}

var (
	genDir = flag.String("gen-collection", "", "TestWriteCollection writes a collection into this new `folder` (scripts/bench-collection.sh)")
	genN   = flag.Int("gen-images", 20, "how many image directories TestWriteCollection writes")
)

// TestWriteCollection is the generator of scripts/bench-collection.sh:
// with -gen-collection DIR it writes -gen-images image directories under
// DIR (DIR/sub: the subdataset's share) as genCollection does. Without
// the flag there is nothing to write.
func TestWriteCollection(t *testing.T) {
	if *genDir == "" {
		t.Skip("no -gen-collection folder given")
	}
	genCollection(t, *genDir, *genN, rand.New(rand.NewPCG(uint64(*genN), 31)))
}

func BenchmarkCollect(b *testing.B) {
	for _, n := range []int{20, 200} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			root := b.TempDir()
			genCollection(b, root, n, rand.New(rand.NewPCG(uint64(n), 31)))
			cache := b.TempDir()
			for b.Loop() {
				if _, err := Collect(context.Background(), root, CollectOptions{SIFCache: cache}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
