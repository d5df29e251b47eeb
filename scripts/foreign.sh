#!/usr/bin/env bash
# Makes foreign CPUs testable here (#21), idempotently:
#   1. Debian's qemu-user-static, and binfmt_misc mounted with its
#      interpreters registered (update-binfmts), so that an arm64 container
#      runs under emulation on this amd64 machine;
#   2. an arm64 busybox for building test images offline: Debian's
#      busybox-static for arm64 (dpkg --add-architecture arm64, apt-get
#      download, dpkg-deb -x) under $IMGSAVE_ENGINES_DIR/arm64;
#   3. crane (go install, from the module proxy), a peer that writes
#      multi-platform OCI layouts, under $IMGSAVE_ENGINES_DIR/bin.
#
# Prints nothing on stdout but the environment to use:
#   IMGSAVE_ARM64_BUSYBOX='/var/lib/imgsave-ci/arm64/bin/busybox'
#   IMGSAVE_EMULATION='linux/arm64'   (empty when registration failed)
#   IMGSAVE_CRANE='/var/lib/imgsave-ci/bin/crane'
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

root=${IMGSAVE_ENGINES_DIR:-/var/lib/imgsave-ci}
log() { printf 'foreign: %s\n' "$*" >&2; }
apt_get() { DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 flock /var/lock/imgsave-apt.lock apt-get "$@"; }

need=()
for p in qemu-user-static binfmt-support; do
	dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	apt_get update -qq
	apt_get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

emulation=
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
	mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || log "cannot mount binfmt_misc"
fi
if [ -e /proc/sys/fs/binfmt_misc/register ]; then
	[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
	if grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null; then
		emulation=linux/arm64
	else
		log "qemu-aarch64 is not registered with binfmt_misc"
	fi
fi

bb=$root/arm64/bin/busybox
if [ ! -x "$bb" ]; then
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		dpkg --add-architecture arm64
	fi
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	log "downloading busybox-static for arm64"
	apt_get update -qq
	(cd "$work" && apt_get download -qq busybox-static:arm64 >/dev/null)
	dpkg-deb -x "$work"/busybox-static_*_arm64.deb "$work/x"
	install -D -m 755 "$work/x/bin/busybox" "$bb"
fi
crane=$root/bin/crane
if ! "$crane" version >/dev/null 2>&1; then
	log "installing crane into $root/bin"
	GOBIN=$root/bin GOFLAGS= go install github.com/google/go-containerregistry/cmd/crane@v0.22.1 >&2
fi
printf "IMGSAVE_ARM64_BUSYBOX='%s'\n" "$bb"
printf "IMGSAVE_CRANE='%s'\n" "$crane"
printf "IMGSAVE_EMULATION='%s'\n" "$emulation"
