package imgsave

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/imgsave/imgsave/archive"
)

// annexGet fetches the layers of im whose content is not here with
// `git annex get`, run in the directory (git-annex finds the repository
// from there, and DataLad datasets are git-annex repositories). Its output
// is kept for the error; cancelling ctx interrupts it.
func annexGet(ctx context.Context, d *archive.Dir, im *archive.DirImage) error {
	args := []string{"annex", "get", "--quiet", "--"}
	for _, l := range im.Layers {
		if !d.Present(l.Path) {
			args = append(args, filepath.FromSlash(l.Path))
		}
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = d.Path
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		msg := strings.TrimSpace(out.String())
		if len(msg) > 2000 {
			msg = "..." + msg[len(msg)-2000:]
		}
		return fmt.Errorf("git annex get in %s: %w: %s", d.Path, err, msg)
	}
	return nil
}
