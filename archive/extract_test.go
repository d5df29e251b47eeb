package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

// TestExtractLayouts pins that every form of the same image gives the same
// bytes: the canonical layout depends on the image, not on the engine or
// the compression that carried it.
func TestExtractLayouts(t *testing.T) {
	im := newImage(t, "layouts")
	legacy := mkTar(t, im.legacy(t)...)
	tests := []struct {
		name string
		data []byte
		opts Options
	}{
		{name: "legacy", data: legacy},
		{name: "legacy gzip", data: gz(t, legacy)},
		{name: "legacy zstd", data: zst(t, legacy)},
		{name: "legacy with ./ names", data: mkTar(t, prefixed(im.legacy(t))...)},
		{name: "legacy with a root folder", data: mkTar(t, append([]member{folder("./")}, im.legacy(t)...)...)},
		{name: "oci uncompressed layer", data: mkTar(t, im.oci(t, "", true)...)},
		{name: "oci gzip layer", data: mkTar(t, im.oci(t, "gzip", true)...)},
		{name: "oci zstd layer", data: mkTar(t, im.oci(t, "zstd", true)...)},
		{name: "oci gzip layer, gzip", data: gz(t, mkTar(t, im.oci(t, "gzip", true)...))},
		{name: "oci zstd layer, zstd", data: zst(t, mkTar(t, im.oci(t, "zstd", true)...))},
		{name: "oci without manifest.json", data: mkTar(t, im.oci(t, "gzip", false)...)},
		{name: "legacy, members reversed", data: mkTar(t, reversed(im.legacy(t))...)},
		// Scratch skips the syncs and nothing else: the same tree.
		{name: "legacy, scratch", data: legacy, opts: Options{Scratch: true}},
		{name: "oci gzip layer, scratch", data: mkTar(t, im.oci(t, "gzip", true)...), opts: Options{Scratch: true}},
	}
	var want map[string]node
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, res := extract(t, bytes.NewReader(tc.data), tc.opts)
			tree := checkLayout(t, dir, res, im)
			if len(res.Dropped) != 0 {
				t.Errorf("Result.Dropped = %q, want none", res.Dropped)
			}
			if want == nil {
				want = tree
				return
			}
			if d := diffTrees(tree, want); d != "" {
				t.Errorf("Extract(%s) differs from Extract(%s):\n%s", tc.name, tests[0].name, d)
			}
		})
	}
}

func prefixed(ms []member) []member {
	out := slices.Clone(ms)
	for i := range out {
		out[i].name = "./" + out[i].name
	}
	return out
}

func reversed(ms []member) []member {
	out := slices.Clone(ms)
	slices.Reverse(out)
	return out
}

// TestExtractTwoImages extracts a save of two images, which share nothing.
func TestExtractTwoImages(t *testing.T) {
	a, b := newImage(t, "a"), newImage(t, "b")
	ms := slices.DeleteFunc(a.legacy(t), func(m member) bool { return m.name == "manifest.json" || m.name == "repositories" })
	ms = append(ms, slices.DeleteFunc(b.legacy(t), func(m member) bool { return m.name == "manifest.json" || m.name == "repositories" })...)
	ms = append(ms, file("manifest.json", mustJSON(t, []manifest.Entry{
		{Config: a.id.Encoded() + ".json", RepoTags: []string{a.tag}, Layers: []string{a.layerID() + "/layer.tar"}},
		{Config: b.id.Encoded() + ".json", RepoTags: []string{b.tag}, Layers: []string{b.layerID() + "/layer.tar"}},
	})))
	dir, res := extract(t, bytes.NewReader(mkTar(t, ms...)), Options{})
	checkLayout(t, dir, res, a, b)
}

// TestExtractSameImageTwice folds two manifest.json entries with the same
// config (one image under two names) into one image with both tags.
func TestExtractSameImageTwice(t *testing.T) {
	im := newImage(t, "twice")
	ms := im.legacy(t)
	cfg, layer := im.id.Encoded()+".json", im.layerID()+"/layer.tar"
	ms[5] = file("manifest.json", mustJSON(t, []manifest.Entry{
		{Config: cfg, RepoTags: []string{"b:1"}, Layers: []string{layer}},
		{Config: cfg, RepoTags: []string{"a:1", "b:1"}, Layers: []string{layer}},
	}))
	dir, res := extract(t, bytes.NewReader(mkTar(t, ms...)), Options{})
	if len(res.Images) != 1 {
		t.Fatalf("Extract gave %d images, want 1", len(res.Images))
	}
	b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if want := `"RepoTags":["a:1","b:1"]`; !strings.Contains(string(b), want) {
		t.Errorf("manifest.json = %s, want it to hold %s", b, want)
	}
}

