#!/usr/bin/env bash
# The cross-node benchmark (issue 9): the same fan-out and polling
# measurements against one queuecast and against three cluster nodes on one
# PostgreSQL (sockets spread over the nodes, broadcasts posted to node 1),
# then kill -9 of the queue owner FAILOVER_KILLS times. Writes
# benchmarks/results/YYYY-MM-DD-cluster.md and the raw JSON lines next to it.
#
#   benchmarks/cluster.sh [loadgen flags...]    (run.sh calls it for SCENARIOS=cluster)
#
# Needs bin/queuecast, bin/loadgen, psql and PostgreSQL trust auth. Environment:
# PGURL (postgres://postgres@127.0.0.1:5432), QC_PORT (5100; the nodes take
# the next three), CLUSTER_FANOUT_N (2000 sockets), CLUSTER_FANOUT_M (200
# broadcasts per mode), FAILOVER_KILLS (5), RESULTS_DIR (benchmarks/results).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
pg=${PGURL:-postgres://postgres@127.0.0.1:5432}
qc_port=${QC_PORT:-5100}
fanout_n=${CLUSTER_FANOUT_N:-2000}
fanout_m=${CLUSTER_FANOUT_M:-200}
kills=${FAILOVER_KILLS:-5}
results_dir=${RESULTS_DIR:-benchmarks/results}
day=$(date +%F)
secret="bench-$(date +%s)-$$"
db="bench_cluster_$(date +%s)_$$"
work=$(mktemp -d)
ports=($((qc_port + 1)) $((qc_port + 2)) $((qc_port + 3)))
grpc=(7801 7811 7821) # each node's health listener takes the next port
seeds=127.0.0.1:${grpc[0]},127.0.0.1:${grpc[1]},127.0.0.1:${grpc[2]}
pids=("" "" "")
single_pid=""
limits=(EVENT_RATE=0 CONN_RATE_PER_IP=0 MAX_CONNECTIONS_PER_IP=0 REST_RATE_PER_IP=0 REST_RATE_PER_TOKEN=0 LOG_LEVEL=warn)
loadgen_flags=(-fanout-n "$fanout_n" -fanout-m "$fanout_m" -fanout-modes unpaced,concurrent,paced -markdown=false "$@")

for f in bin/queuecast bin/loadgen; do
	[[ -x $f ]] || { echo "cluster.sh: $f missing (run make bench)" >&2; exit 1; }
done
command -v psql >/dev/null || { echo "cluster.sh: psql missing" >&2; exit 1; }

stop_pid() { # stop_pid PID: SIGTERM, then SIGKILL after 10 s
	local p=$1
	[[ -n $p ]] || return 0
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}
cleanup() {
	stop_pid "$single_pid"
	for p in "${pids[@]}"; do stop_pid "$p"; done
	psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

wait_url() { # wait_url URL PID: until URL answers 2xx, for at most 20 s
	for _ in $(seq 1 200); do
		curl -fs "$1" >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	echo "cluster.sh: $1 did not answer" >&2
	tail -20 "$work"/*.log >&2 || true
	return 1
}

start_node() { # start_node I: node I+1 of the cluster
	local i=$1
	env "${limits[@]}" PORT="${ports[$i]}" JWT_SECRET="$secret" NODE_NAME="n$((i + 1))" DATA_DIR="$work/n$i" \
		CLUSTER_NAME=bench NODE_HOST=127.0.0.1 NODE_PORT="${grpc[$i]}" CLUSTER_SEEDS="$seeds" \
		DATABASE_URL="$pg/$db?sslmode=disable" SHUTDOWN_TIMEOUT=5s \
		"$root/bin/queuecast" serve >>"$work/n$((i + 1)).log" 2>&1 &
	pids[$i]=$!
}

# metric PORT NAME: a series' value from /metrics, -1 when absent.
metric() {
	curl -fs -m 2 "http://127.0.0.1:$1/metrics" 2>/dev/null | awk -v n="$2" '$1 == n {print $2; f=1} END {if (!f) print -1}'
}

# settled: every node has three members and exactly one holds the queues;
# prints that node's index.
settled() {
	local holder="" i
	for i in 0 1 2; do
		[[ $(metric "${ports[$i]}" queuecast_cluster_members) == 3 ]] || return 1
		if [[ $(metric "${ports[$i]}" queuecast_cluster_queue_holder) == 1 ]]; then
			[[ -z $holder ]] || return 1
			holder=$i
		fi
	done
	[[ -n $holder ]] && echo "$holder"
}
wait_settled() {
	for _ in $(seq 1 300); do
		settled && return 0
		sleep 0.1 # poll interval while the members agree
	done
	echo "cluster.sh: the cluster did not settle" >&2
	return 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

psql "$pg/postgres" -qc "CREATE DATABASE \"$db\"" >/dev/null
started=$(date +%s)

echo "== cluster scenario on one node" >&2
mkdir -p "$work/single"
env "${limits[@]}" PORT="$qc_port" JWT_SECRET="$secret" DATA_DIR="$work/single" \
	"$root/bin/queuecast" serve >>"$work/single.log" 2>&1 &
single_pid=$!
wait_url "http://127.0.0.1:$qc_port/health" "$single_pid"
"$root/bin/loadgen" -server "1 node" -addr "127.0.0.1:$qc_port" -pid "$single_pid" -secret "$secret" \
	-scenarios cluster "${loadgen_flags[@]}" >>"$work/single.jsonl"
stop_pid "$single_pid"
single_pid=""

echo "== cluster scenario on three nodes" >&2
start_node 0 # migrates the database alone
wait_url "http://127.0.0.1:${ports[0]}/ready" "${pids[0]}"
start_node 1
start_node 2
wait_url "http://127.0.0.1:${ports[1]}/ready" "${pids[1]}"
wait_url "http://127.0.0.1:${ports[2]}/ready" "${pids[2]}"
wait_settled >/dev/null
addrs="127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
"$root/bin/loadgen" -server "3 nodes" -addrs "$addrs" -pids "${pids[0]},${pids[1]},${pids[2]}" -secret "$secret" \
	-scenarios cluster "${loadgen_flags[@]}" >>"$work/cluster.jsonl"

echo "== failover: $kills kills of the queue owner" >&2
admin=$(JWT_SECRET=$secret "$root/bin/queuecast" token --role admin 2>/dev/null)
times=()
for k in $(seq 1 "$kills"); do
	owner=$(wait_settled)
	kill -KILL "${pids[$owner]}"
	t0=$(now_ms)
	wait "${pids[$owner]}" 2>/dev/null || true
	# The time until GET /api/queues answers 200 on every survivor, each
	# asked again as soon as it answers anything else.
	worst=0
	for i in 0 1 2; do
		[[ $i == "$owner" ]] && continue
		until [[ $(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin" \
			"http://127.0.0.1:${ports[$i]}/api/queues") == 200 ]]; do
			(($(now_ms) - t0 < 30000)) || { echo "cluster.sh: node $((i + 1)) did not answer in 30 s" >&2; break; }
		done
		worst=$(($(now_ms) - t0 > worst ? $(now_ms) - t0 : worst))
	done
	times+=("$worst")
	echo "kill $k: n$((owner + 1)) (the queue owner); the queues answered on both survivors after $worst ms" >&2
	start_node "$owner"
	wait_url "http://127.0.0.1:${ports[$owner]}/ready" "${pids[$owner]}"
done
wait_settled >/dev/null
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
p50=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}')
maxt=$(echo "$sorted" | tail -1)
elapsed=$(($(date +%s) - started))
for p in "${pids[@]}"; do stop_pid "$p"; done
pids=("" "" "")

mkdir -p "$results_dir"
out="$results_dir/$day-cluster.md"
table=$("$root/bin/loadgen" report "$work/cluster.jsonl" "$work/single.jsonl")
cpu() { # cpu FILE SCENARIO: server CPU per delivery
	grep "\"scenario\":\"$2\"" "$1" | grep -o '"name":"server CPU per delivery","value":[0-9.e+-]*' | sed 's/.*"value"://'
}
p99() {
	grep "\"scenario\":\"$2\"" "$1" | grep -o '"name":"latency p99","value":[0-9.e+-]*' | sed 's/.*"value"://'
}
warns=$(cat "$work"/n*.log | grep -c 'level=WARN' || true)
errors=$(cat "$work"/n*.log | grep -c 'level=ERROR' || true)
{
	echo "# Cross-node benchmark, $day"
	echo
	echo "queuecast on one node against three cluster nodes on one PostgreSQL, same load"
	echo "generator, loopback, fresh processes and a fresh database."
	echo
	echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
	echo "- go: $(go version 2>/dev/null || echo unknown); PostgreSQL: $(psql "$pg/postgres" -tAc 'SHOW server_version' 2>/dev/null || echo unknown)"
	echo "- command: \`benchmarks/cluster.sh $*\` (or \`SCENARIOS=cluster make bench\`; CLUSTER_FANOUT_N=$fanout_n, CLUSTER_FANOUT_M=$fanout_m, FAILOVER_KILLS=$kills), total ${elapsed} s"
	echo "- fan-out: $fanout_n sockets in one counter room, round-robin over the nodes (a third on each),"
	echo "  every broadcast POSTed to node 1; server CPU and RSS are summed over the three processes"
	echo "- the generator and all the servers share the same cores"
	echo "- ratio = how many times better 3 nodes are than 1 (below 1: the cluster costs more)"
	echo "- node logs over the whole run: $warns WARN lines, $errors ERROR lines"
	echo
	for mode in unpaced concurrent paced; do
		c=$(cpu "$work/cluster.jsonl" "cluster fanout $mode") s=$(cpu "$work/single.jsonl" "cluster fanout $mode")
		lc=$(p99 "$work/cluster.jsonl" "cluster fanout $mode") ls=$(p99 "$work/single.jsonl" "cluster fanout $mode")
		if [[ -n $c && -n $s ]]; then
			awk -v c="$c" -v s="$s" -v lc="$lc" -v ls="$ls" -v m="$mode" 'BEGIN {
				printf "- fan-out %s: server CPU per delivery %.2f µs on 3 nodes against %.2f µs on 1 node: %.2fx (target at most 1.5x: %s); latency p99 %.1f ms against %.1f ms (%+.1f ms)\n",
					m, c, s, c / s, (c / s <= 1.5 ? "met" : "NOT met"), lc, ls, lc - ls }'
		fi
	done
	echo "- failover: kill -9 of the queue owner, $kills times, idle cluster; time from the kill until"
	echo "  GET /api/queues answered 200 on both survivors (curl in a loop, ~10 ms resolution):"
	echo "  p50 $p50 ms, max $maxt ms (each: ${times[*]} ms)"
	echo
	echo "$table"
	echo
	echo "Raw results: \`$day-cluster.jsonl\` (3 nodes), \`$day-cluster-single.jsonl\` (1 node)."
} >"$out"
grep -h 'level=ERROR\|level=WARN' "$work"/n*.log | tail -30 >&2 || true
cp "$work/cluster.jsonl" "$results_dir/$day-cluster.jsonl"
cp "$work/single.jsonl" "$results_dir/$day-cluster-single.jsonl"
cat "$out"
