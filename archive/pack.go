package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgsave/imgsave/manifest"
)

// WriteTar streams one image of the directory as the tarball `docker load`
// (any version) and `podman load` read: config, layers, OCI manifest,
// index.json, oci-layout, and manifest.json last, naming only tags. A layer
// the image lists more than once is sent once and named at each of its
// places, as `docker save` does. Each file is hashed as it streams and
// checked against its digest; on a mismatch WriteTar stops before the
// manifests, so that the engine, which finds no manifest in a cut stream,
// loads nothing.
//
// It returns the image as it sent it: a copy of im with every layer's size
// and the OCI manifest filled in, whose ManifestDigest is the image ID a
// containerd-store engine reports. im itself is not changed.
func (d *Dir) WriteTar(w io.Writer, im *DirImage, tags []string) (*DirImage, error) {
	return d.WriteTarWith(context.Background(), w, im, tags, TarOptions{})
}

// TarOptions tune [Dir.WriteTarWith].
type TarOptions struct {
	// Decompress sends every compressed layer (gzip or zstd) uncompressed,
	// named by its diff ID, with a manifest to match: for an engine that
	// cannot read the compression (Docker before 23 reads no zstd, #19).
	// A tar header states its size first, so each such layer is read
	// twice, once for its size and diff ID, once to send; both reads are
	// checked against the diff ID. Like the engine that would decompress
	// the layer itself, they are not bounded: a bound belongs where a
	// directory is written (--max-expand), and this writes none.
	Decompress bool
	// DockerArchive leaves out the OCI layout (index.json, oci-layout and
	// the OCI manifest) and names the tags in full in manifest.json: the
	// tar then is a plain Docker archive. For podman, whose load takes a
	// tar with index.json for an OCI archive, unpacks it whole into a
	// temporary folder and copies the layers from there one at a time: a
	// 1.5 GB image took 19 s that way and 11 s as a Docker archive (#23).
	// The full names keep the names podman gives the OCI archive's
	// images (docker.io/library/x:1, never localhost/x:1).
	DockerArchive bool
	// Verified, when set, is the record of files already hashed: a
	// layer it holds as unchanged is sent without hashing it again, and
	// one hashed now is added to it (the caller saves it). See
	// [VerifiedRecord] for what that trusts.
	Verified *VerifiedRecord
}

