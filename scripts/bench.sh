#!/usr/bin/env bash
# The benchmark behind `make bench` (which builds bin/imgsave first): wall
# time and peak RSS of imgsave against the engine's own save/load/run and
# against datalad-container's docker adapter (scripts/datalad.sh), printed
# as Markdown tables on stdout, one section per engine. Progress goes to
# stderr. It is a report: it asserts nothing about the numbers, and exits
# non-zero only when a command fails (the adapter failing is reported in
# the table instead, as "failed").
#
# Every row runs interleaved with its references (reference, imgsave,
# reference, ... for N rounds: the machine's drift falls on all alike) and
# prints the median and the spread (smallest to largest); a ratio is the
# median of the per-round ratios (#23). Each command runs under
# /usr/bin/time -f '%M' with bash's microsecond clock around it: wall
# seconds, and the largest resident set of the process or of any child it
# waited for (client side only: the daemon's memory is not counted), plus
# the process's own peak RSS (VmHWM, children excluded, sampled every
# 50 ms). For each engine:
#   save:   `docker save IMG >/dev/null`, `docker save IMG | tar -x`,
#           `imgsave -q save IMG DIR`, the adapter's `save IMG DIR`, on the
#           small image;
#   load:   `docker load -i TAR`, `imgsave -q load DIR`, and the same with
#           an empty record of verified files (every layer hashed, #29), the
#           large image removed from the engine before each, after a
#           warm-up round (the adapter loads only in run);
#   run:    `docker run --rm ID true`, the same with the flags imgsave run
#           adds, `imgsave -q run DIR true` and the adapter's `run DIR
#           true`, busybox present, after a warm-up round;
#   memory: imgsave save's and load's own peak RSS at both sizes.
# Before the engines:
#   start:  process start of `imgsave --version` against an empty Go
#           program (`func main() {}`) built in the bench's work folder,
#           interleaved, reported as the per-round difference (#29).
# On the default engine, through the plain-HTTP loopback registry of
# scripts/engines.sh, for both sizes:
#   push:   `imgsave push DIR`, `crane push TARBALL`, each to a new
#           repository (every blob uploaded);
#   pull:   `imgsave pull`, `crane pull --format oci` (alone, and followed
#           by `sync -f DIR`, as durable as imgsave's), `skopeo copy
#           docker:// oci:`, each into a folder that does not exist;
# and into rootful podman, the large image: `podman load -i TAR`, `podman
# load <TAR`, `imgsave load --engine podman DIR`.
#   apptainer (scripts/apptainer.sh): `imgsave run DIR true` with the SIF
#           cached against `apptainer exec SIF true` and against `apptainer
#           run` with the flags imgsave adds; and the first run (an empty
#           SIF cache) against `apptainer build X.sif oci:DIR@MANIFEST`
#           plus `apptainer exec X.sif true`, on busybox and the large
#           image.
#
# The test images are made offline by scripts/mkimage.sh: busybox plus
# incompressible random data in three layers, and busybox alone. README's
# Performance table comes from IMGSAVE_BENCH_MB=1500
# IMGSAVE_BENCH_SMALL_MB=300 IMGSAVE_BENCH_ENGINES="$IMGSAVE_ENGINES".
#
# Environment:
#   IMGSAVE_BENCH_MB            size of the large image in MB (default 300)
#   IMGSAVE_BENCH_SMALL_MB      size of the small image (default 100)
#   IMGSAVE_BENCH_HEAVY_RUNS    rounds of save, load and podman (default 5)
#   IMGSAVE_BENCH_RUNS          rounds of run, push, pull and cached
#                               Apptainer runs (default 10)
#   IMGSAVE_BENCH_ADAPTER_RUNS  rounds of the adapter's run (default 5)
#   IMGSAVE_BENCH_BUILD_RUNS    rounds of first runs (SIF builds) (default 3)
#   IMGSAVE_BENCH_START_RUNS    rounds of the start rows (default 200)
#   IMGSAVE_BENCH_ONLY          "apptainer": Apptainer's rows alone; "run": the
#                               run rows alone, for each engine; "start": the
#                               start rows alone (no engine needed); "load":
#                               the load rows alone, for each engine
#   IMGSAVE_BENCH_ENGINES       DOCKER_HOST values to benchmark besides the
#                               default socket, separated by spaces (podman
#                               is measured on its own), e.g.
#                               IMGSAVE_BENCH_ENGINES="$IMGSAVE_ENGINES"
set -euo pipefail
cd "$(dirname "$0")/.."

big_mb=${IMGSAVE_BENCH_MB:-300}
small_mb=${IMGSAVE_BENCH_SMALL_MB:-100}
runs=${IMGSAVE_BENCH_RUNS:-10}
heavy_runs=${IMGSAVE_BENCH_HEAVY_RUNS:-5}
adapter_runs=${IMGSAVE_BENCH_ADAPTER_RUNS:-5}
build_runs=${IMGSAVE_BENCH_BUILD_RUNS:-3}
start_runs=${IMGSAVE_BENCH_START_RUNS:-200}
default_host=unix:///var/run/docker.sock
imgsave=$PWD/bin/imgsave

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------- setup

work=$(mktemp -d "${TMPDIR:-/tmp}/imgsave-bench.XXXXXX")
made=() # "DOCKER_HOST REF" of every image this run made, for cleanup

