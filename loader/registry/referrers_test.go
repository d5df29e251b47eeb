package registry

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

const (
	bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	spdxType   = "application/spdx+json"
)

// typedManifest is a manifest to push as it is.
type typedManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m typedManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m typedManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// spec is a registry whose referrers API follows the distribution spec,
// as go-containerregistry's v0.22.1 does not: each referrer listed with
// its manifest's artifactType, and ?artifactType= filtering the list.
// Referrers are listed as the test adds them; the rest of the registry
// is go-containerregistry's in-memory one.
type spec struct {
	h     *registrytest.Hostile
	mu    sync.Mutex
	lists map[string][]ggcr.Descriptor // by subject digest
	// gets counts the GETs of each manifest by digest.
	gets sync.Map
	// script, when set, sees a request before the rest.
	script func(w http.ResponseWriter, r *http.Request) bool
	noAPI  bool // 404 for the referrers API, as registry 2.8 answers
}

func newSpec(t *testing.T) *spec {
	s := &spec{lists: map[string][]ggcr.Descriptor{}}
	s.h = registrytest.Serve(t, s.serve)
	return s
}

func (s *spec) serve(w http.ResponseWriter, r *http.Request) bool {
	if i := strings.Index(r.URL.Path, "/manifests/sha256:"); i >= 0 && r.Method == http.MethodGet {
		n, _ := s.gets.LoadOrStore(r.URL.Path[i+len("/manifests/"):], new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
	}
	if s.script != nil && s.script(w, r) {
		return true
	}
	_, dg, ok := strings.Cut(r.URL.Path, "/referrers/")
	if !ok {
		return false
	}
	if s.noAPI {
		http.NotFound(w, r)
		return true
	}
	s.mu.Lock()
	list := s.lists[dg]
	s.mu.Unlock()
	idx := ggcr.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []ggcr.Descriptor{}}
	for _, d := range list {
		if at := r.URL.Query().Get("artifactType"); at == "" || d.ArtifactType == at {
			idx.Manifests = append(idx.Manifests, d)
		}
	}
	w.Header().Set("Content-Type", string(types.OCIImageIndex))
	json.NewEncoder(w).Encode(idx)
	return true
}

// manifestGets is how many GETs the manifest d had.
func (s *spec) manifestGets(d string) int {
	n, ok := s.gets.Load(d)
	if !ok {
		return 0
	}
	return int(n.(*atomic.Int32).Load())
}

// push pushes the image img as x/y:1 and returns its descriptor.
func (s *spec) push(t *testing.T, img ggcr.Image) ggcr.Descriptor {
	t.Helper()
	if err := remote.Write(mustRef(t, s.h.Host+"/x/y:1"), img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	return ggcr.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))}
}

