package imgsave

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gofrs/flock"
	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

func TestSourceURL(t *testing.T) {
	d := func(c string) digest.Digest { return digest.FromString(c) }
	for _, s := range []source{
		{config: d("c"), layer: d("l")},
		{config: d("c"), manifest: d("m"), id: d("i"), layer: d("l")},
		{ref: "127.0.0.1:5000/tools/align@" + d("m").String(), layer: d("l")},
	} {
		u := s.url()
		got, err := parseSource(u)
		if err != nil || got != s {
			t.Errorf("parseSource(%q) = %+v, %v, want %+v", u, got, err, s)
		}
	}
	for _, u := range []string{
		"https://example.org/x",
		"imgsave:engine?layer=" + d("l").String(),
		"imgsave:engine?config=sha256:nothex&layer=" + d("l").String(),
		"imgsave:registry?ref=127.0.0.1:5000/x:1&layer=" + d("l").String(),
		"imgsave:registry?ref=127.0.0.1:5000/x@" + d("m").String(),
		"imgsave:elsewhere?config=" + d("c").String() + "&layer=" + d("l").String(),
	} {
		if s, err := parseSource(u); err == nil {
			t.Errorf("parseSource(%q) = %+v, want an error", u, s)
		}
	}
}

// converse runs ServeRemote on git-annex's side of a conversation, given
// as lines (the answers to the remote's own requests included, in the
// order it asks), and returns what the remote said.
func converse(t *testing.T, eng Engine, lines ...string) []string {
	t.Helper()
	var out bytes.Buffer
	in := strings.NewReader(strings.Join(lines, "\n") + "\n")
	err := ServeRemote(t.Context(), in, &out, RemoteOptions{Engine: func() (Engine, error) {
		if eng == nil {
			return nil, loader.ErrEngineNotFound
		}
		return eng, nil
	}})
	if err != nil {
		t.Fatalf("ServeRemote = %v\n%s", err, out.String())
	}
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

// remoteFixture is the fixture's image and an engine that holds it (its
// size as the saved tar's, its save that tar).
func remoteFixture(t *testing.T) (*archive.DirImage, *fakeEngine) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "img")
	f, err := os.Open(filepath.Join("testdata", "legacy.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := archive.Extract(t.Context(), f, dir, archive.Options{}); err != nil {
		t.Fatal(err)
	}
	d, err := archive.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	im := d.Images[0]
	eng := newFake()
	eng.saveFile = f.Name()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	eng.put(&loader.Image{ID: im.ID, DiffIDs: im.Config.RootFS.DiffIDs, Size: fi.Size()})
	return im, eng
}

