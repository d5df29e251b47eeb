package loader

import (
	"os"

	"golang.org/x/sys/unix"
)

// inForeground reports whether this process is in the foreground process
// group of its controlling terminal (macOS has no /proc: ask the terminal,
// as tcgetpgrp(3) does); false without a terminal.
func inForeground() bool {
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return false
	}
	defer tty.Close()
	pgrp, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}
