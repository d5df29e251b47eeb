package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

// fuzzSeeds are valid saves in every form, and hostile ones.
func fuzzSeeds(tb testing.TB) map[string][]byte {
	im := newImage(tb, "fuzz")
	legacy := mkTar(tb, im.legacy(tb)...)
	amd, arm := newImageFor(tb, "fuzz-amd64", "amd64"), newImageFor(tb, "fuzz-arm64", "arm64")
	amdBlobs, amdDesc := amd.ociBlobs(tb, "gzip")
	_, armDesc := arm.ociBlobs(tb, "gzip")
	nested := []byte(indexJSON(tb, amdDesc, armDesc))
	rep := newRepeatedImage(tb)
	zero := zeroImage(tb, 16<<20)
	return map[string][]byte{
		"repeated-layer":     mkTar(tb, rep.legacy(tb)...),
		"repeated-layer-oci": mkTar(tb, rep.oci(tb, "gzip", true)...),
		// Bombs under fuzzFloor: 16 MiB of zeros in a few KB.
		"bomb-gzip":         mkTar(tb, zero.oci(tb, "gzip", true)...),
		"bomb-zstd":         mkTar(tb, zero.oci(tb, "zstd", true)...),
		"legacy":            legacy,
		"legacy.gz":         gz(tb, legacy),
		"legacy.zst":        zst(tb, legacy),
		"oci-gzip":          mkTar(tb, im.oci(tb, "gzip", true)...),
		"oci-zstd":          mkTar(tb, im.oci(tb, "zstd", true)...),
		"oci-plain-only":    mkTar(tb, im.oci(tb, "", false)...),
		"multi-platform":    mkTar(tb, append(amdBlobs, blob(nested), file("index.json", indexJSON(tb, descriptor(v1.MediaTypeImageIndex, nested))))...),
		"symlink-layer":     mkTar(tb, append(im.legacy(tb), symlink("dup/layer.tar", "../"+im.layerID()+"/layer.tar"))...),
		"dotdot":            withImage(tb, file("../escape", "x")),
		"symlink-escape":    withImage(tb, symlink("l", "../../x")),
		"below-symlink":     withImage(tb, file("d/x", "x"), symlink("d", "real")),
		"duplicate":         withImage(tb, file("a", "1"), file("./a", "2")),
		"hardlink":          withImage(tb, member{name: "h", typ: '1', link: "manifest.json"}),
		"truncated":         legacy[:len(legacy)-1024],
		"manifest-escape":   mkTar(tb, file("manifest.json", `[{"Config":"../../etc/passwd","Layers":["/dev/zero"]}]`)),
		"manifest-trailing": mkTar(tb, file("manifest.json", `[{"Config":"c.json"}]]`), file("c.json", `{"rootfs":{"diff_ids":[]}}`)),
	}
}

// FuzzExtract checks, for any stream, that Extract does not panic, leaves
// nothing behind when it fails, and otherwise writes only regular files
// and folders inside the target, blobs named by their digests, and a
// manifest.json whose every path exists.
func FuzzExtract(f *testing.F) {
	// A bomb costs 1 MiB to refuse, not 2 GiB.
	old := expandFloor
	expandFloor = fuzzFloor
	f.Cleanup(func() { expandFloor = old })
	seeds := fuzzSeeds(f)
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		f.Add(seeds[name])
	}
	// Real saves from ../testdata, one per engine format.
	f.Add(fixture(f, "legacy.tar"))
	f.Add(fixture(f, "oci.tar"))
	f.Add(fixture(f, "oci-gzip.tar"))
	// docker buildx's OCI export, with BuildKit attestation manifests (#30).
	f.Add(fixture(f, "buildx-oci.tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		outer := t.TempDir()
		parent := filepath.Join(outer, "parent")
		if err := os.Mkdir(parent, 0o755); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(parent, "target")
		res, err := Extract(t.Context(), bytes.NewReader(data), target, Options{})
		checkEntries(t, outer, "parent")
		if ee := (*ExpandError)(nil); errors.As(err, &ee) && ee.Limit != expandLimit(0, ee.Compressed) {
			t.Errorf("Extract = %v, want the bound max(%d × %d, %d)", err, DefaultMaxExpand, ee.Compressed, fuzzFloor)
		}
		if err != nil {
			if res != nil {
				t.Errorf("Extract = %+v, %v, want a nil Result", res, err)
			}
			checkEntries(t, parent)
			return
		}
		checkEntries(t, parent, "target")
		if len(res.Images) == 0 || len(res.Manifests) != len(res.Images) {
			t.Errorf("Extract = %+v, want images and one manifest each", res)
		}
		err = filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(target, p)
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				return fmt.Errorf("%s: outside %s", p, target)
			}
			fi, err := os.Lstat(p)
			switch {
			case err != nil:
				return err
			case fi.IsDir():
				return nil
			case !fi.Mode().IsRegular():
				return fmt.Errorf("%s: mode %v, want a regular file or folder", rel, fi.Mode())
			case path.Dir(filepath.ToSlash(rel)) == "blobs/sha256":
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != filepath.Base(rel) {
					return fmt.Errorf("%s holds content with digest sha256:%x", rel, sum)
				}
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		b, err := os.ReadFile(filepath.Join(target, "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		entries, err := manifest.ParseDocker(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("manifest.json = %s: %v", b, err)
		}
		for _, e := range entries {
			for _, p := range append([]string{e.Config}, e.Layers...) {
				if fi, err := os.Lstat(filepath.Join(target, filepath.FromSlash(p))); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("manifest.json names %q: %v", p, err)
				}
			}
		}
		if b, err := os.ReadFile(filepath.Join(target, "index.json")); err != nil {
			t.Error(err)
		} else if _, err := manifest.ParseIndex(bytes.NewReader(b)); err != nil {
			t.Errorf("index.json = %s: %v", b, err)
		}
	})
}

// fuzzFloor is the expandFloor the fuzzers use.
const fuzzFloor = 1 << 20

var writeSeeds = flag.Bool("write-seeds", false, "write testdata/fuzz/FuzzExtract seed files")

// TestWriteFuzzSeeds writes some of the seeds, gzip-compressed to keep
// them small, as checked-in corpus files (see testdata/README.md).
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-seeds to rewrite testdata/fuzz/FuzzExtract")
	}
	seeds := fuzzSeeds(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzExtract")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"legacy", "oci-gzip", "symlink-layer", "symlink-escape", "below-symlink", "manifest-trailing", "repeated-layer-oci", "bomb-zstd"} {
		b := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%+q)\n", gz(t, seeds[name]))
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name+".gz"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
