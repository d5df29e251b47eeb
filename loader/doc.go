// Package loader runs the container engine's command-line interface,
// docker or podman, for imgsave: it finds the engine ([Find]), streams
// images out of it ([Engine.Save]) and into it ([Engine.Load]; for docker
// on a local socket, through the daemon's API instead of the CLI), asks
// about one image ([Engine.Inspect], over the engine's API socket when
// there is one: docker's, or podman's service), tags and pulls, runs
// containers with the caller's terminal and signals ([Engine.Run]), and
// says what the engine is ([Engine.Info]: docker or podman, podman-docker's
// shim, store, rootless). Its sub-package registry talks to registries instead.
//
// It owns the engine's failures: every failed command is a [RunError]
// showing the quoted command line and the end of its stderr, and the ones
// callers branch on are classified once ([Classify]) into
// [ErrEngineNotFound], [ErrDaemonUnreachable], [ErrPermissionDenied] and
// [ErrImageNotFound].
//
// It refuses to buffer: archives pass through as io.Readers, with the
// command's outcome in the last Read. It never walks a directory, prints,
// exits, or reads imgsave's own environment variables; callers pass
// values in, and extra environment for the engine in [Engine.Env].
package loader
