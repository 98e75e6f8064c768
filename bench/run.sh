#!/usr/bin/env bash
# Side-by-side benchmark of berthd against the reference registry (docker-registry).
#
#   bench/run.sh [--quick] [--json FILE] [--berthd PATH] [--loadgen PATH]
#                [--sendfile-ceiling PATH] [--registry PATH] [--only WORKLOAD,...] [--keep]
#                [--scaleout [--backends PATH]]
#
# Without --berthd/--loadgen it builds berthd in Release (build/bench) and the benchmark tools
# (build/bench-tools). The servers run on 127.0.0.1 with fresh data directories under
# $TMPDIR: berthd (authentication always on: Bearer tokens from its token service), the
# reference without authentication, and the reference with htpasswd (Basic) for the "-auth"
# workloads. The client pulls need curl, skopeo, ctr and containerd: run.sh starts a private
# containerd whose root, state and socket live under /dev/shm. Exits non-zero if any answer of
# any server was wrong.
#
# --scaleout adds a third server to the same run: berthd on the scale-out backends
# (PostgreSQL metadata, Azure Blob Storage bytes in Azurite), target "berth-pg". Its backends
# come from berth_test_backends (--backends PATH, else built in build/bench-backends), which
# starts a throwaway PostgreSQL cluster (fsync off) and Azurite on loopback ports. A second
# report then compares berth-pg with berth, the embedded default.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bench/servers.sh"
quick=0
json=""
berthd=""
loadgen=""
ceiling=""
registry=""
only=""
keep=0
scaleout=0
backends=""

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
    --scaleout) scaleout=1 ;;
    --backends) backends=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "== $*" >&2; }

[[ -n "$berthd" ]] || berthd=$(build_bench_berthd "$root")
[[ -n "$loadgen" ]] || loadgen=$(build_bench_tools "$root" berth_loadgen berth_sendfile_ceiling)
[[ $scaleout == 0 || -n "$backends" ]] || backends=$(build_test_backends "$root")
[[ -n "$ceiling" ]] || ceiling="$(dirname "$loadgen")/berth_sendfile_ceiling"
[[ -n "$registry" ]] || registry=$(command -v docker-registry || true)
[[ -n "$json" ]] || { mkdir -p "$root/build/bench"; json="$root/build/bench/bench-results.json"; }
htpasswd=$(command -v htpasswd || true)  # apache2-utils
for tool in "$berthd" "$loadgen" "$ceiling" "$registry"; do
  [[ -n "$tool" && -x "$tool" ]] || { echo "run.sh: missing executable '${tool:-docker-registry}'" >&2; exit 2; }
done
[[ -n "$htpasswd" ]] || { echo "run.sh: missing executable 'htpasswd' (apache2-utils)" >&2; exit 2; }
# The clients of the client-pull workloads: a missing one fails the run, it is never skipped.
for client in curl skopeo ctr containerd; do
  command -v "$client" >/dev/null || {
    echo "run.sh: missing executable '$client' (needed by the client-pull workloads)" >&2
    exit 2
  }
done
berthd=$(realpath "$berthd"); loadgen=$(realpath "$loadgen"); registry=$(realpath "$registry")

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX")
results="$work/results.jsonl"
: >"$results"
berth_pid=""
scaleout_pid=""
backends_pid=""
ref_pid=""
ref_auth_pid=""
containerd_pid=""
# RAM-backed scratch for the clients (containerd's content store, skopeo's image directory),
# so that the client's disk is not what the pull figures measure.
client_dir=$(mktemp -d /dev/shm/berth-bench.XXXXXX)

cleanup() {
  stop_server "$berth_pid"
  stop_server "$scaleout_pid"
  stop_server "$backends_pid"
  stop_server "$ref_pid"
  stop_server "$ref_auth_pid"
  stop_server "$containerd_pid"
  umount -R "$client_dir/containerd/state" 2>/dev/null || true
  umount -R "$client_dir/containerd/root" 2>/dev/null || true
  rm -rf "$client_dir"
  if [[ $keep == 1 ]]; then
    echo "kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
# Interrupted (Ctrl-C, timeout): still stop the servers and containerd and remove the
# temporary directories (the one under /dev/shm holds up to a GiB of memory).
trap 'exit 130' INT
trap 'exit 143' TERM

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

# Secrets live in files (mode 0600) under $work, never on a command line: berth's
# administrator token (chosen here, set on the fresh data directory through
# BERTH_INITIAL_ADMIN_TOKEN), the refresh token it is exchanged for, and the password of the
# reference's htpasswd user.
random_secret() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }
( umask 077
  random_secret >"$work/admin-token"
  random_secret >"$work/ref-password" )
ref_user=bench

