package annex

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRemote answers from fixed values and records what it was asked.
type fakeRemote struct {
	urls    []string
	present bool
	err     error
	// onInit, when set, is Init.
	onInit func(c *Conn) error
}

func (f *fakeRemote) Init(ctx context.Context, c *Conn) error {
	if f.onInit != nil {
		return f.onInit(c)
	}
	return f.err
}
func (f *fakeRemote) Prepare(ctx context.Context, c *Conn) error { return f.err }
func (f *fakeRemote) Retrieve(ctx context.Context, c *Conn, key, file string) error {
	urls, err := c.URLs(key, "x:")
	f.urls = urls
	if err != nil {
		return err
	}
	c.Progress(42)
	return f.err
}
func (f *fakeRemote) CheckPresent(ctx context.Context, c *Conn, key string) (bool, error) {
	return f.present, f.err
}
func (f *fakeRemote) ClaimURL(url string) bool { return strings.HasPrefix(url, "x:") }
func (f *fakeRemote) WhereIs(ctx context.Context, c *Conn, key string) string {
	return "here\nand there"
}
func (f *fakeRemote) Info() [][2]string { return [][2]string{{"a", "1"}, {"b", "two words"}} }

func serve(t *testing.T, r Remote, in ...string) (string, error) {
	var out bytes.Buffer
	err := Serve(t.Context(), strings.NewReader(strings.Join(in, "\n")+"\n"), &out, r)
	return out.String(), err
}

// TestServeInit: INITREMOTE runs the remote's Init, which may ask
// git-annex (GETUUID) and tell the user (INFO, when git-annex listed the
// INFO extension, else DEBUG); its error is INITREMOTE-FAILURE.
func TestServeInit(t *testing.T) {
	say := func(c *Conn) error {
		u, err := c.UUID()
		if err != nil {
			return err
		}
		return c.Info("recorded\nfor " + u)
	}
	for _, tc := range []struct {
		name   string
		onInit func(c *Conn) error
		in     []string
		want   string
	}{
		{"info", say, []string{"EXTENSIONS INFO ASYNC", "INITREMOTE", "VALUE u-1"}, "VERSION 1\nEXTENSIONS INFO\nGETUUID\nINFO recorded for u-1\nINITREMOTE-SUCCESS\n"},
		{"no info extension", say, []string{"EXTENSIONS ASYNC", "INITREMOTE", "VALUE u-1"}, "VERSION 1\nEXTENSIONS INFO\nGETUUID\nDEBUG recorded for u-1\nINITREMOTE-SUCCESS\n"},
		{"failure", func(c *Conn) error { return errors.New("no\nway") }, []string{"INITREMOTE"}, "VERSION 1\nINITREMOTE-FAILURE no way\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := serve(t, &fakeRemote{onInit: tc.onInit}, tc.in...)
			if err != nil || out != tc.want {
				t.Errorf("Serve = %v, said:\n%s\nwant:\n%s", err, out, tc.want)
			}
		})
	}
}

func TestServe(t *testing.T) {
	f := &fakeRemote{present: true}
	out, err := serve(t, f,
		"EXTENSIONS INFO ASYNC",
		"INITREMOTE",
		"PREPARE",
		"GETCOST",
		"GETAVAILABILITY",
		"TRANSFER RETRIEVE K1 /tmp/a file with spaces", "VALUE x:1", "VALUE x:2", "VALUE",
		"CHECKPRESENT K1",
		"CHECKURL x:1",
		"CHECKURL https://example.org/",
		"WHEREIS K1",
		"GETINFO",
		"TRANSFER SIDEWAYS K1 f",
	)
	if err != nil {
		t.Fatal(err)
	}
	want := `VERSION 1
EXTENSIONS INFO
INITREMOTE-SUCCESS
PREPARE-SUCCESS
COST 150
AVAILABILITY GLOBAL
GETURLS K1 x:
PROGRESS 42
TRANSFER-SUCCESS RETRIEVE K1
CHECKPRESENT-SUCCESS K1
CHECKURL-CONTENTS UNKNOWN
CHECKURL-FAILURE not an imgsave URL
WHEREIS-SUCCESS here and there
INFOFIELD a
INFOVALUE 1
INFOFIELD b
INFOVALUE two words
INFOEND
UNSUPPORTED-REQUEST
`
	if out != want {
		t.Errorf("Serve said:\n%s\nwant:\n%s", out, want)
	}
	if strings.Join(f.urls, " ") != "x:1 x:2" {
		t.Errorf("GETURLS gave %q", f.urls)
	}
}