// TestRemoteFromEngine: a layer comes out of the engine's save, checked,
// as git-annex asked; a key with no recorded source, STORE and REMOVE are
// refused; the session's extraction is gone afterwards.
func TestRemoteFromEngine(t *testing.T) {
	im, eng := remoteFixture(t)
	layer := im.Layers[0].DiffID
	gitDir := t.TempDir()
	file := filepath.Join(t.TempDir(), "key")
	src := source{config: im.ID, manifest: im.ManifestDigest, layer: layer}
	const keySize = 1000
	key := fmt.Sprintf("SHA256E-s%d--%s", keySize, layer.Encoded())
	got := converse(t, eng,
		"EXTENSIONS INFO ASYNC",
		"PREPARE", "VALUE "+gitDir,
		"CLAIMURL "+src.url(),
		"CLAIMURL https://example.org/x",
		"CHECKPRESENT "+key, "VALUE "+src.url(), "VALUE",
		"TRANSFER RETRIEVE "+key+" "+file, "VALUE "+src.url(), "VALUE", "VALUE "+gitDir,
		"TRANSFER RETRIEVE OTHER-KEY "+file+".2", "VALUE",
		"CHECKPRESENT OTHER-KEY", "VALUE",
		"TRANSFER STORE "+key+" "+file,
		"REMOVE "+key,
		"WHEREIS "+key, "VALUE "+src.url(), "VALUE",
		"FROBNICATE",
	)
	wantLines := []string{
		"VERSION 1",
		"EXTENSIONS INFO",
		"GETGITDIR", "PREPARE-SUCCESS",
		"CLAIMURL-SUCCESS",
		"CLAIMURL-FAILURE",
		"GETURLS " + key + " imgsave:", "CHECKPRESENT-SUCCESS " + key,
		"GETURLS " + key + " imgsave:", "GETGITDIR", "TRANSFER-SUCCESS RETRIEVE " + key,
		"GETURLS OTHER-KEY imgsave:", "TRANSFER-FAILURE RETRIEVE OTHER-KEY no source recorded for this key; " + registerHint,
		"GETURLS OTHER-KEY imgsave:", "CHECKPRESENT-FAILURE OTHER-KEY",
		"TRANSFER-FAILURE STORE " + key + " this remote only reads: it gets layers from engines and registries; store the content in another remote",
		"REMOVE-FAILURE " + key + " this remote only reads: an engine's or a registry's content is theirs to remove",
		"GETURLS " + key + " imgsave:", "WHEREIS-SUCCESS the engine's image " + short(im.ID),
		"UNSUPPORTED-REQUEST",
	}
	// While the image streams, the transfer's progress, as a share of the
	// key's size: rising, ending at all of it.
	var progress []int64
	got = slices.DeleteFunc(got, func(l string) bool {
		n, ok := strings.CutPrefix(l, "PROGRESS ")
		if ok {
			v, _ := strconv.ParseInt(n, 10, 64)
			progress = append(progress, v)
		}
		return ok
	})
	if len(progress) == 0 || !slices.IsSorted(progress) || progress[len(progress)-1] != keySize {
		t.Errorf("PROGRESS during the retrieve: %v, want rising values ending at %d", progress, keySize)
	}
	if strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("the remote said:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLines, "\n"))
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if h := digest.Digest(fmt.Sprintf("sha256:%x", sha256.Sum256(b))); h != layer {
		t.Errorf("retrieved %s, want the layer %s", h, layer)
	}
	assertNoExtraction(t, gitDir)
}

// assertNoExtraction fails unless the remote's folder under gitDir holds
// no extraction (its empty lock files may stay).
func assertNoExtraction(t *testing.T, gitDir string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(gitDir, "annex", "tmp", "imgsave-remote"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("the sessions left the extraction %s", e.Name())
		}
	}
}

// TestRemoteSharedExtraction runs two sessions at once, as git annex get
// -J does: the image is saved once, both get the layer, and the extraction
// goes when the last session ends.
func TestRemoteSharedExtraction(t *testing.T) {
	im, eng := remoteFixture(t)
	layer := im.Layers[0].DiffID
	src := source{config: im.ID, manifest: im.ManifestDigest, layer: layer}
	key := "MD5E-s1--0123"
	gitDir := t.TempDir()
	files := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}

	// Session A stays open (its input not yet at its end) while B runs.
	inA, feedA := io.Pipe()
	var outA bytes.Buffer
	doneA := make(chan error, 1)
	go func() {
		doneA <- ServeRemote(t.Context(), inA, &outA, RemoteOptions{Engine: func() (Engine, error) { return eng, nil }})
	}()
	fmt.Fprintf(feedA, "TRANSFER RETRIEVE %s %s\nVALUE %s\nVALUE\nVALUE %s\n", key, files[0], src.url(), gitDir)
	got := converse(t, eng, "TRANSFER RETRIEVE "+key+" "+files[1], "VALUE "+src.url(), "VALUE", "VALUE "+gitDir)
	if !slices.Contains(got, "TRANSFER-SUCCESS RETRIEVE "+key) {
		t.Errorf("session B said %q", got)
	}
	feedA.Close()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(outA.String(), "TRANSFER-SUCCESS RETRIEVE "+key) {
		t.Errorf("session A said %q", outA.String())
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if h := digest.FromBytes(b); h != layer {
			t.Errorf("%s holds %s, want the layer %s", f, h, layer)
		}
	}
	if eng.saves != 1 {
		t.Errorf("the engine saved the image %d times, want once for both sessions", eng.saves)
	}
	assertNoExtraction(t, gitDir)
}

