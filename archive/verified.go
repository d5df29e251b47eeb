package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// A VerifiedRecord remembers the files whose content [Dir.WriteTarWith]
// hashed and found equal to their digest, so that a load of an unchanged
// layer sends it without hashing it again (#29), as git's index and
// git-annex's inode cache skip unchanged files.
//
// # What it trusts
//
// A file is known by its real path, its filesystem's device, its inode,
// size, modification time and status-change time (ctime). Every write to a
// file, and every change of its times, sets its ctime to the current time,
// and no system call sets it back: only root can, by setting the clock. So
// a file whose five values are those recorded when it was hashed has the
// content that was hashed, against anyone but root, who could also replace
// the program.
//
// That holds only where the kernel keeps ctime itself: the record is used
// on local filesystems only (ext2/3/4, xfs, btrfs, tmpfs, zfs, f2fs), never
// on a network or FUSE filesystem, whose times come from a server or a
// process, and only on Linux. A file is recorded only if its ctime is a
// second older than the hash that verified it, so that a change within the
// same tick of a coarse clock still shows; the file is checked again after
// it is sent unhashed, and a change in between fails the send before the
// manifests, as a digest mismatch does.
//
// The record is one file, DIR/verified, that only its owner may write: a
// folder or file not owned by the effective user, or writable by group or
// others, is ignored, and so is a record that does not parse (it is a
// cache: losing it costs one hash per file). It holds at most
// [maxVerified] files, the most recent, and is replaced by write-to-temp and
// rename, so that concurrent loads lose at most each other's additions.
//
// Verify never uses it: `imgsave verify` hashes every byte.
type VerifiedRecord struct {
	dir     string
	trusted bool // dir is the caller's alone, or does not exist yet

	mu      sync.Mutex
	entries map[fileKey]digest.Digest
	order   []fileKey // oldest first
	added   bool
}

// fileKey is what identifies a file's content; see [VerifiedRecord].
type fileKey struct {
	path         string
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds since 1970
}

const (
	recordName   = "verified"
	recordHeader = "imgsave verified-files 1"
	// maxVerified bounds the record: enough for the layers of many images,
	// about 256 bytes each.
	maxVerified = 10000
)

// racyMargin is how much older than the hash a file's ctime must be to be
// recorded (git's "racily clean" entries); a variable for the tests.
var racyMargin = time.Second

// OpenVerifiedRecord reads the record kept in dir (typically
// ~/.cache/imgsave). A record that is missing, unreadable, malformed, or
// in a folder or file that someone else could write is treated as empty,
// and in the last case is never written either. It returns no error: the
// record only spares work.
func OpenVerifiedRecord(dir string) *VerifiedRecord {
	r := &VerifiedRecord{dir: dir, entries: map[fileKey]digest.Digest{}}
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.trusted = true
		return r
	case err != nil || !fi.IsDir() || !ownedPrivately(fi):
		return r
	}
	r.trusted = true
	r.entries, r.order = readRecord(filepath.Join(dir, recordName))
	return r
}

// readRecord parses the record file, or returns an empty one.
func readRecord(name string) (map[fileKey]digest.Digest, []fileKey) {
	entries := map[fileKey]digest.Digest{}
	f, err := openNoFollow(name)
	if err != nil {
		return entries, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || !ownedPrivately(fi) {
		return entries, nil
	}
	sc := bufio.NewScanner(io.LimitReader(f, maxVerified*1024))
	sc.Buffer(make([]byte, 0, 4096), 8192)
	if !sc.Scan() || sc.Text() != recordHeader {
		return entries, nil
	}
	var order []fileKey
	for sc.Scan() {
		k, d, ok := parseRecordLine(sc.Text())
		if !ok || len(order) == maxVerified {
			return map[fileKey]digest.Digest{}, nil // corrupt: all of it is suspect
		}
		if _, dup := entries[k]; !dup {
			order = append(order, k)
		}
		entries[k] = d
	}
	if sc.Err() != nil {
		return map[fileKey]digest.Digest{}, nil
	}
	return entries, order
}

// A line is "DEV INO SIZE MTIME CTIME DIGEST PATH", PATH quoted.
func parseRecordLine(line string) (fileKey, digest.Digest, bool) {
	f := strings.SplitN(line, " ", 7)
	if len(f) != 7 {
		return fileKey{}, "", false
	}
	var k fileKey
	var nums [5]int64
	for i := range nums {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return fileKey{}, "", false
		}
		nums[i] = n
	}
	k.dev, k.ino, k.size, k.mtime, k.ctime = uint64(nums[0]), uint64(nums[1]), nums[2], nums[3], nums[4]
	d, err := digest.Parse(f[5])
	if err != nil {
		return fileKey{}, "", false
	}
	k.path, err = strconv.Unquote(f[6])
	if err != nil || !filepath.IsAbs(k.path) {
		return fileKey{}, "", false
	}
	return k, d, true
}

func recordLine(k fileKey, d digest.Digest) string {
	return fmt.Sprintf("%d %d %d %d %d %s %s", int64(k.dev), int64(k.ino), k.size, k.mtime, k.ctime, d, strconv.Quote(k.path))
}

// verified reports whether the file open as f, with fi its status, was
// recorded with digest want; its key is returned for a later add.
func (r *VerifiedRecord) verified(f *os.File, fi fs.FileInfo, want digest.Digest) (fileKey, bool, bool) {
	if r == nil || !r.trusted || want == "" {
		return fileKey{}, false, false
	}
	k, ok := keyOf(f, fi)
	if !ok {
		return fileKey{}, false, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return k, true, r.entries[k] == want
}

// add records that the file known by k hashed to d at hashed (when its
// hashing began), if its ctime is older than that by racyMargin.
func (r *VerifiedRecord) add(k fileKey, d digest.Digest, hashed time.Time) {
	if hashed.UnixNano()-k.ctime < int64(racyMargin) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.entries[k]; !ok {
		r.order = append(r.order, k)
	}
	r.entries[k] = d
	r.added = true
}

// Save writes the record back, with what this process added and what
// others added meanwhile, the newest maxVerified files. It writes nothing
// when nothing was added or the folder is not the caller's alone.
func (r *VerifiedRecord) Save() error {
	if r == nil || !r.trusted {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.added {
		return nil
	}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return fmt.Errorf("verified-files record: %w", err)
	}
	if fi, err := os.Lstat(r.dir); err != nil || !fi.IsDir() || !ownedPrivately(fi) {
		return nil // someone else's folder now: leave it
	}
	name := filepath.Join(r.dir, recordName)
	// Others' additions since this process read the record, then ours.
	theirs, order := readRecord(name)
	for _, k := range r.order {
		if _, ok := theirs[k]; !ok {
			order = append(order, k)
		}
		theirs[k] = r.entries[k]
	}
	order = order[max(0, len(order)-maxVerified):]
	var b bytes.Buffer
	b.WriteString(recordHeader + "\n")
	for _, k := range order {
		b.WriteString(recordLine(k, theirs[k]) + "\n")
	}
	tmp, err := os.CreateTemp(r.dir, "."+recordName+".*")
	if err != nil {
		return fmt.Errorf("verified-files record: %w", err)
	}
	_, err = tmp.Write(b.Bytes())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("verified-files record: %w", err)
	}
	r.added = false
	return nil
}

// realPath is the absolute path of name with every symlink resolved (a
// git-annex layer's object file).
func realPath(name string) (string, bool) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", false
	}
	p, err := filepath.EvalSymlinks(abs)
	return p, err == nil
}
