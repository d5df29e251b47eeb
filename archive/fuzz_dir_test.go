package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

// Limits on what FuzzOpenDir materialises: inputs past them are skipped.
const (
	fuzzDirMaxBytes   = 1 << 20 // uncompressed file content in all
	fuzzDirMaxEntries = 1000
	// fuzzDirDeadline is how long OpenDir, Verify and WriteTar may take on
	// a directory of at most fuzzDirMaxBytes before it counts as a hang.
	fuzzDirDeadline = 10 * time.Second
)

// untarFuzz unpacks a tar stream into dir as `tar -x` would, a later entry
// replacing an earlier one, but keeps only what a hostile stream cannot
// turn against the host: regular files and folders whose names
// manifest.CleanPath accepts, and symbolic links whose target, resolved
// against the link's folder, stays inside dir (git-annex datasets are made
// of such links). Nothing is created below a link, so every link, and every
// link it goes through, resolves inside dir. Any other entry is skipped;
// a damaged stream ends the unpacking, keeping what came before. Header
// checksums are recomputed first (fixChecksums). It returns false for a
// stream over fuzzDirMaxBytes or fuzzDirMaxEntries.
func untarFuzz(data []byte, dir string) bool {
	tr := tar.NewReader(bytes.NewReader(fixChecksums(data)))
	budget := int64(fuzzDirMaxBytes)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err != nil {
			return true
		}
		if n >= fuzzDirMaxEntries {
			return false
		}
		raw := hdr.Name
		if hdr.Typeflag == tar.TypeDir {
			raw = strings.TrimSuffix(raw, "/")
		}
		name, err := manifest.CleanPath(raw) // also skips the root "."
		if err != nil || !fuzzParents(dir, name) {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		fi, err := os.Lstat(p)
		switch {
		case err == nil && fi.IsDir():
			continue // a folder stays a folder, as with tar -x
		case err == nil:
			if os.Remove(p) != nil {
				continue
			}
		case !errors.Is(err, fs.ErrNotExist):
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			os.Mkdir(p, 0o755)
		case tar.TypeReg:
			if budget -= hdr.Size; budget < 0 {
				return false
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return true
			}
			os.WriteFile(p, b, fs.FileMode(hdr.Mode)&fs.ModePerm|0o400)
		case tar.TypeSymlink:
			if target, ok := fuzzLinkTarget(name, hdr.Linkname); ok {
				os.Symlink(target, p)
			}
		}
	}
}

// fixChecksums returns a copy of the tar stream data with the checksum of
// each header block recomputed, so that the fuzzer's changes to a header (a
// name, a size, a type, a link) reach the reader instead of failing its
// checksum test. It finds the headers as the reader does, after each
// entry's data, except where a PAX record sets the size.
func fixChecksums(data []byte) []byte {
	b := bytes.Clone(data)
	for off := 0; off+512 <= len(b); {
		blk := b[off : off+512]
		if bytes.Count(blk, []byte{0}) == len(blk) {
			break // end of archive
		}
		copy(blk[148:156], "        ")
		sum := 0
		for _, c := range blk {
			sum += int(c)
		}
		copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
		size, err := strconv.ParseInt(strings.Trim(string(blk[124:136]), " \x00"), 8, 64)
		if err != nil || size < 0 || size > int64(len(b)) {
			break // base-256 or damaged: the reader stops here too
		}
		if strings.IndexByte("123456", blk[156]) >= 0 {
			size = 0 // links, devices, folders and fifos have no data
		}
		off += 512 + int(size+511)/512*512
	}
	return b
}

// fuzzParents makes the folders above name, and reports false when one of
// them is a link or a file.
func fuzzParents(dir, name string) bool {
	p := dir
	for c := range strings.SplitSeq(path.Dir(name), "/") {
		if c == "." {
			break
		}
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if os.Mkdir(p, 0o755) != nil {
				return false
			}
		case err != nil || !fi.IsDir():
			return false
		}
	}
	return true
}

// fuzzLinkTarget returns, for a link name with target, the target to
// create: clean, relative to the link's folder, and inside the root (which
// it may be). ok is false for a target that leaves the root.
func fuzzLinkTarget(name, target string) (string, bool) {
	if target == "" || strings.ContainsRune(target, 0) || path.IsAbs(target) {
		return "", false
	}
	resolved := path.Join(path.Dir(name), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return "", false
	}
	rel, err := filepath.Rel(path.Dir(name), resolved)
	if err != nil {
		return "", false
	}
	return rel, true
}

// tarDir tars the tree under dir back, sorted by name, with fixed times:
// the stream untarFuzz turns into the same tree.
func tarDir(tb testing.TB, dir string) []byte {
	tb.Helper()
	var ms []member
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
			return err
		case fi.IsDir():
			ms = append(ms, folder(rel+"/"))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			ms = append(ms, symlink(rel, target))
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			ms = append(ms, member{name: rel, body: string(b), mode: int64(fi.Mode().Perm())})
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return mkTar(tb, ms...)
}

