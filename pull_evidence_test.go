package imgsave

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader/registry"
	"github.com/imgsave/imgsave/loader/registry/registrytest"
	"github.com/imgsave/imgsave/manifest/cosign"
)

// cosignImage is an image as cosign lays out a signature (.sig) or
// attestation (.att) image: one layer of the media type, with the
// annotations.
func cosignImage(t *testing.T, layer []byte, mediaType types.MediaType, annotations map[string]string) ggcr.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer(layer, mediaType), Annotations: annotations})
	if err != nil {
		t.Fatal(err)
	}
	return mutate.MediaType(mutate.ConfigMediaType(img, types.OCIConfigJSON), types.OCIManifestSchema1)
}

// TestPullEvidenceIsWhatItClaims: what a registry keeps at cosign's tags
// is kept only when it is cosign's; evidence that cannot be fetched is a
// notice and the image is pulled without it, unless RequireEvidence, when
// the pull fails naming the tag (#28).
func TestPullEvidenceIsWhatItClaims(t *testing.T) {
	img := registrytest.Platform(t, nil, "amd64")
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	sig := cosignImage(t, cosign.NewPayload("", d.String()), cosign.MediaTypeSimpleSigning, map[string]string{cosign.AnnotationSignature: "c2ln"})
	att := cosignImage(t, []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`), cosign.MediaTypeDSSE, map[string]string{cosign.AnnotationPredicateType: "https://spdx.dev/Document"})
	sigTag, attTag := "sha256-"+d.Hex+".sig", "sha256-"+d.Hex+".att"
	// serveAt answers the manifest at tag with raw.
	serveAt := func(tag, raw string) registrytest.Script {
		return func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, "/manifests/"+tag) {
				return false
			}
			w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
			w.Write([]byte(raw))
			return true
		}
	}
	tests := []struct {
		name     string
		sig, att ggcr.Image
		script   registrytest.Script
		evidence bool   // DIR/evidence kept
		notice   string // in the one notice; "" for none
		require  string // in the error with RequireEvidence; "" for none
	}{
		{name: "signed and attested", sig: sig, att: att, evidence: true},
		{name: "unsigned", require: "keeps no signature or attestation"},
		{name: "the image's own manifest at every tag", sig: img, att: img, require: sigTag + " holds no cosign signature"},
		{name: "an oversized attestation beside a good signature", sig: sig, evidence: true, notice: attTag, require: attTag,
			script: serveAt(attTag, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:`+strings.Repeat("a", 64)+`","size":2},"layers":[{"mediaType":"application/vnd.dsse.envelope.v1+json","digest":"sha256:`+strings.Repeat("b", 64)+`","size":16777217}]}`)},
		{name: "an unparsable signature manifest", notice: sigTag, require: sigTag,
			script: serveAt(sigTag, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:zz","size":2},"layers":[]}`)},
		{name: "a signature payload the registry refuses", sig: sig, notice: sigTag, require: sigTag,
			script: func(w http.ResponseWriter, r *http.Request) bool {
				ls, _ := sig.Layers()
				ld, _ := ls[0].Digest()
				if !strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
					return false
				}
				w.WriteHeader(http.StatusNotFound)
				return true
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := registrytest.Serve(t, nil)
			ref := h.Host + "/x/y:1"
			for tag, im := range map[string]ggcr.Image{"1": img, sigTag: tc.sig, attTag: tc.att} {
				if im != nil {
					if err := remote.Write(mustRef(t, h.Host+"/x/y:"+tag), im); err != nil {
						t.Fatal(err)
					}
				}
			}
			h.On(tc.script)
			var notices []string
			dir := filepath.Join(t.TempDir(), "img")
			_, err := Pull(t.Context(), ref, dir, PullOptions{Events: Events{Notice: func(m string) { notices = append(notices, m) }}})
			if err != nil {
				t.Fatalf("Pull = %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, archive.EvidenceDir)); (err == nil) != tc.evidence {
				t.Errorf("DIR/evidence there: %v, want %v", err == nil, tc.evidence)
			}
			switch {
			case tc.notice == "" && len(notices) > 0:
				t.Errorf("Pull noticed %q, want nothing", notices)
			case tc.notice != "" && (len(notices) != 1 || !strings.Contains(notices[0], tc.notice) || strings.Contains(notices[0], "\n")):
				t.Errorf("Pull noticed %q, want one line naming %s", notices, tc.notice)
			}
			// A directory with no evidence pushes without a notice.
			var pushNotices []string
			if _, err := Push(t.Context(), dir, h.Host+"/x/pushed:1", PushOptions{Events: Events{Notice: func(m string) { pushNotices = append(pushNotices, m) }}}); err != nil {
				t.Fatalf("Push = %v", err)
			}
			if !tc.evidence && len(pushNotices) > 0 {
				t.Errorf("Push noticed %q, want nothing", pushNotices)
			}

			required := filepath.Join(t.TempDir(), "required")
			_, err = Pull(t.Context(), ref, required, PullOptions{RequireEvidence: true})
			if tc.require == "" {
				if err != nil {
					t.Errorf("Pull with RequireEvidence = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.require) {
				t.Errorf("Pull with RequireEvidence = %v, want an error naming %s", err, tc.require)
			}
			if tc.name == "unsigned" && !errors.Is(err, ErrNoEvidence) {
				t.Errorf("Pull of an unsigned image with RequireEvidence = %v, want %v", err, ErrNoEvidence)
			}
			if _, err := os.Stat(required); err == nil {
				t.Errorf("a failed pull left %s", required)
			}
		})
	}
	if _, err := Pull(t.Context(), "127.0.0.1:1/x:1", t.TempDir(), PullOptions{NoEvidence: true, RequireEvidence: true}); err == nil {
		t.Error("Pull with NoEvidence and RequireEvidence = nil, want an error")
	}
}

// TestEvidenceBoundsAgree: a pull keeps evidence within the bounds ls and
// verify read it back with (loader/registry cannot import archive, so the
// two sets of constants are kept equal here).
func TestEvidenceBoundsAgree(t *testing.T) {
	for _, b := range []struct {
		name            string
		registry, archv int64
	}{
		{"bytes a blob", registry.MaxEvidenceBlob, archive.MaxEvidenceBlob},
		{"layers an image", registry.MaxEvidenceLayers, archive.MaxEvidenceLayers},
		{"bytes a digest in all", registry.MaxEvidenceBytes, archive.MaxEvidenceBytes},
		{"referrers a digest", registry.MaxEvidenceReferrers, archive.MaxEvidenceReferrers},
	} {
		if b.registry != b.archv {
			t.Errorf("evidence %s: a pull keeps %d, ls and verify read %d", b.name, b.registry, b.archv)
		}
	}
}
