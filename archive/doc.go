// Package archive owns the tar streams of saved images: it reads the output
// of `docker save` or `podman save` (legacy or OCI layout, plain, gzip or
// zstd) in one pass into imgsave's canonical directory, and writes
// directories back out as tar streams for `docker load`.
//
// # Extraction
//
// [Extract] never uses an entry's name as an output path. Each regular file
// is streamed into a staging directory beside the target through an
// [os.Root], hashed as it is written (and decompressed on the fly when it is
// a gzip or zstd layer), then renamed to its digest. Only after every digest
// has been checked against the names, descriptors and the config's
// rootfs.diff_ids is the staging directory renamed into place; on any error
// it is removed and the target is left as it was.
//
// It refuses, naming the entry, everything a real save never contains:
// absolute names, ".." components, backslashes and NUL bytes in names,
// duplicate names, hard links, devices, fifos, symbolic links whose target
// leaves the archive, members below a symbolic link, truncated archives and
// JSON files over [manifest.MaxJSON]. Symbolic links between layer files,
// which legacy saves use for repeated layers, are resolved in the archive's
// own name table, never on disk.
package archive
