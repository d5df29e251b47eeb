package registry

import (
	"net/http"
	"strings"
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
	if _, err := FetchEvidence(t.Context(), host+"/x/y@"+d.String(), Options{}); err == nil {
		t.Error("FetchEvidence of a tampered payload = nil, want an error")
	}

	// a .sig manifest promising a layer over the bound: refused unread
	tamper = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, ".sig") {
			w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
			w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":2},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"sha256:` + strings.Repeat("b", 64) + `","size":999999999}]}`))
			return true
		}
		return false
	}
	if _, err := FetchEvidence(t.Context(), host+"/x/y@"+d.String(), Options{}); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("FetchEvidence of an oversized layer = %v, want it refused", err)
	}
}
