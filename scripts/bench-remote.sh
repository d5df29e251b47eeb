#!/usr/bin/env bash
# bench-remote.sh: `git annex get` of an image directory through imgsave's
# special remote (the layers out of the engine) against a directory
# special remote (type=directory) on the same disk, and the engine's own
# `docker save >/dev/null`, which bounds the remote, interleaved round by
# round; part of `make bench`. Prints a Markdown table on stdout, progress
# on stderr. Wall seconds are medians (and spread) of
# IMGSAVE_BENCH_REMOTE_RUNS (default 5) rounds, each get into a fresh
# clone; "peak RSS" is the largest resident set of git-annex and its
# children (the remote included), from /usr/bin/time.
#
# Environment: IMGSAVE_BENCH_REMOTE_MB (default 1500), IMGSAVE_BENCH_REMOTE_RUNS,
# DOCKER_HOST (the engine; default socket; `make bench` runs this again for
# each socket in IMGSAVE_BENCH_ENGINES).
set -euo pipefail
cd "$(dirname "$0")/.."

mb=${IMGSAVE_BENCH_REMOTE_MB:-1500}
runs=${IMGSAVE_BENCH_REMOTE_RUNS:-5}
bin=$PWD/bin
log() { printf 'bench-remote: %s\n' "$*" >&2; }

[ -x "$bin/imgsave" ] || { log "no bin/imgsave: run make build"; exit 1; }
ln -sf imgsave "$bin/git-annex-remote-imgsave"
export PATH=$bin:$PATH
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org

work=$(mktemp -d "${TMPDIR:-/tmp}/imgsave-bench-remote.XXXXXX")
ref=imgsave-bench/remote:$$
cleanup() {
	docker rmi -f "$ref" >/dev/null 2>&1 || true
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "making a ${mb} MB image"
scripts/mkimage.sh "$ref" "$mb" >/dev/null

log "saving it into a dataset with both remotes"
git init -q "$work/ds"
git -C "$work/ds" annex init -q origin
imgsave remote init "$work/ds"
mkdir "$work/dir"
git -C "$work/ds" annex initremote -q dir type=directory directory="$work/dir" encryption=none
imgsave -q save "$ref" "$work/ds/img" >/dev/null
git -C "$work/ds" annex add -q img
git -C "$work/ds" commit -q -m img
git -C "$work/ds" annex copy -q --to dir img

# get REMOTE: seconds and peak KiB of one get into a fresh clone.
get() {
	rm -rf "$work/clone"
	git clone -q "$work/ds" "$work/clone"
	git -C "$work/clone" annex init -q clone
	git -C "$work/clone" annex enableremote -q dir directory="$work/dir" >/dev/null 2>&1 || true
	git -C "$work/clone" remote remove origin
	sync
	/usr/bin/time -f '%e %M' -o "$work/time" git -C "$work/clone" annex get -q --from "$1" img
	cat "$work/time"
	chmod -R u+w "$work/clone"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# spread: "smallest–largest" of the numbers on stdin.
spread() { sort -g | awk 'NR == 1 {a = $1} {b = $1} END {printf "%.1f–%.1f", a, b}'; }

# The engine's own stream, which bounds the remote: seconds to the first
# byte of `docker save` (once) and to its end (each round).
log "docker save of the image, first byte"
sync # the image just made is still being written back
first=$( { /usr/bin/time -f '%e' sh -c "docker save '$ref' | head -c 1 >/dev/null" ; } 2>&1 | tail -n 1)

: >"$work/imgsave.t"
: >"$work/dir.t"
: >"$work/save.t"
for i in $(seq 1 "$runs"); do
	for remote in imgsave dir; do
		log "git annex get --from $remote ($i/$runs)"
		get "$remote" >>"$work/$remote.t"
	done
	log "docker save >/dev/null ($i/$runs)"
	/usr/bin/time -f '%e' -o "$work/time" sh -c "docker save '$ref' >/dev/null"
	cat "$work/time" >>"$work/save.t"
done

declare -A secs rss spr
for remote in imgsave dir save; do
	secs[$remote]=$(cut -d' ' -f1 "$work/$remote.t" | median)
	spr[$remote]=$(cut -d' ' -f1 "$work/$remote.t" | spread)
done
for remote in imgsave dir; do
	rss[$remote]=$(cut -d' ' -f2 "$work/$remote.t" | median)
done
# per-round ratios: median (spread)
pr() { paste -d' ' <(cut -d' ' -f1 "$work/$1.t") <(cut -d' ' -f1 "$work/$2.t") | awk '{print $1 / $2}' | sort -g |
	awk '{r[NR] = $1} END {printf "%.2f× (%.2f–%.2f)", (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2, r[1], r[NR]}'; }

echo
echo "### git annex get of a ${mb} MB image ($(docker version --format '{{.Server.Version}}'), $runs interleaved rounds)"
echo
echo "| | wall s: median (spread) | per round, against the directory remote | peak RSS |"
echo "|---|---|---|---|"
echo "| \`git annex get --from imgsave\` (out of the engine) | ${secs[imgsave]} (${spr[imgsave]}) | $(pr imgsave dir) | $((rss[imgsave] / 1024)) MiB |"
echo "| \`git annex get --from dir\` (directory special remote, same disk) | ${secs[dir]} (${spr[dir]}) | | $((rss[dir] / 1024)) MiB |"
echo "| \`docker save IMG >/dev/null\` (the engine's stream, which bounds the remote; first byte ${first} s) | ${secs[save]} (${spr[save]}) | $(pr save dir) | |"
echo "| imgsave get / docker save | | $(pr imgsave save) | |"