berth_data="$work/berth-data"
ref_data="$work/ref-data"
ref_auth_data="$work/ref-auth-data"
mkdir -p "$berth_data" "$ref_data" "$ref_auth_data"
# --rate-limit-scale 0: the tier table allows 10,000 reads a minute per registry, which
# small-ops exceeds within a second; the bench measures throughput, not the limiter.
# --access-token-lifetime 3600: no access token expires during a run (the default is 300 s),
# so no measurement window includes a renewal that the other server's does not; the load
# generator renews tokens before they expire anyway.
berth_cmd=("$berthd" --listen 127.0.0.1:0 --port-file "$work/berth.port" --data-dir "$berth_data"
  --log-level warn --rate-limit-scale 0 --access-token-lifetime 3600)
ref_port=$("$loadgen" freeport)
ref_auth_port=$("$loadgen" freeport)
# The cache workload makes berth a pull-through cache of the reference, which speaks plain HTTP.
berth_cmd+=(--insecure-upstream "127.0.0.1:$ref_port")
"$htpasswd" -Bbn "$ref_user" "$(cat "$work/ref-password")" >"$work/ref.htpasswd"

ref_config "$ref_data" "$ref_port" >"$work/ref.yml"
ref_config "$ref_auth_data" "$ref_auth_port" "$work/ref.htpasswd" >"$work/ref-auth.yml"
ref_cmd=("$registry" serve "$work/ref.yml")
ref_auth_cmd=("$registry" serve "$work/ref-auth.yml")

# start_scaleout_berthd: the scale-out backends, then berthd on them with the same settings as
# the embedded one. Sets scaleout_pid and scaleout_port.
start_scaleout_berthd() {
  log "starting PostgreSQL + Azurite and berthd on them"
  [[ -x "$backends" ]] || { echo "run.sh: missing executable '$backends'" >&2; exit 2; }
  TMPDIR=/tmp "$backends" "$work/backends.env" >>"$work/backends.log" 2>&1 &
  backends_pid=$!
  for ((i = 0; i < 1200; i++)); do
    [[ -s "$work/backends.env" ]] && break
    kill -0 "$backends_pid" 2>/dev/null || { cat "$work/backends.log" >&2; exit 1; }
    sleep 0.1
  done
  [[ -s "$work/backends.env" ]] || { echo "run.sh: the scale-out backends did not start" >&2; exit 1; }
  # shellcheck disable=SC1091
  . "$work/backends.env"
  BERTH_INITIAL_ADMIN_TOKEN=$(cat "$work/admin-token") BERTH_WEBHOOK_TIMEOUT_SECONDS=2 \
    BERTH_GC_GRACE_PERIOD_SECONDS=1 BERTH_GC_INTERVAL_SECONDS=0 \
    BERTH_DEPLOYMENT_KEY=$(head -c 32 /dev/urandom | base64 -w0) PGPASSWORD="$PGPASSWORD" \
    BERTH_AZURE_STORAGE_CONNECTION_STRING="$BERTH_TEST_AZURE_CONNECTION_STRING" \
    "$berthd" --listen 127.0.0.1:0 --port-file "$work/berth-pg.port" \
    --data-dir "$work/berth-pg-data" --log-level warn --rate-limit-scale 0 \
    --access-token-lifetime 3600 --metadata "$BERTH_TEST_PG_URI" --storage azure \
    --azure-container bench >>"$work/berth-pg.log" 2>&1 &
  scaleout_pid=$!
  scaleout_port=$("$loadgen" wait --port-file "$work/berth-pg.port" --bearer-file "$work/admin-token" --timeout 120) ||
    { cat "$work/berth-pg.log" >&2; exit 1; }
}

log "starting berthd and docker-registry (without and with htpasswd)"
# A 2 s webhook delivery timeout (default 10 s): push-many-webhooks' slow receiver never
# answers, so its attempts fail (and are recorded) within the workload. Only webhook
# deliveries use it, and only push-many-webhooks creates webhooks.
# A 1 s garbage collection grace period and no schedule: gc deletes images and collects them two
# seconds later, and no run starts but the ones the workloads ask for.
BERTH_INITIAL_ADMIN_TOKEN=$(cat "$work/admin-token") BERTH_WEBHOOK_TIMEOUT_SECONDS=2 \
  BERTH_GC_GRACE_PERIOD_SECONDS=1 BERTH_GC_INTERVAL_SECONDS=0 \
  "${berth_cmd[@]}" >>"$work/berth.log" 2>&1 &
berth_pid=$!
"${ref_cmd[@]}" >>"$work/ref.log" 2>&1 &
ref_pid=$!
"${ref_auth_cmd[@]}" >>"$work/ref-auth.log" 2>&1 &
ref_auth_pid=$!
berth_port=$("$loadgen" wait --port-file "$work/berth.port" --bearer-file "$work/admin-token" --timeout 60) ||
  { cat "$work/berth.log" >&2; exit 1; }
if [[ $scaleout == 1 ]]; then
  start_scaleout_berthd
