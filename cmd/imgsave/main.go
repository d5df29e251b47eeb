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
	// The first SIGINT/SIGTERM cancels ctx, which stops a save or load and
	// removes what it staged; `imgsave run` relays signals to the container
	// itself instead. Once ctx is cancelled the default action is back, so a
	// second Ctrl-C ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop)
	args := os.Args
	if filepath.Base(args[0]) == remoteProgram {
		// git-annex runs the special remote by this name, with no
		// arguments: it is `imgsave remote serve`.
		args = append([]string{args[0], "remote", "serve"}, args[1:]...)
	}
	return run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}
