package imgsave

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader/registry"
	"github.com/imgsave/imgsave/manifest"
	"github.com/imgsave/imgsave/manifest/cosign"
	"github.com/imgsave/imgsave/manifest/sigstore"
)

// ErrUnsigned is wrapped by the error of [CheckSigned] (and so of [Run]
// with a key) for an image no stored signature proves with the key.
var ErrUnsigned = errors.New("no signature verifies with the key")

// evidenceFiles renders what a registry keeps beside an image as files of
// the evidence folder (see [archive.EvidenceDir]): a cosign local layout
// named by the signed digest, written by [archive.EvidenceLayout] as sign's
// is, with the digest's referrers (kind [archive.KindReferrer]) and an
// index's BuildKit attestation manifests ([archive.KindAttestationManifest])
// beside cosign's entries (#30). It returns nil when the registry keeps no
// signature, attestation or referrer, so that an unsigned image's
// directory is what it always was.
func evidenceFiles(ev *registry.Evidence) ([]archive.File, error) {
	if ev == nil || ev.Sigs == nil && ev.Atts == nil && len(ev.Referrers) == 0 && len(ev.BuildKit) == 0 {
		return nil, nil
	}
	var l archive.EvidenceLayout
	entry := func(b registry.Blob, kind string) error {
		bd, err := digest.Parse(b.Digest)
		if err != nil {
			return err
		}
		l.Manifests = append(l.Manifests, v1.Descriptor{MediaType: b.MediaType, Digest: bd, Size: int64(len(b.Data)), Annotations: map[string]string{"kind": kind}})
		l.Blobs = append(l.Blobs, b.Data)
		return nil
	}
	kind := archive.KindImage
	if manifest.IsIndex(ev.Subject.MediaType) {
		kind = archive.KindImageIndex
	}
	if err := entry(ev.Subject, kind); err != nil {
		return nil, err
	}
	for _, c := range ev.Children {
		l.Blobs = append(l.Blobs, c.Data)
	}
	for _, a := range []struct {
		art  *registry.Artifact
		kind string
	}{{ev.Sigs, archive.KindSigs}, {ev.Atts, archive.KindAtts}} {
		if a.art == nil {
			continue
		}
		if err := entry(a.art.Manifest, a.kind); err != nil {
			return nil, err
		}
		for _, b := range a.art.Blobs {
			l.Blobs = append(l.Blobs, b.Data)
		}
	}
	for _, a := range []struct {
		arts []registry.Artifact
		kind string
	}{{ev.Referrers, archive.KindReferrer}, {ev.BuildKit, archive.KindAttestationManifest}} {
		for _, art := range a.arts {
			if err := entry(art.Manifest, a.kind); err != nil {
				return nil, err
			}
			d := &l.Manifests[len(l.Manifests)-1]
			d.ArtifactType = art.ArtifactType
			for k, v := range art.Manifest.Annotations {
				if k != "kind" {
					d.Annotations[k] = v
				}
			}
			if a.kind == archive.KindAttestationManifest {
				// As BuildKit lists it in the index.
				d.Platform = &v1.Platform{OS: "unknown", Architecture: "unknown"}
			}
			for _, b := range art.Blobs {
				l.Blobs = append(l.Blobs, b.Data)
			}
		}
	}
	return l.Files()
}

// fetchEvidence fetches the evidence of each source (repository@digest),
// once each, as files of the evidence folder. Evidence is optional: what
// cannot be fetched (the image's manifests again, a signature or
// attestation image unparsable, refused or over its bounds) is left out
// with a notice, and a tag that holds no cosign image is left out
// silently. With require, each of those fails instead, naming the image
// or the tag, and so does finding no signature or attestation at all.
func fetchEvidence(ctx context.Context, sources []string, opts registry.Options, require bool, notice func(string)) ([]archive.File, error) {
	var files []archive.File
	var asked []string
	for _, s := range sources {
		if s == "" || slices.Contains(asked, s) {
			continue
		}
		asked = append(asked, s)
		ev, err := registry.FetchEvidence(ctx, s, opts)
		if err != nil {
			if require {
				return nil, err
			}
			notice(fmt.Sprintf("signatures and attestations left out: %v", err))
			continue
		}
		for _, tag := range ev.Skipped {
			if require {
				return nil, fmt.Errorf("evidence of %s: %s holds no cosign signature or attestation image", s, tag)
			}
		}
		for _, err := range ev.Failed {
			if require {
				return nil, fmt.Errorf("evidence of %s: %w", s, err)
			}
			notice(fmt.Sprintf("evidence left out: %v", err))
		}
		fs, err := evidenceFiles(ev)
		if err != nil {
			return nil, fmt.Errorf("evidence of %s: %w", s, err)
		}
		for _, f := range fs {
			if !slices.ContainsFunc(files, func(o archive.File) bool { return o.Path == f.Path }) {
				files = append(files, f)
			}
		}
	}
	if require && len(files) == 0 {
		return nil, fmt.Errorf("evidence of %s: %w", strings.Join(asked, ", "), ErrNoEvidence)
	}
	return files, nil
}

