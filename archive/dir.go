package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

// ErrContentMissing is returned when a file a load needs is not present
// locally: a git-annex symlink whose content was never fetched, or an
// unlocked annex pointer file.
var ErrContentMissing = errors.New("not present locally")

// Dir is an image directory opened for reading: imgsave's canonical
// layout, or a raw extraction of a legacy or Docker 25+ save (what
// datalad-container's docker adapter leaves in datasets). Opening it reads
// only the small files (manifest.json, index.json, configs); layers are read
// when they are streamed. Files are opened through symbolic links, since
// git-annex keeps content behind them; the paths in the manifests are
// checked to stay inside the directory first.
type Dir struct {
	Path   string
	Images []*DirImage

	files *tree
	// lies are where index.json, a nested index or manifest.json says
	// another platform than the configs do (see [Dir.platformLies]).
	lies []string
}

func newDir(path string) *Dir { return &Dir{Path: path, files: &tree{path: path}} }

// DirImage is one image of a [Dir].
type DirImage struct {
	// ID is the config digest: the image ID of a classic-store engine.
	ID         digest.Digest
	ConfigPath string
	ConfigSize int64
	Config     *manifest.Config
	RepoTags   []string
	Layers     []DirLayer
	// Manifest is the OCI manifest a load sends, and ManifestDigest its
	// digest, the image ID a containerd-store engine gives the image after
	// imgsave loads it: the directory's own manifest when its layers are
	// stored compressed (raw Docker 25+ saves), else imgsave's canonical one.
	Manifest       []byte
	ManifestDigest digest.Digest

	config    []byte
	canonical bool
}

// ConfigBytes returns the image's config exactly as stored: its digest is
// the image ID.
func (im *DirImage) ConfigBytes() []byte { return im.config }

// DirLayer is one layer file of an image.
type DirLayer struct {
	Path   string        // relative to the directory
	Digest digest.Digest // of the file's bytes
	Size   int64
	DiffID digest.Digest // of the uncompressed tar
	// MediaType is the layer's type in the manifest a load sends.
	MediaType string
}

// OpenDir reads the directory's small files (manifest.json, index.json,
// the image manifests and configs) into the one model of an image directory
// that every command uses: imgsave's canonical layout, a raw extraction of
// a legacy or Docker 25+ save, or an OCI image layout written by another
// tool (skopeo, crane, podman), which has no manifest.json. Manifests may be
// OCI or Docker v2, layers uncompressed, gzip or zstd, and index.json may
// point to one level of nested indexes.
//
// It checks every digest it can without reading a layer: each manifest
// against its descriptor, each config against its name or descriptor, each
// layer's name against the config's rootfs.diff_ids or a manifest, and that
// manifest.json and index.json describe the same images. A directory that
// OpenDir accepts is one a load can send, once its layers are present.
func OpenDir(dir string) (*Dir, error) {
	d := newDir(dir)
	if fi, err := os.Stat(dir); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	docker, err := d.readSmall("manifest.json")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	listed, err := d.indexManifests()
	if err != nil {
		return nil, err
	}
	if docker == nil && listed == nil {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoManifest)
	}
	var entries []manifest.Entry
	if docker != nil {
		if entries, err = manifest.ParseDocker(bytes.NewReader(docker)); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "manifest.json"), err)
		}
	} else {
		entries = listed.entries()
	}
	byConfig := make(map[digest.Digest]indexed)
	for _, ix := range listed {
		byConfig[ix.m.Config.Digest] = ix
	}
	var named []*DirImage // manifest.json's images, in its order
	for _, e := range entries {
		im, err := d.image(e, byConfig)
		if err != nil {
			return nil, err
		}
		if docker != nil {
			named = append(named, im)
		}
		if len(listed) > 0 {
			if _, ok := byConfig[im.ID]; !ok {
				return nil, fmt.Errorf("%s: manifest.json lists config %s, which no manifest in index.json describes", dir, im.ID)
			}
		}
		d.add(im)
	}
	if docker != nil {
		// The other platforms of a multi-platform image: imgsave's
		// manifest.json lists the first alone, for `docker load`.
		fromDocker := make(map[digest.Digest]bool)
		for _, im := range d.Images {
			fromDocker[im.ID] = true
		}
		for i, e := range listed.entries() {
			if !fromDocker[listed[i].m.Config.Digest] && listed[i].desc.Platform != nil {
				im, err := d.image(e, byConfig)
				if err != nil {
					return nil, err
				}
				d.add(im)
			}
		}
	}
	if len(d.Images) == 0 {
		// An index whose platforms are all absent: nothing to load.
		return nil, fmt.Errorf("%s: %w: no platform of index.json has its manifest here", dir, ErrNoManifest)
	}
	d.lies = d.platformLies(listed, named)
	return d, nil
}

