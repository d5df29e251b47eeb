//go:build !unix

package loader

import "os"

// interrupt stops the engine command p. Windows cannot send one process
// an interrupt (os.Process.Signal refuses), so it is killed at once rather
// than after waitDelay.
func interrupt(p *os.Process) error { return p.Kill() }
