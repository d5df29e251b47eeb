package archive

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

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
	// KindReferrer is imgsave's kind for a referrer of the signed digest
	// a registry listed (#30): a Sigstore bundle of cosign v3, an in-toto
	// attestation, an SBOM; cosign's local layout has no kind for it.
	KindReferrer = "referrer"
	// KindAttestationManifest is imgsave's kind for one of BuildKit's
	// attestation manifests of a signed index, kept with BuildKit's
	// vnd.docker.reference.* annotations and platform unknown/unknown.
	KindAttestationManifest = "attestation-manifest"
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
	// Referrers are the referrers and BuildKit attestation manifests
	// kept for the subject, in index.json's order.
	Referrers []*Referrer
}

// Referrer is one referrer of the signed digest, or one of BuildKit's
// attestation manifests, as kept in an evidence folder.
type Referrer struct {
	// Kind is [KindReferrer] or [KindAttestationManifest].
	Kind string
	// Digest and ArtifactType are the index.json entry's; Annotations
	// too (BuildKit's vnd.docker.reference.digest names the manifest an
	// attestation manifest is about).
	Digest       digest.Digest
	ArtifactType string
	Annotations  map[string]string
	// Manifest is the referrer's manifest, as the registry served it.
	Manifest []byte
	// Layers are its layers: a Sigstore bundle, in-toto statements.
	Layers []ReferrerLayer
}

// ReferrerLayer is one layer of a [Referrer].
type ReferrerLayer struct {
	MediaType   string
	Annotations map[string]string
	Data        []byte
}

// SignatureLayer is one signature of a cosign signature image.
type SignatureLayer struct {
	Payload   []byte
	Signature string // base64, as cosign's annotation holds it
	// Annotations are all of the layer's: a keyless signature keeps its
	// certificate and Rekor entry there (dev.sigstore.cosign/...).
	Annotations map[string]string
}

// Bounds on the evidence of one signed digest (one folder of
// [EvidenceDir]), as it is read back and as pull takes it from a registry:
// evidence is small JSON, and a hostile dataset or registry must not make
// ls, verify or pull read without end.
const (
	// MaxEvidenceBlob bounds each file: a signed manifest or index, a
	// signature payload, an attestation's DSSE envelope (an SBOM of a
	// large image runs to a few MiB).
	MaxEvidenceBlob = 16 << 20
	// MaxEvidenceLayers bounds the signatures, and apart the
	// attestations, kept for one digest: the layers of cosign's
	// signature and attestation images.
	MaxEvidenceLayers = 64
	// MaxEvidenceBytes bounds what is read for one digest in all, each
	// reference to a file counted: a signature image whose layers all
	// name one blob costs as many reads as it has layers.
	MaxEvidenceBytes = 64 << 20
	// MaxEvidenceReferrers bounds the referrers, and apart BuildKit's
	// attestation manifests, kept for one digest; each has at most
	// MaxEvidenceLayers layers.
	MaxEvidenceReferrers = 64
)

