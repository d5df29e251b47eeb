package imgdiff

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/archive"
)

// The bounds on what one image's layers may hold (see the package doc).
const (
	// MaxName bounds an entry's name and link target, in bytes: Linux's
	// PATH_MAX.
	MaxName = 4096
	// MaxEntries bounds the tar entries of the two images compared, all
	// their distinct layers together: each costs a few hundred bytes of
	// memory.
	MaxEntries = 1 << 20
	// MaxXattrBytes bounds the extended attributes (names and values)
	// of the two images compared, all entries together.
	MaxXattrBytes = 16 << 20
)

// Mode is an entry's permission bits with setuid, setgid and sticky,
// written in JSON as an octal string ("0755").
type Mode uint32

// String is the mode in octal, four digits.
func (m Mode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// MarshalJSON writes the mode as its String.
func (m Mode) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(m.String())), nil }

// Entry is what is kept of one tar entry of a layer: never its content,
// only the digest of a regular file's.
type Entry struct {
	Path string `json:"-"` // FileDiff.Path
	// Type is file, dir, symlink, hardlink, char, block or fifo.
	Type   string        `json:"type"`
	Mode   Mode          `json:"mode"`
	UID    int           `json:"uid"`
	GID    int           `json:"gid"`
	Uname  string        `json:"uname,omitempty"`
	Gname  string        `json:"gname,omitempty"`
	Size   int64         `json:"size,omitempty"`
	Digest digest.Digest `json:"digest,omitempty"` // a regular file's content
	// Link is a symbolic link's target, or the path a hard link names.
	Link string `json:"link,omitempty"`
	// Device is "major,minor" for char and block devices.
	Device  string            `json:"device,omitempty"`
	Xattrs  map[string]string `json:"xattrs,omitempty"`
	ModTime time.Time         `json:"mtime"`

	atime, ctime time.Time
}

// layer is one layer read: its entries by path, and the paths in the
// order the tar holds them (a path twice counts once, at its first place;
// the later entry wins, as when a tar is extracted).
type layer struct {
	entries map[string]*Entry
	order   []string
}

// budget is what is left of a comparison's bounds, shared by the
// layers read at once.
type budget struct {
	entries, xattrs atomic.Int64
}

func newBudget(entries, xattrs int64) *budget {
	b := &budget{}
	b.entries.Store(entries)
	b.xattrs.Store(xattrs)
	return b
}

// readLayer reads the layer l of d once, hashing its regular files.
func readLayer(ctx context.Context, d *archive.Dir, l archive.DirLayer, rec *archive.VerifiedRecord, b *budget, buf []byte) (*layer, error) {
	rc, err := d.Layer(ctx, l, rec)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	out, err := readTar(rc, b, buf)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.DiffID, err)
	}
	// The end-of-archive blocks and any padding after them are part of
	// the diff ID: read to the end, where the stream checks it.
	if _, err := io.CopyBuffer(io.Discard, rc, buf); err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.DiffID, err)
	}
	return out, nil
}

// readTar reads a layer's tar stream into entries, within b.
func readTar(r io.Reader, b *budget, buf []byte) (*layer, error) {
	out := &layer{entries: make(map[string]*Entry)}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		e, err := entry(hdr, b)
		if err != nil {
			return nil, err
		}
		if e == nil {
			continue
		}
		if e.Type == "file" {
			h := sha256.New()
			n, err := io.CopyBuffer(h, tr, buf)
			if err != nil {
				return nil, fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			e.Size, e.Digest = n, digest.NewDigest(digest.SHA256, h)
		}
		if _, dup := out.entries[e.Path]; !dup {
			out.order = append(out.order, e.Path)
		}
		out.entries[e.Path] = e
	}
}

// errRefused names an entry a real layer never holds.
func refuse(name, format string, args ...any) error {
	if len(name) > 256 {
		name = name[:256] + "…"
	}
	return fmt.Errorf("entry %q: %w: %s", name, archive.ErrRefused, fmt.Sprintf(format, args...))
}

// entry turns a header into an Entry within b; nil for the root folder.
func entry(hdr *tar.Header, b *budget) (*Entry, error) {
	if b.entries.Add(-1) < 0 {
		return nil, refuse(hdr.Name, "over %d entries in the image", MaxEntries)
	}
	if len(hdr.Name) > MaxName || len(hdr.Linkname) > MaxName {
		return nil, refuse(hdr.Name, "name or link target over %d bytes", MaxName)
	}
	p, err := cleanName(hdr.Name)
	if err != nil {
		return nil, refuse(hdr.Name, "%v", err)
	}
	if p == "" {
		return nil, nil // "./", the layer's root
	}
	if strings.ContainsRune(hdr.Linkname, 0) {
		return nil, refuse(hdr.Name, "link target has a NUL byte")
	}
	e := &Entry{Path: p, Mode: Mode(hdr.Mode & 0o7777), UID: hdr.Uid, GID: hdr.Gid, Uname: hdr.Uname, Gname: hdr.Gname,
		ModTime: hdr.ModTime.UTC(), atime: hdr.AccessTime.UTC(), ctime: hdr.ChangeTime.UTC()}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		e.Type = "file"
	case tar.TypeDir:
		e.Type = "dir"
	case tar.TypeSymlink:
		e.Type, e.Link = "symlink", hdr.Linkname
	case tar.TypeLink:
		// Never followed: the name it points to is its content.
		e.Type, e.Link = "hardlink", hdr.Linkname
		if l, err := cleanName(hdr.Linkname); err == nil {
			e.Link = l
		}
	case tar.TypeChar, tar.TypeBlock:
		e.Type = map[byte]string{tar.TypeChar: "char", tar.TypeBlock: "block"}[hdr.Typeflag]
		e.Device = fmt.Sprintf("%d,%d", hdr.Devmajor, hdr.Devminor)
	case tar.TypeFifo:
		e.Type = "fifo"
	case tar.TypeGNUSparse:
		return nil, refuse(hdr.Name, "sparse file")
	default:
		return nil, refuse(hdr.Name, "unsupported entry type %q", hdr.Typeflag)
	}
	for k, v := range hdr.PAXRecords {
		// Go's reader expands PAX sparse files, as archive.Extract says.
		if strings.HasPrefix(k, "GNU.sparse.") {
			return nil, refuse(hdr.Name, "sparse file")
		}
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if b.xattrs.Add(-int64(len(k)+len(v))) < 0 {
				return nil, refuse(hdr.Name, "over %d bytes of extended attributes in the image", MaxXattrBytes)
			}
			if e.Xattrs == nil {
				e.Xattrs = make(map[string]string)
			}
			e.Xattrs[name] = v
		}
	}
	return e, nil
}

var errDotDot = errors.New("has a .. component")

// cleanName is a tar name as a path relative to the layer's root, without
// "./", leading or trailing slashes: "" for the root itself. Names are
// only compared, never opened, so an absolute name is taken as relative
// (as tar does), but one with a ".." component is refused.
func cleanName(name string) (string, error) {
	if strings.ContainsRune(name, 0) {
		return "", errors.New("has a NUL byte")
	}
	var parts []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			return "", errDotDot
		default:
			parts = append(parts, c)
		}
	}
	return strings.Join(parts, "/"), nil
}
