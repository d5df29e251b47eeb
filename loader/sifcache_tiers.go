package loader

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/opencontainers/go-digest"
)

// SIFCache is where the SIF files Apptainer runs are found and built: the
// read-only site caches first, then the caller's own (see [SIFCache.Lookup]).
//
// A SIF is run only when no one but the caller, root and the trusted
// owners could have put it there: the file and every folder above it
// belong to them, and no folder is writable by others unless sticky. It
// must also be whole and record the image's manifest digest (checkSIF). A
// SIF of a site cache that fails this is named in a notice and skipped;
// one in the caller's cache is rebuilt, or, when the cache is shared and
// the file another user's, built into the caller's own default cache
// instead.
type SIFCache struct {
	// Dir is the caller's cache; "" means the default (see [SIFCacheDir]).
	Dir string
	// Sites are read-only caches, filled by an administrator or a
	// service account, consulted before Dir.
	Sites []string
	// TrustedOwners are users (names or uids) and %groups, besides the
	// caller and root, whose SIF files may run.
	TrustedOwners []string
	// Notice, when not nil, is told what the cache skips, waits for or
	// cannot do.
	Notice func(msg string)
}

func (c SIFCache) notice(msg string) {
	if c.Notice != nil {
		c.Notice(msg)
	}
}

// SIFCacheDir is the folder holding the SIF files built for Apptainer:
// dir when given, else imgsave/sif in the user's cache directory
// (~/.cache/imgsave/sif on Linux).
func SIFCacheDir(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("the SIF cache: %w", err)
	}
	return filepath.Join(cache, "imgsave", "sif"), nil
}

// sifName is the file name of the SIF built from the image whose manifest
// digest is m: the digest alone, so that every clone, path and node finds
// the same file.
func sifName(m digest.Digest) string { return m.Algorithm().String() + "-" + m.Encoded() + ".sif" }

// shortDigest is m's first 12 hex digits, as docker shows an image ID.
func shortDigest(m digest.Digest) string {
	e := m.Encoded()
	return e[:min(12, len(e))]
}

// CachedSIF returns the path of the SIF file of the image whose manifest
// digest is m in the cache folder, or "" when it has not been built, or
// when the file there is not one imgsave would run: another user could
// have written it, or it is not whole, or it was built from another image.
func CachedSIF(cache string, m digest.Digest) string {
	if m == "" {
		return ""
	}
	t, _ := newSIFTrust(nil)
	dir, err := filepath.EvalSymlinks(cache)
	if err != nil {
		return ""
	}
	p, _ := findSIF(dir, m, t)
	return p
}

// SIFSlot is the place of one image's SIF in a [SIFCache], found by
// [SIFCache.Lookup].
type SIFSlot struct {
	// Path is the SIF file to run, or "" when it is to be built
	// ([SIFSlot.Build]).
	Path string
	// Dir is the folder, without links, where it is built.
	Dir string

	c     SIFCache
	m     digest.Digest
	trust *sifTrust
}

// Lookup finds the SIF of the image whose manifest digest is m: in a site
// cache, else in the caller's cache, which it creates (0755) when missing.
// An untrusted owner gives an *OwnerError; a caller's cache that others
// could write, an *UntrustedSIFError.
func (c SIFCache) Lookup(m digest.Digest) (*SIFSlot, error) {
	trust, err := newSIFTrust(c.TrustedOwners)
	if err != nil {
		return nil, err
	}
	s := &SIFSlot{c: c, m: m, trust: trust}
	for _, site := range c.Sites {
		if site == "" {
			continue
		}
		dir, err := filepath.EvalSymlinks(site)
		if err == nil {
			s.Path, err = findSIF(dir, m, trust)
		}
		if s.Path != "" {
			return s, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.notice(fmt.Sprintf("site SIF cache: %v", err))
		}
	}
	if s.Dir, err = c.writable(trust, m); err != nil {
		return nil, err
	}
	if s.Path, err = findSIF(s.Dir, m, trust); s.Path != "" || !canRebuild(err) {
		return s, err
	}
	return s, nil
}

// canRebuild reports whether findSIF's err leaves the file to be
// (re)built: none is there, or the one there is not the image's SIF.
func canRebuild(err error) bool {
	bad := (*BadSIFError)(nil)
	return err == nil || errors.As(err, &bad)
}

