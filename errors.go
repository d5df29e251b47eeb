package imgsave

import (
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// ErrNotInEngine is returned by [Save] when an image is not in the engine
// and the pull policy forbids pulling it (or it is named by ID, which no
// registry serves).
var ErrNotInEngine = errors.New("not in the engine")

// NotLoadedError is returned by [Load] when the engine's load reported
// success but the engine then has no image with the directory's ID.
type NotLoadedError struct {
	ID digest.Digest
}

func (e *NotLoadedError) Error() string {
	return fmt.Sprintf("the engine loaded it but reports no image %s", e.ID)
}

// OptionError reports an option whose value has the wrong form. Option
// is the field's name in the options struct.
type OptionError struct {
	Option string
	Value  string
	Want   string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("%s %q: want %s", e.Option, e.Value, e.Want)
}
