package loader

import (
	"errors"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

var (
	// ErrEngineNotFound is returned by [Find] when no engine binary is on
	// $PATH (or at the path given), and by every method whose binary has gone
	// since. errors.Is(err, exec.ErrNotFound) holds for it too.
	ErrEngineNotFound error = &refinedError{
		msg:  "container engine not found (install docker, podman or apptainer, or give the path to one)",
		base: exec.ErrNotFound,
	}

	// ErrDaemonUnreachable is wrapped by the error of any method when the
	// engine's daemon or socket does not answer: nothing listens on the
	// socket, the socket is missing, or a podman machine is stopped.
	ErrDaemonUnreachable = errors.New("container engine not reachable (start it, e.g. `sudo systemctl start docker`, or set DOCKER_HOST)")

	// ErrPermissionDenied is wrapped by the error of any method when the
	// engine's socket exists but the user may not connect to it.
	ErrPermissionDenied = errors.New("permission denied on the engine's socket (join the docker group, e.g. `sudo usermod -aG docker $USER` and log in again, or use a rootless engine)")

	// ErrImageNotFound is wrapped by the errors of [Engine.Save],
	// [Engine.Inspect], [Engine.Tag] and [Engine.Pull] when the engine has
	// no such image (or, for Pull, the registry has none it may fetch).
	ErrImageNotFound = errors.New("image not found")

	// ErrContentRace is wrapped by the error of [Engine.Load] when a
	// containerd-store engine lost a blob of the image while loading it:
	// another client removed an image sharing a layer at that moment, and
	// the engine's garbage collection took the blob. Loading again works.
	ErrContentRace = errors.New("the engine's content store lost a blob during the load (a race in its garbage collection)")
)

// refinedError is an error with its own text that also matches the more
// general error it refines.
type refinedError struct {
	msg  string
	base error
}

func (e *refinedError) Error() string { return e.msg }
func (e *refinedError) Unwrap() error { return e.base }

// RunError describes a failed engine command. When the failure is
// classified, Err is one of this package's sentinel errors, so that both
// errors.Is(err, ErrImageNotFound) and errors.As(err, &runErr) hold.
type RunError struct {
	// Args is the command line, starting with the engine's base name.
	Args []string
	// Stderr is the end of the command's standard error, trimmed.
	Stderr string
	// Err is the sentinel the failure was classified as or, failing that,
	// its cause: an *exec.ExitError, a context's error, a start failure.
	Err error
}

// Error returns one line: the quoted command, the cause and stderr, as in
// `docker save nosuch:1: image not found: Error response from daemon: ...`.
func (e *RunError) Error() string {
	s := quoteArgs(e.Args) + ": " + e.Err.Error()
	if line := oneLine(e.Stderr); line != "" {
		s += ": " + line
	}
	return s
}

func (e *RunError) Unwrap() error { return e.Err }

// ExitError is returned by [Engine.Run] when the command exits with a
// non-zero status: the container's, or the engine's own failure (docker run
// uses 125 for its errors, 126 and 127 for a command that cannot be run). A
// command killed by a signal gets 128 plus the signal number, as in a shell.
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string { return "exit status " + strconv.Itoa(e.Code) }

// Stderr texts, matched case-insensitively. The tests hold a recorded line
// for each pattern. Compiled on first use, not at start: every imgsave
// command would pay for them (#29).
var (
	permissionDenied = lazyRegexp(`permission denied while trying to connect|dial unix .*: connect: permission denied`)

	daemonUnreachable = lazyRegexp(`cannot connect to the docker daemon|failed to connect to the docker api|error during connect|cannot connect to podman|unable to connect to podman`)

	imageNotFound = lazyRegexp(strings.Join([]string{
		`no such image`,
		`reference does not exist`,                               // docker 20.10 save
		`an image does not exist locally`,                        // docker push
		`failed to get digest sha256:\S+: open .*: no such file`, // docker 20.10 save of an absent ID
		`image not known`,                                        // podman
		// podman, while another process is still writing the image
		`locating item named "manifest[^"]*" for image with id "[^"]*"[^:]*: file does not exist`,
		`pull access denied`,
		`repository \S+ not found`,
		`requested access to the resource is denied`,
		`manifest unknown`,
		`\bname unknown`,
		`failed to resolve reference "[^"]*": \S+: not found`, // containerd
	}, "|"))

	contentRace = lazyRegexp(`failed to (extract layer|unpack loaded image).*content digest sha256:[0-9a-f]+: not found`)
)

// lazyRegexp compiles pattern on its first call.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}

// Classify maps an engine command's stderr to ErrPermissionDenied,
// ErrDaemonUnreachable, ErrContentRace or ErrImageNotFound, or returns nil
// when the text matches none of them.
func Classify(stderr string) error {
	s := strings.ToLower(stderr)
	switch {
	// Before unreachable: podman reports a socket it may not open as
	// "unable to connect to Podman socket: ... connect: permission denied".
	case permissionDenied().MatchString(s):
		return ErrPermissionDenied
	case daemonUnreachable().MatchString(s):
		return ErrDaemonUnreachable
	case contentRace().MatchString(s):
		return ErrContentRace
	case imageNotFound().MatchString(s):
		return ErrImageNotFound
	}
	return nil
}

// quoteArgs renders a command line the way a POSIX shell would read it.
func quoteArgs(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	return b.String()
}

// oneLine joins the non-blank lines of s with "; ".
func oneLine(s string) string {
	var lines []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "; ")
}
