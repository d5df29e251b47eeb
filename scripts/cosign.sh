#!/usr/bin/env bash
# Installs cosign 2.5 from Debian trixie (#22), idempotently: the package's
# static binary unpacked under $IMGSAVE_ENGINES_DIR/cosign (the trixie apt
# source is scripts/engines.sh's; run that first). Beside it, cosign v3
# (#30: the Sigstore bundle format, attached by OCI referrers), built from
# the Go module proxy into $IMGSAVE_ENGINES_DIR/cosign3 (some 3 minutes
# with Go 1.26; once).
#
# Prints nothing on stdout but the environment to use:
#   IMGSAVE_COSIGN='/var/lib/imgsave-ci/cosign/usr/bin/cosign'
#   IMGSAVE_COSIGN3='/var/lib/imgsave-ci/cosign3/cosign'
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

root=${IMGSAVE_ENGINES_DIR:-/var/lib/imgsave-ci}
dir=$root/cosign
dir3=$root/cosign3
cosign3_version=v3.1.3
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

# cosign v3: built into a temporary folder and renamed into place, under a
# lock, so that a build cut short leaves nothing that looks installed.
if ! "$dir3/cosign" version 2>/dev/null | grep -q "${cosign3_version#v}"; then
	mkdir -p "$root"
	exec 9>"$root/cosign3.lock"
	flock 9
	if ! "$dir3/cosign" version 2>/dev/null | grep -q "${cosign3_version#v}"; then
		log "building cosign $cosign3_version into $dir3 (some 3 minutes)"
		tmp=$(mktemp -d "$root/cosign3.XXXXXX")
		trap 'rm -rf "${work:-}" "$tmp"' EXIT
		GOBIN=$tmp GOFLAGS=-buildvcs=false go install "github.com/sigstore/cosign/v3/cmd/cosign@$cosign3_version" >&2
		chmod 755 "$tmp" # the rootless tests' user runs it too
		rm -rf "$dir3"
		mv "$tmp" "$dir3"
	fi
	exec 9>&-
fi
"$dir3/cosign" version >/dev/null 2>&1
printf "IMGSAVE_COSIGN='%s'\n" "$dir/usr/bin/cosign"
printf "IMGSAVE_COSIGN3='%s'\n" "$dir3/cosign"