// TestExtractLegacySymlinkLayer covers how `docker save` stores a layer that
// occurs twice: the second folder's layer.tar links to the first's.
func TestExtractLegacySymlinkLayer(t *testing.T) {
	im := newImage(t, "dup")
	config := []byte(mustJSON(t, map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{im.diffID, im.diffID}}}))
	cfgName := digest.FromBytes(config).Encoded() + ".json"
	id1, id2 := hexOf("id1"), hexOf("id2")
	link := symlink(id2+"/layer.tar", "../"+id1+"/layer.tar")
	manifestJSON := file("manifest.json", mustJSON(t, []manifest.Entry{{Config: cfgName, RepoTags: []string{"dup:1"}, Layers: []string{id1 + "/layer.tar", id2 + "/layer.tar"}}}))
	tests := []struct {
		name string
		ms   []member
	}{
		{name: "link after target", ms: []member{folder(id1 + "/"), file(id1+"/layer.tar", string(im.layer)), folder(id2 + "/"), link}},
		{name: "link before target", ms: []member{folder(id2 + "/"), link, folder(id1 + "/"), file(id1+"/layer.tar", string(im.layer))}},
		{name: "link without folders", ms: []member{link, file(id1+"/layer.tar", string(im.layer))}},
		{name: "chain of links", ms: []member{
			symlink(id2+"/layer.tar", "../l1/layer.tar"), symlink("l1/layer.tar", "../l2/layer.tar"),
			symlink("l2/layer.tar", "../"+id1+"/layer.tar"), file(id1+"/layer.tar", string(im.layer)),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms := append(tc.ms, file(cfgName, string(config)), manifestJSON)
			dir, res := extract(t, bytes.NewReader(mkTar(t, ms...)), Options{})
			tree := readTree(t, dir)
			if got := tree[manifest.BlobPath(im.diffID)].data; got != string(im.layer) {
				t.Errorf("layer blob holds %d bytes, want the layer's %d", len(got), len(im.layer))
			}
			if n := len(tree); n != 10 { // the folder, 3 blobs and 6 others
				t.Errorf("Extract wrote %q, want 10 names", names(tree))
			}
			if got := res.Images[0].Layers; len(got) != 2 || got[0].Digest != im.diffID || got[1].Digest != im.diffID {
				t.Errorf("Result.Images[0].Layers = %+v, want %s twice", got, im.diffID)
			}
		})
	}
}

func hexOf(s string) string { return digest.FromString(s).Encoded() }

// TestExtractRejectsSymlinkCycle covers links that never reach a file.
func TestExtractRejectsSymlinkCycle(t *testing.T) {
	im := newImage(t, "cycle")
	cfg := file(im.id.Encoded()+".json", string(im.config))
	chain := []member{cfg, im.dockerManifest(t, cfg.name, "l0/layer.tar")}
	for i := range 20 {
		chain = append(chain, symlink(fmt.Sprintf("l%d/layer.tar", i), fmt.Sprintf("../l%d/layer.tar", i+1)))
	}
	chain = append(chain, file("l20/layer.tar", string(im.layer)))
	testFails(t, []failCase{
		{name: "cycle", entry: "a/layer.tar", data: mkTar(t, cfg, im.dockerManifest(t, cfg.name, "a/layer.tar"),
			symlink("a/layer.tar", "../b/layer.tar"), symlink("b/layer.tar", "../a/layer.tar"))},
		{name: "self", entry: "a/layer.tar", data: mkTar(t, cfg, im.dockerManifest(t, cfg.name, "a/layer.tar"), symlink("a/layer.tar", "layer.tar"))},
		{name: "chain of 20", entry: "l0/layer.tar", data: mkTar(t, chain...)},
		{name: "link to a folder", entry: "a/layer.tar", data: mkTar(t, cfg, im.dockerManifest(t, cfg.name, "a/layer.tar"), folder("b/"), symlink("a/layer.tar", "../b"))},
	})
}

// withImage returns a valid legacy save of a fresh image with ms added at
// the end, so that only the attack can fail it.
func withImage(tb testing.TB, ms ...member) []byte {
	im := newImage(tb, "attack")
	return mkTar(tb, append(im.legacy(tb), ms...)...)
}

func TestExtractRejectsAbsolutePath(t *testing.T) {
	testFails(t, []failCase{
		{name: "file", refused: true, entry: "/tmp/imgsave-escape", data: withImage(t, file("/tmp/imgsave-escape", "x"))},
		{name: "folder", refused: true, entry: "/etc/", data: withImage(t, folder("/etc/"))},
		{name: "dot slash", refused: true, entry: ".//x", data: withImage(t, file(".//x", "x"))},
		{name: "manifest.json", refused: true, entry: "/manifest.json", data: withImage(t, file("/manifest.json", "[]"))},
	})
	if _, err := os.Lstat("/tmp/imgsave-escape"); err == nil {
		t.Errorf("/tmp/imgsave-escape exists")
	}
}