// artifact pushes a referrer of subject to x/y: a manifest of artifact
// type at ("" for none) with the config media type config and one layer
// holding data, and returns its descriptor as the spec lists it (not
// yet listed; see list).
func (s *spec) artifact(t *testing.T, subject ggcr.Descriptor, at, config string, data string) ggcr.Descriptor {
	t.Helper()
	repo, err := name.NewRepository(s.h.Host + "/x/y")
	if err != nil {
		t.Fatal(err)
	}
	cfg := static.NewLayer([]byte("{}"), types.MediaType(config))
	layer := static.NewLayer([]byte(data), types.MediaType(cmp.Or(at, "application/octet-stream")))
	var descs []ggcr.Descriptor
	for _, l := range []ggcr.Layer{cfg, layer} {
		if err := remote.WriteLayer(repo, l); err != nil {
			t.Fatal(err)
		}
		d, _ := l.Digest()
		n, _ := l.Size()
		mt, _ := l.MediaType()
		descs = append(descs, ggcr.Descriptor{MediaType: mt, Digest: d, Size: n})
	}
	m := ggcr.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: at, Config: descs[0], Layers: descs[1:], Subject: &subject}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d, n, _ := ggcr.SHA256(strings.NewReader(string(raw)))
	if err := remote.Put(repo.Digest(d.String()), typedManifest{raw, types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
	return ggcr.Descriptor{MediaType: types.OCIManifestSchema1, Digest: d, Size: n, ArtifactType: cmp.Or(at, config)}
}

// list lists descs as referrers of subject.
func (s *spec) list(subject ggcr.Descriptor, descs ...ggcr.Descriptor) {
	s.mu.Lock()
	s.lists[subject.Digest.String()] = append(s.lists[subject.Digest.String()], descs...)
	s.mu.Unlock()
}

// TestFetchEvidenceReferrers: the referrers of a digest whose artifact
// type is evidence are kept, checked, whichever way the registry lists
// them (the referrers API, the referrers tag, go-containerregistry's
// config media types); others are filtered out here, unfetched (#30).
func TestFetchEvidenceReferrers(t *testing.T) {
	t.Run("by the referrers API", func(t *testing.T) {
		s := newSpec(t)
		subject := s.push(t, registrytest.Platform(t, nil, "amd64"))
		bundle := s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`)
		sbom := s.artifact(t, subject, spdxType, mediaTypeEmptyJSON, `{"spdxVersion":"SPDX-2.3"}`)
		other := s.artifact(t, subject, "application/vnd.example.thing", mediaTypeEmptyJSON, `x`)
		s.list(subject, other, bundle, sbom)
		ev, err := FetchEvidence(t.Context(), s.h.Host+"/x/y@"+subject.Digest.String(), Options{})
		if err != nil || len(ev.Failed) != 0 {
			t.Fatalf("FetchEvidence = %+v, %v", ev, err)
		}
		if len(ev.Referrers) != 2 || ev.Referrers[0].ArtifactType != bundleType || ev.Referrers[1].ArtifactType != spdxType {
			t.Fatalf("Referrers = %+v, want the bundle and the SBOM", ev.Referrers)
		}
		r := ev.Referrers[0]
		if r.Subject != subject.Digest.String() || r.Manifest.Digest != bundle.Digest.String() || len(r.Blobs) != 2 || !strings.Contains(string(r.Blobs[1].Data), "bundle.v0.3") {
			t.Errorf("the bundle = %+v, want its manifest, config and layer, about the subject", r)
		}
		if n := s.manifestGets(other.Digest.String()); n != 0 {
			t.Errorf("the referrer of another type was fetched %d times, want none", n)
		}
	})
	t.Run("by the referrers tag", func(t *testing.T) {
		s := newSpec(t)
		s.noAPI = true
		subject := s.push(t, registrytest.Platform(t, nil, "amd64"))
		bundle := s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, `{}`)
		idx, _ := json.Marshal(ggcr.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []ggcr.Descriptor{bundle}})
		if err := remote.Put(mustRef(t, s.h.Host+"/x/y:sha256-"+subject.Digest.Hex), typedManifest{idx, types.OCIImageIndex}); err != nil {
			t.Fatal(err)
		}
		ev, err := FetchEvidence(t.Context(), s.h.Host+"/x/y@"+subject.Digest.String(), Options{})
		if err != nil || len(ev.Failed) != 0 || len(ev.Referrers) != 1 || ev.Referrers[0].ArtifactType != bundleType {
			t.Fatalf("FetchEvidence = %+v, %v; want the bundle of the referrers tag", ev, err)
		}
	})
	t.Run("neither API nor tag", func(t *testing.T) {
		s := newSpec(t)
		s.noAPI = true
		subject := s.push(t, registrytest.Platform(t, nil, "amd64"))
		ev, err := FetchEvidence(t.Context(), s.h.Host+"/x/y@"+subject.Digest.String(), Options{})
		if err != nil || len(ev.Failed) != 0 || len(ev.Referrers) != 0 {
			t.Fatalf("FetchEvidence = %+v, %v; want no referrer and no failure", ev, err)
		}
	})
	t.Run("listed by its config media type", func(t *testing.T) {
		// go-containerregistry's registry (v0.22.1) lists cosign v3's
		// bundle by its empty config's media type: fetched to be told.
		s := newSpec(t)
		subject := s.push(t, registrytest.Platform(t, nil, "amd64"))
		bundle := s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, `{}`)
		bundle.ArtifactType = mediaTypeEmptyJSON
		plain := s.artifact(t, subject, "", mediaTypeEmptyJSON, `{}`)
		s.list(subject, bundle, plain)
		ev, err := FetchEvidence(t.Context(), s.h.Host+"/x/y@"+subject.Digest.String(), Options{})
		if err != nil || len(ev.Failed) != 0 || len(ev.Referrers) != 1 || ev.Referrers[0].ArtifactType != bundleType {
			t.Fatalf("FetchEvidence = %+v, %v; want the bundle alone", ev, err)
		}
	})
	t.Run("an SBOM by its config media type", func(t *testing.T) {
		s := newSpec(t)
		subject := s.push(t, registrytest.Platform(t, nil, "amd64"))
		s.list(subject, s.artifact(t, subject, "", "application/vnd.cyclonedx+json", `{}`))
		ev, err := FetchEvidence(t.Context(), s.h.Host+"/x/y@"+subject.Digest.String(), Options{})
		if err != nil || len(ev.Failed) != 0 || len(ev.Referrers) != 1 || ev.Referrers[0].ArtifactType != "application/vnd.cyclonedx+json" {
			t.Fatalf("FetchEvidence = %+v, %v; want the CycloneDX SBOM", ev, err)
		}
	})
	t.Run("paged", func(t *testing.T) {
		s := newSpec(t)
		subject := s.push(t, registrytest.Platform(t, nil, "amd64"))
		a := s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, `{"a":1}`)
		b := s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, `{"b":2}`)
		s.script = func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.Contains(r.URL.Path, "/referrers/") {
				return false
			}
			d := a
			if r.URL.Query().Get("page") == "2" {
				d = b
			} else {
				w.Header().Set("Link", `<`+r.URL.Path+`?page=2>; rel="next"`)
			}
			w.Header().Set("Content-Type", string(types.OCIImageIndex))
			json.NewEncoder(w).Encode(ggcr.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []ggcr.Descriptor{d}})
			return true
		}
		ev, err := FetchEvidence(t.Context(), s.h.Host+"/x/y@"+subject.Digest.String(), Options{})
		if err != nil || len(ev.Failed) != 0 || len(ev.Referrers) != 2 {
			t.Fatalf("FetchEvidence = %+v, %v; want the referrers of both pages", ev, err)
		}
	})
}

// TestFetchEvidenceReferrersHostile: each way a registry's referrers can
// attack a pull is bounded or refused, one per case, naming the referrer
// in Failed; the digest's other evidence is kept (#30).
func TestFetchEvidenceReferrersHostile(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup lists referrers of subject, or scripts the registry; it
		// returns the referrers to be kept.
		setup    func(t *testing.T, s *spec, subject ggcr.Descriptor) int
		wantWhy  string // in a Failed line
		maxLists int    // the most GETs of the referrers API, when set
	}{
		{name: "a list of 100,000 referrers", wantWhy: "more than", setup: func(t *testing.T, s *spec, subject ggcr.Descriptor) int {
			bundle := s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, `{}`)
			descs := make([]ggcr.Descriptor, 100_000)
			for i := range descs {
				descs[i] = ggcr.Descriptor{MediaType: types.OCIManifestSchema1, ArtifactType: bundleType, Size: 100, Digest: ggcr.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i)}}
			}
			s.list(subject, append(descs, bundle)...)
			return 0
		}},
		{name: "100,000 referrers over endless pages", wantWhy: "pages", maxLists: maxReferrerPages, setup: func(t *testing.T, s *spec, subject ggcr.Descriptor) int {
			var page atomic.Int32
			s.script = func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.Contains(r.URL.Path, "/referrers/") {
					return false
				}
				n := page.Add(1)
				descs := make([]ggcr.Descriptor, 100)
				for i := range descs {
					descs[i] = ggcr.Descriptor{MediaType: types.OCIManifestSchema1, ArtifactType: "application/vnd.example", Size: 100, Digest: ggcr.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%032x%032x", n, i)}}
				}
				w.Header().Set("Link", fmt.Sprintf(`<%s?n=%d>; rel="next"`, r.URL.Path, n))
				w.Header().Set("Content-Type", string(types.OCIImageIndex))
				json.NewEncoder(w).Encode(ggcr.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: descs})
				return true
			}
			return 0
		}},
		{name: "a next page on another host", wantWhy: "not the registry's", setup: func(t *testing.T, s *spec, subject ggcr.Descriptor) int {
			s.script = func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.Contains(r.URL.Path, "/referrers/") {
					return false
				}
				w.Header().Set("Link", `<http://192.0.2.1/v2/x/y/referrers/x>; rel="next"`)
				w.Header().Set("Content-Type", string(types.OCIImageIndex))
				w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`))
				return true
			}
			return 0
		}},
		{name: "more referrers than the bound", wantWhy: "6 more not fetched", setup: func(t *testing.T, s *spec, subject ggcr.Descriptor) int {
			for i := range MaxEvidenceReferrers + 6 {
				s.list(subject, s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, fmt.Sprintf(`{"n":%d}`, i)))
			}
			return MaxEvidenceReferrers
		}},
		{name: "a referrer manifest listed over the bound", wantWhy: "over", setup: func(t *testing.T, s *spec, subject ggcr.Descriptor) int {
			d := s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, `{}`)
			d.Size = MaxEvidenceBlob + 1
			s.list(subject, d)
			return 0
		}},
		{name: "a referrer manifest served over the bound", wantWhy: "more than", setup: func(t *testing.T, s *spec, subject ggcr.Descriptor) int {
			d := s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, `{}`)
			s.list(subject, d)
			s.script = func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/manifests/"+d.Digest.String()) {
					return false
				}
				w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
				w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","x":"`))
				w.Write(make([]byte, maxSmall+1))
				return true
			}
			return 0
		}},
		{name: "a referrer whose digest does not match", wantWhy: "digest", setup: func(t *testing.T, s *spec, subject ggcr.Descriptor) int {
			d := s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, `{}`)
			other := s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, `{"other":1}`)
			s.list(subject, d)
			s.script = func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/manifests/"+d.Digest.String()) {
					return false
				}
				r.URL.Path = strings.Replace(r.URL.Path, d.Digest.String(), other.Digest.String(), 1)
				s.h.Registry.ServeHTTP(w, r)
				return true
			}
			return 0
		}},
		{name: "a blob of a referrer whose digest does not match", wantWhy: "checksum", setup: func(t *testing.T, s *spec, subject ggcr.Descriptor) int {
			d := s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, `{"real":1}`)
			s.list(subject, d)
			layer := static.NewLayer([]byte(`{"real":1}`), bundleType)
			ld, _ := layer.Digest()
			s.script = func(w http.ResponseWriter, r *http.Request) bool {
				if !registrytest.IsBlob(r, ld) {
					return false
				}
				w.Write([]byte(`{"fake":1}`))
				return true
			}
			return 0
		}},
		{name: "an artifactType lie", wantWhy: "listed as", setup: func(t *testing.T, s *spec, subject ggcr.Descriptor) int {
			d := s.artifact(t, subject, "application/vnd.example.thing", mediaTypeEmptyJSON, `{}`)
			d.ArtifactType = bundleType
			s.list(subject, d)
			return 0
		}},
		{name: "a referrer of another subject", wantWhy: "its subject is", setup: func(t *testing.T, s *spec, subject ggcr.Descriptor) int {
			elsewhere := subject
			elsewhere.Digest.Hex = strings.Repeat("e", 64)
			s.list(subject, s.artifact(t, elsewhere, bundleType, mediaTypeEmptyJSON, `{}`))
			return 0
		}},
		{name: "a loop: the subject its own referrer, a referrer twice", setup: func(t *testing.T, s *spec, subject ggcr.Descriptor) int {
			d := s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, `{}`)
			self := subject
			self.ArtifactType = bundleType
			s.list(subject, self, d, d, self)
			return 1
		}},
		{name: "referrers over the bytes of one digest in all", wantWhy: "in all", setup: func(t *testing.T, s *spec, subject ggcr.Descriptor) int {
			big := strings.Repeat(" ", 15<<20)
			for i := range 5 {
				s.list(subject, s.artifact(t, subject, bundleType, mediaTypeEmptyJSON, fmt.Sprintf("%s%d", big, i)))
			}
			return 4
		}},
		{name: "a referrers list that is no index", wantWhy: "not a manifest", setup: func(t *testing.T, s *spec, subject ggcr.Descriptor) int {
			s.script = func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.Contains(r.URL.Path, "/referrers/") {
					return false
				}
				w.Write([]byte(`{"schemaVersion":1,"manifests":[]}`))
				return true
			}
			return 0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSpec(t)
			subject := s.push(t, registrytest.Platform(t, nil, "amd64"))
			d := subject.Digest
			if err := remote.Write(mustRef(t, s.h.Host+"/x/y:sha256-"+d.Hex+".sig"), signatureImage(t, `{"critical":{}}`)); err != nil {
				t.Fatal(err)
			}
			want := tc.setup(t, s, subject)
			var lists atomic.Int32
			script := s.script
			s.script = func(w http.ResponseWriter, r *http.Request) bool {
				if strings.Contains(r.URL.Path, "/referrers/") {
					lists.Add(1)
				}
				return script != nil && script(w, r)
			}
			ev, err := FetchEvidence(t.Context(), s.h.Host+"/x/y@"+d.String(), Options{})
			if err != nil {
				t.Fatalf("FetchEvidence = %v, want the evidence it could take", err)
			}
			if ev.Sigs == nil {
				t.Errorf("the .sig image was not kept beside the referrers")
			}
			if len(ev.Referrers) != want {
				t.Errorf("%d referrers kept, want %d", len(ev.Referrers), want)
			}
			if tc.wantWhy == "" && len(ev.Failed) != 0 {
				t.Errorf("Failed = %v, want none", ev.Failed)
			}
			if tc.wantWhy != "" && (len(ev.Failed) != 1 || !strings.Contains(ev.Failed[0].Error(), tc.wantWhy)) {
				t.Errorf("Failed = %v, want one line saying %q", ev.Failed, tc.wantWhy)
			}
			for _, f := range ev.Failed {
				if len(f.Error()) > maxErr {
					t.Errorf("a Failed line of %d bytes", len(f.Error()))
				}
			}
			if n := s.manifestGets(d.String()); n != 1 {
				t.Errorf("the subject's manifest was fetched %d times, want once", n)
			}
			if tc.maxLists > 0 && int(lists.Load()) > tc.maxLists {
				t.Errorf("%d pages of referrers asked for, want at most %d", lists.Load(), tc.maxLists)
			}
		})
	}
}