// TestRemoteEngineLacksImage: an engine without the image says no, and a
// retrieve names the image; without an engine at all, CHECKPRESENT cannot
// tell.
func TestRemoteEngineLacksImage(t *testing.T) {
	src := source{config: digest.FromString("c"), layer: digest.FromString("l")}
	got := converse(t, newFake(),
		"CHECKPRESENT K", "VALUE "+src.url(), "VALUE",
		"TRANSFER RETRIEVE K /nonexistent/file", "VALUE "+src.url(), "VALUE",
	)
	if got[2] != "CHECKPRESENT-FAILURE K" || !strings.HasPrefix(got[4], "TRANSFER-FAILURE RETRIEVE K the engine's image "+short(src.config)+": not in the engine") {
		t.Errorf("the remote said %q", got)
	}
	got = converse(t, nil, "CHECKPRESENT K", "VALUE "+src.url(), "VALUE")
	if !strings.HasPrefix(got[2], "CHECKPRESENT-UNKNOWN K the engine's image") {
		t.Errorf("with no engine, the remote said %q", got)
	}
}

// TestRemoteSweepsAbandonedExtractions: a session killed outright leaves
// its extraction and staging folder under .git/annex/tmp (#18); the next
// session's PREPARE removes them, and leaves those a live session holds.
// The sessions are processes holding the lock as the remote does, one
// killed with SIGKILL.
func TestRemoteSweepsAbandonedExtractions(t *testing.T) {
	gitDir := t.TempDir()
	base := filepath.Join(gitDir, "annex", "tmp", "imgsave-remote")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	killed, live := extractionDir(base, "killed"), extractionDir(base, "live")
	killedProc, _ := holdInChild(t, killed)
	if err := killedProc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killedProc.Wait()
	holdInChild(t, live)

	got := converse(t, nil, "PREPARE", "VALUE "+gitDir)
	if want := []string{"VERSION 1", "GETGITDIR", "PREPARE-SUCCESS"}; !slices.Equal(got, want) {
		t.Errorf("the remote said %q, want %q", got, want)
	}
	for _, dir := range []string{killed, stagingOf(killed)} {
		if _, err := os.Lstat(dir); !os.IsNotExist(err) {
			t.Errorf("the killed session's %s is still there (%v)", filepath.Base(dir), err)
		}
	}
	for _, dir := range []string{live, stagingOf(live)} {
		if _, err := os.Stat(filepath.Join(dir, "blobs", "x")); err != nil {
			t.Errorf("the live session's %s was removed: %v", filepath.Base(dir), err)
		}
	}
}

// stagingOf is the name archive.Extract stages dir in.
func stagingOf(dir string) string {
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".imgsave-1")
}

// holdInChild starts this test binary as a session that holds dir, as the
// remote's image does while it extracts: dir.use locked shared, dir and
// its staging folder made. It returns once the child holds them; the child
// lives until the test ends or is killed.
func holdInChild(t *testing.T, dir string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldExtraction$")
	cmd.Env = append(os.Environ(), "GO_TEST_HOLD_EXTRACTION="+dir)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if sc.Text() == "held" {
			go io.Copy(io.Discard, out)
			return cmd, in
		}
	}
	t.Fatalf("the child holding %s ended first: %v", dir, sc.Err())
	return nil, nil
}

