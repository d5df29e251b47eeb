#!/usr/bin/env bash
# Regenerates the OCI-layout fixtures written by tools other than Docker, all
# from testdata/legacy.tar (see testdata/README.md):
#
#   testdata/skopeo-oci.tar      skopeo copy docker-archive: -> oci:
#   testdata/podman-oci-dir.tar  podman load, then podman save --format oci-dir
#   testdata/crane-oci.tar       skopeo push (Docker v2 manifest, gzip) to a
#                                local registry, crane pull --format oci
#   testdata/crane-oci-zstd.tar  skopeo push --format oci, zstd layers, to a
#                                local registry, crane pull --format oci
#
# Each tarball holds the layout directory's contents (./oci-layout,
# ./index.json, ./blobs/sha256/...), written deterministically. Idempotent:
# it overwrites the four files and leaves nothing else behind. It touches
# neither Docker engine nor podman's system store (podman runs on a throwaway
# store), and the registry is Debian's docker-registry on 127.0.0.1 with
# throwaway storage, stopped on exit. Nothing is pulled from outside.
#
# Installs skopeo, docker-registry and podman with apt-get when missing, and
# crane with go install into a temporary GOBIN. Needs root.
set -euo pipefail
umask 022

CRANE_VERSION=${CRANE_VERSION:-v0.22.1}
repo=$(cd "$(dirname "$0")/.." && pwd)
legacy=$repo/testdata/legacy.tar
ref=imgsave-fixture/hello:1

log() { printf 'fixtures-oci: %s\n' "$*" >&2; }

need=()
command -v skopeo >/dev/null || need+=(skopeo)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v podman >/dev/null || need+=(podman)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	apt-get -o DPkg::Lock::Timeout=600 update -qq
	DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 \
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

tmp=$(mktemp -d /tmp/fixtures-oci.XXXXXX)
registry_pid=
cleanup() {
	if [ -n "$registry_pid" ]; then
		kill "$registry_pid" 2>/dev/null || true
		wait "$registry_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

log "installing crane $CRANE_VERSION into $tmp/bin"
(cd "$tmp" && GOBIN=$tmp/bin GOFLAGS= go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION")
crane=$tmp/bin/crane

# mktar DIR NAME: the contents of DIR as testdata/NAME, reproducibly.
mktar() {
	tar -C "$1" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$repo/testdata/$2.part" .
	mv "$repo/testdata/$2.part" "$repo/testdata/$2"
	log "wrote testdata/$2"
}

# 1. skopeo, straight from the archive.
skopeo copy -q "docker-archive:$legacy" "oci:$tmp/skopeo:$ref"
mktar "$tmp/skopeo" skopeo-oci.tar

# 2. podman, on a store of its own.
podman_() { podman --root "$tmp/podman/root" --runroot "$tmp/podman/run" --storage-driver vfs "$@"; }
podman_ load -q <"$legacy" >/dev/null
podman_ save -q --format oci-dir -o "$tmp/podman-out" "$ref"
mktar "$tmp/podman-out" podman-oci-dir.tar

# 3 and 4: through a registry. Each push goes to a registry with empty
# storage: skopeo's blob-info cache (/var/lib/containers/cache) would
# otherwise reuse the gzip layer already pushed instead of compressing to zstd.
port=
for p in $(seq 5055 5099); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { log "no free port in 5055-5099"; exit 1; }

start_registry() { # storage-dir
	mkdir -p "$1"
	cat >"$tmp/registry.yml" <<-EOF
		version: 0.1
		log:
		  level: warn
		storage:
		  filesystem:
		    rootdirectory: $1
		http:
		  addr: 127.0.0.1:$port
	EOF
	docker-registry serve "$tmp/registry.yml" >>"$tmp/registry.log" 2>&1 &
	registry_pid=$!
	for _ in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		kill -0 "$registry_pid" 2>/dev/null || break
		sleep 0.1
	done
	log "registry did not come up on 127.0.0.1:$port:"
	cat "$tmp/registry.log" >&2
	return 1
}
stop_registry() {
	kill "$registry_pid"
	wait "$registry_pid" 2>/dev/null || true
	registry_pid=
}

# crane_fixture NAME [skopeo copy flags...]
crane_fixture() {
	local name=$1
	shift
	start_registry "$tmp/storage-$name"
	skopeo copy -q --dest-tls-verify=false "$@" "docker-archive:$legacy" "docker://127.0.0.1:$port/$ref"
	"$crane" pull --insecure --format oci "127.0.0.1:$port/$ref" "$tmp/crane-$name"
	stop_registry
	mktar "$tmp/crane-$name" "$name.tar"
}
crane_fixture crane-oci
crane_fixture crane-oci-zstd --format oci --dest-compress-format zstd

# The zstd push must have produced zstd: check rather than trust the cache note.
grep -q 'tar+zstd' "$tmp"/crane-crane-oci-zstd/blobs/sha256/* ||
	{ log "crane-oci-zstd.tar has no zstd layer"; exit 1; }
