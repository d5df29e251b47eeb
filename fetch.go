package imgsave

import (
	"bytes"
	"context"
	"errors"
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

// ensurePresent checks that every layer of im is here, and, when fetch is
// set and only content is missing (a clone), tells fetching, fetches the
// layers with `git annex get` and checks again. Any other error of
// [archive.Dir.CheckPresent] comes back as it is.
func ensurePresent(ctx context.Context, d *archive.Dir, im *archive.DirImage, fetch bool, fetching func()) error {
	err := d.CheckPresent(im)
	if err == nil || !fetch || !errors.Is(err, archive.ErrContentMissing) {
		return err
	}
	fetching()
	if err := annexGet(ctx, d, im); err != nil {
		return err
	}
	return d.CheckPresent(im)
}
