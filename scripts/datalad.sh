#!/usr/bin/env bash
# Installs datalad-container's docker adapter, version 1.2.5, for the tests
# and the benchmark to compare imgsave against; idempotent.
#
#   1. python3-datalad from Debian 12 (bookworm), which the adapter imports
#      (datalad.utils). Nothing already installed is upgraded: the install is
#      simulated first and refused if apt would upgrade or remove anything.
#      Debian 12's own datalad-container (1.1.9) is NOT installed.
#   2. datalad-container 1.2.5 from Debian trixie, downloaded and unpacked
#      (dpkg -x, not installed) under $IMGSAVE_DATALAD_DIR.
#   3. A check: the adapter reports version 1.2.5, and its `save` and `run`
#      work on a tiny busybox image made offline, on the default daemon.
#      IMGSAVE_DATALAD_VERIFY=0 skips the docker part of it.
#
# Prints nothing on stdout but one line, the command prefix to use:
#   IMGSAVE_DATALAD_ADAPTER='env PYTHONPATH=... /usr/bin/python3 -m datalad_container.adapters.docker'
# so that `$IMGSAVE_DATALAD_ADAPTER save IMAGE DIR` and
# `$IMGSAVE_DATALAD_ADAPTER run DIR CMD...` work. Needs root (apt-get).
set -euo pipefail

want_version=1.2.5
dest=${IMGSAVE_DATALAD_DIR:-/var/lib/imgsave-ci/datalad-container}
# Debian 12's interpreter, never whatever python3 comes first on PATH.
python=/usr/bin/python3
pydir=$dest/usr/lib/python3/dist-packages
adapter="env PYTHONPATH=$pydir $python -m datalad_container.adapters.docker"

log() { printf 'datalad: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# apt-get with its chatter on stderr, so stdout stays the one line.
apt_q() { DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get -q "$@" >&2; }

# install_datalad installs python3-datalad from bookworm unless Debian's
# python3 can already import datalad.
install_datalad() {
	if "$python" -c 'import datalad' 2>/dev/null && command -v datalad >/dev/null; then
		return 0
	fi
	[ -x "$python" ] || die "$python is missing (Debian 12's python3)"
	apt-cache show python3-datalad/bookworm >/dev/null 2>&1 || apt_q update
	# Refuse to go on if apt would upgrade or remove an installed package:
	# "Inst pkg [old-version] (...)" is an upgrade, "Remv" a removal.
	local plan
	plan=$(apt-get install -s --no-install-recommends python3-datalad/bookworm datalad/bookworm 2>/dev/null)
	if grep -Eq '^(Inst [^ ]+ \[|Remv )' <<<"$plan"; then
		grep -E '^(Inst [^ ]+ \[|Remv )' <<<"$plan" >&2
		die "installing python3-datalad would change installed packages; not doing it"
	fi
	# datalad: the command (containers-add, containers-run, rerun, clone).
	log "installing python3-datalad and datalad from bookworm"
	apt_q install -y --no-install-recommends python3-datalad/bookworm datalad/bookworm
	"$python" -c 'import datalad' || die "python3-datalad installed but $python cannot import datalad"
}

# unpack_adapter downloads datalad-container from trixie and unpacks it
# into $dest, unless a complete unpacked copy is there already.
unpack_adapter() {
	if [ -f "$pydir/datalad_container/adapters/docker.py" ] && [ -f "$pydir/datalad_container/version.py" ]; then
		return 0
	fi
	apt-cache show datalad-container/trixie >/dev/null 2>&1 || apt_q update
	local tmp
	tmp=$(mktemp -d)
	# Let apt's _apt user write the download there (else apt warns).
	chown _apt "$tmp" 2>/dev/null || true
	log "unpacking datalad-container from trixie into $dest"
	(cd "$tmp" && apt_q download "datalad-container/trixie")
	mkdir -p "$tmp/root"
	dpkg -x "$tmp"/datalad-container_*.deb "$tmp/root"
	# Move it into place whole, so a failed run never leaves half a copy.
	rm -rf "$dest"
	mkdir -p "$(dirname "$dest")"
	mv "$tmp/root" "$dest"
	rm -rf "$tmp"
}

# check_version fails unless the unpacked adapter is $want_version.
check_version() {
	local got
	got=$(cd / && PYTHONPATH=$pydir "$python" -c \
		'import datalad_container.version as v; print(v.__version__)')
	[ "$got" = "$want_version" ] || die "datalad-container is $got under $dest, want $want_version"
	# And that the adapter module itself imports (it needs datalad).
	(cd / && PYTHONPATH=$pydir "$python" -c 'import datalad_container.adapters.docker') ||
		die "the docker adapter does not import"
}

# check_docker saves a tiny busybox image with the adapter and runs it from
# the directory, on the default daemon. Run it in a subshell: its trap
# cleans up when that subshell exits.
check_docker() {
	export DOCKER_HOST=unix:///var/run/docker.sock
	local work img=imgsave-datalad-check/busybox:$$
	work=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: locals are gone at exit
	trap "docker rmi -f '$img' >/dev/null 2>&1 || true; rm -rf '$work'" EXIT
	mkdir -p "$work/rootfs/bin"
	cp /bin/busybox "$work/rootfs/bin/"
	ln -s busybox "$work/rootfs/bin/sh"
	ln -s busybox "$work/rootfs/bin/echo"
	tar -C "$work/rootfs" -c . | docker import - "$img" >/dev/null
	local out
	out=$($adapter save "$img" "$work/img" 2>&1) || die "the adapter's save failed: $out"
	[ -f "$work/img/manifest.json" ] || die "the adapter's save wrote no manifest.json"
	# Run from $work: the adapter mounts the current directory at /tmp.
	out=$(cd "$work" && $adapter run "$work/img" sh -c 'echo adapter-ok' </dev/null) ||
		die "the adapter's run failed"
	[ "$out" = adapter-ok ] || die "the adapter's run printed '$out', want adapter-ok"
	# And once more with the image gone from the engine, so run loads it.
	docker rmi -f "$img" >/dev/null
	out=$(cd "$work" && $adapter run "$work/img" sh -c 'echo adapter-ok' </dev/null 2>"$work/err") ||
		die "the adapter's run (loading) failed: $(cat "$work/err")"
	[ "$out" = adapter-ok ] || die "the adapter's run (loading) printed '$out', want adapter-ok"
}

install_datalad
unpack_adapter
check_version
if [ "${IMGSAVE_DATALAD_VERIFY:-1}" != 0 ]; then
	(check_docker)
fi
echo "IMGSAVE_DATALAD_ADAPTER='$adapter'"
# The datalad command finds the containers extension through this.
echo "IMGSAVE_DATALAD_PYTHONPATH='$pydir'"
