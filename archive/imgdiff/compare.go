package imgdiff

import (
	"context"
	"encoding/json"
	"maps"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imgsave/imgsave/archive"
)

// Options ignore the metadata a rebuild changes by nature.
type Options struct {
	// IgnoreTimestamps ignores files' mtime, atime and ctime, the
	// config's created and history[].created, and the labels
	// org.opencontainers.image.created and org.label-schema.build-date.
	IgnoreTimestamps bool `json:"ignore_timestamps"`
	// IgnoreFileOrder compares each layer's entries as a set, not a
	// sequence.
	IgnoreFileOrder bool `json:"ignore_file_order"`
	// IgnoreLayerBoundaries compares the flattened filesystems (each
	// image's layers applied in order, whiteouts and opaque folders
	// included) instead of the layers one by one; the config's history,
	// which describes the layers, then counts as layer boundaries, and
	// the bytes of tars and configs (their encoding) do not count.
	IgnoreLayerBoundaries bool `json:"ignore_layer_boundaries"`
	// Verified, when not nil, is the record of layer files hashed before
	// (as load keeps it): a layer file it holds as unchanged is read
	// without hashing it against its diff ID, and one hashed here is
	// added to it ([archive.Dir.Layer]). Files are hashed either way.
	Verified *archive.VerifiedRecord `json:"-"`
}

// Verdict is the one-word answer of a comparison.
type Verdict string

// The verdicts.
const (
	Identical Verdict = "identical" // the same image ID (config digest)
	// EqualExceptMetadata is for images whose differences are all
	// metadata: [Result.Metadata] says which.
	EqualExceptMetadata Verdict = "equal except metadata"
	Different           Verdict = "different"
)

// The kinds of metadata [Result.Metadata] names.
const (
	Timestamps      = "timestamps"
	FileOrder       = "file order"
	LayerBoundaries = "layer boundaries"
	// TarEncoding is for layers whose entries are all equal, in the same
	// order, in other tar bytes (header formats, padding).
	TarEncoding = "tar encoding"
	// ConfigEncoding is for configs whose compared fields are all equal
	// in other bytes: key order, spacing, or fields not compared (legacy
	// Docker's container and container_config, a record of the build
	// container whose ID is new in every build, and docker_version).
	ConfigEncoding = "config encoding"
)

// The layer statuses of [LayerDiff].
const (
	LayerSame      = "same"      // the same diff ID
	LayerMetadata  = "metadata"  // the same files, other metadata
	LayerDifferent = "different" // files differ
	LayerAdded     = "added"     // only in B
	LayerRemoved   = "removed"   // only in A
)

// The changes of a [FileDiff].
const (
	Added   = "added"
	Removed = "removed"
	Type    = "type"
	Content = "content"
	Link    = "link"
	Device  = "device"
	ModeCh  = "mode"
	Owner   = "owner"
	Xattrs  = "xattrs"
	MTime   = "mtime" // mtime, atime or ctime
)

// Side is one image to compare, in its directory.
type Side struct {
	Name  string // as the caller names it, for the result
	Dir   *archive.Dir
	Image *archive.DirImage
}

// Image describes one side in a [Result].
type Image struct {
	Name     string          `json:"name"`
	ID       digest.Digest   `json:"id"`
	Platform string          `json:"platform"`
	Layers   []digest.Digest `json:"layers"`
}

// FieldDiff is one field of the config that differs: A and B are its
// JSON values, absent where the field is.
type FieldDiff struct {
	Field string          `json:"field"`
	A     json.RawMessage `json:"a,omitempty"`
	B     json.RawMessage `json:"b,omitempty"`
	// Metadata is the kind of metadata the field is (timestamps, layer
	// boundaries), "" for a real difference.
	Metadata string `json:"metadata,omitempty"`
}

// LayerDiff compares the layers at one position.
type LayerDiff struct {
	Index  int           `json:"index"`
	A      digest.Digest `json:"a,omitempty"`
	B      digest.Digest `json:"b,omitempty"`
	Status string        `json:"status"`
	// Metadata says which metadata differs in a layer of status
	// metadata, or also differs in a different one.
	Metadata []string `json:"metadata,omitempty"`
	Files    int      `json:"files"` // the files of Result.Files in this layer
}

// FileDiff is one path that differs: in the layer Layer, or in the
// flattened filesystems (Layer nil).
type FileDiff struct {
	Layer   *int     `json:"layer,omitempty"`
	Path    string   `json:"path"`
	Changes []string `json:"changes"`
	A       *Entry   `json:"a,omitempty"`
	B       *Entry   `json:"b,omitempty"`
}

