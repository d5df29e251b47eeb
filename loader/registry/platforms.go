package registry

import (
	"fmt"
	"slices"
	"strings"

	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Several platforms in one pull (issue 21): Options.Platform "all" or
// "os/arch,os/arch[/variant]", each platform's image written into one
// stream under a nested index, which archive.Extract turns into one
// directory of several images.

// maxPlatforms is how many platforms one pull takes at most: "all" of an
// index of a registry's choosing (up to maxSmall bytes: some 40,000
// entries) could otherwise make it ask for as many manifests. Registries'
// real indexes list a dozen or two, attestations included.
const maxPlatforms = 64

// selection is what Options.Platform asks for: all the platforms of an
// index, or those of want (each once, in the order given; none means the
// default one).
type selection struct {
	all  bool
	want []ggcr.Platform
}

// single reports whether one platform is asked for: the pull of one
// image, as before several could be.
func (s selection) single() bool { return !s.all && len(s.want) <= 1 }

// parseSelection reads Options.Platform: "", one "os/arch[/variant]",
// several separated by commas (the same one twice counts once), or "all".
func parseSelection(s string) (selection, error) {
	if s == "all" {
		return selection{all: true}, nil
	}
	if s == "" {
		return selection{}, nil
	}
	var sel selection
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		switch e {
		case "":
			return selection{}, fmt.Errorf("platform %q: an empty entry; want OS/ARCH[/VARIANT], several separated by commas, or all", s)
		case "all":
			return selection{}, fmt.Errorf("platform %q: all stands alone, not in a list", s)
		}
		p, err := platform(e)
		if err != nil {
			return selection{}, err
		}
		if !slices.ContainsFunc(sel.want, func(w ggcr.Platform) bool { return w.String() == p.String() }) {
			sel.want = append(sel.want, p)
		}
	}
	return sel, nil
}

// matches reports whether an image of platform p is one of want: the same
// OS and architecture, and the same variant when want names one (so that
// linux/arm64 takes linux/arm64/v8), as pick does for one platform.
func matches(p, want ggcr.Platform) bool {
	return p.OS == want.OS && p.Architecture == want.Architecture && (want.Variant == "" || p.Variant == want.Variant)
}

// chosen is one image to pull, with the platform the index lists it for
// (nil for an image that is no index's).
type chosen struct {
	img      ggcr.Image
	platform *ggcr.Platform
}