// TestFetchEvidenceBuildKit: the attestation manifests BuildKit lists in
// an index are kept for the platforms pulled (Options.EvidenceOf), each
// with its in-toto layers; one that holds something else is refused
// (#30).
func TestFetchEvidenceBuildKit(t *testing.T) {
	s := newSpec(t)
	amd := registrytest.Platform(t, nil, "amd64")
	arm := registrytest.Platform(t, nil, "arm64")
	repo, _ := name.NewRepository(s.h.Host + "/x/y")
	var manifests []ggcr.Descriptor
	for _, img := range []ggcr.Image{amd, arm} {
		if err := remote.Write(repo.Tag("p"), img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		raw, _ := img.RawManifest()
		cf, _ := img.ConfigFile()
		manifests = append(manifests, ggcr.Descriptor{MediaType: types.OCIManifestSchema1, Digest: d, Size: int64(len(raw)), Platform: &ggcr.Platform{OS: "linux", Architecture: cf.Architecture}})
	}
	attest := func(of ggcr.Hash, layerType, statement string) ggcr.Descriptor {
		l := static.NewLayer([]byte(statement), types.MediaType(layerType))
		if err := remote.WriteLayer(repo, l); err != nil {
			t.Fatal(err)
		}
		ld, _ := l.Digest()
		cfg := static.NewLayer([]byte("{}"), types.OCIConfigJSON)
		cd, _ := cfg.Digest()
		raw, _ := json.Marshal(ggcr.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
			Config: ggcr.Descriptor{MediaType: types.OCIConfigJSON, Digest: cd, Size: 2},
			Layers: []ggcr.Descriptor{{MediaType: types.MediaType(layerType), Digest: ld, Size: int64(len(statement)), Annotations: map[string]string{"in-toto.io/predicate-type": "https://spdx.dev/Document"}}}})
		md, n, _ := ggcr.SHA256(strings.NewReader(string(raw)))
		if err := remote.Put(repo.Digest(md.String()), typedManifest{raw, types.OCIManifestSchema1}); err != nil {
			t.Fatal(err)
		}
		return ggcr.Descriptor{MediaType: types.OCIManifestSchema1, Digest: md, Size: n, Platform: &ggcr.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{annotationRefType: refTypeAttestation, annotationRefDigest: of.String()}}
	}
	amdAtt := attest(manifests[0].Digest, mediaTypeInToto, `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document"}`)
	armAtt := attest(manifests[1].Digest, "application/vnd.example.notintoto", `{}`)
	idx, _ := json.Marshal(ggcr.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: append(manifests, amdAtt, armAtt)})
	idxDigest, _, _ := ggcr.SHA256(strings.NewReader(string(idx)))
	if err := remote.Put(repo.Tag("multi"), typedManifest{idx, types.OCIImageIndex}); err != nil {
		t.Fatal(err)
	}
	ref := s.h.Host + "/x/y@" + idxDigest.String()

	ev, err := FetchEvidence(t.Context(), ref, Options{EvidenceOf: []string{manifests[0].Digest.String()}})
	if err != nil || len(ev.Failed) != 0 {
		t.Fatalf("FetchEvidence = %+v, %v", ev, err)
	}
	if len(ev.BuildKit) != 1 || ev.BuildKit[0].Subject != manifests[0].Digest.String() || ev.BuildKit[0].Manifest.Digest != amdAtt.Digest.String() ||
		len(ev.BuildKit[0].Blobs) != 2 || !strings.Contains(string(ev.BuildKit[0].Blobs[1].Data), "spdx") || ev.BuildKit[0].Manifest.Annotations[annotationRefDigest] == "" {
		t.Errorf("BuildKit = %+v, want the amd64 platform's attestation manifest with its statement", ev.BuildKit)
	}
	// Every platform's: the arm64 one holds no in-toto layer.
	ev, err = FetchEvidence(t.Context(), ref, Options{})
	if err != nil || len(ev.BuildKit) != 1 || len(ev.Failed) != 1 || !strings.Contains(ev.Failed[0].Error(), armAtt.Digest.String()) {
		t.Errorf("FetchEvidence of every platform = %+v, %v; want amd64's kept and arm64's refused, named", ev, err)
	}
}

