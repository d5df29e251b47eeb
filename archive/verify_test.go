package archive

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

// verifyCase damages a directory and says what Verify must find.
type verifyCase struct {
	name    string
	fixture string // extracted with Extract, or
	raw     bool   // unpacked with untar
	damage  func(tb testing.TB, dir, layer string)
	opts    VerifyOptions
	// status of the files that are not StatusOK, by path relative to dir;
	// "layer" stands for the image's layer file.
	status  map[string]Status
	problem string // a substring of Problems, "" for none
	ok      bool
}

func verifyCases() []verifyCase {
	notDigest := digest.FromString("not this").Encoded()
	return []verifyCase{
		{name: "canonical", fixture: "legacy.tar", ok: true},
		{name: "canonical gzip", fixture: "oci-gzip.tar", ok: true},
		{name: "raw legacy", fixture: "legacy.tar", raw: true, ok: true},
		{name: "raw oci", fixture: "oci.tar", raw: true, ok: true},
		{name: "raw oci gzip layer", fixture: "oci-gzip.tar", raw: true, ok: true},
		{
			name: "corrupt layer", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) { flipByte(tb, layer) },
			status: map[string]Status{"layer": StatusCorrupt},
		},
		{
			name: "corrupt compressed layer", fixture: "oci-gzip.tar", raw: true,
			damage: func(tb testing.TB, dir, layer string) { flipByte(tb, layer) },
			status: map[string]Status{"layer": StatusCorrupt},
		},
		{
			name: "missing layer", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) { remove(tb, layer) },
			status: map[string]Status{"layer": StatusMissing},
		},
		{
			name: "raw legacy missing layer", fixture: "legacy.tar", raw: true,
			damage: func(tb testing.TB, dir, layer string) { remove(tb, layer) },
			status: map[string]Status{"layer": StatusMissing},
		},
		{
			name: "dangling symlink layer", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) { danglingLink(tb, layer) },
			status: map[string]Status{"layer": StatusNotPresent},
		},
		{
			name: "annex pointer layer", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) { pointerFile(tb, layer) },
			status: map[string]Status{"layer": StatusNotPresent},
		},
		{
			name: "annexed layer present", fixture: "oci.tar", raw: true,
			damage: func(tb testing.TB, dir, layer string) { annexLink(tb, dir, layer) },
			ok:     true,
		},
		{
			name: "metadata only, dangling symlink layer", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) { danglingLink(tb, layer) },
			opts:   VerifyOptions{MetadataOnly: true},
			status: map[string]Status{"layer": StatusSkipped},
			ok:     true,
		},
		{
			name: "metadata only, raw dangling symlink layer", fixture: "oci-gzip.tar", raw: true,
			damage: func(tb testing.TB, dir, layer string) { danglingLink(tb, layer) },
			opts:   VerifyOptions{MetadataOnly: true},
			status: map[string]Status{"layer": StatusSkipped},
			ok:     true,
		},
		{
			name: "metadata only, corrupt layer", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) { flipByte(tb, layer) },
			opts:   VerifyOptions{MetadataOnly: true},
			status: map[string]Status{"layer": StatusSkipped},
			ok:     true,
		},
		{
			name: "metadata only, corrupt manifest.json", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) { putFile(tb, dir, "manifest.json", "null") },
			opts:   VerifyOptions{MetadataOnly: true},
			// Without a model no file is known to be a layer: blobs that
			// could be JSON (at most manifest.MaxJSON bytes) are hashed.
			problem: "manifest.json",
		},
		{
			name: "unreferenced blob not its digest", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) {
				putFile(tb, dir, "blobs/sha256/"+notDigest, "something else")
			},
			status: map[string]Status{"blobs/sha256/" + notDigest: StatusCorrupt},
		},
		{
			name: "unreferenced blob not named by a digest", fixture: "legacy.tar",
			damage:  func(tb testing.TB, dir, layer string) { putFile(tb, dir, "blobs/sha256/README", "x") },
			problem: "blobs/sha256/README",
		},
		{
			name: "manifest.json null", fixture: "legacy.tar",
			damage:  func(tb testing.TB, dir, layer string) { putFile(tb, dir, "manifest.json", "null") },
			problem: "manifest.json",
		},
		{
			name: "raw legacy manifest.json null", fixture: "legacy.tar", raw: true,
			damage:  func(tb testing.TB, dir, layer string) { putFile(tb, dir, "manifest.json", "null") },
			problem: "manifest.json",
		},
		{
			// #7: verify used to pass this directory that load refuses.
			name: "gzipped layer renamed, index.json removed", fixture: "legacy.tar",
			damage:  func(tb testing.TB, dir, layer string) { gzipLayerRenamed(tb, dir) },
			problem: "no manifest in index.json describes it",
		},
		{
			name: "OCI layout without manifest.json", fixture: "oci-gzip.tar",
			damage: func(tb testing.TB, dir, layer string) { remove(tb, filepath.Join(dir, "manifest.json")) },
			ok:     true,
		},
		{
			name: "raw OCI layout without manifest.json, gzip layer", fixture: "oci-gzip.tar", raw: true,
			damage: func(tb testing.TB, dir, layer string) { remove(tb, filepath.Join(dir, "manifest.json")) },
			ok:     true,
		},
		// #8: files that are not plain are refused without blocking, each
		// with its own word; nothing outside the directory is read.
		{
			name: "layer is a fifo", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) {
				replaceWith(tb, layer, func(p string) error { return mkfifo(p, 0o644) })
			},
			status: map[string]Status{"layer": StatusNotRegular},
		},
		{
			name: "layer is a folder", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) {
				replaceWith(tb, layer, func(p string) error { return os.Mkdir(p, 0o755) })
			},
			status: map[string]Status{"layer": StatusNotRegular},
		},
		{
			name: "layer links to a fifo", fixture: "legacy.tar", raw: true,
			damage: func(tb testing.TB, dir, layer string) {
				if err := mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
					tb.Fatal(err)
				}
				replaceWith(tb, layer, func(p string) error { return os.Symlink(filepath.Join(dir, "fifo"), p) })
			},
			status: map[string]Status{"layer": StatusNotRegular},
		},
		{
			name: "layer links outside the directory", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) {
				secret := filepath.Join(filepath.Dir(dir), "secret")
				putFile(tb, filepath.Dir(dir), "secret", "not for the engine")
				replaceWith(tb, layer, func(p string) error { return os.Symlink(secret, p) })
			},
			status: map[string]Status{"layer": StatusOutside},
		},
		{
			name: "layer links into another repository's annex", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) {
				b, err := os.ReadFile(layer)
				if err != nil {
					tb.Fatal(err)
				}
				obj := filepath.Join(tb.TempDir(), ".git", "annex", "objects", "Xx", "Yy", "K", "K")
				if err := os.MkdirAll(filepath.Dir(obj), 0o755); err != nil {
					tb.Fatal(err)
				}
				if err := os.WriteFile(obj, b, 0o444); err != nil {
					tb.Fatal(err)
				}
				replaceWith(tb, layer, func(p string) error { return os.Symlink(obj, p) })
			},
			status: map[string]Status{"layer": StatusOutside},
		},
		{
			name: "layer is a link loop", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) {
				replaceWith(tb, layer, func(p string) error { return os.Symlink(filepath.Base(p), p) })
			},
			status: map[string]Status{"layer": StatusLinkLoop},
		},
		{
			name: "manifest.json over the size limit", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) {
				putFile(tb, dir, "manifest.json", strings.Repeat(" ", manifest.MaxJSON+1))
			},
			status:  map[string]Status{"manifest.json": StatusTooLarge},
			problem: "too large",
		},
		{
			name: "no manifests", fixture: "legacy.tar",
			damage: func(tb testing.TB, dir, layer string) {
				remove(tb, filepath.Join(dir, "manifest.json"))
				remove(tb, filepath.Join(dir, "index.json"))
			},
			problem: "not an image directory",
		},
	}
}