func TestExtractRejectsDotDot(t *testing.T) {
	testFails(t, []failCase{
		{name: "parent", refused: true, entry: "../escape", data: withImage(t, file("../escape", "x"))},
		{name: "far", refused: true, entry: "../../../../../../tmp/escape", data: withImage(t, file("../../../../../../tmp/escape", "x"))},
		{name: "inside", refused: true, entry: "a/../../escape", data: withImage(t, file("a/../../escape", "x"))},
		{name: "inside, staying in", refused: true, entry: "a/../b", data: withImage(t, file("a/../b", "x"))},
		{name: "folder", refused: true, entry: "../", data: withImage(t, folder("../"))},
		{name: "dotdot only", refused: true, entry: "..", data: withImage(t, file("..", "x"))},
		{name: "symlink name", refused: true, entry: "../l", data: withImage(t, symlink("../l", "x"))},
	})
}

func TestExtractRejectsSymlinkEscape(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	testFails(t, []failCase{
		{name: "relative", refused: true, entry: "l", data: withImage(t, symlink("l", "../../x"))},
		{name: "relative to the parent", refused: true, entry: "l", data: withImage(t, symlink("l", ".."))},
		{name: "relative from a folder", refused: true, entry: "a/l", data: withImage(t, symlink("a/l", "../../x"))},
		{name: "through a folder", refused: true, entry: "a/l", data: withImage(t, symlink("a/l", "b/../../../x"))},
		{name: "absolute", refused: true, entry: "l", data: withImage(t, symlink("l", "/etc/passwd"))},
		{name: "absolute folder, then a file below", refused: true, entry: "d", data: withImage(t, symlink("d", filepath.Dir(victim)), file("d/victim", "pwned"))},
		{name: "sibling file, then written through", refused: true, entry: "sib", data: withImage(t, symlink("sib", "../victim"), file("sib", "pwned"))},
		{name: "as the layer", refused: true, entry: "evil/layer.tar", data: withImage(t, symlink("evil/layer.tar", "../../../etc/passwd"))},
		{name: "empty target", refused: true, entry: "l", data: withImage(t, symlink("l", ""))},
		{name: "backslash target", refused: true, entry: "l", data: withImage(t, symlink("l", `..\..\x`))},
		{name: "root", refused: true, entry: "l", data: withImage(t, symlink("l", "."))},
	})
	if _, err := os.Lstat(victim); err == nil {
		t.Errorf("%s was written", victim)
	}
}

func TestExtractRejectsMemberBelowSymlink(t *testing.T) {
	testFails(t, []failCase{
		{name: "link first", refused: true, entry: "d/x", data: withImage(t, folder("real/"), symlink("d", "real"), file("d/x", "x"))},
		{name: "member first", refused: true, entry: "d/x", data: withImage(t, folder("real/"), file("d/x", "x"), symlink("d", "real"))},
		{name: "deep", refused: true, entry: "d/a/b/c", data: withImage(t, symlink("d", "real"), folder("real/"), file("d/a/b/c", "x"))},
		{name: "folder below link", refused: true, entry: "d/sub", data: withImage(t, symlink("d", "real"), folder("real/"), folder("d/sub/"))},
		{name: "below a file", refused: true, entry: "f/x", data: withImage(t, file("f", "x"), file("f/x", "x"))},
		{name: "below a file, member first", refused: true, entry: "f/x", data: withImage(t, file("f/x", "x"), file("f", "x"))},
		{name: "below manifest.json", refused: true, entry: "manifest.json/x", data: withImage(t, file("manifest.json/x", "x"))},
	})
}

func TestExtractRejectsHardlink(t *testing.T) {
	im := newImage(t, "attack")
	testFails(t, []failCase{
		{name: "to a member", refused: true, entry: "h", data: withImage(t, member{name: "h", typ: '1', link: im.layerID() + "/layer.tar"})},
		{name: "outside", refused: true, entry: "h", data: withImage(t, member{name: "h", typ: '1', link: "/etc/passwd"})},
		{name: "as the layer", refused: true, entry: "x/layer.tar", data: mkTar(t, member{name: "x/layer.tar", typ: '1', link: im.layerID() + "/layer.tar"})},
	})
}

func TestExtractRejectsCharDevice(t *testing.T) {
	testFails(t, []failCase{
		{name: "null", refused: true, entry: "dev/null", data: withImage(t, member{name: "dev/null", typ: '3'})},
		{name: "as manifest.json", refused: true, entry: "manifest.json", data: mkTar(t, member{name: "manifest.json", typ: '3'})},
	})
}