// platformLies lists where the directory says another platform than its
// configs: an index entry (of index.json or a nested index) whose
// platform is not its config's, and a manifest.json entry that names
// another image than the first platform (present here) of the nested
// index listing it, the one imgsave writes manifest.json for. Engines,
// skopeo and containerd pick an image of an index by its entries'
// platforms, and `docker load` of the folder loads manifest.json's: a lie
// runs another image than asked for. imgsave itself goes by the configs,
// so a lie is [Verify]'s problem, not a reason to refuse a load.
func (d *Dir) platformLies(listed indexedList, named []*DirImage) []string {
	byID := make(map[digest.Digest]*DirImage, len(d.Images))
	for _, im := range d.Images {
		byID[im.ID] = im
	}
	var lies []string
	seen := make(map[string]bool)
	first := make(map[string]indexed)        // nested index → its first entry here
	nested := make(map[digest.Digest]string) // config → the first nested index listing it
	for _, ix := range listed {
		if ix.from != "index.json" {
			if _, ok := first[ix.from]; !ok {
				first[ix.from] = ix
			}
			if _, ok := nested[ix.m.Config.Digest]; !ok {
				nested[ix.m.Config.Digest] = ix.from
			}
		}
		im := byID[ix.m.Config.Digest]
		if ix.desc.Platform == nil || im == nil || im.Config.Describes(*ix.desc.Platform) {
			continue
		}
		// The platforms are the files' words: never a format string,
		// and cut short (a config's os may be a megabyte long).
		lie := fmt.Sprintf("%s: manifests[%d] says %s, its config says %s", ix.from, ix.entry, clip(manifest.PlatformString(ix.desc.Platform)), clip(im.Config.Platform()))
		if !seen[lie] { // one nested index under several tags
			seen[lie] = true
			lies = append(lies, lie)
		}
	}
	for i, im := range named {
		from, ok := nested[im.ID]
		if !ok {
			continue
		}
		f := first[from]
		if f.m.Config.Digest == im.ID {
			continue
		}
		want := manifest.PlatformString(f.desc.Platform)
		if fi := byID[f.m.Config.Digest]; fi != nil {
			want = fi.Config.Platform()
		}
		lies = append(lies, fmt.Sprintf("manifest.json: [%d] names %s (config %s), not %s, which %s lists first", i, clip(im.Config.Platform()), im.ID, clip(want), f.from))
	}
	return lies
}

// clip cuts a platform from a file to 64 bytes and an ellipsis.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}

// indexManifests reads the single-platform manifests index.json points to,
// directly or through one nested index (a multi-platform image, whose
// platforms a save left out are skipped), in order. It returns nil when
// there is no index.json.
func (d *Dir) indexManifests() (indexedList, error) {
	b, err := d.readSmall("index.json")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	idx, err := manifest.ParseIndex(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(d.Path, "index.json"), err)
	}
	out := indexedList{}
	for i, desc := range idx.Manifests {
		switch {
		case manifest.IsManifest(desc.MediaType):
			ix, err := d.readManifest(desc)
			if err != nil {
				return nil, err
			}
			ix.from, ix.entry = "index.json", i
			out = append(out, ix)
		case manifest.IsIndex(desc.MediaType):
			nb, err := d.readBlob(desc)
			if err != nil {
				return nil, err
			}
			nested, err := manifest.ParseIndex(bytes.NewReader(nb))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Join(d.Path, manifest.BlobPath(desc.Digest)), err)
			}
			for j, c := range nested.Manifests {
				if c.Platform != nil && c.Platform.OS == "unknown" {
					continue // build attestations, not runnable images
				}
				if !manifest.IsManifest(c.MediaType) {
					return nil, fmt.Errorf("%s: %s: index nested more than once or unsupported media type %q", filepath.Join(d.Path, manifest.BlobPath(desc.Digest)), c.Digest, c.MediaType)
				}
				if _, err := os.Lstat(filepath.Join(d.Path, filepath.FromSlash(manifest.BlobPath(c.Digest)))); errors.Is(err, fs.ErrNotExist) {
					continue // a platform the save left out
				}
				ix, err := d.readManifest(c)
				if err != nil {
					return nil, err
				}
				ix.desc.Annotations = desc.Annotations // the name is on the outer descriptor
				ix.from, ix.entry = manifest.BlobPath(desc.Digest), j
				out = append(out, ix)
			}
		default:
			return nil, fmt.Errorf("%s: manifests: %s: unsupported media type %q", filepath.Join(d.Path, "index.json"), desc.Digest, desc.MediaType)
		}
	}
	return out, nil
}

