//go:build linux

package archive

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// verifiedSetup is an extracted image whose files' ctimes are older than a
// shortened racy margin, and an empty record folder.
func verifiedSetup(t *testing.T) (d *Dir, im *DirImage, layer, cache string) {
	t.Helper()
	old := racyMargin
	racyMargin = 20 * time.Millisecond
	t.Cleanup(func() { racyMargin = old })
	dir := bigImageDir(t)
	time.Sleep(2 * racyMargin)
	d, im = openOne(t, dir)
	return d, im, layerFile(t, dir), filepath.Join(t.TempDir(), "cache")
}

// sendWith sends im with the record in cache, saves the record, and
// returns the bytes hashed and the tar.
func sendWith(t *testing.T, d *Dir, im *DirImage, cache string) (int64, []byte, error) {
	t.Helper()
	rec := OpenVerifiedRecord(cache)
	before := bytesHashed.Load()
	var buf bytes.Buffer
	_, err := d.WriteTarWith(t.Context(), &buf, im, im.RepoTags, TarOptions{Verified: rec})
	if serr := rec.Save(); serr != nil {
		t.Fatalf("Save = %v", serr)
	}
	return bytesHashed.Load() - before, buf.Bytes(), err
}

func TestVerifiedRecordSkipsUnchangedFile(t *testing.T) {
	d, im, _, cache := verifiedSetup(t)
	first, tar1, err := sendWith(t, d, im, cache)
	if err != nil || first < im.Layers[0].Size {
		t.Fatalf("first send: hashed %d bytes, %v; want the layer's %d", first, err, im.Layers[0].Size)
	}
	fi, err := os.Stat(filepath.Join(cache, "verified"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("record: %v, %v; want a file of mode 0600", fi, err)
	}
	if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("record folder: %v, %v; want mode 0700", fi, err)
	}
	second, tar2, err := sendWith(t, d, im, cache)
	if err != nil || second != 0 {
		t.Fatalf("second send of an unchanged layer: hashed %d bytes, %v; want 0, nil", second, err)
	}
	if !bytes.Equal(tar1, tar2) {
		t.Errorf("the send from the record differs from the hashed one")
	}
}

// TestVerifiedRecordRehashesFileWithMtimeSetBack: content changed, size
// and mtime put back as they were; ctime, which no user can set, gives it
// away, and the change is refused as without the record.
func TestVerifiedRecordRehashesFileWithMtimeSetBack(t *testing.T) {
	d, im, layer, cache := verifiedSetup(t)
	if _, _, err := sendWith(t, d, im, cache); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(layer)
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, layer)
	if err := os.Chtimes(layer, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if fi2, _ := os.Stat(layer); fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatalf("layer's size or mtime not put back")
	}
	n, _, err := sendWith(t, d, im, cache)
	var dm *DigestMismatchError
	if !errors.As(err, &dm) || n < fi.Size() {
		t.Fatalf("send of a changed layer, mtime set back: hashed %d bytes, %v; want all %d and a *DigestMismatchError", n, err, fi.Size())
	}
}

// TestVerifiedRecordRacyFile: a file changed less than racyMargin before
// it was hashed is not recorded (a change in the same tick of a coarse
// clock would leave its ctime as it was).
func TestVerifiedRecordRacyFile(t *testing.T) {
	d, im, _, cache := verifiedSetup(t)
	racyMargin = time.Hour
	for i := range 2 {
		if n, _, err := sendWith(t, d, im, cache); err != nil || n < im.Layers[0].Size {
			t.Fatalf("send %d of a recent file: hashed %d bytes, %v; want the layer's %d", i, n, err, im.Layers[0].Size)
		}
	}
}

