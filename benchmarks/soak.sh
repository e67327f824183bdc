#!/usr/bin/env bash
# The soak (make soak): one fresh queuecast on loopback under churn, fan-out,
# acks, REST and bad input at once for SOAK_DURATION (default 10m), sampled
# for RSS and goroutines; fails when either grows without bound (the rule is
# in benchmarks/loadgen/soak.go and the README), when the healthy traffic
# sees an error, or when the server does not stop cleanly on SIGTERM.
#
#   benchmarks/soak.sh [loadgen flags...]     e.g. benchmarks/soak.sh -soak-ack-rate 200
#
# Expects bin/queuecast and bin/loadgen. Environment: SOAK_DURATION (10m),
# SOAK_PORT (5102), SOAK_PPROF_PORT (6062), SOAK_LOG (where the server log is
# kept; default a temporary file, printed at the end).
set -euo pipefail

cd "$(dirname "$0")/.."
duration=${SOAK_DURATION:-10m}
port=${SOAK_PORT:-5102}
pprof=127.0.0.1:${SOAK_PPROF_PORT:-6062}
work=$(mktemp -d)
log=${SOAK_LOG:-$work/server.log}
secret="soak-$(date +%s)-$$"
server_pid=""

for f in bin/queuecast bin/loadgen; do
	[[ -x $f ]] || { echo "soak.sh: $f missing (make build loadgen)" >&2; exit 1; }
done

cleanup() {
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -KILL "$server_pid" 2>/dev/null || true
	fi
	[[ -n ${SOAK_LOG:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

# Every client of the soak is one address and its REST traffic one token,
# so the per-address and per-token limits are off (as in make bench); the
# per-connection event limit stays on.
PORT=$port JWT_SECRET=$secret DATA_DIR=$work/data PPROF_ADDR=$pprof LOG_LEVEL=warn \
	CONN_RATE_PER_IP=0 MAX_CONNECTIONS_PER_IP=0 REST_RATE_PER_IP=0 REST_RATE_PER_TOKEN=0 \
	bin/queuecast serve >"$log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
	curl -fs "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
	kill -0 "$server_pid" 2>/dev/null || { echo "soak.sh: the server exited" >&2; cat "$log" >&2; exit 1; }
	sleep 0.1
done

status=0
bin/loadgen -addr "127.0.0.1:$port" -pid "$server_pid" -secret "$secret" -pprof "$pprof" \
	-scenarios soak -soak-duration "$duration" -dst-ips 1 "$@" || status=$?

# A clean stop: SIGTERM, exit 0 within SHUTDOWN_TIMEOUT (10 s) and a margin.
kill -TERM "$server_pid"
for _ in $(seq 1 150); do
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
	echo "soak.sh: FAIL: the server did not stop within 15 s of SIGTERM" >&2
	status=1
else
	wait "$server_pid" && code=0 || code=$?
	if [[ $code != 0 ]]; then
		echo "soak.sh: FAIL: the server exited $code after SIGTERM" >&2
		status=1
	fi
fi
server_pid=""

warnings=$(grep -c 'level=WARN' "$log" || true)
errors=$(grep -c 'level=ERROR' "$log" || true)
echo "soak.sh: server log: $warnings warnings, $errors errors ($log)" >&2
grep -E 'level=(WARN|ERROR)' "$log" | sed -E 's/^time=[^ ]+ //' | sort | uniq -c | sort -rn | head -20 >&2 || true
if [[ $status == 0 ]]; then echo "soak.sh: PASS ($duration)" >&2; else echo "soak.sh: FAIL ($duration)" >&2; fi
exit "$status"
