#!/usr/bin/env bash
# The benchmark behind `make bench` (which builds bin/imgsave first): wall
# time and peak RSS of imgsave against the engine's own save/load/run and
# against datalad-container's docker adapter (scripts/datalad.sh), printed
# as Markdown tables on stdout, one section per engine. Progress goes to
# stderr. It is a report: it asserts nothing about the numbers, and exits
# non-zero only when a command fails (the adapter failing is reported in
# the table instead, as "failed").
#
# What is measured, each with /usr/bin/time -f '%M' and bash's microsecond
# clock around the command (wall seconds, and
# the largest resident set of the process or of any child it waited for —
# client side only: the daemon's memory is not counted), plus the process's
# own peak RSS (VmHWM, children excluded, sampled every 50 ms):
#   save:   `docker save IMG >/dev/null`, `docker save IMG | tar -x`,
#           `imgsave -q save IMG DIR`, the adapter's `save IMG DIR`;
#   load:   `docker load <TAR`, `imgsave -q load DIR`, each with the image
#           removed from the engine first (the adapter loads only in run);
#   run:    `docker run --rm ID true`, the same with the flags imgsave run
#           adds, `imgsave -q run DIR true` and the adapter's `run DIR true`,
#           the image present: medians of several runs after one warm-up;
#   push:   `imgsave push DIR`, `crane push TARBALL`, through the plain-HTTP
#           loopback registry of scripts/engines.sh, each run to a new
#           repository (every blob uploaded);
#   pull:   `imgsave pull`, `crane pull --format oci`, `skopeo copy
#           docker:// oci:`, each into a folder that does not exist;
#   memory: imgsave save's and load's own peak RSS at two image sizes;
#   apptainer (scripts/apptainer.sh): `imgsave run DIR true` with the SIF
#           cached against `apptainer exec SIF true` and against `apptainer
#           run` with the flags imgsave adds; and the first run (an empty
#           SIF cache) against `apptainer build X.sif oci:DIR@MANIFEST`
#           plus `apptainer exec X.sif true`, on busybox and the large
#           image.
#
# The test images are made offline by scripts/mkimage.sh: busybox plus
# incompressible random data in three layers, and busybox alone.
#
# Environment:
#   IMGSAVE_BENCH_MB            size of the large image in MB (default 300)
#   IMGSAVE_BENCH_SMALL_MB      second size for the memory rows (default 100)
#   IMGSAVE_BENCH_RUNS          docker/imgsave runs per median (default 10)
#   IMGSAVE_BENCH_ADAPTER_RUNS  adapter runs per median (default 5)
#   IMGSAVE_BENCH_BUILD_RUNS    first runs (SIF builds) per median (default 3)
#   IMGSAVE_BENCH_ONLY          "apptainer": Apptainer's rows alone; "run": the
#                               run rows alone, for each engine
#   IMGSAVE_BENCH_ENGINES       DOCKER_HOST values to benchmark besides the
#                               default socket, separated by spaces, e.g.
#                               IMGSAVE_BENCH_ENGINES="$IMGSAVE_ENGINES"
set -euo pipefail
cd "$(dirname "$0")/.."

big_mb=${IMGSAVE_BENCH_MB:-300}
small_mb=${IMGSAVE_BENCH_SMALL_MB:-100}
runs=${IMGSAVE_BENCH_RUNS:-10}
adapter_runs=${IMGSAVE_BENCH_ADAPTER_RUNS:-5}
build_runs=${IMGSAVE_BENCH_BUILD_RUNS:-3}
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