func TestExtractRejectsBlockDevice(t *testing.T) {
	testFails(t, []failCase{
		{name: "sda", refused: true, entry: "dev/sda", data: withImage(t, member{name: "dev/sda", typ: '4'})},
	})
}

func TestExtractRejectsFifo(t *testing.T) {
	testFails(t, []failCase{
		{name: "fifo", refused: true, entry: "pipe", data: withImage(t, member{name: "pipe", typ: '6'})},
		{name: "as the layer", refused: true, entry: "x/layer.tar", data: mkTar(t, member{name: "x/layer.tar", typ: '6'})},
	})
}

func TestExtractRejectsUnknownType(t *testing.T) {
	testFails(t, []failCase{
		{name: "contiguous file", refused: true, entry: "c", data: withImage(t, member{name: "c", typ: '7'})},
		{name: "vendor type", refused: true, entry: "v", data: withImage(t, member{name: "v", typ: 'X'})},
	})
}

// TestExtractRejectsNULInName: archive/tar never yields a name with a NUL
// byte (it cuts a header's name at the first NUL and refuses PAX records
// holding one), so a NUL can only arrive in a PAX record, and that fails
// the whole archive.
func TestExtractRejectsNULInName(t *testing.T) {
	testFails(t, []failCase{
		{name: "pax path", data: append(paxHeader("path", "a\x00/../../x"), withImage(t)...)},
		{name: "pax linkpath", data: append(paxHeader("linkpath", "/etc\x00"), withImage(t)...)},
	})
}

// paxHeader returns a PAX extended header carrying one record, which
// archive/tar's writer refuses to write when the value holds a NUL.
func paxHeader(key, value string) []byte {
	rec := " " + key + "=" + value + "\n"
	n := len(rec)
	for len(strconv.Itoa(n))+len(rec) != n {
		n = len(strconv.Itoa(n)) + len(rec)
	}
	rec = strconv.Itoa(n) + rec
	b := make([]byte, 1024)
	copy(b, "PaxHeaders/x")
	copy(b[100:], "0000644\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", len(rec)))
	copy(b[136:], "00000000000\x00")
	b[156] = 'x'
	copy(b[257:], "ustar\x0000")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	copy(b[512:], rec)
	return b
}

