package loader

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// SIFFile is one SIF file of a SIF cache folder, as [SIFFiles] finds it.
type SIFFile struct {
	Path     string        `json:"path"`
	Manifest digest.Digest `json:"manifest_digest"` // the image it was built from
	Size     int64         `json:"size"`
	// Used is when it was last used: on Linux the later of its access
	// and modification times, elsewhere its modification time.
	Used time.Time `json:"last_used"`
}

// SIFFiles lists the SIF files of the cache folder dir that the caller
// owns (named by the manifest digest of their image, as imgsave builds
// them); a missing folder has none. Files of other users, in a shared
// cache, are not the caller's to remove and are left out.
func SIFFiles(dir string) ([]SIFFile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the SIF cache: %w", err)
	}
	var out []SIFFile
	for _, e := range entries {
		hex, ok := strings.CutSuffix(e.Name(), ".sif")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		m := digest.Digest(strings.Replace(hex, "-", ":", 1))
		if m.Validate() != nil || sifName(m) != e.Name() {
			continue
		}
		fi, err := e.Info()
		if err != nil || !ownedByCaller(fi) {
			continue
		}
		out = append(out, SIFFile{Path: filepath.Join(dir, e.Name()), Manifest: m, Size: fi.Size(), Used: lastUsed(fi)})
	}
	return out, nil
}

// ErrSIFBusy is returned by [RemoveSIF] when another imgsave holds the
// build lock of the SIF: it is being built, or checked before a run.
var ErrSIFBusy = errors.New("another imgsave is building or using it")

// RemoveSIF removes the SIF file of the image whose manifest digest is m
// from the cache folder dir, under the same lock a build takes (see
// [SIFSlot.Build]), without waiting for it: a SIF another imgsave is
// building is left, with ErrSIFBusy.
func RemoveSIF(dir string, m digest.Digest) error {
	l, err := openLock(filepath.Join(dir, "."+m.Encoded()+".lock"), lockMode(dir))
	if err != nil {
		return err
	}
	defer l.close()
	ok, err := l.tryLock()
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: %w", sifName(m), ErrSIFBusy)
	}
	if err := os.Remove(filepath.Join(dir, sifName(m))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
