package imgsave

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/imgsave/imgsave/archive"
	"github.com/imgsave/imgsave/loader"
)

// RunOptions tune [Run].
type RunOptions struct {
	LoadOptions
	// Command replaces the image's default command when not empty.
	Command []string
	// Workdir is where the current directory is mounted and the working
	// directory in the container; "" means /tmp, as datalad-container does.
	Workdir string
	// NoCwdMount leaves the current directory unmounted; Workdir, when set,
	// is still the working directory.
	NoCwdMount bool
	// CwdOnly mounts the current directory alone at Workdir, as
	// datalad-container's adapter does. By default, when the current
	// directory is inside a git-annex dataset, the top of its outermost
	// superdataset (a parent repository recording it as a submodule, and
	// so on up; never merely a repository above) is mounted at Workdir
	// instead and the working directory is the current one's place below
	// it, so that annexed files (symbolic links into .git/annex/objects,
	// possibly a superdataset's) resolve.
	CwdOnly bool
	// Cwd is the directory mounted at Workdir; "" means the current one.
	Cwd string
	// Mounts are more bind mounts, "SRC:DST" or "SRC:DST:ro"; a relative
	// SRC is taken from the current directory.
	Mounts []string
	// Env sets variables in the container, each "K=V", V byte for byte.
	// On Apptainer K must be a shell variable name that Apptainer passes
	// as given (see loader.CheckSIFEnv).
	Env []string
	// User runs the container as "UID[:GID]"; "" maps the caller, so that
	// the files the container writes are the caller's: --user UID:GID on
	// rootful docker and podman, --userns=keep-id on rootless podman, and
	// nothing on rootless docker, where root in the container is the caller
	// outside, on Docker Desktop, whose file sharing maps ownership, and on
	// Windows. Root keeps the image's own user instead.
	User string
	Root bool
	// Entrypoint replaces the image's entrypoint when set.
	Entrypoint *string
	// EngineArgs go to the engine's run before the image.
	EngineArgs []string
	// TTY allocates a terminal (the CLI sets it when stdin and stdout are
	// terminals).
	TTY bool
	// Stdin, Stdout and Stderr are the container's; nil means the null
	// device.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// AfterLoad, when set, is called once the image is in the engine and
	// before the container starts, whether or not a load was needed (the
	// CLI clears its progress line there).
	AfterLoad func()
}

// Run loads the directory's image as [Load] does, then runs it with the
// engine's `run --rm --interactive` and returns when the container has
// exited: nil for status 0, else a *loader.ExitError with its status.
// Once the container runs, ctx ending does not stop it: SIGINT and SIGTERM
// are relayed to it instead, and it decides (see loader.Engine.Run). A
// malformed option is an *OptionError, reported before anything is loaded.
//
// r is an [Engine] or a [SIFBuilder]: on Apptainer, Run builds the SIF
// file as [Load] does and runs it with `apptainer run` (see
// [loader.Apptainer.RunSIF]).
func Run(ctx context.Context, r Runner, dir string, opts RunOptions) error {
	if b, ok := r.(SIFBuilder); ok {
		return runApptainer(ctx, b, dir, opts)
	}
	eng, ok := r.(Engine)
	if !ok {
		return noRunner(r)
	}
	m := loader.MapUser
	if opts.User == "" && !opts.Root {
		var err error
		if m, err = userMapping(ctx, eng); err != nil {
			return err
		}
	}
	sel := loader.RelabelNone
	if selinuxEnforcing() && localEngine(eng.Endpoint()) {
		sel = loader.RelabelVolume
		if l, ok := eng.(interface{ Relabel() loader.Relabel }); ok {
			sel = l.Relabel()
		}
	}
	args, err := runArgs(opts, m, sel)
	if err != nil {
		return err
	}
	d, im, err := openToRun(ctx, eng, dir, opts)
	if err != nil {
		return err
	}
	args = append(args, platformArgs(im, runtime.GOOS+"/"+runtime.GOARCH)...)
	// Held until the container has exited, so that GC cannot remove the
	// image between its load and the container's start.
	unuse, err := useImage(ctx, eng, im, opts.LoadOptions)
	if err != nil {
		return err
	}
	defer unuse()
	l, err := loadImage(ctx, eng, dir, d, im, opts.LoadOptions)
	if opts.AfterLoad != nil {
		opts.AfterLoad()
	}
	if err != nil {
		return err
	}
	args = append(append(args, string(l.EngineID)), opts.Command...)
	return eng.Run(ctx, args, opts.Stdin, opts.Stdout, opts.Stderr)
}

