package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/manifest"
)

// fixtureNames are the real saves in ../testdata.
var fixtureNames = []string{"legacy.tar", "oci.tar", "oci-gzip.tar"}

// untar unpacks a tarball into dir with archive/tar as `tar -x` would,
// keeping modes and symbolic links: the raw extraction datalad-container's
// docker adapter leaves.
func untar(tb testing.TB, data []byte, dir string) {
	tb.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		if n := strings.TrimSuffix(hdr.Name, "/"); n == "." || n == "" {
			continue // the root of `tar -C DIR -c .`
		}
		name, err := manifest.CleanPath(strings.TrimSuffix(hdr.Name, "/"))
		if err != nil {
			tb.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			var b []byte
			if b, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(p, b, fs.FileMode(hdr.Mode)&fs.ModePerm)
			}
		case tar.TypeSymlink:
			err = os.Symlink(hdr.Linkname, p)
		default:
			err = fmt.Errorf("%s: unexpected type %q", hdr.Name, hdr.Typeflag)
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// rawDir unpacks the fixture name into a new folder, as `tar -x` would.
func rawDir(tb testing.TB, name string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "raw")
	untar(tb, fixture(tb, name), dir)
	return dir
}

// canonicalDir extracts the fixture name into a new folder.
func canonicalDir(tb testing.TB, name string) (string, *Result) {
	tb.Helper()
	return extract(tb, bytes.NewReader(fixture(tb, name)), Options{})
}

// openOne opens dir and returns its only image.
func openOne(tb testing.TB, dir string) (*Dir, *DirImage) {
	tb.Helper()
	d, err := OpenDir(dir)
	if err != nil {
		tb.Fatalf("OpenDir(%q) = %v", dir, err)
	}
	if len(d.Images) != 1 || len(d.Images[0].Layers) != 1 {
		tb.Fatalf("OpenDir(%q) images = %+v, want one with one layer", dir, d.Images)
	}
	return d, d.Images[0]
}

// layerFile is the path of the only layer file of the image in dir.
func layerFile(tb testing.TB, dir string) string {
	tb.Helper()
	_, im := openOne(tb, dir)
	return filepath.Join(dir, filepath.FromSlash(im.Layers[0].Path))
}

// flipByte changes one byte in the middle of the file at p, keeping its
// size and mode.
func flipByte(tb testing.TB, p string) {
	tb.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.Chmod(p, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(p, fi.Mode().Perm()); err != nil {
		tb.Fatal(err)
	}
}

// annexPointer is an unlocked git-annex file whose content is not here.
const annexPointer = "/annex/objects/SHA256E-s10--abc\n"

// danglingLink replaces the file at p with a git-annex symlink whose
// content was never fetched.
func danglingLink(tb testing.TB, p string) {
	tb.Helper()
	if err := os.Remove(p); err != nil {
		tb.Fatal(err)
	}
	key := "SHA256E-s10240--" + filepath.Base(p)
	if err := os.Symlink("../../.git/annex/objects/Xx/Yy/"+key+"/"+key, p); err != nil {
		tb.Fatal(err)
	}
}

// pointerFile replaces the file at p with an annex pointer file.
func pointerFile(tb testing.TB, p string) {
	tb.Helper()
	if err := os.Remove(p); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(annexPointer), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// annexLink moves the file at p into an annex object store outside its
// folder, as `git annex add` does, and leaves a relative symlink to it.
func annexLink(tb testing.TB, dir, p string) {
	tb.Helper()
	annexLinkKey(tb, dir, p, "")
}

// annexLinkKey is annexLink with the given key, "" for a SHA256E one.
func annexLinkKey(tb testing.TB, dir, p, key string) {
	tb.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	if key == "" {
		key = fmt.Sprintf("SHA256E-s%d--%s", len(b), digest.FromBytes(b).Encoded())
	}
	// The repository holding dir: its parent, as in a dataset.
	obj := filepath.Join(filepath.Dir(dir), ".git", "annex", "objects", "Xx", "Yy", key, key)
	if err := os.MkdirAll(filepath.Dir(obj), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(obj, b, 0o444); err != nil {
		tb.Fatal(err)
	}
	rel, err := filepath.Rel(filepath.Dir(p), obj)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(rel, p); err != nil {
		tb.Fatal(err)
	}
}

// tarNames lists the members of a tar stream in order, with the error
// that ended it (nil at a proper end of archive).
func tarNames(b []byte) ([]string, error) {
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, hdr.Name)
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return out, err
		}
	}
}

