package loader

import (
	"fmt"
	"slices"
	"strings"
)

// Apptainer takes orders from its environment as well as from its command
// line, and some of them change the container even under --cleanenv
// (Apptainer 1.5: cmd/internal/cli/action_flags.go, internal/pkg/util/env):
//
//   - APPTAINERENV_K=V and SINGULARITYENV_K=V set K in the container,
//     LD_PRELOAD included, and APPTAINERENV_PATH, _PREPEND_PATH and
//     _APPEND_PATH rewrite its PATH;
//   - APPTAINER_X and SINGULARITY_X stand for the flag --x of every
//     command: APPTAINER_BIND and _BINDPATH, _MOUNT, _HOME, _OVERLAY,
//     _NV, _ROCM, _CONTAINLIBS, _ENV_FILE, _NO_EVAL, _WRITABLE, _FAKEROOT,
//     _NETWORK and dozens more, the SINGULARITY_ spellings alike;
//   - TERM and the proxy variables (http_proxy, HTTPS_PROXY, no_proxy
//     and the like) are forwarded whatever --cleanenv says.
//
// So that the container gets what the caller passed and nothing a login
// script or a cluster's module file left in the environment, an
// `apptainer run` starts from the environment less all of these, with
// only the settings of Apptainer's own work kept ([apptainerKeep]).
// Everything else (PATH, HOME, USER, XDG_RUNTIME_DIR for the rootless
// cgroups, TMPDIR...) concerns Apptainer on the host and stays: with
// --cleanenv it does not enter the container. TERM stays too: the
// container writes to the caller's terminal, which Apptainer shares
// rather than emulates.

// apptainerKeep are the APPTAINER_ and SINGULARITY_ settings an `apptainer
// run` keeps: where Apptainer keeps its cache, its scratch files (the
// unpacked image of --unsquash) and its configuration, and how much it
// says. None of them changes what the container sees.
var apptainerKeep = []string{"CACHEDIR", "TMPDIR", "CONFIGDIR", "DEBUG", "VERBOSE", "QUIET", "SILENT", "NOCOLOR", "MESSAGELEVEL"}

// apptainerPrefixes start the names of the variables Apptainer reads
// (its own settings, then variables for the container).
var apptainerPrefixes = []string{"APPTAINER_", "SINGULARITY_", "APPTAINERENV_", "SINGULARITYENV_"}

// proxyVars are the variables Apptainer passes into the container even
// with --cleanenv, besides TERM (internal/pkg/util/env/create.go).
var proxyVars = []string{"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY", "ftp_proxy", "FTP_PROXY"}

// keepForApptainer reports whether the variable kv ("K=V") may stay in
// the environment of an `apptainer run`: false for one by which Apptainer
// would change the container.
func keepForApptainer(kv string) bool {
	k, _, _ := strings.Cut(kv, "=")
	if slices.Contains(proxyVars, k) {
		return false
	}
	for _, p := range apptainerPrefixes {
		if rest, ok := strings.CutPrefix(k, p); ok {
			return (p == "APPTAINER_" || p == "SINGULARITY_") && slices.Contains(apptainerKeep, rest)
		}
	}
	return true
}

// apptainerEnvTaken are names Apptainer does not set in the container as
// given through APPTAINERENV_ (measured with Apptainer 1.5.3 against
// docker): HOME it refuses (the container's home is its own); UID, GID,
// EUID, IFS, OPTIND and PWD its shell drops; PROMPT_COMMAND it extends;
// PREPEND_PATH and APPEND_PATH it adds to PATH; and its own APPTAINER_ and
// SINGULARITY_ variables it sets itself (SINGULARITY_ENVIRONMENT, the
// APPNAME) or drops.
var apptainerEnvTaken = []string{"HOME", "UID", "GID", "EUID", "IFS", "OPTIND", "PWD", "PROMPT_COMMAND", "PREPEND_PATH", "APPEND_PATH"}

// EnvError reports a variable for a container that Apptainer cannot set
// as given.
type EnvError struct {
	Var  string // "K=V"
	Want string // what would do
}

func (e *EnvError) Error() string { return fmt.Sprintf("%q: want %s", e.Var, e.Want) }

// CheckSIFEnv returns an *EnvError for the first of env ("K=V" each) that
// Apptainer cannot set in a container as given: K must be a shell
// variable name (letters, digits and _, not starting with a digit), since
// Apptainer exports it in a shell script inside the container, and not one
// that Apptainer sets, drops or rewrites there (HOME, UID, GID, EUID, IFS,
// OPTIND, PWD, PROMPT_COMMAND, PREPEND_PATH, APPEND_PATH, APPTAINER_* and
// SINGULARITY_*). V may hold any bytes. What remains different from
// docker: Apptainer appends ":/.singularity.d/libs" to LD_LIBRARY_PATH and
// adds PREPEND_LD_LIBRARY_PATH and APPEND_LD_LIBRARY_PATH to it.
func CheckSIFEnv(env []string) error {
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !shellName(k) {
			return &EnvError{Var: kv, Want: "K=V with K a shell variable name (letters, digits, _), as Apptainer sets it through a shell"}
		}
		if slices.Contains(apptainerEnvTaken, k) || strings.HasPrefix(k, "APPTAINER_") || strings.HasPrefix(k, "SINGULARITY_") {
			return &EnvError{Var: kv, Want: "another name: Apptainer sets, drops or rewrites " + k + " in the container"}
		}
	}
	return nil
}

func shellName(k string) bool {
	for i, c := range k {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return k != ""
}

// apptainerEnviron is the environment of an `apptainer run` or `exec`:
// host (os.Environ() and then e.Env) less what would change the container
// ([keepForApptainer]), then APPTAINERENV_K=V for each K=V of env. Apptainer's
// --env and --env-file end there too, after parsing: --env as a CSV
// record (a comma starts another variable, quotes are taken away),
// --env-file through a shell. Set directly, the value reaches the
// container byte for byte: under --no-eval Apptainer exports it
// single-quoted.
func apptainerEnviron(host, env []string) []string {
	out := slices.DeleteFunc(slices.Clone(host), func(kv string) bool { return !keepForApptainer(kv) })
	for _, kv := range env {
		out = append(out, "APPTAINERENV_"+kv)
	}
	return out
}
