// Command imgsave keeps container images as plain, verified,
// content-addressed directories inside version-controlled datasets, and
// loads and runs them again with one command.
package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() { os.Exit(main1()) }

func main1() int {
	// The first SIGINT/SIGTERM cancels ctx, which stops a save, pull or
	// load within a second and removes what it staged; `imgsave run`
	// relays signals to the container itself instead. Later signals are
	// caught too and change nothing: a second one, such as the SIGTERM
	// that timeout(1) sends to the process and then to its group, must not
	// kill imgsave half-way through removing its staging and cache
	// folders (#18). SIGKILL remains, and the next save removes what it
	// leaves.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		for range sigs {
		}
	}()
	args := os.Args
	if filepath.Base(args[0]) == remoteProgram {
		// git-annex runs the special remote by this name, with no
		// arguments: it is `imgsave remote serve`.
		args = append([]string{args[0], "remote", "serve"}, args[1:]...)
	}
	defer profile(os.Stderr)()
	return run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}
