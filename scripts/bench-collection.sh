#!/usr/bin/env bash
# Benchmark of a collection (#31): wall time and peak RSS of `imgsave ls -r`
# and `imgsave du` on generated git-annex datasets of 20, 200 and 1000 image
# directories (a few bases, apps on them, versions of each; a quarter in a
# subdataset), with every layer present and in a fresh clone with none,
# as a Markdown table on stdout. Not run by make test; a report, it
# asserts nothing. Needs git-annex and bin/imgsave (make build).
# Usage: scripts/bench-collection.sh [N...]   (default: 20 200 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/bin/imgsave
go build -o "$bin" ./cmd/imgsave # always: a stale binary may lack a command
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org
rounds=5

# time_cmd prints the median wall seconds and the largest peak RSS (MiB)
# of $rounds runs of the command, run in the folder $1.
time_cmd() {
	local dir=$1; shift
	local walls=() rss=0
	for _ in $(seq $rounds); do
		local start end m
		start=$EPOCHREALTIME
		m=$(cd "$dir" && /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1)
		end=$EPOCHREALTIME
		walls+=("$(echo "$end - $start" | bc)")
		(( m > rss )) && rss=$m
	done
	printf '%s %s\n' "$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (rounds + 1) / 2 ))p")" "$(( rss / 1024 ))"
}

echo "| images | layers | command | wall (s, median of $rounds) | peak RSS (MiB) |"
echo "|---:|---|---|---:|---:|"
for n in "${@:-20 200 1000}"; do
	for n1 in $n; do
		ds=$work/ds$n1
		echo "bench-collection: generating $n1 images" >&2
		git init -q "$ds" && git -C "$ds" annex init -q
		git init -q "$ds/sub" && git -C "$ds/sub" annex init -q
		go test . -count=1 -run '^TestWriteCollection$' -args -gen-collection="$ds" -gen-images="$n1" >/dev/null
		git -C "$ds/sub" annex add -q . && git -C "$ds/sub" commit -q -m images
		git -C "$ds" annex add -q apps && git -C "$ds" submodule add -q ./sub sub >/dev/null && git -C "$ds" commit -q -m images
		git clone -q "$ds" "$work/clone$n1"
		git -C "$work/clone$n1" -c protocol.file.allow=always submodule update -q --init
		for where in present absent; do
			dir=$ds
			[ $where = absent ] && dir=$work/clone$n1
			for cmd in "ls -r" "du"; do
				# shellcheck disable=SC2086
				read -r wall rss < <(time_cmd "$dir" "$bin" $cmd)
				echo "| $n1 | $where | imgsave $cmd | $wall | $rss |"
			done
		done
	done
done
