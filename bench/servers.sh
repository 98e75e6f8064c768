# Shell functions shared by run.sh and scale.sh (sourced, not run).

# stop_server PID: SIGTERM, up to 20 s for the process to exit, then SIGKILL; reaps it.
stop_server() {
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

# ref_config DATA_DIR PORT [HTPASSWD_FILE]: the reference registry's configuration on
# 127.0.0.1:PORT with filesystem storage in DATA_DIR, with htpasswd authentication when a
# password file is given.
ref_config() {
  cat <<CONFIG
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $1
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$2
catalog:
  maxentries: 1000
CONFIG
  if [[ -n ${3:-} ]]; then
    cat <<CONFIG
auth:
  htpasswd:
    realm: berth-bench
    path: $3
CONFIG
  fi
}

# The binaries the scripts build when not given one; each prints what it builds on stderr and
# the built binary's path on stdout. ROOT is the source tree.
# build_bench_berthd ROOT: berthd in Release, in build/bench.
build_bench_berthd() {
  echo "== building berthd (Release) in build/bench" >&2
  cmake -S "$1" -B "$1/build/bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF >/dev/null
  ninja -C "$1/build/bench" -j2 berthd >/dev/null
  echo "$1/build/bench/src/server/berthd"
}

# build_bench_tools ROOT TARGET...: the load generator's tree (build/bench-tools), those targets;
# prints the path of berth_loadgen.
build_bench_tools() {
  local root=$1
  shift
  echo "== building the load generator in build/bench-tools" >&2
  cmake -S "$root/bench" -B "$root/build/bench-tools" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$root/build/bench-tools" -j2 "$@" >/dev/null
  echo "$root/build/bench-tools/berth_loadgen"
}

# build_test_backends ROOT: the PostgreSQL + Azurite launcher the tests use, in
# build/bench-backends.
build_test_backends() {
  echo "== building the scale-out backends launcher in build/bench-backends" >&2
  cmake -S "$1" -B "$1/build/bench-backends" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$1/build/bench-backends" -j2 berth_test_backends >/dev/null
  echo "$1/build/bench-backends/tests/berth_test_backends"
}
