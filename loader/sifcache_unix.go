//go:build unix

package loader

import (
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// sifTrust is who may have written a SIF file that imgsave runs: the
// caller, root, and the owners the user or the site names (users, and
// groups whose members are all trusted), as OpenSSH's StrictModes and
// sudo judge the files they read.
type sifTrust struct {
	self    uint32
	uids    map[uint32]bool
	gids    map[uint32]bool
	members map[uint32]bool // uid → a member of a trusted group (cache)
}

// newSIFTrust resolves owners: user names or uids, and %group (a group
// name or gid, as in sudoers).
func newSIFTrust(owners []string) (*sifTrust, error) {
	t := &sifTrust{self: uint32(os.Geteuid()), uids: map[uint32]bool{}, gids: map[uint32]bool{}, members: map[uint32]bool{}}
	for _, o := range owners {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		bad := &OwnerError{Owner: o}
		if g, ok := strings.CutPrefix(o, "%"); ok {
			id := g
			if gr, err := user.LookupGroup(g); err == nil {
				id = gr.Gid
			}
			n, err := strconv.ParseUint(id, 10, 32)
			if err != nil {
				return nil, bad
			}
			t.gids[uint32(n)] = true
			continue
		}
		id := o
		if u, err := user.Lookup(o); err == nil {
			id = u.Uid
		}
		n, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			return nil, bad
		}
		t.uids[uint32(n)] = true
	}
	return t, nil
}

// trusts reports whether files of the user uid are trusted.
func (t *sifTrust) trusts(uid uint32) bool {
	if uid == t.self || uid == 0 || t.uids[uid] {
		return true
	}
	if len(t.gids) == 0 {
		return false
	}
	if m, ok := t.members[uid]; ok {
		return m
	}
	m := false
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		gids, _ := u.GroupIds()
		if g, err := strconv.ParseUint(u.Gid, 10, 32); err == nil && t.gids[uint32(g)] {
			m = true
		}
		m = m || slices.ContainsFunc(gids, func(s string) bool {
			g, err := strconv.ParseUint(s, 10, 32)
			return err == nil && t.gids[uint32(g)]
		})
	}
	t.members[uid] = m
	return m
}

// check judges the file or folder p, whose information is fi, by its
// owner and by who else may write it: nil when trusted.
func (t *sifTrust) check(p string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	owner := ownerName(fi)
	e := &UntrustedSIFError{Path: p, Owner: owner}
	sticky := fi.IsDir() && fi.Mode()&fs.ModeSticky != 0
	perm := fi.Mode().Perm()
	if fi.Mode()&fs.ModeSymlink != 0 {
		perm = 0 // a link's own mode means nothing
	}
	switch {
	case !t.trusts(st.Uid):
		e.Why, e.Fix = "belongs to "+owner, "trust them with --sif-trust-owner "+owner
	case perm&0o002 != 0 && !sticky:
		e.Why, e.Fix = "is writable by every user", "chmod o-w or +t it"
	case perm&0o020 != 0 && !sticky && !t.gids[st.Gid]:
		g := groupName(st.Gid)
		e.Why, e.Fix = "is writable by group "+g, "trust the group with --sif-trust-owner %"+g+", or chmod +t it"
	default:
		return nil
	}
	return e
}

// checkDir checks the folder dir (a path without links: see
// [filepath.EvalSymlinks]) and every folder above it: each must be owned
// by a trusted user, and writable by no one else unless sticky (then only
// a file's owner may replace it, and the file's owner is checked too).
func (t *sifTrust) checkDir(dir string) error {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if err := t.check(p, fi); err != nil {
			return err
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// openNoFollow opens name for reading without following a link or
// blocking on a FIFO.
func openNoFollow(name string) (*os.File, error) {
	flags := os.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	// Checking a SIF is not using it: gc goes by its access time (the
	// flag is refused for a file of another user).
	f, err := os.OpenFile(name, flags|oNoAtime, 0)
	if errors.Is(err, syscall.EPERM) && oNoAtime != 0 {
		f, err = os.OpenFile(name, flags, 0)
	}
	if err == nil {
		return f, nil
	}
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) {
		return nil, &BadSIFError{Path: name, Why: "is a symbolic link"}
	}
	return nil, err
}

// groupName is the name of group gid, or its number.
func groupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name
	}
	return id
}
