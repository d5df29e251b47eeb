#!/usr/bin/env bash
# The quick start: starts the engine if needed, makes a tiny busybox image
# offline, saves it with imgsave, removes it from the engine, and runs it
# again from the directory (which loads it back).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/engines.sh >/dev/null
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
work=$(mktemp -d)
trap 'rm -rf "$work"; docker rmi imgsave-demo/busybox:1 >/dev/null 2>&1 || true' EXIT
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh echo cat ls id; do ln -s busybox "$work/rootfs/bin/$a"; done
echo "hello from an archived image" >"$work/rootfs/hello"
tar -C "$work/rootfs" -c . | docker import -c 'CMD ["/bin/sh"]' - imgsave-demo/busybox:1 >/dev/null

set -x
bin/imgsave save imgsave-demo/busybox:1 "$work/img"
bin/imgsave ls "$work/img"
bin/imgsave verify "$work/img"
docker rmi imgsave-demo/busybox:1
bin/imgsave run "$work/img" -- cat /hello
