//go:build !unix

package archive

import "errors"

// mkfifo: no fifos here; the cases that need one fail.
func mkfifo(p string, mode uint32) error { return errors.ErrUnsupported }
