package archive

import (
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Extract builds its tree in a hidden sibling of the target, named
// .DIR.imgsave-N (and .DIR.imgsave-N.old for a moment while replacing). A
// process killed outright (SIGKILL, a crash, a power cut) cannot remove it,
// and in a dataset `datalad save` would commit it. So the writer holds a
// lock on its staging folder for as long as it lives, and every extraction
// first removes the staging folders beside it that nobody holds.

// stagingName matches the folders Extract stages in.
var stagingName = regexp.MustCompile(`^\..+\.imgsave-[0-9]+(\.old)?$`)

// stagingGrace protects a folder another process has just created and not
// yet locked.
const stagingGrace = 10 * time.Second

// removeAbandoned removes the staging folders in parent whose writer has
// gone: unlocked and older than stagingGrace. It reports nothing: a folder
// it cannot remove is left for the next time.
func removeAbandoned(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !stagingName.MatchString(e.Name()) {
			continue
		}
		p := filepath.Join(parent, e.Name())
		if fi, err := os.Lstat(p); err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < stagingGrace {
			continue
		}
		unlock, ok := tryLockDir(p)
		if !ok {
			continue // its writer is alive
		}
		os.RemoveAll(p)
		unlock()
	}
}
