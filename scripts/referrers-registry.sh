#!/usr/bin/env bash
# Builds and starts, idempotently, a registry with the OCI 1.1 referrers
# API on 127.0.0.1:$IMGSAVE_REGISTRY_REFERRERS_PORT (5002): go-containerregistry's,
# loader/registry/registrytest/testdata/referrers-registry (#30). Debian's
# registry 2.8 (scripts/engines.sh, which calls this) stays the one
# without referrers. Its manifests are in memory: a restart empties it.
#
# Prints nothing on stdout but the environment to use:
#   IMGSAVE_REGISTRY_REFERRERS='127.0.0.1:5002'
set -euo pipefail
cd "$(dirname "$0")/.."

root=${IMGSAVE_ENGINES_DIR:-/var/lib/imgsave-ci}
dir=$root/referrers-registry
port=${IMGSAVE_REGISTRY_REFERRERS_PORT:-5002}
log() { printf 'referrers-registry: %s\n' "$*" >&2; }

up() { curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; }

if ! up; then
	mkdir -p "$dir/blobs"
	log "building and starting the referrers registry on 127.0.0.1:$port"
	go build -o "$dir/referrers-registry.new" ./loader/registry/registrytest/testdata/referrers-registry
	mv "$dir/referrers-registry.new" "$dir/referrers-registry"
	setsid nohup "$dir/referrers-registry" -addr "127.0.0.1:$port" -dir "$dir/blobs" >"$dir/log" 2>&1 </dev/null &
	for _ in $(seq 1 100); do
		up && break
		sleep 0.1
	done
	up || { log "it did not come up:"; tail -n 20 "$dir/log" >&2; exit 1; }
fi
echo "IMGSAVE_REGISTRY_REFERRERS='127.0.0.1:$port'"
