package loader

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
)

// UntrustedSIFError is a SIF file, or a folder above it, that someone
// other than the caller, root and the trusted owners could have written:
// imgsave does not run it (#28).
type UntrustedSIFError struct {
	Path  string // the file or folder at fault
	Owner string // its owner's name
	Why   string // "belongs to bob", "is writable by group lab"
	Fix   string // how to trust it
}

func (e *UntrustedSIFError) Error() string {
	return fmt.Sprintf("%s %s, so another user could have put a SIF there; not run (%s)", e.Path, e.Why, e.Fix)
}

// OwnerError is a trusted owner ([SIFCache] TrustedOwners) that names no
// user or group of this system.
type OwnerError struct {
	Owner string
}

// ownerWant is what a trusted owner must be.
const ownerWant = "a user name or uid, or %group (a group name or gid) of this system"

func (e *OwnerError) Error() string {
	return fmt.Sprintf("SIF trusted owner %q: want %s", e.Owner, ownerWant)
}

// Want says what a trusted owner must be.
func (e *OwnerError) Want() string { return ownerWant }

// BadSIFError is a file under a SIF's name in the cache that is not the
// SIF of the image asked for: truncated, built from another image, not a
// SIF at all. imgsave rebuilds it.
type BadSIFError struct {
	Path string
	Why  string
}

func (e *BadSIFError) Error() string { return e.Path + " " + e.Why }

// The SIF format (github.com/apptainer/sif, pkg/sif): a 128-byte global
// header, then descriptors of 585 bytes, little-endian.
const (
	sifHeaderLen  = 128
	sifDescLen    = 585
	sifMaxDescs   = 4096    // far above the 48 Apptainer reserves
	sifMaxDeffile = 1 << 16 // imgsave's builds record two short lines
	sifDeffile    = 0x4001
	sifPartition  = 0x4004
)

// sifHeader is the part of the SIF global header imgsave reads.
type sifHeader struct {
	Launch                                       [32]byte
	Magic                                        [10]byte
	Version                                      [3]byte
	Arch                                         [3]byte
	ID                                           [16]byte
	Created, Modified                            int64
	DescsFree, DescsTotal, DescsOffset, DescsLen int64
	DataOffset, DataLen                          int64
}

// sifDesc is the part of a SIF descriptor imgsave reads.
type sifDesc struct {
	DataType                 int32
	Used                     bool
	ID, GroupID, LinkedID    uint32
	Offset, Size, SizePadded int64
}

// checkSIF reads, bounded, the header and descriptors of the SIF file r of
// size bytes, and reports why it is not the SIF imgsave built from the
// image whose manifest digest is m, or "" when it is: every object lies
// inside the file (a truncated copy fails here, not in Apptainer's "bad
// superblock"), it has a file system partition, and its definition, which
// Apptainer records from the build's source "oci:.@<manifest digest>"
// ([Apptainer.BuildSIF]), names m.
func checkSIF(r io.ReaderAt, size int64, m digest.Digest) string {
	var h sifHeader
	if err := binary.Read(io.NewSectionReader(r, 0, sifHeaderLen), binary.LittleEndian, &h); err != nil || string(h.Magic[:9]) != "SIF_MAGIC" {
		return "is not a SIF file"
	}
	end := func(off, n int64) int64 {
		if off < 0 || n < 0 || off > 1<<62 || n > 1<<62 {
			return 1 << 62
		}
		return off + n
	}
	if e := end(h.DataOffset, h.DataLen); e > size {
		return fmt.Sprintf("is truncated: %d bytes, where its header says %d", size, e)
	}
	if h.DescsTotal < 0 || h.DescsTotal > sifMaxDescs || end(h.DescsOffset, h.DescsTotal*sifDescLen) > size {
		return "is not a SIF file (its descriptors lie outside it)"
	}
	from, part := "", false
	for i := int64(0); i < h.DescsTotal; i++ {
		var d sifDesc
		if err := binary.Read(io.NewSectionReader(r, h.DescsOffset+i*sifDescLen, sifDescLen), binary.LittleEndian, &d); err != nil {
			return "is not a SIF file"
		}
		if !d.Used {
			continue
		}
		if e := end(d.Offset, d.Size); e > size {
			return fmt.Sprintf("is truncated: %d bytes, where its object %d ends at %d", size, d.ID, e)
		}
		switch d.DataType {
		case sifPartition:
			part = true
		case sifDeffile:
			sc := bufio.NewScanner(io.NewSectionReader(r, d.Offset, min(d.Size, sifMaxDeffile)))
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "from: "); ok {
					from = v
				}
			}
		}
	}
	switch want := ".@" + string(m); {
	case !part:
		return "holds no file system"
	case from == want:
		return ""
	case from == "":
		return fmt.Sprintf("records no source (imgsave's build of %s records %q)", shortDigest(m), want)
	default:
		return fmt.Sprintf("was built from %q, not from %s", printableShort(from), m)
	}
}