// ReadEvidence reads every folder of dir's evidence folder; none is no
// error. Every file is checked against its name and its descriptor's size;
// each folder is bounded by [MaxEvidenceBlob], [MaxEvidenceLayers] and
// [MaxEvidenceBytes], past which the error wraps [manifest.ErrTooLarge]. A
// folder that an interrupted swap left as <hex>.old, with no <hex> beside
// it, is read as <hex>: it holds the evidence until [UpdateEvidence] puts
// it back.
func ReadEvidence(dir string) ([]*Evidence, error) {
	entries, err := os.ReadDir(filepath.Join(dir, EvidenceDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = e.IsDir()
	}
	var out []*Evidence
	for _, e := range entries {
		// Folders named by a digest, or what a swap interrupted between
		// its renames left of one; not what an interrupted write left.
		name := e.Name()
		if hex, ok := strings.CutSuffix(name, ".old"); ok && !names[hex] {
			name = hex
		}
		if !e.IsDir() || !isDigestHex(name) {
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

// evidenceReader reads the files of one evidence folder within its
// bounds.
type evidenceReader struct {
	d    *Dir
	rel  string // the folder
	read int64  // bytes read so far, each reference counted
}

// tooLarge is an error about the folder, or a file of it, past a bound.
func (r *evidenceReader) tooLarge(rel, format string, a ...any) error {
	return &FileError{Path: r.d.join(path.Join(r.rel, rel)), Reason: StatusTooLarge, Err: fmt.Errorf("%w: %s", manifest.ErrTooLarge, fmt.Sprintf(format, a...))}
}

// file reads the file rel of the folder, of at most size bytes.
func (r *evidenceReader) file(rel string, size int64) ([]byte, error) {
	if size > MaxEvidenceBlob {
		return nil, r.tooLarge(rel, "%d bytes, over %d", size, MaxEvidenceBlob)
	}
	if r.read+size > MaxEvidenceBytes {
		return nil, r.tooLarge("", "over %d bytes of evidence for one digest (each reference to a file counted)", MaxEvidenceBytes)
	}
	f, err := r.d.Open(path.Join(r.rel, rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, size+1))
	r.read += int64(len(b))
	if err != nil {
		return nil, &FileError{Path: r.d.join(path.Join(r.rel, rel)), Reason: StatusUnreadable, Err: err}
	}
	if int64(len(b)) > size {
		return nil, r.tooLarge(rel, "over %d bytes", size)
	}
	return b, nil
}

// blob reads the blob desc names, checked against its size and digest.
func (r *evidenceReader) blob(desc v1.Descriptor) ([]byte, error) {
	rel := manifest.BlobPath(desc.Digest)
	if desc.Size < 0 {
		return nil, fmt.Errorf("%s: a size of %d", r.d.join(path.Join(r.rel, rel)), desc.Size)
	}
	b, err := r.file(rel, desc.Size)
	if err != nil {
		return nil, err
	}
	if isAnnexPointer(b) {
		return nil, r.d.missing(path.Join(r.rel, rel))
	}
	if got := digest.FromBytes(b); got != desc.Digest {
		return nil, &DigestMismatchError{Path: r.d.join(path.Join(r.rel, rel)), Got: got, Want: desc.Digest}
	}
	if int64(len(b)) != desc.Size {
		return nil, fmt.Errorf("%s: %d bytes, want %d", r.d.join(path.Join(r.rel, rel)), len(b), desc.Size)
	}
	return b, nil
}

// referrer reads the layers of the referrer desc lists, whose manifest
// is b, within the bounds.
func (r *evidenceReader) referrer(desc v1.Descriptor, b []byte) (*Referrer, error) {
	var m v1.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if len(m.Layers) > MaxEvidenceLayers {
		return nil, r.tooLarge("", "a referrer of %d layers, over %d", len(m.Layers), MaxEvidenceLayers)
	}
	ref := &Referrer{Kind: desc.Annotations["kind"], Digest: desc.Digest, ArtifactType: desc.ArtifactType, Annotations: desc.Annotations, Manifest: b}
	for _, l := range m.Layers {
		lb, err := r.blob(l)
		if err != nil {
			return nil, err
		}
		ref.Layers = append(ref.Layers, ReferrerLayer{MediaType: l.MediaType, Annotations: l.Annotations, Data: lb})
	}
	return ref, nil
}

func readEvidence(dir, rel string) (*Evidence, error) {
	r := &evidenceReader{d: newDir(dir), rel: rel}
	ib, err := r.file("index.json", MaxEvidenceBlob)
	if err != nil {
		return nil, err
	}
	if isAnnexPointer(ib) {
		return nil, r.d.missing(path.Join(rel, "index.json"))
	}
	idx, err := manifest.ParseIndex(bytes.NewReader(ib))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, rel, "index.json"), err)
	}
	ev := &Evidence{Path: rel, Children: map[digest.Digest][]byte{}}
	for _, desc := range idx.Manifests {
		kind := desc.Annotations["kind"]
		if kind != KindImage && kind != KindImageIndex && kind != KindSigs && kind != KindAtts && kind != KindReferrer && kind != KindAttestationManifest {
			continue
		}
		if kind == KindReferrer || kind == KindAttestationManifest {
			// Counted before the manifest is read.
			n := 1
			for _, o := range ev.Referrers {
				if o.Kind == kind {
					n++
				}
			}
			if n > MaxEvidenceReferrers {
				return nil, r.tooLarge("", "over %d entries of kind %s", MaxEvidenceReferrers, kind)
			}
		}
		b, err := r.blob(desc)
		if err != nil {
			return nil, err
		}
		switch kind {
		case KindImage, KindImageIndex:
			ev.Subject, ev.SubjectMediaType, ev.SubjectData = desc.Digest, desc.MediaType, b
			if manifest.IsIndex(desc.MediaType) {
				sub, err := manifest.ParseIndex(bytes.NewReader(b))
				if err != nil {
					return nil, fmt.Errorf("%s: %w", filepath.Join(dir, rel), err)
				}
				for _, c := range sub.Manifests {
					if _, ok := ev.Children[c.Digest]; ok {
						continue
					}
					// A platform the folder lacks is no error; a
					// bound passed is.
					cb, err := r.blob(c)
					if errors.Is(err, manifest.ErrTooLarge) {
						return nil, err
					} else if err == nil {
						ev.Children[c.Digest] = cb
					}
				}
			}
		case KindSigs, KindAtts:
			var m v1.Manifest
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", filepath.Join(dir, rel), desc.Digest, err)
			}
			// Counted before a layer is read.
			what, n := "signatures", len(ev.Signatures)+len(m.Layers)
			if kind == KindAtts {
				what, n = "attestations", len(ev.Attestations)+len(m.Layers)
			}
			if n > MaxEvidenceLayers {
				return nil, r.tooLarge("", "%d %s, over %d", n, what, MaxEvidenceLayers)
			}
			for _, l := range m.Layers {
				lb, err := r.blob(l)
				if err != nil {
					return nil, err
				}
				if kind == KindSigs {
					ev.Signatures = append(ev.Signatures, SignatureLayer{Payload: lb, Signature: l.Annotations["dev.cosignproject.cosign/signature"], Annotations: l.Annotations})
				} else {
					ev.Attestations = append(ev.Attestations, lb)
				}
			}
		case KindReferrer, KindAttestationManifest:
			ref, err := r.referrer(desc, b)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", filepath.Join(dir, rel), desc.Digest, err)
			}
			ev.Referrers = append(ev.Referrers, ref)
		}
	}
	if ev.Subject == "" {
		return nil, fmt.Errorf("%s: no signed image in index.json", filepath.Join(dir, rel))
	}
	return ev, nil
}

