package imgsave

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/loader/annex"
	"github.com/imgsave/imgsave/loader/registry"
)

// A source is one place a layer can be had from again: an image in the
// local engine, or an image in a registry, that holds it.
type source struct {
	// An engine image, by config digest (the ID on classic stores and
	// podman), the manifest digest imgsave loads it under (the ID on
	// containerd stores), and the ID the engine gave it when it was
	// recorded, if another (a containerd store's image that imgsave did
	// not load).
	config, manifest, id digest.Digest
	// A registry image, as repository@digest.
	ref string
	// The layer, by diff ID.
	layer digest.Digest
}

func (s source) engine() bool { return s.ref == "" }

// url renders s as the URL git-annex records for the layer's key.
func (s source) url() string {
	if s.engine() {
		u := urlPrefix + "engine?config=" + s.config.String()
		if s.manifest != "" {
			u += "&manifest=" + s.manifest.String()
		}
		if s.id != "" && s.id != s.config && s.id != s.manifest {
			u += "&id=" + s.id.String()
		}
		return u + "&layer=" + s.layer.String()
	}
	return urlPrefix + "registry?ref=" + s.ref + "&layer=" + s.layer.String()
}

// String is s for people: where the layer is.
func (s source) String() string {
	if s.engine() {
		return "the engine's image " + short(s.config)
	}
	return "the registry's " + s.ref
}

func parseSource(u string) (source, error) {
	rest, ok := strings.CutPrefix(u, urlPrefix)
	kind, query, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(query)
	if !ok || err != nil {
		return source{}, fmt.Errorf("%q: not an imgsave URL", u)
	}
	s := source{layer: digest.Digest(q.Get("layer"))}
	switch kind {
	case "engine":
		s.config, s.manifest, s.id = digest.Digest(q.Get("config")), digest.Digest(q.Get("manifest")), digest.Digest(q.Get("id"))
		if s.config.Validate() != nil || (s.manifest != "" && s.manifest.Validate() != nil) || (s.id != "" && s.id.Validate() != nil) {
			return source{}, fmt.Errorf("%q: want config=DIGEST", u)
		}
	case "registry":
		s.ref = q.Get("ref")
		if !strings.Contains(s.ref, "@sha256:") {
			return source{}, fmt.Errorf("%q: want ref=REPOSITORY@DIGEST", u)
		}
	default:
		return source{}, fmt.Errorf("%q: want imgsave:engine or imgsave:registry", u)
	}
	if s.layer.Validate() != nil {
		return source{}, fmt.Errorf("%q: want layer=DIGEST", u)
	}
	return s, nil
}

// sources are the key's recorded sources, the engine's first.
func (r *annexRemote) sources(c *annex.Conn, key string) ([]source, error) {
	urls, err := c.URLs(key, urlPrefix)
	if err != nil {
		return nil, err
	}
	var out []source
	for _, u := range urls {
		if s, err := parseSource(u); err == nil {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b source) int {
		switch {
		case a.engine() == b.engine():
			return 0
		case a.engine():
			return -1
		}
		return 1
	})
	return out, nil
}

// inEngine finds the engine's image of s, by config digest or manifest
// digest, if it holds s's layer.
func inEngine(ctx context.Context, eng Engine, s source) (*loader.Image, error) {
	for _, n := range []digest.Digest{s.config, s.manifest, s.id} {
		if n == "" {
			continue
		}
		img, err := eng.Inspect(ctx, string(n))
		if errors.Is(err, loader.ErrImageNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if slices.Contains(img.DiffIDs, s.layer) {
			return img, nil
		}
	}
	return nil, fmt.Errorf("%w: no image %s holding the layer (removed, or never on this machine)", ErrNotInEngine, short(s.config))
}

// has reports whether s can give its layer now: the engine holds the
// image, or the registry has the manifest and its config lists the layer.
func (r *annexRemote) has(ctx context.Context, s source) (bool, error) {
	if s.engine() {
		eng, err := r.engine()
		if err != nil {
			return false, err
		}
		_, err = inEngine(ctx, eng, s)
		if errors.Is(err, ErrNotInEngine) {
			return false, nil
		}
		return err == nil, err
	}
	k := s.ref + " " + s.layer.String()
	if ok, seen := r.present[k]; seen {
		return ok, nil
	}
	d, err := registry.Describe(ctx, s.ref, registry.Options{Insecure: r.opts.Insecure, IdleTimeout: r.opts.IdleTimeout})
	if errors.Is(err, registry.ErrNotFound) {
		r.present[k] = false
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r.present[k] = slices.Contains(d.DiffIDs, s.layer.String())
	return r.present[k], nil
}