// TestPullIndex: a pull of one platform from an index says which index,
// whose evidence (cosign signs the index) is the platform's too (#30).
func TestPullIndex(t *testing.T) {
	h := registrytest.Serve(t, nil)
	amd := registrytest.Platform(t, nil, "amd64")
	idx := registrytest.Index(t, amd, registrytest.Platform(t, nil, "arm64"))
	if err := remote.WriteIndex(mustRef(t, h.Host+"/x/y:multi"), idx); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, h.Host+"/x/y:one"), amd); err != nil {
		t.Fatal(err)
	}
	id, _ := idx.Digest()
	for _, tc := range []struct{ ref, platform, want string }{
		{"multi", "linux/amd64", h.Host + "/x/y@" + id.String()},
		{"one", "", ""},
		{"multi", "all", ""},
	} {
		p, err := Pull(t.Context(), h.Host+"/x/y:"+tc.ref, Options{Platform: tc.platform})
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
		if p.Index != tc.want {
			t.Errorf("Pull(%s, %q).Index = %q, want %q", tc.ref, tc.platform, p.Index, tc.want)
		}
	}
}

// TestEvidenceKind: the artifact types kept, and a few that are not.
func TestEvidenceKind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"application/vnd.dev.sigstore.bundle.v0.3+json", "sigstore-bundle"},
		{"application/vnd.dev.sigstore.bundle+json;version=0.2", "sigstore-bundle"},
		{"application/vnd.dev.cosign.artifact.sig.v1+json", "cosign"},
		{"application/vnd.dev.cosign.simplesigning.v1+json", "cosign"},
		{"application/vnd.in-toto+json", "in-toto"},
		{"application/vnd.dsse.envelope.v1+json", "in-toto"},
		{"application/spdx+json", "sbom"},
		{"text/spdx", "sbom"},
		{"application/vnd.cyclonedx+json", "sbom"},
		{"application/vnd.cyclonedx+xml", "sbom"},
		{"https://slsa.dev/provenance/v1", "provenance"},
		{"application/vnd.oci.empty.v1+json", ""},
		{"application/vnd.oci.image.config.v1+json", ""},
		{"application/vnd.cncf.notary.signature", ""},
		{"", ""},
	} {
		if got := EvidenceKind(tc.in); got != tc.want {
			t.Errorf("EvidenceKind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
