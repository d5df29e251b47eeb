package registry

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// signatureImage is a cosign-like .sig image: one simple-signing layer,
// its signature in an annotation.
func signatureImage(t *testing.T, payload string) ggcr.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:       static.NewLayer([]byte(payload), "application/vnd.dev.cosign.simplesigning.v1+json"),
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": "c2ln"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return mutate.MediaType(img, types.OCIManifestSchema1)
}

// serveLayers answers with an image manifest of n layers of mediaType,
// each naming a blob of size bytes (that no one serves: the bound is met
// before a blob is asked for).
func serveLayers(w http.ResponseWriter, mediaType string, n int, size int64) bool {
	layers := make([]string, n)
	for i := range layers {
		layers[i] = fmt.Sprintf(`{"mediaType":%q,"digest":"sha256:%064x","size":%d}`, mediaType, i+1, size)
	}
	w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
	fmt.Fprintf(w, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":2},"layers":[%s]}`, strings.Repeat("a", 64), strings.Join(layers, ","))
	return true
}

// TestFetchEvidence: the manifest as served and the .sig image come back,
// checked; no .att tag is no error; a blob whose bytes are not its digest,
// and a layer over the bound, are refused.
func TestFetchEvidence(t *testing.T) {
	var tamper func(w http.ResponseWriter, r *http.Request) bool
	host := registrytest.Serve(t, func(w http.ResponseWriter, r *http.Request) bool {
		return tamper != nil && tamper(w, r)
	}).Host
	img := registrytest.Platform(t, nil, "amd64")
	if err := remote.Write(mustRef(t, host+"/x/y:1"), img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	raw, _ := img.RawManifest()
	sig := signatureImage(t, `{"critical":{}}`)
	if err := remote.Write(mustRef(t, host+"/x/y:sha256-"+d.Hex+".sig"), sig); err != nil {
		t.Fatal(err)
	}
	ev, err := FetchEvidence(t.Context(), host+"/x/y@"+d.String(), Options{})
	if err != nil {
		t.Fatalf("FetchEvidence = %v", err)
	}
	if string(ev.Subject.Data) != string(raw) || ev.Subject.Digest != d.String() || ev.Atts != nil || ev.Sigs == nil {
		t.Fatalf("FetchEvidence = %+v, want the manifest as served, a .sig and no .att", ev)
	}
	if n := len(ev.Sigs.Blobs); n != 2 || string(ev.Sigs.Blobs[1].Data) != `{"critical":{}}` || ev.Sigs.Blobs[1].Annotations["dev.cosignproject.cosign/signature"] != "c2ln" {
		t.Errorf("the .sig image's blobs = %+v, want its config and the payload with its signature", ev.Sigs.Blobs)
	}
	if _, err := FetchEvidence(t.Context(), host+"/x/y:1", Options{}); err == nil || !strings.Contains(err.Error(), "repository@sha256") {
		t.Errorf("FetchEvidence by tag = %v, want a refusal", err)
	}

	// the payload's bytes replaced on the way
	layers, _ := sig.Layers()
	ld, _ := layers[0].Digest()
	tamper = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) && r.Method == http.MethodGet {
			w.Write([]byte(`{"critical":{"x"}`))
			return true
		}
		return false
	}
	if ev, err := FetchEvidence(t.Context(), host+"/x/y@"+d.String(), Options{}); err != nil || ev.Sigs != nil || len(ev.Failed) != 1 || !strings.Contains(ev.Failed[0].Error(), ".sig") {
		t.Errorf("FetchEvidence of a tampered payload = %+v, %v, want the .sig failed, naming its tag", ev, err)
	}

	// a .sig manifest promising a layer over the bound: refused unread
	tamper = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, ".sig") {
			w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
			w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":2},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"sha256:` + strings.Repeat("b", 64) + `","size":999999999,"annotations":{"dev.cosignproject.cosign/signature":"c2ln"}}]}`))
			return true
		}
		return false
	}
	if ev, err := FetchEvidence(t.Context(), host+"/x/y@"+d.String(), Options{}); err != nil || ev.Sigs != nil || len(ev.Failed) != 1 || !strings.Contains(ev.Failed[0].Error(), "over") {
		t.Errorf("FetchEvidence of an oversized layer = %+v, %v, want it refused", ev, err)
	}
}

