package archive

import (
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// ErrNotEmpty is returned by [Extract] when the target directory exists and
// holds files, unless [Options.Replace] is set.
var ErrNotEmpty = errors.New("directory exists and is not empty")

// ErrSelect is wrapped by the error of [Dir.Select] when no image, or more
// than one, matches.
var ErrSelect = errors.New("select one image")

// ErrPlatform is wrapped by the error of [Dir.SelectPlatform] when the
// directory holds no image for the platform asked for, or for the engine's
// when it holds several platforms.
var ErrPlatform = errors.New("no image for the platform")

// ErrNotImageDir is returned by [CheckTarget] when Replace would remove a
// directory that is not a previous save: it would delete user data.
var ErrNotImageDir = errors.New("refusing to replace a directory that is not an image directory")

// ErrNoManifest is returned by [OpenDir] for a directory with neither
// manifest.json nor index.json.
var ErrNoManifest = errors.New("no manifest.json or index.json: not an image directory")

// ErrRefused is wrapped by every error about an entry a real save never
// contains.
var ErrRefused = errors.New("refused")

// ErrEvidenceBusy is wrapped by the error of [UpdateEvidence] when another
// process is writing the evidence folder.
var ErrEvidenceBusy = errors.New("another imgsave is writing it; try again when it is done")

// DigestMismatchError reports content whose digest is not the one its name,
// descriptor or config states.
type DigestMismatchError struct {
	Path      string
	Got, Want digest.Digest
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("%s: digest mismatch: got %s, want %s", e.Path, e.Got, e.Want)
}

func refuse(name, format string, args ...any) error {
	return fmt.Errorf("entry %q: %w: %s", name, ErrRefused, fmt.Sprintf(format, args...))
}
