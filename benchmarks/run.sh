#!/usr/bin/env bash
# Runs every load-generator scenario against queuecast and the Node reference
# peer, one fresh server process per scenario, and writes
# benchmarks/results/YYYY-MM-DD.md (plus the raw JSON lines next to it).
#
#   benchmarks/run.sh [loadgen flags...]     e.g. benchmarks/run.sh -quick
#
# Expects bin/queuecast, bin/loadgen and benchmarks/peers/node/node_modules
# (make bench builds them). Environment: QC_PORT (5100), PEER_PORT (5101, the Node peer;
# not NODE_PORT, which queuecast reads as its cluster port),
# SCENARIOS (all seven; add "cluster" for the cross-node benchmark of
# benchmarks/cluster.sh, which needs PostgreSQL), NODE_JOINSTORM_N (2000; Node's 5000-socket storm
# takes ~140 s), RESULTS_DIR (benchmarks/results).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
qc_port=${QC_PORT:-5100}
node_port=${PEER_PORT:-5101}
scenarios=${SCENARIOS:-connect fanout joinstorm ack churn slow rest}
node_joinstorm_n=${NODE_JOINSTORM_N:-2000}
results_dir=${RESULTS_DIR:-benchmarks/results}
secret="bench-$(date +%s)-$$"
day=$(date +%F)
work=$(mktemp -d)
server_pid=""

cluster=0
single=()
for s in $scenarios; do
	if [[ $s == cluster ]]; then cluster=1; else single+=("$s"); fi
done
scenarios=${single[*]}
if [[ -z $scenarios ]]; then
	rmdir "$work"
	[[ $cluster == 0 ]] || exec ./benchmarks/cluster.sh "$@"
	exit 0
fi

quick=0
for a in "$@"; do [[ $a == -quick || $a == --quick ]] && quick=1; done

for f in bin/queuecast bin/loadgen; do
	[[ -x $f ]] || { echo "run.sh: $f missing (run make bench)" >&2; exit 1; }
done
[[ -d benchmarks/peers/node/node_modules ]] || { echo "run.sh: npm ci the Node peer first" >&2; exit 1; }

stop_server() {
	[[ -n $server_pid ]] || return 0
	kill -TERM "$server_pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$server_pid" 2>/dev/null; then
		echo "run.sh: pid $server_pid ignored SIGTERM for 10 s; killing it" >&2
		kill -KILL "$server_pid" 2>/dev/null || true
	fi
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT

# start_server NAME: starts a fresh process, sets server_pid, waits for /health.
start_server() {
	local name=$1 port
	if [[ $name == queuecast ]]; then
		port=$qc_port
		rm -rf "$work/qc-data" && mkdir -p "$work/qc-data"
		# The generator is one address opening thousands of sockets: the
		# per-address limits would refuse it, so they are off here.
		PORT=$port JWT_SECRET=$secret DATA_DIR=$work/qc-data LOG_LEVEL=warn \
			EVENT_RATE=0 CONN_RATE_PER_IP=0 MAX_CONNECTIONS_PER_IP=0 REST_RATE_PER_IP=0 REST_RATE_PER_TOKEN=0 \
			"$root/bin/queuecast" serve >>"$work/queuecast.server.log" 2>&1 &
	else
		port=$node_port
		(cd benchmarks/peers/node && PORT=$port JWT_SECRET=$secret exec node server.js) \
			>>"$work/node.server.log" 2>&1 &
	fi
	server_pid=$!
	for _ in $(seq 1 100); do
		curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "run.sh: $name did not become healthy" >&2
	tail -20 "$work/$name.server.log" >&2 || true
	return 1
}

started=$(date +%s)
for s in $scenarios; do
	for name in queuecast node; do
		port=$qc_port extra=()
		if [[ $name == node ]]; then
			port=$node_port
			if [[ $s == joinstorm && $quick == 0 ]]; then extra=(-joinstorm-n "$node_joinstorm_n"); fi
		fi
		echo "== $s on $name" >&2
		if ! start_server "$name"; then
			echo "{\"server\":\"$name\",\"scenario\":\"$s\",\"status\":\"error\",\"note\":\"server did not start\",\"metrics\":[]}" >>"$work/$name.jsonl"
			stop_server
			continue
		fi
		"$root/bin/loadgen" -server "$name" -addr "127.0.0.1:$port" -pid "$server_pid" -secret "$secret" \
			-scenarios "$s" -markdown=false "${extra[@]}" "$@" >>"$work/$name.jsonl" || \
			echo "run.sh: loadgen exited $? on $s/$name" >&2
		stop_server
	done
done
elapsed=$(( $(date +%s) - started ))

mkdir -p "$results_dir"
out="$results_dir/$day.md"
table=$("$root/bin/loadgen" report "$work/queuecast.jsonl" "$work/node.jsonl")
warns=$(grep -c 'level=WARN' "$work/queuecast.server.log" || true)
errors=$(grep -c 'level=ERROR' "$work/queuecast.server.log" || true)
{
	echo "# Benchmark results, $day"
	echo
	echo "queuecast (Go) against the Node reference peer (express + socket.io 4.8.4), same"
	echo "load generator, same contract, loopback, one fresh server process per scenario."
	echo
	echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
	echo "- go: $(go version 2>/dev/null || echo unknown); node: $(node --version)"
	echo "- command: \`benchmarks/run.sh $*\` (SCENARIOS=\"$scenarios\", NODE_JOINSTORM_N=$node_joinstorm_n), total ${elapsed} s"
	echo "- the generator shares the 2 cores with the server: compare servers on server CPU per"
	echo "  operation (utime+stime from /proc/<pid>/stat) as much as on rates"
	echo "- \"other processes CPU\" is the machine's busy time (/proc/stat) minus the server and the"
	echo "  generator: other work on the box that competed for the 2 cores in that window"
	echo "- ratio = how many times better queuecast is (queuecast/node for higher-is-better"
	echo "  metrics, node/queuecast for lower-is-better); > 1 favours queuecast; blank for"
	echo "  descriptive counts"
	if [[ $quick == 0 ]]; then
		echo "- joinstorm runs 5000 sockets on queuecast but $node_joinstorm_n on Node (5000 take ~140 s there):"
		echo "  compare events/s and CPU per event, not completion time"
	fi
	echo "- queuecast server log over the whole run: $warns WARN lines, $errors ERROR lines"
	echo
	echo "$table"
	echo
	echo "Raw results: \`$day-queuecast.jsonl\`, \`$day-node.jsonl\`."
} >"$out"
cp "$work/queuecast.jsonl" "$results_dir/$day-queuecast.jsonl"
cp "$work/node.jsonl" "$results_dir/$day-node.jsonl"
grep -v 'unknown message" type=\*actor.Terminated' "$work/queuecast.server.log" | tail -20 >&2 || true
echo >&2
cat "$out"
if [[ $cluster == 1 ]]; then
	stop_server
	./benchmarks/cluster.sh "$@"
fi
