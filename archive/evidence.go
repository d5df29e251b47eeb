package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

// EvidenceDir is the folder of an image directory that keeps signatures
// and attestations: one folder per signed digest, evidence/<hex>, each an
// OCI layout as `cosign save` writes one (index.json entries of kind
// dev.cosignproject.cosign/image, /imageIndex, /sigs and /atts) holding
// the signed manifest or index exactly as the registry served it, an
// index's platform manifests, and cosign's signature and attestation
// images; not the image's config or layers, which the directory holds. It
// is JSON alone, kept in git by its own .gitattributes. The image's own
// files do not change when evidence is added.
const EvidenceDir = "evidence"

// The kinds of cosign's local layout.
const (
	KindImage      = "dev.cosignproject.cosign/image"
	KindImageIndex = "dev.cosignproject.cosign/imageIndex"
	KindSigs       = "dev.cosignproject.cosign/sigs"
	KindAtts       = "dev.cosignproject.cosign/atts"
)

// File is a file added to the tree [Extract] writes ([Options.Extra]):
// a slash-separated path inside [EvidenceDir], and its bytes.
type File struct {
	Path string
	Data []byte
}

// checkExtra refuses an extra file outside the evidence folder.
func checkExtra(f File) error {
	p := path.Clean(f.Path)
	if p != f.Path || path.IsAbs(p) || !strings.HasPrefix(p, EvidenceDir+"/") || strings.Contains(p, "..") {
		return fmt.Errorf("extra file %q: %w: not a clean path inside %s/", f.Path, ErrRefused, EvidenceDir)
	}
	return nil
}

// writeEvidence writes the extra files into the staged tree, with the
// modes and times of the rest.
func (x *extractor) writeEvidence(files []File) error {
	written, err := x.writeExtra(files)
	if err != nil {
		return err
	}
	return x.settle(written)
}

// writeExtra writes the extra files into the staged tree; it returns the
// paths written, folders first.
func (x *extractor) writeExtra(files []File) ([]string, error) {
	var written []string
	for _, f := range files {
		if err := checkExtra(f); err != nil {
			return nil, err
		}
		if err := x.root.MkdirAll(path.Dir(f.Path), 0o755); err != nil {
			return nil, err
		}
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			if !slices.Contains(written, d) {
				written = append(written, d)
			}
		}
		if err := writeNew(x.root, f.Path, f.Data); err != nil {
			return nil, err
		}
		written = append(written, f.Path)
	}
	return written, nil
}

// ownedEvidence reports whether rel is a file or folder of the evidence
// folder, which a replacing save may remove with the rest.
func ownedEvidence(rel string, d fs.DirEntry) bool {
	return (rel == EvidenceDir || strings.HasPrefix(rel, EvidenceDir+"/")) && (d.IsDir() || d.Type().IsRegular())
}

// ReadExtra returns the files of dir's evidence folder, for a rewrite of
// the directory (migrate) to keep.
func ReadExtra(dir string) ([]File, error) {
	var out []File
	root := filepath.Join(dir, EvidenceDir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return fs.SkipAll
		}
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, File{Path: filepath.ToSlash(rel), Data: b})
		return nil
	})
	return out, err
}

// Evidence is one folder of [EvidenceDir], read: the signed manifest or
// index, and the signatures and attestations kept for it.
type Evidence struct {
	// Path is the folder, relative to the directory.
	Path string
	// Subject is what was signed: its digest, media type and bytes.
	Subject          digest.Digest
	SubjectMediaType string
	SubjectData      []byte
	// Children are the platform manifests of an index subject, by digest.
	Children map[digest.Digest][]byte
	// Signatures are the layers of the signature image: each payload
	// and its base64 signature annotation.
	Signatures []SignatureLayer
	// Attestations are the layers of the attestation image: DSSE
	// envelopes.
	Attestations [][]byte
}

// SignatureLayer is one signature of a cosign signature image.
type SignatureLayer struct {
	Payload   []byte
	Signature string // base64, as cosign's annotation holds it
}

// ReadEvidence reads every folder of dir's evidence folder; none is no
// error. Every blob is checked against its name; sizes are bounded as for
// the directory's own JSON files.
func ReadEvidence(dir string) ([]*Evidence, error) {
	entries, err := os.ReadDir(filepath.Join(dir, EvidenceDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out []*Evidence
	for _, e := range entries {
		// Folders named by a digest; not what an interrupted write left.
		if !e.IsDir() || !digestHex.MatchString(e.Name()) {
			continue
		}
		ev, err := readEvidence(dir, path.Join(EvidenceDir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

func readEvidence(dir, rel string) (*Evidence, error) {
	d := newDir(dir)
	ib, err := d.readSmall(path.Join(rel, "index.json"))
	if err != nil {
		return nil, err
	}
	idx, err := manifest.ParseIndex(bytes.NewReader(ib))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, rel, "index.json"), err)
	}
	ev := &Evidence{Path: rel, Children: map[digest.Digest][]byte{}}
	blob := func(desc v1.Descriptor) ([]byte, error) {
		p := path.Join(rel, manifest.BlobPath(desc.Digest))
		b, err := d.readSmall(p)
		if err != nil {
			return nil, err
		}
		if got := digest.FromBytes(b); got != desc.Digest {
			return nil, &DigestMismatchError{Path: filepath.Join(dir, filepath.FromSlash(p)), Got: got, Want: desc.Digest}
		}
		return b, nil
	}
	for _, desc := range idx.Manifests {
		b, err := blob(desc)
		if err != nil {
			return nil, err
		}
		switch desc.Annotations["kind"] {
		case KindImage, KindImageIndex:
			ev.Subject, ev.SubjectMediaType, ev.SubjectData = desc.Digest, desc.MediaType, b
			if manifest.IsIndex(desc.MediaType) {
				sub, err := manifest.ParseIndex(bytes.NewReader(b))
				if err != nil {
					return nil, fmt.Errorf("%s: %w", filepath.Join(dir, rel), err)
				}
				for _, c := range sub.Manifests {
					if cb, err := blob(c); err == nil {
						ev.Children[c.Digest] = cb
					}
				}
			}
		case KindSigs, KindAtts:
			var m v1.Manifest
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", filepath.Join(dir, rel), desc.Digest, err)
			}
			for _, l := range m.Layers {
				lb, err := blob(l)
				if err != nil {
					return nil, err
				}
				if desc.Annotations["kind"] == KindSigs {
					ev.Signatures = append(ev.Signatures, SignatureLayer{Payload: lb, Signature: l.Annotations["dev.cosignproject.cosign/signature"]})
				} else {
					ev.Attestations = append(ev.Attestations, lb)
				}
			}
		}
	}
	if ev.Subject == "" {
		return nil, fmt.Errorf("%s: no signed image in index.json", filepath.Join(dir, rel))
	}
	return ev, nil
}