// openToRun reads the directory, picks the image to run, and refuses, before
// anything is loaded, one the engine's host cannot run (checkRunnable) or
// that no signature proves when a key is given (CheckSigned; an empty key
// is an error, not "no check").
func openToRun(ctx context.Context, eng Runner, dir string, opts RunOptions) (*archive.Dir, *archive.DirImage, error) {
	d, im, err := opts.Selector.openFor(ctx, eng, dir)
	if err != nil {
		return nil, nil, err
	}
	if err := checkRunnable(ctx, eng, im); err != nil {
		return nil, nil, err
	}
	if err := opts.checkSigned(ctx, d, im); err != nil {
		return nil, nil, err
	}
	return d, im, nil
}

// platformArgs is --platform P for an image whose platform P is not
// host's: said to the engine's run, it spares docker's warning, on every
// run, that the image does not match the host's platform (#29).
func platformArgs(im *archive.DirImage, host string) []string {
	if p := im.Config.Platform(); !archive.SamePlatform(p, host) {
		return []string{"--platform", p}
	}
	return nil
}

// annexTop finds the folder run mounts so that annexed files (symbolic
// links into a git directory, possibly a superdataset's .git/modules)
// resolve, and dir's path relative to it; "" when dir is in no git-annex
// dataset. It starts from the innermost git repository holding dir and
// climbs only through real superdatasets: a parent repository that records
// the one below as a submodule, in its .gitmodules or as a gitlink in its
// index (#18). An unrelated repository above, such as an annexed home
// folder, is never mounted. The chain counts only when one of its
// repositories is a git-annex repository; its outermost one is the top.
func annexTop(dir string) (top, rel string) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", ""
	}
	repo := enclosingRepo(real)
	annexed := false
	for repo != "" {
		top = repo
		annexed = annexed || isAnnexRepo(repo)
		parent := enclosingRepo(filepath.Dir(repo))
		if parent == "" || parent == repo || !recordsSubmodule(parent, repo) {
			break
		}
		repo = parent
	}
	if !annexed {
		return "", ""
	}
	rel, err = filepath.Rel(top, real)
	if err != nil {
		return "", ""
	}
	return top, rel
}

// enclosingRepo is the innermost folder at or above d that is a git
// repository's work tree, or "".
func enclosingRepo(d string) string {
	for {
		if isGitRepo(d) {
			return d
		}
		up := filepath.Dir(d)
		if up == d {
			return ""
		}
		d = up
	}
}

