//go:build linux

package imgsave

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
)

// fakeSIF is a SIF file as Apptainer's build from "oci:<from>" lays it
// out (a definition recording the source, then a file system partition),
// cut to cut bytes when cut > 0.
func fakeSIF(from string, cut int) []byte {
	def := "bootstrap: oci\nfrom: " + from + "\n\n"
	const descs = 2
	dataOff := int64(sifHeaderLen + descs*sifDescLen)
	part := bytes.Repeat([]byte{'S'}, 4096)
	var b bytes.Buffer
	h := sifHeader{DescsTotal: descs, DescsOffset: sifHeaderLen, DescsLen: descs * sifDescLen, DataOffset: dataOff, DataLen: int64(len(def) + len(part))}
	copy(h.Launch[:], "#!/usr/bin/env run-singularity\n")
	copy(h.Magic[:], "SIF_MAGIC")
	copy(h.Version[:], "01")
	binary.Write(&b, binary.LittleEndian, h)
	for i, d := range []sifDesc{
		{DataType: sifDeffile, Used: true, ID: 1, Offset: dataOff, Size: int64(len(def))},
		{DataType: sifPartition, Used: true, ID: 2, Offset: dataOff + int64(len(def)), Size: int64(len(part))},
	} {
		binary.Write(&b, binary.LittleEndian, d)
		b.Write(make([]byte, sifHeaderLen+(i+1)*sifDescLen-b.Len()))
	}
	b.WriteString(def)
	b.Write(part)
	if cut > 0 {
		return b.Bytes()[:cut]
	}
	return b.Bytes()
}

// fakeBuilder stands in for Apptainer's build, which a unit test cannot
// run: it writes the SIF Apptainer would lay out, with the umask's mode.
type fakeBuilder struct {
	builds []loader.SIFBuild
}

func (f *fakeBuilder) BuildSIF(ctx context.Context, b loader.SIFBuild) error {
	f.builds = append(f.builds, b)
	return os.WriteFile(b.Dest, fakeSIF(".@"+b.Manifest, 0), 0o666)
}

// sifFixture is an image directory to build SIFs from and a default
// cache (XDG_CACHE_HOME) of the test's own.
func sifFixture(t *testing.T) (*archive.Dir, *archive.DirImage, string) {
	t.Helper()
	dir, _ := imageDir(t, "oci.tar")
	d, err := archive.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", home)
	return d, d.Images[0], filepath.Join(home, "imgsave", "sif")
}

