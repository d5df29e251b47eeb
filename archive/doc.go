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
// own name table, never on disk. A layer an image lists more than once
// (A, B, A), whose blob an OCI save holds once, is stored once and listed
// at each of its places, and [Dir.WriteTar] sends it so too.
//
// # Decompression
//
// Decompression is bounded, so that a few compressed bytes cannot fill the
// disk before a digest shows what they are: a gzip or zstd layer may expand
// to at most max(200 × its compressed size, 2 GiB) bytes, and an archive
// compressed as a whole (`docker save | gzip`) to as much of what has been
// read of it. Real layers compress 2 to 10 times, and files of zeros
// (sparse files, which a tar holds expanded) only pass the bound when they
// are nearly the whole of a layer of more than 2 GiB. Past it, [Extract]
// stops with an *[ExpandError] naming the layer, before writing more:
//
//	layer sha256:… expands past 2147483648 bytes (6710× its 320000 compressed bytes); pass --max-expand=-1 to allow
//
// [Options.MaxExpand] sets another ratio, or lifts the bound. Every loop
// that decompresses looks at the context, so a cancelled extraction
// stops within a read, whatever the layer still holds.
//
// # Reading directories
//
// [OpenDir] is the one model of an image directory that every command
// uses: imgsave's layout, raw extractions of legacy and Docker 25+ saves,
// and OCI layouts other tools write. [Verify] checks exactly what a load
// relies on, through it. Every file is read through one policy: a regular
// file, reached directly or through links that resolve inside the
// directory or into the git-annex object store of the repository holding
// it; anything else is a [FileError] saying why, before a byte is read.
//
// # Replacing
//
// With [Options.Replace] a target is replaced only when it holds nothing
// but what imgsave writes; its git-annex links are kept where their
// content is here and matches. Staging folders are locked from the moment
// they appear until their extraction ends, so one that nobody holds is
// abandoned, and the next extraction beside it removes it at once (where
// folders can be locked: not on Windows).
//
// # Evidence
//
// Signatures and attestations live in [EvidenceDir], one cosign layout per
// signed digest. [ReadEvidence] reads them within [MaxEvidenceBlob],
// [MaxEvidenceLayers] and [MaxEvidenceBytes], each reference to a file
// counted. [UpdateEvidence] rewrites one folder through an [os.Root] of
// the directory, refusing symbolic links where it writes, and swaps it in
// with the exchange a replacing extraction uses, so that a process killed
// at any step leaves the old folder or the new one.
package archive
