package loader

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestApptainerRunKeepsHostOut (#28): the variables by which Apptainer
// lets the host change a container (APPTAINERENV_*, SINGULARITYENV_*,
// APPTAINER_BIND and every other APPTAINER_ or SINGULARITY_ setting, the
// proxies that --cleanenv still forwards) never reach `apptainer run`,
// whatever the caller's environment; what Apptainer needs to work does. A
// stand-in prints the environment it gets: what Apptainer then does with
// it is apptainer_env.txtar's, against the real one.
func TestApptainerRunKeepsHostOut(t *testing.T) {
	eng := &Apptainer{Path: standIn(t, t.TempDir(), "apptainer", "exec env"),
		Env: []string{"APPTAINER_BIND=/var:/mnt", "APPTAINER_CACHEDIR=/engine-cache"}}
	for k, v := range map[string]string{
		"APPTAINERENV_LD_PRELOAD":   "/tmp/evil.so",
		"APPTAINERENV_FOO":          "leak",
		"SINGULARITYENV_FOO":        "leak",
		"APPTAINERENV_PREPEND_PATH": "/evil",
		"APPTAINER_BIND":            "/etc:/mnt",
		"APPTAINER_BINDPATH":        "/etc",
		"SINGULARITY_BIND":          "/etc",
		"SINGULARITY_BINDPATH":      "/etc",
		"APPTAINER_MOUNT":           "type=bind,source=/etc,destination=/mnt",
		"APPTAINER_NV":              "1",
		"APPTAINER_CONTAINLIBS":     "/lib/x.so",
		"APPTAINER_ENV_FILE":        "/etc/evil.env",
		"APPTAINER_NO_EVAL":         "0",
		"SINGULARITY_OVERLAY":       "/ov.img",
		"APPTAINER_HOME":            "/etc",
		"http_proxy":                "http://proxy.invalid:3128",
		"HTTPS_PROXY":               "http://proxy.invalid:3128",
		"APPTAINER_TMPDIR":          "/scratch/tmp",
		"SINGULARITY_CACHEDIR":      "/scratch/cache",
		"XDG_RUNTIME_DIR":           "/run/user/1000",
		"TERM":                      "xterm",
		"LD_PRELOAD_NOT":            "host",
	} {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	if err := eng.RunSIF(t.Context(), SIFRun{SIF: "x.sif", Stdout: &out, Stderr: &errb}); err != nil {
		t.Fatalf("Run: %v: %s", err, errb.String())
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, kv := range got {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "APPTAINERENV_") || strings.HasPrefix(k, "SINGULARITYENV_") ||
			strings.Contains(k, "BIND") || strings.Contains(k, "MOUNT") || strings.EqualFold(k, "http_proxy") || strings.EqualFold(k, "https_proxy") ||
			slices.Contains([]string{"APPTAINER_NV", "APPTAINER_CONTAINLIBS", "APPTAINER_ENV_FILE", "APPTAINER_NO_EVAL", "SINGULARITY_OVERLAY", "APPTAINER_HOME"}, k) {
			t.Errorf("apptainer run got %s from the host", kv)
		}
	}
	for _, kv := range []string{"APPTAINER_TMPDIR=/scratch/tmp", "SINGULARITY_CACHEDIR=/scratch/cache", "APPTAINER_CACHEDIR=/engine-cache",
		"XDG_RUNTIME_DIR=/run/user/1000", "TERM=xterm", "LD_PRELOAD_NOT=host", "HOME=" + os.Getenv("HOME"), "PATH=" + os.Getenv("PATH")} {
		if !slices.Contains(got, kv) {
			t.Errorf("apptainer run did not get %s; got %q", kv, got)
		}
	}
}

// TestRunSIFSetsEnv (#28): each variable for the container reaches
// Apptainer as APPTAINERENV_K=V, the value as it is (Apptainer's --env
// would split it at commas and drop quotes), over a host's
// APPTAINERENV_ of the same name; a name Apptainer cannot set as given is
// refused before anything runs.
func TestRunSIFSetsEnv(t *testing.T) {
	eng := &Apptainer{Path: standIn(t, t.TempDir(), "apptainer", "exec env -0")}
	t.Setenv("APPTAINERENV_X", "host")
	env := []string{"X=a=1,Y=2", `Q="q" 'r'`, "N=a\nb\\c $HOME", "E="}
	var out, errb bytes.Buffer
	if err := eng.RunSIF(t.Context(), SIFRun{SIF: "x.sif", Env: env, Stdout: &out, Stderr: &errb}); err != nil {
		t.Fatalf("RunSIF: %v: %s", err, errb.String())
	}
	var got []string
	for _, kv := range strings.Split(out.String(), "\x00") {
		if strings.HasPrefix(kv, "APPTAINERENV_") {
			got = append(got, kv)
		}
	}
	want := []string{"APPTAINERENV_X=a=1,Y=2", `APPTAINERENV_Q="q" 'r'`, "APPTAINERENV_N=a\nb\\c $HOME", "APPTAINERENV_E="}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("RunSIF(%q) gave apptainer %q, want %q", env, got, want)
	}

	for _, kv := range []string{"X", "=1", "1X=1", "A-B=1", "A B=1", "É=1", "HOME=/x", "UID=0", "GID=0", "EUID=0", "IFS=,", "OPTIND=1", "PWD=/", "PROMPT_COMMAND=x", "PREPEND_PATH=/x", "APPEND_PATH=/x", "APPTAINER_BIND=/etc", "SINGULARITY_ENVIRONMENT=/x"} {
		err := eng.RunSIF(t.Context(), SIFRun{SIF: "x.sif", Env: []string{"OK=1", kv}, Stdout: io.Discard, Stderr: io.Discard})
		var ee *EnvError
		if !errors.As(err, &ee) || ee.Var != kv {
			t.Errorf("RunSIF(%q) = %v, want an *EnvError for it", kv, err)
		}
	}
}
