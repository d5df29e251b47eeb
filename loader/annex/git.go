package annex

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNoRemote is wrapped by [FindRemote]'s error when the repository has
// no special remote of the external type asked for.
var ErrNoRemote = errors.New("no special remote of that type")

// git runs `git -C repo ARGS...` with stdin, returning stdout; a failure
// names the command and carries git's last words.
func git(ctx context.Context, repo string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...)
	cmd.Env = absGitEnv(os.Environ())
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return out, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return out, nil
}

// absGitEnv makes GIT_DIR and GIT_WORK_TREE absolute. git-annex runs a
// special remote with both relative to the folder it was run in ("../.git"
// from a subfolder), and `git -C` would read them from repo instead.
func absGitEnv(env []string) []string {
	out := slices.Clone(env)
	for i, kv := range out {
		k, v, _ := strings.Cut(kv, "=")
		if (k == "GIT_DIR" || k == "GIT_WORK_TREE") && v != "" && !filepath.IsAbs(v) {
			if abs, err := filepath.Abs(v); err == nil {
				out[i] = k + "=" + abs
			}
		}
	}
	return out
}

// SpecialRemote is one special remote of a repository.
type SpecialRemote struct {
	Name, UUID string
}

// FindRemote finds the repository's special remote of the given external
// type (externaltype=imgsave), as its git config records it.
func FindRemote(ctx context.Context, repo, externalType string) (*SpecialRemote, error) {
	out, err := git(ctx, repo, nil, "config", "--get-regexp", `^remote\..*\.annex-externaltype$`)
	if err == nil {
		for line := range strings.Lines(string(out)) {
			k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
			if v != externalType {
				continue
			}
			name := strings.TrimSuffix(strings.TrimPrefix(k, "remote."), ".annex-externaltype")
			uuid, err := git(ctx, repo, nil, "config", "remote."+name+".annex-uuid")
			if err != nil {
				return nil, err
			}
			return &SpecialRemote{Name: name, UUID: strings.TrimSpace(string(uuid))}, nil
		}
	}
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) { // 1: no such key
		return nil, err
	}
	return nil, fmt.Errorf("%s: %w %s", repo, ErrNoRemote, externalType)
}

// InitRemote sets up the external special remote name in repo, enabled
// in clones by `git annex init` (autoenable), and marks it untrusted: its
// content is an engine's or a registry's, which may drop it any time, so
// it never counts towards numcopies. A remote of that type the repository
// has already is left as it is; one that the git-annex branch knows but
// this repository has not enabled (a clone made before
// git-annex-remote-NAME was on PATH) is enabled. Either way git-annex
// runs the remote's INITREMOTE.
func InitRemote(ctx context.Context, repo, name, externalType string) error {
	if _, err := FindRemote(ctx, repo, externalType); err == nil {
		return nil
	} else if !errors.Is(err, ErrNoRemote) {
		return err
	}
	_, err := git(ctx, repo, nil, "annex", "initremote", name, "type=external", "externaltype="+externalType, "encryption=none", "autoenable=true")
	if err != nil {
		// The name is taken in the git-annex branch: enable that remote,
		// if it is ours.
		if _, enErr := git(ctx, repo, nil, "annex", "enableremote", name); enErr != nil {
			return err
		}
		if _, findErr := FindRemote(ctx, repo, externalType); findErr != nil {
			return err
		}
	}
	_, err = git(ctx, repo, nil, "annex", "untrust", name)
	return err
}

// TrackedFiles lists the files git tracks in the work tree holding dir:
// its top folder, and each file's path from there.
func TrackedFiles(ctx context.Context, dir string) (top string, files []string, err error) {
	out, err := git(ctx, dir, nil, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", nil, err
	}
	top = strings.TrimSpace(string(out))
	out, err = git(ctx, top, nil, "ls-files", "-z")
	if err != nil {
		return "", nil, err
	}
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, filepath.FromSlash(f))
		}
	}
	return top, files, nil
}

