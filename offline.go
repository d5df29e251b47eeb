package imgsave

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/imgsave/imgsave/archive"
)

// ImageInfo describes one image of a directory, as [List] finds it.
type ImageInfo struct {
	// ConfigDigest is the image ID of a classic-store engine or podman.
	ConfigDigest string `json:"config_digest"`
	// ManifestDigest is the digest of the manifest a load sends: the image
	// ID a containerd-store engine gives it. Empty while a layer's size is
	// unknown (its content not present and no manifest records it).
	ManifestDigest string   `json:"manifest_digest"`
	RepoTags       []string `json:"repo_tags"`
	Created        string   `json:"created,omitempty"` // RFC 3339, UTC
	Platform       string   `json:"platform"`
	Config         FileInfo `json:"config"`
	Layers         []Layer  `json:"layers"`
	Size           int64    `json:"size"` // config and layers, as stored
	AllPresent     bool     `json:"all_present"`
	MissingFiles   []string `json:"missing_files"`
	// SIF is the SIF file built from the image for Apptainer, when the
	// SIF cache holds one.
	SIF string `json:"sif,omitempty"`
	// Signatures counts the signatures kept for the image in the
	// evidence folder (checked by verify --key, not here), and
	// Attestations gives the predicate type of each attestation kept.
	Signatures   int      `json:"signatures"`
	Attestations []string `json:"attestations"`
	// Referrers are the referrers kept for the image's manifest or its
	// index (a Sigstore bundle of cosign v3, an SBOM), and BuildKit's
	// attestation manifests about its manifest (#30).
	Referrers []ReferrerInfo `json:"referrers,omitempty"`
	// Signers are the keyless cosign 2 signatures among Signatures, with
	// who their certificates name, unchecked.
	Signers []SignerInfo `json:"signers,omitempty"`
}

// ListOptions tune [List].
type ListOptions struct {
	// SIFCache is the folder of SIF files to look in; "" means the
	// default (see [SIFCacheDir]).
	SIFCache string
}

// FileInfo is one file of a directory.
type FileInfo struct {
	Path    string `json:"path"`
	Digest  string `json:"digest"`
	Size    int64  `json:"size"` // -1 when unknown
	Present bool   `json:"present"`
}

// Layer is one layer file of an image.
type Layer struct {
	FileInfo
	DiffID string `json:"diff_id"`
}