// WriteTarWith is [Dir.WriteTar] with options. Decompressing reads stop
// once ctx ends: the first pass writes nowhere, so no closed writer would
// stop it.
func (d *Dir) WriteTarWith(ctx context.Context, w io.Writer, im *DirImage, tags []string, opts TarOptions) (*DirImage, error) {
	sent := *im
	sent.Layers = slices.Clone(im.Layers)
	tw := tar.NewWriter(w)
	if err := writeFile(tw, manifest.BlobPath(im.ID), im.config); err != nil {
		return nil, err
	}
	buf := make([]byte, 1<<20)
	written := map[string]int64{manifest.BlobPath(im.ID): int64(len(im.config))}
	decompressed := false
	for i := range sent.Layers {
		l := &sent.Layers[i]
		unpack := opts.Decompress && l.Digest != l.DiffID
		if unpack {
			l.Digest, l.MediaType, decompressed = l.DiffID, v1.MediaTypeImageLayer, true
		}
		name := manifest.BlobPath(l.Digest)
		if size, ok := written[name]; ok {
			// The same blob again: a tar names each file once, and
			// every manifest below names it at each place.
			l.Size = size
			continue
		}
		var n int64
		var err error
		if unpack {
			n, err = d.copyDecompressed(ctx, tw, l.Path, name, l.DiffID, buf)
		} else {
			n, err = d.copyFile(tw, l.Path, name, l.Digest, l.Size, buf, opts.Verified)
		}
		if err != nil {
			return nil, err
		}
		l.Size, written[name] = n, n
	}
	if sent.canonical || decompressed {
		if err := sent.canonicalManifest(); err != nil {
			return nil, err
		}
	}
	desc := v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: sent.ManifestDigest, Size: int64(len(sent.Manifest))}
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex}
	idx.SchemaVersion = 2
	descs, tags, err := manifest.Named(desc, tags)
	if err != nil {
		return nil, err
	}
	idx.Manifests = descs
	entry := manifest.Entry{Config: manifest.BlobPath(sent.ID), RepoTags: tags}
	for _, l := range sent.Layers {
		entry.Layers = append(entry.Layers, manifest.BlobPath(l.Digest))
	}
	if opts.DockerArchive && tags != nil {
		entry.RepoTags = nil
		for _, d := range descs {
			entry.RepoTags = append(entry.RepoTags, d.Annotations[manifest.AnnotationImageName])
		}
	}
	index, err := manifest.Marshal(idx)
	if err != nil {
		return nil, err
	}
	docker, err := manifest.Marshal([]manifest.Entry{entry})
	if err != nil {
		return nil, err
	}
	files := []layoutFile{
		{manifest.BlobPath(sent.ManifestDigest), sent.Manifest},
		{"index.json", index},
		{"oci-layout", []byte(ociLayout)},
		{"manifest.json", docker},
	}
	if opts.DockerArchive {
		files = files[3:]
	}
	for _, f := range files {
		if err := writeFile(tw, f.Name, f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &sent, nil
}

func writeFile(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(header(name, int64(len(data)))); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func header(name string, size int64) *tar.Header {
	return &tar.Header{Name: name, Size: size, Mode: 0o644, ModTime: modTime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
}

// copyFile streams the directory's file rel into tw under name, following
// git-annex symlinks. It checks the size when size >= 0 and the digest of
// what it sent when want is set, unless rec holds the file as unchanged
// since it had that digest, and returns the size.
func (d *Dir) copyFile(tw *tar.Writer, rel, name string, want digest.Digest, size int64, buf []byte, rec *VerifiedRecord) (int64, error) {
	f, fi, err := d.openLayer(rel)
	if err != nil {
		return size, err
	}
	defer f.Close()
	if size >= 0 && fi.Size() != size {
		return size, fmt.Errorf("%s: size %d, manifest says %d", f.Name(), fi.Size(), size)
	}
	size = fi.Size()
	if err := tw.WriteHeader(header(name, size)); err != nil {
		return size, err
	}
	key, keyed, known := rec.verified(f, fi, want)
	if known {
		return size, sendVerified(tw, f, key, size, buf)
	}
	hashed := time.Now()
	h := sha256.New()
	var n int64
	if size > chunkSize {
		n, err = sendHashed(tw, io.LimitReader(f, size), h)
	} else {
		n, err = io.CopyBuffer(io.MultiWriter(tw, h), io.LimitReader(f, size), buf)
	}
	if err != nil {
		return size, fmt.Errorf("%s: %w", f.Name(), err)
	}
	if n != size {
		return size, fmt.Errorf("%s: %w: read %d of %d bytes", f.Name(), io.ErrUnexpectedEOF, n, size)
	}
	bytesHashed.Add(n)
	if got := digest.NewDigest(digest.SHA256, h); want != "" && got != want {
		return size, &DigestMismatchError{Path: f.Name(), Got: got, Want: want}
	}
	if keyed && unchanged(f, key) {
		rec.add(key, want, hashed)
	}
	return size, nil
}

// bytesHashed counts the bytes copyFile hashed, for the tests.
var bytesHashed atomic.Int64

// sendVerified sends the file open as f, which the record holds as
// verified with key, without hashing it, and then checks that it did not
// change while it was read: an error then stops the tar before its
// manifests, as a digest mismatch does.
func sendVerified(tw *tar.Writer, f *os.File, key fileKey, size int64, buf []byte) error {
	var n int64
	var err error
	if size > chunkSize {
		n, err = sendHashed(tw, io.LimitReader(f, size), nil)
	} else {
		n, err = io.CopyBuffer(tw, io.LimitReader(f, size), buf)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	if n != size {
		return fmt.Errorf("%s: %w: read %d of %d bytes", f.Name(), io.ErrUnexpectedEOF, n, size)
	}
	if !unchanged(f, key) {
		return fmt.Errorf("%s: changed while it was sent", f.Name())
	}
	return nil
}

// unchanged reports whether the file open as f still has key.
func unchanged(f *os.File, key fileKey) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	k, ok := keyOf(f, fi)
	return ok && k == key
}

// copyDecompressed streams the decompression of the directory's file rel
// into tw under name: a first pass learns its size (and checks diffID),
// the second sends it and checks diffID again, so that a file changed in
// between is caught before the manifests are written.
func (d *Dir) copyDecompressed(ctx context.Context, tw *tar.Writer, rel, name string, diffID digest.Digest, buf []byte) (int64, error) {
	size, err := d.decompressed(ctx, rel, diffID, io.Discard, -1, buf)
	if err != nil {
		return 0, err
	}
	if err := tw.WriteHeader(header(name, size)); err != nil {
		return 0, err
	}
	return d.decompressed(ctx, rel, diffID, tw, size, buf)
}

// decompressed writes the decompression of rel to w, size bytes exactly
// when size >= 0, and checks it against diffID.
func (d *Dir) decompressed(ctx context.Context, rel string, diffID digest.Digest, w io.Writer, size int64, buf []byte) (int64, error) {
	f, _, err := d.openLayer(rel)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zr, _, err := decompress(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", f.Name(), err)
	}
	defer zr.Close()
	var r io.Reader = contextReader{ctx, zr}
	if size >= 0 {
		r = io.LimitReader(r, size)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(w, h), r, buf)
	if err != nil {
		return n, fmt.Errorf("%s: %w", f.Name(), err)
	}
	if size >= 0 && n != size {
		return n, fmt.Errorf("%s: %w: decompressed %d of %d bytes", f.Name(), io.ErrUnexpectedEOF, n, size)
	}
	if got := digest.NewDigest(digest.SHA256, h); got != diffID {
		return n, &DigestMismatchError{Path: f.Name() + " (decompressed)", Got: got, Want: diffID}
	}
	return n, nil
}

// openLayer opens the directory's file rel for sending: a regular file
// whose content is here (not a git-annex pointer), following git-annex
// symlinks.
func (d *Dir) openLayer(rel string) (*os.File, fs.FileInfo, error) {
	f, err := d.Open(rel)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: not a regular file", f.Name())
	}
	if err == nil && fi.Size() < 1024 && !d.Present(rel) {
		err = d.missing(rel)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}
