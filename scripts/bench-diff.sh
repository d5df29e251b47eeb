#!/usr/bin/env bash
# Benchmark of `imgsave diff` (#32): two image directories of
# IMGSAVE_BENCH_DIFF_MB MB each (default 300; #32 asks for 1500), random
# files in three uncompressed layers, made offline by archive/imgdiff's
# TestWriteBenchImages. Two pairs:
#   one file: B is A with the last file of its last layer changed; the
#             two first layers are the same files (same diff IDs), which
#             imgsave reads once;
#   rebuilt:  B is A rebuilt an hour later (every layer's times differ,
#             so every layer is read on both sides) with the same change.
# Against, interleaved (reference, imgsave, reference, ... for
# IMGSAVE_BENCH_DIFF_RUNS rounds, default 5, after a warm-up round):
#   cat:      `cat` of both layer sets to /dev/null: reading both once;
#   sha256sum: of both layer sets: reading and hashing both once (imgsave
#             hashes each distinct layer's files, and, unless load's record
#             of verified files holds the layer, the whole stream against
#             its diff ID);
#   cmp:      `cmp -s` of the layer files pair by pair (it stops at the
#             first differing byte: in a rebuilt layer, its first header);
#   tar+diff: `tar -xf` of every layer of each into a folder, `diff -r -q`.
# A ratio is the median of the per-round ratios, with their spread; times
# are medians; peak RSS is imgsave's largest. The page cache is left warm,
# so the bound is the CPU: SHA-256 of every byte of the distinct layers,
# and tar parsing; IMGSAVE_BENCH_DIFF_COLD=1 (root, nothing else running)
# drops it before every timed command instead, so that the disk bounds
# each, as for the first comparison of an archive.
# A report: it asserts nothing. Needs bin/imgsave (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${IMGSAVE_BENCH_DIFF_MB:-300}
rounds=${IMGSAVE_BENCH_DIFF_RUNS:-5}
bin=$PWD/bin/imgsave
go build -o "$bin" ./cmd/imgsave # always: a stale binary may lack a command
work=$(mktemp -d "${TMPDIR:-/tmp}/imgsave-bench-diff.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
log() { printf 'bench-diff: %s\n' "$*" >&2; }

log "writing three images of $mb MB under $work"
go test ./archive/imgdiff -count=1 -run '^TestWriteBenchImages$' -args -gen-diff="$work" -gen-diff-mb="$mb" >/dev/null

# The commands; $2 is the other image (b or c).
run_cat() { xargs cat <"$work/a.layers" >/dev/null && xargs cat <"$work/$1.layers" >/dev/null; }
run_sha256sum() { xargs sha256sum <"$work/a.layers" >/dev/null && xargs sha256sum <"$work/$1.layers" >/dev/null; }
run_cmp() { paste -d' ' "$work/a.layers" "$work/$1.layers" | while read -r x y; do cmp -s "$x" "$y" || true; done; }
run_tardiff() {
	rm -rf "$work/x" "$work/y" && mkdir "$work/x" "$work/y"
	while read -r l; do tar -xf "$l" -C "$work/x"; done <"$work/a.layers"
	while read -r l; do tar -xf "$l" -C "$work/y"; done <"$work/$1.layers"
	diff -r -q "$work/x" "$work/y" >/dev/null || [ $? = 1 ]
	rm -rf "$work/x" "$work/y"
}

# timed CMD ARG: wall seconds in T; for imgsave, peak RSS (KiB) in M.
# run_imgsave keeps load's record of verified layer files in $work/cache
# (filled by the warm-up: each layer then hashed once, for its files);
# run_imgsave_first starts with none each time, as the first diff of
# layers never loaded or compared (each layer hashed twice).
timed() {
	local start end cache=$work/cache
	if [ "${IMGSAVE_BENCH_DIFF_COLD:-}" = 1 ]; then
		sync && echo 3 >/proc/sys/vm/drop_caches
	fi
	start=$EPOCHREALTIME
	case $1 in
	run_imgsave | run_imgsave_first)
		if [ "$1" = run_imgsave_first ]; then rm -rf "$work/first" && cache=$work/first; fi
		# diff exits 1 for different images; anything else is a failure of
		# the bench, never a time.
		M=$( { XDG_CACHE_HOME=$cache /usr/bin/time -f '%M %x' "$bin" -q diff "$work/a" "$work/$2" >/dev/null; } 2>&1 | tail -1 || true)
		case ${M#* } in 0 | 1) M=${M%% *} ;; *) log "imgsave diff failed: $M"; exit 1 ;; esac
		;;
	*) "$@" ;;
	esac
	end=$EPOCHREALTIME
	T=$(echo "$end - $start" | bc)
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.2f–%.2f", lo, hi}'; }

cache_state=warm
[ "${IMGSAVE_BENCH_DIFF_COLD:-}" = 1 ] && cache_state=cold
echo "| pair ($mb MB each, page cache $cache_state) | imgsave diff (layers' record) | reference | per round | imgsave peak RSS |"
echo "|---|---:|---|---:|---:|"
for pair in b c; do
	name="one file"
	[ $pair = c ] && name="rebuilt"
	declare -A times=() ratios=()
	rss=0
	log "$name: warm-up"
	for cmd in run_cat run_sha256sum run_cmp run_tardiff run_imgsave run_imgsave_first; do timed $cmd $pair; done
	for r in $(seq "$rounds"); do
		log "$name: round $r of $rounds"
		for ref in run_cat run_sha256sum run_cmp run_tardiff; do
			timed $ref $pair
			tr=$T
			timed run_imgsave $pair
			ti=$T
			(( M > rss )) && rss=$M
			times[$ref]+="$tr "
			times[imgsave]+="$ti "
			ratios[$ref]+="$(echo "scale=4; $ti / $tr" | bc) "
		done
		# The first diff, no record, against reading both once (cat).
		timed run_cat $pair
		tr=$T
		timed run_imgsave_first $pair
		(( M > rss )) && rss=$M
		times[first]+="$T "
		ratios[first]+="$(echo "scale=4; $T / $tr" | bc) "
	done
	ti=$(tr ' ' '\n' <<<"${times[imgsave]}" | grep . | median)
	for ref in run_cat run_sha256sum run_cmp run_tardiff; do
		label=${ref#run_}
		[ "$label" = tardiff ] && label="tar -x + diff -r"
		tr_=$(tr ' ' '\n' <<<"${times[$ref]}" | grep . | median)
		rm_=$(tr ' ' '\n' <<<"${ratios[$ref]}" | grep . | median)
		sp=$(tr ' ' '\n' <<<"${ratios[$ref]}" | grep . | spread)
		printf '| %s | %.2f s | `%s` %.2f s | %.2f× (%s) | %d MiB |\n' "$name" "$ti" "$label" "$tr_" "$rm_" "$sp" $((rss / 1024))
	done
	tf=$(tr ' ' '\n' <<<"${times[first]}" | grep . | median)
	rf=$(tr ' ' '\n' <<<"${ratios[first]}" | grep . | median)
	sf=$(tr ' ' '\n' <<<"${ratios[first]}" | grep . | spread)
	printf '| %s, first diff (no record) | %.2f s | `cat` | %.2f× (%s) | %d MiB |\n' "$name" "$tf" "$rf" "$sf" $((rss / 1024))
	unset times ratios
done
