package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

// member is one tar entry for mkTar.
type member struct {
	name string
	body string
	typ  byte   // tar.TypeReg when zero
	link string // Linkname of a link
	mode int64  // 0o644, or 0o755 for a folder, when zero
}

func file(name, body string) member { return member{name: name, body: body} }
func folder(name string) member     { return member{name: name, typ: tar.TypeDir} }
func symlink(name, target string) member {
	return member{name: name, typ: tar.TypeSymlink, link: target}
}

// writeMembers writes ms to tw as `docker save` would.
func writeMembers(tb testing.TB, tw *tar.Writer, ms []member) {
	tb.Helper()
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Typeflag: m.typ, Linkname: m.link, Mode: m.mode, Size: int64(len(m.body)), ModTime: time.Unix(1700000000, 0)}
		switch {
		case h.Typeflag == 0:
			h.Typeflag = tar.TypeReg
		case h.Typeflag != tar.TypeReg:
			h.Size = 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatalf("WriteHeader(%q): %v", m.name, err)
		}
		if _, err := io.WriteString(tw, m.body); err != nil && h.Size > 0 {
			tb.Fatalf("writing %q: %v", m.name, err)
		}
	}
}

// mkTar returns a tar stream of ms, with the end-of-archive blocks.
func mkTar(tb testing.TB, ms ...member) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	writeMembers(tb, tw, ms)
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// mkTarOpen returns a tar stream of ms without the end-of-archive blocks,
// for streams cut short or continued by hand.
func mkTarOpen(tb testing.TB, ms ...member) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	writeMembers(tb, tw, ms)
	if err := tw.Flush(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// hugeTar streams the members before, then a regular file name of size
// bytes whose content (zeros) is made only as it is read, then the members
// after: an oversized file costs no memory in the test.
func hugeTar(tb testing.TB, before []member, name string, size int64, after []member) io.Reader {
	tb.Helper()
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		tb.Fatal(err)
	}
	pad := (512 - size%512) % 512
	return io.MultiReader(
		bytes.NewReader(mkTarOpen(tb, before...)),
		bytes.NewReader(hdr.Bytes()),
		io.LimitReader(zeros{}, size+pad),
		bytes.NewReader(mkTar(tb, after...)),
	)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func gz(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func zst(tb testing.TB, b []byte) []byte {
	tb.Helper()
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		tb.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// blob is the OCI layout member holding b.
func blob(b []byte) member {
	return file(manifest.BlobPath(digest.FromBytes(b)), string(b))
}

func descriptor(mt string, b []byte) v1.Descriptor {
	return v1.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

// testImage is a minimal valid image: one layer, and a config whose
// rootfs.diff_ids names it.
type testImage struct {
	layer  []byte // uncompressed layer tar
	diffID digest.Digest
	config []byte
	id     digest.Digest // the config's digest
	tag    string
	arch   string
}

func newImage(tb testing.TB, seed string) testImage {
	return newImageFor(tb, seed, "amd64")
}

func newImageFor(tb testing.TB, seed, arch string) testImage {
	tb.Helper()
	layer := mkTar(tb, folder("etc/"), file("etc/hello", "hello "+seed+"\n"), member{name: "bin/su", body: "#!/bin/sh\n", mode: 0o4755})
	im := testImage{layer: layer, diffID: digest.FromBytes(layer), tag: "imgsave-test/" + seed + ":1", arch: arch}
	im.config = []byte(mustJSON(tb, map[string]any{
		"architecture": arch, "os": "linux",
		"config": map[string]any{"Cmd": []string{"/bin/sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{im.diffID}},
	}))
	im.id = digest.FromBytes(im.config)
	return im
}

// layerID is the folder name of the layer in a legacy save.
func (im testImage) layerID() string {
	return digest.FromString("layer " + string(im.diffID)).Encoded()
}

func (im testImage) dockerManifest(tb testing.TB, config string, layers ...string) member {
	return file("manifest.json", mustJSON(tb, []manifest.Entry{{Config: config, RepoTags: []string{im.tag}, Layers: layers}}))
}

// legacy returns the members of a legacy `docker save` (before Docker 25).
func (im testImage) legacy(tb testing.TB) []member {
	tb.Helper()
	id := im.layerID()
	name, tag, _ := strings.Cut(im.tag, ":")
	return []member{
		folder(id + "/"),
		file(id+"/VERSION", "1.0"),
		file(id+"/json", `{"id":"`+id+`"}`),
		file(id+"/layer.tar", string(im.layer)),
		file(im.id.Encoded()+".json", string(im.config)),
		im.dockerManifest(tb, im.id.Encoded()+".json", id+"/layer.tar"),
		file("repositories", mustJSON(tb, map[string]map[string]string{name: {tag: id}})),
	}
}

// compressLayer returns the layer as an OCI save stores it, and its media
// type.
func (im testImage) compressLayer(tb testing.TB, comp string) ([]byte, string) {
	switch comp {
	case "gzip":
		return gz(tb, im.layer), v1.MediaTypeImageLayerGzip
	case "zstd":
		return zst(tb, im.layer), v1.MediaTypeImageLayerZstd
	}
	return im.layer, v1.MediaTypeImageLayer
}

// ociBlobs returns the blobs of the image in an OCI layout (its layer
// compressed with comp: "gzip", "zstd" or "") and its manifest's descriptor.
func (im testImage) ociBlobs(tb testing.TB, comp string) ([]member, v1.Descriptor) {
	tb.Helper()
	layer, mt := im.compressLayer(tb, comp)
	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: descriptor(v1.MediaTypeImageConfig, im.config), Layers: []v1.Descriptor{descriptor(mt, layer)}}
	m.SchemaVersion = 2
	mb := []byte(mustJSON(tb, m))
	d := descriptor(v1.MediaTypeImageManifest, mb)
	d.Platform = &v1.Platform{OS: "linux", Architecture: im.arch}
	return []member{blob(mb), blob(im.config), blob(layer)}, d
}

// oci returns the members of an OCI `docker save` (Docker 25 and later),
// with manifest.json when docker is set (podman's oci-archive has none).
func (im testImage) oci(tb testing.TB, comp string, docker bool) []member {
	tb.Helper()
	blobs, d := im.ociBlobs(tb, comp)
	ref, err := manifest.ParseReference(im.tag)
	if err != nil {
		tb.Fatal(err)
	}
	d.Platform = nil
	d.Annotations = map[string]string{manifest.AnnotationImageName: ref.Full(), v1.AnnotationRefName: ref.Tag()}
	ms := append([]member{folder("blobs/"), folder("blobs/sha256/")}, blobs...)
	ms = append(ms, file("index.json", indexJSON(tb, d)), file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`))
	if docker {
		layer, _ := im.compressLayer(tb, comp)
		ms = append(ms, im.dockerManifest(tb, manifest.BlobPath(im.id), manifest.BlobPath(digest.FromBytes(layer))))
	}
	return ms
}

func indexJSON(tb testing.TB, ds ...v1.Descriptor) string {
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: ds}
	idx.SchemaVersion = 2
	return mustJSON(tb, idx)
}

// node is a file or folder of an extracted tree.
type node struct {
	mode fs.FileMode
	data string
}

// readTree maps each path below dir ("" for dir itself, a trailing slash
// for folders) to its mode and content, and fails on anything but regular
// files and folders.
func readTree(tb testing.TB, dir string) map[string]node {
	tb.Helper()
	tree := make(map[string]node)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			if rel == "." {
				rel = ""
			} else {
				rel += "/"
			}
			tree[rel] = node{mode: fi.Mode()}
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			tree[rel] = node{mode: fi.Mode(), data: string(b)}
		default:
			return fmt.Errorf("%s: mode %v, want a regular file or folder", p, fi.Mode())
		}
		if !fi.ModTime().Equal(modTime) {
			return fmt.Errorf("%s: modified %v, want %v", p, fi.ModTime(), modTime)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return tree
}

func names(tree map[string]node) []string {
	var out []string
	for name := range tree {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// diffTrees describes how got differs from want, or returns "".
func diffTrees(got, want map[string]node) string {
	var b strings.Builder
	for _, name := range names(want) {
		g, ok := got[name]
		switch w := want[name]; {
		case !ok:
			fmt.Fprintf(&b, "missing %q\n", name)
		case g.mode != w.mode:
			fmt.Fprintf(&b, "%q: mode %v, want %v\n", name, g.mode, w.mode)
		case g.data != w.data:
			fmt.Fprintf(&b, "%q: content %.80q, want %.80q\n", name, g.data, w.data)
		}
	}
	for _, name := range names(got) {
		if _, ok := want[name]; !ok {
			fmt.Fprintf(&b, "unexpected %q\n", name)
		}
	}
	return b.String()
}

// extract runs Extract on r into a new folder and returns its path.
func extract(tb testing.TB, r io.Reader, opts Options) (string, *Result) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "target")
	res, err := Extract(tb.Context(), r, dir, opts)
	if err != nil {
		tb.Fatalf("Extract: %v", err)
	}
	return dir, res
}

// checkLayout checks that dir is the canonical layout of images (in order)
// and that every blob is named by its content's digest.
func checkLayout(tb testing.TB, dir string, res *Result, images ...testImage) map[string]node {
	tb.Helper()
	tree := readTree(tb, dir)
	want := []string{"", ".gitattributes", "blobs/", "blobs/sha256/", "index.json", "manifest.json", "oci-layout"}
	for _, im := range images {
		want = append(want, manifest.BlobPath(im.id), manifest.BlobPath(im.diffID))
	}
	for _, d := range res.Manifests {
		want = append(want, manifest.BlobPath(d))
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if got := names(tree); !slices.Equal(got, want) {
		tb.Errorf("Extract wrote %q, want %q", got, want)
	}
	for name, n := range tree {
		wantMode := fs.FileMode(0o644)
		if name == "" || strings.HasSuffix(name, "/") {
			wantMode = fs.ModeDir | 0o755
		}
		if n.mode != wantMode {
			tb.Errorf("%q: mode %v, want %v", name, n.mode, wantMode)
		}
		if d, ok := manifest.DigestFromPath(name); ok && d != digest.FromString(n.data) {
			tb.Errorf("%q holds content with digest %s", name, digest.FromString(n.data))
		}
	}
	for _, im := range images {
		if got := tree[manifest.BlobPath(im.diffID)].data; got != string(im.layer) {
			tb.Errorf("layer blob %s is not the uncompressed layer (%d bytes, want %d)", im.diffID, len(got), len(im.layer))
		}
		if got := tree[manifest.BlobPath(im.id)].data; got != string(im.config) {
			tb.Errorf("config blob = %q, want %q", got, im.config)
		}
	}
	entries, err := manifest.ParseDocker(strings.NewReader(tree["manifest.json"].data))
	if err != nil {
		tb.Fatalf("manifest.json: %v", err)
	}
	if len(entries) != len(images) || len(res.Images) != len(images) || len(res.Manifests) != len(images) {
		tb.Fatalf("manifest.json = %+v, Result = %+v, want %d images", entries, res, len(images))
	}
	for i, im := range images {
		e := entries[i]
		if e.Config != manifest.BlobPath(im.id) || !slices.Equal(e.Layers, []string{manifest.BlobPath(im.diffID)}) || !slices.Equal(e.RepoTags, []string{im.tag}) {
			tb.Errorf("manifest.json image %d = %+v, want config %s, layer %s, tag %s", i, e, im.id, im.diffID, im.tag)
		}
		if res.Images[i].ID() != im.id {
			tb.Errorf("Result.Images[%d].ID() = %s, want %s", i, res.Images[i].ID(), im.id)
		}
		if _, ok := tree[manifest.BlobPath(res.Manifests[i])]; !ok {
			tb.Errorf("Result.Manifests[%d] = %s, not in blobs/", i, res.Manifests[i])
		}
	}
	return tree
}

// failCase is an archive Extract must refuse.
type failCase struct {
	name    string
	data    []byte    // the stream, or
	r       io.Reader // a stream made lazily
	refused bool      // errors.Is(err, ErrRefused)
	entry   string    // named, quoted, in the error
	is      error     // errors.Is(err, is)
}

// testFails runs each case through mustFail.
func testFails(t *testing.T, tests []failCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			if r == nil {
				r = bytes.NewReader(tc.data)
			}
			err := mustFail(t, r, Options{})
			t.Logf("Extract = %v", err)
			if tc.refused && !errors.Is(err, ErrRefused) {
				t.Errorf("Extract = %v, want %v", err, ErrRefused)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Extract = %v, want %v", err, tc.is)
			}
			if q := fmt.Sprintf("%q", tc.entry); tc.entry != "" && !strings.Contains(err.Error(), q) {
				t.Errorf("Extract = %v, want it to name %s", err, q)
			}
		})
	}
}

// mustFail runs Extract on r into outer/parent/target, checks that it fails
// leaving no target, no staging folder and nothing else in outer, and
// returns the error.
func mustFail(tb testing.TB, r io.Reader, opts Options) error {
	tb.Helper()
	outer := tb.TempDir()
	parent := filepath.Join(outer, "parent")
	if err := os.Mkdir(parent, 0o755); err != nil {
		tb.Fatal(err)
	}
	target := filepath.Join(parent, "target")
	res, err := Extract(tb.Context(), r, target, opts)
	if err == nil {
		tb.Fatalf("Extract = %+v, nil, want an error", res)
	}
	if res != nil {
		tb.Errorf("Extract = %+v, %v, want a nil Result", res, err)
	}
	if _, serr := os.Lstat(target); !errors.Is(serr, fs.ErrNotExist) {
		tb.Errorf("after Extract = %v: target exists (%v)", err, serr)
	}
	checkEntries(tb, parent)
	checkEntries(tb, outer, "parent")
	return err
}

// checkEntries checks that dir holds exactly the names want.
func checkEntries(tb testing.TB, dir string, want ...string) {
	tb.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var got []string
	for _, de := range des {
		got = append(got, de.Name())
	}
	if !slices.Equal(got, want) {
		tb.Errorf("%s holds %q, want %q", dir, got, want)
	}
}
