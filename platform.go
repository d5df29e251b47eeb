package imgsave

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/imgsave/imgsave/archive"
)

// ErrNoEmulation is wrapped by the error of [Run] for an image of another
// CPU than the engine's, on a host that cannot emulate it.
var ErrNoEmulation = errors.New("this host cannot run the image's platform")

// binfmtDir is where Linux lists the interpreters it runs foreign
// binaries with; a variable for tests.
var binfmtDir = "/proc/sys/fs/binfmt_misc"

// qemuNames maps OCI architectures to the names qemu-user-static
// registers with binfmt_misc (qemu-NAME).
var qemuNames = map[string]string{
	"amd64": "x86_64", "arm64": "aarch64", "arm": "arm", "386": "i386",
	"ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
	"mips64le": "mips64el", "loong64": "loongarch64",
}

// checkRunnable refuses, before anything is loaded or run, an image whose
// platform the engine does not run natively when this host cannot emulate
// it: the engine would only say "exec format error". The engine is asked
// its platform only when the image is not this machine's. Emulation is
// checked for a local engine on Linux, in binfmt_misc (qemu-user-static's
// registrations); elsewhere (Docker Desktop, a remote daemon) the engine
// is trusted to emulate or to say why not.
func checkRunnable(ctx context.Context, eng Runner, im *archive.DirImage) error {
	p := im.Config.Platform()
	if archive.SamePlatform(p, runtime.GOOS+"/"+runtime.GOARCH) {
		return nil
	}
	pe, ok := eng.(platformer)
	if !ok {
		return nil
	}
	native, err := pe.Platform(ctx)
	if err != nil {
		return err
	}
	if archive.SamePlatform(p, native) || runtime.GOOS != "linux" || !localEngine(eng.Endpoint()) {
		return nil
	}
	arch, _, _ := strings.Cut(strings.TrimPrefix(p, im.Config.OS+"/"), "/")
	if binfmtRegistered(arch) {
		return nil
	}
	return fmt.Errorf("%s image %s on a %s engine: %w: binfmt_misc has no enabled qemu-%s (install qemu-user-static and binfmt-support, which register it; where %s is not mounted, mount -t binfmt_misc binfmt_misc %s first)",
		p, short(im.ID), native, ErrNoEmulation, qemuName(arch), binfmtDir, binfmtDir)
}

// binfmtRegistered reports whether binfmt_misc has an enabled
// interpreter for arch (an OCI architecture) under qemu's name.
func binfmtRegistered(arch string) bool {
	b, err := os.ReadFile(filepath.Join(binfmtDir, "qemu-"+qemuName(arch)))
	return err == nil && strings.HasPrefix(string(b), "enabled")
}

// qemuName is the name qemu-user-static registers arch under.
func qemuName(arch string) string {
	if name, ok := qemuNames[arch]; ok {
		return name
	}
	return arch
}
