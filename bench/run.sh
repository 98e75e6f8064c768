#!/usr/bin/env bash
# Side-by-side benchmark of berthd against the reference registry (docker-registry).
#
#   bench/run.sh [--quick] [--json FILE] [--berthd PATH] [--loadgen PATH]
#                [--sendfile-ceiling PATH] [--registry PATH] [--only WORKLOAD,...] [--keep]
#
# Without --berthd/--loadgen it builds berthd in Release (build/bench) and the benchmark tools
# (build/bench-tools). Both servers run on 127.0.0.1 with fresh data directories under
# $TMPDIR. Exits non-zero if any answer of either server was wrong.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=0
json=""
berthd=""
loadgen=""
ceiling=""
registry=""
only=""
keep=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1 ;;
    --json) json=$2; shift ;;
    --berthd) berthd=$2; shift ;;
    --loadgen) loadgen=$2; shift ;;
    --sendfile-ceiling) ceiling=$2; shift ;;
    --registry) registry=$2; shift ;;
    --only) only=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "== $*" >&2; }

if [[ -z "$berthd" ]]; then
  log "building berthd (Release) in build/bench"
  cmake -S "$root" -B "$root/build/bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF >/dev/null
  ninja -C "$root/build/bench" -j2 berthd >/dev/null
  berthd="$root/build/bench/src/server/berthd"
fi
if [[ -z "$loadgen" ]]; then
  log "building the load generator in build/bench-tools"
  cmake -S "$root/bench" -B "$root/build/bench-tools" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$root/build/bench-tools" -j2 berth_loadgen berth_sendfile_ceiling >/dev/null
  loadgen="$root/build/bench-tools/berth_loadgen"
fi
[[ -n "$ceiling" ]] || ceiling="$(dirname "$loadgen")/berth_sendfile_ceiling"
[[ -n "$registry" ]] || registry=$(command -v docker-registry || true)
[[ -n "$json" ]] || { mkdir -p "$root/build/bench"; json="$root/build/bench/bench-results.json"; }
for tool in "$berthd" "$loadgen" "$ceiling" "$registry"; do
  [[ -n "$tool" && -x "$tool" ]] || { echo "run.sh: missing executable '${tool:-docker-registry}'" >&2; exit 2; }
done
berthd=$(realpath "$berthd"); loadgen=$(realpath "$loadgen"); registry=$(realpath "$registry")

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX")
results="$work/results.jsonl"
: >"$results"
berth_pid=""
ref_pid=""

stop_server() {  # pid
  local pid=$1 i
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

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

if [[ $quick == 1 ]]; then
  ceiling_size=$((256 << 20)); startup_reps=2; mode=(--quick)
else
  ceiling_size=$((1024 << 20)); startup_reps=5; mode=()
fi

log "machine ceilings"
sha_k=$(openssl speed -evp sha256 -bytes 16384 -seconds 3 2>/dev/null | awk '$1 == "sha256" { print $NF }' | tr -d k)
if [[ -n "$sha_k" ]]; then
  printf '{"workload":"ceiling","metric":"sha256_1core","target":"machine","value":%s,"unit":"MB/s","better":"higher","agg":"median"}\n' \
    "$(awk -v k="$sha_k" 'BEGIN { printf "%.1f", k / 1000 }')" >>"$results"
fi
"$ceiling" --file "$work/sendfile.bin" --size "$ceiling_size" --reps 3 --out "$results" >/dev/null

berth_data="$work/berth-data"
ref_data="$work/ref-data"
mkdir -p "$berth_data" "$ref_data"
berth_cmd=("$berthd" --listen 127.0.0.1:0 --port-file "$work/berth.port" --data-dir "$berth_data" --log-level warn)
ref_port=$("$loadgen" freeport)
cat >"$work/ref.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $ref_data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$ref_port
catalog:
  maxentries: 1000
EOF
ref_cmd=("$registry" serve "$work/ref.yml")

log "starting berthd and docker-registry"
"${berth_cmd[@]}" >>"$work/berth.log" 2>&1 &
berth_pid=$!
"${ref_cmd[@]}" >>"$work/ref.log" 2>&1 &
ref_pid=$!
berth_port=$("$loadgen" wait --port-file "$work/berth.port" --timeout 60) || { cat "$work/berth.log" >&2; exit 1; }
"$loadgen" wait --addr "127.0.0.1:$ref_port" --timeout 60 >/dev/null || { cat "$work/ref.log" >&2; exit 1; }
sleep 1  # let both settle before the idle RSS reading

status=0
suite_args=(suite "${mode[@]}" --workdir "$work" --out "$results"
  --target "berth=127.0.0.1:$berth_port:$berth_pid" --target "ref=127.0.0.1:$ref_port:$ref_pid")
[[ -z "$only" ]] || suite_args+=(--only "$only")
log "workloads"
"$loadgen" "${suite_args[@]}" || status=1

log "startup on the populated data directories"
stop_server "$berth_pid"; berth_pid=""
stop_server "$ref_pid"; ref_pid=""
for ((rep = 0; rep < startup_reps; rep++)); do
  order=(berth ref)
  (( rep % 2 == 0 )) || order=(ref berth)
  for name in "${order[@]}"; do
    if [[ $name == berth ]]; then
      "$loadgen" startup --name berth --out "$results" --port-file "$work/berth.port" \
        --log "$work/berth.log" -- "${berth_cmd[@]}" || status=1
    else
      "$loadgen" startup --name ref --out "$results" --addr "127.0.0.1:$ref_port" \
        --log "$work/ref.log" -- "${ref_cmd[@]}" || status=1
    fi
  done
done

"$loadgen" report --in "$results" --json "$json" || status=1
cp "$results" "${json%.json}.raw.jsonl"
echo "summary: $json (raw lines: ${json%.json}.raw.jsonl)" >&2
if [[ $status != 0 ]]; then
  echo "server logs:" >&2
  tail -n 20 "$work/berth.log" "$work/ref.log" >&2 || true
fi
exit $status
