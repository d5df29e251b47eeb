package imgsave

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
	"github.com/imgsave/imgsave/manifest"
	"github.com/imgsave/imgsave/manifest/cosign"
)

// The signature policy of #28: a verify key is never switched off by
// accident, and what runs under it is what was checked.

// testKey is a cosign key pair of manifest/cosign/testdata (password
// imgsave-test), which signs nothing but test fixtures.
func testKey(t *testing.T) (priv crypto.Signer, privPEM, pubPEM []byte) {
	t.Helper()
	privPEM, err := os.ReadFile("manifest/cosign/testdata/ecdsa-p256.key")
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err = os.ReadFile("manifest/cosign/testdata/ecdsa-p256.pub")
	if err != nil {
		t.Fatal(err)
	}
	priv, err = cosign.LoadPrivateKey(privPEM, []byte("imgsave-test"))
	if err != nil {
		t.Fatal(err)
	}
	return priv, privPEM, pubPEM
}

// signedDir is a fixture's directory signed with testKey, and its image.
func signedDir(t *testing.T) (string, *archive.DirImage, []byte) {
	t.Helper()
	dir, im := imageDir(t, "legacy.tar")
	_, privPEM, pubPEM := testKey(t)
	if _, err := Sign(t.Context(), dir, SignOptions{Key: privPEM, Password: []byte("imgsave-test")}); err != nil {
		t.Fatal(err)
	}
	return dir, im, pubPEM
}

// runRecorder is the fake engine whose run records the image it was given.
type runRecorder struct {
	*fakeEngine
	ran []string
}

func (r *runRecorder) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	r.ran = args
	return nil
}

// lookAlike is an engine image that same() takes for im without a key:
// the same layers, creation time and platform under another ID, as a
// config with another Entrypoint, Env or User has.
func lookAlike(im *archive.DirImage) *loader.Image {
	c := im.Config
	return &loader.Image{ID: digest.FromString("a config with another entrypoint"), DiffIDs: c.RootFS.DiffIDs, Created: *c.Created, OS: c.OS, Architecture: c.Architecture}
}

func TestRunVerifyKeyRefusesLookAlike(t *testing.T) {
	const tag = "imgsave-fixture/hello:1"
	for _, containerd := range []bool{false, true} {
		t.Run("containerd="+strconv.FormatBool(containerd), func(t *testing.T) {
			dir, im, pub := signedDir(t)
			f := newFake()
			f.containerd = containerd
			f.put(lookAlike(im), tag)
			r := &runRecorder{fakeEngine: f}
			opts := RunOptions{NoCwdMount: true}
			opts.LockDir = t.TempDir()
			opts.VerifyKey = pub
			if err := Run(t.Context(), r, dir, opts); err != nil {
				t.Fatalf("Run with a key = %v", err)
			}
			want := im.ID
			if containerd {
				want = im.ManifestDigest
			}
			if f.loadCount() != 1 || len(r.ran) == 0 || r.ran[len(r.ran)-1] != string(want) {
				t.Errorf("Run with a key over a look-alike: %d loads, ran %q, want the directory's image %s loaded and run", f.loadCount(), r.ran, want)
			}
			// The tag stays on the look-alike, which the load must not move.
			if got, _ := f.Inspect(t.Context(), tag); got == nil || got.ID != lookAlike(im).ID {
				t.Errorf("tag %s moved to %v", tag, got)
			}
		})
	}
}

// Without a key the look-alike is still taken: on a containerd store it is
// how an image another tool loaded is found without loading it again.
func TestRunWithoutKeyTakesLookAlike(t *testing.T) {
	dir, im := imageDir(t, "legacy.tar")
	f := newFake()
	f.containerd = true
	f.put(lookAlike(im), "imgsave-fixture/hello:1")
	r := &runRecorder{fakeEngine: f}
	opts := RunOptions{NoCwdMount: true}
	opts.LockDir = t.TempDir()
	if err := Run(t.Context(), r, dir, opts); err != nil {
		t.Fatal(err)
	}
	if f.loadCount() != 0 || r.ran[len(r.ran)-1] != string(lookAlike(im).ID) {
		t.Errorf("Run without a key: %d loads, ran %q, want the image present used", f.loadCount(), r.ran)
	}
}

