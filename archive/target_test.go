package archive

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestCheckTarget(t *testing.T) {
	tmp := t.TempDir()
	mk := func(name string, files ...string) string {
		p := filepath.Join(tmp, name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(p, f), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	empty, full := mk("empty"), mk("full", "a")
	hidden := mk("hidden", ".git")
	saved := mk("saved", "manifest.json", "index.json", "oci-layout", ".gitattributes")
	dataset := mk("dataset", ".git", "manifest.json")
	// #8: a web app's manifest.json is not an image directory.
	webapp := mk("webapp", "manifest.json", "index.html")
	stray := mk("stray", "manifest.json")
	os.MkdirAll(filepath.Join(stray, "blobs", "sha256", "notes"), 0o755)
	raw := mk("raw", "manifest.json", "repositories", digest.FromString("c").Encoded()+".json")
	os.Mkdir(filepath.Join(raw, digest.FromString("l").Encoded()), 0o755)
	os.WriteFile(filepath.Join(raw, digest.FromString("l").Encoded(), "layer.tar"), nil, 0o644)
	regular := filepath.Join(tmp, "file")
	os.WriteFile(regular, nil, 0o644)
	link := filepath.Join(tmp, "link")
	os.Symlink(empty, link)
	tests := []struct {
		name    string
		dir     string
		replace bool
		err     bool
		is      error
		names   string // the foreign path the error names
	}{
		{name: "missing", dir: filepath.Join(tmp, "new")},
		{name: "empty", dir: empty},
		{name: "full", dir: full, is: ErrNotEmpty},
		{name: "only a hidden file", dir: hidden, is: ErrNotEmpty},
		{name: "not an image with replace", dir: full, replace: true, is: ErrNotImageDir},
		{name: "a previous save with replace", dir: saved, replace: true},
		{name: "a dataset root with replace", dir: dataset, replace: true, is: ErrNotImageDir},
		{name: "a web app with a manifest.json, with replace", dir: webapp, replace: true, is: ErrNotImageDir, names: "index.html"},
		{name: "a folder among the blobs, with replace", dir: stray, replace: true, is: ErrNotImageDir, names: "blobs/sha256/notes"},
		{name: "a raw save with replace", dir: raw, replace: true, is: ErrNotImageDir, names: digest.FromString("c").Encoded() + ".json"},
		{name: "empty with replace", dir: empty, replace: true},
		{name: "missing parents (#9)", dir: filepath.Join(tmp, "no", "such", "new")},
		{name: "a file above", dir: filepath.Join(regular, "deeper", "new"), err: true},
		{name: "parent is a file", dir: filepath.Join(regular, "new"), err: true},
		{name: "a file", dir: regular, err: true},
		{name: "a file with replace", dir: regular, replace: true, err: true},
		{name: "a link to a folder", dir: link, replace: true, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTarget(tc.dir, tc.replace)
			switch {
			case tc.is != nil && !errors.Is(err, tc.is),
				tc.is == nil && (err != nil) != tc.err:
				t.Errorf("CheckTarget(%q, %v) = %v, want error %v (%v)", tc.dir, tc.replace, err, tc.err || tc.is != nil, tc.is)
			}
			if tc.names != "" && (err == nil || !strings.Contains(err.Error(), "holds "+tc.names+",")) {
				t.Errorf("CheckTarget(%q, %v) = %v, want it to name %s", tc.dir, tc.replace, err, tc.names)
			}
		})
	}
}

// oldBlob is the blob a prepared previous save holds.
var oldBlob = "blobs/sha256/" + digest.FromString("old").Encoded()

// prepare makes parent/target, a previous save (as far as Replace cares)
// holding manifest.json and one blob.
func prepare(t *testing.T) (parent, target string) {
	parent = t.TempDir()
	target = filepath.Join(parent, "target")
	if err := os.MkdirAll(filepath.Join(target, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"manifest.json", oldBlob} {
		if err := os.WriteFile(filepath.Join(target, filepath.FromSlash(f)), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return parent, target
}

func checkOld(t *testing.T, parent, target string) {
	t.Helper()
	checkEntries(t, parent, "target")
	checkEntries(t, target, "blobs", "manifest.json")
	if b, err := os.ReadFile(filepath.Join(target, filepath.FromSlash(oldBlob))); err != nil || string(b) != "old" {
		t.Errorf("%s = %q, %v, want %q", oldBlob, b, err, "old")
	}
}

func TestExtractRefusesNonEmptyTarget(t *testing.T) {
	im := newImage(t, "target")
	parent, target := prepare(t)
	_, err := Extract(t.Context(), bytes.NewReader(mkTar(t, im.legacy(t)...)), target, Options{})
	if !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("Extract(non-empty dir) = %v, want %v", err, ErrNotEmpty)
	}
	checkOld(t, parent, target)
}

func TestExtractIntoEmptyDir(t *testing.T) {
	im := newImage(t, "target")
	parent := t.TempDir()
	target := filepath.Join(parent, "target")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	res, err := Extract(t.Context(), bytes.NewReader(mkTar(t, im.legacy(t)...)), target, Options{})
	if err != nil {
		t.Fatalf("Extract(empty dir) = %v", err)
	}
	checkLayout(t, target, res, im)
	checkEntries(t, parent, "target")
}

func TestExtractReplace(t *testing.T) {
	im := newImage(t, "target")
	parent, target := prepare(t)
	res, err := Extract(t.Context(), bytes.NewReader(mkTar(t, im.legacy(t)...)), target, Options{Replace: true})
	if err != nil {
		t.Fatalf("Extract(Replace) = %v", err)
	}
	checkLayout(t, target, res, im) // and old.txt is gone
	checkEntries(t, parent, "target")

	// Replacing a layout with itself changes nothing.
	before := readTree(t, target)
	if _, err := Extract(t.Context(), bytes.NewReader(mkTar(t, im.legacy(t)...)), target, Options{Replace: true}); err != nil {
		t.Fatalf("Extract(Replace) again = %v", err)
	}
	if d := diffTrees(readTree(t, target), before); d != "" {
		t.Errorf("second Extract changed the layout:\n%s", d)
	}
	checkEntries(t, parent, "target")
}

// TestExtractReplaceWithoutExchange forces the two-rename fallback that
// Windows (and Linux file systems without RENAME_EXCHANGE) take (#13): the
// result is the same, and neither the staging folder nor the old tree is
// left beside the target.
func TestExtractReplaceWithoutExchange(t *testing.T) {
	called := 0
	exchange = func(a, b string) error {
		called++
		return &os.LinkError{Op: "exchange", Old: a, New: b, Err: errors.ErrUnsupported}
	}
	t.Cleanup(func() { exchange = exchangeDirs })
	im := newImage(t, "target")
	parent, target := prepare(t)
	res, err := Extract(t.Context(), bytes.NewReader(mkTar(t, im.legacy(t)...)), target, Options{Replace: true})
	if err != nil {
		t.Fatalf("Extract(Replace) without exchange = %v", err)
	}
	if called != 1 {
		t.Errorf("exchange called %d times, want 1", called)
	}
	checkLayout(t, target, res, im)
	checkEntries(t, parent, "target")
}

// TestExchangeDirs swaps two full directories with the platform's atomic
// call (#13).
func TestExchangeDirs(t *testing.T) {
	parent := t.TempDir()
	a, b := filepath.Join(parent, "a"), filepath.Join(parent, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "name"), []byte(filepath.Base(d)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := exchangeDirs(a, b)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("exchangeDirs = %v: no atomic exchange on this platform", err)
	}
	if err != nil {
		t.Fatalf("exchangeDirs = %v", err)
	}
	for d, want := range map[string]string{a: "b", b: "a"} {
		if got, err := os.ReadFile(filepath.Join(d, "name")); err != nil || string(got) != want {
			t.Errorf("after exchangeDirs, %s/name = %q, %v, want %q", filepath.Base(d), got, err, want)
		}
	}
}

func TestExtractReplaceFailureKeepsOld(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{name: "hostile", data: withImage(t, file("../escape", "x"))},
		{name: "truncated", data: mkTarOpen(t, newImage(t, "cut").legacy(t)...)},
		{name: "not an image", data: mkTar(t, file("a", "b"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent, target := prepare(t)
			if _, err := Extract(t.Context(), bytes.NewReader(tc.data), target, Options{Replace: true}); err == nil {
				t.Fatal("Extract = nil, want an error")
			}
			checkOld(t, parent, target)
		})
	}
}

func TestExtractTargetIsFile(t *testing.T) {
	parent := t.TempDir()
	target := filepath.Join(parent, "target")
	os.WriteFile(target, []byte("file"), 0o644)
	for _, replace := range []bool{false, true} {
		if _, err := Extract(t.Context(), bytes.NewReader(withImage(t)), target, Options{Replace: replace}); err == nil {
			t.Errorf("Extract(file, Replace %v) = nil, want an error", replace)
		}
		if b, _ := os.ReadFile(target); string(b) != "file" {
			t.Errorf("target = %q, want it untouched", b)
		}
		checkEntries(t, parent, "target")
	}
}

// TestReplaceAnnexLinks re-extracts over a previous save whose layer is a
// git-annex symlink: the link stays only when its content is here and is
// the layer; else the bytes just saved take its place (#8), whatever the
// annex key backend (#9: DataLad's MD5E keys do not end in the digest).
func TestReplaceAnnexLinks(t *testing.T) {
	tests := []struct {
		name   string
		damage func(tb testing.TB, dir, layer string)
		link   bool // the layer is still a symlink afterwards
	}{
		{name: "content present", damage: func(tb testing.TB, dir, layer string) { annexLink(tb, dir, layer) }, link: true},
		{name: "MD5E key, content present", damage: func(tb testing.TB, dir, layer string) { annexLinkKey(tb, dir, layer, "MD5E-s1--0123") }, link: true},
		{name: "content not present", damage: func(tb testing.TB, dir, layer string) { danglingLink(tb, layer) }},
		{name: "content damaged", damage: func(tb testing.TB, dir, layer string) {
			annexLink(tb, dir, layer)
			real, err := filepath.EvalSymlinks(layer)
			if err != nil {
				tb.Fatal(err)
			}
			os.Chmod(real, 0o644)
			flipByte(tb, real)
		}},
		{name: "link outside the repository", damage: func(tb testing.TB, dir, layer string) {
			b, _ := os.ReadFile(layer)
			outside := filepath.Join(tb.TempDir(), "copy")
			os.WriteFile(outside, b, 0o644)
			replaceWith(tb, layer, func(p string) error { return os.Symlink(outside, p) })
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := canonicalDir(t, "legacy.tar")
			_, im := openOne(t, dir)
			layer := filepath.Join(dir, filepath.FromSlash(im.Layers[0].Path))
			tc.damage(t, dir, layer)
			if _, err := Extract(t.Context(), bytes.NewReader(fixture(t, "legacy.tar")), dir, Options{Replace: true}); err != nil {
				t.Fatalf("Extract(Replace) = %v", err)
			}
			fi, err := os.Lstat(layer)
			if err != nil {
				t.Fatal(err)
			}
			if isLink := fi.Mode()&os.ModeSymlink != 0; isLink != tc.link {
				t.Errorf("after Extract(Replace), %s is a link: %v, want %v", im.Layers[0].Path, isLink, tc.link)
			}
			rep, err := Verify(t.Context(), dir, VerifyOptions{})
			if err != nil || !rep.OK() {
				t.Errorf("Verify after Extract(Replace) = %+v, %v, want ok", rep, err)
			}
		})
	}
}

// TestExtractMakesParents: a target whose parents do not exist gets them
// (#9: images/busybox in a fresh dataset); a failed extraction removes the
// ones it made and only those.
func TestExtractMakesParents(t *testing.T) {
	parent := t.TempDir()
	target := filepath.Join(parent, "images", "sub", "img")
	if _, err := Extract(t.Context(), bytes.NewReader(fixture(t, "legacy.tar")), target, Options{}); err != nil {
		t.Fatalf("Extract into %s = %v", target, err)
	}
	openOne(t, target)

	failed := filepath.Join(parent, "other", "deeper", "img")
	if _, err := Extract(t.Context(), bytes.NewReader(mkTar(t, file("a", "b"))), failed, Options{}); err == nil {
		t.Fatal("Extract of a non-image = nil, want an error")
	}
	checkEntries(t, parent, "images")
}

// evidenceSubjectOf is the signed digest an evidence folder of files is
// named by.
func evidenceSubjectOf(files []File) digest.Digest {
	hex, _, _ := strings.Cut(strings.TrimPrefix(files[0].Path, EvidenceDir+"/"), "/")
	return digest.NewDigestFromEncoded(digest.SHA256, hex)
}

// TestExtractReplaceKeepsEvidence (#28): a replacing save used to remove
// DIR/evidence with the rest, so re-saving a signed directory dropped its
// signatures. Evidence that still applies to the new tree (its subject is a
// blob of the tree, or a manifest it signs names one of the tree's configs)
// is carried over byte for byte inside the same swap; evidence that no
// longer applies is refused, leaving DIR as it was, unless DropEvidence,
// and then reported in Result.DroppedEvidence.
func TestExtractReplaceKeepsEvidence(t *testing.T) {
	a, b := newImage(t, "keep-a"), newImage(t, "keep-b")
	tarA, tarB := mkTar(t, a.legacy(t)...), mkTar(t, b.legacy(t)...)
	dir, res := extract(t, bytes.NewReader(tarA), Options{})

	// Signed by imgsave sign: a folder named by the canonical manifest
	// digest. Pulled: a folder named by a registry's manifest that names
	// a's config. And one for b, which does not apply to a.
	signed := []File{{Path: EvidenceDir + "/" + res.Manifests[0].Encoded() + "/index.json", Data: []byte(`{"signed":"by imgsave sign"}`)}}
	pulledA, pulledB := evidenceFiles(a.id), evidenceFiles(b.id)
	extra := append(append(append([]File{{Path: EvidenceDir + "/.gitattributes", Data: []byte("* annex.largefiles=nothing\n")}}, signed...), pulledA...), pulledB...)
	if _, err := Extract(t.Context(), bytes.NewReader(tarA), dir, Options{Replace: true, Extra: extra}); err != nil {
		t.Fatal(err)
	}
	withEvidence := readTree(t, dir)

	// b's evidence does not apply to a: refused, nothing changed.
	_, err := Extract(t.Context(), bytes.NewReader(tarA), dir, Options{Replace: true})
	var ee *EvidenceError
	if !errors.As(err, &ee) || !slices.Equal(ee.Digests, []digest.Digest{evidenceSubjectOf(pulledB)}) || ee.Dir != filepath.Join(dir, EvidenceDir) {
		t.Fatalf("Extract(Replace) over evidence of another image = %v, want an *EvidenceError for %s", err, evidenceSubjectOf(pulledB))
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, EvidenceDir)) || !strings.Contains(err.Error(), string(evidenceSubjectOf(pulledB))) {
		t.Errorf("error %q does not name the folder and the digest", err)
	}
	if d := diffTrees(readTree(t, dir), withEvidence); d != "" {
		t.Errorf("a refused Extract changed the directory:\n%s", d)
	}
	checkEntries(t, filepath.Dir(dir), "target")

	// Dropping it keeps the rest byte for byte.
	res, err = Extract(t.Context(), bytes.NewReader(tarA), dir, Options{Replace: true, DropEvidence: true})
	if err != nil {
		t.Fatalf("Extract(Replace, DropEvidence) = %v", err)
	}
	if !slices.Equal(res.DroppedEvidence, []digest.Digest{evidenceSubjectOf(pulledB)}) {
		t.Errorf("DroppedEvidence = %v, want %v", res.DroppedEvidence, evidenceSubjectOf(pulledB))
	}
	want := maps.Clone(withEvidence)
	for name := range want {
		if strings.HasPrefix(name, EvidenceDir+"/"+evidenceSubjectOf(pulledB).Encoded()+"/") {
			delete(want, name)
		}
	}
	if d := diffTrees(readTree(t, dir), want); d != "" {
		t.Errorf("Extract(Replace, DropEvidence) of the same image:\n%s", d)
	}

	// Re-saving the same image changes nothing, evidence included.
	res, err = Extract(t.Context(), bytes.NewReader(tarA), dir, Options{Replace: true})
	if err != nil || len(res.DroppedEvidence) != 0 {
		t.Fatalf("Extract(Replace) of the same image = %v, dropped %v", err, res.DroppedEvidence)
	}
	if d := diffTrees(readTree(t, dir), want); d != "" {
		t.Errorf("Extract(Replace) of the same image changed the directory:\n%s", d)
	}

	// Another image: all of a's evidence is refused, then dropped with
	// the folder's .gitattributes, leaving no evidence folder.
	_, err = Extract(t.Context(), bytes.NewReader(tarB), dir, Options{Replace: true})
	if !errors.As(err, &ee) || len(ee.Digests) != 2 {
		t.Fatalf("Extract(Replace) of another image = %v, want an *EvidenceError for 2 digests", err)
	}
	res, err = Extract(t.Context(), bytes.NewReader(tarB), dir, Options{Replace: true, DropEvidence: true})
	if err != nil || len(res.DroppedEvidence) != 2 {
		t.Fatalf("Extract(Replace, DropEvidence) of another image = %v, dropped %v", err, res.DroppedEvidence)
	}
	if _, err := os.Lstat(filepath.Join(dir, EvidenceDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after dropping all evidence: %v, want it gone", EvidenceDir, err)
	}
	checkLayout(t, dir, res, b)
}

// TestExtractReplaceFreshEvidenceWins: evidence a pull fetched again
// (Options.Extra) replaces the old folder of the same digest instead of
// mixing with it.
func TestExtractReplaceFreshEvidenceWins(t *testing.T) {
	a := newImage(t, "fresh")
	tarA := mkTar(t, a.legacy(t)...)
	old := evidenceFiles(a.id)
	dir, _ := extract(t, bytes.NewReader(tarA), Options{Extra: old})
	fresh := []File{{Path: old[0].Path[:len(EvidenceDir)+65] + "/index.json", Data: []byte(`{"fresh":true}`)}}
	if _, err := Extract(t.Context(), bytes.NewReader(tarA), dir, Options{Replace: true, Extra: fresh}); err != nil {
		t.Fatal(err)
	}
	kept, err := ReadExtra(dir)
	if err != nil || len(kept) != 1 || kept[0].Path != fresh[0].Path || !bytes.Equal(kept[0].Data, fresh[0].Data) {
		t.Errorf("evidence after a fresh one replaced it: %v, %v; want only %s", kept, err, fresh[0].Path)
	}
}

// TestExtractReplaceKeepsEvidenceWithoutExchange: where the swap takes two
// renames, the evidence still travels inside the new tree, so no moment
// has the new image in place without it.
func TestExtractReplaceKeepsEvidenceWithoutExchange(t *testing.T) {
	exchange = func(a, b string) error {
		return &os.LinkError{Op: "exchange", Old: a, New: b, Err: errors.ErrUnsupported}
	}
	t.Cleanup(func() { exchange = exchangeDirs })
	a := newImage(t, "keep-rename")
	tarA := mkTar(t, a.legacy(t)...)
	dir, _ := extract(t, bytes.NewReader(tarA), Options{Extra: evidenceFiles(a.id)})
	before := readTree(t, dir)
	if _, err := Extract(t.Context(), bytes.NewReader(tarA), dir, Options{Replace: true}); err != nil {
		t.Fatalf("Extract(Replace) without exchange = %v", err)
	}
	if d := diffTrees(readTree(t, dir), before); d != "" {
		t.Errorf("Extract(Replace) of the same image without exchange:\n%s", d)
	}
	checkEntries(t, filepath.Dir(dir), "target")
}
