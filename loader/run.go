package loader

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
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
//
// podman 4.3 loses a signal that reaches `podman run` after the container
// has started but before podman's own state says so: podman exits and the
// container runs on. So for podman's run Run asks for the container's ID
// (--cidfile) and signals the container by it (`podman kill`), again and
// again until podman takes it or the run ends.
func (e *Engine) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cidFile string
	if e.Name == "podman" && len(args) > 0 && args[0] == "run" && !slices.ContainsFunc(args, isCidfileFlag) {
		dir, err := os.MkdirTemp("", "imgsave-run-")
		if err != nil {
			return fmt.Errorf("a folder for the container's ID: %w", err)
		}
		defer os.RemoveAll(dir)
		cidFile = filepath.Join(dir, "cid")
		args = slices.Concat([]string{"run", "--cidfile", cidFile}, args[1:])
	}
	p := e.command(context.WithoutCancel(ctx), args...)
	var relay func(os.Signal, <-chan struct{})
	if cidFile != "" {
		relay = func(sig os.Signal, done <-chan struct{}) { e.killContainer(cidFile, sig, done) }
	}
	return p.attach(stdin, stdout, stderr, relay)
}

// attach runs p with the given standard streams, relaying SIGINT and
// SIGTERM to it (through relay, when not nil, in a goroutine of its own
// given a channel closed when the run ends), and returns its status as [Engine.Run]
// does.
func (p *proc) attach(stdin io.Reader, stdout, stderr io.Writer, relay func(os.Signal, <-chan struct{})) error {
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
				switch {
				case sig == os.Interrupt && inForeground():
				case relay != nil:
					go relay(sig, done)
				default:
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

func isCidfileFlag(arg string) bool {
	return arg == "--cidfile" || strings.HasPrefix(arg, "--cidfile=")
}

// killContainer sends sig to the container whose ID podman writes to
// cidFile, every 20 ms while podman refuses (no container yet, or not yet
// running in podman's own state), until podman takes it or done closes.
func (e *Engine) killContainer(cidFile string, sig os.Signal, done <-chan struct{}) {
	n, ok := sig.(syscall.Signal)
	if !ok {
		return
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if id, err := os.ReadFile(cidFile); err == nil && len(bytes.TrimSpace(id)) > 0 {
			p := e.command(context.Background(), "kill", "--signal", strconv.Itoa(int(n)), string(bytes.TrimSpace(id)))
			if p.cmd.Run() == nil {
				return
			}
		}
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}