func TestExtractRejectsBackslashInName(t *testing.T) {
	testFails(t, []failCase{
		{name: "inside", refused: true, entry: `a\b`, data: withImage(t, file(`a\b`, "x"))},
		{name: "dotdot", refused: true, entry: `..\..\escape`, data: withImage(t, file(`..\..\escape`, "x"))},
		{name: "folder", refused: true, entry: `a\`, data: withImage(t, folder(`a\`))},
		{name: "link", refused: true, entry: `l\x`, data: withImage(t, symlink(`l\x`, "y"))},
	})
}

func TestExtractRejectsDuplicateName(t *testing.T) {
	im := newImage(t, "attack")
	testFails(t, []failCase{
		{name: "file twice", refused: true, entry: "a", data: withImage(t, file("a", "1"), file("a", "2"))},
		{name: "dot slash", refused: true, entry: "./a", data: withImage(t, file("a", "1"), file("./a", "2"))},
		{name: "dot slash first", refused: true, entry: "a", data: withImage(t, file("./a", "1"), file("a", "2"))},
		{name: "manifest.json twice", refused: true, entry: "./manifest.json", data: withImage(t, file("./manifest.json", "[]"))},
		{name: "layer twice", refused: true, entry: im.layerID() + "/layer.tar", data: withImage(t, file(im.layerID()+"/layer.tar", "other"))},
		{name: "folder twice", refused: true, entry: im.layerID() + "/", data: withImage(t, folder(im.layerID()+"/"))},
		{name: "folder and file", refused: true, entry: "a", data: withImage(t, folder("a/"), file("a", "x"))},
		{name: "file and link", refused: true, entry: "a", data: withImage(t, file("a", "x"), symlink("a", "b"))},
	})
}

func TestExtractRejectsTruncated(t *testing.T) {
	im := newImage(t, "cut")
	ms := im.legacy(t)
	full := mkTar(t, ms...)
	layerAt := len(mkTarOpen(t, ms[:3]...)) + 512 // the layer's first byte
	tests := []failCase{
		{name: "mid layer", data: full[:layerAt+len(im.layer)/2], entry: im.layerID() + "/layer.tar", is: io.ErrUnexpectedEOF},
		{name: "mid manifest.json", data: full[:len(mkTarOpen(t, ms[:5]...))+512+10], entry: "manifest.json", is: io.ErrUnexpectedEOF},
		{name: "mid header", data: full[:layerAt-100], is: io.ErrUnexpectedEOF},
		{name: "entry boundary", data: mkTarOpen(t, ms...), is: io.ErrUnexpectedEOF},
		{name: "one end block", data: full[:len(full)-512], is: io.ErrUnexpectedEOF},
		{name: "empty", data: nil, is: io.ErrUnexpectedEOF},
		{name: "gzip cut", data: func() []byte { b := gz(t, full); return b[:len(b)-20] }(), is: io.ErrUnexpectedEOF},
		{name: "gzip of a cut tar", data: gz(t, mkTarOpen(t, ms...)), is: io.ErrUnexpectedEOF},
		{name: "zstd cut", data: func() []byte { b := zst(t, full); return b[:len(b)/2] }()},
	}
	testFails(t, tests)
}

// TestExtractRejectsOversizeJSON streams files over manifest.MaxJSON without
// holding them in memory.
func TestExtractRejectsOversizeJSON(t *testing.T) {
	im := newImage(t, "big")
	legacy := im.legacy(t)
	const over = manifest.MaxJSON + 1
	testFails(t, []failCase{
		{name: "manifest.json", refused: true, entry: "manifest.json", r: hugeTar(t, legacy[:5], "manifest.json", over, nil)},
		{name: "manifest.json, 1 TiB", refused: true, entry: "manifest.json", r: hugeTar(t, legacy[:5], "manifest.json", 1<<40, nil)},
		{name: "index.json", refused: true, entry: "index.json", r: hugeTar(t, legacy, "index.json", over, nil)},
		{name: "repositories", refused: true, entry: "./repositories", r: hugeTar(t, legacy[:6], "./repositories", over, nil)},
		{name: "config", entry: "big.json", is: manifest.ErrTooLarge,
			r: hugeTar(t, legacy[:4], "big.json", over, []member{im.dockerManifest(t, "big.json", im.layerID()+"/layer.tar")})},
	})
}

func TestExtractRejectsDigestMismatch(t *testing.T) {
	im := newImage(t, "mismatch")
	other := newImage(t, "other")
	legacy := im.legacy(t)
	badCfg := slices.Clone(legacy)
	badCfg[4] = file(im.id.Encoded()+".json", string(other.config)) // named for im's config, holds other's
	badLayer := slices.Clone(legacy)
	badLayer[3] = file(im.layerID()+"/layer.tar", string(other.layer))
	oci := im.oci(t, "gzip", true)
	badBlob := slices.Clone(oci)
	i := slices.IndexFunc(badBlob, func(m member) bool { return m.name == manifest.BlobPath(im.id) })
	badBlob[i].body = string(other.config)
	gzLayer := gz(t, im.layer)
	gzOther := gz(t, other.layer)
	badGzip := slices.Clone(oci)
	i = slices.IndexFunc(badGzip, func(m member) bool { return m.name == manifest.BlobPath(digest.FromBytes(gzLayer)) })
	badGzip[i].body = string(gzOther)
	// A gzip blob damaged in its CRC: the decompressor fails too, but the
	// blob is refused for not being what its name says.
	badCRC := slices.Clone(oci)
	i = slices.IndexFunc(badCRC, func(m member) bool { return m.name == manifest.BlobPath(digest.FromBytes(gzLayer)) })
	damaged := []byte(badCRC[i].body)
	damaged[len(damaged)-8] ^= 0xff
	badCRC[i].body = string(damaged)
	// A blob named for its content whose decompressed content does not
	// match diff_ids: the manifest points to it, so names and descriptors
	// agree and only diff_ids catch it.
	badDiff := ociWithLayer(t, im, gzOther)

	tests := []struct {
		name string
		data []byte
		want DigestMismatchError
	}{
		{name: "legacy config", data: mkTar(t, badCfg...), want: DigestMismatchError{Path: im.id.Encoded() + ".json", Got: other.id, Want: im.id}},
		{name: "legacy layer", data: mkTar(t, badLayer...), want: DigestMismatchError{Path: im.layerID() + "/layer.tar", Got: other.diffID, Want: im.diffID}},
		{name: "oci config blob", data: mkTar(t, badBlob...), want: DigestMismatchError{Path: manifest.BlobPath(im.id), Got: other.id, Want: im.id}},
		{name: "oci layer blob", data: mkTar(t, badGzip...), want: DigestMismatchError{Path: manifest.BlobPath(digest.FromBytes(gzLayer)), Got: digest.FromBytes(gzOther), Want: digest.FromBytes(gzLayer)}},
		{name: "oci layer blob, CRC damaged", data: mkTar(t, badCRC...), want: DigestMismatchError{Path: manifest.BlobPath(digest.FromBytes(gzLayer)), Got: digest.FromBytes(damaged), Want: digest.FromBytes(gzLayer)}},
		{name: "oci layer diff_id", data: badDiff, want: DigestMismatchError{Path: manifest.BlobPath(digest.FromBytes(gzOther)), Got: other.diffID, Want: im.diffID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := mustFail(t, bytes.NewReader(tc.data), Options{})
			var dm *DigestMismatchError
			if !errors.As(err, &dm) {
				t.Fatalf("Extract = %v, want a *DigestMismatchError", err)
			}
			if *dm != tc.want {
				t.Errorf("Extract = %+v, want %+v", *dm, tc.want)
			}
			if want := fmt.Sprintf("got %s, want %s", tc.want.Got, tc.want.Want); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.want.Path) {
				t.Errorf("Extract = %q, want it to name %s and say %q", err, tc.want.Path, want)
			}
		})
	}
}

// ociWithLayer is an OCI save of im whose manifest lists layer (gzip) in
// place of im's own.
func ociWithLayer(tb testing.TB, im testImage, layer []byte) []byte {
	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: descriptor(v1.MediaTypeImageConfig, im.config),
		Layers: []v1.Descriptor{descriptor(v1.MediaTypeImageLayerGzip, layer)}}
	m.SchemaVersion = 2
	mb := []byte(mustJSON(tb, m))
	return mkTar(tb, blob(mb), blob(im.config), blob(layer),
		file("index.json", indexJSON(tb, descriptor(v1.MediaTypeImageManifest, mb))))
}

func TestExtractRejectsSizeMismatch(t *testing.T) {
	im := newImage(t, "size")
	blobs, d := im.ociBlobs(t, "gzip")
	d.Size++
	testFails(t, []failCase{
		{name: "manifest size", entry: manifest.BlobPath(d.Digest), data: mkTar(t, append(blobs, file("index.json", indexJSON(t, d)))...)},
	})
}

func TestExtractRejectsEmptyManifest(t *testing.T) {
	im := newImage(t, "empty")
	legacy := im.legacy(t)
	with := func(body string) []byte {
		ms := slices.Clone(legacy)
		ms[5] = file("manifest.json", body)
		return mkTar(t, ms...)
	}
	testFails(t, []failCase{
		{name: "null", entry: "", is: manifest.ErrEmpty, data: with("null")},
		{name: "empty list", is: manifest.ErrEmpty, data: with("[]")},
		{name: "empty file", is: manifest.ErrEmpty, data: with("")},
		{name: "list of null", data: with("[null]")},
		{name: "empty index", is: manifest.ErrEmpty, data: mkTar(t, file("index.json", `{"schemaVersion":2,"manifests":[]}`))},
		{name: "null index", is: manifest.ErrEmpty, data: mkTar(t, file("index.json", `null`))},
	})
}

func TestExtractRejectsManifestPathEscape(t *testing.T) {
	im := newImage(t, "paths")
	legacy := im.legacy(t)
	layer := im.layerID() + "/layer.tar"
	with := func(config string, layers ...string) []byte {
		ms := slices.Clone(legacy)
		ms[5] = im.dockerManifest(t, config, layers...)
		return mkTar(t, ms...)
	}
	cfg := im.id.Encoded() + ".json"
	testFails(t, []failCase{
		{name: "config dotdot", entry: "../" + cfg, data: with("../"+cfg, layer)},
		{name: "config absolute", entry: "/etc/passwd", data: with("/etc/passwd", layer)},
		{name: "config inner dotdot", entry: "a/../../x.json", data: with("a/../../x.json", layer)},
		{name: "layer dotdot", entry: "../../etc/passwd", data: with(cfg, "../../etc/passwd")},
		{name: "layer absolute", entry: "/dev/zero", data: with(cfg, "/dev/zero")},
		{name: "layer backslash", entry: `..\layer.tar`, data: with(cfg, `..\layer.tar`)},
		{name: "layer not clean", entry: im.layerID() + "//layer.tar", data: with(cfg, im.layerID()+"//layer.tar")},
	})
}

func TestExtractRejectsMissingLayer(t *testing.T) {
	im := newImage(t, "missing")
	legacy := im.legacy(t)
	without := func(name string) []byte {
		return mkTar(t, slices.DeleteFunc(slices.Clone(legacy), func(m member) bool { return m.name == name })...)
	}
	oci := im.oci(t, "gzip", false)
	gzLayer := manifest.BlobPath(digest.FromBytes(gz(t, im.layer)))
	ociWithout := func(name string) []byte {
		return mkTar(t, slices.DeleteFunc(slices.Clone(oci), func(m member) bool { return m.name == name })...)
	}
	testFails(t, []failCase{
		{name: "legacy layer", entry: im.layerID() + "/layer.tar", data: without(im.layerID() + "/layer.tar")},
		{name: "legacy config", entry: im.id.Encoded() + ".json", data: without(im.id.Encoded() + ".json")},
		{name: "dangling link", entry: im.layerID() + "/layer.tar", data: mkTar(t, append(slices.DeleteFunc(slices.Clone(legacy), func(m member) bool { return m.name == im.layerID()+"/layer.tar" }),
			symlink(im.layerID()+"/layer.tar", "../nowhere/layer.tar"))...)},
		{name: "layer is a folder", entry: im.layerID() + "/layer.tar", data: mkTar(t, append(slices.DeleteFunc(slices.Clone(legacy), func(m member) bool { return m.name == im.layerID()+"/layer.tar" }),
			folder(im.layerID()+"/layer.tar/"))...)},
		{name: "oci layer", entry: gzLayer, data: ociWithout(gzLayer)},
		{name: "oci config", entry: manifest.BlobPath(im.id), data: ociWithout(manifest.BlobPath(im.id))},
		{name: "oci manifest", data: mkTar(t, file("index.json", indexJSON(t, descriptor(v1.MediaTypeImageManifest, []byte("{}")))))},
		{name: "diff_ids for more layers", entry: im.id.Encoded() + ".json", data: func() []byte {
			ms := slices.Clone(legacy)
			ms[5] = im.dockerManifest(t, im.id.Encoded()+".json")
			return mkTar(t, ms...)
		}()},
	})
}

func TestExtractRejectsNotAnImage(t *testing.T) {
	testFails(t, []failCase{
		{name: "one file", is: ErrNotImage, data: mkTar(t, file("hello.txt", "hi"))},
		{name: "empty archive", is: ErrNotImage, data: mkTar(t)},
		{name: "only a folder", is: ErrNotImage, data: mkTar(t, folder("./"))},
		{name: "a layer", is: ErrNotImage, data: newImage(t, "layer").layer},
		{name: "manifest.json is a folder", is: ErrNotImage, data: mkTar(t, folder("manifest.json/"))},
		{name: "manifest.json is a link", is: ErrNotImage, data: mkTar(t, file("m", "[]"), symlink("manifest.json", "m"))},
		{name: "text", data: []byte(strings.Repeat("not a tar archive\n", 100))},
		{name: "gzip of text", data: gz(t, []byte(strings.Repeat("not a tar archive\n", 100)))},
		{name: "bad gzip", data: []byte{0x1f, 0x8b, 0, 0, 0}},
		{name: "bad zstd", data: []byte{0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff, 0xff, 0xff}},
		{name: "garbage after the archive", data: append(withImage(t), bytes.Repeat([]byte{1}, 2<<20)...)},
		{name: "unknown media type", data: mkTar(t, blob([]byte("{}")), file("index.json", indexJSON(t, descriptor("text/plain", []byte("{}")))))},
	})
}

// TestExtractIgnoresSetuid pins that modes in the archive never reach the
// output: a layer is data, not files to install.
func TestExtractIgnoresSetuid(t *testing.T) {
	im := newImage(t, "setuid")
	ms := im.legacy(t)
	for i := range ms {
		ms[i].mode = 0o6755
		if ms[i].typ == '5' {
			ms[i].mode = 0o7777
		}
	}
	dir, res := extract(t, bytes.NewReader(mkTar(t, ms...)), Options{})
	checkLayout(t, dir, res, im) // every file 0644, every folder 0755
	plain, _ := extract(t, bytes.NewReader(mkTar(t, im.legacy(t)...)), Options{})
	if d := diffTrees(readTree(t, dir), readTree(t, plain)); d != "" {
		t.Errorf("modes in the archive changed the output:\n%s", d)
	}
}

// TestExtractMultiPlatform covers a save of a multi-platform image of which
// the engine holds one platform: the other is dropped and reported.
func TestExtractMultiPlatform(t *testing.T) {
	amd, arm := newImageFor(t, "multi-amd64", "amd64"), newImageFor(t, "multi-arm64", "arm64")
	amdBlobs, amdDesc := amd.ociBlobs(t, "gzip")
	armBlobs, armDesc := arm.ociBlobs(t, "gzip")
	att := descriptor(v1.MediaTypeImageManifest, []byte(`{"attestation":true}`))
	att.Platform = &v1.Platform{OS: "unknown", Architecture: "unknown"}
	nested := []byte(indexJSON(t, amdDesc, armDesc, att))
	top := descriptor(v1.MediaTypeImageIndex, nested)
	top.Annotations = map[string]string{manifest.AnnotationImageName: "docker.io/library/multi:1", v1.AnnotationRefName: "1"}
	amd.tag = "multi:1"
	base := append([]member{blob(nested), file("index.json", indexJSON(t, top)), file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`)}, amdBlobs...)
	tests := []struct {
		name    string
		ms      []member
		dropped []string
	}{
		{name: "arm64 manifest missing", ms: base, dropped: []string{"linux/arm64"}},
		{name: "arm64 layer missing", ms: append(slices.Clone(base), armBlobs[:2]...), dropped: []string{"linux/arm64"}},
		{name: "arm64 config missing", ms: append(slices.Clone(base), armBlobs[0], armBlobs[2]), dropped: []string{"linux/arm64"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, res := extract(t, bytes.NewReader(mkTar(t, tc.ms...)), Options{})
			checkLayout(t, dir, res, amd)
			if !slices.Equal(res.Dropped, tc.dropped) {
				t.Errorf("Result.Dropped = %q, want %q", res.Dropped, tc.dropped)
			}
		})
	}
	t.Run("both present", func(t *testing.T) {
		dir, res := extract(t, bytes.NewReader(mkTar(t, append(slices.Clone(base), armBlobs...)...)), Options{})
		checkMultiPlatform(t, dir, res, "multi:1", amd, arm)
		if len(res.Dropped) != 0 {
			t.Errorf("Result.Dropped = %q, want none", res.Dropped)
		}
		// imgsave's own layout read back (migrate, import of a tar of
		// it) keeps both platforms, byte for byte.
		again, res2 := extract(t, bytes.NewReader(tarDir(t, dir)), Options{})
		checkMultiPlatform(t, again, res2, "multi:1", amd, arm)
		if a, b := readTree(t, dir), readTree(t, again); !maps.EqualFunc(a, b, func(x, y node) bool { return x.data == y.data && x.mode == y.mode }) {
			t.Errorf("the layout re-extracted differs")
		}
	})
	t.Run("no platform present", func(t *testing.T) {
		err := mustFail(t, bytes.NewReader(mkTar(t, blob(nested), file("index.json", indexJSON(t, top)))), Options{})
		if !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
			t.Errorf("Extract = %v, want it to name the missing platforms", err)
		}
	})
}