// TestWriteTarRoundTrip streams the image of a directory (canonical, or
// a raw extraction of each fixture) and extracts the stream again: the
// result is the directory Extract makes from the fixture, and the stream
// puts its manifests after every blob, manifest.json last.
func TestWriteTarRoundTrip(t *testing.T) {
	for _, name := range fixtureNames {
		for _, raw := range []bool{false, true} {
			tcName := name + "/canonical"
			if raw {
				tcName = name + "/raw"
			}
			t.Run(tcName, func(t *testing.T) {
				canon, res := canonicalDir(t, name)
				src := canon
				if raw {
					src = rawDir(t, name)
				}
				d, im := openOne(t, src)
				var buf bytes.Buffer
				sent, err := d.WriteTar(&buf, im, im.RepoTags)
				if err != nil {
					t.Fatalf("WriteTar(%s) = %v", src, err)
				}
				if got := sent.ManifestDigest; got != im.ManifestDigest {
					t.Errorf("WriteTar(%s) = %s, want ManifestDigest %s", src, got, im.ManifestDigest)
				}
				back, res2 := extract(t, bytes.NewReader(buf.Bytes()), Options{})
				if diff := diffTrees(readTree(t, back), readTree(t, canon)); diff != "" {
					t.Errorf("Extract(WriteTar(%s)) differs from Extract(%s):\n%s", src, name, diff)
				}
				if !slices.Equal(res2.Manifests, res.Manifests) {
					t.Errorf("Extract(WriteTar(%s)).Manifests = %v, want %v", src, res2.Manifests, res.Manifests)
				}

				members, err := tarNames(buf.Bytes())
				if err != nil {
					t.Fatalf("reading WriteTar(%s): %v", src, err)
				}
				if len(members) == 0 || members[len(members)-1] != "manifest.json" {
					t.Errorf("WriteTar(%s) members = %q, want manifest.json last", src, members)
				}
				idx := slices.Index(members, "index.json")
				if idx < 0 {
					t.Fatalf("WriteTar(%s) members = %q, want an index.json", src, members)
				}
				blobs := 0
				for i, m := range members {
					if strings.HasPrefix(m, "blobs/") {
						blobs++
						if i > idx {
							t.Errorf("WriteTar(%s) members = %q, want blob %s before index.json", src, members, m)
						}
					}
				}
				if want := 2 + len(im.Layers); blobs != want { // config, layers, manifest
					t.Errorf("WriteTar(%s) members = %q, want %d blobs", src, members, want)
				}
			})
		}
	}
}

// TestWriteTarRejectsCorruptLayer changes one byte of a layer, keeping its
// size: WriteTar must fail naming the file, before any manifest is in the
// stream, so that an engine reading the cut stream loads nothing.
func TestWriteTarRejectsCorruptLayer(t *testing.T) {
	tests := []struct {
		name string
		dir  func(testing.TB) string
	}{
		{name: "canonical", dir: func(tb testing.TB) string { d, _ := canonicalDir(tb, "legacy.tar"); return d }},
		{name: "raw legacy", dir: func(tb testing.TB) string { return rawDir(tb, "legacy.tar") }},
		{name: "raw oci", dir: func(tb testing.TB) string { return rawDir(tb, "oci.tar") }},
		{name: "raw oci gzip layer", dir: func(tb testing.TB) string { return rawDir(tb, "oci-gzip.tar") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			layer := layerFile(t, dir)
			flipByte(t, layer)
			b, err := os.ReadFile(layer)
			if err != nil {
				t.Fatal(err)
			}
			d, im := openOne(t, dir)
			var buf bytes.Buffer
			_, err = d.WriteTar(&buf, im, im.RepoTags)
			var dm *DigestMismatchError
			if !errors.As(err, &dm) {
				t.Fatalf("WriteTar(%s) = %v, want a *DigestMismatchError", tc.name, err)
			}
			want := DigestMismatchError{Path: layer, Got: digest.FromBytes(b), Want: im.Layers[0].Digest}
			if *dm != want {
				t.Errorf("WriteTar(%s) = %+v, want %+v", tc.name, *dm, want)
			}
			members, _ := tarNames(buf.Bytes())
			if slices.Contains(members, "manifest.json") || slices.Contains(members, "index.json") {
				t.Errorf("WriteTar(%s) wrote %q before failing, want no manifest.json or index.json", tc.name, members)
			}
			if !slices.Contains(members, manifest.BlobPath(im.Layers[0].Digest)) {
				t.Errorf("WriteTar(%s) wrote %q before failing, want the layer started", tc.name, members)
			}
		})
	}
}