// replaceWith removes the file at p and makes something else there.
func replaceWith(tb testing.TB, p string, mk func(string) error) {
	tb.Helper()
	remove(tb, p)
	if err := mk(p); err != nil {
		tb.Fatal(err)
	}
}

func remove(tb testing.TB, p string) {
	tb.Helper()
	if err := os.Remove(p); err != nil {
		tb.Fatal(err)
	}
}

// putFile replaces or adds the file rel of dir.
func putFile(tb testing.TB, dir, rel, data string) {
	tb.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	os.Remove(p)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// verifyDir makes the directory of tc and returns it and the paths of its
// layer and config relative to it.
func verifyDir(tb testing.TB, tc verifyCase) (dir, layer, config string) {
	tb.Helper()
	if tc.raw {
		dir = rawDir(tb, tc.fixture)
	} else {
		dir, _ = canonicalDir(tb, tc.fixture)
	}
	_, im := openOne(tb, dir)
	layer, config = im.Layers[0].Path, im.ConfigPath
	if tc.damage != nil {
		tc.damage(tb, dir, filepath.Join(dir, filepath.FromSlash(layer)))
	}
	return dir, layer, config
}

func TestVerify(t *testing.T) {
	for _, tc := range verifyCases() {
		t.Run(tc.name, func(t *testing.T) {
			dir, layer, config := verifyDir(t, tc)
			want := map[string]Status{}
			for p, s := range tc.status {
				if p == "layer" {
					p = layer
				}
				want[p] = s
			}
			rep, err := Verify(t.Context(), dir, tc.opts)
			if err != nil {
				t.Fatalf("Verify(%s) = %v", tc.name, err)
			}
			if got := rep.OK(); got != tc.ok {
				t.Errorf("Verify(%s).OK() = %v, want %v (report %+v)", tc.name, got, tc.ok, rep)
			}
			problems := strings.Join(rep.Problems, "\n")
			if tc.problem == "" && len(rep.Problems) > 0 || !strings.Contains(problems, tc.problem) {
				t.Errorf("Verify(%s).Problems = %q, want %q", tc.name, rep.Problems, tc.problem)
			}

			got := map[string]FileReport{}
			for _, f := range rep.Files {
				if _, dup := got[f.Path]; dup {
					t.Errorf("Verify(%s) reports %s twice", tc.name, f.Path)
				}
				got[f.Path] = f
				w, ok := want[f.Path]
				if !ok {
					w = StatusOK
				}
				if f.Status != w {
					t.Errorf("Verify(%s) file %s = %s, want %s", tc.name, f.Path, f.Status, w)
				}
				if f.Status == StatusOK && (f.Got == "" || f.Want != "" && f.Got != f.Want || f.Size <= 0) {
					t.Errorf("Verify(%s) file %+v: ok without a matching digest and a size", tc.name, f)
				}
			}
			for p := range want {
				if _, ok := got[p]; !ok {
					t.Errorf("Verify(%s) does not report %s, want %s", tc.name, p, want[p])
				}
			}

			// Every file manifests name, and every blob, is checked, and
			// nothing that is not one.
			wantPaths := []string{layer, config}
			if tc.problem != "" {
				return // a damaged manifest hides what it names
			}
			for _, name := range []string{"manifest.json", "index.json"} {
				if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
					wantPaths = append(wantPaths, name)
				}
			}
			blobs, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
			for _, b := range blobs {
				if _, ok := manifest.DigestFromPath("blobs/sha256/" + b.Name()); ok {
					wantPaths = append(wantPaths, "blobs/sha256/"+b.Name())
				}
			}
			slices.Sort(wantPaths)
			wantPaths = slices.Compact(wantPaths)
			gotPaths := slices.Sorted(maps.Keys(got))
			if !slices.Equal(gotPaths, wantPaths) {
				t.Errorf("Verify(%s) checked %q, want %q", tc.name, gotPaths, wantPaths)
			}
		})
	}
}

