package manifest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// desc is a descriptor JSON object for table inputs.
func desc(mt, d string, size int) string {
	b, _ := json.Marshal(map[string]any{"mediaType": mt, "digest": d, "size": size})
	return string(b)
}

func TestParseIndex(t *testing.T) {
	m := string(sha("manifest"))
	tests := []struct {
		name string
		in   string
		n    int // descriptors
		err  bool
		is   error
	}{
		{name: "valid", in: `{"schemaVersion":2,"manifests":[` + desc(v1.MediaTypeImageManifest, m, 10) + `]}`, n: 1},
		{name: "two", in: `{"manifests":[` + desc(v1.MediaTypeImageManifest, m, 10) + `,` + desc(v1.MediaTypeImageIndex, string(sha("i")), 0) + `]}`, n: 2},
		{name: "null", in: `null`, is: ErrEmpty},
		{name: "empty object", in: `{}`, is: ErrEmpty},
		{name: "no manifests", in: `{"manifests":[]}`, is: ErrEmpty},
		{name: "empty input", in: ``, is: ErrEmpty},
		{name: "list", in: `[]`, err: true},
		{name: "empty digest", in: `{"manifests":[` + desc(v1.MediaTypeImageManifest, "", 1) + `]}`, err: true},
		{name: "digest without colon", in: `{"manifests":[` + desc(v1.MediaTypeImageManifest, "abc", 1) + `]}`, err: true},
		{name: "short digest", in: `{"manifests":[` + desc(v1.MediaTypeImageManifest, "sha256:abc", 1) + `]}`, err: true},
		{name: "sha512 digest", in: `{"manifests":[` + desc(v1.MediaTypeImageManifest, "sha512:"+hex64("a")+hex64("b"), 1) + `]}`, err: true},
		{name: "uppercase digest", in: `{"manifests":[` + desc(v1.MediaTypeImageManifest, strings.ToUpper(m), 1) + `]}`, err: true},
		{name: "path in digest", in: `{"manifests":[` + desc(v1.MediaTypeImageManifest, "sha256:../../../../etc/passwd", 1) + `]}`, err: true},
		{name: "negative size", in: `{"manifests":[` + desc(v1.MediaTypeImageManifest, m, -1) + `]}`, err: true},
		{name: "second bad", in: `{"manifests":[` + desc(v1.MediaTypeImageManifest, m, 1) + `,` + desc(v1.MediaTypeImageManifest, "sha256:x", 1) + `]}`, err: true},
		{name: "trailing brace", in: `{"manifests":[` + desc(v1.MediaTypeImageManifest, m, 10) + `]}}`, err: true},
		{name: "over MaxJSON", in: `{"manifests":[` + desc(v1.MediaTypeImageManifest, m, 10) + `]}` + strings.Repeat("\n", MaxJSON), is: ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			idx, err := ParseIndex(strings.NewReader(tc.in))
			if !checkErr(err, tc.err, tc.is) {
				t.Fatalf("ParseIndex(%q) = %v, want error %v (%v)", short(tc.in), err, tc.err || tc.is != nil, tc.is)
			}
			if err == nil && len(idx.Manifests) != tc.n {
				t.Errorf("ParseIndex(%q) has %d descriptors, want %d", short(tc.in), len(idx.Manifests), tc.n)
			}
		})
	}
}

