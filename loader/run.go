package loader

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Run runs `E ARGS...` (the caller builds `run --rm ...`) with stdin,
// stdout and stderr handed to it as they are: an *os.File, a terminal
// included, becomes the engine's own descriptor; any other reader or
// writer is copied without buffering. A nil one means the null device.
//
// Run does not stop the command when ctx ends: the container decides what
// a signal means. While it runs, SIGINT and SIGTERM sent to this process
// are relayed to the engine, which passes them on to the container; only a
// SIGINT while this process is in its terminal's foreground process group
// is not, since Ctrl-C reaches the engine directly then. Run
// waits for it and returns nil, or an *ExitError with its status; a failure
// to start it is a *RunError, wrapping [ErrEngineNotFound] for a missing
// binary. The engine's own failures (an unreachable daemon, say) reach
// stderr as they are and give docker run's status 125.
func (e *Engine) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	p := e.command(context.WithoutCancel(ctx), args...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = stdin, stdout, stderr

	// Notify before starting, so that no signal in between takes the
	// default action of killing this process and orphaning the container.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := p.cmd.Start(); err != nil {
		return p.err(err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				// Ctrl-C at a terminal signals its whole foreground process
				// group, the engine included. Relaying it as well would
				// count twice, and docker run gives up at its third SIGINT,
				// leaving the container running: at the user's second Ctrl-C.
				if sig != os.Interrupt || !inForeground() {
					p.cmd.Process.Signal(sig)
				}
			case <-done:
				return
			}
		}
	}()
	err := p.cmd.Wait()
	close(done)

	state := p.cmd.ProcessState
	if state == nil { // the wait itself failed
		return p.err(err)
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return &ExitError{Code: 128 + int(ws.Signal())}
	}
	if code := state.ExitCode(); code != 0 {
		return &ExitError{Code: code}
	}
	// err may be exec.ErrWaitDelay: the command exited before copying a
	// non-file stdin had finished. Its status is what counts.
	return nil
}
