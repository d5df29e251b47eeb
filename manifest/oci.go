package manifest

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of the Docker distribution format, which engines still write
// into index.json for images pulled with them.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// AnnotationImageName is the annotation containerd reads for an image's
// full name on import.
const AnnotationImageName = "io.containerd.image.name"

// IsIndex reports whether mt is an image index (a multi-platform list).
func IsIndex(mt string) bool {
	return mt == v1.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

// IsManifest reports whether mt is a single-platform image manifest.
func IsManifest(mt string) bool {
	return mt == v1.MediaTypeImageManifest || mt == MediaTypeDockerManifest
}

// ParseIndex reads an OCI image index (index.json or a nested one) and
// checks each descriptor's digest and size. An index listing nothing is
// [ErrEmpty].
func ParseIndex(r io.Reader) (*v1.Index, error) {
	var idx v1.Index
	if err := decode(r, &idx); err != nil {
		return nil, err
	}
	if len(idx.Manifests) == 0 {
		return nil, ErrEmpty
	}
	for i, d := range idx.Manifests {
		if err := checkDescriptor(d); err != nil {
			return nil, fmt.Errorf("manifests[%d]: %w", i, err)
		}
	}
	return &idx, nil
}

// Parse reads an OCI (or Docker v2) image manifest, the file this package
// is named for, and checks its descriptors.
func Parse(r io.Reader) (*v1.Manifest, error) {
	var m v1.Manifest
	if err := decode(r, &m); err != nil {
		return nil, err
	}
	if err := checkDescriptor(m.Config); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	for i, d := range m.Layers {
		if err := checkDescriptor(d); err != nil {
			return nil, fmt.Errorf("layers[%d]: %w", i, err)
		}
	}
	return &m, nil
}

func checkDescriptor(d v1.Descriptor) error {
	if d.Size < 0 {
		return fmt.Errorf("negative size %d", d.Size)
	}
	return CheckDigest(d.Digest)
}

// Image is one image of imgsave's canonical layout: its config blob and its
// layers, each an uncompressed tar named by its diff ID.
type Image struct {
	Config   v1.Descriptor
	Layers   []v1.Descriptor
	RepoTags []string
	// Platform is the config's os, architecture and variant; nil when
	// unknown. Several images under the same names and of distinct
	// platforms are one multi-platform image (see [Canonical]).
	Platform *v1.Platform
}

// ID is the image ID a classic-store engine reports: the config digest.
func (im *Image) ID() digest.Digest { return im.Config.Digest }

// Manifest renders the image's canonical OCI manifest. Its digest is the
// image ID a containerd-store engine reports after loading the directory.
func (im *Image) Manifest() ([]byte, digest.Digest, error) {
	m := v1.Manifest{
		MediaType: v1.MediaTypeImageManifest,
		Config: v1.Descriptor{
			MediaType: v1.MediaTypeImageConfig,
			Digest:    im.Config.Digest,
			Size:      im.Config.Size,
		},
		Layers: make([]v1.Descriptor, len(im.Layers)),
	}
	m.SchemaVersion = 2
	for i, l := range im.Layers {
		m.Layers[i] = v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: l.Digest, Size: l.Size}
	}
	b, err := Marshal(m)
	if err != nil {
		return nil, "", err
	}
	return b, digest.FromBytes(b), nil
}

