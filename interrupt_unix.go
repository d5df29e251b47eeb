//go:build unix

package imgsave

import (
	"context"
	"io"
	"os"
	"syscall"
	"time"
)

// interruptible returns a reader of r whose blocked Read returns when ctx
// ends, for r an *os.File that is a pipe or FIFO (stdin in `save | imgsave
// import -`); other readers are returned as they are. It reads a duplicate
// of the descriptor in non-blocking mode, so that Go's poller can wake it,
// and puts the mode back in stop. stop waits for nothing: the returned
// reader holds no goroutine.
func interruptible(ctx context.Context, r io.Reader) (io.Reader, func(), error) {
	f, ok := r.(*os.File)
	if !ok {
		return r, func() {}, nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return r, func() {}, nil
	}
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return r, func() {}, nil
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return r, func() {}, nil
	}
	nf := os.NewFile(uintptr(fd), f.Name()) // non-blocking: registered with the poller
	unwatch := context.AfterFunc(ctx, func() { nf.SetReadDeadline(time.Now()) })
	cr := &causeReader{ctx: ctx, f: nf}
	return cr, func() {
		unwatch()
		// The mode belongs to the open file, shared with f: restore it.
		syscall.SetNonblock(fd, false)
		nf.Close()
	}, nil
}

// causeReader reports the context's cause instead of the deadline error it
// uses to wake a blocked read.
type causeReader struct {
	ctx context.Context
	f   *os.File
}

func (c *causeReader) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	if err != nil && c.ctx.Err() != nil {
		return n, context.Cause(c.ctx)
	}
	return n, err
}