func TestServeFailures(t *testing.T) {
	out, err := serve(t, &fakeRemote{err: errors.New("engine down\nreally")},
		"PREPARE",
		"TRANSFER RETRIEVE K1 f", "VALUE",
		"CHECKPRESENT K1",
	)
	if err != nil {
		t.Fatal(err)
	}
	want := "VERSION 1\nPREPARE-FAILURE engine down really\nGETURLS K1 x:\nPROGRESS 42\nTRANSFER-FAILURE RETRIEVE K1 engine down really\nCHECKPRESENT-UNKNOWN K1 engine down really\n"
	if out != want {
		t.Errorf("Serve said:\n%s\nwant:\n%s", out, want)
	}
	// git-annex answering a request with something else ends the
	// conversation for that request with an error the remote reports.
	out, err = serve(t, &fakeRemote{}, "TRANSFER RETRIEVE K1 f", "PREPARE")
	if err != nil || !strings.Contains(out, `TRANSFER-FAILURE RETRIEVE K1 git-annex, asked GETURLS K1 x:, answered "PREPARE"`) {
		t.Errorf("Serve = %v, said:\n%s", err, out)
	}
	if _, err := serve(t, &fakeRemote{}, "ERROR gone"); err == nil || err.Error() != "git-annex: gone" {
		t.Errorf("Serve after ERROR = %v", err)
	}
}

// TestGitAnnex runs the git-annex commands against a real repository.
func TestGitAnnex(t *testing.T) {
	if _, err := exec.LookPath("git-annex"); err != nil {
		if os.Getenv("IMGSAVE_E2E") == "1" {
			t.Fatal("IMGSAVE_E2E=1 but no git-annex on PATH")
		}
		t.Skip("no git-annex")
	}
	repo := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q")
	run("annex", "init", "-q", "t")
	ctx := t.Context()
	if _, err := FindRemote(ctx, repo, "imgsave"); !errors.Is(err, ErrNoRemote) {
		t.Errorf("FindRemote in a repository without one = %v, want ErrNoRemote", err)
	}
	for name, content := range map[string]string{"locked": "locked content", "plain": "plain content"} {
		if err := os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("annex", "add", "-q", "locked")
	keys, err := Keys(ctx, repo, []string{"locked", "plain"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(keys[0], "SHA256E-s14--") || !strings.HasPrefix(keys[1], "SHA256E-s13--") {
		t.Errorf("Keys = %q", keys)
	}
	// The backend .gitattributes gives a file (as DataLad sets it) is
	// the one its key uses.
	if err := os.WriteFile(filepath.Join(repo, ".gitattributes"), []byte("plain annex.backend=MD5E\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys2, err := Keys(ctx, repo, []string{"locked", "plain"})
	if err != nil {
		t.Fatal(err)
	}
	if keys2[0] != keys[0] || !strings.HasPrefix(keys2[1], "MD5E-s13--") {
		t.Errorf("Keys with plain's backend MD5E = %q", keys2)
	}
	// An unlocked file's pointer names its key too.
	pointer := filepath.Join(repo, "pointer")
	if err := os.WriteFile(pointer, []byte("/annex/objects/"+keys[0]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if k := annexedKey(pointer); k != keys[0] {
		t.Errorf("annexedKey(pointer) = %q, want %q", k, keys[0])
	}
}

// FuzzServe: no input makes Serve panic or write a line that is not a
// protocol reply.
func FuzzServe(f *testing.F) {
	f.Add("PREPARE\nTRANSFER RETRIEVE K f\nVALUE x:1\nVALUE\nCHECKPRESENT K\nGETINFO\n")
	f.Add("TRANSFER STORE\nREMOVE\nCLAIMURL\nWHEREIS K\nEXTENSIONS\n")
	f.Add("TRANSFER RETRIEVE K f\nVALUE x:1\n")
	replies := []string{"VERSION", "EXTENSIONS", "INITREMOTE-SUCCESS", "PREPARE-", "COST", "AVAILABILITY", "GETURLS", "PROGRESS", "TRANSFER-", "CHECKPRESENT-", "REMOVE-", "CLAIMURL-", "CHECKURL-", "WHEREIS-", "INFO", "UNSUPPORTED-REQUEST"}
	f.Fuzz(func(t *testing.T, in string) {
		var out bytes.Buffer
		Serve(context.Background(), strings.NewReader(in), &out, &fakeRemote{present: len(in)%2 == 0})
		for line := range strings.Lines(out.String()) {
			ok := false
			for _, r := range replies {
				ok = ok || strings.HasPrefix(line, r)
			}
			if !ok || strings.Count(line, "\n") != 1 {
				t.Fatalf("Serve wrote %q", line)
			}
		}
	})
}

func TestKeySize(t *testing.T) {
	tests := []struct {
		key  string
		size int64
		ok   bool
	}{
		{"SHA256E-s1048576--9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.tar", 1048576, true},
		{"MD5E-s0--d41d8cd98f00b204e9800998ecf8427e", 0, true},
		{"SHA256-s12-m1700000000--9f86d0", 12, true},
		{"SHA256E-m1700000000-s12-S1000-C2--9f86d0", 12, true},
		{"WORM-m1700000000--name", 0, false},
		{"URL--https://example.org/x-s5", 0, false},
		{"SHA256E-sx--9f86d0", 0, false},
		{"SHA256E-s-1--9f86d0", 0, false},
		{"nokey", 0, false},
	}
	for _, tc := range tests {
		if size, ok := KeySize(tc.key); size != tc.size || ok != tc.ok {
			t.Errorf("KeySize(%q) = %d, %v; want %d, %v", tc.key, size, ok, tc.size, tc.ok)
		}
	}
}