// checkMultiPlatform checks imgsave's layout of one image for several
// platforms, given in canonical order: index.json names one image index
// under tag, which lists each platform's manifest with its platform;
// manifest.json lists the first platform alone; OpenDir reads every
// platform back as an image under tag.
func checkMultiPlatform(t *testing.T, dir string, res *Result, tag string, images ...testImage) {
	t.Helper()
	var idx v1.Index
	if err := json.Unmarshal([]byte(readTree(t, dir)["index.json"].data), &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].MediaType != v1.MediaTypeImageIndex || idx.Manifests[0].Annotations[manifest.AnnotationImageName] == "" {
		t.Fatalf("index.json = %+v, want one named image index", idx)
	}
	var nested v1.Index
	b, err := os.ReadFile(filepath.Join(dir, manifest.BlobPath(idx.Manifests[0].Digest)))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &nested); err != nil {
		t.Fatal(err)
	}
	if len(nested.Manifests) != len(images) {
		t.Fatalf("nested index = %s, want %d platforms", b, len(images))
	}
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Images) != len(images) {
		t.Fatalf("OpenDir gave %d images, want %d", len(d.Images), len(images))
	}
	for i, m := range nested.Manifests {
		if m.Platform == nil || m.Platform.Architecture != images[i].arch || m.Platform.OS != "linux" {
			t.Errorf("nested index entry %d = %+v, want linux/%s", i, m, images[i].arch)
		}
		im := d.Images[slices.IndexFunc(d.Images, func(im *DirImage) bool { return im.ID == images[i].id })]
		if im.ManifestDigest != m.Digest || !slices.Equal(im.RepoTags, []string{tag}) || im.Config.Architecture != images[i].arch {
			t.Errorf("image %d = %s %v %s, want manifest %s under %s", i, im.ManifestDigest, im.RepoTags, im.Config.Platform(), m.Digest, tag)
		}
	}
	var docker []manifest.Entry
	if err := json.Unmarshal([]byte(readTree(t, dir)["manifest.json"].data), &docker); err != nil {
		t.Fatal(err)
	}
	if len(docker) != 1 || docker[0].Config != manifest.BlobPath(images[0].id) || !slices.Equal(docker[0].RepoTags, []string{tag}) {
		t.Errorf("manifest.json = %+v, want the first platform alone under %s", docker, tag)
	}
	if len(res.Images) != len(images) {
		t.Errorf("Result has %d images, want %d", len(res.Images), len(images))
	}
}
