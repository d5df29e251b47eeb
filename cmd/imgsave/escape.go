package main

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable returns s as it may reach a terminal: unchanged when it holds
// only printable text, else with control characters and invalid bytes
// escaped as Go does ("\x1b", "\r", "\u0085"). Everything imgsave prints for
// people that came from a directory or an engine goes through it, so that a
// hostile config or manifest cannot move the cursor, rewrite a line that
// ls or verify printed, or forge an "ok" (#8). --json needs none of this:
// JSON escapes control characters itself.
func printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// shellQuote quotes s for a POSIX shell when it needs it, for the commands
// imgsave suggests.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r == ':' || r == '@' || r == '=' || unicode.IsLetter(r) || unicode.IsDigit(r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
