package loader

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// podmanNofile is the open-files limit rootful podman sets in every
// container unless containers.conf says otherwise (its
// RLimitDefaultValue).
const podmanNofile = "1048576"

// Problems are what makes every run of the engine fail on this machine,
// each with what to do, found without running a container; none for
// docker. For podman on this Linux machine: rootful podman raises the
// containers' open-files limit to 1048576 unless containers.conf sets
// default_ulimits, which a sandbox or a container refuses ("error setting
// rlimit type 7: operation not permitted"); rootless podman's network
// (slirp4netns or pasta) needs /dev/net/tun unless containers.conf sets
// netns = "none".
func (e *Engine) Problems(ctx context.Context) []string {
	if !e.localPodman() {
		return nil
	}
	conf := podmanConf(e.podmanConfFiles())
	confName := "/etc/containers/containers.conf"
	if os.Geteuid() != 0 {
		confName = "~/.config/containers/containers.conf"
	}
	if c := e.getenv("CONTAINERS_CONF"); c != "" {
		confName = c
	}
	var p []string
	if os.Geteuid() == 0 && !conf["default_ulimits"] {
		// A shell of its own tries to raise its hard limit as podman's
		// runtime would: this process's limits stay as they are.
		if exec.CommandContext(ctx, "sh", "-c", "ulimit -Hn "+podmanNofile).Run() != nil && ctx.Err() == nil {
			p = append(p, "this machine refuses the open-files limit podman sets in containers ("+podmanNofile+"), so every run fails with \"error setting rlimit type 7\": set default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"] under [containers] in "+confName)
		}
	}
	if os.Geteuid() != 0 && !conf["netns=none"] {
		if f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0); err != nil {
			p = append(p, "/dev/net/tun is not usable here, which rootless podman's network needs, so every run fails unless it has none: set netns = \"none\" under [containers] in "+confName+", or run with --engine-arg=--network=none")
		} else {
			f.Close()
		}
	}
	return p
}

// podmanConfFiles are the containers.conf files podman reads, as
// containers/common finds them: $CONTAINERS_CONF alone when set, else the
// system's files and drop-ins, then the user's.
func (e *Engine) podmanConfFiles() []string {
	if c := e.getenv("CONTAINERS_CONF"); c != "" {
		return []string{c}
	}
	files := []string{"/usr/share/containers/containers.conf", "/etc/containers/containers.conf"}
	d, _ := filepath.Glob("/etc/containers/containers.conf.d/*.conf")
	files = append(files, d...)
	cfg := e.getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		if home := e.getenv("HOME"); home != "" {
			cfg = filepath.Join(home, ".config")
		}
	}
	if cfg != "" && os.Geteuid() != 0 {
		files = append(files, filepath.Join(cfg, "containers", "containers.conf"))
		d, _ := filepath.Glob(filepath.Join(cfg, "containers", "containers.conf.d", "*.conf"))
		files = append(files, d...)
	}
	if o := e.getenv("CONTAINERS_CONF_OVERRIDE"); o != "" {
		files = append(files, o)
	}
	return files
}

// podmanConf reads what the problems depend on from containers.conf
// files: "default_ulimits" when one sets an open-files limit, and
// "netns=none" when one sets netns = "none". A file that cannot be read
// is skipped, as podman skips a missing one.
func podmanConf(files []string) map[string]bool {
	got := map[string]bool{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "=")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if i := strings.Index(v, "#"); i >= 0 {
				v = strings.TrimSpace(v[:i])
			}
			switch {
			case k == "default_ulimits" && strings.Contains(v, "nofile="):
				got["default_ulimits"] = true
			case k == "netns" && strings.Trim(v, `"'`) == "none":
				got["netns=none"] = true
			}
		}
		f.Close()
	}
	return got
}
