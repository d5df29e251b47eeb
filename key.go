package imgsave

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/imgsave/imgsave/manifest/cosign"
)

// ErrEmptyKey is wrapped by the error of [ReadKey] for an empty key file
// (/dev/null, a file truncated by a failed copy): a key that would switch a
// signature check off is an error, never "no check".
var ErrEmptyKey = errors.New("empty, want a PEM key as cosign writes it (cosign.pub)")

// ReadKey reads a cosign key file (cosign.pub or cosign.key) through the
// bound [cosign.MaxKeyFile]: it reads at most one byte more, so that a
// device or pipe that never ends (/dev/zero) fails at once. An empty file
// is an error wrapping [ErrEmptyKey]; every error names the file.
func ReadKey(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, cosign.MaxKeyFile+1))
	switch {
	case err != nil:
		return nil, err // an *fs.PathError, naming the file
	case len(b) > cosign.MaxKeyFile:
		return nil, fmt.Errorf("%s: over %d bytes, too large for a key file", name, cosign.MaxKeyFile)
	case len(b) == 0:
		return nil, fmt.Errorf("%s: %w", name, ErrEmptyKey)
	}
	return b, nil
}
