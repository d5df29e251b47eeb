//go:build !linux && !darwin

package loader

// inForeground cannot tell here. On Windows it does not matter: Ctrl-C
// reaches every process on the console, the engine included, and
// os.Process.Signal cannot relay an interrupt anyway.
func inForeground() bool { return false }