// TestVerifyCorruptDigests pins what a corrupt file's report says: the
// digest found and the digest its name or config states.
func TestVerifyCorruptDigests(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		raw     bool
	}{
		{name: "canonical", fixture: "legacy.tar"},
		{name: "raw legacy", fixture: "legacy.tar", raw: true},
		{name: "raw oci gzip layer", fixture: "oci-gzip.tar", raw: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, layer, _ := verifyDir(t, verifyCase{fixture: tc.fixture, raw: tc.raw})
			_, im := openOne(t, dir)
			p := filepath.Join(dir, filepath.FromSlash(layer))
			flipByte(t, p)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(t.Context(), dir, VerifyOptions{})
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			i := slices.IndexFunc(rep.Files, func(f FileReport) bool { return f.Path == layer })
			if i < 0 {
				t.Fatalf("Verify(%s) = %+v, want %s reported", tc.name, rep.Files, layer)
			}
			want := FileReport{Path: layer, Kind: "layer", Status: StatusCorrupt, Want: im.Layers[0].Digest, Got: digest.FromBytes(b), Size: int64(len(b)), WantSize: int64(len(b))}
			if got := rep.Files[i]; got != want {
				t.Errorf("Verify(%s) layer = %+v, want %+v", tc.name, got, want)
			}
		})
	}
}