// readBlob reads a small blob a descriptor names and checks its digest.
func (d *Dir) readBlob(desc v1.Descriptor) ([]byte, error) {
	rel := manifest.BlobPath(desc.Digest)
	b, err := d.readSmall(rel)
	if err != nil {
		return nil, err
	}
	if got := digest.FromBytes(b); got != desc.Digest {
		return nil, &DigestMismatchError{Path: filepath.Join(d.Path, rel), Got: got, Want: desc.Digest}
	}
	return b, nil
}

func (d *Dir) readManifest(desc v1.Descriptor) (indexed, error) {
	b, err := d.readBlob(desc)
	if err != nil {
		return indexed{}, err
	}
	m, err := manifest.Parse(bytes.NewReader(b))
	if err != nil {
		return indexed{}, fmt.Errorf("%s: %w", filepath.Join(d.Path, manifest.BlobPath(desc.Digest)), err)
	}
	return indexed{raw: b, desc: desc, m: m}, nil
}

type indexed struct {
	raw  []byte
	desc v1.Descriptor
	m    *v1.Manifest
	// from is the index listing it (index.json or a nested index's blob)
	// and entry its position in that index's manifests.
	from  string
	entry int
}

type indexedList []indexed

// entries describes an OCI layout without manifest.json as manifest.json
// would: one entry per manifest, named by the index's annotations.
func (l indexedList) entries() []manifest.Entry {
	var out []manifest.Entry
	for _, ix := range l {
		e := manifest.Entry{Config: manifest.BlobPath(ix.m.Config.Digest)}
		if tag, ok := repoTag(ix.desc); ok {
			e.RepoTags = []string{tag}
		}
		for _, ld := range ix.m.Layers {
			e.Layers = append(e.Layers, manifest.BlobPath(ld.Digest))
		}
		out = append(out, e)
	}
	return out
}

// repoTag is the name an index descriptor's annotations give an image:
// containerd's full name, or an OCI ref.name that is a whole reference
// (skopeo's and podman's). Docker's bare-tag ref.name says too little.
func repoTag(d v1.Descriptor) (string, bool) {
	name := d.Annotations[manifest.AnnotationImageName]
	if name == "" {
		name = d.Annotations[v1.AnnotationRefName]
	}
	if name == "" || !strings.ContainsAny(name, "/:") {
		return "", false
	}
	ref, err := manifest.ParseReference(name)
	if err != nil || !ref.IsTag() {
		return "", false
	}
	return ref.String(), true
}

// add appends im to the images, or its tags to the image with its ID.
func (d *Dir) add(im *DirImage) {
	if i := slices.IndexFunc(d.Images, func(o *DirImage) bool { return o.ID == im.ID }); i >= 0 {
		d.Images[i].RepoTags = append(d.Images[i].RepoTags, im.RepoTags...)
		return
	}
	d.Images = append(d.Images, im)
}

