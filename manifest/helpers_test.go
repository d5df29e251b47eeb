package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/opencontainers/go-digest"
)

// hex64 returns a valid 64-digit hex string derived from s, so that tests
// can name distinct digests without spelling them out.
func hex64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// sha returns a valid sha256 digest derived from s.
func sha(s string) digest.Digest {
	return digest.Digest("sha256:" + hex64(s))
}

// checkErr compares err with what a table case wants: a sentinel (wantIs),
// any error (wantErr), or none.
func checkErr(err error, wantErr bool, wantIs error) bool {
	switch {
	case wantIs != nil:
		return errors.Is(err, wantIs)
	case wantErr:
		return err != nil
	}
	return err == nil
}

// checkInRoot reports why p is not a relative, clean, in-root path, or "".
func checkInRoot(p string) string {
	switch q, err := CleanPath(p); {
	case err != nil:
		return err.Error()
	case q != p:
		return "CleanPath changes it to " + q
	case strings.HasPrefix(p, "/"):
		return "absolute"
	case p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/.."):
		return "has a .. component"
	}
	return ""
}

// short keeps long test inputs readable in failure messages.
func short(s string) string {
	if len(s) <= 120 {
		return s
	}
	return s[:60] + "..." + s[len(s)-40:]
}
