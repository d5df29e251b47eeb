package annex

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoRemote is wrapped by [FindRemote]'s error when the repository has
// no special remote of the external type asked for.
var ErrNoRemote = errors.New("no special remote of that type")

// git runs `git -C repo ARGS...` with stdin, returning stdout; a failure
// names the command and carries git's last words.
func git(ctx context.Context, repo string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...)
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
// it never counts towards numcopies.
func InitRemote(ctx context.Context, repo, name, externalType string) error {
	if _, err := git(ctx, repo, nil, "annex", "initremote", name, "type=external", "externaltype="+externalType, "encryption=none", "autoenable=true"); err != nil {
		return err
	}
	_, err := git(ctx, repo, nil, "annex", "untrust", name)
	return err
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
	_, err := git(ctx, repo, present.Bytes(), "annex", "setpresentkey", "--batch")
	return err
}
