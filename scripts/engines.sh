#!/usr/bin/env bash
# Installs and starts the two Docker engines the end-to-end tests run against,
# idempotently: safe to run again on a machine where they are already up.
#
#   1. Debian 12's docker.io (Docker 20.10, classic image store) on the
#      default socket /var/run/docker.sock.
#   2. Debian trixie's docker.io (Docker 26) with the containerd image store,
#      unpacked (not installed) under $IMGSAVE_ENGINES_DIR, on its own socket.
#
# Prints nothing on success but the environment to use for each engine.
# Needs root (apt-get, dockerd).
set -euo pipefail

root=${IMGSAVE_ENGINES_DIR:-/var/lib/imgsave-ci}
d26=$root/docker26
sock26=$root/docker26.sock

log() { printf 'engines: %s\n' "$*" >&2; }

wait_sock() { # socket pidfile-or-empty logfile
	for _ in $(seq 1 120); do
		if [ -S "$1" ] && DOCKER_HOST=unix://$1 docker version >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	log "daemon on $1 did not come up; last lines of $3:"
	tail -n 30 "$3" >&2 || true
	return 1
}

need_pkgs=()
command -v /usr/sbin/dockerd >/dev/null || need_pkgs+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs+=(busybox-static) # a static shell for test images
command -v git >/dev/null || need_pkgs+=(git)
command -v curl >/dev/null || need_pkgs+=(curl) # the registry check
command -v git-annex >/dev/null || need_pkgs+=(git-annex) # the dataset round trips
command -v setpriv >/dev/null || need_pkgs+=(util-linux)
command -v skopeo >/dev/null || need_pkgs+=(skopeo) # a peer that writes OCI layouts and pushes (e2e have:skopeo)
command -v dot >/dev/null || need_pkgs+=(graphviz) # renders du --format dot (ls_collection.txtar)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	log "installing ${need_pkgs[*]}"
	flock /var/lock/imgsave-apt.lock apt-get update -qq
	DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 flock /var/lock/imgsave-apt.lock apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
# podman for save/load/inspect through its CLI; without its recommends,
# which would bring a second container runtime stack.
if ! command -v podman >/dev/null; then
	log "installing podman"
	flock /var/lock/imgsave-apt.lock apt-get update -qq
	DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 flock /var/lock/imgsave-apt.lock apt-get install -y -qq --no-install-recommends podman >/dev/null
fi

