// Package imgdiff compares two images of image directories ([archive.Dir])
// file by file, with no engine, no extraction and no network: the answer
// to "did my rebuild reproduce the archived image?".
//
// [Compare] gives a verdict first (identical: the same image ID; equal
// except metadata, naming which: timestamps, file order, layer boundaries,
// tar encoding; or different), then the config's differences by field,
// one line per layer (the same diff ID, the same files with other
// metadata, different, or only on one side) and the files that differ:
// added, removed, or changed in type, content, link target, mode, owner,
// xattrs, device or times alone. [Options] ignore the metadata that a
// rebuild changes by nature, in the spirit of diffoci's --semantic.
//
// # Streaming and bounds
//
// Each layer is read once, through [archive.Dir.Layer], which checks its
// diff ID as it ends; each regular file is hashed (sha256) as it passes,
// and only its path, metadata and digest are kept, so memory grows with
// the number of paths, never with file sizes. Nothing is extracted and
// no link is followed: a symbolic or hard link is its target's text.
// A hostile layer is refused (an error wrapping [archive.ErrRefused])
// when an entry's name or link target is over [MaxName] bytes, has a NUL
// byte or a ".." component, is a sparse file (a few bytes of tar could
// make it hash terabytes of zeros), or when the two images' layers hold
// over [MaxEntries] entries or [MaxXattrBytes] bytes of extended
// attributes.
package imgdiff
