//go:build linux

package loader

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

// fakeBuild stands in for the root package's build of a SIF (Apptainer
// reading an image directory), which a unit test cannot run: it writes the
// SIF Apptainer would lay out, with the umask's mode, and records where.
type fakeBuild struct {
	dests []string
}

// loadSIF finds or builds the SIF of m in c as the root package does.
func loadSIF(ctx context.Context, b *fakeBuild, m digest.Digest, c SIFCache) (string, error) {
	s, err := c.Lookup(m)
	if err != nil {
		return "", err
	}
	p, _, err := s.Build(ctx, func(ctx context.Context, work, dest string) error {
		b.dests = append(b.dests, dest)
		return os.WriteFile(dest, fakeSIF(".@"+string(m), 0), 0o666)
	})
	return p, err
}

// sifFixture is an image's manifest digest and a default cache
// (XDG_CACHE_HOME) of the test's own.
func sifFixture(t *testing.T) (digest.Digest, string) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", home)
	return digest.FromString("a manifest"), filepath.Join(home, "imgsave", "sif")
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

// TestSIFCacheRefusesPlanted: a SIF that another user could have put in
// the cache is not run, even with the right name and content (#28): the
// caller's own cache gets a fresh build, with a notice naming the file and
// its owner; a trusted owner's SIF runs.
func TestSIFCacheRefusesPlanted(t *testing.T) {
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
			m, own := sifFixture(t)
			shared := sharedDir(t, tc.mode, gid)
			p := plant(t, shared, m, fakeSIF(".@"+string(m), 0), uid, gid)
			var notices []string
			b := &fakeBuild{}
			c := SIFCache{Dir: shared, TrustedOwners: tc.trust}
			c.Notice = func(s string) { notices = append(notices, s) }
			sif, err := loadSIF(t.Context(), b, m, c)
			if err != nil {
				t.Fatal(err)
			}
			if tc.planted {
				if sif != p || len(b.dests) != 0 {
					t.Errorf("loadSIF = %s after %d builds, want the trusted %s", sif, len(b.dests), p)
				}
				return
			}
			if want := filepath.Join(own, sifName(m)); sif != want || len(b.dests) != 1 {
				t.Errorf("loadSIF = %s after %d builds, want %s built", sif, len(b.dests), want)
			}
			if all := strings.Join(notices, "\n"); !strings.Contains(all, tc.notice) || !strings.Contains(all, tc.fix) {
				t.Errorf("notices %q, want one saying %q and how to trust it", notices, tc.notice)
			}
		})
	}
}

// TestSIFCacheRebuildsBad: a truncated SIF under the final name, one built
// from another image, a file that is no SIF and a link are rebuilt, and
// the notice names the file (#28).
func TestSIFCacheRebuildsBad(t *testing.T) {
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
			m, _ := sifFixture(t)
			cache := t.TempDir()
			var p string
			if tc.body == nil {
				// A link to a whole SIF of the image elsewhere.
				elsewhere := plant(t, t.TempDir(), m, fakeSIF(".@"+string(m), 0), os.Getuid(), os.Getgid())
				p = filepath.Join(cache, sifName(m))
				if err := os.Symlink(elsewhere, p); err != nil {
					t.Fatal(err)
				}
			} else {
				p = plant(t, cache, m, tc.body(m), os.Getuid(), os.Getgid())
			}
			var notices []string
			b := &fakeBuild{}
			c := SIFCache{Dir: cache}
			c.Notice = func(s string) { notices = append(notices, s) }
			sif, err := loadSIF(t.Context(), b, m, c)
			if err != nil {
				t.Fatal(err)
			}
			if sif != p || len(b.dests) != 1 {
				t.Fatalf("loadSIF = %s after %d builds, want %s rebuilt", sif, len(b.dests), p)
			}
			if got, _ := os.ReadFile(p); !bytes.Equal(got, fakeSIF(".@"+string(m), 0)) {
				t.Errorf("%s holds %d bytes, not the build's", p, len(got))
			}
			if all := strings.Join(notices, "\n"); !strings.Contains(all, p+" "+tc.notice) {
				t.Errorf("notices %q, want %q", notices, p+" "+tc.notice)
			}
			if CachedSIF(cache, m) != p {
				t.Errorf("CachedSIF does not find the rebuilt %s", p)
			}
		})
	}
}