// EvidenceInfo is what one folder of the evidence folder proves, as
// [CheckEvidence] finds it.
type EvidenceInfo struct {
	// Path is the folder, relative to the directory.
	Path string `json:"path"`
	// Subject is the digest signed: a registry's manifest or index, or
	// imgsave's canonical manifest for `imgsave sign`.
	Subject string `json:"subject"`
	// Images are the config digests of the directory's images the signed
	// manifest (or the index's manifests) name.
	Images []string `json:"images"`
	// Signatures counts the signatures kept; Verified those that verify
	// with the key (0 without a key).
	Signatures int `json:"signatures"`
	Verified   int `json:"verified"`
	// Attestations are the predicate types of the attestations kept,
	// one per attestation.
	Attestations []string `json:"attestations"`
	// Problems are what does not hold: a signature for another image, a
	// signature or attestation that does not verify with the key, a
	// manifest whose config is not the directory's, an attestation about
	// another image.
	Problems []string `json:"problems"`
	// OtherSubjects counts the attestations kept here whose in-toto
	// subject is not Subject: they are about another image, and
	// [VerifyKey] fails over them (#28).
	OtherSubjects int `json:"other_subjects,omitempty"`
	// Referrers are the referrers and BuildKit attestation manifests kept
	// for Subject (#30), as [ReferrerInfo]; checked by nothing here.
	Referrers []ReferrerInfo `json:"referrers,omitempty"`
	// Signers are the keyless signatures among Signatures (cosign 2's,
	// with a Fulcio certificate), one each.
	Signers []SignerInfo `json:"signers,omitempty"`
}

// SignerInfo is one keyless cosign 2 signature: who its certificate
// names, unchecked (SignerIdentity, SignerIssuer), and, when a keyless
// policy verified it, the verified Identity, Issuer and signing Time.
type SignerInfo struct {
	// Signature is the signature's number, from 1, among Signatures.
	Signature      int    `json:"signature"`
	SignerIdentity string `json:"signer_identity,omitempty"`
	SignerIssuer   string `json:"signer_issuer,omitempty"`
	// SignerLogged is the Rekor entry's integrated time, unchecked.
	SignerLogged string `json:"signer_logged,omitempty"`
	Verified     bool   `json:"verified,omitempty"`
	Identity     string `json:"identity,omitempty"`
	Issuer       string `json:"issuer,omitempty"`
	Time         string `json:"time,omitempty"`
}

// ReferrerInfo is one referrer of a signed digest, or one of BuildKit's
// attestation manifests, kept in an evidence folder.
type ReferrerInfo struct {
	// Kind is what the artifact type holds (sigstore-bundle, cosign,
	// in-toto, sbom, provenance; see [registry.EvidenceKind]), or
	// buildkit-attestation for a BuildKit attestation manifest.
	Kind         string `json:"kind"`
	ArtifactType string `json:"artifact_type"`
	Digest       string `json:"digest"`
	// About is, for a BuildKit attestation manifest, the manifest it is
	// about (vnd.docker.reference.digest); else the signed digest.
	About string `json:"about"`
	// Image is, for a BuildKit attestation manifest, the config digest of
	// the manifest it is about, when the folder keeps that manifest.
	Image string `json:"image,omitempty"`
	// PredicateTypes are the in-toto predicate types it holds, as far as
	// they can be read without checking anything.
	PredicateTypes []string `json:"predicate_types,omitempty"`
	// Verified is set for a Sigstore bundle the verifier accepted, with
	// the certificate's Identity and Issuer (keyless) and the verified
	// signing time.
	Verified bool   `json:"verified,omitempty"`
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	Time     string `json:"time,omitempty"`
	// Signature is set for a Sigstore bundle that is an image signature
	// (counted in EvidenceInfo.Signatures), not an attestation.
	Signature bool `json:"signature,omitempty"`
	// SignerIdentity and SignerIssuer are what a keyless bundle's leaf
	// certificate names (its SAN and Fulcio's OIDC issuer extension),
	// read without checking anything: Identity and Issuer are the
	// verified ones.
	SignerIdentity string `json:"signer_identity,omitempty"`
	SignerIssuer   string `json:"signer_issuer,omitempty"`
	// SignerLogged is the integrated time of the bundle's log entry,
	// unchecked.
	SignerLogged string `json:"signer_logged,omitempty"`
}

