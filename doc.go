// Package imgsave is the library behind the imgsave command: it joins
// [archive] (directories and save streams) and [loader] (the container
// engine) into the operations a user runs, each taking a context and an
// options struct and returning a result struct.
//
//   - [Save] streams an engine's save into a canonical directory, [Import]
//     does the same for a saved tarball, [Pull] for an image in a registry
//     (no engine needed); [Push] sends a directory's image to a registry.
//   - [Load] makes sure the engine has a directory's image, loading it only
//     when the engine lacks it, once even when several processes ask at the
//     same time; [Run] loads and then runs it.
//   - [List], [Verify] and [Migrate] read or rewrite a directory offline.
//   - [Doctor] says which engine is used, how, and what is in the way.
//   - [ServeRemote] is git-annex's special remote that gets layers back
//     from the engine or a registry; [Register] and [RegisterDataset]
//     record those sources. Save, Pull and Push write their target and
//     nothing else: a caller that wants the remote to find what they wrote
//     calls Register (the imgsave command does, in a dataset that has the
//     remote).
//
// It owns the rules that need both sides: how an image of a directory is
// found in the engine (config digest, manifest digest, tags whose layers
// match), which tags a load may apply, and the lock that serialises loads.
// It prints nothing and reads no flags or environment variables of its own:
// notices and progress go to callbacks in the options. The engine is the
// small [Engine] interface, which *loader.Engine implements and tests fake.
//
// Every call that runs long stops when its context ends, leaves every
// target as it was, and returns the context's cause; every goroutine it
// starts has ended when it returns.
package imgsave
