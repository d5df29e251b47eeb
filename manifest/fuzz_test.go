package manifest

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzParseDocker checks that an accepted manifest.json holds only relative,
// clean, in-root paths and survives a round trip through Marshal.
func FuzzParseDocker(f *testing.F) {
	cfg := hex64("config") + ".json"
	for _, s := range []string{
		`[{"Config":"` + cfg + `","RepoTags":["x:1"],"Layers":["a/layer.tar","b/layer.tar"]}]`,
		`[{"Config":"blobs/sha256/` + hex64("c") + `","RepoTags":null,"Layers":["blobs/sha256/` + hex64("l") + `"]}]`,
		`[{"Config":"./c.json","RepoTags":["localhost:5000/x:latest","y:2"],"Layers":["./l.tar"]},{"Config":"d.json"}]`,
		`[{"Config":"../c.json"}]`,
		`[{"Config":"c.json","Layers":["/etc/passwd","a\\b"]}]`,
		`[{"Config":"c.json"}]]`,
		`null`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseDocker(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(entries) == 0 {
			t.Fatalf("ParseDocker(%q) = no entries, nil", data)
		}
		for i, e := range entries {
			for _, p := range append([]string{e.Config}, e.Layers...) {
				if why := checkInRoot(p); why != "" {
					t.Errorf("ParseDocker(%q) image %d holds path %q: %s", data, i, p, why)
				}
			}
			for _, tag := range e.RepoTags {
				if ref, err := ParseReference(tag); err != nil || !ref.IsTag() {
					t.Errorf("ParseDocker(%q) image %d holds RepoTag %q (%v)", data, i, tag, err)
				}
			}
		}
		b, err := Marshal(entries)
		if err != nil {
			t.Fatalf("Marshal(%+v) = %v", entries, err)
		}
		again, err := ParseDocker(bytes.NewReader(b))
		if err != nil || !reflect.DeepEqual(again, entries) {
			t.Errorf("ParseDocker(Marshal(%+v)) = %+v, %v, want the same entries", entries, again, err)
		}
	})
}

// FuzzParseIndex checks that an accepted index lists only descriptors whose
// blob paths are clean and in the root, and survives a round trip.
func FuzzParseIndex(f *testing.F) {
	d := string(sha("manifest"))
	for _, s := range []string{
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d + `","size":10,"annotations":{"io.containerd.image.name":"docker.io/library/x:1","org.opencontainers.image.ref.name":"1"}}]}`,
		`{"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"` + d + `","size":0,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}`,
		`{"manifests":[{"digest":"sha256:../../etc/passwd","size":1}]}`,
		`{"manifests":[{"digest":"","size":-1}]}`,
		`{"manifests":[]}`, `null`, `{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ParseIndex(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(idx.Manifests) == 0 {
			t.Fatalf("ParseIndex(%q) = no descriptors, nil", data)
		}
		for i, d := range idx.Manifests {
			if err := CheckDigest(d.Digest); err != nil || d.Size < 0 {
				t.Errorf("ParseIndex(%q) manifests[%d] = %+v (%v)", data, i, d, err)
				continue
			}
			if why := checkInRoot(BlobPath(d.Digest)); why != "" {
				t.Errorf("ParseIndex(%q) manifests[%d] blob path %q: %s", data, i, BlobPath(d.Digest), why)
			}
			if got, ok := DigestFromPath(BlobPath(d.Digest)); !ok || got != d.Digest {
				t.Errorf("DigestFromPath(%q) = %q, %v, want %q", BlobPath(d.Digest), got, ok, d.Digest)
			}
		}
		b, err := Marshal(idx)
		if err != nil {
			t.Fatalf("Marshal(%+v) = %v", idx, err)
		}
		again, err := ParseIndex(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("ParseIndex(Marshal(...)) = %v for %s", err, b)
		}
		if b2, _ := Marshal(again); !bytes.Equal(b, b2) {
			t.Errorf("Marshal(ParseIndex(%s)) = %s, want the same", b, b2)
		}
	})
}

// FuzzParsePlatform: whatever a command line holds, ParsePlatform never
// panics, and a platform it accepts is of sane names only (no '/', '..',
// space or control byte can reach a path or a message through it) and
// reads back to itself.
func FuzzParsePlatform(f *testing.F) {
	for _, s := range []string{"linux/amd64", "linux/arm64/v8", "Linux/X86_64", "linux/amd64/../..", "linux//amd64", "windows/amd64/10.0", "a/b/c/d", "linux/arm\x1b[2J", "macos/aarch64"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePlatform(s)
		if err != nil {
			return
		}
		for _, part := range []string{p.OS, p.Architecture, p.Variant} {
			if part != "" && !saneName(part) {
				t.Fatalf("ParsePlatform(%q) = %+v: part %q is not sane", s, p, part)
			}
		}
		back := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			back += "/" + p.Variant
		}
		if q, err := ParsePlatform(back); err != nil || q.OS != p.OS || q.Architecture != p.Architecture || q.Variant != p.Variant {
			t.Fatalf("ParsePlatform(%q) = %+v, which reads back as %+v, %v", s, p, q, err)
		}
	})
}
