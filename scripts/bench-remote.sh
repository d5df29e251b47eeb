#!/usr/bin/env bash
# bench-remote.sh: `git annex get` of an image directory through imgsave's
# special remote (the layers out of the engine) against a directory
# special remote (type=directory) on the same disk, in the same run; part
# of `make bench`. Prints a Markdown table on stdout, progress on stderr.
# Wall seconds are medians of IMGSAVE_BENCH_RUNS (default 3) gets into a
# fresh clone each; "peak RSS" is the largest resident set of git-annex
# and its children (the remote included), from /usr/bin/time.
#
# Environment: IMGSAVE_BENCH_REMOTE_MB (default 1500), IMGSAVE_BENCH_RUNS,
# DOCKER_HOST (the engine; default socket; `make bench` runs this again for
# each socket in IMGSAVE_BENCH_ENGINES).
set -euo pipefail
cd "$(dirname "$0")/.."

mb=${IMGSAVE_BENCH_REMOTE_MB:-1500}
runs=${IMGSAVE_BENCH_RUNS:-3}
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

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The engine's own stream, which bounds the remote: seconds to the first
# byte of `docker save` and to its end.
log "docker save of the image, first byte and whole"
sync # the image just made is still being written back
first=$( { /usr/bin/time -f '%e' sh -c "docker save '$ref' | head -c 1 >/dev/null" ; } 2>&1 | tail -n 1)
whole=$( { /usr/bin/time -f '%e' sh -c "docker save '$ref' >/dev/null" ; } 2>&1 | tail -n 1)

declare -A secs rss
for remote in imgsave dir; do
	: >"$work/$remote.t"
	for i in $(seq 1 "$runs"); do
		log "git annex get --from $remote ($i/$runs)"
		get "$remote" >>"$work/$remote.t"
	done
	secs[$remote]=$(cut -d' ' -f1 "$work/$remote.t" | median)
	rss[$remote]=$(cut -d' ' -f2 "$work/$remote.t" | median)
done

ratio=$(awk -v a="${secs[imgsave]}" -v b="${secs[dir]}" 'BEGIN {printf "%.2f", a / b}')
echo
echo "### git annex get of a ${mb} MB image ($(docker version --format '{{.Server.Version}}'), medians of $runs)"
echo
echo "| | wall | peak RSS |"
echo "|---|---|---|"
echo "| \`git annex get --from imgsave\` (out of the engine) | ${secs[imgsave]} s (${ratio}×) | $((rss[imgsave] / 1024)) MiB |"
echo "| \`git annex get --from dir\` (directory special remote, same disk) | ${secs[dir]} s | $((rss[dir] / 1024)) MiB |"
echo "| \`docker save\` of the image (the engine's stream, which bounds the remote) | first byte ${first} s, all ${whole} s | |"
