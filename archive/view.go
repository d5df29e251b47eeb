package archive

import (
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

// WriteView makes, in a new private folder under parent, an OCI layout of
// the directory's image im alone, whose blobs are d's, read through a
// link: Apptainer finds an image only among the top-level entries of
// index.json, not inside the image index of a multi-platform directory,
// and through the view it reads nothing else of d. It returns the
// folder's path; the caller removes it. im must have a manifest digest.
func (d *Dir) WriteView(parent string, im *DirImage) (string, error) {
	if im.ManifestDigest == "" {
		return "", fmt.Errorf("%s: a view of an image without an OCI manifest", d.Path)
	}
	blobs, err := filepath.Abs(filepath.Join(d.Path, "blobs"))
	if err != nil {
		return "", err
	}
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{{
		MediaType: v1.MediaTypeImageManifest, Digest: im.ManifestDigest, Size: int64(len(im.Manifest)),
	}}}
	idx.SchemaVersion = 2
	ib, err := manifest.Marshal(idx)
	if err != nil {
		return "", err
	}
	view, err := os.MkdirTemp(parent, ".view-"+im.ManifestDigest.Encoded()[:12]+"-")
	if err != nil {
		return "", err
	}
	for _, err := range []error{
		os.WriteFile(filepath.Join(view, "oci-layout"), []byte(ociLayout), 0o644),
		os.WriteFile(filepath.Join(view, "index.json"), ib, 0o644),
		os.Symlink(blobs, filepath.Join(view, "blobs")),
	} {
		if err != nil {
			os.RemoveAll(view)
			return "", fmt.Errorf("an OCI layout of %s: %w", d.Path, err)
		}
	}
	return view, nil
}
