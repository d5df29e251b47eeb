package archive

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestExtractRemovesAbandonedStaging: staging folders a killed save left
// beside the target are removed by the next extraction there; one a live
// writer holds, one just made, and other hidden folders stay (#8).
func TestExtractRemovesAbandonedStaging(t *testing.T) {
	parent := t.TempDir()
	old := time.Now().Add(-time.Hour)
	mk := func(name string, age time.Time) string {
		p := filepath.Join(parent, name)
		if err := os.MkdirAll(filepath.Join(p, "incoming"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, age, age); err != nil {
			t.Fatal(err)
		}
		return p
	}
	abandoned := mk(".img.imgsave-123", old)
	abandonedOld := mk(".other.imgsave-456.old", old)
	held := mk(".img.imgsave-789", old)
	fresh := mk(".img.imgsave-999", time.Now())
	notOurs := mk(".img.backup", old)
	unlock, ok := tryLockDir(held)
	if !ok {
		t.Fatal("cannot lock a folder")
	}
	defer unlock()

	if _, err := Extract(t.Context(), bytes.NewReader(fixture(t, "legacy.tar")), filepath.Join(parent, "img"), Options{}); err != nil {
		t.Fatalf("Extract = %v", err)
	}
	for _, p := range []string{abandoned, abandonedOld} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it removed", filepath.Base(p), err)
		}
	}
	for _, p := range []string{held, fresh, notOurs} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: %v, want it kept", filepath.Base(p), err)
		}
	}
}