// withoutMember returns the tar stream data without the member name
// (with or without a leading "./"), and whether it held one.
func withoutMember(tb testing.TB, data []byte, name string) ([]byte, bool) {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tr := tar.NewReader(bytes.NewReader(data))
	found := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		if strings.TrimPrefix(hdr.Name, "./") == name {
			found = true
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			tb.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), found
}

// dirSeeds are image directories as tar streams: every fixture in
// ../testdata raw (as `tar -x` leaves it) and as imgsave's canonical
// directory, each without index.json and without manifest.json, the
// canonical one with its layer behind git-annex (present, not fetched, an
// unlocked pointer), and FuzzExtract's uncompressed seeds.
func dirSeeds(tb testing.TB) map[string][]byte {
	tb.Helper()
	seeds := make(map[string][]byte)
	names, err := filepath.Glob(filepath.Join("..", "testdata", "*.tar"))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no fixtures in ../testdata: %v", err)
	}
	for _, p := range names {
		name := filepath.Base(p)
		canon, _ := canonicalDir(tb, name)
		forms := map[string][]byte{"raw " + name: fixture(tb, name), "canonical " + name: tarDir(tb, canon)}
		for form, data := range forms {
			seeds[form] = data
			for _, drop := range []string{"index.json", "manifest.json"} {
				if b, ok := withoutMember(tb, data, drop); ok {
					seeds[form+" without "+drop] = b
				}
			}
		}
	}
	annex := map[string]func(tb testing.TB, dir, layer string){
		"annex pointer":  func(tb testing.TB, _, layer string) { pointerFile(tb, layer) },
		"annex dangling": func(tb testing.TB, _, layer string) { danglingLink(tb, layer) },
		"annex present": func(tb testing.TB, dir, layer string) {
			// danglingLink's target, relative to blobs/sha256, is inside
			// dir: put the content there.
			b, err := os.ReadFile(layer)
			if err != nil {
				tb.Fatal(err)
			}
			danglingLink(tb, layer)
			target, err := os.Readlink(layer)
			if err != nil {
				tb.Fatal(err)
			}
			obj := filepath.Join(filepath.Dir(layer), target)
			if err := os.MkdirAll(filepath.Dir(obj), 0o755); err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(obj, b, 0o444); err != nil {
				tb.Fatal(err)
			}
		},
	}
	for form, damage := range annex {
		dir, _ := canonicalDir(tb, "legacy.tar")
		damage(tb, dir, layerFile(tb, dir))
		seeds["canonical legacy.tar, "+form] = tarDir(tb, dir)
	}
	// imgsave's layout of one image for two platforms (#21): an image
	// index in blobs/, manifest.json listing the first platform alone
	amd, arm := newImageFor(tb, "seed-amd64", "amd64"), newImageFor(tb, "seed-arm64", "arm64")
	amdBlobs, amdDesc := amd.ociBlobs(tb, "gzip")
	armBlobs, armDesc := arm.ociBlobs(tb, "gzip")
	nested := []byte(indexJSON(tb, amdDesc, armDesc))
	top := descriptor(v1.MediaTypeImageIndex, nested)
	top.Annotations = map[string]string{manifest.AnnotationImageName: "docker.io/library/multi:1"}
	multi := append([]member{blob(nested), file("index.json", indexJSON(tb, top)), file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`)}, append(amdBlobs, armBlobs...)...)
	dir, _ := extract(tb, bytes.NewReader(mkTar(tb, multi...)), Options{})
	seeds["canonical multi-platform"] = tarDir(tb, dir)
	// a spoofed platform index (#28): an amd64 image listed as arm64, and
	// manifest.json naming the second platform
	fake := newImageFor(tb, "seed-fake", "amd64")
	seeds["raw multi-platform spoofed"] = mkTar(tb, multiLayout(tb, []testImage{amd, fake}, []*v1.Platform{nil, {OS: "linux", Architecture: "arm64"}}, 1)...)
	// an evidence folder (#22): a signed manifest and a signature image
	extra := evidenceFiles(amd.id)
	signed, _ := extract(tb, bytes.NewReader(mkTar(tb, multi...)), Options{Extra: extra})
	seeds["canonical multi-platform with evidence"] = tarDir(tb, signed)
	for name, data := range fuzzSeeds(tb) {
		if !strings.HasSuffix(name, ".gz") && !strings.HasSuffix(name, ".zst") {
			seeds["FuzzExtract "+name] = data
		}
	}
	return seeds
}

// FuzzOpenDir unpacks a tar stream into a directory (untarFuzz) and checks
// how OpenDir and Verify read it (checkImageDir): both return, whatever the
// directory holds; every path in a model OpenDir accepts is clean and
// relative, and each image's ID is the digest of its config file; and a
// directory Verify passes is one that loads: OpenDir accepts it, and each
// of its images WriteTar streams and Extract reads back as the same image.
func FuzzOpenDir(f *testing.F) {
	seeds := dirSeeds(f)
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		f.Add(seeds[name])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := filepath.Join(t.TempDir(), "img")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if untarFuzz(data, dir) {
			checkImageDir(t, dir)
		}
	})
}

// checkImageDir reads dir with OpenDir and Verify and checks that both
// return, that the model is sound (checkDirModel), that Verify fails where
// OpenDir does, and that a directory Verify passes holds images each of
// which WriteTar streams and Extract reads back as the same image.
func checkImageDir(t *testing.T, dir string) {
	var d *Dir
	var openErr error
	returns(t, "OpenDir", func() { d, openErr = OpenDir(dir) })
	returns(t, "ReadEvidence", func() { ReadEvidence(dir) })
	ctx, cancel := context.WithTimeout(t.Context(), fuzzDirDeadline)
	defer cancel()
	rep, err := Verify(ctx, dir, VerifyOptions{Jobs: 2})
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	meta, err := Verify(ctx, dir, VerifyOptions{MetadataOnly: true, Jobs: 2})
	if err != nil {
		t.Fatalf("Verify(MetadataOnly) = %v", err)
	}
	if openErr != nil {
		if rep.OK() || meta.OK() {
			t.Fatalf("OpenDir = %v, but Verify = %+v, MetadataOnly %+v, OK", openErr, rep, meta)
		}
		return
	}
	checkDirModel(t, d)
	if !rep.OK() {
		return
	}
	// A directory that verifies loads.
	if len(d.Images) == 0 {
		t.Fatalf("Verify = %+v, OK, but OpenDir found no image", rep)
	}
	for _, im := range d.Images {
		var buf bytes.Buffer
		var err error
		returns(t, "WriteTar", func() { _, err = d.WriteTar(&buf, im, im.RepoTags) })
		if err != nil {
			t.Fatalf("Verify = %+v, OK, but WriteTar(%s) = %v", rep, im.ID, err)
		}
		res, err := Extract(ctx, &buf, filepath.Join(t.TempDir(), "load"), Options{})
		if err != nil {
			t.Fatalf("Verify = %+v, OK, but Extract(WriteTar(%s)) = %v", rep, im.ID, err)
		}
		if len(res.Images) != 1 || res.Images[0].ID() != im.ID {
			t.Fatalf("Extract(WriteTar(%s)) images = %+v, want that one", im.ID, res.Images)
		}
	}
}

// checkDirModel checks what OpenDir read from d.Path: images whose paths
// are clean and relative, whose IDs are the digests of their config files,
// whose manifests match their digests, and which Select finds by ID.
func checkDirModel(t *testing.T, d *Dir) {
	for _, im := range d.Images {
		paths := []string{im.ConfigPath}
		for _, l := range im.Layers {
			paths = append(paths, l.Path)
		}
		for _, p := range paths {
			if q, err := manifest.CleanPath(p); err != nil || q != p {
				t.Errorf("OpenDir: image %s has path %q: CleanPath = %q, %v", im.ID, p, q, err)
			}
		}
		b, err := os.ReadFile(filepath.Join(d.Path, filepath.FromSlash(im.ConfigPath)))
		if err != nil {
			t.Errorf("OpenDir: image %s: config: %v", im.ID, err)
		} else if got := digest.FromBytes(b); got != im.ID || im.ConfigSize != int64(len(b)) {
			t.Errorf("OpenDir: image %s (%d bytes) has config %s of %d bytes, digest %s", im.ID, im.ConfigSize, im.ConfigPath, len(b), got)
		}
		if len(im.Layers) != len(im.Config.RootFS.DiffIDs) {
			t.Errorf("OpenDir: image %s has %d layers, %d diff_ids", im.ID, len(im.Layers), len(im.Config.RootFS.DiffIDs))
		}
		if im.ManifestDigest != "" && digest.FromBytes(im.Manifest) != im.ManifestDigest {
			t.Errorf("OpenDir: image %s: ManifestDigest %s is not the digest of Manifest %q", im.ID, im.ManifestDigest, im.Manifest)
		}
		if got, err := d.Select("", string(im.ID)); got != im {
			t.Errorf("Select(%q) = %v, %v, want that image", im.ID, got, err)
		}
	}
	if len(d.Images) == 1 {
		if got, err := d.Select("", ""); got != d.Images[0] {
			t.Errorf("Select of the only image = %v, %v", got, err)
		}
	}
}

// returns runs fn and fails the test if it has not returned after
// fuzzDirDeadline: a hang.
func returns(t *testing.T, name string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(fuzzDirDeadline):
		t.Fatalf("%s has not returned after %v", name, fuzzDirDeadline)
	}
}
