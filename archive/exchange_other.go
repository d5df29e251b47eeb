//go:build !linux && !darwin

package archive

import (
	"errors"
	"os"
)

// exchangeDirs cannot swap two directories atomically here (Windows has no
// such call): place falls back to two renames.
func exchangeDirs(a, b string) error {
	return &os.LinkError{Op: "exchange", Old: a, New: b, Err: errors.ErrUnsupported}
}

// exchangeIn cannot either: see exchangeDirs.
func exchangeIn(dir *os.File, a, b string) error { return exchangeDirs(a, b) }
