#!/usr/bin/env bash
# docker buildx and a Docker 26 daemon for it to build on (#30), so that
# BuildKit attestations (SLSA provenance, an SBOM) are tested against what
# a real buildx writes; idempotently. Run after scripts/engines.sh, which
# adds the trixie apt source and unpacks Docker 26 under $IMGSAVE_ENGINES_DIR.
#
#   1. Debian trixie's docker-buildx (0.13), unpacked as docker.io is and
#      linked into /usr/libexec/docker/cli-plugins, where every docker CLI
#      on this machine (Debian's 20.10, a newer one on PATH) finds it.
#   2. A second Docker 26 daemon (same binaries, containerd image store)
#      on its own socket with its own bridge imgsave-bx0. The test engine
#      runs with --bridge none, and BuildKit inside dockerd runs every
#      build container (an SBOM generator too) on the network named
#      "bridge" (moby builder/builder-next/executor_linux.go), which
#      --bridge none removes: the SBOM could not be made there.
#
# Prints nothing on stdout but the environment to use:
#   IMGSAVE_BUILDX_HOST='unix:///var/lib/imgsave-ci/buildx.sock'
# Needs root. Nothing here reaches a network but Debian's apt.
set -euo pipefail

root=${IMGSAVE_ENGINES_DIR:-/var/lib/imgsave-ci}
d26=$root/docker26
sock=$root/buildx.sock
log() { printf 'buildx: %s\n' "$*" >&2; }

[ -x "$d26/usr/sbin/dockerd" ] || { log "no Docker 26 under $d26: run scripts/engines.sh first"; exit 1; }

bx=/usr/libexec/docker/cli-plugins/docker-buildx
if ! "$bx" version >/dev/null 2>&1; then
	log "unpacking docker-buildx from trixie into $root/buildx"
	mkdir -p "$root/buildx-deb" /usr/libexec/docker/cli-plugins
	(cd "$root/buildx-deb" && rm -f ./*.deb && flock /var/lock/imgsave-apt.lock apt-get download -qq docker-buildx/trixie)
	dpkg -x "$root"/buildx-deb/docker-buildx_*.deb "$root/buildx"
	ln -sf "$root/buildx/usr/libexec/docker/cli-plugins/docker-buildx" "$bx"
fi

if ! ip link show imgsave-bx0 >/dev/null 2>&1; then
	log "adding the bridge imgsave-bx0 (172.31.250.1/24) for the build daemon"
	ip link add imgsave-bx0 type bridge
	ip addr add 172.31.250.1/24 dev imgsave-bx0
fi
ip link set imgsave-bx0 up

if ! DOCKER_HOST=unix://$sock docker version >/dev/null 2>&1; then
	log "starting the build daemon (Docker 26) on $sock"
	mkdir -p "$root/bx-data" /run/dbx
	printf '{"features": {"containerd-snapshotter": true}}\n' >"$root/daemonbx.json"
	(
		export PATH=$d26/usr/bin:$d26/usr/sbin:$PATH
		nohup dockerd --config-file "$root/daemonbx.json" \
			--host "unix://$sock" --data-root "$root/bx-data" --exec-root /run/dbx \
			--pidfile /run/dbx/docker.pid --bridge imgsave-bx0 --iptables=false --ip-masq=false \
			--containerd-namespace imgsavebx --containerd-plugins-namespace imgsavebxp \
			>"$root/buildx-docker.log" 2>&1 &
	)
	for _ in $(seq 1 120); do
		DOCKER_HOST=unix://$sock docker version >/dev/null 2>&1 && break
		sleep 0.5
	done
	DOCKER_HOST=unix://$sock docker version >/dev/null 2>&1 || { log "the build daemon did not come up:"; tail -n 30 "$root/buildx-docker.log" >&2; exit 1; }
fi
DOCKER_HOST=unix://$sock docker buildx version >/dev/null || { log "docker buildx does not run"; exit 1; }
echo "IMGSAVE_BUILDX_HOST='unix://$sock'"
