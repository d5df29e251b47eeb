package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

// TestExtractExtra: extra files land in the evidence folder with the tree,
// anything outside it is refused, a replacing save may remove them, and
// Migrate carries them over as they are.
func TestExtractExtra(t *testing.T) {
	im := newImage(t, "evidence")
	b := mkTar(t, im.legacy(t)...)
	extra := []File{
		{Path: "evidence/.gitattributes", Data: []byte("* annex.largefiles=nothing\n")},
		{Path: "evidence/" + im.id.Encoded() + "/index.json", Data: []byte(`{}`)},
	}
	dir, _ := extract(t, bytes.NewReader(b), Options{Extra: extra})
	for _, f := range extra {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s = %q, %v; want %q", f.Path, got, err, f.Data)
		}
		if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Path))); err != nil || fi.Mode().Perm() != 0o644 || !fi.ModTime().Equal(modTime) {
			t.Errorf("%s: %v, %v; want 0644 at the epoch", f.Path, fi.Mode(), err)
		}
	}
	if err := CheckTarget(dir, true); err != nil {
		t.Errorf("CheckTarget(replace) of a directory with evidence = %v", err)
	}
	for _, bad := range []string{"blobs/sha256/x", "evidence/../manifest.json", "/evidence/x", "evidence"} {
		if _, err := Extract(t.Context(), bytes.NewReader(b), filepath.Join(t.TempDir(), "x"), Options{Extra: []File{{Path: bad, Data: []byte("x")}}}); !errors.Is(err, ErrRefused) {
			t.Errorf("Extract with extra %q = %v, want ErrRefused", bad, err)
		}
	}
	if _, err := Migrate(t.Context(), dir, Options{}); err != nil {
		t.Fatalf("Migrate = %v", err)
	}
	kept, err := ReadExtra(dir)
	if err != nil || len(kept) != len(extra) {
		t.Fatalf("after Migrate the evidence is %v, %v; want %d files", kept, err, len(extra))
	}
}

// evidenceFiles is an evidence folder as pull keeps one: a manifest
// naming config, and a signature image whose payload names the manifest.
func evidenceFiles(config digest.Digest) []File {
	subject := []byte(`{"schemaVersion":2,"config":{"digest":"` + string(config) + `","size":1}}`)
	payload := []byte(`{"critical":{"identity":{"docker-reference":""},"image":{"docker-manifest-digest":"` + string(digest.FromBytes(subject)) + `"},"type":"cosign container image signature"},"optional":null}`)
	sigs := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + string(digest.FromBytes([]byte("{}"))) + `","size":2},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"` + string(digest.FromBytes(payload)) + `","size":` + strconv.Itoa(len(payload)) + `,"annotations":{"dev.cosignproject.cosign/signature":"c2ln"}}]}`)
	index := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + string(digest.FromBytes(subject)) + `","size":` + strconv.Itoa(len(subject)) + `,"annotations":{"kind":"dev.cosignproject.cosign/image"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + string(digest.FromBytes(sigs)) + `","size":` + strconv.Itoa(len(sigs)) + `,"annotations":{"kind":"dev.cosignproject.cosign/sigs"}}]}`
	base := "evidence/" + digest.FromBytes(subject).Encoded() + "/"
	var files []File
	for _, b := range [][]byte{subject, payload, sigs, []byte("{}")} {
		files = append(files, File{Path: base + manifest.BlobPath(digest.FromBytes(b)), Data: b})
	}
	return append(files, File{Path: base + "index.json", Data: []byte(index)}, File{Path: base + "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)})
}

// TestReadEvidence reads an evidence folder back: the subject, the
// signature's payload and annotation; a blob changed is refused by name.
func TestReadEvidence(t *testing.T) {
	im := newImage(t, "read-evidence")
	dir, _ := extract(t, bytes.NewReader(mkTar(t, im.legacy(t)...)), Options{Extra: evidenceFiles(im.id)})
	evs, err := ReadEvidence(dir)
	if err != nil || len(evs) != 1 || len(evs[0].Signatures) != 1 || evs[0].Signatures[0].Signature != "c2ln" || !bytes.Contains(evs[0].SubjectData, []byte(im.id)) {
		t.Fatalf("ReadEvidence = %+v, %v; want the subject and one signature", evs, err)
	}
	p := filepath.Join(dir, filepath.FromSlash(evs[0].Path), "blobs", "sha256", digest.FromBytes(evs[0].Signatures[0].Payload).Encoded())
	if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	var mismatch *DigestMismatchError
	if _, err := ReadEvidence(dir); !errors.As(err, &mismatch) {
		t.Errorf("ReadEvidence of a changed payload = %v, want a DigestMismatchError", err)
	}
}

// signedLayout is an evidence folder for subject whose signature image
// lists sigs and whose attestation image lists atts, one layer each, in
// order: a blob listed twice is two layers naming one file.
func signedLayout(subject []byte, sigs, atts [][]byte) EvidenceLayout {
	var l EvidenceLayout
	put := func(b []byte) v1.Descriptor {
		l.Blobs = append(l.Blobs, b)
		return v1.Descriptor{Digest: digest.FromBytes(b), Size: int64(len(b))}
	}
	image := func(mediaType string, layers [][]byte) []byte {
		m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: put([]byte("{}"))}
		m.SchemaVersion = 2
		m.Config.MediaType = v1.MediaTypeImageConfig
		for _, b := range layers {
			d := put(b)
			d.MediaType, d.Annotations = mediaType, map[string]string{"dev.cosignproject.cosign/signature": "c2ln"}
			m.Layers = append(m.Layers, d)
		}
		b, _ := manifest.Marshal(m)
		return b
	}
	entry := func(b []byte, kind string) {
		d := put(b)
		d.MediaType, d.Annotations = v1.MediaTypeImageManifest, map[string]string{"kind": kind}
		l.Manifests = append(l.Manifests, d)
	}
	entry(subject, KindImage)
	if sigs != nil {
		entry(image("application/vnd.dev.cosign.simplesigning.v1+json", sigs), KindSigs)
	}
	if atts != nil {
		entry(image("application/vnd.dsse.envelope.v1+json", atts), KindAtts)
	}
	return l
}