// attestationImage is a cosign-like .att image: one DSSE layer.
func attestationImage(t *testing.T, envelope []byte) ggcr.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:       static.NewLayer(envelope, "application/vnd.dsse.envelope.v1+json"),
		Annotations: map[string]string{"predicateType": "https://spdx.dev/Document"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return mutate.MediaType(img, types.OCIManifestSchema1)
}

// TestFetchEvidenceTakesOnlyCosignImages: what a registry serves at the
// .sig and .att tags is kept only when it is a cosign signature or
// attestation image; a registry that answers any tag with the image's own
// manifest (a proxy mapping unknown tags to the latest) gives no evidence
// and no error, and none of the image's layers is fetched as evidence;
// the evidence of one tag that cannot be taken leaves the other's (#28).
func TestFetchEvidenceTakesOnlyCosignImages(t *testing.T) {
	img := registrytest.Platform(t, nil, "amd64")
	d, _ := img.Digest()
	layers, _ := img.Layers()
	sig := signatureImage(t, `{"critical":{}}`)
	unsigned, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer([]byte(`{}`), "application/vnd.dev.cosign.simplesigning.v1+json")})
	if err != nil {
		t.Fatal(err)
	}
	att := attestationImage(t, []byte(`{"payloadType":"application/vnd.in-toto+json"}`))
	// 12 MiB: over the 8 MiB of manifests and configs, under the 16 MiB of
	// a blob of evidence.
	bigAtt := attestationImage(t, append([]byte(`{"payload":"`), make([]byte, 12<<20)...))
	bigSig := signatureImage(t, strings.Repeat(" ", 12<<20)+"{}")
	bad := strings.Repeat("z", 64)
	for _, tc := range []struct {
		name                 string
		sig, att             ggcr.Image
		script               func(w http.ResponseWriter, r *http.Request) bool
		wantSig, wantAtt     bool
		wantSkipped, wantBad []string // tag suffixes
		wantWhy              string   // in the failure, when set
	}{
		{name: "cosign's", sig: sig, att: att, wantSig: true, wantAtt: true},
		{name: "the image's own manifest at every tag", sig: img, att: img, wantSkipped: []string{".sig", ".att"}},
		{name: "an attestation at the .sig tag", sig: att, att: att, wantAtt: true, wantSkipped: []string{".sig"}},
		{name: "a signature layer without its signature", sig: unsigned, wantSkipped: []string{".sig"}},
		{name: "an index at the .att tag", sig: sig, att: nil, wantSig: true, wantSkipped: []string{".att"}, script: func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, ".att") {
				return false
			}
			w.Header().Set("Content-Type", string(types.OCIImageIndex))
			w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`))
			return true
		}},
		{name: "an attestation of 12 MiB", sig: sig, att: bigAtt, wantSig: true, wantAtt: true},
		{name: "an oversized attestation beside a good signature", sig: sig, att: nil, wantSig: true, wantBad: []string{".att"}, script: func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, ".att") {
				return false
			}
			w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
			w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":2},"layers":[{"mediaType":"application/vnd.dsse.envelope.v1+json","digest":"sha256:` + strings.Repeat("b", 64) + `","size":16777217}]}`))
			return true
		}},
		// What ls and verify read of one digest's evidence is bounded in
		// all, each blob reference counted (archive.MaxEvidenceBytes):
		// a pull keeps no more than they will read back.
		{name: "an attestation over the bytes of one digest in all", sig: sig, att: nil, wantSig: true, wantBad: []string{".att"}, wantWhy: "in all", script: func(w http.ResponseWriter, r *http.Request) bool {
			return strings.HasSuffix(r.URL.Path, ".att") && serveLayers(w, "application/vnd.dsse.envelope.v1+json", 5, 15<<20)
		}},
		{name: "a signature that leaves no room for the attestation", sig: bigSig, att: nil, wantSig: true, wantBad: []string{".att"}, wantWhy: "in all", script: func(w http.ResponseWriter, r *http.Request) bool {
			return strings.HasSuffix(r.URL.Path, ".att") && serveLayers(w, "application/vnd.dsse.envelope.v1+json", 4, 14<<20)
		}},
		{name: "an unparsable signature manifest", sig: nil, att: att, wantAtt: true, wantBad: []string{".sig"}, script: func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, ".sig") {
				return false
			}
			w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
			w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + bad + `","size":2},"layers":[]}`))
			return true
		}},
		{name: "a signature payload the registry refuses", sig: sig, att: att, wantAtt: true, wantBad: []string{".sig"}, script: func(w http.ResponseWriter, r *http.Request) bool {
			ls, _ := sig.Layers()
			ld, _ := ls[0].Digest()
			if !strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
				return false
			}
			w.WriteHeader(http.StatusNotFound)
			return true
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var layerGets atomic.Int32
			h := registrytest.Serve(t, nil)
			for tag, im := range map[string]ggcr.Image{"1": img, "sha256-" + d.Hex + ".sig": tc.sig, "sha256-" + d.Hex + ".att": tc.att} {
				if im != nil {
					if err := remote.Write(mustRef(t, h.Host+"/x/y:"+tag), im); err != nil {
						t.Fatal(err)
					}
				}
			}
			h.On(func(w http.ResponseWriter, r *http.Request) bool {
				for _, l := range layers {
					if ld, _ := l.Digest(); strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
						layerGets.Add(1)
					}
				}
				return tc.script != nil && tc.script(w, r)
			})
			ev, err := FetchEvidence(t.Context(), h.Host+"/x/y@"+d.String(), Options{})
			if err != nil {
				t.Fatalf("FetchEvidence = %v", err)
			}
			if (ev.Sigs != nil) != tc.wantSig || (ev.Atts != nil) != tc.wantAtt {
				t.Errorf("FetchEvidence kept a signature image: %v, an attestation image: %v; want %v, %v", ev.Sigs != nil, ev.Atts != nil, tc.wantSig, tc.wantAtt)
			}
			if len(ev.Skipped) != len(tc.wantSkipped) {
				t.Errorf("Skipped = %q, want the tags %q", ev.Skipped, tc.wantSkipped)
			}
			for i, s := range tc.wantSkipped {
				if i < len(ev.Skipped) && !strings.HasSuffix(ev.Skipped[i], "sha256-"+d.Hex+s) {
					t.Errorf("Skipped[%d] = %q, want the %s tag", i, ev.Skipped[i], s)
				}
			}
			if len(ev.Failed) != len(tc.wantBad) {
				t.Errorf("Failed = %v, want failures of %q", ev.Failed, tc.wantBad)
			}
			for i, s := range tc.wantBad {
				if i < len(ev.Failed) && !strings.Contains(ev.Failed[i].Error(), "sha256-"+d.Hex+s) {
					t.Errorf("Failed[%d] = %v, want it to name the %s tag", i, ev.Failed[i], s)
				}
				if i < len(ev.Failed) && !strings.Contains(ev.Failed[i].Error(), tc.wantWhy) {
					t.Errorf("Failed[%d] = %v, want it to say %q", i, ev.Failed[i], tc.wantWhy)
				}
			}
			if n := layerGets.Load(); n != 0 {
				t.Errorf("%d GETs of the image's layers, want none", n)
			}
			if ev.Atts != nil && tc.att == bigAtt && len(ev.Atts.Blobs[1].Data) < 12<<20 {
				t.Errorf("the attestation arrived as %d bytes", len(ev.Atts.Blobs[1].Data))
			}
		})
	}
}