func TestParseManifest(t *testing.T) {
	c, l := string(sha("config")), string(sha("layer"))
	mk := func(config string, layers ...string) string {
		return `{"schemaVersion":2,"config":` + config + `,"layers":[` + strings.Join(layers, ",") + `]}`
	}
	cfg := desc(v1.MediaTypeImageConfig, c, 100)
	lay := desc(v1.MediaTypeImageLayerGzip, l, 1000)
	tests := []struct {
		name string
		in   string
		err  bool
		is   error
	}{
		{name: "valid", in: mk(cfg, lay)},
		{name: "no layers", in: mk(cfg)},
		{name: "docker media types", in: mk(desc("application/vnd.docker.container.image.v1+json", c, 1), desc("application/vnd.docker.image.rootfs.diff.tar.gzip", l, 1))},
		{name: "empty input", in: ``, is: ErrEmpty},
		{name: "null", in: `null`, err: true},
		{name: "empty object", in: `{}`, err: true},
		{name: "bad config digest", in: mk(desc(v1.MediaTypeImageConfig, "sha256:abc", 1), lay), err: true},
		{name: "empty config digest", in: mk(desc(v1.MediaTypeImageConfig, "", 1), lay), err: true},
		{name: "bad layer digest", in: mk(cfg, lay, desc(v1.MediaTypeImageLayer, "md5:abc", 1)), err: true},
		{name: "layer digest without colon", in: mk(cfg, desc(v1.MediaTypeImageLayer, "x", 1)), err: true},
		{name: "negative config size", in: mk(desc(v1.MediaTypeImageConfig, c, -5), lay), err: true},
		{name: "negative layer size", in: mk(cfg, desc(v1.MediaTypeImageLayer, l, -1)), err: true},
		{name: "trailing data", in: mk(cfg, lay) + "{}", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.in))
			if !checkErr(err, tc.err, tc.is) {
				t.Fatalf("Parse(%q) = %v, want error %v (%v)", short(tc.in), err, tc.err || tc.is != nil, tc.is)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	l := string(sha("layer"))
	tests := []struct {
		name     string
		in       string
		platform string
		diffIDs  int
		err      bool
	}{
		{name: "valid", in: `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + l + `","` + l + `"]}}`, platform: "linux/amd64", diffIDs: 2},
		{name: "variant", in: `{"architecture":"arm","os":"linux","variant":"v7","rootfs":{"type":"layers","diff_ids":[]}}`, platform: "linux/arm/v7"},
		{name: "bad diff_id", in: `{"rootfs":{"diff_ids":["sha256:abc"]}}`, err: true},
		{name: "diff_id without colon", in: `{"rootfs":{"diff_ids":[""]}}`, err: true},
		{name: "empty", in: ``, err: true},
		{name: "list", in: `[]`, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ConfigFromBytes([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("ParseConfig(%q) = %v, want error %v", tc.in, err, tc.err)
			}
			if err != nil {
				return
			}
			if got := c.Platform(); got != tc.platform {
				t.Errorf("ParseConfig(%q).Platform() = %q, want %q", tc.in, got, tc.platform)
			}
			if got := len(c.RootFS.DiffIDs); got != tc.diffIDs {
				t.Errorf("ParseConfig(%q) has %d diff_ids, want %d", tc.in, got, tc.diffIDs)
			}
		})
	}
	if got, want := ID([]byte("{}")), digest.FromString("{}"); got != want {
		t.Errorf("ID({}) = %s, want %s", got, want)
	}
}

// testImage is an image of one layer, tagged with tags.
func testImage(tags ...string) Image {
	return Image{
		Config:   v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: sha("config"), Size: 123},
		Layers:   []v1.Descriptor{{MediaType: v1.MediaTypeImageLayer, Digest: sha("layer"), Size: 4567}},
		RepoTags: tags,
	}
}

func TestCanonicalManifest(t *testing.T) {
	im := testImage()
	b, d, err := im.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	// The bytes are pinned: they are the image ID a containerd-store engine
	// reports, so any change here changes every saved image's ID.
	want := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + string(sha("config")) + `","size":123},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + string(sha("layer")) + `","size":4567}]}`
	if string(b) != want {
		t.Errorf("Manifest() = %s, want %s", b, want)
	}
	if d != digest.FromBytes(b) {
		t.Errorf("Manifest() digest = %s, want %s", d, digest.FromBytes(b))
	}
	if im.ID() != sha("config") {
		t.Errorf("ID() = %s, want %s", im.ID(), sha("config"))
	}
	if _, err := Parse(bytes.NewReader(b)); err != nil {
		t.Errorf("Parse(%s) = %v", b, err)
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		name   string
		images []Image
		tags   [][]string          // manifest.json RepoTags per image
		names  []map[string]string // index.json annotations per descriptor
	}{
		{name: "untagged nil", images: []Image{testImage()}, tags: [][]string{nil}, names: []map[string]string{nil}},
		{name: "untagged empty", images: []Image{testImage([]string{}...)}, tags: [][]string{nil}, names: []map[string]string{nil}},
		{name: "one tag", images: []Image{testImage("x:1")}, tags: [][]string{{"x:1"}},
			names: []map[string]string{{AnnotationImageName: "docker.io/library/x:1", v1.AnnotationRefName: "1"}}},
		{name: "sorted and deduplicated", images: []Image{testImage("b:2", "a:1", "b:2", "localhost:5000/c:3")},
			tags: [][]string{{"a:1", "b:2", "localhost:5000/c:3"}},
			names: []map[string]string{
				{AnnotationImageName: "docker.io/library/a:1", v1.AnnotationRefName: "1"},
				{AnnotationImageName: "docker.io/library/b:2", v1.AnnotationRefName: "2"},
				{AnnotationImageName: "localhost:5000/c:3", v1.AnnotationRefName: "3"},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			index, docker, manifests, _, err := Canonical(tc.images)
			if err != nil {
				t.Fatal(err)
			}
			// Same input, same bytes.
			index2, docker2, manifests2, _, err := Canonical(tc.images)
			if err != nil || !bytes.Equal(index, index2) || !bytes.Equal(docker, docker2) || !slices.EqualFunc(manifests, manifests2, bytes.Equal) {
				t.Errorf("Canonical twice gave different bytes:\n%s\n%s\n%s\n%s", index, index2, docker, docker2)
			}
			if len(manifests) != len(tc.images) {
				t.Fatalf("Canonical gave %d manifests, want %d", len(manifests), len(tc.images))
			}

			entries, err := ParseDocker(bytes.NewReader(docker))
			if err != nil {
				t.Fatalf("ParseDocker(%s) = %v", docker, err)
			}
			for i, e := range entries {
				if !slices.Equal(e.RepoTags, tc.tags[i]) || (tc.tags[i] == nil) != (e.RepoTags == nil) {
					t.Errorf("manifest.json image %d RepoTags = %#v, want %#v", i, e.RepoTags, tc.tags[i])
				}
				if want := BlobPath(tc.images[i].Config.Digest); e.Config != want {
					t.Errorf("manifest.json image %d Config = %q, want %q", i, e.Config, want)
				}
			}
			if tc.tags[0] == nil && !strings.Contains(string(docker), `"RepoTags":null`) {
				t.Errorf("manifest.json = %s, want RepoTags null", docker)
			}

			idx, err := ParseIndex(bytes.NewReader(index))
			if err != nil {
				t.Fatalf("ParseIndex(%s) = %v", index, err)
			}
			if len(idx.Manifests) != len(tc.names) {
				t.Fatalf("index.json = %s, want %d descriptors", index, len(tc.names))
			}
			for i, d := range idx.Manifests {
				if d.Digest != digest.FromBytes(manifests[0]) || d.Size != int64(len(manifests[0])) || d.MediaType != v1.MediaTypeImageManifest {
					t.Errorf("index.json descriptor %d = %+v, want the manifest's", i, d)
				}
				if len(d.Annotations) != len(tc.names[i]) {
					t.Errorf("index.json descriptor %d annotations = %v, want %v", i, d.Annotations, tc.names[i])
				}
				for k, v := range tc.names[i] {
					if d.Annotations[k] != v {
						t.Errorf("index.json descriptor %d annotation %s = %q, want %q", i, k, d.Annotations[k], v)
					}
				}
			}
		})
	}
}

// TestCanonicalTagOrder pins that the order of an image's tags, which
// engines do not keep stable, does not change a byte of the output.
func TestCanonicalTagOrder(t *testing.T) {
	i1, d1, _, _, err1 := Canonical([]Image{testImage("a:1", "b:1", "c:1")})
	i2, d2, _, _, err2 := Canonical([]Image{testImage("c:1", "a:1", "b:1", "a:1")})
	if err1 != nil || err2 != nil || !bytes.Equal(i1, i2) || !bytes.Equal(d1, d2) {
		t.Errorf("Canonical with reordered tags:\n%s\n%s\n%s\n%s (%v, %v)", i1, i2, d1, d2, err1, err2)
	}
}

func TestCanonicalRejectsBadTag(t *testing.T) {
	for _, tag := range []string{"UPPER", "a b", "x@" + string(sha("d")), string(sha("id"))} {
		t.Run(tag, func(t *testing.T) {
			if _, _, _, _, err := Canonical([]Image{testImage(tag)}); err == nil {
				t.Errorf("Canonical(RepoTags %q) = nil, want an error", tag)
			}
		})
	}
}