// TestOpenDirRaw opens raw extractions of real saves: the image ID and
// tags do not depend on the layout, and the manifest a load sends is the
// canonical one unless the layers are stored compressed.
func TestOpenDirRaw(t *testing.T) {
	legacyCanon, legacyRes := canonicalDir(t, "legacy.tar")
	_, legacyIm := openOne(t, legacyCanon)
	gzipRaw := rawDir(t, "oci-gzip.tar")
	idx, err := os.ReadFile(filepath.Join(gzipRaw, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	gzipIndex, err := manifest.ParseIndex(bytes.NewReader(idx))
	if err != nil {
		t.Fatal(err)
	}
	_, gzipRes := canonicalDir(t, "oci-gzip.tar")
	gzipCanon, _ := canonicalDir(t, "oci-gzip.tar")
	_, gzipCanonIm := openOne(t, gzipCanon)

	tests := []struct {
		name     string
		dir      string
		id       digest.Digest
		tags     []string
		manifest digest.Digest
		layer    digest.Digest // the layer file's digest
	}{
		{name: "canonical", dir: legacyCanon, id: legacyRes.Images[0].ID(), tags: legacyIm.RepoTags, manifest: legacyRes.Manifests[0], layer: legacyRes.Images[0].Layers[0].Digest},
		{name: "raw legacy", dir: rawDir(t, "legacy.tar"), id: legacyRes.Images[0].ID(), tags: legacyIm.RepoTags, manifest: legacyRes.Manifests[0], layer: legacyRes.Images[0].Layers[0].Digest},
		{name: "raw oci", dir: rawDir(t, "oci.tar"), id: legacyRes.Images[0].ID(), tags: legacyIm.RepoTags, manifest: legacyRes.Manifests[0], layer: legacyRes.Images[0].Layers[0].Digest},
		{name: "canonical gzip", dir: gzipCanon, id: gzipRes.Images[0].ID(), tags: gzipCanonIm.RepoTags, manifest: gzipRes.Manifests[0], layer: gzipRes.Images[0].Layers[0].Digest},
		{name: "raw oci gzip layer", dir: gzipRaw, id: gzipRes.Images[0].ID(), tags: gzipCanonIm.RepoTags, manifest: gzipIndex.Manifests[0].Digest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, im := openOne(t, tc.dir)
			if im.ID != tc.id {
				t.Errorf("OpenDir(%s).ID = %s, want %s", tc.name, im.ID, tc.id)
			}
			if !slices.Equal(im.RepoTags, tc.tags) || len(im.RepoTags) != 1 {
				t.Errorf("OpenDir(%s).RepoTags = %q, want %q", tc.name, im.RepoTags, tc.tags)
			}
			if im.ManifestDigest != tc.manifest {
				t.Errorf("OpenDir(%s).ManifestDigest = %s, want %s", tc.name, im.ManifestDigest, tc.manifest)
			}
			if got := digest.FromBytes(im.Manifest); got != im.ManifestDigest {
				t.Errorf("OpenDir(%s): Manifest has digest %s, ManifestDigest = %s", tc.name, got, im.ManifestDigest)
			}
			b, err := os.ReadFile(filepath.Join(tc.dir, filepath.FromSlash(im.Layers[0].Path)))
			if err != nil {
				t.Fatal(err)
			}
			l := im.Layers[0]
			if got := digest.FromBytes(b); got != l.Digest || l.Size != int64(len(b)) {
				t.Errorf("OpenDir(%s).Layers[0] = %s, %d bytes, want the file's %s, %d bytes", tc.name, l.Digest, l.Size, got, len(b))
			}
			if tc.layer != "" && l.Digest != tc.layer {
				t.Errorf("OpenDir(%s).Layers[0].Digest = %s, want %s", tc.name, l.Digest, tc.layer)
			}
		})
	}
	if legacyIm.ID == gzipCanonIm.ID {
		t.Errorf("legacy.tar and oci-gzip.tar give the same ID %s, want two images", legacyIm.ID)
	}
}

// TestOpenDirMissingContent replaces a layer of a canonical directory with
// what a git-annex clone holds before `git annex get`: the metadata still
// opens (sizes come from index.json) and CheckPresent says what to run.
func TestOpenDirMissingContent(t *testing.T) {
	tests := []struct {
		name    string
		replace func(testing.TB, string)
		// writeErr is what WriteTar, which the CLI runs after
		// CheckPresent, returns.
		writeErr error
	}{
		{name: "dangling symlink", replace: danglingLink, writeErr: ErrContentMissing},
		{name: "annex pointer file", replace: pointerFile, writeErr: ErrContentMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, res := canonicalDir(t, "legacy.tar")
			layer := layerFile(t, dir)
			tc.replace(t, layer)
			d, im := openOne(t, dir)
			if im.ID != res.Images[0].ID() || im.ManifestDigest != res.Manifests[0] {
				t.Errorf("OpenDir(%s) = %s, manifest %s, want %s, manifest %s", tc.name, im.ID, im.ManifestDigest, res.Images[0].ID(), res.Manifests[0])
			}
			err := d.CheckPresent(im)
			if !errors.Is(err, ErrContentMissing) {
				t.Errorf("CheckPresent(%s) = %v, want %v", tc.name, err, ErrContentMissing)
			}
			if err == nil || !strings.Contains(err.Error(), "git annex get") || !strings.Contains(err.Error(), layer) {
				t.Errorf("CheckPresent(%s) = %v, want it to name %s and say to run `git annex get`", tc.name, err, layer)
			}
			if d.Present(im.Layers[0].Path) {
				t.Errorf("Present(%q) = true, want false", im.Layers[0].Path)
			}
			if !d.Present(im.ConfigPath) {
				t.Errorf("Present(%q) = false, want true", im.ConfigPath)
			}
			var buf bytes.Buffer
			_, err = d.WriteTar(&buf, im, im.RepoTags)
			if !errors.Is(err, tc.writeErr) {
				t.Errorf("WriteTar(%s) = %v, want %v", tc.name, err, tc.writeErr)
			}
			if members, _ := tarNames(buf.Bytes()); slices.Contains(members, "manifest.json") {
				t.Errorf("WriteTar(%s) wrote %q, want no manifest.json", tc.name, members)
			}
		})
	}
}