// EvidenceLayout is one folder of [EvidenceDir] to write: the entries of
// its index.json, each with its kind annotation ([KindImage] or
// [KindImageIndex] for the signed digest, which names the folder;
// [KindSigs], [KindAtts], [KindReferrer], [KindAttestationManifest]), and
// every blob they and the manifests among them name.
type EvidenceLayout struct {
	Manifests []v1.Descriptor
	Blobs     [][]byte
}

// evidenceGitattributes keeps the evidence folder in git: it is small
// JSON, read without fetching anything.
const evidenceGitattributes = "# Written by imgsave: signatures and attestations, in git.\n* annex.largefiles=nothing\n"

// render returns the name of l's folder (the signed digest's hex) and its
// files, relative to it: the blobs, index.json and oci-layout.
func (l EvidenceLayout) render() (string, []layoutFile, error) {
	var subject digest.Digest
	for _, d := range l.Manifests {
		if k := d.Annotations["kind"]; k == KindImage || k == KindImageIndex {
			subject = d.Digest
		}
	}
	if subject.Algorithm() != digest.SHA256 || subject.Validate() != nil {
		return "", nil, fmt.Errorf("evidence: no signed sha256 digest among %d index entries", len(l.Manifests))
	}
	var files []layoutFile
	for _, b := range l.Blobs {
		p := manifest.BlobPath(digest.FromBytes(b))
		if !slices.ContainsFunc(files, func(f layoutFile) bool { return f.Name == p }) {
			files = append(files, layoutFile{p, b})
		}
	}
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: l.Manifests}
	idx.SchemaVersion = 2
	ib, err := manifest.Marshal(idx)
	if err != nil {
		return "", nil, err
	}
	return subject.Encoded(), append(files, layoutFile{"index.json", ib}, layoutFile{"oci-layout", []byte(ociLayout)}), nil
}

// Files returns l as files of a directory ([Options.Extra]): its folder
// evidence/<hex> and the evidence folder's .gitattributes.
func (l EvidenceLayout) Files() ([]File, error) {
	hex, files, err := l.render()
	if err != nil {
		return nil, err
	}
	var out []File
	for _, f := range files {
		out = append(out, File{Path: path.Join(EvidenceDir, hex, f.Name), Data: f.Data})
	}
	return append(out, File{Path: path.Join(EvidenceDir, ".gitattributes"), Data: []byte(evidenceGitattributes)}), nil
}

