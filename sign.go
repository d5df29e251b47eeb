package imgsave

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/manifest"
	"github.com/imgsave/imgsave/manifest/cosign"
)

// SignOptions tune [Sign].
type SignOptions struct {
	// Selector picks the image to sign; the zero Selector signs every
	// image of the directory.
	Selector
	// Key is cosign's encrypted private key (cosign.key) and Password
	// its password (COSIGN_PASSWORD).
	Key, Password []byte
}

// Sign signs imgsave's canonical manifest digest of dir's images (the
// engine-independent identity of an image, its ID in a containerd store
// after a load) with a cosign signature, kept in dir's evidence folder as
// `cosign save` would keep one, beside any signature already there (at
// most [archive.MaxEvidenceLayers]). Every clone can then check it offline
// with [CheckEvidence], and `cosign verify --local-image
// DIR/evidence/<hex>` with cosign. It returns the digests signed. Each
// folder is written by [archive.UpdateEvidence]: through dir, never
// through a symbolic link, and swapped in whole, so that an interrupted
// sign leaves the old evidence or the new. In a dataset the new files
// are the caller's to commit (git annex add, datalad save).
func Sign(ctx context.Context, dir string, opts SignOptions) ([]string, error) {
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	key, err := cosign.LoadPrivateKey(opts.Key, opts.Password)
	if err != nil {
		return nil, err
	}
	d, err := archive.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	images := d.Images
	if opts.Selector != (Selector{}) {
		_, im, err := opts.Selector.open(dir)
		if err != nil {
			return nil, err
		}
		images = []*archive.DirImage{im}
	}
	var signed []string
	for _, im := range images {
		if im.ManifestDigest == "" || len(im.Manifest) == 0 {
			return nil, fmt.Errorf("%s: image %s: a layer's size is unknown until its content is here (git annex get)", dir, short(im.ID))
		}
		payload := cosign.NewPayload("", string(im.ManifestDigest))
		sig, err := cosign.Sign(key, payload)
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", short(im.ID), err)
		}
		err = archive.UpdateEvidence(dir, im.ManifestDigest, func(old *archive.Evidence) (archive.EvidenceLayout, error) {
			var layers []archive.SignatureLayer
			if old != nil {
				layers = old.Signatures
			}
			if len(layers) >= archive.MaxEvidenceLayers {
				return archive.EvidenceLayout{}, fmt.Errorf("%s: image %s: %w: %s keeps %d signatures, the most imgsave keeps for one image", dir, short(im.ID), manifest.ErrTooLarge, old.Path, len(layers))
			}
			return writeSigned(im, append(layers, archive.SignatureLayer{Payload: payload, Signature: base64.StdEncoding.EncodeToString(sig)}))
		})
		if err != nil {
			return nil, err
		}
		signed = append(signed, string(im.ManifestDigest))
	}
	return signed, nil
}

// writeSigned lays out the evidence folder for im's canonical manifest
// and the signature layers, as cosign lays out a signature image.
func writeSigned(im *archive.DirImage, layers []archive.SignatureLayer) (archive.EvidenceLayout, error) {
	var l archive.EvidenceLayout
	blob := func(b []byte) v1.Descriptor {
		l.Blobs = append(l.Blobs, b)
		return v1.Descriptor{Digest: digest.FromBytes(b), Size: int64(len(b))}
	}
	sm := v1.Manifest{MediaType: v1.MediaTypeImageManifest}
	sm.SchemaVersion = 2
	var diffIDs []string
	for _, s := range layers {
		desc := blob(s.Payload)
		desc.MediaType = cosign.MediaTypeSimpleSigning
		// A signature kept from a registry keeps all its annotations: a
		// keyless one's certificate and Rekor entry are there (#30).
		desc.Annotations = maps.Clone(s.Annotations)
		if desc.Annotations == nil {
			desc.Annotations = map[string]string{}
		}
		desc.Annotations[cosign.AnnotationSignature] = s.Signature
		sm.Layers = append(sm.Layers, desc)
		diffIDs = append(diffIDs, string(desc.Digest))
	}
	cb, err := json.Marshal(map[string]any{"architecture": "", "os": "", "config": map[string]any{}, "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	if err != nil {
		return l, err
	}
	sm.Config = blob(cb)
	sm.Config.MediaType = v1.MediaTypeImageConfig
	mb, err := manifest.Marshal(sm)
	if err != nil {
		return l, err
	}
	subject := blob(im.Manifest)
	subject.MediaType, subject.Annotations = v1.MediaTypeImageManifest, map[string]string{"kind": archive.KindImage}
	sigs := blob(mb)
	sigs.MediaType, sigs.Annotations = v1.MediaTypeImageManifest, map[string]string{"kind": archive.KindSigs}
	l.Manifests = []v1.Descriptor{subject, sigs}
	return l, nil
}