// checkBundle counts the Sigstore bundle b, kept for subject, among in's
// signatures (cosign v3's image signature, a message signature or a
// statement of its sign predicate) and, with a checker, verifies it:
// a signature that verifies counts in in.Verified, what does not is a
// problem, whatever its predicate.
func checkBundle(in *EvidenceInfo, ri *ReferrerInfo, b []byte, subject digest.Digest, bc *bundleChecker) {
	pred := predicateOf(b)
	isSig := pred == "" || pred == cosignSignPredicate
	if isSig {
		in.Signatures++
	}
	ri.Signature = isSig
	ri.SignerIdentity, ri.SignerIssuer, ri.SignerLogged = bundleSigner(b)
	if bc == nil {
		return
	}
	res, err := bc.check(b, subject)
	switch {
	case err != nil:
		in.Problems = append(in.Problems, fmt.Sprintf("Sigstore bundle %s not checked: %v", ri.Digest, err))
	case !res.Verified:
		in.Problems = append(in.Problems, fmt.Sprintf("Sigstore bundle %s does not verify: %s", ri.Digest, res.Error))
	default:
		ri.Verified, ri.Identity, ri.Issuer = true, res.Identity, res.Issuer
		if len(res.Timestamps) > 0 {
			ri.Time = res.Timestamps[0].Time.UTC().Format(time.RFC3339)
		}
		if isSig {
			in.Verified++
		}
	}
}

// referrerInfo describes r, kept for the signed digest subject.
func referrerInfo(r *archive.Referrer, subject digest.Digest) ReferrerInfo {
	in := ReferrerInfo{Kind: registry.EvidenceKind(r.ArtifactType), ArtifactType: r.ArtifactType, Digest: string(r.Digest), About: string(subject)}
	if r.Kind == archive.KindAttestationManifest {
		in.Kind = "buildkit-attestation"
		if d := r.Annotations["vnd.docker.reference.digest"]; d != "" {
			in.About = d
		}
	}
	for _, l := range r.Layers {
		if t := l.Annotations["in-toto.io/predicate-type"]; t != "" {
			in.PredicateTypes = append(in.PredicateTypes, t)
			continue
		}
		if t := predicateOf(l.Data); t != "" {
			in.PredicateTypes = append(in.PredicateTypes, t)
		}
	}
	return in
}

// predicateOf is the predicate type of an in-toto statement, or of the
// statement in a DSSE envelope or a Sigstore bundle's, unchecked; "" for
// anything else.
func predicateOf(b []byte) string {
	var doc struct {
		PredicateType string          `json:"predicateType"`
		DSSE          json.RawMessage `json:"dsseEnvelope"`
	}
	if json.Unmarshal(b, &doc) != nil {
		return ""
	}
	if doc.PredicateType != "" {
		return doc.PredicateType
	}
	if doc.DSSE != nil {
		b = doc.DSSE
	}
	env, err := cosign.ParseEnvelope(b)
	if err != nil {
		return ""
	}
	st, err := env.Statement()
	if err != nil {
		return ""
	}
	return st.PredicateType
}

// CheckEvidence walks, offline, each stored signature down to the
// directory's files: the signature over its payload with the public key
// (PEM, as cosign.pub; nil checks everything but the signatures), the
// payload's docker-manifest-digest against the stored manifest or index,
// the configs it names against the directory's images. The layers are
// then the directory's own, which [Verify] checks against the configs'
// diff IDs. Attestations (DSSE) are checked the same way, their
// statement's subject against the signed digest. It returns one
// EvidenceInfo per folder of the evidence folder, none for a directory
// without one; an unreadable key or evidence folder is an error.
func CheckEvidence(ctx context.Context, dir string, key []byte) ([]EvidenceInfo, error) {
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	d, err := archive.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	return checkEvidence(ctx, d, key, nil)
}