# setup checks bin/imgsave, installs GNU time if missing, starts the
# engines, finds the adapter and the engines to measure.
setup() {
	[ -x "$imgsave" ] || die "no $imgsave: run 'make build' (or 'make bench')"
	if [ ! -x /usr/bin/time ]; then
		log "installing GNU time"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
	fi
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
			done <"/proc/$pid/status" 2>/dev/null || true
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

# repeated N CMD...: one untimed warm-up run, then N timed runs, stdin
# /dev/null; sets T, M and O to the medians.
repeated() {
	local n=$1 i ts=() ms=() os=()
	shift
	timed "$@" </dev/null || return 1
	for ((i = 0; i < n; i++)); do
		timed "$@" </dev/null || return 1
		ts+=("$T") ms+=("$M") os+=("$O")
	done
	T=$(median "${ts[@]}") M=$(median "${ms[@]}") O=$(median "${os[@]}")
}

# Results for the engine being measured, by key: WALL (s), RSS and OWN
# (KiB); WALL is "failed" for an adapter step that failed, and a key not
# set was not measured. OWN is empty where it means nothing (a pipeline).
# NOTES collects, for the report, the last line each failure logged.
declare -A WALL RSS OWN
NOTES=()
record() { WALL[$1]=$T RSS[$1]=$M OWN[$1]=$O; }
failed() {
	WALL[$1]=failed RSS[$1]=failed OWN[$1]=failed
	NOTES+=("$1 failed: $(grep -v '^[[:space:]]*$' "$work/cmd.log" | tail -n 1)")
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

# bench_save REF: the four saves of the large image; leaves imgsave's
# directory in $work/big.dir for the load side.
bench_save() {
	local ref=$1 dir
	log "save: warming up the engine's cache"
	docker save "$ref" >/dev/null

	log "save: docker save >/dev/null"
	timed docker save "$ref" </dev/null
	record save_docker_null

	log "save: docker save | tar -x"
	dir=$(fresh tar.dir)
	mkdir "$dir"
	# shellcheck disable=SC2016 # $1 and $2 are bash -c's arguments
	timed bash -c 'docker save "$1" | tar -x -C "$2"' _ "$ref" "$dir" </dev/null
	O="" record save_docker_tar
	rm -rf "$dir"

	log "save: imgsave save"
	timed "$imgsave" -q save --pull never "$ref" "$(fresh big.dir)" </dev/null
	record save_imgsave

	if [ ${#adapter[@]} -gt 0 ]; then
		log "save: adapter save"
		dir=$(fresh adapter.dir)
		if timed "${adapter[@]}" save "$ref" "$dir" </dev/null; then record save_adapter; else failed save_adapter; fi
		rm -rf "$dir"
	fi
}

# bench_load REF: `docker load` of a saved tarball and `imgsave load` of
# $work/big.dir, the image removed from the engine before each. Leaves the
# image loaded (by imgsave).
bench_load() {
	local ref=$1 tar=$work/big.tar
	docker save -o "$tar" "$ref"
	log "load: docker load"
	unload "$ref"
	timed docker load <"$tar"
	record load_docker
	rm -f "$tar"

	log "load: imgsave load"
	unload "$ref"
	timed "$imgsave" -q load "$work/big.dir" </dev/null
	record load_imgsave
	rm -rf "$work/big.dir"
}

# bench_registry REF: push and pull of the large image through the
# loopback registry: imgsave against crane and skopeo. Every run pushes
# to a repository of its own, so that each uploads every blob, and pulls
# into a folder that does not exist yet.
bench_registry() {
	local ref=$1 dir tarball
	dir=$work/big.dir
	tarball=$(fresh big.tar)
	docker save "$ref" >"$tarball"

	log "push: imgsave push DIR (x$runs)"
	repeated "$runs" sh -c '"$0" -q push "$1" "$2/imgsave-bench-$$-$(date +%s%N)/big:1"' "$imgsave" "$dir" "$registry"
	record push_imgsave
	OWN[push_imgsave]="" # the sh -c wrapper's
	log "push: crane push TARBALL (x$runs)"
	repeated "$runs" sh -c '"$0" push --insecure "$1" "$2/crane-bench-$$-$(date +%s%N)/big:1"' "$crane" "$tarball" "$registry"
	record push_crane
	OWN[push_crane]="" # the sh -c wrapper's

	local src=$registry/imgsave-bench-pull-$$/big:1
	"$imgsave" -q push "$dir" "$src" >/dev/null
	log "pull: imgsave pull (x$runs)"
	repeated "$runs" sh -c 'rm -rf "$1" && "$0" -q pull "$2" "$1"' "$imgsave" "$work/pulled" "$src"
	record pull_imgsave
	OWN[pull_imgsave]="" # the sh -c wrapper's
	log "pull: crane pull --format oci (x$runs)"
	repeated "$runs" sh -c 'rm -rf "$1" && "$0" pull --insecure --format oci "$2" "$1"' "$crane" "$work/crane-pulled" "$src"
	record pull_crane
	OWN[pull_crane]="" # the sh -c wrapper's
	log "pull: skopeo copy docker:// oci: (x$runs)"
	repeated "$runs" sh -c 'rm -rf "$1" && skopeo copy -q --src-tls-verify=false "docker://$0" "oci:$1:big"' "$src" "$work/skopeo-pulled"
	record pull_skopeo
	OWN[pull_skopeo]="" # the sh -c wrapper's
	rm -rf "$work/pulled" "$work/crane-pulled" "$work/skopeo-pulled" "$tarball"
}

# bench_memory REF: imgsave save and load of the second, smaller image, for
# the memory rows (the large image's come from the save and load sides).
bench_memory() {
	local ref=$1 dir
	log "memory: imgsave save and load of the ${small_mb} MB image"
	dir=$(fresh small.dir)
	timed "$imgsave" -q save --pull never "$ref" "$dir" </dev/null
	record mem_save_small
	unload "$ref"
	timed "$imgsave" -q load "$dir" </dev/null
	record mem_load_small
	rm -rf "$dir"
}

# bench_run REF: the per-run overhead, on the busybox image, present. Runs
# from an empty directory, since imgsave and the adapter mount it.
bench_run() {
	local ref=$1 id dir adir
	id=$(docker image inspect -f '{{.Id}}' "$ref")
	dir=$(fresh tiny.dir)
	"$imgsave" -q save --pull never "$ref" "$dir" >/dev/null
	cd "$work/cwd"

	# The three interleaved (docker, docker with the flags, imgsave, docker,
	# ...), so that the machine's drift falls on all three alike (#23).
	log "run: docker run --rm ID true, the same with imgsave run's flags, imgsave run DIR true, interleaved (x$runs)"
	local i k kM kO ts=() fs=() is=() pairs=()
	for ((i = 0; i <= runs; i++)); do
		timed docker run --rm "$id" true </dev/null || return 1
		k=$T kM=$M kO=$O
		timed docker run --rm --interactive --mount "type=bind,source=$PWD,target=/tmp" --workdir /tmp \
			--user "$(id -u):$(id -g)" "$id" true </dev/null || return 1
		local f=$T M1=$M O1=$O
		timed "$imgsave" -q run "$dir" true </dev/null || return 1
		if [ "$i" -gt 0 ]; then # the first round warms up
			ts+=("$k") fs+=("$f") is+=("$T")
			pairs+=("$(awk -v a="$T" -v b="$f" 'BEGIN {printf "%.4f", a - b}')")
		fi
	done
	T=$(median "${ts[@]}") M=$kM O=$kO record run_docker
	T=$(median "${fs[@]}") M=$M1 O=$O1 record run_docker_flags
	T=$(median "${is[@]}") record run_imgsave
	# imgsave minus docker with the same flags, round by round: its median
	# and spread (smallest, largest), in ms.
	RUN_DIFF=$(printf '%s\n' "${pairs[@]}" | sort -g | awk '{a[NR] = $1 * 1000} END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%+.1f ms (%+.1f to %+.1f)", m, a[1], a[NR]}')

	if [ ${#adapter[@]} -gt 0 ]; then
		log "run: adapter run DIR true (x$adapter_runs)"
		adir=$(fresh tiny.adapter)
		if timed "${adapter[@]}" save "$ref" "$adir" </dev/null &&
			repeated "$adapter_runs" "${adapter[@]}" run "$adir" true; then
			record run_adapter
		else
			failed run_adapter
		fi
	fi
	cd - >/dev/null
}

# ------------------------------------------------------------ reporting

# mib KIB: KiB as MiB with one decimal.
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# cell KEY: "wall s | peak RSS MiB | own peak RSS MiB" of a result, "–"
# where not measured.
cell() {
	case ${WALL[$1]:-} in
	"") echo "– | – | –" ;;
	failed) echo "failed | failed | failed" ;;
	*)
		printf '%.3f | %s | %s\n' "${WALL[$1]}" "$(mib "${RSS[$1]}")" \
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

# ratio A B: "wall A/B | peak RSS A/B | own peak RSS A/B".
ratio() {
	echo "$(div "${WALL[$1]:-}" "${WALL[$2]:-}") | $(div "${RSS[$1]:-}" "${RSS[$2]:-}") | $(div "${OWN[$1]:-}" "${OWN[$2]:-}")"
}

# own KEY: the own peak RSS in MiB, or "–".
own() { [[ ${OWN[$1]:-} =~ ^[0-9]+$ ]] && mib "${OWN[$1]}" || echo –; }

# report HOST BIG TINY: this engine's three tables.
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

		Large image: busybox + ${big_mb} MB of random data in 3 layers (engine reports $((big_bytes / 1000000)) MB); memory rows also at ${small_mb} MB; run rows on busybox alone ($((tiny_bytes / 1000000)) MB), medians of $runs runs ($adapter_runs for the adapter) after one warm-up. "peak RSS" is GNU time's %M: the process or its largest waited-for child (imgsave's docker CLI child counts); "own" is the process alone (VmHWM sampled every 50 ms). The daemon's memory is not counted.

		| side | command | wall s | peak RSS MiB | own peak RSS MiB |
		|---|---|---:|---:|---:|
		| save | \`docker save IMG >/dev/null\` | $(cell save_docker_null) |
		| save | \`docker save IMG \| tar -x -C DIR\` | $(cell save_docker_tar) |
		| save | \`imgsave -q save IMG DIR\` | $(cell save_imgsave) |
		| save | adapter \`save IMG DIR\` | $(cell save_adapter) |
		| load | \`docker load <TAR\` | $(cell load_docker) |
		| load | \`imgsave -q load DIR\` | $(cell load_imgsave) |
		| load | adapter: none (loads inside \`run\`) | – | – | – |
		| run | \`docker run --rm ID true\` | $(cell run_docker) |
		| run | \`docker run --rm -i --mount type=bind,source=CWD,target=/tmp -w /tmp -u UID:GID ID true\` | $(cell run_docker_flags) |
		| run | \`imgsave -q run DIR true\` (present) | $(cell run_imgsave) |
		| run | adapter \`run DIR true\` (present) | $(cell run_adapter) |
		| push | \`imgsave -q push DIR REG/REPO:1\` (gzip) | $(cell push_imgsave) |
		| push | \`crane push TARBALL REG/REPO:1\` | $(cell push_crane) |
		| pull | \`imgsave -q pull REG/REPO:1 DIR\` | $(cell pull_imgsave) |
		| pull | \`crane pull --format oci REG/REPO:1 DIR\` | $(cell pull_crane) |
		| pull | \`skopeo copy docker://REG/REPO:1 oci:DIR\` | $(cell pull_skopeo) |

		| ratio | wall | peak RSS | own peak RSS |
		|---|---:|---:|---:|
		| imgsave save / docker save >/dev/null | $(ratio save_imgsave save_docker_null) |
		| imgsave save / docker save \| tar -x | $(ratio save_imgsave save_docker_tar) |
		| imgsave save / adapter save | $(ratio save_imgsave save_adapter) |
		| adapter save / docker save \| tar -x | $(ratio save_adapter save_docker_tar) |
		| imgsave load / docker load | $(ratio load_imgsave load_docker) |
		| imgsave run / docker run --rm | $(ratio run_imgsave run_docker) |
		| imgsave run / docker run, same flags | $(ratio run_imgsave run_docker_flags) |
		| imgsave run minus docker run, same flags, per round: median (spread) | ${RUN_DIFF:-–} | | |
		| imgsave run / adapter run | $(ratio run_imgsave run_adapter) |
		| adapter run / docker run --rm | $(ratio run_adapter run_docker) |
		| imgsave push / crane push | $(ratio push_imgsave push_crane) |
		| imgsave pull / crane pull | $(ratio pull_imgsave pull_crane) |
		| imgsave pull / skopeo copy | $(ratio pull_imgsave pull_skopeo) |

		| imgsave's own peak RSS MiB | ${small_mb} MB image | ${big_mb} MB image | growth |
		|---|---:|---:|---:|
		| save | $(own mem_save_small) | $(own save_imgsave) | $(div "${OWN[save_imgsave]:-}" "${OWN[mem_save_small]:-}") |
		| load | $(own mem_load_small) | $(own load_imgsave) | $(div "${OWN[load_imgsave]:-}" "${OWN[mem_load_small]:-}") |
	EOF
	local n
	for n in ${NOTES[@]+"${NOTES[@]}"}; do
		printf '\n- %s\n' "$n"
	done
}

# bench_engine HOST: everything, on the daemon at HOST.
bench_engine() {
	export DOCKER_HOST=$1
	WALL=() RSS=() OWN=() NOTES=() RUN_DIFF=""
	local big=imgsave-bench/big-$$:$big_mb small=imgsave-bench/small-$$:$small_mb tiny=imgsave-bench/tiny-$$:1
	if [ "${IMGSAVE_BENCH_ONLY:-}" != run ]; then
		log "$DOCKER_HOST: making the ${big_mb} MB, ${small_mb} MB and busybox images"
		make_image "$big" "$big_mb"
		make_image "$small" "$small_mb"
	fi
	make_image "$tiny" 0

	if [ "${IMGSAVE_BENCH_ONLY:-}" = run ]; then
		bench_run "$tiny"
		report "$DOCKER_HOST" "$tiny" "$tiny"
		unload "$tiny"
		return
	fi
	bench_save "$big"
	bench_registry "$big"
	bench_load "$big"
	bench_memory "$small"
	bench_run "$tiny"
	report "$DOCKER_HOST" "$big" "$tiny"

	log "$DOCKER_HOST: removing the images"
	unload "$big"
	unload "$small"
	unload "$tiny"
}

# bench_apptainer: Apptainer's rows, on images the default engine makes.
bench_apptainer() {
	local apptainer tiny=imgsave-bench/app-tiny-$$:1 big=imgsave-bench/app-big-$$:$big_mb name dir m cache
	apptainer=$(scripts/apptainer.sh 2>>"$work/cmd.log" | sed -n "s/^IMGSAVE_APPTAINER='\(.*\)'$/\1/p")
	[ -n "$apptainer" ] || die "scripts/apptainer.sh failed"
	export DOCKER_HOST=$default_host
	WALL=() RSS=() OWN=() NOTES=()
	log "apptainer: making the busybox and ${big_mb} MB images"
	make_image "$tiny" 0
	make_image "$big" "$big_mb"
	cd "$work/cwd"
	for name in tiny big; do
		dir=$(fresh "app-$name.dir")
		if [ $name = tiny ]; then "$imgsave" -q save --pull never "$tiny" "$dir" >/dev/null; else "$imgsave" -q save --pull never "$big" "$dir" >/dev/null; fi
		m=$(sed -n 's/.*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p' "$dir/index.json" | head -n 1)
		cache=$work/sif-$name
		log "apptainer: first run of $name, imgsave and build + exec (x$build_runs each)"
		repeated "$build_runs" sh -c 'rm -rf "$1" && "$2" -q run --engine "$3" --sif-cache "$1" "$4" true' sh "$cache" "$imgsave" "$apptainer" "$dir"
		record "app_first_imgsave_$name"
		repeated "$build_runs" sh -c 'rm -f "$1" && cd "$2" && "$3" -q build --reproducible --disable-cache "$1" "oci:.@$4" && "$3" -q exec "$1" true' sh "$work/ref-$name.sif" "$dir" "$apptainer" "$m"
		record "app_first_ref_$name"
		log "apptainer: cached runs of $name (x$runs each)"
		repeated "$runs" "$apptainer" -q exec "$work/ref-$name.sif" true
		record "app_exec_$name"
		repeated "$runs" "$apptainer" -q run --containall --cleanenv --no-eval --mount "type=bind,source=$PWD,destination=/tmp" --pwd /tmp "$work/ref-$name.sif" true
		record "app_run_flags_$name"
		repeated "$runs" "$imgsave" -q run --engine "$apptainer" --sif-cache "$cache" "$dir" true
		record "app_cached_imgsave_$name"
	done
	cd - >/dev/null
	unload "$tiny"
	unload "$big"
	cat <<-EOF

		## Apptainer $("$apptainer" version) (as $(id -un))

		Busybox alone, and busybox + ${big_mb} MB of random data in 3 layers. Cached runs: medians of $runs after one warm-up; first runs (a SIF cache emptied before each): medians of $build_runs after one warm-up.

		| image | command | wall s | peak RSS MiB | own peak RSS MiB |
		|---|---|---:|---:|---:|
		| busybox | \`apptainer exec SIF true\` | $(cell app_exec_tiny) |
		| busybox | \`apptainer run --containall --cleanenv --no-eval --mount CWD:/tmp --pwd /tmp SIF true\` | $(cell app_run_flags_tiny) |
		| busybox | \`imgsave -q run DIR true\` (SIF cached) | $(cell app_cached_imgsave_tiny) |
		| busybox | \`apptainer build X.sif oci:DIR@M && apptainer exec X.sif true\` | $(cell app_first_ref_tiny) |
		| busybox | \`imgsave -q run DIR true\` (first run: builds the SIF) | $(cell app_first_imgsave_tiny) |
		| ${big_mb} MB | \`apptainer exec SIF true\` | $(cell app_exec_big) |
		| ${big_mb} MB | \`imgsave -q run DIR true\` (SIF cached) | $(cell app_cached_imgsave_big) |
		| ${big_mb} MB | \`apptainer build X.sif oci:DIR@M && apptainer exec X.sif true\` | $(cell app_first_ref_big) |
		| ${big_mb} MB | \`imgsave -q run DIR true\` (first run: builds the SIF) | $(cell app_first_imgsave_big) |

		| ratio | busybox | ${big_mb} MB |
		|---|---:|---:|
		| imgsave run, cached, minus apptainer exec (ms) | $(msdiff app_cached_imgsave_tiny app_exec_tiny) | $(msdiff app_cached_imgsave_big app_exec_big) |
		| imgsave run, cached, minus apptainer run with the same flags (ms) | $(msdiff app_cached_imgsave_tiny app_run_flags_tiny) | $(msdiff app_cached_imgsave_big app_run_flags_big) |
		| imgsave first run / build + exec | $(div "${WALL[app_first_imgsave_tiny]:-}" "${WALL[app_first_ref_tiny]:-}") | $(div "${WALL[app_first_imgsave_big]:-}" "${WALL[app_first_ref_big]:-}") |
	EOF
}

# msdiff A B: the wall time of A minus B's, in milliseconds.
msdiff() {
	awk -v a="${WALL[$1]:-}" -v b="${WALL[$2]:-}" 'BEGIN {if (a == "" || b == "") print "–"; else printf "%+.0f", (a - b) * 1000}'
}

main() {
	setup
	local h label=none
	# scripts/datalad.sh fails unless the adapter is 1.2.5.
	[ ${#adapter[@]} -eq 0 ] || label="datalad-container 1.2.5 docker adapter"
	printf '# imgsave benchmark\n\n%s, %s cores; imgsave %s; adapter: %s\n' \
		"$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" \
		"$(git describe --always --dirty 2>/dev/null || echo '?')" "$label"
	if [ "${IMGSAVE_BENCH_ONLY:-}" != apptainer ]; then
		for h in "${hosts[@]}"; do
			bench_engine "$h"
		done
	fi
	[ "${IMGSAVE_BENCH_ONLY:-}" = run ] || bench_apptainer
}

main "$@"
