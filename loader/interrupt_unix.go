//go:build unix

package loader

import "os"

// interrupt asks the engine command p to stop, as Ctrl-C would, so that it
// can tell its daemon to stop too.
func interrupt(p *os.Process) error { return p.Signal(os.Interrupt) }