// TestDirPresent covers Present on each kind of file a dataset holds.
func TestDirPresent(t *testing.T) {
	dir, res := canonicalDir(t, "legacy.tar")
	layer := manifest.BlobPath(res.Images[0].Layers[0].Digest)
	for _, name := range []string{"dangling", "pointer", "annexed", "large"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	danglingLink(t, filepath.Join(dir, "dangling"))
	pointerFile(t, filepath.Join(dir, "pointer"))
	annexLink(t, dir, filepath.Join(dir, "annexed"))
	tests := []struct {
		rel  string
		want bool
	}{
		{rel: layer, want: true},
		{rel: "manifest.json", want: true},
		{rel: "annexed", want: true},
		{rel: "dangling", want: false},
		{rel: "pointer", want: false},
		{rel: "absent", want: false},
		{rel: "../escape", want: false},
		{rel: "/etc/passwd", want: false},
	}
	d := newDir(dir)
	for _, tc := range tests {
		t.Run(tc.rel, func(t *testing.T) {
			if got := d.Present(tc.rel); got != tc.want {
				t.Errorf("Present(%q) = %v, want %v", tc.rel, got, tc.want)
			}
		})
	}
}

// TestWriteTarFollowsAnnexSymlink streams a layer that git-annex keeps
// outside the directory, behind a symlink.
func TestWriteTarFollowsAnnexSymlink(t *testing.T) {
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			canon, _ := canonicalDir(t, name)
			want := readTree(t, canon)
			dir := rawDir(t, name)
			annexLink(t, dir, layerFile(t, dir))
			d, im := openOne(t, dir)
			if err := d.CheckPresent(im); err != nil {
				t.Errorf("CheckPresent = %v, want nil", err)
			}
			var buf bytes.Buffer
			if _, err := d.WriteTar(&buf, im, im.RepoTags); err != nil {
				t.Fatalf("WriteTar = %v", err)
			}
			back, _ := extract(t, bytes.NewReader(buf.Bytes()), Options{})
			if diff := diffTrees(readTree(t, back), want); diff != "" {
				t.Errorf("Extract(WriteTar) differs from Extract(%s):\n%s", name, diff)
			}
		})
	}
}