// Result is the outcome of [Compare].
type Result struct {
	Verdict Verdict `json:"verdict"`
	// Equal is true when the images are equal under the options: the
	// verdict is identical, or equal except metadata that the options
	// all ignore. Commands exit 0 then.
	Equal bool `json:"equal"`
	// Metadata lists the kinds of metadata that differ, ignored or not.
	Metadata []string    `json:"metadata"`
	Options  Options     `json:"options"`
	A        Image       `json:"a"`
	B        Image       `json:"b"`
	Config   []FieldDiff `json:"config"`
	Layers   []LayerDiff `json:"layers"`
	// Files are the paths that differ, by layer then path; in the
	// flattened filesystems with IgnoreLayerBoundaries. Changes the
	// options ignore are left out, and so are the files they leave
	// with none; Config leaves out the fields they ignore.
	Files []FileDiff `json:"files"`
}

// Compare compares the images of a and b. Images with the same ID are
// identical without a layer being read; otherwise every distinct layer
// of both is read once, streamed (two to four at a time, as there are
// CPUs), each file hashed as it passes. Errors name the layer; a layer whose content is not its diff ID
// is an *[archive.DigestMismatchError], a hostile one an error wrapping
// [archive.ErrRefused], and one not present locally wraps
// [archive.ErrContentMissing].
func Compare(ctx context.Context, a, b Side, opts Options) (*Result, error) {
	r := &Result{Options: opts, A: describe(a), B: describe(b), Metadata: []string{}, Config: []FieldDiff{}, Layers: []LayerDiff{}, Files: []FileDiff{}}
	if a.Image.ID == b.Image.ID {
		r.Verdict, r.Equal = Identical, true
		for i, d := range r.A.Layers {
			r.Layers = append(r.Layers, LayerDiff{Index: i, A: d, B: d, Status: LayerSame})
		}
		return r, nil
	}
	layers, err := readAll(ctx, a, b, opts.Verified)
	if err != nil {
		return nil, err
	}
	la, lb := pick(layers, a.Image), pick(layers, b.Image)
	c := &comparison{opts: opts, classes: map[string]bool{}}

	perLayer, perLayerReal := c.byLayer(r, la, lb)
	fc := &comparison{opts: opts, classes: map[string]bool{}}
	flat, flatReal := fc.entries(nil, flatten(la), flatten(lb))
	// The kinds of metadata found layer by layer (file order, tar
	// encoding) are named whatever the options; the ones of the
	// flattened filesystems too.
	for k := range fc.classes {
		c.classes[k] = true
	}
	r.Files = perLayer
	if opts.IgnoreLayerBoundaries {
		r.Files = flat
		if slices.ContainsFunc(flat, func(f FileDiff) bool { return slices.Contains(f.Changes, MTime) }) {
			c.classes[Timestamps] = true
		}
	}
	boundaries := perLayerReal && !flatReal
	if boundaries {
		c.classes[LayerBoundaries] = true
	}
	fields, err := compareConfig(a.Image.ConfigBytes(), b.Image.ConfigBytes(), boundaries || opts.IgnoreLayerBoundaries)
	if err != nil {
		return nil, err
	}
	configReal := false
	for _, f := range fields {
		if f.Metadata == "" {
			configReal = true
		} else {
			c.classes[f.Metadata] = true
		}
		if f.Metadata == "" || !opts.ignores(f.Metadata) {
			r.Config = append(r.Config, f)
		}
	}
	if len(fields) == 0 && len(c.classes) == 0 && !flatReal && !perLayerReal {
		c.classes[ConfigEncoding] = true // the IDs differ, after all
	}
	for _, k := range []string{Timestamps, FileOrder, LayerBoundaries, TarEncoding, ConfigEncoding} {
		if c.classes[k] {
			r.Metadata = append(r.Metadata, k)
		}
	}
	switch {
	case configReal || flatReal:
		r.Verdict = Different
	default:
		r.Verdict = EqualExceptMetadata
		r.Equal = !slices.ContainsFunc(r.Metadata, func(k string) bool { return !opts.ignores(k) })
	}
	return r, nil
}

// ignores reports whether the options ignore the metadata kind k.
func (o Options) ignores(k string) bool {
	switch k {
	case Timestamps:
		return o.IgnoreTimestamps
	case FileOrder:
		return o.IgnoreFileOrder || o.IgnoreLayerBoundaries
	case LayerBoundaries, TarEncoding, ConfigEncoding:
		return o.IgnoreLayerBoundaries
	}
	return false
}

