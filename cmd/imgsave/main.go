// Command imgsave keeps container images as plain, verified,
// content-addressed directories inside version-controlled datasets, and
// loads and runs them again with one command.
package main

import (
	"context"
	"os"
	"os/signal"
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
	return run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
}