cleanup() {
	local entry
	for entry in ${made[@]+"${made[@]}"}; do
		DOCKER_HOST=${entry%% *} docker rmi -f "${entry#* }" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# setup_base checks bin/imgsave and installs GNU time if missing.
setup_base() {
	[ -x "$imgsave" ] || die "no $imgsave: run 'make build' (or 'make bench')"
	if [ ! -x /usr/bin/time ]; then
		log "installing GNU time"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
	fi
}

# setup starts the engines, finds the adapter and the engines to measure.
setup() {
	scripts/engines.sh >/dev/null
	adapter=()
	local line h
	if line=$(IMGSAVE_DATALAD_VERIFY=0 scripts/datalad.sh 2>"$work/datalad.log"); then
		eval "$line"
		read -r -a adapter <<<"$IMGSAVE_DATALAD_ADAPTER"
	else
		log "scripts/datalad.sh failed; the adapter is left out:"
		tail -n 5 "$work/datalad.log" >&2
	fi
	hosts=("$default_host")
	for h in ${IMGSAVE_BENCH_ENGINES:-}; do
		[[ $h == *://* ]] || continue # podman is measured on its own
		[[ " ${hosts[*]} " == *" $h "* ]] || hosts+=("$h")
	done
	mkdir -p "$work/cwd" # the (empty) current directory that runs mount
	# pull and push: the plain-HTTP registry scripts/engines.sh started,
	# crane (go install, into $work) and skopeo (Debian) to compare with.
	registry=$(scripts/engines.sh 2>/dev/null | sed -n "s/^IMGSAVE_REGISTRY='\(.*\)'$/\1/p")
	command -v skopeo >/dev/null || {
		log "installing skopeo"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends skopeo >/dev/null
	}
	log "installing crane into $work/bin"
	GOBIN=$work/bin GOFLAGS= go install github.com/google/go-containerregistry/cmd/crane@v0.22.1 2>>"$work/cmd.log" ||
		die "go install crane failed"
	crane=$work/bin/crane
}

# ------------------------------------------------------------ measuring

# timed CMD...: runs CMD once under /usr/bin/time, its stdout discarded and
# its stderr appended to the log. Sets T (wall s), M (peak RSS KiB of CMD
# or of any child it waited for: for imgsave, often the docker CLI it runs)
# and O (CMD's own peak RSS KiB, VmHWM, children excluded, sampled every
# 50 ms while it runs). The caller redirects stdin.
timed() {
	# The wall time is taken inside, by bash's microsecond clock around
	# CMD alone (GNU time's %e has 10 ms steps, too coarse for run's rows).
	# shellcheck disable=SC2016 # $@ and $EPOCHREALTIME are the inner bash's
	/usr/bin/time -f '%e %M' -o "$work/time" bash -c 's=$EPOCHREALTIME; "$@"; r=$?; echo "$s $EPOCHREALTIME" >"$0"; exit $r' "$work/wall" "$@" <&0 >/dev/null 2>>"$work/cmd.log" &
	local tpid=$! pid="" sh="" k v
	O=0
	while kill -0 "$tpid" 2>/dev/null; do
		# time's child is the clock's bash; its child is CMD.
		# (The children files end without a newline: read fails, and sets.)
		if [ -z "$pid" ]; then
			[ -n "$sh" ] || read -r sh _ <"/proc/$tpid/task/$tpid/children" 2>/dev/null || true
			[ -z "$sh" ] || read -r pid _ <"/proc/$sh/task/$sh/children" 2>/dev/null || true
		fi
		if [ -n "$pid" ]; then
			while read -r k v _; do
				[ "$k" != VmHWM: ] || [ "$v" -le "$O" ] || O=$v
			done 2>/dev/null <"/proc/$pid/status" || true
		fi
		sleep 0.05
	done
	if ! wait "$tpid"; then
		log "failed: $*"
		tail -n 5 "$work/cmd.log" >&2
		return 1
	fi
	read -r T M <"$work/time"
	local s e
	read -r s e <"$work/wall"
	T=$(awk -v s="$s" -v e="$e" 'BEGIN {printf "%.4f", e - s}')
}

# median N...: the median of numbers.
median() {
	printf '%s\n' "$@" | sort -g |
		awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

# Results for the engine being measured, by key: WALL (s), RSS and OWN
# (KiB), medians; SPREAD the smallest and largest wall time; TIMES every
# round's wall time in order, for per-round ratios. WALL is "failed" for an
# adapter step that failed, and a key not set was not measured. OWN is
# empty where it means nothing (a pipeline, a shell wrapper). NOTES
# collects, for the report, the last line each failure logged.
declare -A WALL RSS OWN SPREAD TIMES
NOTES=()
record() { WALL[$1]=$T RSS[$1]=$M OWN[$1]=$O; }
failed() {
	WALL[$1]=failed RSS[$1]=failed OWN[$1]=failed
	NOTES+=("$1 failed: $(grep -v '^[[:space:]]*$' "$work/cmd.log" | tail -n 1)")
}

# rounds N WARM KEY:FUNC...: WARM untimed rounds, then N timed ones; each
# round calls every FUNC in turn (reference, imgsave, reference, ...), so
# that the machine's drift falls on all alike (#23). FUNC prepares what it
# needs untimed and runs one command through timed. Records each KEY's
# medians, spread and rounds. A FUNC that fails ends the benchmark, unless
# its KEY names the adapter: that row is reported as failed.
rounds() {
	local n=$1 warm=$2 i step key fn
	shift 2
	local -A ts ms os dead
	for ((i = 0; i < warm + n; i++)); do
		for step in "$@"; do
			key=${step%%:*} fn=${step#*:}
			[ -z "${dead[$key]:-}" ] || continue
			# What the step before left for the kernel to write back (crane
			# and skopeo sync nothing) is not this step's to pay for.
			sync
			if ! "$fn"; then
				[[ $key == *adapter* ]] || die "$key failed"
				failed "$key"
				dead[$key]=1
				continue
			fi
			((i >= warm)) || continue
			ts[$key]+="$T " ms[$key]+="$M " os[$key]+="${O:-} "
		done
	done
	for step in "$@"; do
		key=${step%%:*}
		[ -z "${dead[$key]:-}" ] || continue
		# shellcheck disable=SC2086 # the lists split on purpose
		T=$(median ${ts[$key]}) M=$(median ${ms[$key]}) O=""
		# shellcheck disable=SC2086
		[ -z "${os[$key]// /}" ] || O=$(median ${os[$key]})
		record "$key"
		TIMES[$key]=${ts[$key]}
		# shellcheck disable=SC2086
		SPREAD[$key]=$(printf '%s\n' ${ts[$key]} | sort -g | awk 'NR == 1 {a = $1} {b = $1} END {printf "%.3f–%.3f", a, b}')
	done
}

# perround A B [ms]: A's wall time against B's, round by round: the median
# ratio and its spread ("1.02× (0.98–1.05)"), or with ms the difference in
# milliseconds ("+4.0 ms (−38.0 to +44.0)"); "–" when either is missing.
perround() {
	[ -n "${TIMES[$1]:-}" ] && [ -n "${TIMES[$2]:-}" ] || { echo –; return; }
	# shellcheck disable=SC2086 # the lists split on purpose
	paste <(printf '%s\n' ${TIMES[$1]}) <(printf '%s\n' ${TIMES[$2]}) |
		awk -v ms="${3:-}" '{print ms ? ($1 - $2) * 1000 : $1 / $2}' | sort -g |
		awk -v ms="${3:-}" '{r[NR] = $1} END {
			m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
			if (ms) printf "%+.1f ms (%+.1f to %+.1f)", m, r[1], r[NR]
			else printf "%.2f× (%.2f–%.2f)", m, r[1], r[NR]
		}'
}

# fresh NAME: a path under $work that does not exist (any more).
fresh() { rm -rf "${work:?}/$1"; echo "$work/$1"; }

# unload REF: removes the image from the engine, layers and all. By name:
# on a containerd store, an image imgsave loaded has imgsave's manifest
# digest as its ID, not the one it was built with.
unload() { docker rmi -f "$1" >/dev/null; }

# ------------------------------------------------------------ the steps

# make_image REF MB: makes the image and remembers it for cleanup.
make_image() {
	made+=("$DOCKER_HOST $1")
	scripts/mkimage.sh "$1" "$2" >/dev/null
}

# The steps rounds() calls. Each reads $ref (the image), $dir (imgsave's
# directory of it) and $tar (docker's save of it) as the caller sets them.
save_docker_null() { timed docker save "$ref" </dev/null; }
save_docker_tar() {
	local out
	out=$(fresh tar.dir)
	mkdir "$out"
	# shellcheck disable=SC2016 # $1 and $2 are bash -c's arguments
	timed bash -c 'docker save "$1" | tar -x -C "$2"' _ "$ref" "$out" </dev/null || return 1
	O=""
	rm -rf "$out"
}
save_imgsave() { timed "$imgsave" -q save --pull never "$ref" "$(fresh save.dir)" </dev/null; }
save_adapter() {
	local out
	out=$(fresh adapter.dir)
	timed "${adapter[@]}" save "$ref" "$out" </dev/null || return 1
	rm -rf "$out"
}
load_docker() { unload "$ref" && timed docker load -i "$tar" </dev/null; }
load_imgsave() { unload "$ref" && timed "$imgsave" -q load "$dir" </dev/null; }
# The same with an empty record of verified files (a cache folder of its
# own): every layer hashed, as before #29.
load_imgsave_hash() { unload "$ref" && XDG_CACHE_HOME=$(fresh xdg-cache) timed "$imgsave" -q load "$dir" </dev/null; }

# bench_save_load SMALL BIG: save of SMALL (docker save >/dev/null and
# | tar -x, imgsave save, the adapter's save) and load of BIG (docker load
# -i TAR, imgsave load, the image removed before each), each interleaved;
# and, once each, imgsave's save of BIG and load of SMALL for the memory
# rows. Leaves the image BIG loaded by imgsave.
bench_save_load() {
	ref=$1
	log "save: warming up the engine's cache"
	docker save "$ref" >/dev/null
	local steps=(save_docker_null:save_docker_null save_docker_tar:save_docker_tar save_imgsave:save_imgsave)
	[ ${#adapter[@]} -eq 0 ] || steps+=(save_adapter:save_adapter)
	log "save: ${steps[*]%%:*} of the ${small_mb} MB image, interleaved (x$heavy_runs)"
	rounds "$heavy_runs" 0 "${steps[@]}"
	log "memory: imgsave load of the ${small_mb} MB image"
	unload "$ref"
	timed "$imgsave" -q load "$work/save.dir" </dev/null
	record mem_load_small
	rm -rf "$work/save.dir"

	ref=$2
	log "memory: imgsave save of the ${big_mb} MB image"
	dir=$(fresh big.dir) tar=$(fresh big.tar)
	timed "$imgsave" -q save --pull never "$ref" "$dir" </dev/null
	record mem_save_big
	docker save -o "$tar" "$ref"
	load_rows
}

# load_rows: docker load -i TAR, imgsave load DIR (whose first, untimed
# round records the layers as verified), and imgsave load DIR hashing
# every layer, of $ref, absent, interleaved; $dir and $tar as set.
load_rows() {
	log "load: docker load -i TAR, imgsave load DIR (record of verified files, and without) of the ${big_mb} MB image, absent, interleaved (x$heavy_runs after a warm-up)"
	rounds "$heavy_runs" 1 load_docker:load_docker load_imgsave:load_imgsave load_imgsave_hash:load_imgsave_hash
}

run_docker() { timed docker run --rm "$id" true </dev/null; }
run_docker_flags() {
	timed docker run --rm --interactive --mount "type=bind,source=$PWD,target=/tmp" --workdir /tmp \
		--user "$(id -u):$(id -g)" "$id" true </dev/null
}
run_imgsave() { timed "$imgsave" -q run "$dir" true </dev/null; }
run_adapter() { timed "${adapter[@]}" run "$adir" true </dev/null; }

# bench_run REF: the per-run overhead, on the busybox image, present. Runs
# from an empty directory, since imgsave and the adapter mount it.
bench_run() {
	local ref=$1 id dir adir
	id=$(docker image inspect -f '{{.Id}}' "$ref")
	dir=$(fresh tiny.dir)
	"$imgsave" -q save --pull never "$ref" "$dir" >/dev/null
	cd "$work/cwd"
	log "run: docker run --rm ID true, the same with imgsave run's flags, imgsave run DIR true, interleaved (x$runs after a warm-up)"
	rounds "$runs" 1 run_docker:run_docker run_docker_flags:run_docker_flags run_imgsave:run_imgsave
	if [ ${#adapter[@]} -gt 0 ]; then
		log "run: adapter run DIR true (x$adapter_runs)"
		adir=$(fresh tiny.adapter)
		if timed "${adapter[@]}" save "$ref" "$adir" </dev/null; then
			rounds "$adapter_runs" 1 run_adapter:run_adapter
		else
			failed run_adapter
		fi
	fi
	cd - >/dev/null
}

push_imgsave() { timed "$imgsave" -q push "$dir" "$registry/imgsave-bench-$$-$(date +%s%N)/big:1" </dev/null; }
push_crane() { timed "$crane" push --insecure "$tar" "$registry/crane-bench-$$-$(date +%s%N)/big:1" </dev/null; }
pull_imgsave() { timed "$imgsave" -q pull "$src" "$(fresh pulled)" </dev/null; }
pull_crane() { timed "$crane" pull --insecure --format oci "$src" "$(fresh crane-pulled)" </dev/null; }
# crane leaves its files to the kernel's writeback; imgsave syncs its
# before the directory appears. This is crane's pull made as durable.
pull_crane_sync() {
	local out
	out=$(fresh crane-pulled)
	# shellcheck disable=SC2016 # $0, $1 and $2 are sh -c's
	timed sh -c '"$0" pull --insecure --format oci "$1" "$2" && sync -f "$2"' "$crane" "$src" "$out" </dev/null && O=""
}
pull_skopeo() { timed skopeo copy -q --src-tls-verify=false "docker://$src" "oci:$(fresh skopeo-pulled):big" </dev/null; }

# bench_registry NAME REF: push and pull of REF through the loopback
# registry, imgsave against crane (and skopeo), interleaved. Every push
# goes to a repository of its own, so that each uploads every blob; every
# pull goes into a folder that does not exist yet. Results keyed NAME_*.
bench_registry() {
	local name=$1 ref=$2 k
	dir=$(fresh reg.dir) tar=$(fresh reg.tar)
	"$imgsave" -q save --pull never "$ref" "$dir" >/dev/null
	docker save -o "$tar" "$ref"
	src=$registry/imgsave-bench-pull-$$/$name:1
	"$imgsave" -q push "$dir" "$src" >/dev/null
	log "push $name: imgsave push DIR, crane push TARBALL, interleaved (x$runs)"
	rounds "$runs" 0 "${name}_push_imgsave:push_imgsave" "${name}_push_crane:push_crane"
	log "pull $name: imgsave pull, crane pull --format oci (and with sync), skopeo copy, interleaved (x$runs after a warm-up)"
	rounds "$runs" 1 "${name}_pull_imgsave:pull_imgsave" "${name}_pull_crane:pull_crane" \
		"${name}_pull_crane_sync:pull_crane_sync" "${name}_pull_skopeo:pull_skopeo"
	rm -rf "$dir" "$tar" "$work/pulled" "$work/crane-pulled" "$work/skopeo-pulled"
	for k in "${name}_push_crane" "${name}_pull_crane" "${name}_pull_skopeo"; do OWN[$k]=""; done
}

podman_load_file() { podman rmi -f "$pid" >/dev/null 2>&1; timed podman load -i "$tar" </dev/null; }
podman_load_stream() {
	podman rmi -f "$pid" >/dev/null 2>&1
	# shellcheck disable=SC2016 # $0 is sh -c's
	timed sh -c 'podman load <"$0"' "$tar" </dev/null && O=""
}
podman_load_imgsave() { podman rmi -f "$pid" >/dev/null 2>&1; timed "$imgsave" -q load --engine podman "$dir" </dev/null; }

# bench_podman REF: load into rootful podman: podman load -i of docker's
# save, the same tar on podman's standard input (which podman copies to a
# file first), imgsave load.
bench_podman() {
	dir=$(fresh pod.dir) tar=$(fresh pod.tar)
	# By ID: podman names docker's save localhost/..., imgsave's load docker.io/...
	pid=$(docker image inspect -f '{{.Id}}' "$1")
	"$imgsave" -q save --pull never "$1" "$dir" >/dev/null
	docker save -o "$tar" "$1"
	log "podman: podman load -i TAR, podman load <TAR, imgsave load, interleaved (x$heavy_runs)"
	rounds "$heavy_runs" 0 podman_load_file:podman_load_file podman_load_stream:podman_load_stream podman_load_imgsave:podman_load_imgsave
	podman rmi -f "$pid" >/dev/null 2>&1 || true
	rm -rf "$dir" "$tar"
}

start_empty() { timed "$work/empty/empty" </dev/null; }
start_imgsave() { timed "$imgsave" --version </dev/null; }
start_release() { timed "$work/imgsave-release" --version </dev/null; }

# bench_start: process start, imgsave --version against an empty Go
# program built here by the same go, after warm-up rounds (both binaries
# in the page cache).
bench_start() {
	mkdir -p "$work/empty"
	printf 'package main\n\nfunc main() {}\n' >"$work/empty/main.go"
	(cd "$work/empty" && GOFLAGS= go build -o empty main.go) || die "go build of the empty program failed"
	# As scripts/release.sh builds it: static, no cgo (bin/imgsave, from
	# make build, links the C library and starts the dynamic loader).
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/imgsave-release" ./cmd/imgsave || die "go build of the release imgsave failed"
	log "start: empty Go program, imgsave --version (make build's and a release build), interleaved (x$start_runs after 5 warm-up rounds)"
	rounds "$start_runs" 5 start_empty:start_empty start_imgsave:start_imgsave start_release:start_release
}

# ------------------------------------------------------------ reporting

# mib KIB: KiB as MiB with one decimal.
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# cell KEY: "wall s (spread) | peak RSS MiB | own peak RSS MiB" of a
# result, "–" where not measured.
cell() {
	case ${WALL[$1]:-} in
	"") echo "– | – | –" ;;
	failed) echo "failed | failed | failed" ;;
	*)
		printf '%.3f (%s) | %s | %s\n' "${WALL[$1]}" "${SPREAD[$1]:-once}" "$(mib "${RSS[$1]}")" \
			"$([ -n "${OWN[$1]}" ] && mib "${OWN[$1]}" || echo –)"
		;;
	esac
}

# div A B: A/B as "1.23×", or "–" when either is not a number or B is 0.
div() {
	if [[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]]; then
		awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f×", a / b; else printf "–"}'
	else
		printf '–'
	fi
}

# ratio A B: "wall A/B per round (spread) | peak RSS A/B | own peak RSS A/B".
ratio() {
	echo "$(perround "$1" "$2") | $(div "${RSS[$1]:-}" "${RSS[$2]:-}") | $(div "${OWN[$1]:-}" "${OWN[$2]:-}")"
}

# own KEY: the own peak RSS in MiB, or "–".
own() { [[ ${OWN[$1]:-} =~ ^[0-9]+$ ]] && mib "${OWN[$1]}" || echo –; }

# report_start: the process start table.
report_start() {
	cat <<-EOF

		## Process start

		$start_runs interleaved rounds after 5 warm-up rounds; $(go version | cut -d' ' -f3). Wall: median (smallest–largest), each run timed by bash's clock around fork and exec. The difference is the median of the per-round differences (spread). Goal: within 1 ms (#29).

		| command | wall s | peak RSS MiB | own peak RSS MiB |
		|---|---:|---:|---:|
		| empty Go program (\`func main() {}\`) | $(cell start_empty) |
		| \`imgsave --version\` (make build: cgo, dynamic) | $(cell start_imgsave) |
		| \`imgsave --version\` (as released: static) | $(cell start_release) |

		| difference, per round | wall |
		|---|---:|
		| imgsave --version minus empty Go program | $(perround start_imgsave start_empty ms) |
		| the same, as released | $(perround start_release start_empty ms) |
	EOF
}

# report HOST BIG TINY: this engine's tables.
report() {
	local host=$1 store version big_bytes tiny_bytes
	version=$(docker version -f '{{.Server.Version}}')
	if docker info -f '{{json .DriverStatus}}' | grep -q 'io.containerd.snapshotter'; then
		store="containerd image store"
	else
		store="classic image store ($(docker info -f '{{.Driver}}'))"
	fi
	big_bytes=$(docker image inspect -f '{{.Size}}' "$2")
	tiny_bytes=$(docker image inspect -f '{{.Size}}' "$3")
	cat <<-EOF

		## Docker $version, $store — \`$host\`

		Images: busybox + ${small_mb} MB (save rows) or ${big_mb} MB (load rows; engine reports $((big_bytes / 1000000)) MB) of random data in 3 layers; run rows on busybox alone ($((tiny_bytes / 1000000)) MB). Save and load: $heavy_runs interleaved rounds; run: $runs rounds after a warm-up ($adapter_runs for the adapter). Wall: median (smallest–largest). Ratios: the median of the per-round ratios (spread). "peak RSS" is GNU time's %M: the process or its largest waited-for child (imgsave's docker CLI child counts); "own" is the process alone (VmHWM sampled every 50 ms). The daemon's memory is not counted.

		| side | command | wall s | peak RSS MiB | own peak RSS MiB |
		|---|---|---:|---:|---:|
		| save ${small_mb} MB | \`docker save IMG >/dev/null\` | $(cell save_docker_null) |
		| save ${small_mb} MB | \`docker save IMG \| tar -x -C DIR\` | $(cell save_docker_tar) |
		| save ${small_mb} MB | \`imgsave -q save IMG DIR\` | $(cell save_imgsave) |
		| save ${small_mb} MB | adapter \`save IMG DIR\` | $(cell save_adapter) |
		| load ${big_mb} MB | \`docker load -i TAR\` | $(cell load_docker) |
		| load ${big_mb} MB | \`imgsave -q load DIR\` | $(cell load_imgsave) |
		| load ${big_mb} MB | \`imgsave -q load DIR\`, empty record: every layer hashed | $(cell load_imgsave_hash) |
		| load | adapter: none (loads inside \`run\`) | – | – | – |
		| run | \`docker run --rm ID true\` | $(cell run_docker) |
		| run | \`docker run --rm -i --mount type=bind,source=CWD,target=/tmp -w /tmp -u UID:GID ID true\` | $(cell run_docker_flags) |
		| run | \`imgsave -q run DIR true\` (present) | $(cell run_imgsave) |
		| run | adapter \`run DIR true\` (present) | $(cell run_adapter) |

		| ratio | wall, per round | peak RSS | own peak RSS |
		|---|---:|---:|---:|
		| imgsave save / docker save >/dev/null | $(ratio save_imgsave save_docker_null) |
		| imgsave save / docker save \| tar -x | $(ratio save_imgsave save_docker_tar) |
		| imgsave save / adapter save | $(ratio save_imgsave save_adapter) |
		| imgsave load / docker load -i | $(ratio load_imgsave load_docker) |
		| imgsave load, every layer hashed / docker load -i | $(ratio load_imgsave_hash load_docker) |
		| imgsave load / the same, every layer hashed | $(ratio load_imgsave load_imgsave_hash) |
		| imgsave run / docker run --rm | $(ratio run_imgsave run_docker) |
		| imgsave run / docker run, same flags | $(ratio run_imgsave run_docker_flags) |
		| imgsave run minus docker run, same flags | $(perround run_imgsave run_docker_flags ms) | | |
		| adapter run / docker run --rm | $(div "${WALL[run_adapter]:-}" "${WALL[run_docker]:-}") (medians) | | |

		| imgsave's own peak RSS MiB | ${small_mb} MB image | ${big_mb} MB image | growth |
		|---|---:|---:|---:|
		| save | $(own save_imgsave) | $(own mem_save_big) | $(div "${OWN[mem_save_big]:-}" "${OWN[save_imgsave]:-}") |
		| load | $(own mem_load_small) | $(own load_imgsave) | $(div "${OWN[load_imgsave]:-}" "${OWN[mem_load_small]:-}") |
	EOF
	notes
}

# notes: the failures noted, as a list.
notes() {
	local n
	for n in ${NOTES[@]+"${NOTES[@]}"}; do
		printf '\n- %s\n' "$n"
	done
}

# report_registry: the push and pull tables, for each size measured.
report_registry() {
	local name mb
	cat <<-EOF

		## Registry: \`docker-registry\` on 127.0.0.1, plain HTTP

		$runs interleaved rounds (pulls after a warm-up round). imgsave pushes gzip; crane pushes docker's save. \`crane pull\` leaves its files to the kernel's writeback, so the durable reference is crane with \`sync -f DIR\` after it; imgsave syncs everything before the directory appears. imgsave's own peak RSS is in the last column.

		| image | command | wall s | peak RSS MiB | own peak RSS MiB |
		|---|---|---:|---:|---:|
	EOF
	for name in small big; do
		mb=$small_mb
		[ $name = small ] || mb=$big_mb
		[ -n "${WALL[${name}_pull_imgsave]:-}" ] || continue
		cat <<-EOF
			| $mb MB | \`imgsave -q push DIR REG/REPO:1\` | $(cell "${name}_push_imgsave") |
			| $mb MB | \`crane push TARBALL REG/REPO:1\` | $(cell "${name}_push_crane") |
			| $mb MB | \`imgsave -q pull REG/REPO:1 DIR\` | $(cell "${name}_pull_imgsave") |
			| $mb MB | \`crane pull --format oci REG/REPO:1 DIR\` | $(cell "${name}_pull_crane") |
			| $mb MB | \`crane pull --format oci REG/REPO:1 DIR && sync -f DIR\` | $(cell "${name}_pull_crane_sync") |
			| $mb MB | \`skopeo copy docker://REG/REPO:1 oci:DIR\` | $(cell "${name}_pull_skopeo") |
		EOF
	done
	printf '\n| ratio, per round (spread) | %s MB | %s MB |\n|---|---:|---:|\n' "$small_mb" "$big_mb"
	local row a b
	for row in "imgsave push / crane push:push_imgsave:push_crane" \
		"imgsave pull / crane pull:pull_imgsave:pull_crane" \
		"imgsave pull / crane pull && sync:pull_imgsave:pull_crane_sync" \
		"imgsave pull / skopeo copy:pull_imgsave:pull_skopeo"; do
		IFS=: read -r label a b <<<"$row"
		printf '| %s | %s | %s |\n' "$label" "$(perround "small_$a" "small_$b")" "$(perround "big_$a" "big_$b")"
	done
}

# report_podman: the podman load table.
report_podman() {
	cat <<-EOF

		## podman $(podman version -f '{{.Server.Version}}' 2>/dev/null || podman --version), rootful: load of the ${big_mb} MB image

		$heavy_runs interleaved rounds, the image removed before each. podman reads a stream (its standard input, as imgsave gives it) into a file under /var/tmp before it loads it.

		| command | wall s | peak RSS MiB | own peak RSS MiB |
		|---|---:|---:|---:|
		| \`podman load -i TAR\` | $(cell podman_load_file) |
		| \`podman load <TAR\` | $(cell podman_load_stream) |
		| \`imgsave -q load --engine podman DIR\` | $(cell podman_load_imgsave) |

		| ratio | wall, per round | peak RSS | own peak RSS |
		|---|---:|---:|---:|
		| imgsave load / podman load -i | $(ratio podman_load_imgsave podman_load_file) |
		| imgsave load / podman load <TAR | $(ratio podman_load_imgsave podman_load_stream) |
	EOF
}

# bench_engine HOST: everything, on the daemon at HOST; the registry and
# podman rows on the first (default) one only.
bench_engine() {
	export DOCKER_HOST=$1
	WALL=() RSS=() OWN=() NOTES=() SPREAD=() TIMES=()
	local big=imgsave-bench/big-$$:$big_mb small=imgsave-bench/small-$$:$small_mb tiny=imgsave-bench/tiny-$$:1
	case ${IMGSAVE_BENCH_ONLY:-} in
	run) ;;
	load)
		log "$DOCKER_HOST: making the ${big_mb} MB image"
		make_image "$big" "$big_mb"
		;;
	*)
		log "$DOCKER_HOST: making the ${big_mb} MB, ${small_mb} MB and busybox images"
		make_image "$big" "$big_mb"
		make_image "$small" "$small_mb"
		;;
	esac
	make_image "$tiny" 0

	if [ "${IMGSAVE_BENCH_ONLY:-}" = load ]; then
		ref=$big dir=$(fresh big.dir) tar=$(fresh big.tar)
		"$imgsave" -q save --pull never "$ref" "$dir" >/dev/null
		docker save -o "$tar" "$ref"
		load_rows
		report "$DOCKER_HOST" "$big" "$tiny"
		rm -rf "$dir" "$tar"
		unload "$big"
		unload "$tiny"
		return
	fi
	if [ "${IMGSAVE_BENCH_ONLY:-}" = run ]; then
		bench_run "$tiny"
		report "$DOCKER_HOST" "$tiny" "$tiny"
		unload "$tiny"
		return
	fi
	bench_save_load "$small" "$big"
	bench_run "$tiny"
	report "$DOCKER_HOST" "$big" "$tiny"
	if [ "$DOCKER_HOST" = "$default_host" ]; then
		WALL=() RSS=() OWN=() NOTES=() SPREAD=() TIMES=()
		bench_registry small "$small"
		bench_registry big "$big"
		report_registry
		if command -v podman >/dev/null; then
			WALL=() RSS=() OWN=() NOTES=() SPREAD=() TIMES=()
			bench_podman "$big"
			report_podman
		fi
	fi
	rm -rf "$work/big.dir" "$work/big.tar"

	log "$DOCKER_HOST: removing the images"
	unload "$big"
	unload "$small"
	unload "$tiny"
}

app_first_imgsave() {
	rm -rf "$cache"
	timed "$imgsave" -q run --engine "$apptainer" --sif-cache "$cache" "$dir" true </dev/null
}
app_first_ref() {
	rm -f "$rsif"
	# shellcheck disable=SC2016 # $0...$3 are sh -c's
	timed sh -c 'cd "$1" && "$2" -q build --reproducible --disable-cache "$0" "oci:.@$3" && "$2" -q exec "$0" true' "$rsif" "$dir" "$apptainer" "$m" </dev/null && O=""
}
app_exec() { timed "$apptainer" -q exec "$rsif" true </dev/null; }
app_run_flags() {
	timed "$apptainer" -q run --containall --cleanenv --no-eval --mount "type=bind,source=$PWD,destination=/tmp" --pwd /tmp "$rsif" true </dev/null
}
app_cached_imgsave() { timed "$imgsave" -q run --engine "$apptainer" --sif-cache "$cache" "$dir" true </dev/null; }

# bench_apptainer: Apptainer's rows, on images the default engine makes.
bench_apptainer() {
	local tiny=imgsave-bench/app-tiny-$$:1 big=imgsave-bench/app-big-$$:$big_mb name
	apptainer=$(scripts/apptainer.sh 2>>"$work/cmd.log" | sed -n "s/^IMGSAVE_APPTAINER='\(.*\)'$/\1/p")
	[ -n "$apptainer" ] || die "scripts/apptainer.sh failed"
	export DOCKER_HOST=$default_host
	WALL=() RSS=() OWN=() NOTES=() SPREAD=() TIMES=()
	log "apptainer: making the busybox and ${big_mb} MB images"
	make_image "$tiny" 0
	make_image "$big" "$big_mb"
	cd "$work/cwd"
	for name in tiny big; do
		dir=$(fresh "app-$name.dir")
		if [ $name = tiny ]; then "$imgsave" -q save --pull never "$tiny" "$dir" >/dev/null; else "$imgsave" -q save --pull never "$big" "$dir" >/dev/null; fi
		m=$(sed -n 's/.*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p' "$dir/index.json" | head -n 1)
		cache=$work/sif-$name rsif=$work/ref-$name.sif
		log "apptainer: first run of $name, imgsave and build + exec, interleaved (x$build_runs after a warm-up)"
		rounds "$build_runs" 1 "app_first_imgsave_$name:app_first_imgsave" "app_first_ref_$name:app_first_ref"
		log "apptainer: cached runs of $name, interleaved (x$runs after a warm-up)"
		rounds "$runs" 1 "app_exec_$name:app_exec" "app_run_flags_$name:app_run_flags" "app_cached_imgsave_$name:app_cached_imgsave"
	done
	cd - >/dev/null
	unload "$tiny"
	unload "$big"
	cat <<-EOF

		## Apptainer $("$apptainer" version) (as $(id -un))

		Busybox alone, and busybox + ${big_mb} MB of random data in 3 layers. Cached runs: $runs interleaved rounds after a warm-up; first runs (a SIF cache emptied before each): $build_runs interleaved rounds after a warm-up. Wall: median (smallest–largest).

		| image | command | wall s | peak RSS MiB | own peak RSS MiB |
		|---|---|---:|---:|---:|
		| busybox | \`apptainer exec SIF true\` | $(cell app_exec_tiny) |
		| busybox | \`apptainer run --containall --cleanenv --no-eval --mount CWD:/tmp --pwd /tmp SIF true\` | $(cell app_run_flags_tiny) |
		| busybox | \`imgsave -q run DIR true\` (SIF cached) | $(cell app_cached_imgsave_tiny) |
		| busybox | \`apptainer build X.sif oci:DIR@M && apptainer exec X.sif true\` | $(cell app_first_ref_tiny) |
		| busybox | \`imgsave -q run DIR true\` (first run: builds the SIF) | $(cell app_first_imgsave_tiny) |
		| ${big_mb} MB | \`apptainer exec SIF true\` | $(cell app_exec_big) |
		| ${big_mb} MB | \`apptainer run\` with the same flags | $(cell app_run_flags_big) |
		| ${big_mb} MB | \`imgsave -q run DIR true\` (SIF cached) | $(cell app_cached_imgsave_big) |
		| ${big_mb} MB | \`apptainer build X.sif oci:DIR@M && apptainer exec X.sif true\` | $(cell app_first_ref_big) |
		| ${big_mb} MB | \`imgsave -q run DIR true\` (first run: builds the SIF) | $(cell app_first_imgsave_big) |

		| per round: median (spread) | busybox | ${big_mb} MB |
		|---|---:|---:|
		| imgsave run, cached, minus apptainer exec | $(perround app_cached_imgsave_tiny app_exec_tiny ms) | $(perround app_cached_imgsave_big app_exec_big ms) |
		| imgsave run, cached, minus apptainer run with the same flags | $(perround app_cached_imgsave_tiny app_run_flags_tiny ms) | $(perround app_cached_imgsave_big app_run_flags_big ms) |
		| imgsave first run / build + exec | $(perround app_first_imgsave_tiny app_first_ref_tiny) | $(perround app_first_imgsave_big app_first_ref_big) |
	EOF
}

main() {
	setup_base
	if [ "${IMGSAVE_BENCH_ONLY:-}" = start ]; then
		printf '# imgsave benchmark\n\n%s, %s cores; imgsave %s\n' \
			"$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$(git describe --always --dirty 2>/dev/null || echo '?')"
		bench_start
		report_start
		return
	fi
	setup
	local h label=none
	# scripts/datalad.sh fails unless the adapter is 1.2.5.
	[ ${#adapter[@]} -eq 0 ] || label="datalad-container 1.2.5 docker adapter"
	printf '# imgsave benchmark\n\n%s, %s cores; imgsave %s; adapter: %s\n' \
		"$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" \
		"$(git describe --always --dirty 2>/dev/null || echo '?')" "$label"
	if [ -z "${IMGSAVE_BENCH_ONLY:-}" ]; then
		WALL=() RSS=() OWN=() NOTES=() SPREAD=() TIMES=()
		bench_start
		report_start
	fi
	if [ "${IMGSAVE_BENCH_ONLY:-}" != apptainer ]; then
		for h in "${hosts[@]}"; do
			bench_engine "$h"
		done
	fi
	[ -n "${IMGSAVE_BENCH_ONLY:-}" ] && [ "${IMGSAVE_BENCH_ONLY:-}" != apptainer ] || bench_apptainer
}

main "$@"
