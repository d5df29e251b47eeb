//go:build unix

package imgsave

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/imgsave/imgsave/loader"
)

// plantSIF puts a file where the SIF of the image of manifest digest m
// goes in cache. gc goes by name (the build lock and the digest), so
// what the file holds does not matter.
func plantSIF(t *testing.T, cache string, m digest.Digest) string {
	t.Helper()
	p := filepath.Join(cache, m.Algorithm().String()+"-"+m.Encoded()+".sif")
	if err := os.WriteFile(p, []byte("sif of "+m), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func manifests(t *testing.T, roots ...string) []digest.Digest {
	t.Helper()
	var out []digest.Digest
	for _, root := range roots {
		c, err := Collect(context.Background(), root, CollectOptions{SIFCache: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range c.Dirs {
			for _, im := range d.images {
				out = append(out, digest.Digest(im.ManifestDigest))
			}
		}
	}
	return out
}

// TestGCKeepsReferenced is a property: over random collections, gc --yes
// removes exactly the SIFs of images no given dataset holds, and every
// SIF of an image one holds stays.
func TestGCKeepsReferenced(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 7))
		given, other := t.TempDir(), t.TempDir()
		genCollection(t, given, 1+rng.IntN(12), rng)
		genCollection(t, other, 1+rng.IntN(6), rand.New(rand.NewPCG(seed, 99)))
		cache := t.TempDir()
		keep := slices.Compact(slices.Sorted(slices.Values(manifests(t, given))))
		for _, m := range keep {
			plantSIF(t, cache, m)
		}
		var gone []string
		for _, m := range manifests(t, other) {
			if p := plantSIF(t, cache, m); !slices.Contains(keep, m) && !slices.Contains(gone, p) {
				gone = append(gone, p)
			}
		}
		dry, err := GC(context.Background(), []string{given}, GCOptions{SIFCache: cache})
		if err != nil {
			t.Fatal(err)
		}
		if got := sifPaths(dry.SIFs); !sameSet(got, gone) {
			t.Fatalf("seed %d: gc shows %q, want %q", seed, got, gone)
		}
		if left, _ := loader.SIFFiles(cache); len(left) != len(keep)+len(gone) {
			t.Fatalf("seed %d: a dry run removed SIFs: %d left of %d", seed, len(left), len(keep)+len(gone))
		}
		rep, err := GC(context.Background(), []string{given}, GCOptions{SIFCache: cache, Remove: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := sifPaths(rep.SIFs); !sameSet(got, gone) {
			t.Fatalf("seed %d: gc --yes removed %q, want %q", seed, got, gone)
		}
		left, _ := loader.SIFFiles(cache)
		for _, f := range left {
			if !slices.Contains(keep, f.Manifest) {
				t.Errorf("seed %d: %s is left", seed, f.Path)
			}
		}
		if len(left) != len(keep) {
			t.Errorf("seed %d: %d SIFs left, want the %d referenced", seed, len(left), len(keep))
		}
	}
}

func sifPaths(fs []GCSIF) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Compact(slices.Sorted(slices.Values(a))), slices.Compact(slices.Sorted(slices.Values(b))))
}

// TestGCSkipsSIFBeingBuilt: a SIF whose build lock another imgsave holds
// is left, and named.
func TestGCSkipsSIFBeingBuilt(t *testing.T) {
	root, cache := t.TempDir(), t.TempDir()
	genImage(t, filepath.Join(root, "img"), "coll/a:1", layerTar(t, "a", 1, 100))
	m := digest.FromString("an image no dataset holds")
	p := plantSIF(t, cache, m)
	unlock, err := loader.LockFile(context.Background(), filepath.Join(cache, "."+m.Encoded()+".lock"), func() {}, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := GC(context.Background(), []string{root}, GCOptions{SIFCache: cache, Remove: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil || len(rep.SIFs) != 0 || !slices.Equal(rep.Busy, []string{p}) {
		t.Fatalf("gc under the build lock: removed %v, busy %q, stat %v; want it skipped", rep.SIFs, rep.Busy, err)
	}
	unlock()
	if rep, err = GC(context.Background(), []string{root}, GCOptions{SIFCache: cache, Remove: true}); err != nil || len(rep.SIFs) != 1 {
		t.Fatalf("gc after the build: %+v, %v", rep, err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("%s is still there after gc --yes: %v", p, err)
	}
}

// TestGCStaging: a staging folder a killed save left goes; one whose
// writer holds its lock stays, unnamed.
func TestGCStaging(t *testing.T) {
	root := t.TempDir()
	genImage(t, filepath.Join(root, "apps", "img"), "coll/a:1", layerTar(t, "a", 1, 100))
	dead, alive := filepath.Join(root, "apps", ".img.imgsave-111"), filepath.Join(root, "apps", ".other.imgsave-222")
	for _, d := range []string{dead, alive} {
		if err := os.MkdirAll(filepath.Join(d, "blobs"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(alive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	for _, remove := range []bool{false, true} {
		rep, err := GC(context.Background(), []string{root}, GCOptions{SIFCache: t.TempDir(), Remove: remove})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rep.Staging, []string{dead}) {
			t.Errorf("gc (remove %v) staging = %q, want [%s]", remove, rep.Staging, dead)
		}
		if _, err := os.Stat(dead); remove == (err == nil) {
			t.Errorf("gc (remove %v): %s: %v", remove, dead, err)
		}
	}
	if _, err := os.Stat(alive); err != nil {
		t.Errorf("a live staging folder went: %v", err)
	}
}

// TestGCAnnexUnused: the content of an image directory HEAD no longer
// holds is reported with the dropunused command, and kept.
func TestGCAnnexUnused(t *testing.T) {
	haveAnnex(t)
	ds := filepath.Join(t.TempDir(), "ds")
	annexDataset(t, ds, 6, nil)
	git(t, ds, "rm", "-q", "-r", "apps/app0/v0")
	git(t, ds, "commit", "-q", "-m", "drop an image")
	rep, err := GC(context.Background(), []string{filepath.Join(ds, "apps")}, GCOptions{SIFCache: t.TempDir(), Remove: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Unused) != 1 || len(rep.Unused[0].Keys) == 0 || !strings.HasSuffix(rep.Unused[0].Command, "annex dropunused 1-"+strconv.Itoa(len(rep.Unused[0].Keys))) {
		t.Fatalf("gc's unused = %+v, want one repository's keys with its dropunused command", rep.Unused)
	}
	if out := git(t, ds, "annex", "unused"); !strings.Contains(out, rep.Unused[0].Keys[0]) {
		t.Errorf("gc dropped unused content: %s", out)
	}
}

// TestGCSIFAgeAndBudget: SIFs of images the dataset still holds go when
// unused for longer than --sif-older-than, or, least recently used first,
// until the rest fit in --sif-budget; one under another imgsave's build
// lock stays, and the next least recently used goes instead.
func TestGCSIFAgeAndBudget(t *testing.T) {
	root, cache := t.TempDir(), t.TempDir()
	for i, tag := range []string{"a", "b", "c", "d"} {
		genImage(t, filepath.Join(root, tag), "coll/"+tag+":1", layerTar(t, tag, 1, 100+i))
	}
	ms := manifests(t, root)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var paths []string
	for i, m := range ms {
		p := plantSIF(t, cache, m) // every SIF the same size
		// ms[0] used 40 days ago, the others 3, 2 and 1 day ago.
		age := time.Duration(len(ms)-i) * 24 * time.Hour
		if i == 0 {
			age = 40 * 24 * time.Hour
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	fi, err := os.Stat(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	size := fi.Size()
	rep, err := GC(context.Background(), []string{root}, GCOptions{SIFCache: cache, Now: now, SIFOlderThan: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := sifPaths(rep.SIFs); !slices.Equal(got, paths[:1]) || !strings.HasPrefix(rep.SIFs[0].Reason, "unused since 2026-10-22") {
		t.Errorf("gc --sif-older-than 30d takes %q (%+v), want the SIF used 40 days ago", got, rep.SIFs)
	}
	rep, err = GC(context.Background(), []string{root}, GCOptions{SIFCache: cache, Now: now, SIFBudget: 2 * size})
	if err != nil {
		t.Fatal(err)
	}
	if got := sifPaths(rep.SIFs); !slices.Equal(got, paths[:2]) || rep.SIFs[1].Reason != "over budget" {
		t.Errorf("gc --sif-budget of two SIFs takes %q (%+v), want the two least recently used", got, rep.SIFs)
	}
	unlock, err := loader.LockFile(context.Background(), filepath.Join(cache, "."+ms[0].Encoded()+".lock"), func() {}, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	rep, err = GC(context.Background(), []string{root}, GCOptions{SIFCache: cache, Now: now, SIFBudget: 2 * size, Remove: true})
	if err != nil {
		t.Fatal(err)
	}
	// The oldest stays, so the next least recently used goes in its
	// place: what is left fits the budget.
	if !slices.Equal(rep.Busy, paths[:1]) || !slices.Equal(sifPaths(rep.SIFs), paths[1:3]) {
		t.Errorf("gc --yes --sif-budget with the oldest SIF locked: removed %q, busy %q; want the second and third removed, the oldest skipped", sifPaths(rep.SIFs), rep.Busy)
	}
	for i, p := range paths {
		if _, err := os.Stat(p); (err == nil) != (i == 0 || i == 3) {
			t.Errorf("after gc --yes: %s: %v", p, err)
		}
	}
}
