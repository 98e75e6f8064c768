#!/usr/bin/env bash
# Throughput against the number of berthd nodes (on demand, not part of run.sh): 1, 2, ... N
# nodes on the scale-out backends (PostgreSQL + Azurite) behind HAProxy, the same workloads
# against each count, in one run.
#
#   bench/nodes.sh [--max-nodes N] [--only WORKLOAD,...] [--quick] [--json FILE]
#                  [--berthd PATH] [--loadgen PATH] [--backends PATH] [--keep]
#
# Defaults: 1 to 3 nodes; workloads small-ops, push-many, pull-concurrent. Each count gets fresh
# backends (berth_test_backends: a throwaway PostgreSQL cluster with fsync off, and Azurite),
# then N nodes and HAProxy (round robin, every request balanced: http-server-close). The load
# generator runs as in run.sh, the target being HAProxy; its server CPU and RSS figures are
# those of node 1. The report compares every count with one node ("nodes1"). On one machine the
# nodes, PostgreSQL, Azurite, HAProxy and the load generator share its cores: see
# docs/performance.md for what the figures mean there and for larger deployments.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bench/servers.sh"
max_nodes=3
only="small-ops,push-many,pull-concurrent"
mode=()
json=""
berthd=""
loadgen=""
backends=""
keep=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    --max-nodes) max_nodes=$2; shift ;;
    --only) only=$2; shift ;;
    --quick) mode=(--quick) ;;
    --json) json=$2; shift ;;
    --berthd) berthd=$2; shift ;;
    --loadgen) loadgen=$2; shift ;;
    --backends) backends=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "nodes.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "== $*" >&2; }

[[ -n "$berthd" ]] || berthd=$(build_bench_berthd "$root")
[[ -n "$loadgen" ]] || loadgen=$(build_bench_tools "$root" berth_loadgen)
[[ -n "$backends" ]] || backends=$(build_test_backends "$root")
for tool in "$berthd" "$loadgen" "$backends"; do
  [[ -x "$tool" ]] || { echo "nodes.sh: missing executable '$tool'" >&2; exit 2; }
done
command -v haproxy >/dev/null || { echo "nodes.sh: missing executable 'haproxy'" >&2; exit 2; }
berthd=$(realpath "$berthd"); loadgen=$(realpath "$loadgen"); backends=$(realpath "$backends")

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-nodes.XXXXXX")
results="$work/results.jsonl"
: >"$results"
[[ -n "$json" ]] || { mkdir -p "$root/build/bench"; json="$root/build/bench/nodes-results.json"; }
pids=()

stop_all() {
  local pid
  for pid in "${pids[@]}"; do stop_server "$pid"; done
  pids=()
}
cleanup() {
  stop_all
  if [[ $keep == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

( umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$work/admin-token" )
key=$(head -c 32 /dev/urandom | base64 -w0)
status=0

for ((count = 1; count <= max_nodes; count++)); do
  dir="$work/nodes$count"
  mkdir -p "$dir"
  log "$count node(s): starting PostgreSQL + Azurite"
  TMPDIR=/tmp "$backends" "$dir/backends.env" >>"$dir/backends.log" 2>&1 &
  pids+=($!)
  for ((i = 0; i < 1200; i++)); do
    [[ -s "$dir/backends.env" ]] && break
    sleep 0.1
  done
  [[ -s "$dir/backends.env" ]] || { cat "$dir/backends.log" >&2; exit 1; }
  # shellcheck disable=SC1091
  . "$dir/backends.env"
  servers=""
  first_pid=""
  for ((n = 1; n <= count; n++)); do
    BERTH_INITIAL_ADMIN_TOKEN=$(cat "$work/admin-token") BERTH_DEPLOYMENT_KEY=$key \
      PGPASSWORD="$PGPASSWORD" BERTH_AZURE_STORAGE_CONNECTION_STRING="$BERTH_TEST_AZURE_CONNECTION_STRING" \
      BERTH_GC_INTERVAL_SECONDS=0 \
      "$berthd" --listen 127.0.0.1:0 --port-file "$dir/node$n.port" --data-dir "$dir/node$n" \
      --log-level warn --rate-limit-scale 0 --access-token-lifetime 3600 \
      --metadata "$BERTH_TEST_PG_URI" --storage azure --azure-container bench \
      >>"$dir/node$n.log" 2>&1 &
    pids+=($!)
    [[ -n "$first_pid" ]] || first_pid=$!
    port=$("$loadgen" wait --port-file "$dir/node$n.port" --bearer-file "$work/admin-token" --timeout 120) ||
      { cat "$dir/node$n.log" >&2; exit 1; }
    servers+="    server node$n 127.0.0.1:$port check inter 2s"$'\n'
  done
  balancer_port=$("$loadgen" freeport)
  cat >"$dir/haproxy.cfg" <<CONFIG
global
    maxconn 4000
defaults
    mode http
    option http-server-close
    timeout connect 5s
    timeout client 300s
    timeout server 300s
frontend registry
    bind 127.0.0.1:$balancer_port
    default_backend nodes
backend nodes
    balance roundrobin
$servers
CONFIG
  haproxy -db -f "$dir/haproxy.cfg" >>"$dir/haproxy.log" 2>&1 &
  pids+=($!)
  "$loadgen" wait --addr "127.0.0.1:$balancer_port" --bearer-file "$work/admin-token" --timeout 60 >/dev/null ||
    { cat "$dir/haproxy.log" >&2; exit 1; }
  "$loadgen" login --addr "127.0.0.1:$balancer_port" --admin-token-file "$work/admin-token" \
    --out "$dir/refresh-token" || exit 1
  log "$count node(s): workloads $only"
  "$loadgen" suite "${mode[@]}" --workdir "$dir" --out "$results" --only "$only" \
    --target "nodes$count=127.0.0.1:$balancer_port:$first_pid" \
    --credentials "nodes$count=bearer:$dir/refresh-token" \
    --admin-token-file "nodes$count=$work/admin-token" || status=1
  stop_all
done

for ((count = 2; count <= max_nodes; count++)); do
  echo >&2
  log "$count nodes against 1"
  "$loadgen" report --in "$results" --json "${json%.json}.$count.json" \
    --candidate "nodes$count" --baseline nodes1 || status=1
done
cp "$results" "${json%.json}.raw.jsonl"
exit $status
