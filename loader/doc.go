// Package loader holds every place images are loaded from and into: the
// runtimes imgsave drives (docker, podman, Apptainer), registries
// (sub-package registry) and git-annex's special remote protocol
// (sub-package annex).
//
// # Runtimes by capability
//
// [FindRuntime] finds the runtime to use and returns what it is: an
// [*Engine] (docker or podman) keeps an image store, an [*Apptainer] has
// none and builds SIF files instead. Callers that need a store use [Find],
// which refuses Apptainer with [ErrNoImageStore]. Both say what they are
// ([Runtime]: Kind, Info, Platform, Rootless).
//
// An Engine streams images out ([Engine.Save]) and in ([Engine.Load]; for
// docker on a local socket, through the daemon's API instead of the CLI),
// asks about images ([Engine.Inspect], over the engine's API socket when
// there is one; [Engine.InspectAll] asks about several in one command
// through the CLI), tags and pulls, runs containers with the caller's
// terminal and signals ([Engine.Run]), and answers what differs between
// docker and podman ([Engine.LoadsDockerArchive], [Engine.ReadsZstd],
// [Engine.UserMapping], [Engine.Relabel]), so that callers never switch on
// its Kind.
//
// Apptainer builds a SIF file from an OCI layout ([Apptainer.BuildSIF])
// and runs it from the run options themselves ([Apptainer.RunSIF],
// [SIFRun]). The SIF cache's files are here too ([SIFCache]): which files
// may run (owners, modes, a whole SIF of the right image), the site and
// user tiers, the build lock ([LockFile]) and the crash-safe rename.
//
// It owns the engine's failures: every failed command is a [RunError]
// showing the quoted command line and the end of its stderr, and the ones
// callers branch on are classified once ([Classify]) into
// [ErrEngineNotFound], [ErrDaemonUnreachable], [ErrPermissionDenied] and
// [ErrImageNotFound].
//
// It refuses to buffer: archives pass through as io.Readers, with the
// command's outcome in the last Read. It never prints, exits, or reads
// imgsave's own environment variables; callers pass values in, and extra
// environment for the engine in [Engine.Env].
package loader