func TestRunVerifyKeyPresentByID(t *testing.T) {
	dir, im, pub := signedDir(t)
	f := newFake()
	f.put(&loader.Image{ID: im.ID, DiffIDs: im.Config.RootFS.DiffIDs})
	r := &runRecorder{fakeEngine: f}
	opts := RunOptions{NoCwdMount: true}
	opts.LockDir = t.TempDir()
	opts.VerifyKey = pub
	if err := Run(t.Context(), r, dir, opts); err != nil {
		t.Fatal(err)
	}
	if f.loadCount() != 0 || r.ran[len(r.ran)-1] != string(im.ID) {
		t.Errorf("Run with a key, image present by ID: %d loads, ran %q", f.loadCount(), r.ran)
	}
}

// An empty key (a file truncated, /dev/null read by a caller) is an error,
// never "no check".
func TestRunEmptyVerifyKeyRefused(t *testing.T) {
	dir, _ := imageDir(t, "legacy.tar")
	f := newFake()
	r := &runRecorder{fakeEngine: f}
	opts := RunOptions{NoCwdMount: true}
	opts.LockDir = t.TempDir()
	opts.VerifyKey = []byte{}
	if err := Run(t.Context(), r, dir, opts); err == nil || f.loadCount() != 0 || r.ran != nil {
		t.Errorf("Run with an empty key = %v after %d loads, ran %q; want an error and nothing loaded", err, f.loadCount(), r.ran)
	}
}

func TestLoadVerifyKey(t *testing.T) {
	dir, _ := imageDir(t, "legacy.tar")
	_, _, pub := testKey(t)
	f := newFake()
	_, err := Load(t.Context(), f, dir, LoadOptions{LockDir: t.TempDir(), VerifyKey: pub})
	if !errors.Is(err, ErrUnsigned) || f.loadCount() != 0 {
		t.Fatalf("Load of an unsigned directory with a key = %v after %d loads, want ErrUnsigned and nothing loaded", err, f.loadCount())
	}
	sdir, sim, pub := signedDir(t)
	f.put(lookAlike(sim), "imgsave-fixture/hello:1")
	res, err := Load(t.Context(), f, sdir, LoadOptions{LockDir: t.TempDir(), VerifyKey: pub})
	if err != nil || !res.Loaded || res.EngineID != sim.ID {
		t.Fatalf("Load of a signed directory over a look-alike = %+v, %v; want its own image %s loaded", res, err, sim.ID)
	}
}