// plant puts body at the SIF's name in dir, owned by uid:gid.
func plant(t *testing.T, dir string, m digest.Digest, body []byte, uid, gid int) string {
	t.Helper()
	p := filepath.Join(dir, sifName(m))
	if err := os.WriteFile(p, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
	return p
}

// sharedDir makes a cache folder with mode and group gid.
func sharedDir(t *testing.T, mode os.FileMode, gid int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 0, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLoadSIFRefusesPlanted: a SIF that another user could have put in
// the cache is not run, even with the right name and content (#28): the
// caller's own cache gets a fresh build, with a notice naming the file and
// its owner; a trusted owner's SIF runs.
func TestLoadSIFRefusesPlanted(t *testing.T) {
	uid, gid, name := testUser(t)
	tests := []struct {
		name    string
		mode    os.FileMode // of the shared cache, owned by root
		trust   []string
		planted bool   // the planted file is used
		notice  string // in the notices
		fix     string // in the notices
	}{
		{name: "world-writable cache", mode: 0o777, notice: "is writable by every user", fix: "chmod o-w or +t"},
		{name: "sticky cache, another user's SIF", mode: 0o777 | os.ModeSticky, notice: "belongs to " + name, fix: "--sif-trust-owner " + name},
		{name: "sticky cache, a trusted owner's SIF", mode: 0o777 | os.ModeSticky, trust: []string{name}, planted: true},
		{name: "setgid group cache", mode: 0o775 | os.ModeSetgid, notice: "is writable by group", fix: "--sif-trust-owner %"},
		{name: "setgid group cache, the group trusted", mode: 0o775 | os.ModeSetgid, trust: []string{"%" + strconv.Itoa(gid)}, planted: true},
		{name: "root's cache, a file handed to another user", mode: 0o755, notice: "belongs to " + name, fix: "--sif-trust-owner " + name},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, im, own := sifFixture(t)
			shared := sharedDir(t, tc.mode, gid)
			p := plant(t, shared, im.ManifestDigest, fakeSIF(".@"+string(im.ManifestDigest), 0), uid, gid)
			var notices []string
			b := &fakeBuilder{}
			opts := LoadOptions{SIFCache: shared, SIFTrustedOwners: tc.trust}
			opts.Notice = func(s string) { notices = append(notices, s) }
			res, err := loadSIF(t.Context(), b, d, im, opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.planted {
				if res.SIF != p || len(b.builds) != 0 {
					t.Errorf("loadSIF = %s after %d builds, want the trusted %s", res.SIF, len(b.builds), p)
				}
				return
			}
			if want := filepath.Join(own, sifName(im.ManifestDigest)); res.SIF != want || len(b.builds) != 1 {
				t.Errorf("loadSIF = %s after %d builds, want %s built", res.SIF, len(b.builds), want)
			}
			if all := strings.Join(notices, "\n"); !strings.Contains(all, tc.notice) || !strings.Contains(all, tc.fix) {
				t.Errorf("notices %q, want one saying %q and how to trust it", notices, tc.notice)
			}
		})
	}
}

// TestLoadSIFRebuildsBad: a truncated SIF under the final name, one built
// from another image, a file that is no SIF and a link are rebuilt, and
// the notice names the file (#28).
func TestLoadSIFRebuildsBad(t *testing.T) {
	tests := []struct {
		name, notice string
		body         func(m digest.Digest) []byte
	}{
		{"truncated", "is truncated", func(m digest.Digest) []byte { return fakeSIF(".@"+string(m), 2000) }},
		{"another image's", "was built from", func(m digest.Digest) []byte { return fakeSIF(".@"+string(digest.FromString("other")), 0) }},
		{"built by hand", "was built from", func(m digest.Digest) []byte { return fakeSIF("docker://busybox", 0) }},
		{"not a SIF", "is not a SIF file", func(m digest.Digest) []byte { return []byte("hello") }},
		{"a symbolic link", "is a symbolic link", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, im, _ := sifFixture(t)
			cache := t.TempDir()
			var p string
			if tc.body == nil {
				// A link to a whole SIF of the image elsewhere.
				elsewhere := plant(t, t.TempDir(), im.ManifestDigest, fakeSIF(".@"+string(im.ManifestDigest), 0), os.Getuid(), os.Getgid())
				p = filepath.Join(cache, sifName(im.ManifestDigest))
				if err := os.Symlink(elsewhere, p); err != nil {
					t.Fatal(err)
				}
			} else {
				p = plant(t, cache, im.ManifestDigest, tc.body(im.ManifestDigest), os.Getuid(), os.Getgid())
			}
			var notices []string
			b := &fakeBuilder{}
			opts := LoadOptions{SIFCache: cache}
			opts.Notice = func(s string) { notices = append(notices, s) }
			res, err := loadSIF(t.Context(), b, d, im, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.SIF != p || len(b.builds) != 1 {
				t.Fatalf("loadSIF = %s after %d builds, want %s rebuilt", res.SIF, len(b.builds), p)
			}
			if got, _ := os.ReadFile(p); !bytes.Equal(got, fakeSIF(".@"+string(im.ManifestDigest), 0)) {
				t.Errorf("%s holds %d bytes, not the build's", p, len(got))
			}
			if all := strings.Join(notices, "\n"); !strings.Contains(all, p+" "+tc.notice) {
				t.Errorf("notices %q, want %q", notices, p+" "+tc.notice)
			}
			if CachedSIF(cache, im.ManifestDigest) != p {
				t.Errorf("CachedSIF does not find the rebuilt %s", p)
			}
		})
	}
}

// TestLoadSIFSiteCache: a read-only site cache is consulted first, and
// used only when its owner is trusted; otherwise the caller's cache gets
// a build and a notice says why (#28).
func TestLoadSIFSiteCache(t *testing.T) {
	uid, gid, name := testUser(t)
	for _, trusted := range []bool{false, true} {
		t.Run(fmt.Sprint("trusted=", trusted), func(t *testing.T) {
			d, im, own := sifFixture(t)
			site := sharedDir(t, 0o755, gid)
			if err := os.Chown(site, uid, gid); err != nil {
				t.Fatal(err)
			}
			p := plant(t, site, im.ManifestDigest, fakeSIF(".@"+string(im.ManifestDigest), 0), uid, gid)
			b := &fakeBuilder{}
			var notices []string
			opts := LoadOptions{SIFSiteCaches: []string{filepath.Join(t.TempDir(), "missing"), site}}
			if trusted {
				opts.SIFTrustedOwners = []string{name}
			}
			opts.Notice = func(s string) { notices = append(notices, s) }
			res, err := loadSIF(t.Context(), b, d, im, opts)
			if err != nil {
				t.Fatal(err)
			}
			want := p
			if !trusted {
				want = filepath.Join(own, sifName(im.ManifestDigest))
				if len(notices) == 0 || !strings.Contains(notices[0], site+" belongs to "+name) {
					t.Errorf("notices %q, want the site cache named with its owner", notices)
				}
			}
			if res.SIF != want {
				t.Errorf("loadSIF = %s, want %s", res.SIF, want)
			}
		})
	}
}

// TestLoadSIFGroupCache: in a setgid group cache that imgsave did not
// create, a SIF built under umask 077 is readable by the group and keeps
// the folder's group; the lock is group-writable, so that flock works for
// the group on NFS; the default cache imgsave creates is 0755 under the
// usual umask 022 (#28).
func TestLoadSIFGroupCache(t *testing.T) {
	_, gid, _ := testUser(t)
	d, im, own := sifFixture(t)
	shared := sharedDir(t, 0o775|os.ModeSetgid, gid)
	old := syscall.Umask(0o077)
	res, err := loadSIF(t.Context(), &fakeBuilder{}, d, im, LoadOptions{SIFCache: shared, SIFTrustedOwners: []string{"%" + strconv.Itoa(gid)}})
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{{res.SIF, 0o644}, {filepath.Join(shared, "."+im.ManifestDigest.Encoded()+".lock"), 0o664}} {
		fi, err := os.Stat(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != f.mode || int(st.Gid) != gid {
			t.Errorf("%s: mode %v group %d, want %v group %d", f.name, fi.Mode().Perm(), st.Gid, f.mode, gid)
		}
	}
	old = syscall.Umask(0o022)
	defer syscall.Umask(old)
	if _, err := loadSIF(t.Context(), &fakeBuilder{}, d, im, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(own); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the default cache %s: %v, %v, want mode 0755", own, fi.Mode(), err)
	}
}

// TestLoadSIFBuildsPrivately: the build writes into a private folder that
// no other user can plant a link in, and a link planted where an earlier
// version put its temporary files is removed, not followed (#28).
func TestLoadSIFBuildsPrivately(t *testing.T) {
	d, im, _ := sifFixture(t)
	cache := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	hex := im.ManifestDigest.Encoded()
	link := filepath.Join(cache, ".tmp-"+hex+"-planted")
	if err := os.Symlink(filepath.Dir(victim), link); err != nil {
		t.Fatal(err)
	}
	b := &fakeBuilder{}
	if _, err := loadSIF(t.Context(), b, d, im, LoadOptions{SIFCache: cache}); err != nil {
		t.Fatal(err)
	}
	if len(b.builds) != 1 {
		t.Fatalf("%d builds, want 1", len(b.builds))
	}
	// Checked after the build: the folder is gone, so its mode is read
	// from what the builder saw, by name.
	if dest := filepath.Dir(b.builds[0].Dest); dest == cache {
		t.Errorf("the build wrote %s straight into the shared folder, want a private folder", b.builds[0].Dest)
	}
	if _, err := os.Lstat(link); err == nil {
		t.Errorf("the planted link %s is still there", link)
	}
	if got, _ := os.ReadFile(victim); string(got) != "keep" {
		t.Errorf("the file behind the planted link was changed: %q", got)
	}
	left, _ := filepath.Glob(filepath.Join(cache, ".[tv]*"))
	if len(left) != 0 {
		t.Errorf("leftovers %q", left)
	}
}

// TestSIFTrustNames: trusted owners are users or %groups of this system,
// by name or number; anything else is an *OptionError, never ignored.
func TestSIFTrustNames(t *testing.T) {
	for _, tc := range []struct {
		owner string
		ok    bool
	}{
		{"root", true}, {"0", true}, {"%root", true}, {"%0", true}, {" root ", true},
		{"no-such-user-imgsave", false}, {"%no-such-group-imgsave", false}, {"%", false}, {"-1", false},
	} {
		_, err := newSIFTrust([]string{tc.owner})
		var opt *OptionError
		if tc.ok != (err == nil) || (err != nil && !errors.As(err, &opt)) {
			t.Errorf("newSIFTrust(%q) = %v, want ok=%v or an *OptionError", tc.owner, err, tc.ok)
		}
	}
}

// FuzzCheckSIF: checkSIF reads any bytes without panicking, and accepts
// only a file whose recorded source is the image's and whose objects lie
// inside it.
func FuzzCheckSIF(f *testing.F) {
	m := digest.FromString("manifest")
	f.Add(fakeSIF(".@"+string(m), 0))
	f.Add(fakeSIF(".@"+string(m), 1500))
	f.Add(fakeSIF("docker://x", 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkSIF(bytes.NewReader(b), int64(len(b)), m) == "" && !bytes.Contains(b, []byte("from: .@"+string(m))) {
			t.Errorf("checkSIF accepted a file that does not record %s", m)
		}
	})
}