fi
"$loadgen" wait --addr "127.0.0.1:$ref_port" --timeout 60 >/dev/null || { cat "$work/ref.log" >&2; exit 1; }
"$loadgen" wait --addr "127.0.0.1:$ref_auth_port" --status 401 --timeout 60 >/dev/null ||
  { cat "$work/ref-auth.log" >&2; exit 1; }
"$loadgen" login --addr "127.0.0.1:$berth_port" --admin-token-file "$work/admin-token" \
  --out "$work/refresh-token" || { cat "$work/berth.log" >&2; exit 1; }
if [[ $scaleout == 1 ]]; then
  "$loadgen" login --addr "127.0.0.1:$scaleout_port" --admin-token-file "$work/admin-token" \
    --out "$work/scaleout-refresh-token" || { cat "$work/berth-pg.log" >&2; exit 1; }
fi

# containerd for ctr-pull, all of it under $client_dir (the CRI plugin off: nothing but the
# content store and images are used).
containerd_dir="$client_dir/containerd"
containerd_socket="$containerd_dir/containerd.sock"
mkdir -p "$containerd_dir/root" "$containerd_dir/state"
cat >"$containerd_dir/config.toml" <<EOF
version = 2
root = "$containerd_dir/root"
state = "$containerd_dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$containerd_socket"

[ttrpc]
  address = "$containerd_socket.ttrpc"

[debug]
  address = ""
  level = "warn"

[metrics]
  address = ""
EOF
log "starting containerd (for ctr-pull)"
containerd --config "$containerd_dir/config.toml" >>"$work/containerd.log" 2>&1 &
containerd_pid=$!
for ((i = 0; i < 200; i++)); do
  ctr --address "$containerd_socket" version >/dev/null 2>&1 && break
  kill -0 "$containerd_pid" 2>/dev/null || break
  sleep 0.1
done
ctr --address "$containerd_socket" version >/dev/null 2>&1 || {
  echo "run.sh: containerd did not come up on $containerd_socket" >&2
  cat "$work/containerd.log" >&2
  exit 1
}

sleep 1  # let all settle before the idle RSS reading

status=0
suite_args=(suite "${mode[@]}" --workdir "$work" --out "$results"
  --target "berth=127.0.0.1:$berth_port:$berth_pid" --target "ref=127.0.0.1:$ref_port:$ref_pid"
  --auth-target "ref-auth=127.0.0.1:$ref_auth_port:$ref_auth_pid"
  --credentials "berth=bearer:$work/refresh-token"
  --credentials "ref-auth=basic:$ref_user:$work/ref-password"
  --admin-token-file "berth=$work/admin-token"
  --containerd-socket "$containerd_socket" --client-dir "$client_dir")
if [[ $scaleout == 1 ]]; then
  suite_args+=(--target "berth-pg=127.0.0.1:$scaleout_port:$scaleout_pid"
    --credentials "berth-pg=bearer:$work/scaleout-refresh-token"
    --admin-token-file "berth-pg=$work/admin-token")
fi
[[ -z "$only" ]] || suite_args+=(--only "$only")
log "workloads"
"$loadgen" "${suite_args[@]}" || status=1

log "startup on the populated data directories"
stop_server "$berth_pid"; berth_pid=""
stop_server "$scaleout_pid"; scaleout_pid=""
stop_server "$ref_pid"; ref_pid=""
stop_server "$ref_auth_pid"; ref_auth_pid=""
stop_server "$containerd_pid"; containerd_pid=""
for ((rep = 0; rep < startup_reps; rep++)); do
  order=(berth ref)
  (( rep % 2 == 0 )) || order=(ref berth)
  for name in "${order[@]}"; do
    if [[ $name == berth ]]; then
      "$loadgen" startup --name berth --out "$results" --port-file "$work/berth.port" \
        --bearer-file "$work/admin-token" --log "$work/berth.log" -- "${berth_cmd[@]}" || status=1
    else
      "$loadgen" startup --name ref --out "$results" --addr "127.0.0.1:$ref_port" \
        --log "$work/ref.log" -- "${ref_cmd[@]}" || status=1
    fi
  done
done

"$loadgen" report --in "$results" --json "$json" || status=1
if [[ $scaleout == 1 ]]; then
  echo >&2
  log "berthd on PostgreSQL + Azurite (berth-pg) against the embedded default (berth)"
  "$loadgen" report --in "$results" --json "${json%.json}.scaleout.json" \
    --candidate berth-pg --baseline berth || status=1
fi
cp "$results" "${json%.json}.raw.jsonl"
echo "summary: $json (raw lines: ${json%.json}.raw.jsonl)" >&2
if [[ $status != 0 ]]; then
  echo "server logs:" >&2
  tail -n 20 "$work/berth.log" "$work/ref.log" "$work/ref-auth.log" "$work/containerd.log" \
    >&2 || true
fi
exit $status