func TestReadKey(t *testing.T) {
	d := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, _, pub := testKey(t)
	tests := []struct {
		name, file, want string
	}{
		{"cosign.pub", write("cosign.pub", pub), ""},
		{"empty file", write("empty", nil), "empty"},
		{"/dev/null", "/dev/null", "empty"},
		{"/dev/zero", "/dev/zero", "over 65536 bytes"},
		{"one byte over the bound", write("big", make([]byte, cosign.MaxKeyFile+1)), "over 65536 bytes"},
		{"a folder", d, "is a directory"},
		{"missing", filepath.Join(d, "nosuch"), "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ReadKey(tc.file)
			if tc.want == "" {
				if err != nil || string(b) != string(pub) {
					t.Errorf("ReadKey(%q) = %d bytes, %v; want the key", tc.file, len(b), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("ReadKey(%q) = %v, want an error naming the file and %q", tc.file, err, tc.want)
			}
		})
	}
}

// addAttestations stores, in the evidence folder of im's signature, an
// attestation image of one DSSE envelope per subject, each an SPDX
// statement about that digest signed with key, as cosign attest lays
// them out.
func addAttestations(t *testing.T, dir string, im *archive.DirImage, key crypto.Signer, subjects ...digest.Digest) {
	t.Helper()
	lay := filepath.Join(dir, archive.EvidenceDir, im.ManifestDigest.Encoded())
	put := func(b []byte) v1.Descriptor {
		d := digest.FromBytes(b)
		if err := os.WriteFile(filepath.Join(lay, filepath.FromSlash(manifest.BlobPath(d))), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return v1.Descriptor{Digest: d, Size: int64(len(b))}
	}
	att := v1.Manifest{MediaType: v1.MediaTypeImageManifest}
	att.SchemaVersion = 2
	att.Config = put([]byte(`{}`))
	att.Config.MediaType = v1.MediaTypeImageConfig
	for _, s := range subjects {
		st, _ := json.Marshal(map[string]any{
			"_type":         "https://in-toto.io/Statement/v0.1",
			"predicateType": "https://spdx.dev/Document",
			"subject":       []any{map[string]any{"name": "img", "digest": map[string]string{"sha256": s.Encoded()}}},
			"predicate":     map[string]string{"name": "sbom of " + s.Encoded()},
		})
		const typ = "application/vnd.in-toto+json"
		pae := []byte("DSSEv1 " + strconv.Itoa(len(typ)) + " " + typ + " " + strconv.Itoa(len(st)) + " " + string(st))
		sig, err := cosign.Sign(key, pae)
		if err != nil {
			t.Fatal(err)
		}
		env, _ := json.Marshal(map[string]any{"payloadType": typ, "payload": base64.StdEncoding.EncodeToString(st), "signatures": []any{map[string]string{"keyid": "", "sig": base64.StdEncoding.EncodeToString(sig)}}})
		l := put(env)
		l.MediaType = "application/vnd.dsse.envelope.v1+json"
		att.Layers = append(att.Layers, l)
	}
	mb, err := manifest.Marshal(att)
	if err != nil {
		t.Fatal(err)
	}
	desc := put(mb)
	desc.MediaType, desc.Annotations = v1.MediaTypeImageManifest, map[string]string{"kind": archive.KindAtts}
	ip := filepath.Join(lay, "index.json")
	b, err := os.ReadFile(ip)
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	idx.Manifests = append(idx.Manifests, desc)
	if b, err = manifest.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ip, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAttestationOfAnotherSubject(t *testing.T) {
	other := digest.FromString("another image's manifest")
	tests := []struct {
		name     string
		subjects func(im *archive.DirImage) []digest.Digest
		printed  []string // predicates Attestations returns
		ok       bool     // VerifyKey's verdict
	}{
		{"about the image", func(im *archive.DirImage) []digest.Digest { return []digest.Digest{im.ManifestDigest} }, []string{"sbom of %s"}, true},
		{"about another image", func(im *archive.DirImage) []digest.Digest { return []digest.Digest{other} }, nil, false},
		{"one of each", func(im *archive.DirImage) []digest.Digest { return []digest.Digest{other, im.ManifestDigest} }, []string{"sbom of %s"}, false},
		{"about the image's config, not its manifest", func(im *archive.DirImage) []digest.Digest { return []digest.Digest{im.ID} }, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, im, pub := signedDir(t)
			priv, _, _ := testKey(t)
			addAttestations(t, dir, im, priv, tc.subjects(im)...)
			atts, err := Attestations(t.Context(), dir, Selector{}, "spdxjson")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range atts {
				var p struct{ Name string }
				json.Unmarshal(a.Predicate, &p)
				got = append(got, p.Name)
			}
			var want []string
			for _, w := range tc.printed {
				want = append(want, strings.ReplaceAll(w, "%s", im.ManifestDigest.Encoded()))
			}
			if !slices.Equal(got, want) {
				t.Errorf("Attestations = %q, want %q", got, want)
			}
			res, err := VerifyKey(t.Context(), dir, VerifyOptions{MetadataOnly: true}, pub)
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != tc.ok {
				t.Errorf("VerifyKey: OK = %v, want %v; evidence %+v", res.OK, tc.ok, res.Evidence)
			}
			if !tc.ok {
				ev := res.Evidence[0]
				want := path.Join(archive.EvidenceDir, im.ManifestDigest.Encoded())
				if ev.Path != want || !slices.ContainsFunc(ev.Problems, func(p string) bool { return strings.Contains(p, "is about another image") }) {
					t.Errorf("VerifyKey evidence = %+v, want a problem in %s about another image", ev, want)
				}
			}
		})
	}
}