func describe(s Side) Image {
	im := Image{Name: s.Name, ID: s.Image.ID, Platform: s.Image.Config.Platform(), Layers: []digest.Digest{}}
	for _, l := range s.Image.Layers {
		im.Layers = append(im.Layers, l.DiffID)
	}
	return im
}

// readAll reads every distinct layer of both sides once, two to four at
// a time, within one budget.
func readAll(ctx context.Context, a, b Side, rec *archive.VerifiedRecord) (map[digest.Digest]*layer, error) {
	type job struct {
		d *archive.Dir
		l archive.DirLayer
	}
	var jobs []job
	seen := map[digest.Digest]bool{}
	for _, s := range []Side{a, b} {
		for _, l := range s.Image.Layers {
			if !seen[l.DiffID] {
				seen[l.DiffID] = true
				jobs = append(jobs, job{s.Dir, l})
			}
		}
	}
	var mu sync.Mutex
	out := make(map[digest.Digest]*layer, len(jobs))
	bud := newBudget(MaxEntries, MaxXattrBytes)
	g, ctx := errgroup.WithContext(ctx)
	// Hashing bounds the work: a layer per CPU, two at least (one per
	// side) and four at most (the disk's reads are one queue).
	g.SetLimit(min(max(runtime.GOMAXPROCS(0), 2), 4))
	for _, j := range jobs {
		g.Go(func() error {
			buf := make([]byte, 1<<20)
			l, err := readLayer(ctx, j.d, j.l, rec, bud, buf)
			if err != nil {
				return err
			}
			mu.Lock()
			out[j.l.DiffID] = l
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func pick(layers map[digest.Digest]*layer, im *archive.DirImage) []*layer {
	var out []*layer
	for _, l := range im.Layers {
		out = append(out, layers[l.DiffID])
	}
	return out
}

// comparison gathers the kinds of metadata found to differ.
type comparison struct {
	opts    Options
	classes map[string]bool
}

// byLayer compares the layers position by position, adding a line per
// position to r, and returns their file differences and whether any is
// real (not metadata).
func (c *comparison) byLayer(r *Result, la, lb []*layer) ([]FileDiff, bool) {
	var files []FileDiff
	real := false
	for i := range max(len(la), len(lb)) {
		ld := LayerDiff{Index: i}
		var a, b *layer
		if i < len(la) {
			a, ld.A = la[i], r.A.Layers[i]
		}
		if i < len(lb) {
			b, ld.B = lb[i], r.B.Layers[i]
		}
		idx := i
		var fd []FileDiff
		switch {
		case b == nil:
			ld.Status, real = LayerRemoved, true
			fd, _ = c.entries(&idx, a.entries, nil)
		case a == nil:
			ld.Status, real = LayerAdded, true
			fd, _ = c.entries(&idx, nil, b.entries)
		case ld.A == ld.B:
			ld.Status = LayerSame
		default:
			var differ bool
			fd, differ = c.entries(&idx, a.entries, b.entries)
			if slices.ContainsFunc(fd, func(f FileDiff) bool { return slices.Contains(f.Changes, MTime) }) || c.timesDiffer(a, b) {
				ld.Metadata = append(ld.Metadata, Timestamps)
			}
			if !sameOrder(a, b) {
				ld.Metadata = append(ld.Metadata, FileOrder)
			}
			ld.Status = LayerMetadata
			if differ {
				ld.Status, real = LayerDifferent, true
			} else if len(ld.Metadata) == 0 {
				ld.Metadata = append(ld.Metadata, TarEncoding)
			}
			for _, k := range ld.Metadata {
				c.classes[k] = true
			}
		}
		ld.Files = len(fd)
		files = append(files, fd...)
		r.Layers = append(r.Layers, ld)
	}
	return files, real
}

// timesDiffer reports whether any path of both layers has other times:
// what is left out of the files when timestamps are ignored.
func (c *comparison) timesDiffer(a, b *layer) bool {
	if !c.opts.IgnoreTimestamps {
		return false // then they are among the files
	}
	for p, ea := range a.entries {
		if eb, ok := b.entries[p]; ok && !sameTimes(ea, eb) {
			return true
		}
	}
	return false
}

// sameOrder reports whether the paths both layers hold come in the same
// order in each.
func sameOrder(a, b *layer) bool {
	var sa, sb []string
	for _, p := range a.order {
		if _, ok := b.entries[p]; ok {
			sa = append(sa, p)
		}
	}
	for _, p := range b.order {
		if _, ok := a.entries[p]; ok {
			sb = append(sb, p)
		}
	}
	return slices.Equal(sa, sb)
}

// entries compares two sets of entries by path and returns the paths that
// differ, sorted, and whether any differs in more than its times. When
// IgnoreTimestamps is set, paths that differ in their times alone are
// left out, and the time kind noted.
func (c *comparison) entries(layer *int, a, b map[string]*Entry) ([]FileDiff, bool) {
	var out []FileDiff
	real := false
	for p, ea := range a {
		eb, ok := b[p]
		if !ok {
			out, real = append(out, FileDiff{Layer: layer, Path: p, Changes: []string{Removed}, A: ea}), true
			continue
		}
		ch := changes(ea, eb)
		if len(ch) == 0 {
			continue
		}
		if slices.Contains(ch, MTime) {
			if c.opts.IgnoreTimestamps {
				c.classes[Timestamps] = true
				ch = slices.DeleteFunc(ch, func(s string) bool { return s == MTime })
				if len(ch) == 0 {
					continue
				}
			}
		}
		if len(ch) > 1 || ch[0] != MTime {
			real = true
		}
		out = append(out, FileDiff{Layer: layer, Path: p, Changes: ch, A: ea, B: eb})
	}
	for p, eb := range b {
		if _, ok := a[p]; !ok {
			out, real = append(out, FileDiff{Layer: layer, Path: p, Changes: []string{Added}, B: eb}), true
		}
	}
	slices.SortFunc(out, func(x, y FileDiff) int { return strings.Compare(x.Path, y.Path) })
	return out, real
}

// changes lists how b differs from a, in the order of the constants.
func changes(a, b *Entry) []string {
	var ch []string
	if a.Type != b.Type {
		ch = append(ch, Type)
	} else {
		if a.Size != b.Size || a.Digest != b.Digest {
			ch = append(ch, Content)
		}
		if a.Link != b.Link {
			ch = append(ch, Link)
		}
		if a.Device != b.Device {
			ch = append(ch, Device)
		}
	}
	if a.Mode != b.Mode {
		ch = append(ch, ModeCh)
	}
	// Engines extract by number: user and group names that differ alone
	// are the tar's encoding, not the filesystem.
	if a.UID != b.UID || a.GID != b.GID {
		ch = append(ch, Owner)
	}
	if !maps.Equal(a.Xattrs, b.Xattrs) {
		ch = append(ch, Xattrs)
	}
	if !sameTimes(a, b) {
		ch = append(ch, MTime)
	}
	return ch
}

func sameTimes(a, b *Entry) bool {
	return a.ModTime.Equal(b.ModTime) && a.atime.Equal(b.atime) && a.ctime.Equal(b.ctime)
}

// The whiteout names of the OCI image spec (layer.md, "Whiteouts").
const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// flatten applies the layers in order into one filesystem: a layer's
// whiteouts remove what the layers below hold, wherever they stand in it,
// then its entries are added; an entry that replaces a folder with
// something else hides what the folder held.
func flatten(layers []*layer) map[string]*Entry {
	fs := make(map[string]*Entry)
	for _, l := range layers {
		for _, p := range l.order {
			dir, base := path.Split(p)
			dir = strings.TrimSuffix(dir, "/")
			switch {
			case base == opaqueWhiteout:
				removeUnder(fs, dir)
			case strings.HasPrefix(base, whiteoutPrefix):
				target := path.Join(dir, base[len(whiteoutPrefix):])
				if e, ok := fs[target]; ok {
					delete(fs, target)
					if e.Type == "dir" {
						removeUnder(fs, target)
					}
				}
			}
		}
		for _, p := range l.order {
			if strings.HasPrefix(path.Base(p), whiteoutPrefix) {
				continue
			}
			e := l.entries[p]
			if old, ok := fs[p]; ok && old.Type == "dir" && e.Type != "dir" {
				removeUnder(fs, p)
			}
			fs[p] = e
		}
	}
	return fs
}

// removeUnder removes what fs holds below the folder dir ("" for the root).
func removeUnder(fs map[string]*Entry, dir string) {
	prefix := dir + "/"
	if dir == "" {
		prefix = ""
	}
	for p := range fs {
		if strings.HasPrefix(p, prefix) && p != dir {
			delete(fs, p)
		}
	}
}