// signedFolder is signedLayout's files.
func signedFolder(t *testing.T, subject []byte, sigs, atts [][]byte) []File {
	t.Helper()
	files, err := signedLayout(subject, sigs, atts).Files()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// writeFiles writes files under dir, as a clone would hold them.
func writeFiles(t *testing.T, dir string, files []File) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// bytesRead is what this process has read so far, by read(2) and the
// like (rchar of /proc/self/io): it counts every read, from whatever file.
func bytesRead(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io to count the bytes read: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("/proc/self/io has no rchar:\n%s", b)
	return 0
}

// TestReadEvidenceManyLayersOneBlob: a signature image of thousands of
// layers that all name one 32 KiB payload made ls and verify read (and
// keep) each layer again, 128 MiB here and past a GiB with more (#28).
// Every reference counts: the image is refused, naming the folder and the
// bound, before the layers are read.
func TestReadEvidenceManyLayersOneBlob(t *testing.T) {
	dir := t.TempDir()
	payload := bytes.Repeat([]byte("p"), 32<<10)
	sigs := slices.Repeat([][]byte{payload}, 4000)
	writeFiles(t, dir, signedFolder(t, []byte(`{"schemaVersion":2}`), sigs, nil))
	before := bytesRead(t)
	evs, err := ReadEvidence(dir)
	read := bytesRead(t) - before
	if !errors.Is(err, manifest.ErrTooLarge) || !strings.Contains(err.Error(), "4000 signatures") {
		t.Errorf("ReadEvidence of 4000 layers naming one blob = %d folders, %v; want an error wrapping ErrTooLarge that counts 4000 signatures", len(evs), err)
	}
	// The index and the signature image's manifest (some 600 KB) are read,
	// no layer.
	if read > 2<<20 {
		t.Errorf("ReadEvidence read %d bytes, want at most 2 MiB", read)
	}
}

// TestReadEvidenceBounds: each file of evidence may hold MaxEvidenceBlob
// (16 MiB, as pull takes from a registry; not the 8 MiB of a manifest),
// and a folder MaxEvidenceBytes in all, every reference counted: past
// either, the error names the file or folder.
func TestReadEvidenceBounds(t *testing.T) {
	subject := []byte(`{"schemaVersion":2}`)
	for _, tc := range []struct {
		name string
		atts [][]byte
		want string // "" for no error
	}{
		{"a 12 MiB attestation", [][]byte{bytes.Repeat([]byte("a"), 12<<20)}, ""},
		{"a 17 MiB attestation", [][]byte{bytes.Repeat([]byte("a"), 17<<20)}, "over 16777216"},
		{"six references to a 12 MiB attestation", slices.Repeat([][]byte{bytes.Repeat([]byte("a"), 12<<20)}, 6), "over 67108864 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, signedFolder(t, subject, [][]byte{[]byte("sig")}, tc.atts))
			evs, err := ReadEvidence(dir)
			if tc.want == "" {
				if err != nil || len(evs) != 1 || len(evs[0].Attestations) != len(tc.atts) {
					t.Errorf("ReadEvidence = %d folders, %v; want one with %d attestations", len(evs), err, len(tc.atts))
				}
				return
			}
			if !errors.Is(err, manifest.ErrTooLarge) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, "evidence")) {
				t.Errorf("ReadEvidence = %v; want an error wrapping ErrTooLarge naming the file with %q", err, tc.want)
			}
		})
	}
}