// pickAll resolves desc to the images of sel, in the order the index lists
// them, each manifest once: for all, the first image of every platform but
// attestations; for a list, the first image of each platform it names,
// each of which must be there. A single image is all there is: it must be
// of each platform a list names. Indexes nested in desc are read one level
// deep and at most maxNested of them, as pick does (all is refused when
// one is left unread); at most maxPlatforms images are taken, and only
// their manifests are fetched.
func pickAll(desc *remote.Descriptor, sel selection, ref string) ([]chosen, error) {
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		if sel.all {
			return []chosen{{img: img}}, nil
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		got := ggcr.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		var missing []string
		for _, w := range sel.want {
			if !matches(got, w) {
				missing = append(missing, w.String())
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("pull %s: %w %s; it is %s", ref, ErrPlatform, strings.Join(missing, ", "), got.String())
		}
		return []chosen{{img: img}}, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	w := &walker{sel: sel}
	if err := w.walk(idx, 0); err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	take, missing := w.choose()
	if len(missing) > 0 {
		// The platforms are the registry's words: never a format string.
		return nil, fmt.Errorf("pull %s: %w %s; it holds %s%s", ref, ErrPlatform, strings.Join(missing, ", "), list(w.have, 8), w.unread())
	}
	if len(take) == 0 {
		return nil, fmt.Errorf("pull %s: %w: the index holds no image but attestations%s", ref, ErrPlatform, w.unread())
	}
	if why := w.unread(); sel.all && why != "" {
		// All would be some: say so rather than pull fewer in silence.
		return nil, fmt.Errorf("pull %s: not all platforms of the index can be read%s; name the ones to pull (it holds %s)", ref, why, list(w.have, 8))
	}
	if len(take) > maxPlatforms {
		if sel.all {
			return nil, fmt.Errorf("pull %s: the index holds %d platforms, more than the %d one pull takes; name the ones to pull", ref, len(take), maxPlatforms)
		}
		return nil, fmt.Errorf("pull %s: %d platforms asked for, more than the %d one pull takes", ref, len(take), maxPlatforms)
	}
	var out []chosen
	for _, c := range take {
		img, err := c.idx.Image(c.d.Digest)
		if err != nil {
			return nil, fmt.Errorf("pull %s: manifest %s: %w", ref, c.d.Digest, err)
		}
		if err := checkRaw(img); err != nil {
			return nil, fmt.Errorf("pull %s: manifest %s: %w", ref, c.d.Digest, err)
		}
		p := c.d.Platform
		out = append(out, chosen{img: img, platform: &ggcr.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}})
	}
	return out, nil
}

// candidate is an image an index lists for a platform.
type candidate struct {
	idx ggcr.ImageIndex // the index that lists it
	d   ggcr.Descriptor
}

// walker gathers the images of an index and of the indexes it holds.
type walker struct {
	sel    selection
	found  []candidate
	have   []string // the platforms seen, for errors
	nested int      // nested indexes met
	deeper int      // indexes nested more than one level, not read
}

// walk gathers idx's images in order; depth is how deep idx is nested.
// A nested index whose platform is none of sel's is not read.
func (w *walker) walk(idx ggcr.ImageIndex, depth int) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, m := range im.Manifests {
		p := m.Platform
		if m.MediaType.IsIndex() {
			if p != nil && !w.sel.all && !slices.ContainsFunc(w.sel.want, func(want ggcr.Platform) bool {
				return p.OS == want.OS && p.Architecture == want.Architecture
			}) {
				w.have = append(w.have, p.String())
				continue
			}
			if depth > 0 {
				w.deeper++
				continue
			}
			if w.nested++; w.nested > maxNested {
				continue
			}
			child, err := idx.ImageIndex(m.Digest)
			if err != nil {
				return fmt.Errorf("nested index %s: %w", m.Digest, err)
			}
			if err := checkRaw(child); err != nil {
				return fmt.Errorf("nested index %s: %w", m.Digest, err)
			}
			if err := w.walk(child, depth+1); err != nil {
				return err
			}
			continue
		}
		if p == nil || p.OS == "unknown" || !m.MediaType.IsImage() {
			continue // attestations
		}
		w.found = append(w.found, candidate{idx: idx, d: m})
		w.have = append(w.have, p.String())
	}
	return nil
}

// choose picks among the images found those sel asks for, in the index's
// order and each manifest once, and says which platforms of sel's list
// are not there.
func (w *walker) choose() (take []candidate, missing []string) {
	picked := make([]bool, len(w.found))
	if w.sel.all {
		platforms := map[string]bool{}
		for i, c := range w.found {
			if p := c.d.Platform.String(); !platforms[p] {
				platforms[p] = true
				picked[i] = true
			}
		}
	}
	for _, want := range w.sel.want {
		i := slices.IndexFunc(w.found, func(c candidate) bool { return matches(*c.d.Platform, want) })
		if i < 0 {
			missing = append(missing, want.String())
			continue
		}
		picked[i] = true
	}
	manifests := map[ggcr.Hash]bool{}
	for i, c := range w.found {
		if picked[i] && !manifests[c.d.Digest] {
			manifests[c.d.Digest] = true
			take = append(take, c)
		}
	}
	return take, missing
}

// unread says, for an error, which indexes were not read: those past
// maxNested, and those nested deeper than one level.
func (w *walker) unread() string {
	var why []string
	if w.nested > maxNested {
		why = append(why, fmt.Sprintf("%d nested indexes not read, past the first %d", w.nested-maxNested, maxNested))
	}
	if w.deeper > 0 {
		why = append(why, fmt.Sprintf("%d indexes nested deeper than one level not read", w.deeper))
	}
	if len(why) == 0 {
		return ""
	}
	return " (" + strings.Join(why, "; ") + ")"
}
