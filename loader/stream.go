package loader

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
)

// Save runs `E save REF...` and streams its standard output, the image
// archive, through the returned reader; nothing is buffered beyond the pipe.
// Once the archive has been read, the last Read returns io.EOF if the
// command succeeded, or else a *RunError, wrapping [ErrImageNotFound] for a
// missing image. Read until io.EOF to learn the outcome.
//
// For docker on a local socket (see [Engine.Inspect]), Save asks the
// daemon's API directly (GET /images/get): the same archive and errors,
// without the CLI's process and pipe in between.
//
// Close stops a command whose output has not been drained (it closes the
// pipe and sends SIGINT, then kills it if it lingers) and waits for it; it
// returns nil. Cancelling ctx stops the command too, and the last Read
// then returns the context's cause. Close may be called while a Read is
// blocked, to abandon it.
func (e *Engine) Save(ctx context.Context, refs ...string) (io.ReadCloser, error) {
	if len(refs) == 0 {
		return nil, errors.New("save: no image given")
	}
	if sock, ok := e.dockerSocket(); ok {
		return e.saveSocket(ctx, sock, refs), nil
	}
	ctx, cancel := context.WithCancel(ctx)
	args := []string{"save"}
	if e.Name == "podman" && len(refs) > 1 {
		// Without it podman writes the first image alone.
		args = append(args, "--multi-image-archive")
	}
	p := e.command(ctx, append(args, operands(refs...)...)...)
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		err = p.err(err)
		cancel()
		return nil, err
	}
	return &saveReader{
		p:      p,
		out:    out,
		cancel: cancel,
		wait: sync.OnceValue(func() error {
			defer cancel()
			return p.err(p.cmd.Wait())
		}),
	}, nil
}

// saveReader follows restic's internal/fs/fs_reader_command.go.
type saveReader struct {
	p      *proc
	out    io.ReadCloser
	cancel context.CancelFunc
	wait   func() error // waits once for the command, then returns its error
	err    error        // sticky: the last Read's error
}

func (r *saveReader) Read(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.out.Read(b)
	if err == io.EOF {
		if werr := r.wait(); werr != nil {
			err = werr
		}
	}
	r.err = err
	return n, err
}

func (r *saveReader) Close() error {
	// Closing the pipe first makes a save blocked on writing die of EPIPE at
	// once; SIGINT (by cancel) reaches one still talking to its daemon.
	r.out.Close()
	r.cancel()
	r.wait()
	return nil
}

// Load runs `E load` with r as its standard input and returns the
// engine's report, trimmed: lines such as "Loaded image: busybox:latest" or
// "Loaded image ID: sha256:...".
//
// If reading r fails, Load interrupts the engine without ever closing its
// input: an engine that saw the end of an archive cut at an entry boundary
// would load what it got. The error is then a *RunError whose Err is r's
// error, so that errors.Is finds it (a digest mismatch, say) and the
// engine's stderr is shown beside it. Otherwise a failed load gives a
// *RunError, classified when possible. Load returns only after its last
// Read of r has returned.
//
// For docker on a local socket, Load posts r to the daemon's API (POST
// /images/load) instead, under the same rules: a failed Read of r cuts the
// request short, so the daemon never sees a clean end.
func (e *Engine) Load(ctx context.Context, r io.Reader) (string, error) {
	if sock, ok := e.dockerSocket(); ok {
		return e.loadSocket(ctx, sock, r)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p := e.command(ctx, "load")
	out := &tailBuffer{max: outputMax}
	p.cmd.Stdout = out
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	if err := p.cmd.Start(); err != nil {
		return "", p.err(err)
	}

	src := &recordingReader{r: r}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		// A failed write means the engine has exited: Wait reports why.
		if io.Copy(stdin, src); src.err != nil {
			// Leave stdin open; Wait closes it once the engine has gone.
			cancel(src.err)
			return
		}
		stdin.Close()
	}()
	err = p.cmd.Wait()
	<-copied
	if src.err != nil && err == nil {
		// The engine finished before the interrupt landed; still, what it
		// loaded is not what r held.
		err = src.err
	}
	if err = p.err(err); err != nil {
		return "", err
	}
	return strings.TrimSpace(out.String()), nil
}

// recordingReader keeps the error of a failed Read.
type recordingReader struct {
	r   io.Reader
	err error
}

func (r *recordingReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// WriteTo lets a reader that can write itself out (imgsave's tar of a
// directory) do so straight into w, saving a copy of every byte; only a
// failure that is not w's own counts as the reader's error.
func (r *recordingReader) WriteTo(w io.Writer) (int64, error) {
	wt, ok := r.r.(io.WriterTo)
	if !ok {
		return io.Copy(w, onlyReader{r})
	}
	ew := &errWriter{w: w}
	n, err := wt.WriteTo(ew)
	if err != nil && ew.err == nil && r.err == nil {
		r.err = err
	}
	return n, err
}

// onlyReader hides WriteTo, so that io.Copy reads.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// errWriter keeps the error of a failed Write.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}
