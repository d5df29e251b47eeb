// Package manifest owns the small JSON files of a saved image: the
// docker-load manifest.json, the OCI index.json and image manifests, and the
// parts of the image config imgsave needs (rootfs.diff_ids, platform,
// creation time). It parses them through a size limit, validates every path
// and digest they hold, computes image IDs, and renders imgsave's canonical
// forms as deterministic JSON.
//
// It refuses references that could leave a directory (absolute paths, ".."
// components, backslashes, NUL bytes), digests that are not
// "sha256:" followed by 64 lowercase hex digits, empty or null
// manifests, and platforms that are not os/arch[/variant] of sane names. It never touches the file system and imports nothing else of
// imgsave's.
package manifest