// TestHelperHoldExtraction is the child of holdInChild.
func TestHelperHoldExtraction(t *testing.T) {
	dir := os.Getenv("GO_TEST_HOLD_EXTRACTION")
	if dir == "" {
		t.Skip("the child process of holdInChild")
	}
	if err := flock.New(dir + ".use").RLock(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, stagingOf(dir)} {
		if err := os.MkdirAll(filepath.Join(d, "blobs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "blobs", "x"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("held")
	io.Copy(io.Discard, os.Stdin) // until the parent lets go
}

// FuzzParseSource: whatever git-annex hands back as a URL, parseSource
// either refuses it or gives a source that renders to a URL it reads the
// same again.
func FuzzParseSource(f *testing.F) {
	d := digest.FromString
	f.Add(source{config: d("c"), manifest: d("m"), id: d("i"), layer: d("l")}.url())
	f.Add(source{ref: "127.0.0.1:5000/x@" + d("m").String(), layer: d("l")}.url())
	f.Add("imgsave:engine?config=sha256:%zz&layer=")
	f.Fuzz(func(t *testing.T, u string) {
		s, err := parseSource(u)
		if err != nil {
			return
		}
		again, err := parseSource(s.url())
		if err != nil || again != s {
			t.Errorf("parseSource(%q) = %+v, whose URL %q reads as %+v, %v", u, s, s.url(), again, err)
		}
	})
}

// TestLibraryLeavesGitAnnexAlone: Save, Pull and Push into a dataset that
// has the special remote write their target and nothing else (#18): the
// git-annex branch and its journal are as they were. Register, called by
// the caller, is what records the sources. The remote git-annex runs is
// this test binary's ServeRemote (TestHelperServeRemote).
func TestLibraryLeavesGitAnnexAlone(t *testing.T) {
	if _, err := exec.LookPath("git-annex"); err != nil {
		t.Skip("no git-annex")
	}
	bin := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nGO_TEST_SERVE_REMOTE=1 exec %q -test.run='^TestHelperServeRemote$'\n", os.Args[0])
	if err := os.WriteFile(filepath.Join(bin, "git-annex-remote-"+RemoteType), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, kv := range [][2]string{{"GIT_AUTHOR_NAME", "t"}, {"GIT_AUTHOR_EMAIL", "t@example.org"}, {"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@example.org"}} {
		t.Setenv(kv[0], kv[1])
	}
	ds := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", ds}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q")
	run("annex", "init", "-q")
	if err := InitRemote(t.Context(), ds, RemoteType); err != nil {
		t.Fatal(err)
	}
	if !HasRemote(t.Context(), ds) {
		t.Fatal("HasRemote = false after InitRemote")
	}
	// What git-annex has recorded: its branch, and its journal of
	// changes not yet committed to it.
	state := func() string {
		journal, _ := os.ReadDir(filepath.Join(ds, ".git", "annex", "journal"))
		var names []string
		for _, e := range journal {
			names = append(names, e.Name())
		}
		return run("rev-parse", "git-annex") + " " + strings.Join(names, " ")
	}
	before := state()

	im, eng := remoteFixture(t)
	if _, err := Save(t.Context(), eng, []string{string(im.ID)}, filepath.Join(ds, "saved"), SaveOptions{}); err != nil {
		t.Fatalf("Save = %v", err)
	}
	host := registrytest.Serve(t, nil).Host
	ref := pushFixture(t, host)
	pulled, err := Pull(t.Context(), ref, filepath.Join(ds, "pulled"), PullOptions{})
	if err != nil {
		t.Fatalf("Pull = %v", err)
	}
	if !strings.Contains(pulled.Source, "@sha256:") {
		t.Errorf("Pulled.Source = %q, want repository@digest", pulled.Source)
	}
	if _, err := Push(t.Context(), filepath.Join(ds, "saved"), host+"/pushed/hello:1", PushOptions{}); err != nil {
		t.Fatalf("Push = %v", err)
	}
	if after := state(); after != before {
		t.Errorf("git-annex's branch and journal went from %q to %q", before, after)
	}

	// The caller records the sources itself.
	reg, err := Register(t.Context(), filepath.Join(ds, "pulled"), RegisterOptions{Registries: []string{pulled.Source}})
	if err != nil {
		t.Fatalf("Register = %v", err)
	}
	if reg.Keys != 1 || len(reg.Sources) != 1 {
		t.Errorf("Register = %+v, want one layer from %s", reg, pulled.Source)
	}
	if after := state(); after == before {
		t.Errorf("Register left git-annex's branch and journal as they were")
	}
}

// TestHelperServeRemote is git-annex-remote-imgsave for
// TestLibraryLeavesGitAnnexAlone.
func TestHelperServeRemote(t *testing.T) {
	if os.Getenv("GO_TEST_SERVE_REMOTE") == "" {
		t.Skip("the special remote TestLibraryLeavesGitAnnexAlone runs")
	}
	err := ServeRemote(context.Background(), os.Stdin, os.Stdout, RemoteOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0) // before the test framework writes to git-annex's stdout
}
