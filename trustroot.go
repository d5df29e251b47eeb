package imgsave

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// TrustedRootPath is where a dataset keeps its Sigstore trusted root,
// relative to its top (the git repository holding the image directory):
// kept in git with the images, so that a clone verifies keyless
// signatures years later with the root that was valid when they were
// pulled (#30).
const TrustedRootPath = ".imgsave/trusted_root.json"

// maxTrustedRoot bounds a trusted_root.json as the verifier does.
const maxTrustedRoot = 4 << 20

// trustedRootMediaType is the media type a trusted_root.json names
// (sigstore protobuf-specs TrustedRoot).
const trustedRootMediaType = "application/vnd.dev.sigstore.trustedroot+json"

// DatasetTrustedRoot returns the trusted root kept for dir's dataset
// ([TrustedRootPath] at the top of the git repository holding dir), or
// "" when there is none.
func DatasetTrustedRoot(dir string) string {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return ""
	}
	top := enclosingRepo(real)
	if top == "" {
		return ""
	}
	p := filepath.Join(top, filepath.FromSlash(TrustedRootPath))
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return p
}

// AddTrustedRoot copies file, a Sigstore trusted_root.json, to
// [TrustedRootPath] of the dataset holding dir (the git repository's
// top), replacing one there, and returns the path written. It checks
// only that the file is one (its media type, at most 4 MiB); the
// verifier checks its keys. It writes a new file renamed into place, and
// nothing else: recording it in git is the caller's decision.
func AddTrustedRoot(file, dir string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTrustedRoot+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxTrustedRoot {
		return "", fmt.Errorf("%s: over %d bytes, not a trusted_root.json", file, maxTrustedRoot)
	}
	var doc struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil || !strings.HasPrefix(doc.MediaType, trustedRootMediaType) {
		return "", fmt.Errorf("%s: not a Sigstore trusted_root.json (mediaType %q, want %s;version=...)", file, doc.MediaType, trustedRootMediaType)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	top := enclosingRepo(real)
	if top == "" {
		return "", fmt.Errorf("%s: %w", dir, errNoDataset)
	}
	folder := filepath.Join(top, filepath.Dir(filepath.FromSlash(TrustedRootPath)))
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(folder, ".trusted_root-*.json")
	if err != nil {
		return "", err
	}
	done := false
	defer func() {
		if !done {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	p := filepath.Join(top, filepath.FromSlash(TrustedRootPath))
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", err
	}
	done = true
	return p, nil
}

// errNoDataset is why a trusted root cannot be kept for a directory.
var errNoDataset = errors.New("in no git repository: a trusted root is kept at the top of the dataset holding the images; pass --trusted-root instead")