// TestReadEvidenceInterruptedSwap: a sign killed between its two renames
// left the folder as <hex>.old and no <hex>, which nothing read back: the
// signatures were gone (#28). It is read as the folder until a sign puts
// it back; beside a complete <hex> it is what the swap replaced, and not
// read.
func TestReadEvidenceInterruptedSwap(t *testing.T) {
	dir := t.TempDir()
	subject := []byte(`{"schemaVersion":2}`)
	writeFiles(t, dir, signedFolder(t, subject, [][]byte{[]byte("old")}, nil))
	hex := filepath.Join(dir, "evidence", digest.FromBytes(subject).Encoded())
	if err := os.Rename(hex, hex+".old"); err != nil {
		t.Fatal(err)
	}
	evs, err := ReadEvidence(dir)
	if err != nil || len(evs) != 1 || len(evs[0].Signatures) != 1 || string(evs[0].Signatures[0].Payload) != "old" {
		t.Fatalf("ReadEvidence with only <hex>.old = %d folders, %v; want its one signature", len(evs), err)
	}
	writeFiles(t, dir, signedFolder(t, subject, [][]byte{[]byte("old"), []byte("new")}, nil))
	evs, err = ReadEvidence(dir)
	if err != nil || len(evs) != 1 || len(evs[0].Signatures) != 2 {
		t.Errorf("ReadEvidence with <hex> and <hex>.old = %d folders, %v; want <hex> alone, two signatures", len(evs), err)
	}
}

// killEvidenceEnv makes the test binary a helper process that adds a
// signature "new" to the evidence of killSubject in the directory the
// variable names, killing itself (SIGKILL) at the step of the swap
// killStepEnv names, with the two-rename fallback when killNoExchangeEnv
// is set. It exits 3 if it was never at that step.
const (
	killEvidenceEnv   = "ARCHIVE_TEST_KILL_EVIDENCE"
	killStepEnv       = "ARCHIVE_TEST_KILL_STEP"
	killNoExchangeEnv = "ARCHIVE_TEST_NO_EXCHANGE"
)

var killSubject = []byte(`{"schemaVersion":2,"kill":true}`)

// addSignature is an update for UpdateEvidence that keeps the signatures
// there and adds payload.
func addSignature(payload string) func(*Evidence) (EvidenceLayout, error) {
	return func(old *Evidence) (EvidenceLayout, error) {
		var sigs [][]byte
		if old != nil {
			for _, s := range old.Signatures {
				sigs = append(sigs, s.Payload)
			}
		}
		return signedLayout(killSubject, append(sigs, []byte(payload)), nil), nil
	}
}

