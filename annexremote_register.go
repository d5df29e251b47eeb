package imgsave

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader/annex"
	"github.com/imgsave/imgsave/loader/registry"
)

// RegisterOptions say which sources [Register] records.
type RegisterOptions struct {
	// Engine, when set, is recorded as a source of every layer of the
	// directory's images, with the registries it knows them from: their
	// repo digests, but for the engine's own ID (containerd stores list
	// it) and podman's localhost/ names.
	Engine Engine
	// Registries name images in registries (repository:tag or
	// repository@digest), each recorded for the layers it holds.
	Registries []string
	// Insecure is as for [Pull].
	Insecure bool
}

// Registered is what [Register] and [RegisterDataset] recorded.
type Registered struct {
	// Dirs are the image directories whose layers were looked at.
	Dirs []string `json:"dirs"`
	// Keys counts the layer files whose sources were recorded.
	Keys int `json:"keys"`
	// Sources are the sources recorded, as git-annex keeps them.
	Sources []string `json:"sources"`
}

// Register records, in the git-annex repository holding dir, where the
// layers of dir's images can be had again, so that `git annex get` (and
// `datalad get`) in any clone can take them from the engine or a registry
// through the special remote of type [RemoteType] instead of a copy of the
// dataset's own. It writes to the git-annex branch and nothing else.
//
// [Save], [Pull] and [Push] record nothing themselves: a caller that wants
// the remote to find what they wrote calls Register after them, with the
// engine it saved from, or the Source of [Pulled] or
// [registry.Pushed] as a registry. The imgsave command does so whenever
// the dataset has the remote.
//
// The repository must have that remote (see [InitRemote]); without it the
// error wraps [ErrNoRemote]. Only uncompressed layer files, named by their
// diff ID, are recorded: those are what the remote hands over. A layer
// several images share is recorded with each image's sources.
func Register(ctx context.Context, dir string, opts RegisterOptions) (*Registered, error) {
	rem, err := annex.FindRemote(ctx, dir, RemoteType)
	if err != nil {
		return nil, err
	}
	described, err := describeRegistries(ctx, opts)
	if err != nil {
		return nil, err
	}
	reg := &Registered{Dirs: []string{}, Sources: []string{}}
	pairs, err := reg.add(ctx, dir, opts, described)
	if err != nil {
		return nil, err
	}
	if err := annex.RegisterURLs(ctx, dir, rem, pairs); err != nil {
		return nil, err
	}
	return reg, nil
}