// TestVerifyJobs checks that hashing in parallel changes nothing in the
// report.
func TestVerifyJobs(t *testing.T) {
	for _, tc := range verifyCases() {
		t.Run(tc.name, func(t *testing.T) {
			dir, _, _ := verifyDir(t, tc)
			var reps []*Report
			for _, jobs := range []int{1, 8, 0} {
				opts := tc.opts
				opts.Jobs = jobs
				rep, err := Verify(t.Context(), dir, opts)
				if err != nil {
					t.Fatalf("Verify(%s, Jobs: %d) = %v", tc.name, jobs, err)
				}
				reps = append(reps, rep)
			}
			for i, jobs := range []int{8, 0} {
				if !reflect.DeepEqual(reps[i+1], reps[0]) {
					t.Errorf("Verify(%s, Jobs: %d) = %+v, want %+v as with Jobs: 1", tc.name, jobs, reps[i+1], reps[0])
				}
			}
		})
	}
}

func TestVerifyNotADirectory(t *testing.T) {
	dir := t.TempDir()
	putFile(t, dir, "f", "x")
	for _, p := range []string{filepath.Join(dir, "f"), filepath.Join(dir, "absent")} {
		if rep, err := Verify(t.Context(), p, VerifyOptions{}); err == nil {
			t.Errorf("Verify(%q) = %+v, nil, want an error", p, rep)
		}
	}
}

// TestVerifyImage checks one image's files only (VerifyOptions.Image): its
// corrupt layer fails, and a stray corrupt blob beside it, which a whole
// directory's verification reports, is not read.
func TestVerifyImage(t *testing.T) {
	dir, _ := canonicalDir(t, "oci.tar")
	_, im := openOne(t, dir)
	putFile(t, dir, "blobs/sha256/"+strings.Repeat("0", 64), "stray")
	rep, err := Verify(t.Context(), dir, VerifyOptions{Image: im})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify(Image) = %+v, %v; want OK, the stray blob unread", rep, err)
	}
	if n := len(rep.Files); n != len(im.Layers)+4 {
		t.Errorf("Verify(Image) read %d files, want index.json, manifest.json, the config, %d layers and the manifest: %+v", n, len(im.Layers), rep.Files)
	}
	if whole, err := Verify(t.Context(), dir, VerifyOptions{}); err != nil || whole.OK() {
		t.Fatalf("Verify(whole) = %v, %v; want the stray blob reported", whole.OK(), err)
	}
	p := filepath.Join(dir, filepath.FromSlash(im.Layers[0].Path))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	putFile(t, dir, im.Layers[0].Path, string(b))
	rep, err = Verify(t.Context(), dir, VerifyOptions{Image: im})
	if err != nil || rep.OK() {
		t.Fatalf("Verify(Image) of a corrupt layer = %v, %v; want not OK", rep.OK(), err)
	}
}

