package archive

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Extract builds its tree in a hidden sibling of the target, named
// .DIR.imgsave-N (and .DIR.imgsave-N.old for a moment while replacing). A
// process killed outright (SIGKILL, a crash, a power cut) cannot remove it,
// and in a dataset `datalad save` would commit it. So the writer holds a
// lock on its staging folder for as long as it lives, and every extraction
// first removes the staging folders beside it that nobody holds.
//
// Making the folder and locking it are one step (#18): it is made as
// .DIR.imgsave-new-N, a name no extraction takes for abandoned while it is
// young, locked, and only then renamed to .DIR.imgsave-N. So a staging
// folder nobody holds is abandoned, whatever its age, and the save that
// follows a killed one at once removes what it left.

// Compiled on first use, not when every imgsave command starts (#29).
var (
	// stagingName matches the folders Extract stages in.
	stagingName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\..+\.imgsave-[0-9]+(\.old)?$`) })
	// newStagingName matches a staging folder being made, not yet locked.
	newStagingName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\..+\.imgsave-new-[0-9]+$`) })
)

// newStagingGrace protects a folder another process has just made and is
// about to lock: only a process killed in that instant leaves one behind.
const newStagingGrace = time.Minute

// makeStaging makes the staging folder for dir, locked: unlock releases
// it. Where folders cannot be locked (not on Unix, or a file system
// without locks) it is made unlocked, and no extraction there takes it
// for abandoned; a lock that fails otherwise fails the extraction.
func makeStaging(dir string) (staging string, unlock func(), err error) {
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	tmp, err := os.MkdirTemp(parent, "."+base+".imgsave-new-")
	if err != nil {
		return "", nil, err
	}
	staging = filepath.Join(parent, "."+base+".imgsave-"+strings.TrimPrefix(filepath.Base(tmp), "."+base+".imgsave-new-"))
	unlock, err = lockNewDir(tmp)
	if err != nil {
		os.Remove(tmp)
		return "", nil, fmt.Errorf("making a staging folder: %w", err)
	}
	if err := os.Rename(tmp, staging); err != nil {
		unlock()
		os.Remove(tmp)
		return "", nil, fmt.Errorf("making a staging folder: %w", err)
	}
	return staging, unlock, nil
}

// removeAbandoned removes the staging folders in parent whose writer has
// gone: those nobody holds a lock on, and folders being made that have
// stayed unlocked for newStagingGrace. It reports nothing: a folder it
// cannot remove is left for the next time.
func removeAbandoned(parent string) { sweepStaging(parent, true) }

// Abandoned returns the staging folders in parent that an extraction there
// would remove (see [Extract]): those nobody holds a lock on. With remove,
// it removes them, under the lock, and returns those it removed. Folders
// whose writer is alive are never named.
func Abandoned(parent string, remove bool) []string { return sweepStaging(parent, remove) }

// IsStaging reports whether name is the name of a folder Extract stages in.
func IsStaging(name string) bool {
	return stagingName().MatchString(name) || newStagingName().MatchString(name)
}

func sweepStaging(parent string, remove bool) []string {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		staging, making := stagingName().MatchString(e.Name()), newStagingName().MatchString(e.Name())
		if !e.IsDir() || !staging && !making {
			continue
		}
		p := filepath.Join(parent, e.Name())
		if fi, err := os.Lstat(p); err != nil || !fi.IsDir() || making && time.Since(fi.ModTime()) < newStagingGrace {
			continue
		}
		unlock, ok := tryLockDir(p)
		if !ok {
			continue // its writer is alive
		}
		if !remove || os.RemoveAll(p) == nil {
			out = append(out, p)
		}
		unlock()
	}
	return out
}
