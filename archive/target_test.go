package archive

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
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
	saved := mk("saved", "manifest.json", "index.json")
	dataset := mk("dataset", ".git", "manifest.json")
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
	}{
		{name: "missing", dir: filepath.Join(tmp, "new")},
		{name: "empty", dir: empty},
		{name: "full", dir: full, is: ErrNotEmpty},
		{name: "only a hidden file", dir: hidden, is: ErrNotEmpty},
		{name: "not an image with replace", dir: full, replace: true, is: ErrNotImageDir},
		{name: "a previous save with replace", dir: saved, replace: true},
		{name: "a dataset root with replace", dir: dataset, replace: true, is: ErrNotImageDir},
		{name: "empty with replace", dir: empty, replace: true},
		{name: "missing parent", dir: filepath.Join(tmp, "no", "new"), err: true},
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
		})
	}
}

// prepare makes parent/target, a previous save (as far as Replace cares)
// holding manifest.json and old.txt.
func prepare(t *testing.T) (parent, target string) {
	parent = t.TempDir()
	target = filepath.Join(parent, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"manifest.json", "old.txt"} {
		if err := os.WriteFile(filepath.Join(target, f), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return parent, target
}

func checkOld(t *testing.T, parent, target string) {
	t.Helper()
	checkEntries(t, parent, "target")
	checkEntries(t, target, "manifest.json", "old.txt")
	if b, err := os.ReadFile(filepath.Join(target, "old.txt")); err != nil || string(b) != "old" {
		t.Errorf("old.txt = %q, %v, want %q", b, err, "old")
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
