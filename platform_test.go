package imgsave

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/manifest"
)

// platformEngine is an Engine that says its platform; only Platform and
// Endpoint are called.
type platformEngine struct {
	Engine
	platform string
	asked    int
}

func (e *platformEngine) Platform(context.Context) (string, error) {
	e.asked++
	return e.platform, nil
}
func (e *platformEngine) Endpoint() string { return "/usr/bin/docker\x00unix:///var/run/docker.sock" }

// TestCheckRunnable: an image of this machine's platform runs without
// asking the engine; a foreign one needs binfmt_misc's qemu entry, else
// the error names the platform, the missing entry and the remedy.
func TestCheckRunnable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("binfmt_misc is Linux's")
	}
	dir := t.TempDir()
	old := binfmtDir
	binfmtDir = dir
	t.Cleanup(func() { binfmtDir = old })
	image := func(arch string) *archive.DirImage {
		return &archive.DirImage{ID: digest.Digest("sha256:" + strings.Repeat("a", 64)), Config: &manifest.Config{OS: "linux", Architecture: arch}}
	}
	foreign := "arm64"
	if runtime.GOARCH == "arm64" {
		foreign = "amd64"
	}
	eng := &platformEngine{platform: "linux/" + runtime.GOARCH}
	if err := checkRunnable(t.Context(), eng, image(runtime.GOARCH)); err != nil || eng.asked != 0 {
		t.Fatalf("native image: %v, engine asked %d times; want nil, never", err, eng.asked)
	}
	err := checkRunnable(t.Context(), eng, image(foreign))
	if !errors.Is(err, ErrNoEmulation) || !strings.Contains(err.Error(), "linux/"+foreign+" image") || !strings.Contains(err.Error(), "install qemu-user-static") {
		t.Fatalf("foreign image without binfmt: %v, want ErrNoEmulation with the remedy", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "qemu-"+qemuNames[foreign]), []byte("enabled\ninterpreter /usr/bin/qemu\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkRunnable(t.Context(), eng, image(foreign)); err != nil {
		t.Fatalf("foreign image with binfmt: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "qemu-"+qemuNames[foreign]), []byte("disabled\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkRunnable(t.Context(), eng, image(foreign)); !errors.Is(err, ErrNoEmulation) {
		t.Fatalf("foreign image with a disabled entry: %v, want ErrNoEmulation", err)
	}
	// an engine that runs the image's platform natively (a remote arm64
	// daemon) needs no emulation here
	if err := checkRunnable(t.Context(), &platformEngine{platform: "linux/" + foreign}, image(foreign)); err != nil {
		t.Fatalf("engine of the image's platform: %v", err)
	}
}

// TestPullRefusesJunkPlatform: Pull reads its platforms with manifest's
// parser before it asks a registry (#28): linux/amd64/../.. is an error,
// not linux/amd64.
func TestPullRefusesJunkPlatform(t *testing.T) {
	for _, junk := range []string{"linux/amd64/../..", "linux/amd64,linux/../x", "linux"} {
		_, err := Pull(t.Context(), "127.0.0.1:9/x:1", filepath.Join(t.TempDir(), "img"), PullOptions{Platform: junk})
		if !errors.Is(err, manifest.ErrPlatformSyntax) {
			t.Errorf("Pull(--platform %q) = %v, want ErrPlatformSyntax", junk, err)
		}
	}
}