// Keys gives the git-annex key of each file (paths relative to repo or
// absolute): read from an annexed link or pointer file, else computed by
// `git annex calckey` with the backend git-annex would use for the file
// (its annex.backend attribute, else the repository's).
func Keys(ctx context.Context, repo string, files []string) ([]string, error) {
	keys := make([]string, len(files))
	var calc []int
	for i, f := range files {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(repo, f)
		}
		if k := annexedKey(p); k != "" {
			keys[i] = k
			continue
		}
		calc = append(calc, i)
	}
	if len(calc) == 0 {
		return keys, nil
	}
	// calckey takes the backend from annex.backend, not from
	// .gitattributes (DataLad sets MD5E there): ask for each file's.
	var paths bytes.Buffer
	for _, i := range calc {
		paths.WriteString(files[i] + "\n")
	}
	attrs, err := git(ctx, repo, paths.Bytes(), "check-attr", "--stdin", "annex.backend")
	if err != nil {
		return nil, err
	}
	backend := map[string]string{}
	for line := range strings.Lines(string(attrs)) {
		// "FILE: annex.backend: VALUE"
		rest, value, ok := strings.Cut(strings.TrimRight(line, "\n"), ": annex.backend: ")
		if ok && value != "unspecified" && value != "unset" && value != "set" {
			backend[rest] = value
		}
	}
	byBackend := map[string][]int{}
	var order []string
	for _, i := range calc {
		b := backend[files[i]]
		if _, ok := byBackend[b]; !ok {
			order = append(order, b)
		}
		byBackend[b] = append(byBackend[b], i)
	}
	for _, b := range order {
		idx := byBackend[b]
		var in bytes.Buffer
		for _, i := range idx {
			in.WriteString(files[i] + "\n")
		}
		args := []string{"annex", "calckey", "--batch"}
		if b != "" {
			args = append(args, "--backend="+b)
		}
		out, err := git(ctx, repo, in.Bytes(), args...)
		if err != nil {
			return nil, err
		}
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(lines) != len(idx) {
			return nil, fmt.Errorf("git annex calckey: %d keys for %d files", len(lines), len(idx))
		}
		for j, i := range idx {
			if lines[j] == "" {
				return nil, fmt.Errorf("git annex calckey: no key for %s", files[i])
			}
			keys[i] = lines[j]
		}
	}
	return keys, nil
}

// annexedKey is the key an annexed file names: the target of a locked
// file's link, or the content of an unlocked file's pointer.
func annexedKey(p string) string {
	if t, err := os.Readlink(p); err == nil {
		if i := strings.Index(t, "annex/objects/"); i >= 0 {
			return filepath.Base(t)
		}
		return ""
	}
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > 1024 {
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	if rest, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "/annex/objects/"); ok && !strings.ContainsAny(rest, "/\n") {
		return rest
	}
	return ""
}

// RegisterURLs records each {key, url} for the special remote r, which
// claims the URLs: `git annex registerurl`, then `git annex setpresentkey`
// (git-annex before 10.20230407 does not mark the key present in the
// remote that claims the URL by itself), so that git annex whereis and
// every clone know the key is there.
func RegisterURLs(ctx context.Context, repo string, r *SpecialRemote, pairs [][2]string) error {
	if len(pairs) == 0 {
		return nil
	}
	var urls, present bytes.Buffer
	seen := map[string]bool{}
	for _, p := range pairs {
		fmt.Fprintf(&urls, "%s %s\n", p[0], p[1])
		if !seen[p[0]] {
			seen[p[0]] = true
			fmt.Fprintf(&present, "%s %s 1\n", p[0], r.UUID)
		}
	}
	if _, err := git(ctx, repo, urls.Bytes(), "annex", "registerurl", "--batch"); err != nil {
		return err
	}
	if _, err := git(ctx, repo, present.Bytes(), "annex", "setpresentkey", "--batch"); err != nil {
		return err
	}
	// setpresentkey --batch leaves what it records in git-annex's
	// journal (git-annex 10.20230126), where a clone made before the next
	// git-annex command in repo does not see it; merge commits it.
	_, err := git(ctx, repo, nil, "annex", "merge", "--quiet")
	return err
}

// RecordURLs records each {key, url} from inside the special remote, as
// [RegisterURLs] does from outside: it works while git-annex runs the
// remote's INITREMOTE, when the remote is not yet in git config and `git
// annex registerurl` would give its URLs to the web remote. Each URL goes
// to git-annex as SETURLPRESENT, marked with the leading ":" by which
// git-annex's URL log tells a URL that a special remote downloads (what
// registerurl writes for a URL a remote claims) from one the web remote
// has; then each key is marked present in the remote, by its UUID, with
// `git annex setpresentkey` run in repo.
func (c *Conn) RecordURLs(ctx context.Context, repo string, pairs [][2]string) error {
	if len(pairs) == 0 {
		return nil
	}
	uuid, err := c.UUID()
	if err != nil {
		return err
	}
	var present bytes.Buffer
	seen := map[string]bool{}
	for _, p := range pairs {
		if err := c.send("SETURLPRESENT " + p[0] + " :" + p[1]); err != nil {
			return err
		}
		if !seen[p[0]] {
			seen[p[0]] = true
			fmt.Fprintf(&present, "%s %s 1\n", p[0], uuid)
		}
	}
	_, err = git(ctx, repo, present.Bytes(), "annex", "setpresentkey", "--batch")
	return err
}