// List describes the images of a directory from its small files alone, so
// it works in a clone whose layers were never fetched, and says which have
// a SIF file in the SIF cache.
func List(ctx context.Context, dir string, opts ListOptions) ([]ImageInfo, error) {
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	d, err := archive.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	cache, err := SIFCacheDir(opts.SIFCache)
	if err != nil {
		return nil, err
	}
	// Evidence that cannot be read is verify's to report.
	var evidence []EvidenceInfo
	if evs, err := archive.ReadEvidence(dir); err == nil {
		for _, ev := range evs {
			evidence = append(evidence, checkOne(d, ev, nil, nil))
		}
	}
	out := make([]ImageInfo, 0, len(d.Images))
	for _, im := range d.Images {
		r := describe(d, im)
		r.SIF = CachedSIF(cache, im.ManifestDigest)
		r.Attestations = []string{}
		for _, in := range evidence {
			if slices.Contains(in.Images, string(im.ID)) {
				r.Signatures += in.Signatures
				r.Attestations = append(r.Attestations, in.Attestations...)
				r.Signers = append(r.Signers, in.Signers...)
				for _, ref := range in.Referrers {
					if ref.Kind != "buildkit-attestation" || ref.Image == string(im.ID) {
						r.Referrers = append(r.Referrers, ref)
					}
				}
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func describe(d *archive.Dir, im *archive.DirImage) ImageInfo {
	r := ImageInfo{
		ConfigDigest:   string(im.ID),
		ManifestDigest: string(im.ManifestDigest),
		RepoTags:       nonNil(im.RepoTags),
		Platform:       im.Config.Platform(),
		Config:         FileInfo{Path: im.ConfigPath, Digest: string(im.ID), Size: im.ConfigSize, Present: true},
		Size:           im.ConfigSize,
		Layers:         []Layer{},
		MissingFiles:   []string{},
	}
	if im.Config.Created != nil {
		r.Created = im.Config.Created.UTC().Format(time.RFC3339)
	}
	for _, l := range im.Layers {
		f := Layer{FileInfo{Path: l.Path, Digest: string(l.Digest), Size: l.Size, Present: d.Present(l.Path)}, string(l.DiffID)}
		if !f.Present {
			r.MissingFiles = append(r.MissingFiles, l.Path)
		}
		r.Layers = append(r.Layers, f)
		r.Size += max(l.Size, 0)
	}
	r.AllPresent = len(r.MissingFiles) == 0
	return r
}

// VerifyOptions tune [Verify]: see [archive.VerifyOptions].
type VerifyOptions = archive.VerifyOptions

// VerifyResult is [Verify]'s report, with its verdict.
type VerifyResult struct {
	OK bool `json:"ok"`
	*archive.Report
	// Evidence is what each stored signature proves ([VerifyKey] only).
	Evidence []EvidenceInfo `json:"evidence,omitempty"`
	// Unsigned are the config digests of the images no signature proves
	// with the key ([VerifyKey] only).
	Unsigned []string `json:"unsigned,omitempty"`
}

// VerifyKey is [Verify], and then [CheckEvidence] with the public key
// (PEM): the result is OK only when every file is intact, every image
// of the directory has a stored signature that verifies with the key down
// to its config, and no attestation kept is about another image than the
// one its folder holds (EvidenceInfo.OtherSubjects). Signatures that do
// not verify (another key's, say) are reported among the evidence's
// problems.
func VerifyKey(ctx context.Context, dir string, opts VerifyOptions, key []byte) (*VerifyResult, error) {
	return VerifySigned(ctx, dir, opts, key, nil)
}

// VerifySigned is [VerifyKey] with the key (or nil) and the Sigstore
// policy s (or nil): a Sigstore bundle kept as a referrer that the
// verifier binary accepts (keyless with s, key-based with key) proves the
// image as a cosign 2 signature does (#30).
func VerifySigned(ctx context.Context, dir string, opts VerifyOptions, key []byte, s *Sigstore) (*VerifyResult, error) {
	if key == nil && s == nil {
		return nil, errors.New("verify: neither a key nor a Sigstore policy given")
	}
	res, err := Verify(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	d, err := archive.OpenDir(dir)
	if err != nil {
		res.OK = false // Verify reported why
		return res, nil
	}
	if res.Evidence, err = checkEvidence(ctx, d, key, s); err != nil {
		return nil, err
	}
	for _, im := range d.Images {
		covered := false
		for _, in := range res.Evidence {
			covered = covered || in.Verified > 0 && slices.Contains(in.Images, string(im.ID))
		}
		if !covered {
			res.Unsigned = append(res.Unsigned, string(im.ID))
		}
	}
	res.OK = res.OK && len(res.Unsigned) == 0 && !slices.ContainsFunc(res.Evidence, func(in EvidenceInfo) bool { return in.OtherSubjects > 0 })
	return res, nil
}

// Verify recomputes every digest of a directory offline, as
// [archive.Verify] does, through the same model of the directory that
// [Load] uses.
func Verify(ctx context.Context, dir string, opts VerifyOptions) (*VerifyResult, error) {
	rep, err := archive.Verify(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	return &VerifyResult{OK: rep.OK(), Report: rep}, nil
}

// MigrateOptions tune [Migrate].
type MigrateOptions struct {
	Events
}

// Migrate rewrites a directory in place into the canonical layout, as
// [archive.Migrate] does: atomically, with every check of a save, the image
// ID unchanged.
func Migrate(ctx context.Context, dir string, opts MigrateOptions) (*archive.Result, error) {
	return archive.Migrate(ctx, dir, archive.Options{Progress: opts.Progress})
}