// printableShort bounds a string read from a file for an error message.
func printableShort(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return s
}

// findSIF looks in the cache folder dir (a path without links) for the
// SIF of the image whose manifest digest is m, and returns its path when
// it is there, trusted and whole. It returns "" and nil when there is
// none, an *UntrustedSIFError when the folder or the file could have been
// written by someone untrusted, and a *BadSIFError when the file is not
// the image's SIF.
//
// The file is opened without following links and judged by the opened
// file (fstat), so what is checked is what was opened. Apptainer then
// opens it again by name: in between, only who may write the folder can
// replace it, and checkDir has found that to be trusted users alone.
func findSIF(dir string, m digest.Digest, t *sifTrust) (string, error) {
	p := filepath.Join(dir, sifName(m))
	f, err := openNoFollow(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err := t.checkDir(dir); err != nil {
		if f != nil {
			f.Close()
		}
		return "", err
	}
	if err != nil {
		// A link, or a file the caller may not read: whose is it?
		if fi, lerr := os.Lstat(p); lerr == nil {
			if err := t.check(p, fi); err != nil {
				return "", err
			}
		}
		if bad := (*BadSIFError)(nil); errors.As(err, &bad) {
			return "", err
		}
		return "", &BadSIFError{Path: p, Why: fmt.Sprintf("cannot be read (%v)", errors.Unwrap(err))}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if err := t.check(p, fi); err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", &BadSIFError{Path: p, Why: "is not a regular file"}
	}
	if why := checkSIF(f, fi.Size(), m); why != "" {
		return "", &BadSIFError{Path: p, Why: why}
	}
	return p, nil
}

// cacheFolder makes the SIF cache folder dir when missing, readable by all
// but writable only by the caller (0755: see README "On a cluster"), and
// returns its path without links after checking it is trusted.
func cacheFolder(dir string, t *sifTrust) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("the SIF cache: %w", err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("the SIF cache: %w", err)
	}
	return real, t.checkDir(real)
}

// sharedMode is the mode of a file imgsave creates in the folder dir,
// from base (0600 for a SIF, for instance): readable also by the group
// and by others when they may enter the folder, whatever the umask, so
// that a SIF built in a group's cache by a user whose umask is 077 runs
// for the whole group.
func sharedMode(dir string, base fs.FileMode) fs.FileMode {
	fi, err := os.Stat(dir)
	if err != nil {
		return base
	}
	return base | (fi.Mode().Perm()&0o011)<<2
}

// sweepSIF removes what builds of the SIF of m that did not finish left
// in the cache folder dir: imgsave's private build folders (.tmp-HEX-*)
// and, from earlier versions, temporary files and layout views. The
// caller holds the image's lock, so no build of it is running. A leftover
// that cannot be removed (another user's, in a sticky folder) is named in
// a notice.
func sweepSIF(dir string, m digest.Digest, notice func(string)) {
	hex := m.Encoded()
	old, _ := filepath.Glob(filepath.Join(dir, ".tmp-"+hex+"-*"))
	views, _ := filepath.Glob(filepath.Join(dir, ".view-"+hex[:12]+"-*"))
	for _, f := range append(old, views...) {
		if err := os.RemoveAll(f); err != nil {
			owner := "?"
			if fi, err := os.Lstat(f); err == nil {
				owner = ownerName(fi)
			}
			notice(fmt.Sprintf("cannot remove %s, left by a build that did not finish (it belongs to %s): %v; ask them or the cache's owner to remove it", f, owner, errors.Unwrap(err)))
		}
	}
}
