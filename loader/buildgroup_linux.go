package loader

import (
	"os/exec"
	"syscall"
	"time"
)

// ownGroup puts the command c in a process group of its own, for a build
// whose helpers (mksquashfs, unsquashfs) must end with it: cancelling the
// context interrupts the whole group, the returned end kills what is left
// of it once c has exited, and the kernel sends c SIGTERM when imgsave
// dies, even by SIGKILL (Pdeathsig; Apptainer's build then removes its
// temporary folders, unless a write to the dead imgsave's stderr kills it
// first). The group also keeps the terminal's Ctrl-C from
// reaching the build before imgsave decides (#28).
//
// A helper that ignores SIGINT (a shell's background job does) would hold
// c's stderr open, so the group is killed waitDelay after the interrupt,
// when exec kills c itself.
func ownGroup(c *exec.Cmd) (end func()) {
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	c.Cancel = func() error {
		pid := c.Process.Pid
		time.AfterFunc(waitDelay, func() { syscall.Kill(-pid, syscall.SIGKILL) })
		return syscall.Kill(-pid, syscall.SIGINT)
	}
	return func() {
		if c.Process != nil {
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
}
