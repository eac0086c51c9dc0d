#!/usr/bin/env bash
# bench/run.sh — what `make bench` runs: ringlimit's benchmarks on this
# machine, written up in bench/RESULTS.md with plots in bench/plots/.
#
#   1. Go benchmarks of the hot path (window, server) and, in the same
#      run, the comparison libraries (bench/compare), saved raw
#      (benchstat-readable) in bench/results/gobench-*.txt;
#   2. over loopback, one ringlimit node against the bare fasthttp
#      reference server (bench/refserver), alternating reference,
#      ringlimit, reference, ringlimit with the same load-generator
#      settings; an open-loop run at a fixed rate; a batched run;
#   3. a 3-node cluster on this machine, every node loaded, and the
#      cluster's Go benchmarks (reset latency through a follower);
#   4. bench/report turns bench/results/ into bench/RESULTS.md.
#
# Every server listens on 127.0.0.1 only and every process this script
# starts is stopped when it exits, however it exits.
#
# Knobs (environment variables), defaults in brackets:
#   BENCH_TIME         measured time of each load run [5s]
#   BENCH_WARMUP       load before each measured run [1s]
#   BENCH_ROUNDS       A/B rounds of reference vs ringlimit [3]
#   BENCH_CONNECTIONS  load-generator connections [64]
#   BENCH_KEYS         distinct keys [10000]
#   BENCH_RATE         open-loop rate, requests/s [10000]
#   BENCH_BATCH        checks per batched request [100]
#   BENCH_GO_TIME      go test -benchtime [1s]
#   BENCH_GO_COUNT     go test -count [1] (6 or more for benchstat)
#   BENCH_SKIP_GO=1    skip the Go benchmarks
#   BENCH_SKIP_LOAD=1  skip the single-node load runs
#   BENCH_SKIP_CLUSTER=1  skip the cluster section
#   BENCH_RESULTS      raw results directory [bench/results]
#   BENCH_OUT          report file [bench/RESULTS.md]
#   BENCH_PLOTS        plot directory [bench/plots]
# A quick smoke run: BENCH_TIME=1s BENCH_WARMUP=200ms BENCH_ROUNDS=1 BENCH_GO_TIME=100ms bench/run.sh
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

BENCH_TIME=${BENCH_TIME:-5s}
BENCH_WARMUP=${BENCH_WARMUP:-1s}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-64}
BENCH_KEYS=${BENCH_KEYS:-10000}
BENCH_RATE=${BENCH_RATE:-10000}
BENCH_BATCH=${BENCH_BATCH:-100}
BENCH_GO_TIME=${BENCH_GO_TIME:-1s}
BENCH_GO_COUNT=${BENCH_GO_COUNT:-1}
BENCH_SKIP_GO=${BENCH_SKIP_GO:-0}
BENCH_SKIP_LOAD=${BENCH_SKIP_LOAD:-0}
BENCH_SKIP_CLUSTER=${BENCH_SKIP_CLUSTER:-0}
RESULTS=${BENCH_RESULTS:-bench/results}
OUT=${BENCH_OUT:-bench/RESULTS.md}
PLOTS=${BENCH_PLOTS:-bench/plots}

log() { printf '\n== %s\n' "$*" >&2; }
die() {
	printf 'bench/run.sh: %s\n' "$*" >&2
	exit 1
}

