package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// snap is what snapshot records of one name.
type snap struct {
	mode  fs.FileMode
	mtime int64         // UnixNano
	data  digest.Digest // of a file's content
	link  string        // a symbolic link's target
}

func (s snap) String() string {
	return fmt.Sprintf("%v %d %s%s", s.mode, s.mtime, s.data, s.link)
}

// snapshot describes every name below dir, symbolic links included (which
// readTree refuses): the mode, modification time and content digest of
// each file, and each link's target.
func snapshot(tb testing.TB, dir string) map[string]snap {
	tb.Helper()
	out := make(map[string]snap)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		s := snap{mode: fi.Mode(), mtime: fi.ModTime().UnixNano()}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if s.link, err = os.Readlink(p); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s.data = digest.FromBytes(b)
		}
		out[filepath.ToSlash(rel)] = s
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// diffSnapshots describes how got differs from want, or returns "".
func diffSnapshots(got, want map[string]snap) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[name]; !ok {
			fmt.Fprintf(&b, "missing %q\n", name)
		} else if g != want[name] {
			fmt.Fprintf(&b, "%q: %s, want %s\n", name, g, want[name])
		}
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[name]; !ok {
			fmt.Fprintf(&b, "unexpected %q\n", name)
		}
	}
	return b.String()
}

// untimed drops the modification times of a snapshot.
func untimed(m map[string]snap) map[string]snap {
	for k, s := range m {
		s.mtime = 0
		m[k] = s
	}
	return m
}

// TestMigrate rewrites raw extractions of real saves in place: the result
// is what Extract makes of the save itself, with nothing left beside it,
// and migrating again changes nothing.
func TestMigrate(t *testing.T) {
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			want, wantRes := canonicalDir(t, name)
			dir := rawDir(t, name)
			res, err := Migrate(t.Context(), dir, Options{})
			if err != nil {
				t.Fatalf("Migrate(%s) = %v", name, err)
			}
			if diff := diffTrees(readTree(t, dir), readTree(t, want)); diff != "" {
				t.Errorf("Migrate(%s) differs from Extract(%s):\n%s", name, name, diff)
			}
			if !slices.Equal(res.Manifests, wantRes.Manifests) || res.Images[0].ID() != wantRes.Images[0].ID() {
				t.Errorf("Migrate(%s) = %v, %v, want %v, %v", name, res.Images, res.Manifests, wantRes.Images, wantRes.Manifests)
			}
			checkEntries(t, filepath.Dir(dir), "raw")

			before := snapshot(t, dir)
			if _, err := Migrate(t.Context(), dir, Options{}); err != nil {
				t.Fatalf("Migrate(Migrate(%s)) = %v", name, err)
			}
			if diff := diffSnapshots(snapshot(t, dir), before); diff != "" {
				t.Errorf("Migrate(Migrate(%s)) changed the directory:\n%s", name, diff)
			}
			checkEntries(t, filepath.Dir(dir), "raw")
		})
	}
}

// TestMigrateKeepsAnnexLinks migrates a canonical directory whose layer
// git-annex holds: the layer stays the same symlink, so git sees no
// change.
func TestMigrateKeepsAnnexLinks(t *testing.T) {
	dir, _ := canonicalDir(t, "oci-gzip.tar")
	layer := layerFile(t, dir)
	annexLink(t, dir, layer)
	before := untimed(snapshot(t, dir))
	if _, err := Migrate(t.Context(), dir, Options{}); err != nil {
		t.Fatalf("Migrate = %v", err)
	}
	after := untimed(snapshot(t, dir))
	rel, _ := filepath.Rel(dir, layer)
	if after[rel] != before[rel] || after[rel].link == "" {
		t.Errorf("Migrate: layer %s = %v, want %v", rel, after[rel], before[rel])
	}
	// Times are left out: the link is made anew, in blobs/sha256.
	if diff := diffSnapshots(after, before); diff != "" {
		t.Errorf("Migrate changed the directory:\n%s", diff)
	}
}

// TestMigrateMissingContent migrates a directory of which a file is not
// present locally: Migrate must fail with ErrContentMissing and leave the
// directory exactly as it was, with no staging folder beside it.
func TestMigrateMissingContent(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		raw     bool
		damage  func(testing.TB, string)
	}{
		{name: "raw legacy, dangling symlink", fixture: "legacy.tar", raw: true, damage: danglingLink},
		{name: "raw legacy, annex pointer", fixture: "legacy.tar", raw: true, damage: pointerFile},
		{name: "raw oci, dangling symlink", fixture: "oci.tar", raw: true, damage: danglingLink},
		{name: "raw oci gzip layer, annex pointer", fixture: "oci-gzip.tar", raw: true, damage: pointerFile},
		{name: "canonical, dangling symlink", fixture: "legacy.tar", damage: danglingLink},
		{name: "canonical, annex pointer", fixture: "oci-gzip.tar", damage: pointerFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := rawDir(t, tc.fixture)
			if !tc.raw {
				if _, err := Migrate(t.Context(), dir, Options{}); err != nil {
					t.Fatal(err)
				}
			}
			tc.damage(t, layerFile(t, dir))
			before := snapshot(t, dir)
			res, err := Migrate(t.Context(), dir, Options{})
			if !errors.Is(err, ErrContentMissing) {
				t.Errorf("Migrate(%s) = %v, %v, want %v", tc.name, res, err, ErrContentMissing)
			}
			if res != nil {
				t.Errorf("Migrate(%s) = %+v, %v, want a nil Result", tc.name, res, err)
			}
			if diff := diffSnapshots(snapshot(t, dir), before); diff != "" {
				t.Errorf("Migrate(%s) changed the directory:\n%s", tc.name, diff)
			}
			checkEntries(t, filepath.Dir(dir), "raw")
		})
	}
}

// TestMigrateRefusesGitRoot keeps Migrate from replacing a directory that
// holds .git (a dataset root or a subdataset): the swap would delete it.
func TestMigrateRefusesGitRoot(t *testing.T) {
	for _, isDir := range []bool{true, false} {
		dir := rawDir(t, "legacy.tar")
		git := filepath.Join(dir, ".git")
		var err error
		if isDir {
			if err = os.Mkdir(git, 0o755); err == nil {
				err = os.WriteFile(filepath.Join(git, "HEAD"), []byte("ref: refs/heads/main\n"), 0o644)
			}
		} else {
			err = os.WriteFile(git, []byte("gitdir: ../.git/modules/img\n"), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, dir)
		if _, err := Migrate(t.Context(), dir, Options{}); !errors.Is(err, ErrNotImageDir) {
			t.Errorf("Migrate(dir with .git, folder=%v) = %v, want %v", isDir, err, ErrNotImageDir)
		}
		if diff := diffSnapshots(snapshot(t, dir), before); diff != "" {
			t.Errorf("Migrate(dir with .git, folder=%v) changed it:\n%s", isDir, diff)
		}
	}
}

// TestMigrateRefusesForeignFiles: migrate rewrites a raw save, never a
// file the save did not hold (#8).
func TestMigrateRefusesForeignFiles(t *testing.T) {
	dir := rawDir(t, "legacy.tar")
	putFile(t, dir, "notes.txt", "mine")
	before := snapshot(t, dir)
	_, err := Migrate(t.Context(), dir, Options{})
	if !errors.Is(err, ErrNotImageDir) || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("Migrate(raw save + notes.txt) = %v, want %v naming notes.txt", err, ErrNotImageDir)
	}
	if diff := diffSnapshots(snapshot(t, dir), before); diff != "" {
		t.Errorf("Migrate changed the directory:\n%s", diff)
	}
}
