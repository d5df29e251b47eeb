package loader

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestImageIDs: container inspect's image IDs, docker's with "sha256:",
// podman's without, each once; anything else is refused.
func TestImageIDs(t *testing.T) {
	hex := "611c2480d1c5ab789fff34377ed2744d34652c5061edb470ccfb2d6668f33756"
	got, err := imageIDs([]string{"sha256:" + hex, hex})
	if want := []digest.Digest{digest.Digest("sha256:" + hex)}; err != nil || !slices.Equal(got, want) {
		t.Errorf("imageIDs = %v, %v; want %v", got, err, want)
	}
	if _, err := imageIDs([]string{"busybox:latest"}); err == nil {
		t.Error("imageIDs took a name for an ID")
	}
}

// TestSharedLock: shared holders do not exclude each other, exclude
// TryLockFile, and wait for its exclusive hold to end.
func TestSharedLock(t *testing.T) {
	ctx := context.Background()
	name := filepath.Join(t.TempDir(), "use.lock")
	u1, err := LockFileShared(ctx, name, func() { t.Error("a shared lock waited for another shared one") }, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := LockFileShared(ctx, name, func() { t.Error("a shared lock waited for another shared one") }, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := TryLockFile(name, 0o600); ok || err != nil {
		t.Fatalf("TryLockFile under shared holders: %v, %v; want false", ok, err)
	}
	u1()
	u2()
	unlock, ok, err := TryLockFile(name, 0o600)
	if !ok || err != nil {
		t.Fatalf("TryLockFile with no holder: %v, %v", ok, err)
	}
	// The exclusive holder lets go once the shared taker waits.
	waited := false
	u3, err := LockFileShared(ctx, name, func() { waited = true; unlock() }, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	u3()
	if !waited {
		t.Error("a shared lock did not wait for the exclusive holder")
	}
}
