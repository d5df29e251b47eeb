#!/usr/bin/env bash
# mkimage.sh REF [MB [LAYERS]]: makes a test image offline in the engine
# that DOCKER_HOST names (default: the default socket), from /bin/busybox
# (static) and MB megabytes of incompressible random data split evenly over
# LAYERS layers (default 3), two files a layer. MB 0 (the default) makes a
# one-layer image holding busybox alone.
#
# The first layer is a `docker import` of busybox plus its share of the data;
# each further layer is a COPY in a `docker build` FROM that local image, so
# nothing is ever pulled. The intermediate tag is removed again: removing REF
# removes every layer. Prints the image ID on stdout.
set -euo pipefail

ref=${1:?usage: mkimage.sh REF [MB [LAYERS]]}
mb=${2:-0}
layers=${3:-3}
[ "$mb" -gt 0 ] || layers=1
[ "$layers" -ge 1 ] || { echo "mkimage.sh: LAYERS must be at least 1" >&2; exit 2; }

work=$(mktemp -d)
base=$ref-mkimage-base
trap 'rm -rf "$work"' EXIT

# randfiles DIR KB: two files of random data adding up to KB kibibytes.
randfiles() {
	mkdir -p "$1"
	head -c "$(($2 / 2))K" /dev/urandom >"$1/a.bin"
	head -c "$(($2 - $2 / 2))K" /dev/urandom >"$1/b.bin"
}

per_layer_kb=$((mb * 1024 / layers))

# Layer 1: busybox (with sh and true, which the benchmarks run) and data.
mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true echo cat ls; do ln -s busybox "$work/rootfs/bin/$a"; done
[ "$mb" -eq 0 ] || randfiles "$work/rootfs/data/l1" "$per_layer_kb"
tag=$ref
[ "$layers" -eq 1 ] || tag=$base
tar -C "$work/rootfs" -c . | docker import -c 'CMD ["/bin/sh"]' - "$tag" >/dev/null
rm -rf "$work/rootfs"

# Layers 2..N: one COPY each, built by the classic builder (BuildKit would
# want its frontend image from a registry on some engines).
if [ "$layers" -gt 1 ]; then
	mkdir -p "$work/ctx"
	echo "FROM $base" >"$work/ctx/Dockerfile"
	for i in $(seq 2 "$layers"); do
		randfiles "$work/ctx/l$i" "$per_layer_kb"
		echo "COPY l$i /data/l$i" >>"$work/ctx/Dockerfile"
	done
	# (The classic builder's deprecation warning is dropped unless it fails.)
	DOCKER_BUILDKIT=0 docker build -q --force-rm -t "$ref" "$work/ctx" >/dev/null 2>"$work/build.err" ||
		{ cat "$work/build.err" >&2; exit 1; }
	docker rmi "$base" >/dev/null
fi
docker image inspect -f '{{.Id}}' "$ref"