func killEvidenceHelper(dir string) int {
	step := os.Getenv(killStepEnv)
	evidenceStep = func(s string) {
		if s == step {
			p, _ := os.FindProcess(os.Getpid())
			p.Kill()
			select {}
		}
	}
	if os.Getenv(killNoExchangeEnv) != "" {
		exchangeEvidence = func(*os.File, string, string) error { return errors.ErrUnsupported }
	}
	if err := UpdateEvidence(dir, digest.FromBytes(killSubject), addSignature("new")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 3
}

// payloads are the signatures' payloads of the one folder of dir's
// evidence.
func payloads(t *testing.T, dir string) []string {
	t.Helper()
	evs, err := ReadEvidence(dir)
	if err != nil || len(evs) != 1 {
		t.Fatalf("ReadEvidence = %d folders, %v; want one", len(evs), err)
	}
	var out []string
	for _, s := range evs[0].Signatures {
		out = append(out, string(s.Payload))
	}
	return out
}

// TestUpdateEvidenceKilled: a process killed (SIGKILL) at any step of the
// swap, with the atomic exchange or with the two renames that stand in for
// it, leaves evidence that reads as the old folder or the new one; the
// next update keeps it and leaves nothing else behind. A sign killed
// between its two renames lost every signature (#28).
func TestUpdateEvidenceKilled(t *testing.T) {
	for _, tc := range []struct {
		step       string
		noExchange bool
	}{
		{"staged", false},
		{"exchanged", false},
		{"staged", true},
		{"moved", true},
		{"renamed", true},
	} {
		name := tc.step
		if tc.noExchange {
			name += " without exchange"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, signedFolder(t, killSubject, [][]byte{[]byte("old")}, nil))
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), killEvidenceEnv+"="+dir, killStepEnv+"="+tc.step)
			if tc.noExchange {
				cmd.Env = append(cmd.Env, killNoExchangeEnv+"=1")
			}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != -1 {
				t.Fatalf("helper = %v, want it killed at %q\n%s", err, tc.step, out)
			}
			got := payloads(t, dir)
			if !slices.Equal(got, []string{"old"}) && !slices.Equal(got, []string{"old", "new"}) {
				t.Errorf("after a kill at %q the signatures are %q, want [old] or [old new]", tc.step, got)
			}
			if err := UpdateEvidence(dir, digest.FromBytes(killSubject), addSignature("next")); err != nil {
				t.Fatalf("UpdateEvidence after the kill = %v", err)
			}
			if after := payloads(t, dir); !slices.Equal(after, append(got, "next")) {
				t.Errorf("after the next update the signatures are %q, want %q", after, append(got, "next"))
			}
			names, err := os.ReadDir(filepath.Join(dir, EvidenceDir))
			if err != nil || len(names) != 2 || names[0].Name() != ".gitattributes" || names[1].Name() != digest.FromBytes(killSubject).Encoded() {
				t.Errorf("evidence/ holds %v, %v; want .gitattributes and the folder alone", names, err)
			}
		})
	}
}