// twoImages is a legacy save holding two unrelated images.
func twoImages(tb testing.TB, a, b testImage) []byte {
	tb.Helper()
	drop := func(m member) bool { return m.name == "manifest.json" || m.name == "repositories" }
	ms := slices.DeleteFunc(a.legacy(tb), drop)
	ms = append(ms, slices.DeleteFunc(b.legacy(tb), drop)...)
	ms = append(ms, file("manifest.json", mustJSON(tb, []manifest.Entry{
		{Config: a.id.Encoded() + ".json", RepoTags: []string{a.tag}, Layers: []string{a.layerID() + "/layer.tar"}},
		{Config: b.id.Encoded() + ".json", RepoTags: []string{b.tag}, Layers: []string{b.layerID() + "/layer.tar"}},
	})))
	return mkTar(tb, ms...)
}

func TestDirSelect(t *testing.T) {
	a, b := newImage(t, "select-a"), newImage(t, "select-b")
	dir, _ := extract(t, bytes.NewReader(twoImages(t, a, b)), Options{})
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatalf("OpenDir = %v", err)
	}
	if len(d.Images) != 2 {
		t.Fatalf("OpenDir gave %d images, want 2", len(d.Images))
	}
	short := func(im testImage) string { return im.id.Encoded()[:12] }
	both := []string{short(a), short(b), a.tag, b.tag}
	tests := []struct {
		name        string
		tag, prefix string
		want        digest.Digest // the image picked, or
		errHas      []string      // what the error names
	}{
		{name: "neither", errHas: append([]string{"it holds 2"}, both...)},
		{name: "tag a", tag: a.tag, want: a.id},
		{name: "tag b", tag: b.tag, want: b.id},
		{name: "prefix a", prefix: short(a), want: a.id},
		{name: "prefix b with sha256", prefix: "sha256:" + short(b), want: b.id},
		{name: "whole ID", prefix: string(b.id), want: b.id},
		{name: "tag and prefix", tag: a.tag, prefix: short(a)[:6], want: a.id},
		{name: "unknown tag", tag: "nope:1", errHas: append([]string{`"nope:1"`}, both...)},
		{name: "unknown prefix", prefix: "zzzz", errHas: append([]string{`"zzzz"`}, both...)},
		{name: "tag of one, prefix of the other", tag: a.tag, prefix: short(b), errHas: both},
		{name: "prefix of both", prefix: "sha256:", errHas: append([]string{"it holds 2"}, both...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			im, err := d.Select(tc.tag, tc.prefix)
			if tc.want != "" {
				if err != nil || im.ID != tc.want {
					t.Errorf("Select(%q, %q) = %v, %v, want %s", tc.tag, tc.prefix, im, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Select(%q, %q) = %s, nil, want an error", tc.tag, tc.prefix, im.ID)
			}
			if im != nil {
				t.Errorf("Select(%q, %q) = %v, %v, want a nil image", tc.tag, tc.prefix, im, err)
			}
			if !errors.Is(err, ErrSelect) || strings.Contains(err.Error(), "--") {
				t.Errorf("Select(%q, %q) = %v, want %v, naming no flag", tc.tag, tc.prefix, err, ErrSelect)
			}
			for _, s := range tc.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Select(%q, %q) = %v, want it to name %s", tc.tag, tc.prefix, err, s)
				}
			}
		})
	}

	t.Run("one image", func(t *testing.T) {
		one, _ := canonicalDir(t, "legacy.tar")
		d, im := openOne(t, one)
		got, err := d.Select("", "")
		if err != nil || got != im {
			t.Errorf("Select(%q, %q) = %v, %v, want the only image", "", "", got, err)
		}
		if got, err := d.Select("other:1", ""); err == nil {
			t.Errorf("Select(%q, %q) = %s, nil, want an error", "other:1", "", got.ID)
		}
	})
}