// recordsSubmodule reports whether the repository at parent records the
// one at child as a submodule: a path in parent's .gitmodules, or else a
// gitlink (mode 160000) in its index, as `git submodule add` and `datalad
// create -d` leave them.
func recordsSubmodule(parent, child string) bool {
	rel, err := filepath.Rel(parent, child)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return false
	}
	rel = filepath.ToSlash(rel)
	if b, err := os.ReadFile(filepath.Join(parent, ".gitmodules")); err == nil && len(b) <= 1<<20 {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.TrimSpace(k) == "path" && path.Clean(strings.Trim(strings.TrimSpace(v), `"`)) == rel {
				return true
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", parent, "ls-files", "--stage", "--", ":(literal)"+rel).Output()
	return err == nil && bytes.HasPrefix(out, []byte("160000 "))
}

func isGitRepo(d string) bool { return archive.GitDir(d) != "" }

func isAnnexRepo(d string) bool {
	g := archive.GitDir(d)
	if g == "" {
		return false
	}
	fi, err := os.Stat(filepath.Join(g, "annex"))
	return err == nil && fi.IsDir()
}

// parseMount splits "SRC:DST[:ro|:rw]" from the right, so that SRC may
// hold colons (a timestamped folder, a Windows drive as in C:\data:/data);
// DST is an absolute container path without one. On Windows a lone drive
// letter is no SRC: "C:/data" lacks its DST.
func parseMount(goos, m string) (src, dst string, ro, ok bool) {
	rest := m
	if r, ok := strings.CutSuffix(rest, ":ro"); ok {
		rest, ro = r, true
	} else if r, ok := strings.CutSuffix(rest, ":rw"); ok {
		rest = r
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 || !strings.HasPrefix(rest[i+1:], "/") || goos == "windows" && i == 1 {
		return "", "", false, false
	}
	return rest[:i], rest[i+1:], ro, true
}

// selinuxEnforcing reports whether this host enforces SELinux; a variable
// for tests.
var selinuxEnforcing = func() bool {
	b, err := os.ReadFile("/sys/fs/selinux/enforce")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// localEngine reports whether the engine's daemon runs on this host, so
// that this host's SELinux labels its mounts: not over tcp:// or ssh://.
func localEngine(endpoint string) bool {
	return !strings.Contains(endpoint, "tcp://") && !strings.Contains(endpoint, "ssh://")
}

// bindMount renders a bind mount as engine arguments. By default it is
// --mount, whose value is a CSV record: a field holding a comma or quote
// is quoted, so that host paths with ":" or "," in their names
// (timestamps) survive, where --volume SRC:DST splits them (#8). Under
// SELinux the mount is relabelled shared (:z), never private (:Z), which
// would lock other containers out of the user's files; docker can do that
// only with --volume, which cannot hold a source with ":".
func bindMount(src, dst string, ro bool, sel loader.Relabel) ([]string, error) {
	if sel == loader.RelabelVolume {
		if strings.Contains(src, ":") {
			return nil, &OptionError{Option: "Mounts", Value: src, Want: "a path without \":\" (docker relabels for SELinux only through --volume SRC:DST:z)"}
		}
		mode := "z"
		if ro {
			mode = "ro,z"
		}
		return []string{"--volume", src + ":" + dst + ":" + mode}, nil
	}
	fields := []string{"type=bind", csvField("source=" + src), csvField("target=" + dst)}
	if ro {
		fields = append(fields, "readonly")
	}
	if sel == loader.RelabelMount {
		fields = append(fields, "relabel=shared")
	}
	return []string{"--mount", strings.Join(fields, ",")}, nil
}

func csvField(s string) string {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// runBinds is what run mounts and where it starts: the current directory
// (or the top of its dataset, see annexTop) at o.Workdir unless
// o.NoCwdMount (cwd.src is "" then), o.Mounts with their sources made
// absolute and checked, and the working directory ("" for the image's).
// A malformed mount is an *OptionError.
func runBinds(o RunOptions) (cwd loader.Bind, mounts []loader.Bind, workdir string, err error) {
	workdir = o.Workdir
	if !o.NoCwdMount {
		if workdir == "" {
			workdir = "/tmp"
		}
		src := o.Cwd
		if src == "" {
			if src, err = os.Getwd(); err != nil {
				return loader.Bind{}, nil, "", err
			}
		}
		cwd = loader.Bind{Src: src, Dst: workdir}
		if !o.CwdOnly {
			if top, rel := annexTop(src); top != "" {
				cwd.Src, workdir = top, path.Join(workdir, filepath.ToSlash(rel))
			}
		}
	}
	for _, m := range o.Mounts {
		src, dst, ro, ok := parseMount(runtime.GOOS, m)
		if !ok {
			return loader.Bind{}, nil, "", &OptionError{Option: "Mounts", Value: m, Want: "SRC:DST[:ro|:rw] with DST absolute"}
		}
		abs, err := filepath.Abs(src)
		if err != nil {
			return loader.Bind{}, nil, "", err
		}
		// The engine would create a missing source as an empty root-owned
		// folder (docker -v) or fail later with less to say.
		if _, err := os.Stat(abs); err != nil {
			return loader.Bind{}, nil, "", fmt.Errorf("mount %s: %w", m, err)
		}
		mounts = append(mounts, loader.Bind{Src: abs, Dst: dst, ReadOnly: ro})
	}
	return cwd, mounts, workdir, nil
}

// userMapping is how run maps the caller into eng's containers, as eng
// says (loader.Engine.UserMapping), or for an engine that does not, as
// docker does: nothing when rootless, else --user UID:GID.
func userMapping(ctx context.Context, eng Engine) (loader.UserMapping, error) {
	if u, ok := eng.(interface {
		UserMapping(context.Context) (loader.UserMapping, error)
	}); ok {
		return u.UserMapping(ctx)
	}
	rootless, err := eng.Rootless(ctx)
	if err != nil || !rootless && runtime.GOOS != "windows" {
		return loader.MapUser, err
	}
	return loader.MapNone, nil
}

// runArgs builds `run ...` up to the image.
func runArgs(o RunOptions, m loader.UserMapping, sel loader.Relabel) ([]string, error) {
	if o.User != "" && o.Root {
		return nil, &OptionError{Option: "User", Value: o.User, Want: "no user together with Root"}
	}
	a := []string{"run", "--rm", "--interactive"}
	if o.TTY {
		a = append(a, "--tty")
	}
	cwd, mounts, wd, err := runBinds(o)
	if err != nil {
		return nil, err
	}
	if cwd.Src != "" {
		mounts = append([]loader.Bind{cwd}, mounts...)
	}
	for i, b := range mounts {
		mount, err := bindMount(b.Src, b.Dst, b.ReadOnly, sel)
		if err != nil {
			return nil, err
		}
		a = append(a, mount...)
		if i == 0 && cwd.Src != "" {
			a = append(a, "--workdir", wd)
		}
	}
	if cwd.Src == "" && wd != "" {
		a = append(a, "--workdir", wd)
	}
	for _, kv := range o.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, &OptionError{Option: "Env", Value: kv, Want: "K=V"}
		}
		a = append(a, "--env", kv)
	}
	switch {
	case o.Root:
	case o.User != "":
		a = append(a, "--user", o.User)
	case m == loader.MapKeepID:
		a = append(a, "--userns=keep-id")
	case m == loader.MapUser:
		a = append(a, "--user", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()))
	}
	if o.Entrypoint != nil {
		a = append(a, "--entrypoint", *o.Entrypoint)
	}
	return append(a, o.EngineArgs...), nil
}
