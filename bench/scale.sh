#!/usr/bin/env bash
# Scale profile of berthd (on demand, not part of run.sh): whether its costs stay flat as a
# registry grows, and 1,000 concurrent connections against berthd and the reference registry.
#
#   bench/scale.sh [--max-repos N] [--max-tags N] [--steps N] [--samples N]
#                  [--populate-connections N] [--connections N] [--connection-seconds S]
#                  [--connection-reps N] [--no-connections] [--startup-reps N] [--json FILE]
#                  [--berthd PATH] [--loadgen PATH] [--registry PATH] [--keep]
#
# Defaults: 100,000 repositories and 1,000,000 tags reached in 3 steps (after the empty
# registry: 1/100, 1/10, all of it), 2,000 samples per operation, 1,000 connections.
# Without --berthd/--loadgen it builds berthd in Release (build/bench) and the load generator
# (build/bench-tools). Exits non-zero if any answer was wrong. See bench/README.md.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bench/servers.sh"
max_repos=100000
max_tags=1000000
steps=3
samples=2000
populate_connections=32
connections=1000
connection_seconds=5
connection_reps=2
run_connections=1
startup_reps=3
json=""
berthd=""
loadgen=""
registry=""
keep=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    --max-repos) max_repos=$2; shift ;;
    --max-tags) max_tags=$2; shift ;;
    --steps) steps=$2; shift ;;
    --samples) samples=$2; shift ;;
    --populate-connections) populate_connections=$2; shift ;;
    --connections) connections=$2; shift ;;
    --connection-seconds) connection_seconds=$2; shift ;;
    --connection-reps) connection_reps=$2; shift ;;
    --no-connections) run_connections=0 ;;
    --startup-reps) startup_reps=$2; shift ;;
    --json) json=$2; shift ;;
    --berthd) berthd=$2; shift ;;
    --loadgen) loadgen=$2; shift ;;
    --registry) registry=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "scale.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "== $(date +%H:%M:%S) $*" >&2; }

if (( max_repos < 2 || max_tags < max_repos || steps < 1 )); then
  echo "scale.sh: need --max-repos >= 2, --max-tags >= --max-repos, --steps >= 1" >&2
  exit 2
fi

[[ -n "$berthd" ]] || berthd=$(build_bench_berthd "$root")
[[ -n "$loadgen" ]] || loadgen=$(build_bench_tools "$root" berth_loadgen)
[[ -n "$registry" || $run_connections == 0 ]] || registry=$(command -v docker-registry || true)
[[ -n "$json" ]] || { mkdir -p "$root/build/bench"; json="$root/build/bench/scale-results.json"; }
for tool in "$berthd" "$loadgen" ${registry:+"$registry"}; do
  [[ -x "$tool" ]] || { echo "scale.sh: missing executable '$tool'" >&2; exit 2; }
done
if [[ $run_connections == 1 && -z "$registry" ]]; then
  echo "scale.sh: missing executable 'docker-registry' (or pass --no-connections)" >&2
  exit 2
fi
berthd=$(realpath "$berthd"); loadgen=$(realpath "$loadgen")
[[ -z "$registry" ]] || registry=$(realpath "$registry")

# Every connection is a file descriptor, in the load generator and in each server.
if [[ $run_connections == 1 ]]; then
  want=$((connections + 1000))
  if (( $(ulimit -n) < want )); then
    ulimit -n "$(( $(ulimit -Hn) < want ? $(ulimit -Hn) : want ))" 2>/dev/null || true
  fi
  if (( $(ulimit -n) < connections + 100 )); then
    echo "scale.sh: open files limited to $(ulimit -n) (hard $(ulimit -Hn)), too few for $connections connections" >&2
    exit 2
  fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-scale.XXXXXX")
berth_pid=""
ref_pid=""

