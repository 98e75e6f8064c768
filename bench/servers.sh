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