func (d *Dir) image(e manifest.Entry, blobManifests map[digest.Digest]indexed) (*DirImage, error) {
	cb, err := d.readSmall(e.Config)
	if err != nil {
		return nil, err
	}
	im := &DirImage{ID: manifest.ID(cb), ConfigPath: e.Config, ConfigSize: int64(len(cb)), RepoTags: e.RepoTags, config: cb}
	if want, ok := manifest.DigestFromPath(e.Config); ok && want != im.ID {
		return nil, &DigestMismatchError{Path: filepath.Join(d.Path, e.Config), Got: im.ID, Want: want}
	}
	if im.Config, err = manifest.ConfigFromBytes(cb); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(d.Path, e.Config), err)
	}
	diffIDs := im.Config.RootFS.DiffIDs
	if len(diffIDs) != len(e.Layers) {
		return nil, fmt.Errorf("%s: %d diff_ids for %d layers in manifest.json", filepath.Join(d.Path, e.Config), len(diffIDs), len(e.Layers))
	}
	ix, hasIndexed := blobManifests[im.ID]
	if hasIndexed && len(ix.m.Layers) != len(e.Layers) {
		hasIndexed = false
	}
	im.canonical = true
	for i, p := range e.Layers {
		l := DirLayer{Path: p, DiffID: diffIDs[i], Digest: diffIDs[i], MediaType: v1.MediaTypeImageLayer, Size: -1}
		if named, ok := manifest.DigestFromPath(p); ok && named != l.DiffID {
			// Stored compressed: only the directory's own manifest says how.
			if !hasIndexed || ix.m.Layers[i].Digest != named {
				return nil, fmt.Errorf("%s: layer %d is named %s, not its uncompressed diff_id %s, and no manifest in index.json describes it", filepath.Join(d.Path, filepath.FromSlash(p)), i, named, l.DiffID)
			}
			l.Digest, l.MediaType, l.Size = named, ix.m.Layers[i].MediaType, ix.m.Layers[i].Size
			im.canonical = false
		}
		im.Layers = append(im.Layers, l)
	}
	if !im.canonical {
		im.Manifest, im.ManifestDigest = ix.raw, ix.desc.Digest
		return im, nil
	}
	// The canonical manifest needs each layer's size: index.json's manifest
	// has it (imgsave keeps that in git), else the file does once present.
	for i := range im.Layers {
		if hasIndexed && ix.m.Layers[i].Digest == im.Layers[i].Digest {
			im.Layers[i].Size = ix.m.Layers[i].Size
		} else if size, err := d.presentSize(im.Layers[i].Path); err == nil {
			im.Layers[i].Size = size
		}
	}
	if err := im.canonicalManifest(); err != nil {
		return nil, err
	}
	return im, nil
}

// canonicalManifest sets Manifest and ManifestDigest from the layers, or
// leaves them empty while a layer's size is unknown.
func (im *DirImage) canonicalManifest() error {
	ci := manifest.Image{Config: v1.Descriptor{Digest: im.ID, Size: im.ConfigSize}}
	for _, l := range im.Layers {
		if l.Size < 0 {
			im.Manifest, im.ManifestDigest = nil, ""
			return nil
		}
		ci.Layers = append(ci.Layers, v1.Descriptor{Digest: l.DiffID, Size: l.Size})
	}
	var err error
	im.Manifest, im.ManifestDigest, err = ci.Manifest()
	return err
}

// readSmall reads a JSON file of the directory through the size limit.
func (d *Dir) readSmall(rel string) ([]byte, error) {
	f, err := d.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := manifest.ReadLimited(f)
	if errors.Is(err, manifest.ErrTooLarge) {
		return nil, &FileError{Path: d.join(rel), Reason: StatusTooLarge, Err: err}
	} else if err != nil {
		return nil, &FileError{Path: d.join(rel), Reason: StatusUnreadable, Err: err}
	}
	if isAnnexPointer(b) {
		return nil, d.missing(rel)
	}
	return b, nil
}

// Open opens a file of the directory by a path from its manifests for
// reading. It accepts only a regular file, reached directly or through
// symbolic links that stay inside the directory or lead into the git-annex
// object store of the repository holding it; anything else is a
// *[FileError] saying what it is, before a byte is read. A git-annex file
// whose content is not present wraps [ErrContentMissing].
func (d *Dir) Open(rel string) (*os.File, error) {
	return d.files.open(rel)
}

func (d *Dir) join(rel string) string { return filepath.Join(d.Path, filepath.FromSlash(rel)) }

func (d *Dir) missing(rel string) error {
	return &FileError{Path: d.join(rel), Reason: StatusNotPresent, Err: d.files.remedy()}
}

// An unlocked git-annex file without content is a small pointer file.
func isAnnexPointer(b []byte) bool {
	return len(b) < 1024 && bytes.HasPrefix(b, []byte("/annex/objects/"))
}

// Present reports whether the content of a file of the directory is here:
// false for a dangling git-annex symlink, an annex pointer file, or no file.
func (d *Dir) Present(rel string) bool {
	return d.checkPresent(rel) == nil
}

// CheckPresent reports the first file of im that is not present locally,
// without reading any content, so that a load fails before anything is sent
// to the engine.
func (d *Dir) CheckPresent(im *DirImage) error {
	for _, l := range im.Layers {
		if err := d.checkPresent(l.Path); err != nil {
			return err
		}
	}
	return nil
}

// checkPresent opens rel and reads its first bytes: an error for a file
// Open refuses, or an annex pointer ([ErrContentMissing]).
func (d *Dir) checkPresent(rel string) error {
	_, err := d.presentSize(rel)
	return err
}