// multiLayout is the members of an OCI layout holding images as the
// platforms of one image: index.json names a nested index that lists each
// image's manifest with the platform given for it (nil: the config's).
// With docker, manifest.json lists the image at that position alone.
func multiLayout(tb testing.TB, images []testImage, platforms []*v1.Platform, docker int) []member {
	tb.Helper()
	var ms []member
	var descs []v1.Descriptor
	for i, im := range images {
		blobs, d := im.ociBlobs(tb, "")
		if i < len(platforms) && platforms[i] != nil {
			d.Platform = platforms[i]
		}
		ms = append(ms, blobs...)
		descs = append(descs, d)
	}
	nested := []byte(indexJSON(tb, descs...))
	top := descriptor(v1.MediaTypeImageIndex, nested)
	top.Annotations = map[string]string{manifest.AnnotationImageName: "docker.io/library/multi:1", v1.AnnotationRefName: "1"}
	ms = append(ms, blob(nested), file("index.json", indexJSON(tb, top)), file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`))
	if docker >= 0 {
		im := images[docker]
		ms = append(ms, file("manifest.json", mustJSON(tb, []manifest.Entry{{Config: manifest.BlobPath(im.id), RepoTags: []string{"multi:1"}, Layers: []string{manifest.BlobPath(im.diffID)}}})))
	}
	return ms
}

// TestVerifyPlatformLies: an index entry whose platform is not its
// config's, and a manifest.json naming another platform than the index's
// first, are problems naming the file and the entry (#28). Engines,
// skopeo and containerd pick by those fields, and `docker load` of the
// folder by manifest.json.
func TestVerifyPlatformLies(t *testing.T) {
	amd, arm := newImageFor(t, "lie-amd64", "amd64"), newImageFor(t, "lie-arm64", "arm64")
	fake := newImageFor(t, "lie-fake", "amd64") // an amd64 image passed off as arm64
	nested := func(ms []member) string {
		for _, m := range ms {
			if strings.HasPrefix(m.name, "blobs/") && strings.Contains(m.body, v1.MediaTypeImageIndex) {
				return m.name
			}
		}
		return "index.json"
	}
	arm64 := &v1.Platform{OS: "linux", Architecture: "arm64"}
	// index.json listing the platforms' manifests itself, no nested index
	amdBlobs, amdDesc := amd.ociBlobs(t, "")
	fakeBlobs, fakeDesc := fake.ociBlobs(t, "")
	fakeDesc.Platform = arm64
	flat := append(append([]member{file("index.json", indexJSON(t, amdDesc, fakeDesc)), file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`)}, amdBlobs...), fakeBlobs...)
	tests := []struct {
		name    string
		ms      []member
		problem string // "" for none
	}{
		{name: "honest", ms: multiLayout(t, []testImage{amd, arm}, nil, 0)},
		{name: "honest without manifest.json", ms: multiLayout(t, []testImage{amd, arm}, nil, -1)},
		{name: "arm64 v8 entry, config without variant", ms: multiLayout(t, []testImage{amd, arm}, []*v1.Platform{nil, {OS: "linux", Architecture: "arm64", Variant: "v8"}}, 0)},
		{
			name:    "spoofed entry",
			ms:      multiLayout(t, []testImage{amd, fake}, []*v1.Platform{nil, arm64}, 0),
			problem: "manifests[1] says linux/arm64, its config says linux/amd64",
		},
		{
			name:    "spoofed entry without manifest.json",
			ms:      multiLayout(t, []testImage{amd, fake}, []*v1.Platform{nil, arm64}, -1),
			problem: "manifests[1] says linux/arm64, its config says linux/amd64",
		},
		{
			name:    "spoofed entry of index.json",
			ms:      flat,
			problem: "index.json: manifests[1] says linux/arm64, its config says linux/amd64",
		},
		{
			name:    "spoofed first entry",
			ms:      multiLayout(t, []testImage{arm, amd}, []*v1.Platform{{OS: "linux", Architecture: "amd64"}, arm64}, 0),
			problem: "manifests[0] says linux/amd64, its config says linux/arm64",
		},
		{
			name:    "a megabyte of os, cut short",
			ms:      multiLayout(t, []testImage{amd, fake}, []*v1.Platform{nil, {OS: strings.Repeat("x", 1<<20), Architecture: "arm64"}}, 0),
			problem: "manifests[1] says " + strings.Repeat("x", 64) + "…, its config says linux/amd64",
		},
		{
			name:    "manifest.json names the second platform",
			ms:      multiLayout(t, []testImage{amd, arm}, nil, 1),
			problem: "manifest.json: [0] names linux/arm64 (config " + string(arm.id) + "), not linux/amd64, which",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			untar(t, mkTar(t, tc.ms...), dir)
			rep, err := Verify(t.Context(), dir, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			problems := strings.Join(rep.Problems, "\n")
			switch {
			case tc.problem == "" && (!rep.OK() || problems != ""):
				t.Errorf("Verify = OK %v, problems %q; want OK", rep.OK(), rep.Problems)
			case tc.problem != "" && (rep.OK() || !strings.Contains(problems, tc.problem)):
				t.Errorf("Verify = OK %v, problems %q; want %q", rep.OK(), rep.Problems, tc.problem)
			case tc.problem != "" && strings.Contains(tc.problem, "manifests[") && !strings.Contains(problems, nested(tc.ms)+": manifests["):
				t.Errorf("Verify problems %q, want them to name the nested index %s", rep.Problems, nested(tc.ms))
			}
		})
	}
}