# Rootless podman, for a test user: newuidmap/newgidmap, its network and
# storage helpers, and the user with subordinate IDs and a runtime folder.
rootless_pkgs=()
for p in uidmap slirp4netns fuse-overlayfs; do dpkg -s "$p" >/dev/null 2>&1 || rootless_pkgs+=("$p"); done
if [ ${#rootless_pkgs[@]} -gt 0 ]; then
	log "installing ${rootless_pkgs[*]} (rootless podman)"
	flock /var/lock/imgsave-apt.lock apt-get update -qq
	DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 flock /var/lock/imgsave-apt.lock apt-get install -y -qq --no-install-recommends "${rootless_pkgs[@]}" >/dev/null
fi
test_user=${IMGSAVE_TEST_USER:-imgsave-test}
if ! id -u "$test_user" >/dev/null 2>&1; then
	log "adding the test user $test_user (rootless podman)"
	useradd -m -s /bin/sh "$test_user"
fi
grep -q "^$test_user:" /etc/subuid || usermod --add-subuids 200000-265535 --add-subgids 200000-265535 "$test_user"
test_uid=$(id -u "$test_user")
# A second plain user and a group of both, for a SIF cache shared by a
# group (apptainer_shared.txtar, #28): ${test_user}2 and ${test_user}-lab.
if ! id -u "${test_user}2" >/dev/null 2>&1; then
	log "adding the second test user ${test_user}2 (shared SIF cache)"
	useradd -m -s /bin/sh "${test_user}2"
fi
grep -q "^${test_user}2:" /etc/subuid || usermod --add-subuids 300000-365535 --add-subgids 300000-365535 "${test_user}2"
getent group "${test_user}-lab" >/dev/null || groupadd "${test_user}-lab"
for u in "$test_user" "${test_user}2"; do
	id -nG "$u" | tr ' ' '\n' | grep -qx -- "${test_user}-lab" || usermod -aG "${test_user}-lab" "$u"
done
install -d -m 700 -o "$test_user" -g "$test_user" "/run/user/$test_uid"

# A registry on loopback for pull (Debian's docker-registry, distribution
# 2.8), with its storage under $root; started here, not as a service.
registry_port=${IMGSAVE_REGISTRY_PORT:-5000}
command -v docker-registry >/dev/null || {
	log "installing docker-registry"
	flock /var/lock/imgsave-apt.lock apt-get update -qq
	DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 flock /var/lock/imgsave-apt.lock apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
}
if ! curl -fsS "http://127.0.0.1:$registry_port/v2/" >/dev/null 2>&1; then
	log "starting the registry on 127.0.0.1:$registry_port"
	mkdir -p "$root/registry"
	cat >"$root/registry.yml" <<-EOF
		version: 0.1
		log:
		  level: warn
		storage:
		  filesystem:
		    rootdirectory: $root/registry
		  delete:
		    enabled: true
		http:
		  addr: 127.0.0.1:$registry_port
	EOF
	nohup docker-registry serve "$root/registry.yml" >"$root/registry.log" 2>&1 &
	for _ in $(seq 1 100); do
		curl -fsS "http://127.0.0.1:$registry_port/v2/" >/dev/null 2>&1 && break
		sleep 0.1
	done
	curl -fsS "http://127.0.0.1:$registry_port/v2/" >/dev/null || { log "the registry did not come up:"; tail -n 20 "$root/registry.log" >&2; exit 1; }
fi

# A second registry with TLS (a CA and certificate made here) and htpasswd
# basic auth, on 127.0.0.1:$((registry_port + 1)). Both Docker daemons trust
# its CA through /etc/docker/certs.d, podman (rootful and rootless) through
# /etc/containers/certs.d; imgsave, as a user's program, through
# SSL_CERT_FILE in the tests.
tls_port=$((registry_port + 1))
tls_dir=$root/registry-tls
command -v htpasswd >/dev/null || {
	log "installing apache2-utils (htpasswd)"
	flock /var/lock/imgsave-apt.lock apt-get update -qq
	DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 flock /var/lock/imgsave-apt.lock apt-get install -y -qq --no-install-recommends apache2-utils >/dev/null
}
if [ ! -f "$tls_dir/server.crt" ]; then
	log "making a CA and a certificate for 127.0.0.1:$tls_port"
	mkdir -p "$tls_dir"
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=imgsave test CA" \
		-keyout "$tls_dir/ca.key" -out "$tls_dir/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$tls_dir/server.key" -out "$tls_dir/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' >"$tls_dir/san.ext"
	openssl x509 -req -in "$tls_dir/server.csr" -CA "$tls_dir/ca.crt" -CAkey "$tls_dir/ca.key" -CAcreateserial \
		-days 3650 -extfile "$tls_dir/san.ext" -out "$tls_dir/server.crt" 2>/dev/null
	htpasswd -Bbc "$tls_dir/htpasswd" imgsave imgsave-test-password 2>/dev/null
fi
for d in /etc/docker/certs.d /etc/containers/certs.d; do
	mkdir -p "$d/127.0.0.1:$tls_port"
	cp "$tls_dir/ca.crt" "$d/127.0.0.1:$tls_port/ca.crt"
done
if ! curl -fsS --cacert "$tls_dir/ca.crt" -u imgsave:imgsave-test-password "https://127.0.0.1:$tls_port/v2/" >/dev/null 2>&1; then
	log "starting the TLS registry on 127.0.0.1:$tls_port"
	mkdir -p "$root/registry-tls-data"
	cat >"$root/registry-tls.yml" <<-EOF
		version: 0.1
		log:
		  level: warn
		storage:
		  filesystem:
		    rootdirectory: $root/registry-tls-data
		auth:
		  htpasswd:
		    realm: imgsave-test
		    path: $tls_dir/htpasswd
		http:
		  addr: 127.0.0.1:$tls_port
		  tls:
		    certificate: $tls_dir/server.crt
		    key: $tls_dir/server.key
	EOF
	nohup docker-registry serve "$root/registry-tls.yml" >"$root/registry-tls.log" 2>&1 &
	for _ in $(seq 1 100); do
		curl -fsS --cacert "$tls_dir/ca.crt" -u imgsave:imgsave-test-password "https://127.0.0.1:$tls_port/v2/" >/dev/null 2>&1 && break
		sleep 0.1
	done
	curl -fsS --cacert "$tls_dir/ca.crt" -u imgsave:imgsave-test-password "https://127.0.0.1:$tls_port/v2/" >/dev/null ||
		{ log "the TLS registry did not come up:"; tail -n 20 "$root/registry-tls.log" >&2; exit 1; }
fi

# A third registry, with the OCI 1.1 referrers API (#30): built from this
# repository and started by its own script.
referrers_env=$("$(dirname "$0")/referrers-registry.sh")

# The trixie source: the first stanza of debian.sources with Suites: trixie,
# pinned low so that nothing installed from bookworm changes.
if [ ! -f /etc/apt/sources.list.d/trixie.sources ]; then
	log "adding the trixie apt source (pinned at 100)"
	awk 'BEGIN{RS=""; ORS="\n\n"} NR==1{print; exit}' /etc/apt/sources.list.d/debian.sources |
		sed -E 's/^Suites:.*/Suites: trixie/' >/etc/apt/sources.list.d/trixie.sources
	printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' >/etc/apt/preferences.d/trixie-pin
	flock /var/lock/imgsave-apt.lock apt-get update -qq
fi

if [ ! -x "$d26/usr/sbin/dockerd" ]; then
	log "unpacking docker.io and containerd from trixie into $d26"
	mkdir -p "$d26" "$root/debs"
	(cd "$root/debs" && apt-get download -qq docker.io/trixie containerd/trixie)
	for deb in "$root"/debs/*.deb; do dpkg -x "$deb" "$d26"; done
fi

# Docker 26 first: its --bridge none removes docker0, which the Debian daemon
# needs for docker run; the Debian daemon is (re)started after it.
if ! DOCKER_HOST=unix://$sock26 docker version >/dev/null 2>&1; then
	log "starting Docker 26 (containerd image store) on $sock26"
	mkdir -p "$root/d26-data" /run/d26
	printf '{"features": {"containerd-snapshotter": true}}\n' >"$root/daemon26.json"
	(
		export PATH=$d26/usr/bin:$d26/usr/sbin:$PATH
		nohup dockerd --config-file "$root/daemon26.json" \
			--host "unix://$sock26" --data-root "$root/d26-data" --exec-root /run/d26 \
			--pidfile /run/d26/docker.pid --bridge none --iptables=false \
			--containerd-namespace imgsave26 --containerd-plugins-namespace imgsave26p \
			>"$root/docker26.log" 2>&1 &
	)
	wait_sock "$sock26" "" "$root/docker26.log"
	restart_debian=1
fi

if [ "${restart_debian:-0}" = 1 ] || ! DOCKER_HOST=unix:///var/run/docker.sock docker version >/dev/null 2>&1 ||
	! ip link show docker0 >/dev/null 2>&1; then
	if [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
		log "restarting Debian's dockerd (docker0 was removed)"
		kill "$(cat /var/run/docker.pid)"
		for _ in $(seq 1 60); do kill -0 "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null || break; sleep 0.5; done
	fi
	log "starting Debian's dockerd on /var/run/docker.sock"
	nohup /usr/sbin/dockerd >/var/log/imgsave-dockerd.log 2>&1 &
	wait_sock /var/run/docker.sock "" /var/log/imgsave-dockerd.log
fi

echo "IMGSAVE_ENGINES='unix:///var/run/docker.sock unix://$sock26 podman podman-rootless'"
echo "IMGSAVE_TEST_USER='$test_user'"
echo "IMGSAVE_REGISTRY='127.0.0.1:$registry_port'"
echo "IMGSAVE_REGISTRY_TLS='127.0.0.1:$tls_port'"
echo "IMGSAVE_REGISTRY_CA='$tls_dir/ca.crt'"
echo "IMGSAVE_REGISTRY_DATA='$root/registry'"
echo "$referrers_env"