// gzipLayerRenamed is the reproduction of #7: a canonical directory whose
// layer is gzipped, renamed to the digest of the gzip bytes and named so in
// manifest.json, with index.json deleted. It returns the new layer file.
func gzipLayerRenamed(tb testing.TB, dir string) string {
	tb.Helper()
	_, im := openOne(tb, dir)
	old := im.Layers[0].Path
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(old)))
	if err != nil {
		tb.Fatal(err)
	}
	z := gz(tb, b)
	rel := manifest.BlobPath(digest.FromBytes(z))
	putFile(tb, dir, rel, string(z))
	remove(tb, filepath.Join(dir, filepath.FromSlash(old)))
	remove(tb, filepath.Join(dir, "index.json"))
	mj, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		tb.Fatal(err)
	}
	putFile(tb, dir, "manifest.json", strings.ReplaceAll(string(mj), old, rel))
	return filepath.Join(dir, filepath.FromSlash(rel))
}

// TestOpenDirErrors damages the small files OpenDir reads.
func TestOpenDirErrors(t *testing.T) {
	configOf := func(tb testing.TB, dir string) string {
		_, im := openOne(tb, dir)
		return filepath.Join(dir, filepath.FromSlash(im.ConfigPath))
	}
	manifestOf := func(tb testing.TB, dir string) string {
		_, im := openOne(tb, dir)
		return filepath.Join(dir, filepath.FromSlash(manifest.BlobPath(im.ManifestDigest)))
	}
	tests := []struct {
		name     string
		fixture  string
		raw      bool
		damage   func(tb testing.TB, dir string) string // returns the file named in the error
		mismatch bool                                   // a *DigestMismatchError for that file
		is       error
		has      string
	}{
		{name: "neither manifest.json nor index.json", fixture: "legacy.tar", raw: true, is: ErrNoManifest,
			damage: func(tb testing.TB, dir string) string { remove(tb, filepath.Join(dir, "manifest.json")); return dir }},
		{name: "gzipped layer renamed, index.json removed", fixture: "legacy.tar", has: "no manifest in index.json describes it",
			damage: func(tb testing.TB, dir string) string { return gzipLayerRenamed(tb, dir) }},
		{name: "manifest.json disagrees with index.json", fixture: "legacy.tar", has: "which no manifest in index.json describes",
			damage: func(tb testing.TB, dir string) string {
				_, other := canonicalDir(tb, "oci-gzip.tar")
				b, err := os.ReadFile(filepath.Join(dir, "index.json"))
				if err != nil {
					tb.Fatal(err)
				}
				_, im := openOne(tb, dir)
				// index.json now points at a manifest of another image.
				m, _, err := other.Images[0].Manifest()
				if err != nil {
					tb.Fatal(err)
				}
				d := digest.FromBytes(m)
				putFile(tb, dir, manifest.BlobPath(d), string(m))
				putFile(tb, dir, "index.json", strings.ReplaceAll(strings.ReplaceAll(string(b), string(im.ManifestDigest), string(d)), fmt.Sprintf(`"size":%d`, len(im.Manifest)), fmt.Sprintf(`"size":%d`, len(m))))
				return dir
			}},
		{name: "manifest.json null", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir string) string {
				putFile(tb, dir, "manifest.json", "null")
				return "manifest.json"
			}},
		{name: "corrupt config", fixture: "legacy.tar", mismatch: true,
			damage: func(tb testing.TB, dir string) string { p := configOf(tb, dir); flipByte(tb, p); return p }},
		{name: "raw legacy corrupt config", fixture: "legacy.tar", raw: true, mismatch: true,
			damage: func(tb testing.TB, dir string) string { p := configOf(tb, dir); flipByte(tb, p); return p }},
		{name: "corrupt manifest blob", fixture: "oci-gzip.tar", raw: true, mismatch: true,
			damage: func(tb testing.TB, dir string) string { p := manifestOf(tb, dir); flipByte(tb, p); return p }},
		{name: "config not present", fixture: "legacy.tar", is: ErrContentMissing,
			damage: func(tb testing.TB, dir string) string { p := configOf(tb, dir); danglingLink(tb, p); return p }},
		{name: "config annex pointer", fixture: "oci.tar", raw: true, is: ErrContentMissing,
			damage: func(tb testing.TB, dir string) string { p := configOf(tb, dir); pointerFile(tb, p); return p }},
		{name: "compressed layer without index.json", fixture: "oci-gzip.tar", raw: true, has: "index.json",
			damage: func(tb testing.TB, dir string) string { remove(tb, filepath.Join(dir, "index.json")); return dir }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, _, _ := verifyDir(t, verifyCase{fixture: tc.fixture, raw: tc.raw})
			named := tc.damage(t, dir)
			d, err := OpenDir(dir)
			if err == nil {
				t.Fatalf("OpenDir(%s) = %+v, nil, want an error", tc.name, d)
			}
			if !strings.Contains(err.Error(), named) || !strings.Contains(err.Error(), tc.has) {
				t.Errorf("OpenDir(%s) = %v, want it to name %s and say %q", tc.name, err, named, tc.has)
			}
			var dm *DigestMismatchError
			if tc.mismatch && (!errors.As(err, &dm) || dm.Path != named) {
				t.Errorf("OpenDir(%s) = %v, want a *DigestMismatchError for %s", tc.name, err, named)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("OpenDir(%s) = %v, want %v", tc.name, err, tc.is)
			}
		})
	}

	notDir := filepath.Join(t.TempDir(), "f")
	putFile(t, filepath.Dir(notDir), "f", "x")
	for _, p := range []string{notDir, filepath.Join(t.TempDir(), "absent")} {
		if d, err := OpenDir(p); err == nil {
			t.Errorf("OpenDir(%q) = %+v, nil, want an error", p, d)
		}
	}
}