// TestPlatformListingsBounded: a directory of 400 platforms that lie about
// themselves, and a platform it does not hold asked of it, give bounded
// messages: 8 platforms named, then how many more (#28; the error was one
// line of 6 KB).
func TestPlatformListingsBounded(t *testing.T) {
	var images []testImage
	var claims []*v1.Platform
	for i := range 400 {
		images = append(images, newImageFor(t, fmt.Sprintf("many-%d", i), fmt.Sprintf("arch%03d", i)))
		claims = append(claims, &v1.Platform{OS: "linux", Architecture: fmt.Sprintf("arch%03d", (i+1)%400)})
	}
	dir := t.TempDir()
	untar(t, mkTar(t, multiLayout(t, images, claims, 0)...), dir)
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.SelectPlatform("", "", "linux/s390x", nil)
	if !errors.Is(err, ErrPlatform) || len(err.Error()) > 600 || !strings.Contains(err.Error(), "and 392 more") {
		t.Errorf("SelectPlatform of a platform not there: %d bytes: %.300q..., want ErrPlatform, at most 600 bytes, ending in \"and 392 more\"", len(err.Error()), err)
	}
	_, err = d.SelectPlatform("nothere:1", "", "", nil)
	if !errors.Is(err, ErrSelect) || len(err.Error()) > 1200 || !strings.Contains(err.Error(), "and 392 more") {
		t.Errorf("SelectPlatform of a tag not there: %d bytes: %.300q..., want ErrSelect, at most 1200 bytes, ending in \"and 392 more\"", len(err.Error()), err)
	}
	_, err = d.SelectPlatform("", "", "", func() (string, error) { return "linux/s390x", nil })
	if !errors.Is(err, ErrPlatform) || len(err.Error()) > 700 || !strings.Contains(err.Error(), "and 392 more") {
		t.Errorf("SelectPlatform for an engine of another platform: %d bytes: %.300q..., want ErrPlatform, at most 700 bytes", len(err.Error()), err)
	}
	rep, err := Verify(t.Context(), dir, VerifyOptions{MetadataOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Problems) > 10 || !strings.Contains(strings.Join(rep.Problems, "\n"), "392 more") {
		t.Errorf("Verify of 400 lying entries: %d problems %.600q; want not OK, at most 10 lines, the rest counted", len(rep.Problems), rep.Problems)
	}
	for _, p := range rep.Problems {
		if len(p) > 600 {
			t.Errorf("Verify problem of %d bytes: %.300q...", len(p), p)
		}
	}
}
