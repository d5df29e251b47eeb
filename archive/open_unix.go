//go:build unix

package archive

import "syscall"

// openFlags: a fifo or device swapped in after the check neither blocks the
// open nor is followed through a new link.
const openFlags = syscall.O_NONBLOCK | syscall.O_NOFOLLOW
