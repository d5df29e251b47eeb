package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/manifest"
)

// write lays the checked files out in the staging root: blobs renamed to
// their digests, imgsave's own manifests, index.json, manifest.json,
// oci-layout and .gitattributes; then fixes modes and times.
func (x *extractor) write(res *Result) error {
	if err := x.root.MkdirAll("blobs/sha256", 0o755); err != nil {
		return err
	}
	written := []string{"blobs", "blobs/sha256"}
	for _, name := range x.order {
		e := x.entries[name]
		if e.kind != kindFile || e.dest == "" || slices.Contains(written, e.dest) {
			continue
		}
		if err := x.root.Rename(e.tmp, e.dest); err != nil {
			return err
		}
		written = append(written, e.dest)
	}
	if err := x.root.RemoveAll("incoming"); err != nil {
		return err
	}
	files, digests, err := layout(res.Images)
	if err != nil {
		return err
	}
	res.Manifests = digests
	for _, f := range files {
		if slices.Contains(written, f.Name) {
			continue // a manifest that is also a blob of the archive
		}
		if err := writeNew(x.root, f.Name, f.Data); err != nil {
			return err
		}
		written = append(written, f.Name)
	}
	return x.settle(written)
}

// settle gives what was written the layout's modes (0644, folders 0755)
// and its fixed time, so that the tree's bytes are the same whenever it
// was written.
func (x *extractor) settle(names []string) error { return settle(x.root, names) }

// settle gives the files and folders names of root the layout's modes and
// time.
func settle(root *os.Root, names []string) error {
	for _, name := range names {
		fi, err := root.Lstat(name)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if fi.IsDir() {
			mode = 0o755
		}
		if err := root.Chmod(name, mode); err != nil {
			return err
		}
		if err := root.Chtimes(name, modTime, modTime); err != nil {
			return err
		}
	}
	return nil
}

func writeNew(root *os.Root, name string, data []byte) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

// ociLayout is the oci-layout file of every OCI layout imgsave writes.
const ociLayout = `{"imageLayoutVersion":"1.0.0"}`

// layoutFile is one small file of the canonical layout.
type layoutFile struct {
	Name string
	Data []byte
}

// layout renders the small files of the canonical layout for images, in the
// order they are written: the OCI manifests and the indexes of
// multi-platform images (in blobs/), index.json,
// manifest.json, oci-layout and .gitattributes. It also returns each image's
// manifest digest.
func layout(images []manifest.Image) ([]layoutFile, []digest.Digest, error) {
	index, docker, manifests, indexes, err := manifest.Canonical(images)
	if err != nil {
		return nil, nil, err
	}
	var files []layoutFile
	var keep []string
	digests := make([]digest.Digest, len(images))
	for i, b := range manifests {
		digests[i] = digest.FromBytes(b)
		files = append(files, layoutFile{manifest.BlobPath(digests[i]), b})
		keep = append(keep, manifest.BlobPath(images[i].Config.Digest), manifest.BlobPath(digests[i]))
	}
	for _, b := range indexes {
		p := manifest.BlobPath(digest.FromBytes(b))
		files = append(files, layoutFile{p, b})
		keep = append(keep, p)
	}
	files = append(files,
		layoutFile{"index.json", index},
		layoutFile{"manifest.json", docker},
		layoutFile{"oci-layout", []byte(ociLayout)},
		layoutFile{".gitattributes", gitAttributes(keep)},
	)
	return files, digests, nil
}

// gitAttributes keeps the JSON files (metadata, read without fetching
// anything) in git and sends the layers to git-annex.
func gitAttributes(keep []string) []byte {
	var b strings.Builder
	b.WriteString("# Written by imgsave: JSON metadata in git, layers in git-annex.\n")
	b.WriteString("* annex.largefiles=anything\n")
	for _, name := range append([]string{".gitattributes", "oci-layout", "index.json", "manifest.json"}, keep...) {
		fmt.Fprintf(&b, "/%s annex.largefiles=nothing\n", name)
	}
	return []byte(b.String())
}
