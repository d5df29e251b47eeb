package registry

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

func mustRef(t *testing.T, s string) name.Reference {
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// members reads the tarball Pull streams, checking that every blob is
// named by the sha256 of its bytes.
func members(t *testing.T, rc io.ReadCloser) map[string][]byte {
	t.Helper()
	defer rc.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading Pull's stream: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hexName, ok := strings.CutPrefix(hdr.Name, "blobs/sha256/"); ok {
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hexName {
				t.Errorf("%s holds bytes with sha256 %x", hdr.Name, sum)
			}
		}
		out[hdr.Name] = b
	}
	return out
}

func indexOf(t *testing.T, m map[string][]byte) ggcr.IndexManifest {
	t.Helper()
	var idx ggcr.IndexManifest
	if err := json.Unmarshal(m["index.json"], &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json = %s (%v), want one manifest", m["index.json"], err)
	}
	return idx
}

func TestPullImage(t *testing.T) {
	host := registrytest.Serve(t, nil).Host
	img := registrytest.Platform(t, nil, "amd64")
	ref := host + "/tools/align:2.1"
	if err := remote.Write(mustRef(t, ref), img); err != nil {
		t.Fatal(err)
	}
	rc, err := Pull(t.Context(), ref, Options{})
	if err != nil {
		t.Fatalf("Pull = %v", err)
	}
	m := members(t, rc)
	want, _ := img.Digest()
	idx := indexOf(t, m)
	d := idx.Manifests[0]
	if d.Digest != want || d.Annotations["io.containerd.image.name"] != ref || d.Annotations["org.opencontainers.image.ref.name"] != "2.1" {
		t.Errorf("index.json names %s %v, want %s named %s", d.Digest, d.Annotations, want, ref)
	}
	layers, _ := img.Layers()
	cfg, _ := img.ConfigName()
	for _, h := range append([]ggcr.Hash{cfg, want}, digests(t, layers)...) {
		if _, ok := m["blobs/sha256/"+h.Hex]; !ok {
			t.Errorf("no blob %s in the stream", h)
		}
	}
	if string(m["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", m["oci-layout"])
	}
	var blobs int64
	for _, h := range append([]ggcr.Hash{cfg}, digests(t, layers)...) {
		blobs += int64(len(m["blobs/sha256/"+h.Hex]))
	}
	if rc.Size != blobs {
		t.Errorf("Pulled.Size = %d, want %d, the config's and layers' bytes in the stream", rc.Size, blobs)
	}
}

func digests(t *testing.T, ls []ggcr.Layer) []ggcr.Hash {
	var out []ggcr.Hash
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func TestPullPlatform(t *testing.T) {
	host := registrytest.Serve(t, nil).Host
	amd, arm := registrytest.Platform(t, nil, "amd64"), registrytest.Platform(t, nil, "arm64")
	idx := registrytest.Index(t, amd, arm)
	ref := host + "/multi:1"
	if err := remote.WriteIndex(mustRef(t, ref), idx); err != nil {
		t.Fatal(err)
	}
	single := host + "/single:1"
	if err := remote.Write(mustRef(t, single), amd); err != nil {
		t.Fatal(err)
	}
	armDigest, _ := arm.Digest()
	tests := []struct {
		ref, platform string
		want          ggcr.Hash
		err           string
	}{
		{ref: ref, platform: "linux/arm64", want: armDigest},
		{ref: ref, platform: "linux/s390x", err: "no image for the platform linux/s390x; it holds linux/amd64, linux/arm64"},
		{ref: single, platform: "linux/arm64", err: "no image for the platform linux/arm64; it is linux/amd64"},
		{ref: ref, platform: "arm64", err: `platform "arm64": want OS/ARCH`},
	}
	for _, tc := range tests {
		rc, err := Pull(t.Context(), tc.ref, Options{Platform: tc.platform})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Pull(%s, %s) = %v, want an error saying %q", tc.ref, tc.platform, err, tc.err)
			}
			if strings.Contains(tc.err, "no image") && !errors.Is(err, ErrPlatform) {
				t.Errorf("Pull(%s, %s) = %v, want %v", tc.ref, tc.platform, err, ErrPlatform)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Pull(%s, %s) = %v", tc.ref, tc.platform, err)
		}
		if got := indexOf(t, members(t, rc)).Manifests[0].Digest; got != tc.want {
			t.Errorf("Pull(%s, %s) streamed manifest %s, want %s", tc.ref, tc.platform, got, tc.want)
		}
	}
}

// TestDefaultJobs: a registry on this machine is read one layer at a time,
// straight through; any other fetches ahead.
func TestDefaultJobs(t *testing.T) {
	for reg, want := range map[string]int{
		"127.0.0.1:5000":    1,
		"localhost:5000":    1,
		"localhost":         1,
		"[::1]:5000":        1,
		"127.1.2.3":         1,
		"10.0.0.1:5000":     3,
		"registry.example":  3,
		"index.docker.io":   3,
		"[fe80::1]:443":     3,
		"localhost.example": 3,
	} {
		if got := DefaultJobs(reg); got != want {
			t.Errorf("DefaultJobs(%q) = %d, want %d", reg, got, want)
		}
	}
}
