package annex

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
)

// Source is a repository git-annex knows to hold a file's content.
type Source struct {
	Name        string `json:"name,omitempty"` // the remote's name; "" for the repository itself
	Description string `json:"description"`
	Here        bool   `json:"here,omitempty"`
}

// Whereis asks git-annex, in one `git annex whereis --batch-keys --json`
// process run in repo, where the content of each key is, from its
// location log: it reads no content. Keys, not files: in a subdataset
// that git-annex has not initialised yet (a .git file, not a link), a
// first batch lookup by file answers nothing. A key git-annex does not
// know is absent from the result. A repo that is not a git-annex
// repository gives an error.
func Whereis(ctx context.Context, repo string, keys []string) (map[string][]Source, error) {
	out := map[string][]Source{}
	if len(keys) == 0 {
		return out, nil
	}
	var in bytes.Buffer
	for _, k := range keys {
		if strings.ContainsAny(k, "\n\x00/") {
			continue
		}
		in.WriteString(k + "\n")
	}
	cmd := exec.CommandContext(ctx, "git", "annex", "whereis", "--batch-keys", "--json")
	cmd.Dir = repo
	cmd.Env = absGitEnv(cmd.Environ())
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git annex whereis in %s: %w: %s", repo, err, lastLine(stderr.String()))
	}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			Key     string `json:"key"`
			Whereis []struct {
				Description string `json:"description"`
				Here        bool   `json:"here"`
			} `json:"whereis"`
		}
		if len(bytes.TrimSpace(sc.Bytes())) == 0 || json.Unmarshal(sc.Bytes(), &r) != nil || r.Key == "" {
			continue
		}
		srcs := []Source{}
		for _, w := range r.Whereis {
			s := Source{Description: w.Description, Here: w.Here}
			// git-annex describes a remote as "NAME" or "DESC [NAME]".
			if i := strings.LastIndexByte(w.Description, '['); i >= 0 && strings.HasSuffix(w.Description, "]") {
				s.Name = w.Description[i+1 : len(w.Description)-1]
			}
			srcs = append(srcs, s)
		}
		out[r.Key] = srcs
	}
	return out, sc.Err()
}

// lastLine is the last line of a command's stderr.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// IsAnnex reports whether repo is a git-annex repository (has a
// git-annex branch or an annex.uuid).
func IsAnnex(ctx context.Context, repo string) bool {
	out, err := git(ctx, repo, nil, "config", "annex.uuid")
	return err == nil && len(bytes.TrimSpace(out)) > 0
}