// TestVerifiedRecordIgnored: a record that is corrupt, someone else's,
// or writable by others is not trusted: every layer is hashed.
func TestVerifiedRecordIgnored(t *testing.T) {
	record := func(cache string) string { return filepath.Join(cache, "verified") }
	tests := []struct {
		name string
		harm func(t *testing.T, cache string)
	}{
		{"corrupt", func(t *testing.T, cache string) {
			b, err := os.ReadFile(record(cache))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(record(cache), append(b, "1 2 x\n"...), 0o600)
		}},
		{"bad header", func(t *testing.T, cache string) {
			b, _ := os.ReadFile(record(cache))
			os.WriteFile(record(cache), append([]byte("imgsave verified-files 0"), b[bytes.IndexByte(b, '\n'):]...), 0o600)
		}},
		{"world-writable record", func(t *testing.T, cache string) { os.Chmod(record(cache), 0o606) }},
		{"group-writable record", func(t *testing.T, cache string) { os.Chmod(record(cache), 0o660) }},
		{"group-writable folder", func(t *testing.T, cache string) { os.Chmod(cache, 0o770) }},
		{"record owned by another user", func(t *testing.T, cache string) { chownOrSkip(t, record(cache)) }},
		{"folder owned by another user", func(t *testing.T, cache string) { chownOrSkip(t, cache) }},
		{"record is a symlink", func(t *testing.T, cache string) {
			os.Rename(record(cache), record(cache)+".real")
			os.Symlink(record(cache)+".real", record(cache))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, im, _, cache := verifiedSetup(t)
			if _, _, err := sendWith(t, d, im, cache); err != nil {
				t.Fatal(err)
			}
			tc.harm(t, cache)
			if n, _, err := sendWith(t, d, im, cache); err != nil || n < im.Layers[0].Size {
				t.Fatalf("send with a %s record: hashed %d bytes, %v; want the layer's %d", tc.name, n, err, im.Layers[0].Size)
			}
		})
	}
}

func chownOrSkip(t *testing.T, p string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file away")
	}
	if err := os.Lchown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
}

// TestVerifiedRecordMerges: two loads that save at once keep each
// other's entries (the record is read again before it is replaced).
func TestVerifiedRecordMerges(t *testing.T) {
	d1, im1, _, cache := verifiedSetup(t)
	d2, im2, _, _ := verifiedSetup(t)
	r1, r2 := OpenVerifiedRecord(cache), OpenVerifiedRecord(cache)
	var buf bytes.Buffer
	if _, err := d1.WriteTarWith(t.Context(), &buf, im1, nil, TarOptions{Verified: r1}); err != nil {
		t.Fatal(err)
	}
	if _, err := d2.WriteTarWith(t.Context(), &buf, im2, nil, TarOptions{Verified: r2}); err != nil {
		t.Fatal(err)
	}
	if err := r1.Save(); err != nil {
		t.Fatal(err)
	}
	if err := r2.Save(); err != nil {
		t.Fatal(err)
	}
	for i, s := range []struct {
		d  *Dir
		im *DirImage
	}{{d1, im1}, {d2, im2}} {
		if n, _, err := sendWith(t, s.d, s.im, cache); err != nil || n != 0 {
			t.Errorf("image %d after both saved: hashed %d bytes, %v; want 0", i+1, n, err)
		}
	}
}

// TestLayerVerifiedRecord: with a record, a layer file is hashed against
// its diff ID once, then streamed unhashed while unchanged, as load sends
// it; a file changed since is hashed again and its mismatch found (#32).
func TestLayerVerifiedRecord(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 100_000)
	dir := t.TempDir()
	name := filepath.Join(dir, "layer")
	if err := os.WriteFile(name, body, 0o644); err != nil {
		t.Fatal(err)
	}
	old := racyMargin
	racyMargin = 20 * time.Millisecond
	t.Cleanup(func() { racyMargin = old })
	time.Sleep(2 * racyMargin)
	rec := OpenVerifiedRecord(filepath.Join(t.TempDir(), "rec"))
	d := newDir(dir)
	l := DirLayer{Path: "layer", DiffID: digest.FromBytes(body)}
	read := func() (int64, []byte, error) {
		t.Helper()
		before := bytesHashed.Load()
		rc, err := d.Layer(t.Context(), l, rec)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		return bytesHashed.Load() - before, got, err
	}
	for i, wantHashed := range []int64{int64(len(body)), 0} {
		hashed, got, err := read()
		if err != nil || !bytes.Equal(got, body) || hashed != wantHashed {
			t.Fatalf("read %d: %d bytes, %v, hashed %d; want the body, hashed %d", i+1, len(got), err, hashed, wantHashed)
		}
	}
	changed := bytes.Clone(body)
	changed[0] = 'X'
	if err := os.WriteFile(name, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	hashed, _, err := read()
	var dm *DigestMismatchError
	if !errors.As(err, &dm) || hashed != int64(len(body)) {
		t.Fatalf("read of the changed file: %v, hashed %d; want a digest mismatch, hashed again", err, hashed)
	}
}
