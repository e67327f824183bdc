#!/usr/bin/env bash
# make cluster: three queuecast nodes on loopback, one PostgreSQL database
# (created if missing), and a round-robin proxy in front on :5000 with no
# session affinity. Ctrl-C stops everything this script started.
#
#   CLUSTER_DATABASE  database to use (default queuecast_cluster)
#   PGURL             server to create it on (default postgres://postgres@127.0.0.1:5432)
#   JWT_SECRET        shared by the nodes (default: generated once into bin/cluster/secret)
set -euo pipefail
cd "$(dirname "$0")/.."

db=${CLUSTER_DATABASE:-queuecast_cluster}
pg=${PGURL:-postgres://postgres@127.0.0.1:5432}
dir=bin/cluster
mkdir -p "$dir"

if ! psql "$pg/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
  echo "creating database $db"
  psql "$pg/postgres" -qc "CREATE DATABASE \"$db\""
fi
if [[ -z "${JWT_SECRET:-}" ]]; then
  [[ -s $dir/secret ]] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/secret"
  JWT_SECRET=$(cat "$dir/secret")
fi
export JWT_SECRET

pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait || true
}
trap stop INT TERM EXIT

seeds=127.0.0.1:7701,127.0.0.1:7711,127.0.0.1:7721
node() { # node <n>: HTTP 500<n>, cluster port 77<n-1>1 (its health listener takes the next port)
  local n=$1
  PORT=500$n NODE_NAME=node$n CLUSTER_NAME=queuecast-local NODE_HOST=127.0.0.1 NODE_PORT=77$((n - 1))1 \
    CLUSTER_SEEDS=$seeds DATABASE_URL="$pg/$db?sslmode=disable" DATA_DIR=$dir/node$n \
    ./bin/queuecast serve >"$dir/node$n.log" 2>&1 &
  pids+=($!)
}
ready() { # ready <port>
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$1/ready" >/dev/null && return 0
    sleep 0.2 # poll interval while a node starts
  done
  echo "node on :$1 is not ready; see $dir/*.log" >&2
  return 1
}

node 1 # migrates the database alone
ready 5001
node 2
node 3
ready 5002
ready 5003
./bin/rrproxy -listen 127.0.0.1:5000 -backends 127.0.0.1:5001,127.0.0.1:5002,127.0.0.1:5003 >"$dir/proxy.log" 2>&1 &
pids+=($!)
echo "three nodes on :5001-:5003 (logs in $dir), round-robin proxy on http://127.0.0.1:5000; Ctrl-C stops them"
wait -n || true
