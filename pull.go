package imgsave

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader/registry"
	"github.com/imgsave/imgsave/manifest"
)

// PullOptions tune [Pull].
type PullOptions struct {
	Events
	// Platform is "os/arch[/variant]" for a multi-platform image; "" means
	// linux on this machine's architecture. Several, separated by commas,
	// or "all" (every platform but attestations) keep those platforms of
	// the index in dir, one image each (#21).
	Platform string
	// Force replaces a previous save in the target, as for [Save].
	Force bool
	// Insecure speaks plain HTTP to a registry that is not on loopback.
	Insecure bool
	// Jobs is how many layers are fetched at once (0 means
	// [registry.DefaultJobs]: 3, or 1 from this machine); the ones
	// waiting to be written are kept compressed under the user's cache
	// folder meanwhile. 1 streams each layer straight through.
	Jobs int
	// IdleTimeout ends the pull when the registry sends (or takes) no
	// byte for that long; 0 means [DefaultIdleTimeout].
	IdleTimeout time.Duration
	// MaxExpand bounds how far a compressed layer may expand, as for
	// [Save].
	MaxExpand int
	// NoEvidence leaves the image's cosign signatures and attestations in
	// the registry; by default they are kept in dir's evidence folder
	// (see [archive.EvidenceDir]) with the manifest they sign.
	NoEvidence bool
	// DropEvidence lets Force drop the target's evidence that does not
	// apply to the new image, as for [Save].
	DropEvidence bool
	// VerifyKey, when set, is a public key (PEM, as cosign.pub) that a
	// kept signature must verify with, down to every image's config, as
	// [LoadOptions] VerifyKey asks of load and run: a site's policy. It
	// implies RequireEvidence, and a pull that does not verify puts
	// nothing in place (#28).
	VerifyKey []byte
	// VerifySigstore, when not nil, is a Sigstore policy a kept bundle
	// must verify with instead, as [LoadOptions] VerifySigstore asks of
	// load and run (#30); it too implies RequireEvidence.
	VerifySigstore *Sigstore
	// RequireEvidence fails the pull, naming the image or the tag, when
	// its evidence cannot be kept whole: a signature or attestation
	// image that cannot be fetched, a tag holding something else, or
	// none at all ([ErrNoEvidence]). Without it, what cannot be fetched
	// is left out with a notice and the image is pulled.
	RequireEvidence bool
}

// ErrNoEvidence is wrapped by the error of [Pull] with RequireEvidence
// when the registry keeps no signature and no attestation for the image
// (at cosign's tags sha256-<hex>.sig and .att).
var ErrNoEvidence = errors.New("the registry keeps no signature or attestation for it (cosign's tags sha256-<hex>.sig and .att)")

// DefaultIdleTimeout is how long a registry may send or take no byte
// before a pull, a push or the special remote gives up on it.
const DefaultIdleTimeout = registry.DefaultIdleTimeout

// Pull fetches ref from its registry, with no engine, and writes it to dir
// exactly as [Save] would after the engine pulled it, and keeps the
// image's cosign signatures and attestations beside it (unless
// NoEvidence; what cannot be fetched is a notice, or an error with
// RequireEvidence): the registry's blobs
// stream through [archive.Extract], so compressed layers are decompressed,
// every digest is checked (each blob against the manifest, each layer's
// content against the config's diff_ids) and dir is complete or not there.
// Credentials come from the docker CLI's config, as for `docker pull`. It
// writes dir and nothing else: in a git-annex dataset, [Register] with
// the result's Sources as registries records them as the layers' sources
// for the special remote.
func Pull(ctx context.Context, ref, dir string, opts PullOptions) (*Pulled, error) {
	if opts.NoEvidence && opts.RequireEvidence {
		return nil, fmt.Errorf("pull %s: NoEvidence and RequireEvidence both asked for", ref)
	}
	// A wrong DIR or platform fails before a long download.
	if err := archive.CheckTarget(dir, opts.Force); err != nil {
		return nil, err
	}
	if opts.Platform != "" {
		if _, _, err := manifest.ParsePlatformList(opts.Platform); err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
	}
	rc, err := registry.Pull(ctx, ref, registry.Options{Platform: opts.Platform, Insecure: opts.Insecure, Jobs: opts.Jobs, SpoolDir: spoolDir(), IdleTimeout: opts.IdleTimeout})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var extra []archive.File
	if !opts.NoEvidence {
		// Small requests, before the layers are read: the directory
		// appears with its evidence or not at all.
		// BuildKit's attestation manifests are kept for the platforms
		// pulled alone; a platform picked from an index keeps the index's
		// evidence too, since `cosign sign` signs the index (#30).
		ropts := registry.Options{Insecure: opts.Insecure, IdleTimeout: opts.IdleTimeout, EvidenceOf: []string{}}
		for _, s := range rc.Sources {
			if _, d, ok := strings.Cut(s, "@"); ok {
				ropts.EvidenceOf = append(ropts.EvidenceOf, d)
			}
		}
		sources := append([]string{rc.Source}, rc.Sources...)
		if rc.Index != "" {
			sources = append(sources, rc.Index)
		}
		require := opts.RequireEvidence || opts.VerifyKey != nil || opts.VerifySigstore != nil
		if extra, err = fetchEvidence(ctx, sources, ropts, require, opts.notice); err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
	}
	var check func(string) error
	if opts.VerifyKey != nil || opts.VerifySigstore != nil {
		if opts.NoEvidence {
			return nil, fmt.Errorf("pull %s: NoEvidence and a signature policy both asked for", ref)
		}
		check = func(staged string) error {
			return checkAllSigned(ctx, staged, dir, opts.VerifyKey, opts.VerifySigstore)
		}
	}
	res, err := archive.Extract(ctx, rc, dir, archive.Options{Replace: opts.Force, DropEvidence: opts.DropEvidence, Progress: opts.Progress, MaxExpand: opts.MaxExpand, Extra: extra, Check: check})
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	return &Pulled{Result: res, Source: rc.Source, Sources: rc.Sources}, nil
}

// checkAllSigned checks that every image of the tree staged for dir is
// signed with key or by s's signer (a cosign 2 signature or a Sigstore
// bundle), as run and load will ask; errors name dir, not the temporary
// folder.
func checkAllSigned(ctx context.Context, staged, dir string, key []byte, s *Sigstore) error {
	d, err := archive.OpenDir(staged)
	if err != nil {
		return err
	}
	for _, im := range d.Images {
		if err := checkSigned(ctx, d, im, key, s); err != nil {
			return stagedError{err, staged, dir}
		}
	}
	return nil
}

// stagedError is an error about a staged tree that names the directory
// it is staged for instead.
type stagedError struct {
	error
	staged, dir string
}

func (e stagedError) Error() string { return strings.ReplaceAll(e.error.Error(), e.staged, e.dir) }
func (e stagedError) Unwrap() error { return e.error }

// Pulled is what [Pull] wrote.
type Pulled struct {
	// Result is the directory's images, as [archive.Extract] reports them.
	*archive.Result
	// Source is the image pulled, as repository@digest: the tag resolved
	// when the pull began. For several platforms it is the index they
	// came from.
	Source string
	// Sources are the manifests pulled, one per platform, as
	// repository@digest: what [RegisterOptions] Registries wants (an
	// index's digest would name one platform of it there).
	Sources []string
}

// spoolDir is where a pull keeps the layers fetched ahead: the user's cache
// (a disk, where the system's temporary folder may be memory), else "" for
// the temporary folder.
func spoolDir() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	dir := filepath.Join(cache, "imgsave")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	return dir
}
