package archive

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// canLock skips a test where folders cannot be locked (Windows), where no
// staging folder is ever taken for abandoned.
func canLock(t *testing.T) {
	t.Helper()
	unlock, ok := tryLockDir(t.TempDir())
	if !ok {
		t.Skip("folders cannot be locked here")
	}
	unlock()
}

// TestExtractRemovesAbandonedStaging: the staging folders a killed save
// left beside the target, however fresh, are removed by the next
// extraction there, and so is a folder being made that stayed unlocked
// past its grace; a folder being made just now and other hidden folders
// stay (#8, #18).
func TestExtractRemovesAbandonedStaging(t *testing.T) {
	canLock(t)
	parent := t.TempDir()
	old := time.Now().Add(-time.Hour)
	mk := func(name string, age time.Time) string {
		p := filepath.Join(parent, name)
		if err := os.MkdirAll(filepath.Join(p, "incoming"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "incoming", "0"), []byte("half a layer"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, age, age); err != nil {
			t.Fatal(err)
		}
		return p
	}
	removed := []string{
		mk(".img.imgsave-123", time.Now()), // killed at once, re-run at once
		mk(".img.imgsave-124", old),
		mk(".other.imgsave-456.old", time.Now()),
		mk(".img.imgsave-new-789", old),
	}
	kept := []string{
		mk(".img.imgsave-new-999", time.Now()),
		mk(".img.backup", old),
		mk(".img.imgsave-x", old),
	}
	if _, err := Extract(t.Context(), bytes.NewReader(fixture(t, "legacy.tar")), filepath.Join(parent, "img"), Options{}); err != nil {
		t.Fatalf("Extract = %v", err)
	}
	for _, p := range removed {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it removed", filepath.Base(p), err)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: %v, want it kept", filepath.Base(p), err)
		}
	}
}

// holdEnv makes the test binary a helper process that makes a staging
// folder for the target the variable names, as Extract does, prints its
// path, and holds it until its stdin ends or it is killed.
const holdEnv = "ARCHIVE_TEST_HOLD_STAGING"

func TestMain(m *testing.M) {
	if dir := os.Getenv(killEvidenceEnv); dir != "" {
		os.Exit(killEvidenceHelper(dir))
	}
	if dir := os.Getenv(holdEnv); dir != "" {
		staging, unlock, err := makeStaging(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println(staging)
		bufio.NewReader(os.Stdin).ReadString('\n')
		unlock()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holdStaging starts a helper process that holds a staging folder for
// target and returns the folder, once made and locked, and the process.
func holdStaging(t *testing.T, target string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), holdEnv+"="+target)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	return strings.TrimSpace(line), cmd
}

// TestExtractStagingOfOtherProcesses: a staging folder another process
// holds is never removed, and once that process is killed with SIGKILL the
// very next extraction beside it removes what it left (#18).
func TestExtractStagingOfOtherProcesses(t *testing.T) {
	canLock(t)
	parent := t.TempDir()
	staging, helper := holdStaging(t, filepath.Join(parent, "img"))
	if !stagingName().MatchString(filepath.Base(staging)) || filepath.Dir(staging) != parent {
		t.Fatalf("helper staged in %s, want a staging folder in %s", staging, parent)
	}
	if err := os.WriteFile(filepath.Join(staging, "layer"), []byte("half a layer"), 0o644); err != nil {
		t.Fatal(err)
	}

	next := 0
	extractNext := func() {
		t.Helper()
		next++
		target := filepath.Join(parent, fmt.Sprint("next", next))
		if _, err := Extract(t.Context(), bytes.NewReader(fixture(t, "legacy.tar")), target, Options{}); err != nil {
			t.Fatalf("Extract = %v", err)
		}
	}
	extractNext()
	if _, err := os.Stat(filepath.Join(staging, "layer")); err != nil {
		t.Fatalf("the live helper's staging folder: %v, want it kept", err)
	}

	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	helper.Wait()
	extractNext()
	if _, err := os.Lstat(staging); !os.IsNotExist(err) {
		t.Errorf("the killed helper's staging folder: %v, want it removed", err)
	}
}