// TestOpenAnnexFetchedLater: in a fresh clone .git/annex/objects does not
// exist until the first fetch; content fetched after the directory was
// opened is read all the same (seen with run --get, #9).
func TestOpenAnnexFetchedLater(t *testing.T) {
	dir, _ := canonicalDir(t, "legacy.tar")
	if err := os.MkdirAll(filepath.Join(filepath.Dir(dir), ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	layer := layerFile(t, dir)
	b, err := os.ReadFile(layer)
	if err != nil {
		t.Fatal(err)
	}
	// A link into the parent repository's annex, whose objects folder is
	// not there yet.
	replaceWith(t, layer, func(p string) error { return os.Symlink("../../../.git/annex/objects/Xx/Yy/K/K", p) })
	d, im := openOne(t, dir)
	if d.Present(im.Layers[0].Path) {
		t.Fatal("Present before the fetch = true")
	}
	target, err := os.Readlink(layer)
	if err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(filepath.Dir(layer), target)
	if err := os.MkdirAll(filepath.Dir(obj), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(obj, b, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckPresent(im); err != nil {
		t.Errorf("CheckPresent after the fetch = %v, want nil", err)
	}
}

func TestSameTag(t *testing.T) {
	tests := []struct {
		tag, asked string
		want       bool
	}{
		{"busybox:latest", "busybox:latest", true},
		{"busybox:latest", "busybox", true},
		{"busybox:latest", "docker.io/library/busybox:latest", true},
		{"localhost/tool:1", "tool:1", true},
		{"localhost/tool:1", "localhost/tool:1", true},
		{"tool:1", "tool:2", false},
		{"localhost/tool:1", "other/tool:1", false},
		{"127.0.0.1:5000/tool:1", "tool:1", false},
	}
	for _, tc := range tests {
		if got := sameTag(tc.tag, tc.asked); got != tc.want {
			t.Errorf("sameTag(%q, %q) = %v, want %v", tc.tag, tc.asked, got, tc.want)
		}
	}
}

// TestWriteTarLeavesImage: WriteTar returns the sizes and manifest it
// computed for a layer whose size OpenDir could not know (its git-annex
// content was fetched after the directory was opened) and leaves the image
// it was given as it was (#18).
func TestWriteTarLeavesImage(t *testing.T) {
	dir := rawDir(t, "legacy.tar")
	_, res := canonicalDir(t, "legacy.tar")
	layer := layerFile(t, dir)
	b, err := os.ReadFile(layer)
	if err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(dir, "annex-object")
	replaceWith(t, layer, func(p string) error { return os.Symlink(obj, p) })
	d, im := openOne(t, dir)
	if im.Layers[0].Size != -1 || im.ManifestDigest != "" {
		t.Fatalf("OpenDir before the fetch: layer size %d, manifest %q, want -1 and none", im.Layers[0].Size, im.ManifestDigest)
	}
	if err := os.WriteFile(obj, b, 0o444); err != nil {
		t.Fatal(err)
	}
	before := *im
	before.Layers = slices.Clone(im.Layers)

	sent, err := d.WriteTar(io.Discard, im, im.RepoTags)
	if err != nil {
		t.Fatalf("WriteTar = %v", err)
	}
	if sent.Layers[0].Size != int64(len(b)) || sent.ManifestDigest != res.Manifests[0] || digest.FromBytes(sent.Manifest) != sent.ManifestDigest {
		t.Errorf("WriteTar = layer size %d, manifest %s, want %d, %s", sent.Layers[0].Size, sent.ManifestDigest, len(b), res.Manifests[0])
	}
	if !slices.Equal(im.Layers, before.Layers) || im.ManifestDigest != before.ManifestDigest || im.Manifest != nil {
		t.Errorf("WriteTar changed its argument: layers %+v, manifest %q, want %+v, none", im.Layers, im.ManifestDigest, before.Layers)
	}
}

// TestSelectPlatform: among platforms of one image the engine's is picked
// (asked only when needed), --platform picks another or fails naming
// those present, and variants match leniently.
func TestSelectPlatform(t *testing.T) {
	im := func(arch, variant string) *DirImage {
		return &DirImage{ID: digest.Digest("sha256:" + strings.Repeat(arch[:1], 64)), RepoTags: []string{"x:1"},
			Config: &manifest.Config{OS: "linux", Architecture: arch, Variant: variant}}
	}
	d := &Dir{Path: "img", Images: []*DirImage{im("amd64", ""), im("arm64", "v8")}}
	asked := 0
	native := func(p string) func() (string, error) {
		return func() (string, error) { asked++; return p, nil }
	}
	for _, tc := range []struct {
		platform, native, want, err string
	}{
		{"", "linux/amd64", "amd64", ""},
		{"", "linux/arm64", "arm64", ""},
		{"linux/arm64", "linux/amd64", "arm64", ""},
		{"linux/arm64/v8", "", "arm64", ""},
		{"linux/amd64", "", "amd64", ""},
		{"linux/s390x", "linux/amd64", "", "no image for the platform linux/s390x; it holds linux/amd64, linux/arm64/v8"},
		{"", "linux/riscv64", "", "no image for the platform linux/riscv64, the engine's; it holds linux/amd64, linux/arm64/v8"},
	} {
		got, err := d.SelectPlatform("", "", tc.platform, native(tc.native))
		switch {
		case tc.err != "":
			if !errors.Is(err, ErrPlatform) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("SelectPlatform(%q) with engine %s = %v, want ErrPlatform: %s", tc.platform, tc.native, err, tc.err)
			}
		case err != nil || got.Config.Architecture != tc.want:
			t.Errorf("SelectPlatform(%q) with engine %s = %v, %v; want %s", tc.platform, tc.native, got, err, tc.want)
		}
	}
	asked = 0
	if _, err := d.SelectPlatform("", "", "linux/amd64", native("linux/amd64")); err != nil || asked != 0 {
		t.Errorf("a platform named: err %v, engine asked %d times, want never", err, asked)
	}
	if _, err := d.SelectPlatform("", "", "", nil); !errors.Is(err, ErrSelect) {
		t.Errorf("several platforms and no engine: %v, want ErrSelect", err)
	}
}

// TestSelectPlatformRefusesJunk: a platform that is not os/arch[/variant]
// of sane names is an error, not the platform its first parts name (#28).
func TestSelectPlatformRefusesJunk(t *testing.T) {
	d := &Dir{Path: "img", Images: []*DirImage{{ID: digest.Digest("sha256:" + strings.Repeat("a", 64)), Config: &manifest.Config{OS: "linux", Architecture: "amd64"}}}}
	for _, junk := range []string{"linux/amd64/../..", "linux/amd64/..", "linux/amd64/v1/x", "linux/amd64 "} {
		if im, err := d.SelectPlatform("", "", junk, nil); !errors.Is(err, manifest.ErrPlatformSyntax) {
			t.Errorf("SelectPlatform(%q) = %v, %v; want ErrPlatformSyntax", junk, im, err)
		}
	}
	if im, err := d.SelectPlatform("", "", "Linux/x86_64", nil); err != nil || im == nil {
		t.Errorf("SelectPlatform(Linux/x86_64) = %v, %v; want the linux/amd64 image", im, err)
	}
}