// RegisterDataset records, as [Register] does, the sources of every image
// directory in the git repository holding dir: each folder whose tracked
// manifest.json or index.json [archive.OpenDir] accepts. Folders it does
// not accept, such as one whose content is not present in a clone, are
// left out. It is what a dataset whose images were saved before it had the
// remote needs once; the remote's INITREMOTE does the same for the engine.
func RegisterDataset(ctx context.Context, dir string, opts RegisterOptions) (*Registered, error) {
	rem, err := annex.FindRemote(ctx, dir, RemoteType)
	if err != nil {
		return nil, err
	}
	reg, pairs, err := datasetSources(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	if err := annex.RegisterURLs(ctx, dir, rem, pairs); err != nil {
		return nil, err
	}
	return reg, nil
}

// datasetSources finds the image directories of the work tree holding dir
// and the {key, URL} pairs of their layers' sources.
func datasetSources(ctx context.Context, dir string, opts RegisterOptions) (*Registered, [][2]string, error) {
	top, files, err := annex.TrackedFiles(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	described, err := describeRegistries(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	var dirs []string
	seen := map[string]bool{}
	for _, f := range files {
		if b := filepath.Base(f); b != "manifest.json" && b != "index.json" {
			continue
		}
		if d := filepath.Dir(f); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	reg := &Registered{Dirs: []string{}, Sources: []string{}}
	var pairs [][2]string
	for _, d := range dirs {
		p, err := reg.add(ctx, filepath.Join(top, d), opts, described)
		if errors.Is(err, errNotImageDir) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		pairs = append(pairs, p...)
	}
	return reg, pairs, nil
}

// errNotImageDir: a folder [archive.OpenDir] refuses.
var errNotImageDir = errors.New("not an image directory")

// describeRegistries looks up each of opts.Registries.
func describeRegistries(ctx context.Context, opts RegisterOptions) ([]*registry.Described, error) {
	var described []*registry.Described
	for _, ref := range opts.Registries {
		desc, err := registry.Describe(ctx, ref, registry.Options{Insecure: opts.Insecure})
		if err != nil {
			return nil, err
		}
		described = append(described, desc)
	}
	return described, nil
}

// add works out the sources of the layers of dir's images, returns them as
// {key, URL} pairs, and counts them in reg.
func (reg *Registered) add(ctx context.Context, dir string, opts RegisterOptions, described []*registry.Described) ([][2]string, error) {
	d, err := archive.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNotImageDir, err)
	}
	var files []string
	var urls [][]string
	index := map[string]int{} // layer file → its place in files
	for _, im := range d.Images {
		var refs []string
		var engineID digest.Digest
		if opts.Engine != nil {
			img, err := present(ctx, opts.Engine, im)
			if err != nil {
				return nil, err
			}
			if img != nil {
				engineID = img.ID
				for _, rd := range img.RepoDigests {
					// Not the engine's own ID (containerd stores list it),
					// nor podman's name for a local image.
					if repo, dg, ok := strings.Cut(rd, "@"); ok && digest.Digest(dg) != img.ID && !strings.HasPrefix(repo, "localhost/") && !slices.Contains(refs, rd) {
						refs = append(refs, rd)
					}
				}
			}
		}
		for _, l := range im.Layers {
			if l.Digest != l.DiffID {
				continue // a compressed blob: not what the remote hands over
			}
			var us []string
			if opts.Engine != nil {
				us = append(us, source{config: im.ID, manifest: im.ManifestDigest, id: engineID, layer: l.DiffID}.url())
			}
			for _, rd := range refs {
				us = append(us, source{ref: rd, layer: l.DiffID}.url())
			}
			for _, desc := range described {
				if slices.Contains(desc.DiffIDs, l.DiffID.String()) {
					us = append(us, source{ref: desc.Source, layer: l.DiffID}.url())
				}
			}
			if len(us) == 0 {
				continue
			}
			// A layer another image shares keeps that image's sources and
			// gains this one's (#18): either may leave the engine.
			i, ok := index[l.Path]
			if !ok {
				i = len(files)
				index[l.Path] = i
				files = append(files, filepath.FromSlash(l.Path))
				urls = append(urls, nil)
			}
			for _, u := range us {
				if !slices.Contains(urls[i], u) {
					urls[i] = append(urls[i], u)
				}
				s, _ := parseSource(u)
				s.layer = ""
				if n := s.String(); !slices.Contains(reg.Sources, n) {
					reg.Sources = append(reg.Sources, n)
				}
			}
		}
	}
	keys, err := annex.Keys(ctx, dir, files)
	if err != nil {
		return nil, err
	}
	var pairs [][2]string
	for i, k := range keys {
		for _, u := range urls[i] {
			pairs = append(pairs, [2]string{k, u})
		}
	}
	reg.Dirs = append(reg.Dirs, dir)
	reg.Keys += len(keys)
	return pairs, nil
}

// HasRemote reports whether the git-annex repository holding dir has the
// special remote of type [RemoteType]: false too when dir is in no
// repository or git is not there.
func HasRemote(ctx context.Context, dir string) bool {
	_, err := annex.FindRemote(ctx, dir, RemoteType)
	return err == nil
}

// InitRemote sets up imgsave's special remote, named name, in the
// git-annex repository at dir: enabled in every clone by `git annex init`
// when git-annex-remote-imgsave is on PATH, and untrusted, since an engine
// or a registry may drop an image at any time, so that its copies never
// count towards numcopies. A repository that has the remote is left as it
// is; one whose git-annex branch has it, not enabled here, enables it.
// Setting it up or enabling it runs the remote's INITREMOTE, which
// records the engine's sources as [RegisterDataset] does; a caller that
// wants them recorded in every case calls RegisterDataset after.
func InitRemote(ctx context.Context, dir, name string) error {
	return annex.InitRemote(ctx, dir, name, RemoteType)
}

// LinkRemote makes git-annex-remote-imgsave, the program git-annex runs
// for the remote, a link to exe (imgsave itself) in dir, "" meaning exe's
// own folder, and returns the link's path. A link that is already there
// and right is left as it is; anything else there is not replaced.
func LinkRemote(exe, dir string) (string, error) {
	exe, err := filepath.Abs(exe)
	if err != nil {
		return "", err
	}
	if dir == "" {
		dir = filepath.Dir(exe)
	}
	link := filepath.Join(dir, "git-annex-remote-"+RemoteType)
	if t, err := os.Readlink(link); err == nil && t == exe {
		return link, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("link the remote: %w", err)
	}
	if err := os.Symlink(exe, link); err != nil {
		return "", fmt.Errorf("link the remote: %w", err)
	}
	return link, nil
}