// TestUpdateEvidenceRefusesLinks: a link at the evidence folder, its
// .gitattributes or the folder replaced is refused, named, and nothing is
// written through it; a link elsewhere inside is never followed.
func TestUpdateEvidenceRefusesLinks(t *testing.T) {
	hex := digest.FromBytes(killSubject).Encoded()
	for _, tc := range []struct {
		link string
		file bool
	}{
		{"evidence", false},
		{"evidence/.gitattributes", true},
		{"evidence/" + hex, false},
		{"evidence/" + hex + ".old", false},
	} {
		t.Run(tc.link, func(t *testing.T) {
			dir := t.TempDir()
			outside := filepath.Join(t.TempDir(), "outside")
			if tc.file {
				if err := os.WriteFile(outside, []byte("precious\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFiles(t, outside, signedFolder(t, killSubject, [][]byte{[]byte("planted")}, nil))
			}
			link := filepath.Join(dir, filepath.FromSlash(tc.link))
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			target := outside
			if !tc.file && tc.link != "evidence" {
				target = filepath.Join(outside, "evidence", hex)
			}
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			before := listFiles(t, outside)
			err := UpdateEvidence(dir, digest.FromBytes(killSubject), addSignature("new"))
			if strings.HasSuffix(tc.link, ".old") {
				// Taken for what a swap left: moved back in as the
				// folder, a link, and then refused.
				if err == nil || !strings.Contains(err.Error(), "symbolic link") {
					t.Errorf("UpdateEvidence = %v, want a refusal of the link", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), link) || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("UpdateEvidence = %v; want an error naming the symbolic link %s", err, link)
			}
			if after := listFiles(t, outside); !slices.Equal(before, after) {
				t.Errorf("outside the directory: %q, want %q", after, before)
			}
		})
	}
}

// listFiles lists the files under p with their contents, or p's content
// for a file.
func listFiles(t *testing.T, p string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(q)
		out = append(out, q+"="+string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBoundsDocumented: the rows of the "What is bounded" table (docs/security.md) that
// archive sets say the figures of the code (#28).
func TestBoundsDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("| %d signatures and %d attestations; %d MiB a file; %d MiB read in all, each reference to a file counted", MaxEvidenceLayers, MaxEvidenceLayers, MaxEvidenceBlob>>20, MaxEvidenceBytes>>20),
		fmt.Sprintf("| a decompressed layer (gzip, zstd) | max(%d × its compressed size, %d GiB)", DefaultMaxExpand, ExpandFloor>>30),
		fmt.Sprintf("| a manifest, index, config or `manifest.json` | %d MiB, refused before it is read", manifest.MaxJSON>>20),
		fmt.Sprintf("| files open while a save syncs | %d |", maxSyncing),
		fmt.Sprintf("| %d referrers and %d attestation manifests, each of at most %d layers, within the %d MiB above", MaxEvidenceReferrers, MaxEvidenceReferrers, MaxEvidenceLayers, MaxEvidenceBytes>>20),
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("docs/security.md has no row %q", want)
		}
	}
}

// TestUpdateEvidenceBusy: while another writer holds the evidence folder,
// an update fails at once, saying so, and changes nothing: two signs at
// once would each keep the signatures there and add their own, and the
// second swap would drop the first's signature.
func TestUpdateEvidenceBusy(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, signedFolder(t, killSubject, [][]byte{[]byte("old")}, nil))
	f, err := os.Open(filepath.Join(dir, EvidenceDir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if locked, err := lockOpen(f); err != nil || !locked {
		t.Skipf("the evidence folder cannot be locked here: %v", err)
	}
	if err := UpdateEvidence(dir, digest.FromBytes(killSubject), addSignature("new")); !errors.Is(err, ErrEvidenceBusy) {
		t.Errorf("UpdateEvidence while another holds the folder = %v, want ErrEvidenceBusy", err)
	}
	f.Close()
	if got := payloads(t, dir); !slices.Equal(got, []string{"old"}) {
		t.Errorf("the signatures are %q, want [old]", got)
	}
	if err := UpdateEvidence(dir, digest.FromBytes(killSubject), addSignature("new")); err != nil {
		t.Errorf("UpdateEvidence once the folder is free = %v", err)
	}
}

// TestReadEvidenceBoundsReferrers: a folder listing more referrers than
// a pull keeps is refused before they are read, and one within the
// bound is read back with each referrer's layers (#30).
func TestReadEvidenceBoundsReferrers(t *testing.T) {
	for _, n := range []int{1, MaxEvidenceReferrers, MaxEvidenceReferrers + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			l := signedLayout(killSubject, nil, nil)
			layer := []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`)
			for i := range n {
				cfg := []byte("{}")
				m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, ArtifactType: "application/vnd.dev.sigstore.bundle.v0.3+json",
					Config:      v1.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: digest.FromBytes(cfg), Size: 2},
					Layers:      []v1.Descriptor{{MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json", Digest: digest.FromBytes(layer), Size: int64(len(layer))}},
					Annotations: map[string]string{"n": fmt.Sprint(i)}}
				m.SchemaVersion = 2
				mb, _ := manifest.Marshal(m)
				l.Blobs = append(l.Blobs, cfg, layer, mb)
				l.Manifests = append(l.Manifests, v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromBytes(mb), Size: int64(len(mb)),
					ArtifactType: m.ArtifactType, Annotations: map[string]string{"kind": KindReferrer}})
			}
			files, err := l.Files()
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			writeFiles(t, dir, files)
			evs, err := ReadEvidence(dir)
			if n > MaxEvidenceReferrers {
				if !errors.Is(err, manifest.ErrTooLarge) {
					t.Errorf("ReadEvidence of %d referrers = %v, want %v", n, err, manifest.ErrTooLarge)
				}
				return
			}
			if err != nil || len(evs) != 1 || len(evs[0].Referrers) != n || string(evs[0].Referrers[0].Layers[0].Data) != string(layer) ||
				evs[0].Referrers[0].ArtifactType != "application/vnd.dev.sigstore.bundle.v0.3+json" {
				t.Errorf("ReadEvidence of %d referrers = %+v, %v", n, evs, err)
			}
		})
	}
}