// writable is the folder, without links, where the caller builds SIFs:
// c.Dir, or the default cache when that is not given, or when the folder
// or the image's SIF in it belongs to someone untrusted (a shared cache),
// with a notice. The error names what is untrusted.
func (c SIFCache) writable(trust *sifTrust, m digest.Digest) (string, error) {
	dirs := []string{c.Dir}
	if c.Dir != "" {
		dirs = append(dirs, "")
	}
	var prev error
	for _, d := range dirs {
		d, err := SIFCacheDir(d)
		if err != nil {
			return "", err
		}
		if prev != nil {
			c.notice(fmt.Sprintf("%v: building the SIF in %s instead", prev, d))
		}
		cache, err := cacheFolder(d, trust)
		if err == nil {
			if _, err = findSIF(cache, m, trust); canRebuild(err) {
				return cache, nil
			}
		}
		if u := (*UntrustedSIFError)(nil); !errors.As(err, &u) {
			return "", err
		}
		prev = err
	}
	return "", prev
}

// Build builds the SIF into s.Dir with build, which writes the file dest
// in the private folder work, and returns its path; built is false when
// another process built it meanwhile. A slot whose Path is set returns it.
//
// The file is built in a private folder in the cache (0700, made by
// mkdir, which never follows a link: nothing another user plants in the
// cache can redirect what the build writes) and renamed into place, so a
// build that is killed or fails leaves no file under the final name, and a
// reader never sees half a file. Concurrent builds of one image are
// serialised by a lock file in the cache folder (flock, which Linux
// carries over NFS as a POSIX lock, so nodes sharing the cache exclude
// each other). Where the filesystem refuses locks (Lustre without -o
// flock, some FUSE filesystems, NFS for a lock file read-only to the
// caller) it builds without one, with a notice: a duplicate build costs
// time but no harm, because builds are reproducible and the rename
// replaces the file with the same bytes. Under the lock, what builds that
// did not finish left is removed first (see sweepSIF).
func (s *SIFSlot) Build(ctx context.Context, build func(ctx context.Context, work, dest string) error) (path string, built bool, err error) {
	if s.Path != "" {
		return s.Path, false, nil
	}
	cache, m := s.Dir, s.m
	hex := m.Encoded()
	unlock, err := LockFile(ctx, filepath.Join(cache, "."+hex+".lock"), func() {
		s.c.notice(fmt.Sprintf("waiting for another imgsave that is building the SIF of %s", shortDigest(m)))
	}, lockMode(cache))
	locked := err == nil
	switch {
	case locked:
		defer unlock()
	case ctx.Err() == nil && lockUnsupported(err):
		s.c.notice(fmt.Sprintf("%s takes no locks (%v): building without one; a build elsewhere at the same time writes the same bytes", cache, errors.Unwrap(err)))
	default:
		return "", false, err
	}
	p, err := findSIF(cache, m, s.trust)
	switch bad := (*BadSIFError)(nil); {
	case p != "" || !canRebuild(err):
		return p, false, err
	case errors.As(err, &bad):
		s.c.notice(fmt.Sprintf("%v: rebuilding it", err))
	}
	if locked {
		// Under the lock, another build's folder is a dead one's.
		sweepSIF(cache, m, s.c.notice)
	}
	work, err := os.MkdirTemp(cache, ".tmp-"+hex+"-")
	if err != nil {
		return "", false, fmt.Errorf("the SIF cache: %w", err)
	}
	defer os.RemoveAll(work)
	tmp := filepath.Join(work, "image.sif")
	if err := build(ctx, work, tmp); err != nil {
		return "", false, err
	}
	final := filepath.Join(cache, sifName(m))
	err = os.Chmod(tmp, sharedMode(cache, 0o600))
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		return "", false, err
	}
	syncFile(cache)
	return final, true, nil
}

// lockMode is the mode of a lock file imgsave creates in the cache folder
// dir: readable by those who may enter the folder, so that they can take
// the lock too, and writable by the group when the group may write the
// folder (it could replace the file anyway), because flock on NFS needs a
// file open for writing.
func lockMode(dir string) fs.FileMode {
	m := sharedMode(dir, 0o600)
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o020 != 0 {
		m |= 0o020
	}
	return m
}

// lockUnsupported reports whether a lock failed because the filesystem
// offers none, rather than for a reason that should stop the build.
func lockUnsupported(err error) bool {
	return errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.ENOSYS) ||
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, errors.ErrUnsupported) ||
		errors.Is(err, syscall.EBADF)
}

// syncFile flushes a file, or a folder's entries, to disk.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	return nil
}
