#!/usr/bin/env bash
# Builds and installs Apptainer 1.5.3 (not packaged in Debian 12) for the
# HPC engine tests (#20), idempotently: a machine where it is installed
# already only gets its configuration checked.
#
#   1. Debian's build and runtime dependencies (squashfs-tools, squashfuse,
#      fuse2fs, fuse-overlayfs, uidmap, libseccomp-dev, libsubid-dev).
#   2. The source from $IMGSAVE_APPTAINER_SRC, default the project's shared
#      vendor folder (../shared/vendor beside the checkout, or beside the
#      repository a fresh clone came from), checked against its sha256; `./mconfig --without-network`, make, make install under
#      $IMGSAVE_ENGINES_DIR/apptainer (default /var/lib/imgsave-ci).
#      About 5 minutes on 2 cores; Go modules come from the module proxy.
#   3. apptainer.conf: `root default capabilities = file`, because the
#      sandboxes here drop CAP_SYS_RESOURCE and root's exec fails without it.
#
# Prints nothing on stdout but the environment to use:
#   IMGSAVE_APPTAINER='/var/lib/imgsave-ci/apptainer/bin/apptainer'
# Needs root (apt-get). Never installs crun: podman prefers it, and crun
# refuses this machine's hybrid cgroups.
set -euo pipefail
cd "$(dirname "$0")/.."

version=1.5.3
sum=7a207ea593d49c720099b295bb4514a32574c7e4b470b40b1e5a059d610d393d
root=${IMGSAVE_ENGINES_DIR:-/var/lib/imgsave-ci}
prefix=$root/apptainer
log() { printf 'apptainer: %s\n' "$*" >&2; }

# The source: IMGSAVE_APPTAINER_SRC, else the shared vendor folder beside
# this checkout or beside the repository it was cloned from (CI clones it
# afresh), else upstream's release tarball, which the user downloads.
src=${IMGSAVE_APPTAINER_SRC:-}
if [ -z "$src" ]; then
	cands=("../shared/vendor/apptainer-$version.tar.gz")
	origin=$(git remote get-url origin 2>/dev/null || true)
	[ -d "$origin" ] && cands+=("$origin/../shared/vendor/apptainer-$version.tar.gz")
	for c in "${cands[@]}"; do
		[ -f "$c" ] && { src=$c; break; }
	done
	src=${src:-${cands[0]}}
fi

need=()
for p in build-essential pkg-config libseccomp-dev libsubid-dev squashfs-tools squashfuse fuse2fs fuse-overlayfs uidmap; do
	dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	flock /var/lock/imgsave-apt.lock apt-get update -qq
	DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 flock /var/lock/imgsave-apt.lock apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! "$prefix/bin/apptainer" --version 2>/dev/null | grep -qx "apptainer version $version"; then
	[ -f "$src" ] || { log "no source at $src (download apptainer-$version.tar.gz from Apptainer's release page and set IMGSAVE_APPTAINER_SRC to it)"; exit 1; }
	echo "$sum  $src" | sha256sum -c --quiet - || { log "$src: sha256 is not $sum"; exit 1; }
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	log "building Apptainer $version into $prefix (about 5 minutes)"
	tar -C "$work" -xzf "$src"
	dir=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	(
		cd "$dir"
		./mconfig --without-network --prefix="$prefix" -b build >"$work/mconfig.log" 2>&1 ||
			{ tail -n 30 "$work/mconfig.log" >&2; exit 1; }
		make -C build >"$work/make.log" 2>&1 || { tail -n 30 "$work/make.log" >&2; exit 1; }
		make -C build install >"$work/install.log" 2>&1 || { tail -n 30 "$work/install.log" >&2; exit 1; }
	)
fi

conf=$prefix/etc/apptainer/apptainer.conf
if ! grep -qx 'root default capabilities = file' "$conf"; then
	sed -i 's/^root default capabilities = .*/root default capabilities = file/' "$conf"
	grep -qx 'root default capabilities = file' "$conf" || echo 'root default capabilities = file' >>"$conf"
fi
"$prefix/bin/apptainer" --version >/dev/null
printf "IMGSAVE_APPTAINER='%s'\n" "$prefix/bin/apptainer"
