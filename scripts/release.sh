#!/bin/sh
# Cross-builds imgsave and its keyless verifier imgsave-sigstore for every
# platform it supports into bin/, named imgsave-VERSION-OS-ARCH[.exe] and
# imgsave-sigstore-VERSION-OS-ARCH[.exe], with VERSION stamped in (imgsave --version)
# and a SHA256SUMS file beside them. CGO is off: the binaries are static and
# need nothing on the target but a container engine.
#
# usage: scripts/release.sh VERSION   (make release does it with git describe)
set -eu
version=${1:?usage: scripts/release.sh VERSION}
go=${GO:-go}
platforms=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64}
cd "$(dirname "$0")/.."
mkdir -p bin
names=
for p in $platforms; do
	os=${p%/*} arch=${p#*/}
	for cmd in imgsave imgsave-sigstore; do
		name=$cmd-$version-$os-$arch
		if [ "$os" = windows ]; then name=$name.exe; fi
		CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$go" build -trimpath \
			-ldflags "-s -w -X main.version=$version" -o "bin/$name" ./cmd/$cmd
		echo "bin/$name"
		names="$names $name"
	done
done
# shellcheck disable=SC2086 # names holds file names without spaces
(cd bin && sha256sum $names >"imgsave-$version.SHA256SUMS")
echo "bin/imgsave-$version.SHA256SUMS"