// checkEvidence is [CheckEvidence] of a directory opened already, and
// with s (or nil) the Sigstore bundles kept as referrers checked by the
// verifier binary: keyless against s, key-based with key.
func checkEvidence(ctx context.Context, d *archive.Dir, key []byte, s *Sigstore) ([]EvidenceInfo, error) {
	var pub any
	var err error
	if key != nil {
		if pub, err = cosign.ParsePublicKey(key); err != nil {
			return nil, err
		}
	}
	evs, err := archive.ReadEvidence(d.Path)
	if err != nil {
		return nil, err
	}
	if s.keyless() && s.TrustedRoot == "" {
		// The root the dataset keeps, as `imgsave trust-root add` put it.
		kept := *s
		kept.TrustedRoot = DatasetTrustedRoot(d.Path)
		s = &kept
	}
	bc, err := newBundleChecker(ctx, key, s)
	if err != nil {
		return nil, err
	}
	defer bc.close()
	out := []EvidenceInfo{}
	for _, ev := range evs {
		out = append(out, checkOne(d, ev, pub, bc))
	}
	return out, nil
}

func checkOne(d *archive.Dir, ev *archive.Evidence, pub any, bc *bundleChecker) EvidenceInfo {
	in := EvidenceInfo{Path: ev.Path, Subject: string(ev.Subject), Images: []string{}, Attestations: []string{}, Problems: []string{}, Signatures: len(ev.Signatures)}
	problem := func(format string, a ...any) { in.Problems = append(in.Problems, fmt.Sprintf(format, a...)) }
	// The manifests the subject stands for, and their configs.
	var manifests [][]byte
	if manifest.IsIndex(ev.SubjectMediaType) {
		idx, err := manifest.ParseIndex(bytes.NewReader(ev.SubjectData))
		if err != nil {
			problem("the signed index: %v", err)
		}
		for _, c := range idx.Manifests {
			if b, ok := ev.Children[c.Digest]; ok {
				manifests = append(manifests, b)
			}
		}
	} else {
		manifests = append(manifests, ev.SubjectData)
	}
	var others []digest.Digest
	for _, b := range manifests {
		var m struct {
			Config v1.Descriptor `json:"config"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			problem("a signed manifest: %v", err)
			continue
		}
		if slices.ContainsFunc(d.Images, func(im *archive.DirImage) bool { return im.ID == m.Config.Digest }) {
			in.Images = append(in.Images, string(m.Config.Digest))
		} else {
			others = append(others, m.Config.Digest)
		}
	}
	// A signed index names every platform; a directory of one platform
	// pulled from it holds that one alone (#30). Only a signature naming
	// none of the directory's images is a problem.
	if len(in.Images) == 0 {
		for _, c := range others {
			problem("the signed manifest names config %s, which is not an image of the directory", c)
		}
	}
	for i, s := range ev.Signatures {
		p, err := cosign.ParsePayload(s.Payload)
		if err != nil {
			problem("signature %d: %v", i+1, err)
			continue
		}
		if p.Critical.Image.DockerManifestDigest != string(ev.Subject) {
			problem("signature %d is for %s, not %s", i+1, p.Critical.Image.DockerManifestDigest, ev.Subject)
			continue
		}
		// A keyless cosign 2 signature: its certificate names a signer,
		// shown unchecked; a keyless policy checks it (#30).
		si := SignerInfo{Signature: i + 1}
		hasCert := s.Annotations[sigstore.AnnotationCertificate] != ""
		if hasCert {
			si.SignerIdentity, si.SignerIssuer, si.SignerLogged = legacySigner(s.Annotations)
			in.Signers = append(in.Signers, si)
		}
		var why []string
		if pub != nil {
			sig, err := base64.StdEncoding.DecodeString(s.Signature)
			if err == nil {
				err = cosign.Verify(pub, s.Payload, sig)
			}
			if err == nil {
				in.Verified++
				continue
			}
			why = append(why, fmt.Sprintf("does not verify with the key: %v", err))
		}
		if !hasCert || !bc.keyless() {
			switch {
			case len(why) > 0:
				problem("signature %d %s", i+1, why[0])
			case bc.keyless():
				problem("signature %d has no certificate: it is key-based, and only --key checks it", i+1)
			}
			continue
		}
		res, err := checkLegacy(bc, s)
		switch {
		case err != nil:
			why = append(why, fmt.Sprintf("not checked: %v", err))
		case !res.Verified:
			why = append(why, "does not verify: "+res.Error)
		default:
			in.Verified++
			last := &in.Signers[len(in.Signers)-1]
			last.Verified, last.Identity, last.Issuer = true, res.Identity, res.Issuer
			if len(res.Timestamps) > 0 {
				last.Time = res.Timestamps[0].Time.UTC().Format(time.RFC3339)
			}
			continue
		}
		problem("keyless signature %d %s", i+1, strings.Join(why, "; "))
	}
	for i, a := range ev.Attestations {
		env, err := cosign.ParseEnvelope(a)
		if err != nil {
			problem("attestation %d: %v", i+1, err)
			continue
		}
		st, err := env.Statement()
		if err != nil {
			problem("attestation %d: %v", i+1, err)
			continue
		}
		in.Attestations = append(in.Attestations, st.PredicateType)
		if !about(st, ev.Subject) {
			in.OtherSubjects++
			problem("attestation %d (%s) is about another image: its subject is %s, not %s", i+1, st.PredicateType, subjectDigests(st), ev.Subject)
		}
		if pub != nil {
			if err := env.Verify(pub); err != nil {
				problem("attestation %d (%s) does not verify with the key: %v", i+1, st.PredicateType, err)
			}
		}
	}
	for _, r := range ev.Referrers {
		ri := referrerInfo(r, ev.Subject)
		if b := bundleOf(r); b != nil {
			checkBundle(&in, &ri, b, ev.Subject, bc)
		}
		if b, ok := ev.Children[digest.Digest(ri.About)]; ok && r.Kind == archive.KindAttestationManifest {
			var m struct {
				Config v1.Descriptor `json:"config"`
			}
			if json.Unmarshal(b, &m) == nil {
				ri.Image = string(m.Config.Digest)
			}
		}
		in.Referrers = append(in.Referrers, ri)
	}
	return in
}

// about reports whether the statement's subject names the signed digest:
// the image's manifest, or the index for an index's evidence.
func about(st *cosign.Statement, signed digest.Digest) bool {
	for _, s := range st.Subject {
		if h, ok := s.Digest["sha256"]; ok && digest.NewDigestFromEncoded(digest.SHA256, h) == signed {
			return true
		}
	}
	return false
}

// subjectDigests lists a statement's subject digests for an error line,
// at most 8 of them.
func subjectDigests(st *cosign.Statement) string {
	var ds []string
	for _, s := range st.Subject {
		for _, alg := range slices.Sorted(maps.Keys(s.Digest)) {
			ds = append(ds, alg+":"+s.Digest[alg])
		}
	}
	return manifest.List(ds, 8)
}

// CheckSigned returns nil when a stored signature verifies with key (PEM)
// all the way to the config of the image of dir that sel picks (as [Load]
// picks it, the zero Selector when dir holds one image), and otherwise an
// error wrapping [ErrUnsigned] that says what failed. It reads dir alone,
// offline; [Load] and [Run] with a VerifyKey make the same check.
func CheckSigned(ctx context.Context, dir string, sel Selector, key []byte) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	d, im, err := sel.open(dir)
	if err != nil {
		return err
	}
	return checkSigned(ctx, d, im, key, nil)
}

// checkSigned is [CheckSigned] of a directory opened already, with the
// Sigstore policy s (or nil) too: a bundle that verifies with it proves
// the image as a signature that verifies with key does.
func checkSigned(ctx context.Context, d *archive.Dir, im *archive.DirImage, key []byte, s *Sigstore) error {
	dir := d.Path
	infos, err := checkEvidence(ctx, d, key, s)
	if err != nil {
		return err
	}
	var why []string
	for _, in := range infos {
		if !slices.Contains(in.Images, string(im.ID)) {
			continue
		}
		if in.Verified > 0 {
			return nil
		}
		why = append(why, in.Problems...)
	}
	if len(why) == 0 {
		why = []string{"no signature is stored for it"}
	}
	return fmt.Errorf("%s: image %s: %w: %s", dir, short(im.ID), ErrUnsigned, strings.Join(why, "; "))
}

// predicateTypes are cosign's --type names for the predicate types it
// writes, so that `imgsave attestation --type spdxjson` finds what `cosign
// attest --type spdxjson` stored.
var predicateTypes = map[string]string{
	"spdx":            "https://spdx.dev/Document",
	"spdxjson":        "https://spdx.dev/Document",
	"cyclonedx":       "https://cyclonedx.org/bom",
	"slsaprovenance":  "https://slsa.dev/provenance/v0.2",
	"slsaprovenance1": "https://slsa.dev/provenance/v1",
	"link":            "https://in-toto.io/Link/v1",
	"vuln":            "https://cosign.sigstore.dev/attestation/vuln/v1",
	"custom":          "https://cosign.sigstore.dev/attestation/v1",
}

// PredicateName is cosign's --type name for an attestation's predicate
// type (spdxjson for https://spdx.dev/Document), or the URI itself when
// cosign has none: the short form `imgsave ls` shows and `imgsave
// attestation --type` takes.
func PredicateName(uri string) string {
	if uri == predicateTypes["spdxjson"] {
		return "spdxjson" // not spdx, its older alias
	}
	for name, t := range predicateTypes {
		if t == uri {
			return name
		}
	}
	return uri
}

// Attestation is one stored attestation of an image.
type Attestation struct {
	PredicateType string          `json:"predicate_type"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Attestations returns the attestations stored for the selected image of
// dir whose predicate type is typ (a URI, or cosign's --type name such as
// spdxjson; "" for all), read offline: those whose in-toto subject is the
// signed digest of an evidence folder that names the image (its manifest,
// or the index holding it), kept as cosign 2 did or inside cosign v3's
// Sigstore bundles (a DSSE envelope), and BuildKit's attestations about the image's
// manifest (an SBOM, provenance; unsigned). An attestation kept there
// about another image is never returned as this one's. It checks no signature: see
// [CheckEvidence] for that. An image with none gives an empty slice.
func Attestations(ctx context.Context, dir string, sel Selector, typ string) ([]Attestation, error) {
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	d, im, err := sel.open(dir)
	if err != nil {
		return nil, err
	}
	if t, ok := predicateTypes[typ]; ok {
		typ = t
	}
	evs, err := archive.ReadEvidence(dir)
	if err != nil {
		return nil, err
	}
	out := []Attestation{}
	for _, ev := range evs {
		info := checkOne(d, ev, nil, nil)
		if !slices.Contains(info.Images, string(im.ID)) {
			continue
		}
		// BuildKit's attestation manifests about the image's manifest:
		// unsigned in-toto statements, one a layer (#30).
		for i, r := range ev.Referrers {
			if r.Kind != archive.KindAttestationManifest || info.Referrers[i].Image != string(im.ID) {
				continue
			}
			for _, l := range r.Layers {
				var st struct {
					PredicateType string          `json:"predicateType"`
					Predicate     json.RawMessage `json:"predicate"`
				}
				if json.Unmarshal(l.Data, &st) != nil || st.PredicateType == "" || typ != "" && st.PredicateType != typ {
					continue
				}
				out = append(out, Attestation{PredicateType: st.PredicateType, Predicate: st.Predicate})
			}
		}
		// Sigstore bundles of cosign v3 holding an in-toto statement
		// in their DSSE envelope, but for its image signature (#30).
		for _, r := range ev.Referrers {
			b := bundleOf(r)
			if b == nil {
				continue
			}
			var doc struct {
				DSSE json.RawMessage `json:"dsseEnvelope"`
			}
			if json.Unmarshal(b, &doc) != nil || doc.DSSE == nil {
				continue
			}
			env, err := cosign.ParseEnvelope(doc.DSSE)
			if err != nil {
				continue
			}
			st, err := env.Statement()
			if err != nil || st.PredicateType == cosignSignPredicate || typ != "" && st.PredicateType != typ || !about(st, ev.Subject) {
				continue
			}
			out = append(out, Attestation{PredicateType: st.PredicateType, Predicate: st.Predicate})
		}
		for _, a := range ev.Attestations {
			env, err := cosign.ParseEnvelope(a)
			if err != nil {
				continue
			}
			st, err := env.Statement()
			if err != nil || typ != "" && st.PredicateType != typ || !about(st, ev.Subject) {
				continue
			}
			out = append(out, Attestation{PredicateType: st.PredicateType, Predicate: st.Predicate})
		}
	}
	return out, nil
}