// TestSIFCacheSiteCache: a read-only site cache is consulted first, and
// used only when its owner is trusted; otherwise the caller's cache gets
// a build and a notice says why (#28).
func TestSIFCacheSiteCache(t *testing.T) {
	uid, gid, name := testUser(t)
	for _, trusted := range []bool{false, true} {
		t.Run(fmt.Sprint("trusted=", trusted), func(t *testing.T) {
			m, own := sifFixture(t)
			site := sharedDir(t, 0o755, gid)
			if err := os.Chown(site, uid, gid); err != nil {
				t.Fatal(err)
			}
			p := plant(t, site, m, fakeSIF(".@"+string(m), 0), uid, gid)
			b := &fakeBuild{}
			var notices []string
			c := SIFCache{Sites: []string{filepath.Join(t.TempDir(), "missing"), site}}
			if trusted {
				c.TrustedOwners = []string{name}
			}
			c.Notice = func(s string) { notices = append(notices, s) }
			sif, err := loadSIF(t.Context(), b, m, c)
			if err != nil {
				t.Fatal(err)
			}
			want := p
			if !trusted {
				want = filepath.Join(own, sifName(m))
				if len(notices) == 0 || !strings.Contains(notices[0], site+" belongs to "+name) {
					t.Errorf("notices %q, want the site cache named with its owner", notices)
				}
			}
			if sif != want {
				t.Errorf("loadSIF = %s, want %s", sif, want)
			}
		})
	}
}

// TestSIFCacheGroupCache: in a setgid group cache that imgsave did not
// create, a SIF built under umask 077 is readable by the group and keeps
// the folder's group; the lock is group-writable, so that flock works for
// the group on NFS; the default cache imgsave creates is 0755 under the
// usual umask 022 (#28).
func TestSIFCacheGroupCache(t *testing.T) {
	_, gid, _ := testUser(t)
	m, own := sifFixture(t)
	shared := sharedDir(t, 0o775|os.ModeSetgid, gid)
	old := syscall.Umask(0o077)
	sif, err := loadSIF(t.Context(), &fakeBuild{}, m, SIFCache{Dir: shared, TrustedOwners: []string{"%" + strconv.Itoa(gid)}})
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{{sif, 0o644}, {filepath.Join(shared, "."+m.Encoded()+".lock"), 0o664}} {
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
	if _, err := loadSIF(t.Context(), &fakeBuild{}, m, SIFCache{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(own); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the default cache %s: %v, %v, want mode 0755", own, fi.Mode(), err)
	}
}

// TestSIFCacheBuildsPrivately: the build writes into a private folder that
// no other user can plant a link in, and a link planted where an earlier
// version put its temporary files is removed, not followed (#28).
func TestSIFCacheBuildsPrivately(t *testing.T) {
	m, _ := sifFixture(t)
	cache := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	hex := m.Encoded()
	link := filepath.Join(cache, ".tmp-"+hex+"-planted")
	if err := os.Symlink(filepath.Dir(victim), link); err != nil {
		t.Fatal(err)
	}
	b := &fakeBuild{}
	if _, err := loadSIF(t.Context(), b, m, SIFCache{Dir: cache}); err != nil {
		t.Fatal(err)
	}
	if len(b.dests) != 1 {
		t.Fatalf("%d builds, want 1", len(b.dests))
	}
	// Checked after the build: the folder is gone, so its mode is read
	// from what the builder saw, by name.
	if dest := filepath.Dir(b.dests[0]); dest == cache {
		t.Errorf("the build wrote %s straight into the shared folder, want a private folder", b.dests[0])
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
// by name or number; anything else is an *OwnerError, never ignored.
func TestSIFTrustNames(t *testing.T) {
	for _, tc := range []struct {
		owner string
		ok    bool
	}{
		{"root", true}, {"0", true}, {"%root", true}, {"%0", true}, {" root ", true},
		{"no-such-user-imgsave", false}, {"%no-such-group-imgsave", false}, {"%", false}, {"-1", false},
	} {
		_, err := newSIFTrust([]string{tc.owner})
		var oe *OwnerError
		if tc.ok != (err == nil) || (err != nil && !errors.As(err, &oe)) {
			t.Errorf("newSIFTrust(%q) = %v, want ok=%v or an *OwnerError", tc.owner, err, tc.ok)
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