cleanup() {
  stop_server "$berth_pid"
  stop_server "$ref_pid"
  if [[ $keep == 1 ]]; then
    echo "kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# The administrator token (set on the fresh data directory) and the refresh token it is
# exchanged for live in files of mode 0600, never on a command line.
( umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$work/admin-token" )
berth_data="$work/berth-data"
mkdir -p "$berth_data"
# As in run.sh: no rate limiting (the bench measures the server, not the limiter) and access
# tokens that outlive every phase.
berth_cmd=("$berthd" --listen 127.0.0.1:0 --port-file "$work/berth.port" --data-dir "$berth_data"
  --log-level warn --rate-limit-scale 0 --access-token-lifetime 3600)
berth_port=""

start_berth() {  # [first]: on the fresh data directory, which takes the administrator token
  rm -f "$work/berth.port"
  if [[ ${1:-} == first ]]; then
    BERTH_INITIAL_ADMIN_TOKEN=$(cat "$work/admin-token") "${berth_cmd[@]}" >>"$work/berth.log" 2>&1 &
  else
    "${berth_cmd[@]}" >>"$work/berth.log" 2>&1 &
  fi
  berth_pid=$!
  berth_port=$("$loadgen" wait --port-file "$work/berth.port" --bearer-file "$work/admin-token" \
    --timeout 600) || { tail -n 30 "$work/berth.log" >&2; exit 1; }
}

rss_line() {  # workload -> JSON lines with berthd's VmRSS, RssAnon and RssFile in MiB, or a failure
  # RssFile counts file-backed pages: berthd's own code and libraries, and the pages of the
  # metadata database its readers touched through their shared memory map (up to 256 MiB):
  # page cache the kernel can take back, not memory of berthd's own.
  if awk -v workload="$1" '$1 == "VmRSS:" || $1 == "RssAnon:" || $1 == "RssFile:" {
      metric = $1 == "VmRSS:" ? "rss" : $1 == "RssAnon:" ? "rss_anon" : "rss_file"
      printf "{\"workload\":\"%s\",\"metric\":\"%s\",\"target\":\"berth\",\"value\":%.1f,\"unit\":\"MiB\",\"better\":\"lower\",\"agg\":\"max\"}\n", workload, metric, $2 / 1024
    }' "/proc/$berth_pid/status" 2>/dev/null; then
    return 0
  fi
  local code=0
  wait "$berth_pid" || code=$?
  printf '{"workload":"%s","target":"berth","ok":false,"error":"berthd (pid %s) exited with status %s after it was ready"}\n' \
    "$1" "$berth_pid" "$code"
  status=1
  start_berth  # the following steps still run
}

status=0
disk_lines() {  # JSON lines with the size of the metadata database (with its WAL) and the data directory
  local db data
  db=$(cat "$berth_data"/metadata.db* 2>/dev/null | wc -c)
  data=$(du -sb "$berth_data" | cut -f1)
  printf '{"workload":"disk","metric":"metadata_db","target":"berth","value":%s,"unit":"MiB","better":"lower","agg":"max"}\n' \
    "$(awk -v b="$db" 'BEGIN { printf "%.1f", b / 1048576 }')"
  printf '{"workload":"disk","metric":"data_dir","target":"berth","value":%s,"unit":"MiB","better":"lower","agg":"max"}\n' \
    "$(awk -v b="$data" 'BEGIN { printf "%.1f", b / 1048576 }')"
}

log "starting berthd"
start_berth first
"$loadgen" login --addr "127.0.0.1:$berth_port" --admin-token-file "$work/admin-token" \
  --out "$work/refresh-token" || { tail -n 30 "$work/berth.log" >&2; exit 1; }

# The shape: after the empty registry, step k of N holds max/10^(N-k) repositories and tags.
# scale/big takes what the other repositories leave of the tags (about a tenth); every other
# repository has the same number of tags (9 with the defaults).
per_repo=$(( max_tags * 9 / 10 / (max_repos - 1) ))
(( per_repo >= 1 )) || per_repo=1
report_args=()
prev_repos=0
prev_big=0
for ((step = 0; step <= steps; step++)); do
  if (( step == 0 )); then
    repos=0; tags=0; big=0; name=empty
  else
    divisor=$(( 10 ** (steps - step) ))
    repos=$(( max_repos / divisor )); tags=$(( max_tags / divisor ))
    (( repos >= 2 )) || repos=2
    big=$(( tags - (repos - 1) * per_repo ))
    (( big >= prev_big && big >= 1 )) || { echo "scale.sh: step $step: the tags do not fit the shape" >&2; exit 2; }
    name="${repos}r/${tags}t"
  fi
  out="$work/step-$step.jsonl"
  : >"$out"
  report_args+=(--step "$name=$out")
  shape=(--repos "$repos" --big-tags "$big" --tags-per-repo "$per_repo")
  log "step $name: populating (scale/big: $big tags, $((repos > 0 ? repos - 1 : 0)) repositories of $per_repo tags)"
  "$loadgen" scale populate --target "berth=127.0.0.1:$berth_port:$berth_pid" \
    --credentials "$work/refresh-token" --out "$out" "${shape[@]}" \
    --from-repos "$prev_repos" --from-big-tags "$prev_big" --connections "$populate_connections" || status=1
  prev_repos=$repos; prev_big=$big

  log "step $name: start-up on the data directory ($startup_reps times)"
  stop_server "$berth_pid"; berth_pid=""
  for ((rep = 0; rep < startup_reps; rep++)); do
    "$loadgen" startup --name berth --out "$out" --port-file "$work/berth.port" \
      --bearer-file "$work/admin-token" --log "$work/berth.log" -- "${berth_cmd[@]}" || status=1
  done
  start_berth
  sleep 1  # let it settle before the reading at rest
  rss_line rss-rest >>"$out"

  log "step $name: requests"
  "$loadgen" scale measure --target "berth=127.0.0.1:$berth_port:$berth_pid" \
    --credentials "$work/refresh-token" --out "$out" "${shape[@]}" --samples "$samples" || status=1
  rss_line rss-after >>"$out"
  disk_lines >>"$out"
done

connections_out="$work/connections.jsonl"
if [[ $run_connections == 1 ]]; then
  ref_port=$("$loadgen" freeport)
  mkdir -p "$work/ref-data"
  ref_config "$work/ref-data" "$ref_port" >"$work/ref.yml"
  log "starting docker-registry for $connections connections"
  "$registry" serve "$work/ref.yml" >>"$work/ref.log" 2>&1 &
  ref_pid=$!
  "$loadgen" wait --addr "127.0.0.1:$ref_port" --timeout 60 >/dev/null || { tail -n 30 "$work/ref.log" >&2; exit 1; }
  "$loadgen" scale connections --target "berth=127.0.0.1:$berth_port:$berth_pid" \
    --target "ref=127.0.0.1:$ref_port:$ref_pid" --credentials "berth=$work/refresh-token" \
    --out "$connections_out" --connections "$connections" --seconds "$connection_seconds" \
    --reps "$connection_reps" || status=1
  report_args+=(--connections-in "$connections_out")
fi

raw="${json%.json}.raw.jsonl"
"$loadgen" scale report "${report_args[@]}" --json "$json" --raw "$raw" || status=1
echo "summary: $json (raw lines: $raw)" >&2
if [[ $status != 0 ]]; then
  echo "server logs:" >&2
  tail -n 20 "$work/berth.log" ${ref_pid:+"$work/ref.log"} >&2 || true
fi
exit $status
