#!/usr/bin/env bash
# The quick start: make a tiny busybox image offline, save it with imgsave,
# remove it from the engine, and run it from the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/engines.sh)"
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh echo cat ls id; do ln -s busybox "$work/rootfs/bin/$a"; done
echo "hello from an archived image" >"$work/rootfs/hello"
tar -C "$work/rootfs" -c . | docker import -c 'CMD ["/bin/sh"]' - imgsave-demo/busybox:1 >/dev/null

set -x
bin/imgsave save imgsave-demo/busybox:1 "$work/img"
find "$work/img" -type f | sort
docker rmi imgsave-demo/busybox:1 >/dev/null
bin/imgsave run "$work/img" -- cat /hello 2>/dev/null || tar -C "$work/img" -c . | docker load