// presentSize is the size of rel when its content is here.
func (d *Dir) presentSize(rel string) (int64, error) {
	f, err := d.Open(rel)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	if fi.Size() < 1024 && isAnnexPointer(head[:n]) {
		return 0, d.missing(rel)
	}
	return fi.Size(), nil
}

// sameTag reports whether the directory's tag t is the one asked for: the
// same reference once normalized ("busybox" is "busybox:latest" is
// "docker.io/library/busybox:latest"), or, as podman names local images,
// t is "localhost/" followed by it.
func sameTag(t, asked string) bool {
	if t == asked || t == "localhost/"+asked {
		return true
	}
	a, err1 := manifest.ParseReference(asked)
	b, err2 := manifest.ParseReference(t)
	return err1 == nil && err2 == nil && a.String() == b.String()
}

// Select picks one image: by repo tag, or by config digest prefix (with
// or without "sha256:"). With neither, the directory must hold exactly one.
func (d *Dir) Select(repoTag, configPrefix string) (*DirImage, error) {
	return d.SelectPlatform(repoTag, configPrefix, "", nil)
}

// SelectPlatform is [Dir.Select] for a directory that may hold several
// platforms of an image. A platform ("os/arch[/variant]", read by
// [manifest.ParsePlatform], whose error it returns for junk) keeps only
// the images of that platform; none is an error wrapping [ErrPlatform]
// that lists those the directory holds (eight, then how many more). When several images still match and
// each is another platform, native (asked only then; nil means none)
// names the one to pick: the platform the engine runs.
func (d *Dir) SelectPlatform(repoTag, configPrefix, platform string, native func() (string, error)) (*DirImage, error) {
	if platform != "" {
		p, err := manifest.ParsePlatform(platform)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Path, err)
		}
		platform = manifest.PlatformString(&p)
	}
	var match []*DirImage
	for _, im := range d.Images {
		switch {
		case repoTag != "" && !slices.ContainsFunc(im.RepoTags, func(t string) bool { return sameTag(t, repoTag) }):
		case configPrefix != "" && !strings.HasPrefix(im.ID.Encoded(), strings.TrimPrefix(configPrefix, "sha256:")):
		case platform != "" && !SamePlatform(im.Config.Platform(), platform):
		default:
			match = append(match, im)
		}
	}
	if len(match) == 0 && platform != "" {
		return nil, fmt.Errorf("%s: %w %s; it holds %s", d.Path, ErrPlatform, platform, manifest.List(platformsOf(d.Images), manifest.MaxListed))
	}
	if len(match) > 1 && native != nil && distinctPlatforms(match) {
		want, err := native()
		if err != nil {
			return nil, err
		}
		for _, im := range match {
			if SamePlatform(im.Config.Platform(), want) {
				return im, nil
			}
		}
		return nil, fmt.Errorf("%s: %w %s, the engine's; it holds %s (pick one to run under emulation)", d.Path, ErrPlatform, want, manifest.List(platformsOf(match), manifest.MaxListed))
	}
	if len(match) == 1 {
		return match[0], nil
	}
	var choices []string
	for _, im := range d.Images {
		c := im.ID.Encoded()[:12]
		if len(im.RepoTags) > 0 {
			c += " (" + manifest.List(im.RepoTags, manifest.MaxListed) + ")"
		}
		choices = append(choices, c)
	}
	if len(match) == 0 && (repoTag != "" || configPrefix != "") {
		return nil, fmt.Errorf("%s: %w: no image matches repo tag %q and config %q; it holds: %s", d.Path, ErrSelect, repoTag, configPrefix, manifest.ListSep(choices, manifest.MaxListed, "; "))
	}
	return nil, fmt.Errorf("%s: %w by repo tag or config digest: it holds %d: %s", d.Path, ErrSelect, len(match), manifest.ListSep(choices, manifest.MaxListed, "; "))
}

// SamePlatform reports whether two "os/arch[/variant]" name the same
// platform: a variant missing on either side matches any, and arm64's
// default variant is v8.
func SamePlatform(a, b string) bool {
	pa, pb := strings.Split(a, "/"), strings.Split(b, "/")
	if len(pa) < 2 || len(pb) < 2 || pa[0] != pb[0] || pa[1] != pb[1] {
		return false
	}
	return len(pa) < 3 || len(pb) < 3 || pa[2] == pb[2]
}

func platformsOf(ims []*DirImage) []string {
	var out []string
	for _, im := range ims {
		if p := im.Config.Platform(); !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// distinctPlatforms reports whether no two images share a platform.
func distinctPlatforms(ims []*DirImage) bool {
	return len(platformsOf(ims)) == len(ims)
}
