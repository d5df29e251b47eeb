//go:build linux

package loader

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testUser is the plain user that tests hand files to (IMGSAVE_TEST_USER,
// which scripts/engines.sh adds); the test needs root to do so.
func testUser(t *testing.T) (uid, gid int, name string) {
	t.Helper()
	name = os.Getenv("IMGSAVE_TEST_USER")
	if name == "" {
		name = "imgsave-test"
	}
	u, err := user.Lookup(name)
	if os.Geteuid() != 0 || err != nil {
		if os.Getenv("IMGSAVE_E2E") == "1" {
			t.Fatalf("IMGSAVE_E2E=1 but this test needs root and the user %s: %v", name, err)
		}
		t.Skipf("needs root and the user %s", name)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, name
}

// TestLockRefusesPlanted: a symbolic link at a lock's name is neither
// followed (root would create a file where another user points) nor a
// lock; a FIFO there fails at once instead of hanging (#28).
func TestLockRefusesPlanted(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "target")
	tests := []struct {
		name  string
		plant func(p string) error
	}{
		{"symlink", func(p string) error { return os.Symlink(target, p) }},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o666) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".lock")
			if err := tc.plant(p); err != nil {
				t.Fatal(err)
			}
			got := make(chan error, 1)
			go func() {
				unlock, err := LockFile(t.Context(), p, func() {}, 0o600)
				if err == nil {
					unlock()
				}
				got <- err
			}()
			select {
			case err := <-got:
				if err == nil || !strings.Contains(err.Error(), p) {
					t.Errorf("LockFile(%s) = %v, want an error naming it", tc.name, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("LockFile(%s) hangs", tc.name)
			}
			if _, err := os.Lstat(target); err == nil {
				t.Errorf("LockFile(%s) created %s", tc.name, target)
			}
		})
	}
}

// TestLockOpensForWriting: the lock file is open for writing while
// locked, because flock(2) on NFS grants an exclusive lock only then
// (EBADF otherwise); the sandbox runs no NFS server, so the open flags
// are what is tested (#28).
func TestLockOpensForWriting(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := LockFile(t.Context(), p, func() {}, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if l, _ := os.Readlink("/proc/self/fd/" + fd.Name()); l != p {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "flags:"); ok {
				flags, _ := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
				if flags&syscall.O_ACCMODE != syscall.O_RDWR {
					t.Errorf("the lock file is open with flags %o, want O_RDWR", flags)
				}
				return
			}
		}
	}
	t.Fatalf("no open file %s", p)
}

// TestLockOtherUsersFile: a lock file of another user that the caller may
// only read still locks (on local filesystems), and a private one fails
// with an error naming the file, its owner and the fix (#28). The lock is
// taken by this test binary run again as the test user.
func TestLockOtherUsersFile(t *testing.T) {
	if p := os.Getenv("IMGSAVE_TEST_LOCK"); p != "" {
		unlock, err := LockFile(context.Background(), p, func() {}, 0o600)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		unlock()
		fmt.Println("locked")
		os.Exit(0)
	}
	uid, gid, _ := testUser(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "test.bin")
	self, _ := os.ReadFile("/proc/self/exe")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	for d := filepath.Dir(dir); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // t.TempDir's parent is 0700
	}
	for _, tc := range []struct {
		mode os.FileMode
		want string
	}{{0o644, "locked"}, {0o600, "it belongs to root (mode -rw-------); ask them"}} {
		p := filepath.Join(dir, fmt.Sprintf("%o.lock", tc.mode))
		if err := os.WriteFile(p, nil, tc.mode); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-test.run=^TestLockOtherUsersFile$")
		cmd.Env = append(os.Environ(), "IMGSAVE_TEST_LOCK="+p)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), tc.want) || (tc.mode == 0o600 && !strings.Contains(string(out), p)) {
			t.Errorf("locking root's %o lock file as the test user: %q, want %q", tc.mode, out, tc.want)
		}
	}
}