# ---- processes: every one started here is stopped on exit -----------------
PIDS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringlimit-bench.XXXXXX")
cleanup() {
	local code=$? pid i
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "bench/run.sh: process $pid did not stop on SIGTERM; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
	exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME CMD...: runs CMD in the background, its output in $WORK/NAME.log.
start() {
	local name=$1
	shift
	"$@" >"$WORK/$name.log" 2>&1 &
	PIDS+=($!)
	LAST_PID=$!
}

# free_port VAR: sets VAR to a TCP port on 127.0.0.1 that nothing listens
# on and that this script has not handed out yet. (Not $(free_port): the
# list of ports handed out must survive the call.)
USED_PORTS=" "
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 30000))
		[[ $USED_PORTS == *" $p "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			USED_PORTS+="$p "
			printf -v "$1" '%s' "$p"
			return 0
		fi
	done
	die "no free port found on 127.0.0.1"
}

# http_status HOST PORT PATH: prints the HTTP status of GET PATH, or 000.
http_status() {
	local line
	line=$(
		exec 2>/dev/null
		exec 3<>"/dev/tcp/$1/$2" || exit 0
		printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$3" "$1" "$2" >&3
		timeout 2 head -n1 <&3 || true
	) 2>/dev/null || true
	line=${line#HTTP/1.? }
	echo "${line:0:3}" | grep -E '^[0-9]{3}$' || echo 000
}

# wait_ready NAME PID HOST PORT PATH [SECONDS]: waits until GET PATH
# answers 200 (PATH "-": until the port accepts), failing clearly if the
# process exits or the deadline passes.
wait_ready() {
	local name=$1 pid=$2 host=$3 port=$4 path=$5 secs=${6:-30} i
	for ((i = 0; i < secs * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$WORK/$name.log" >&2 || true
			die "$name exited before it was ready (log above)"
		fi
		if [[ $path == - ]]; then
			(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
		elif [[ $(http_status "$host" "$port" "$path") == 200 ]]; then
			return 0
		fi
		sleep 0.1
	done
	tail -n 20 "$WORK/$name.log" >&2 || true
	die "$name was not ready on $host:$port within ${secs}s (log above)"
}

# console: shows go test -bench output without the benchmarks' indented
# log lines (they stay in the raw file).
console() { grep -v -e '^[[:space:]]' -e '^--- BENCH' || true; }

record() { printf '%s\n' "$*" >>"$RESULTS/commands.txt"; }
note() {
	printf '%s\n' "$*" >>"$RESULTS/notes.txt"
	echo "note: $*" >&2
}

# ---- results directory -------------------------------------------------------
mkdir -p "$RESULTS"
rm -f "$RESULTS"/load-*.json "$RESULTS"/gobench-*.txt "$RESULTS"/meta.txt "$RESULTS"/commands.txt "$RESULTS"/notes.txt
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "go=$(go version | sed 's/^go version //')"
	echo "kernel=$(uname -sr)"
	echo "cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
	echo "bench_time=$BENCH_TIME (+ $BENCH_WARMUP warm-up) per load run, $BENCH_ROUNDS A/B rounds, $BENCH_CONNECTIONS connections, $BENCH_KEYS keys"
	echo "go_bench_time=$BENCH_GO_TIME"
	echo "go_bench_count=$BENCH_GO_COUNT"
} >"$RESULTS/meta.txt"
: >"$RESULTS/commands.txt"
: >"$RESULTS/notes.txt"

GOBENCH=(go test -run='^$' -bench=. -benchmem "-benchtime=$BENCH_GO_TIME" "-count=$BENCH_GO_COUNT")
GOBENCH_STR="go test -run='^\$' -bench=. -benchmem -benchtime=$BENCH_GO_TIME -count=$BENCH_GO_COUNT"

# ---- 1. Go benchmarks ----------------------------------------------------------
if [[ $BENCH_SKIP_GO != 1 ]]; then
	log "Go benchmarks: window, server"
	record "$GOBENCH_STR ./window/ ./server/"
	"${GOBENCH[@]}" ./window/ ./server/ | tee "$RESULTS/gobench-1-main.txt" | console
	if [[ -d bench/compare ]]; then
		log "Go benchmarks: comparison libraries (bench/compare)"
		record "(cd bench/compare && $GOBENCH_STR .)"
		(cd bench/compare && "${GOBENCH[@]}" .) | tee "$RESULTS/gobench-2-compare.txt" | console
	else
		note "bench/compare does not exist: no comparison-library benchmarks in this run."
	fi
else
	note "Go benchmarks skipped (BENCH_SKIP_GO=1)."
fi

# ---- build ---------------------------------------------------------------------
log "building ringlimit, the reference server and the load generator"
BIN=$WORK/bin
mkdir -p "$BIN"
record "go build -o ringlimit ./cmd/ringlimit && go build -o refserver ./bench/refserver/cmd/refserver && go build -o loadgen ./bench/loadgen/cmd/loadgen"
go build -o "$BIN/ringlimit" ./cmd/ringlimit ||
	die "cannot build ./cmd/ringlimit: the ringlimit binary is needed for the load runs"
go build -o "$BIN/refserver" ./bench/refserver/cmd/refserver
go build -o "$BIN/loadgen" ./bench/loadgen/cmd/loadgen

SERVE_HELP=$("$BIN/ringlimit" serve --help 2>&1 || true)
[[ $SERVE_HELP == *--http-addr* ]] ||
	die "'ringlimit serve --help' does not mention --http-addr: cmd/ringlimit cannot start a node yet"

# The load generator: `ringlimit bench` once cmd wires it, else the same
# code built on its own.
if "$BIN/ringlimit" bench --help 2>&1 | grep -q -- 'allow-remote'; then
	LOADGEN=("$BIN/ringlimit" bench)
	LOADGEN_NAME="ringlimit bench"
else
	LOADGEN=("$BIN/loadgen")
	LOADGEN_NAME="loadgen"
fi

RUN_NO=0
# load LABEL ARGS...: one load-generator run, its JSON summary saved as
# $RESULTS/load-NN-LABEL.json, a one-line summary printed.
load() {
	local label=$1 file
	shift
	RUN_NO=$((RUN_NO + 1))
	file=$RESULTS/$(printf 'load-%02d-%s.json' "$RUN_NO" "${label//\//-}")
	record "$LOADGEN_NAME --label $label $* --json"
	echo "-- $label: $LOADGEN_NAME $*" >&2
	"${LOADGEN[@]}" --label "$label" "$@" --json >"$file" ||
		die "load run $label failed (summary in $file)"
	sed -n -e 's/^  "requests_per_s": \([0-9.]*\).*/   requests\/s \1/p' \
		-e 's/^  "decisions_per_s": \([0-9.]*\).*/   decisions\/s \1/p' \
		-e 's/^  "errors": \([0-9]*\).*/   errors \1/p' \
		-e 's/^    "p99": \([0-9.]*\).*/   p99 \1 µs/p' "$file" | paste -sd' ' >&2
}

COMMON=(--connections "$BENCH_CONNECTIONS" --keys "$BENCH_KEYS" --duration "$BENCH_TIME" --warmup "$BENCH_WARMUP")

# ---- 2. single node vs the reference -------------------------------------------
if [[ $BENCH_SKIP_LOAD != 1 ]]; then
	log "single node against the bare fasthttp reference"
	free_port REF_PORT
	record "refserver --addr 127.0.0.1:$REF_PORT"
	start refserver "$BIN/refserver" --addr "127.0.0.1:$REF_PORT"
	REF_PID=$LAST_PID
	wait_ready refserver "$REF_PID" 127.0.0.1 "$REF_PORT" -
	free_port RL_PORT
	# A one-node cluster, as `make run` starts, on ports and a data dir of its own.
	SINGLE=(serve --node-id single --http-addr "127.0.0.1:$RL_PORT" --gossip-addr 127.0.0.1:0
		--raft-addr 127.0.0.1:0 --data-dir "$WORK/single" --log-level warn)
	record "ringlimit ${SINGLE[*]}"
	start ringlimit "$BIN/ringlimit" "${SINGLE[@]}"
	RL_PID=$LAST_PID
	wait_ready ringlimit "$RL_PID" 127.0.0.1 "$RL_PORT" /readyz

	# A limit no key reaches, so every round does the same work (the reference
	# always answers "allowed"): rounds stay comparable however many ran before.
	for ((round = 1; round <= BENCH_ROUNDS; round++)); do
		load single/reference --addr "127.0.0.1:$REF_PORT" "${COMMON[@]}" --limit 1000000000
		load single/ringlimit --addr "127.0.0.1:$RL_PORT" "${COMMON[@]}" --limit 1000000000
	done
	log "open loop at $BENCH_RATE requests/s"
	OPEN_LABEL=open$BENCH_RATE
	[[ $BENCH_RATE == 10000 ]] && OPEN_LABEL=open10k
	load "$OPEN_LABEL/ringlimit" --addr "127.0.0.1:$RL_PORT" "${COMMON[@]}" --rate "$BENCH_RATE" --key-prefix "open:"
	log "batched checks, $BENCH_BATCH per request"
	load "batch$BENCH_BATCH/ringlimit" --addr "127.0.0.1:$RL_PORT" "${COMMON[@]}" --batch "$BENCH_BATCH" --key-prefix "batch:"
else
	note "single-node load runs skipped (BENCH_SKIP_LOAD=1)."
fi

# ---- 3. 3-node cluster -----------------------------------------------------------
if [[ $BENCH_SKIP_CLUSTER == 1 ]]; then
	note "3-node cluster skipped (BENCH_SKIP_CLUSTER=1)."
elif [[ $SERVE_HELP != *--join* ]]; then
	note "3-node cluster skipped: 'ringlimit serve --help' does not mention --join yet (the cluster flags are not wired into cmd/ringlimit)."
else
	log "3-node cluster, every node loaded"
	HTTP=() GOSSIP=() RAFT=() NODE_PIDS=()
	for n in 0 1 2; do
		free_port port && HTTP[n]=$port
		free_port port && GOSSIP[n]=$port
		free_port port && RAFT[n]=$port
	done
	for n in 0 1 2; do
		args=(serve --node-id "n$((n + 1))" --http-addr "127.0.0.1:${HTTP[n]}"
			--gossip-addr "127.0.0.1:${GOSSIP[n]}" --raft-addr "127.0.0.1:${RAFT[n]}"
			--data-dir "$WORK/n$((n + 1))" --log-level warn)
		if ((n > 0)); then # join through every node started so far
			join=127.0.0.1:${GOSSIP[0]}
			((n > 1)) && join+=,127.0.0.1:${GOSSIP[1]}
			args+=(--join "$join")
		fi
		record "ringlimit ${args[*]}"
		start "node$((n + 1))" "$BIN/ringlimit" "${args[@]}"
		NODE_PIDS[n]=$LAST_PID
		if ((n == 0)); then
			wait_ready node1 "${NODE_PIDS[0]}" 127.0.0.1 "${HTTP[0]}" /readyz 60
		fi
	done
	for n in 0 1 2; do
		wait_ready "node$((n + 1))" "${NODE_PIDS[n]}" 127.0.0.1 "${HTTP[n]}" /readyz 60
	done
	load cluster3/ringlimit --addr "127.0.0.1:${HTTP[0]},127.0.0.1:${HTTP[1]},127.0.0.1:${HTTP[2]}" \
		"${COMMON[@]}" --key-prefix "clust:"
fi
if [[ $BENCH_SKIP_CLUSTER != 1 && $BENCH_SKIP_GO != 1 ]]; then
	if grep -qs '^func Benchmark' cluster/*_test.go; then
		log "Go benchmarks: cluster (reset latency through a follower, hit replication)"
		record "$GOBENCH_STR ./cluster/"
		"${GOBENCH[@]}" ./cluster/ | tee "$RESULTS/gobench-3-cluster.txt" | console
	else
		note "cluster/ has no Go benchmarks yet: no reset-latency figure in this run."
	fi
fi

# ---- 4. report ---------------------------------------------------------------------
log "writing $OUT"
abs() { case $1 in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac }
(cd bench/report && go run . --results "$(abs "$RESULTS")" --out "$(abs "$OUT")" --plots "$(abs "$PLOTS")")
echo "bench/run.sh: done; see $OUT" >&2