// evidenceStep is called between the steps of [UpdateEvidence]'s swap, so
// that a test can kill the process there.
var evidenceStep = func(step string) {}

// exchangeEvidence is exchangeIn, a variable so that tests can force the
// two-rename fallback.
var exchangeEvidence = exchangeIn

// UpdateEvidence rewrites the folder of dir's evidence folder for the
// signed digest subject: update gets what it holds (nil when there is
// none) and returns the folder to write, whose signed digest must be
// subject. Everything is written through dir as an [os.Root]: the evidence
// folder, its .gitattributes and the folder for subject must each be a
// real folder or file, never a symbolic link, or nothing is written and
// the error names the link. One process writes the evidence folder at a
// time (a lock on it; otherwise the error wraps [ErrEvidenceBusy]).
//
// The new folder is staged beside the old (.tmp-*), read back within the
// bounds of [ReadEvidence], and swapped in with the atomic exchange
// [Extract] uses for a whole directory, or, where the file system has
// none, two renames through <hex>.old. Whatever step a kill interrupts,
// [ReadEvidence] reads the old folder or the new one, and the next
// UpdateEvidence first puts back or removes what it left.
func UpdateEvidence(dir string, subject digest.Digest, update func(old *Evidence) (EvidenceLayout, error)) error {
	if subject.Algorithm() != digest.SHA256 || subject.Validate() != nil {
		return fmt.Errorf("%s: evidence of %q: not a sha256 digest", dir, subject)
	}
	hex := subject.Encoded()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	ev, folder, err := openEvidence(root, dir)
	if err != nil {
		return err
	}
	defer ev.Close()
	defer folder.Close() // and so unlocks
	top := filepath.Join(dir, EvidenceDir)
	if _, err := lockOpen(folder); errors.Is(err, syscall.EWOULDBLOCK) {
		return fmt.Errorf("%s: %w", top, ErrEvidenceBusy)
	} else if err != nil {
		return fmt.Errorf("locking %s: %w", top, err)
	}
	if err := recoverEvidence(ev); err != nil {
		return fmt.Errorf("%s: putting back what an interrupted write left: %w", top, err)
	}
	var old *Evidence
	if fi, err := ev.Lstat(hex); err == nil {
		if !fi.IsDir() {
			return notFolder(filepath.Join(top, hex), fi)
		}
		if old, err = readEvidence(dir, path.Join(EvidenceDir, hex)); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	l, err := update(old)
	if err != nil {
		return err
	}
	name, files, err := l.render()
	if err != nil {
		return err
	}
	if name != hex {
		return fmt.Errorf("%s: evidence of %s, not %s", top, name, subject)
	}
	if err := writeGitattributes(ev, top); err != nil {
		return err
	}
	tmp, err := stageEvidence(ev, files)
	if tmp != "" {
		defer ev.RemoveAll(tmp) // gone once swapped in; what was replaced otherwise
	}
	if err != nil {
		return err
	}
	if _, err := readEvidence(dir, path.Join(EvidenceDir, tmp)); err != nil {
		return err
	}
	return swapEvidence(ev, folder, tmp, hex)
}

// openEvidence opens dir's evidence folder in root, made if missing, as a
// root and an open file: a symbolic link there is refused, not followed.
func openEvidence(root *os.Root, dir string) (*os.Root, *os.File, error) {
	top := filepath.Join(dir, EvidenceDir)
	if err := root.Mkdir(EvidenceDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, nil, err
	}
	fi, err := root.Lstat(EvidenceDir)
	if err != nil {
		return nil, nil, err
	}
	if !fi.IsDir() {
		return nil, nil, notFolder(top, fi)
	}
	ev, err := root.OpenRoot(EvidenceDir)
	if err != nil {
		return nil, nil, err
	}
	folder, err := ev.Open(".")
	if err != nil {
		ev.Close()
		return nil, nil, err
	}
	// What was checked is what was opened: no link put there meanwhile.
	if ofi, err := folder.Stat(); err != nil || !os.SameFile(fi, ofi) {
		folder.Close()
		ev.Close()
		return nil, nil, fmt.Errorf("%s: changed while it was opened", top)
	}
	return ev, folder, nil
}

// notFolder refuses to write through p, which should be imgsave's folder
// or file but is a link or something else.
func notFolder(p string, fi fs.FileInfo) error {
	what := "not a folder"
	if fi.Mode()&fs.ModeSymlink != 0 {
		what = "a symbolic link"
	}
	return fmt.Errorf("%s: %w: is %s; imgsave writes evidence only into folders and files of the directory, never through a link: remove it, and sign or pull again", p, ErrRefused, what)
}

// recoverEvidence puts back, in the locked evidence folder ev, the folder
// a swap interrupted between its renames left as <hex>.old alone, removes
// one left beside its <hex> (the swap had finished) and the staging
// folders an interrupted write left.
func recoverEvidence(ev *os.Root) error {
	f, err := ev.Open(".")
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		hex, isOld := strings.CutSuffix(name, ".old")
		switch {
		case isOld && isDigestHex(hex):
			if _, err := ev.Lstat(hex); errors.Is(err, fs.ErrNotExist) {
				err = ev.Rename(name, hex)
			} else if err == nil {
				err = ev.RemoveAll(name)
			}
			if err != nil {
				return err
			}
		case strings.HasPrefix(name, ".tmp-"):
			if err := ev.RemoveAll(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeGitattributes writes the evidence folder's .gitattributes, unless
// it holds what it should: a new file renamed over the old one, never
// written through a link.
func writeGitattributes(ev *os.Root, top string) error {
	const name = ".gitattributes"
	fi, err := ev.Lstat(name)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return notFolder(filepath.Join(top, name), fi)
	case err == nil && fi.Size() == int64(len(evidenceGitattributes)):
		if b, err := ev.ReadFile(name); err == nil && string(b) == evidenceGitattributes {
			return nil
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	tmp := ".tmp-" + rand.Text()
	if err := writeNew(ev, tmp, []byte(evidenceGitattributes)); err != nil {
		return err
	}
	if err := settle(ev, []string{tmp}); err != nil {
		ev.Remove(tmp)
		return err
	}
	if err := ev.Rename(tmp, name); err != nil {
		ev.Remove(tmp)
		return err
	}
	return nil
}

// stageEvidence writes files into a new staging folder of ev, as every
// layout is written (see settle), durable before it is swapped in; it
// returns the folder's name, also with an error once it exists.
func stageEvidence(ev *os.Root, files []layoutFile) (string, error) {
	tmp := ".tmp-" + rand.Text()
	if err := ev.Mkdir(tmp, 0o700); err != nil {
		return "", err
	}
	sr, err := ev.OpenRoot(tmp)
	if err != nil {
		return tmp, err
	}
	defer sr.Close()
	if err := sr.MkdirAll("blobs/sha256", 0o755); err != nil {
		return tmp, err
	}
	written := []string{".", "blobs", "blobs/sha256"}
	for _, f := range files {
		if err := writeNew(sr, f.Name, f.Data); err != nil {
			return tmp, err
		}
		written = append(written, f.Name)
	}
	if err := settle(sr, written); err != nil {
		return tmp, err
	}
	return tmp, syncTree(sr)
}

// swapEvidence puts the staged folder tmp of ev (open as dir) in place of
// hex: one rename when there is none, else one atomic exchange, else two
// renames through <hex>.old. Whatever was replaced is left at tmp.
func swapEvidence(ev *os.Root, dir *os.File, tmp, hex string) error {
	evidenceStep("staged")
	if _, err := ev.Lstat(hex); errors.Is(err, fs.ErrNotExist) {
		return ev.Rename(tmp, hex)
	}
	if err := exchangeEvidence(dir, tmp, hex); err == nil {
		evidenceStep("exchanged")
		return nil
	}
	// No exchange here: between the renames there is <hex>.old alone,
	// which ReadEvidence reads and recoverEvidence puts back.
	old := hex + ".old"
	if err := ev.Rename(hex, old); err != nil {
		return err
	}
	evidenceStep("moved")
	if err := ev.Rename(tmp, hex); err != nil {
		return errors.Join(err, ev.Rename(old, hex))
	}
	evidenceStep("renamed")
	return ev.Rename(old, tmp)
}
