#!/usr/bin/env bash
# Installs cosign 2.5 from Debian trixie (#22), idempotently: the package's
# static binary unpacked under $IMGSAVE_ENGINES_DIR/cosign (the trixie apt
# source is scripts/engines.sh's; run that first).
#
# Prints nothing on stdout but the environment to use:
#   IMGSAVE_COSIGN='/var/lib/imgsave-ci/cosign/usr/bin/cosign'
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

root=${IMGSAVE_ENGINES_DIR:-/var/lib/imgsave-ci}
dir=$root/cosign
log() { printf 'cosign: %s\n' "$*" >&2; }

if ! "$dir/usr/bin/cosign" version >/dev/null 2>&1; then
	[ -f /etc/apt/sources.list.d/trixie.sources ] || { log "no trixie apt source: run scripts/engines.sh first"; exit 1; }
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	log "unpacking cosign from trixie into $dir"
	(cd "$work" && flock /var/lock/imgsave-apt.lock apt-get download -qq cosign/trixie 2>/dev/null) ||
		{ flock /var/lock/imgsave-apt.lock apt-get update -qq && (cd "$work" && apt-get download -qq cosign/trixie); }
	mkdir -p "$dir"
	dpkg -x "$work"/cosign_*.deb "$dir"
fi
"$dir/usr/bin/cosign" version >/dev/null 2>&1
printf "IMGSAVE_COSIGN='%s'\n" "$dir/usr/bin/cosign"