// Canonical renders index.json and manifest.json for images, and returns
// the manifest blobs they point to, one per image in order, and the
// nested index blobs of multi-platform images. index.json has one
// descriptor per repo tag (one without annotations for an untagged image),
// carrying the names containerd and the OCI spec read; manifest.json points
// into blobs/ and is what `docker load` of any version reads.
//
// Images under the same repo tags (or all untagged) and of distinct
// platforms are one multi-platform image: index.json names an image index
// (a blob) listing each platform's manifest with its platform, linux/amd64
// first, then by platform; manifest.json lists the first platform alone,
// so that `docker load` of the folder loads one image, under its tags.
func Canonical(images []Image) (index, docker []byte, manifests, indexes [][]byte, err error) {
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{}}
	idx.SchemaVersion = 2
	entries := make([]Entry, 0, len(images))
	descs := make([]v1.Descriptor, len(images))
	for i, im := range images {
		b, d, err := im.Manifest()
		if err != nil {
			return nil, nil, nil, nil, err
		}
		manifests = append(manifests, b)
		descs[i] = v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: d, Size: int64(len(b))}
	}
	for _, group := range platformGroups(images) {
		first := images[group[0]]
		desc := descs[group[0]]
		if len(group) > 1 {
			nested := v1.Index{MediaType: v1.MediaTypeImageIndex}
			nested.SchemaVersion = 2
			for _, i := range group {
				d := descs[i]
				d.Platform = images[i].Platform
				nested.Manifests = append(nested.Manifests, d)
			}
			b, err := Marshal(nested)
			if err != nil {
				return nil, nil, nil, nil, err
			}
			indexes = append(indexes, b)
			desc = v1.Descriptor{MediaType: v1.MediaTypeImageIndex, Digest: digest.FromBytes(b), Size: int64(len(b))}
		}
		named, tags, err := Named(desc, first.RepoTags)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		idx.Manifests = append(idx.Manifests, named...)
		e := Entry{Config: BlobPath(first.Config.Digest), RepoTags: tags, Layers: make([]string, len(first.Layers))}
		for i, l := range first.Layers {
			e.Layers[i] = BlobPath(l.Digest)
		}
		entries = append(entries, e)
	}
	if index, err = Marshal(idx); err != nil {
		return nil, nil, nil, nil, err
	}
	if docker, err = Marshal(entries); err != nil {
		return nil, nil, nil, nil, err
	}
	return index, docker, manifests, indexes, nil
}

// platformGroups splits images (by index) into the images of the layout:
// one image alone, or the platforms of a multi-platform image, in
// canonical order. Images form a group when they have the same repo tags
// (or none) and each a distinct, known platform; the group stands where
// its first image stood.
func platformGroups(images []Image) [][]int {
	key := func(im Image) string {
		tags := slices.Clone(im.RepoTags)
		for i, t := range tags {
			if ref, err := ParseReference(t); err == nil {
				tags[i] = ref.String()
			}
		}
		slices.Sort(tags)
		return strings.Join(slices.Compact(tags), "\x00")
	}
	var groups [][]int
	byKey := map[string]int{}
	for i, im := range images {
		g, ok := byKey[key(im)]
		if !ok || im.Platform == nil || slices.ContainsFunc(groups[g], func(j int) bool {
			return images[j].Platform == nil || PlatformString(images[j].Platform) == PlatformString(im.Platform)
		}) {
			byKey[key(im)] = len(groups)
			groups = append(groups, []int{i})
			continue
		}
		groups[g] = append(groups[g], i)
	}
	for _, g := range groups {
		slices.SortStableFunc(g, func(a, b int) int { return comparePlatforms(images[a].Platform, images[b].Platform) })
	}
	return groups
}

// PlatformString is "os/arch[/variant]".
func PlatformString(p *v1.Platform) string {
	if p == nil {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// comparePlatforms orders platforms linux/amd64 first, then by name.
func comparePlatforms(a, b *v1.Platform) int {
	sa, sb := PlatformString(a), PlatformString(b)
	switch {
	case sa == sb:
		return 0
	case sa == "linux/amd64":
		return -1
	case sb == "linux/amd64":
		return 1
	}
	return strings.Compare(sa, sb)
}

// Named returns the index descriptors that name an image manifest: one per
// repo tag, annotated with the full name containerd reads and the tag the
// OCI spec defines, or desc alone for an untagged image. It also returns
// the tags in the form manifest.json holds them: normalized ("alpine"
// becomes "alpine:latest"), sorted, without duplicates, nil for none.
func Named(desc v1.Descriptor, repoTags []string) ([]v1.Descriptor, []string, error) {
	var tags []string
	var refs []Reference
	for _, t := range repoTags {
		ref, err := ParseReference(t)
		if err != nil {
			return nil, nil, err
		}
		if !ref.IsTag() {
			return nil, nil, fmt.Errorf("RepoTags: %q is not a tag", t)
		}
		if !slices.Contains(tags, ref.String()) {
			tags, refs = append(tags, ref.String()), append(refs, ref)
		}
	}
	if len(tags) == 0 {
		return []v1.Descriptor{desc}, nil, nil // "RepoTags":null whether the input said null or []
	}
	slices.SortFunc(refs, func(a, b Reference) int { return strings.Compare(a.String(), b.String()) })
	slices.Sort(tags)
	descs := make([]v1.Descriptor, len(refs))
	for i, ref := range refs {
		descs[i] = desc
		descs[i].Annotations = map[string]string{AnnotationImageName: ref.Full(), v1.AnnotationRefName: ref.Tag()}
	}
	return descs, tags, nil
}
