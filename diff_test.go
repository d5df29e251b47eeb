package imgsave

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/imgsave/imgsave/archive/imgdiff"
	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// A docker save and a registry pull of one image are identical (#32): the
// save of ../testdata/legacy.tar against its push, read back with
// "docker://", which Diff pulls into a temporary folder and removes.
func TestDiffSaveAndPull(t *testing.T) {
	host := registrytest.Serve(t, nil).Host
	ref := pushFixture(t, host)
	saved, _ := imageDir(t, "legacy.tar")
	tmp := t.TempDir()
	r, err := Diff(t.Context(), saved, RegistryPrefix+ref, DiffOptions{TempDir: tmp})
	if err != nil {
		t.Fatalf("Diff = %v", err)
	}
	if r.Verdict != imgdiff.Identical || !r.Equal {
		t.Errorf("Diff = %s (equal %v), want identical", r.Verdict, r.Equal)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("Diff left %d entries in its temporary folder", len(left))
	}
}

// Two images with the same layer, one of them a raw Docker 26 save whose
// layer is kept gzip-compressed, differ in their configs alone: the
// compressed layer is read decompressed, and its files compared.
func TestDiffRawCompressedSave(t *testing.T) {
	raw := untar(t, "oci-gzip.tar")
	saved, _ := imageDir(t, "legacy.tar")
	r, err := Diff(t.Context(), raw, saved, DiffOptions{})
	if err != nil {
		t.Fatalf("Diff = %v", err)
	}
	if r.Verdict == imgdiff.Identical || r.Equal || len(r.Config) == 0 {
		t.Errorf("Diff = %s (equal %v, %d config fields), want config differences", r.Verdict, r.Equal, len(r.Config))
	}
	for _, l := range r.Layers {
		if l.Status != imgdiff.LayerSame && l.Status != imgdiff.LayerMetadata {
			t.Errorf("layer %d: %s, want the same files", l.Index, l.Status)
		}
	}
}

// A side that is no directory, with no engine to ask, is an error naming it.
func TestDiffNoSide(t *testing.T) {
	saved, _ := imageDir(t, "legacy.tar")
	_, err := Diff(t.Context(), saved, filepath.Join(t.TempDir(), "nosuch"), DiffOptions{})
	if !errors.Is(err, ErrNoSide) {
		t.Fatalf("Diff = %v, want ErrNoSide", err)
	}
}

// untar extracts a trusted fixture as it is, as datalad-container's
// adapter leaves a save in a dataset.
func untar(tb testing.TB, fixture string) string {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", fixture))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	dir := tb.TempDir()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			tb.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				var b []byte
				if b, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(p, b, 0o644)
				}
			}
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// Each side of a multi-platform directory is the platform asked for, by
// default linux on this machine's architecture, as pull picks.
func TestDiffPlatform(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "multi")
	if _, err := Import(t.Context(), bytes.NewReader(multiTar(t, "x:1")), dir, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ platform, want string }{
		{"linux/arm64", "linux/arm64/v8"},
		{"linux/amd64", "linux/amd64"},
		{"", "linux/" + runtime.GOARCH},
	} {
		r, err := Diff(t.Context(), dir, dir, DiffOptions{Selector: Selector{Platform: tc.platform}})
		if err != nil {
			t.Fatalf("Diff(%q) = %v", tc.platform, err)
		}
		if !strings.HasPrefix(r.A.Platform, tc.want) || r.B.Platform != r.A.Platform || r.Verdict != imgdiff.Identical {
			t.Errorf("Diff(%q) compared %s and %s (%s), want %s twice, identical", tc.platform, r.A.Platform, r.B.Platform, r.Verdict, tc.want)
		}
	}
}
