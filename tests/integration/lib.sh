# Shared helpers for the berth integration tests.
#
# Source this file from a test script:
#
#   . "$(dirname "$0")/lib.sh"
#
# It sets strict mode, creates a private temp dir ($IT_TMP) and installs an
# EXIT trap that stops every daemon the test started (by pid) and removes the
# temp dir. Run against berthd by exporting BERTHD=/path/to/berthd; without it
# the reference registry (docker-registry, CNCF distribution) is used.
#
# berthd requires credentials on /v2/. start_registry gives it a known deployment administrator
# token ($ADMIN_TOKEN) and exchanges it for a refresh token ($REFRESH_TOKEN), the password of
# user $REFRESH_TOKEN_USER. The curl helpers send the administrator token (registry_curl); the
# clients log in with the refresh token through their own login commands (setup_containers_env,
# docker_login, ctr_credentials). The reference registry runs without authentication: the
# helpers send nothing and log nobody in.
#
# A failure is final wherever it happens: `fail` (and every assertion) called
# inside a command substitution, a process substitution or a pipeline stops
# the whole test, not just that subshell; see it_record_failure.
#
# A test that cannot run (a client or berthd missing) calls `skip`, and a skip
# is not a pass: it fails the test unless BERTH_ALLOW_SKIP=1.
#
# Environment knobs:
#   BERTHD          path to the berthd binary (optional)
#   REFERENCE_REGISTRY  reference registry binary (default: docker-registry on PATH)
#   DOCKER_BIN, DOCKERD_BIN  docker CLI and daemon (default: docker, dockerd on PATH)
#   BERTH_ALLOW_SKIP=1  for developers only: a test that cannot run exits 77
#                   (ctest: "Skipped") instead of failing. CI never sets it.
#   IT_KEEP_TMP=1   keep the temp dir after the test (for debugging)
#   IT_VERBOSE=1    trace every command (set -x, with timestamps)

set -euo pipefail
umask 022

IT_NAME=$(basename "$0" .sh)
# Short path: unix sockets live under it and must stay below 108 bytes.
# Lower case only: podman names images pulled from oci:DIR after DIR.
it_make_tmp() {
    local i name
    for ((i = 0; i < 50; i++)); do
        name=/tmp/berth-it.$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
        if mkdir -m 700 "$name" 2>/dev/null; then
            echo "$name"
            return 0
        fi
    done
    echo "cannot create a temp dir under /tmp" >&2
    return 1
}
IT_TMP=$(it_make_tmp)
export IT_TMP
export TMPDIR="$IT_TMP/tmp"
mkdir -p "$TMPDIR"

# The test's own process: subshells compare $BASHPID with it.
IT_MAIN_PID=$BASHPID
# Holds the message of every failure, from the main shell or any subshell.
IT_FAILED="$IT_TMP/failed"

# Tools are found on PATH; these name a specific binary instead.
REFERENCE_REGISTRY=${REFERENCE_REGISTRY:-docker-registry}
DOCKER_BIN=${DOCKER_BIN:-docker}
DOCKERD_BIN=${DOCKERD_BIN:-dockerd}

IT_CLEANUP=()        # commands run (last first) by the EXIT trap
REGISTRY_PID=""
REGISTRY_PORT=""
REGISTRY=""
REGISTRY_DIR="$IT_TMP/registry"
REGISTRY_KIND=""
# Credentials (berthd only; empty for the reference registry), see start_registry.
readonly REFRESH_TOKEN_USER=00000000-0000-0000-0000-000000000000
ADMIN_TOKEN=""
REFRESH_TOKEN=""
REGISTRY_AUTH=()     # curl arguments that authenticate a request to the registry

if [[ "${IT_VERBOSE:-0}" == 1 ]]; then
    PS4='+ ${EPOCHREALTIME} ${LINENO}: '
    set -x
fi

# ---------------------------------------------------------------- reporting

log() {
    printf '[%s %s] %s\n' "$IT_NAME" "$(date +%H:%M:%S)" "$*" >&2
}

fail() {
    printf '\n[%s] FAIL: %s\n' "$IT_NAME" "$*" >&2
    if [[ -n "$REGISTRY_DIR" && -s "$REGISTRY_DIR/log" ]]; then
        printf '[%s] last lines of the registry log (%s):\n' "$IT_NAME" "$REGISTRY_KIND" >&2
        tail -n 20 "$REGISTRY_DIR/log" | cut -c1-400 >&2 || true
    fi
    it_record_failure "$*"
    exit 1
}

# it_record_failure MESSAGE: make a failure stick. `exit` in a subshell
# (`assert_eq "" "$(registry_tags r)"`, `read x < <(...)`, `f | tr`) only
# ends that subshell, and an argument's exit status is lost. So the message
# goes to $IT_FAILED, which every assertion, pass and the EXIT trap check,
# and a subshell also sends TERM to the test's process, whose trap exits 1
# as soon as the current command returns.
it_record_failure() {
    printf '%s\n' "$1" >>"$IT_FAILED" 2>/dev/null || true
    if [[ "$BASHPID" != "$IT_MAIN_PID" ]]; then
        kill -TERM "$IT_MAIN_PID" 2>/dev/null || true
    fi
}

# it_failed_before: the test already failed in a subshell; stop here.
it_failed_before() {
    if [[ -s "$IT_FAILED" ]]; then
        printf '[%s] FAIL: stopped after an earlier failure: %s\n' "$IT_NAME" "$(head -n1 "$IT_FAILED")" >&2
        exit 1
    fi
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
    it_failed_before
    if [[ "$1" != "$2" ]]; then
        fail "$3: expected '$1', got '$2'"
    fi
}

# assert_ne UNEXPECTED ACTUAL WHAT
assert_ne() {
    it_failed_before
    if [[ "$1" == "$2" ]]; then
        fail "$3: did not expect '$1'"
    fi
}

# assert_match REGEX ACTUAL WHAT
assert_match() {
    it_failed_before
    if ! [[ "$2" =~ $1 ]]; then
        fail "$3: '$2' does not match /$1/"
    fi
}

pass() {
    it_failed_before
    log "PASS${1:+: $*}"
}

# skip REASON: this test cannot run here (a client or berthd is missing).
# A skip is not a pass: the test fails, so that CI with a tool missing goes
# red instead of green with nothing tested. BERTH_ALLOW_SKIP=1, for a
# developer without every client, exits 77 instead: ctest's SKIP_RETURN_CODE,
# reported as "Skipped" (run_all.sh: "skip").
skip() {
    if [[ "${BERTH_ALLOW_SKIP:-0}" == 1 ]]; then
        log "SKIP: $*"
        exit 77
    fi
    fail "cannot run: $* (BERTH_ALLOW_SKIP=1 skips instead)"
}

# run_logged LOGFILE CMD...: run a client command, keep its output in a file
# and show it when it fails.
run_logged() {
    local out=$1
    shift
    if ! "$@" >"$out" 2>&1; then
        printf '[%s] command failed: %s\n' "$IT_NAME" "$*" >&2
        tail -n 40 "$out" >&2 || true
        fail "command failed: $1 ${2:-} ${3:-}"
    fi
}

# require_cmd CMD...: every CMD (a name looked up on PATH, or a path) must be
# runnable; otherwise the test cannot run (see skip).
require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 ||
            skip "required command '$c' is not on PATH (scripts/install-deps.sh installs it)"
    done
}

# ---------------------------------------------------------------- cleanup

# For the no-secrets-in-logs check (tests/check_no_secrets.sh), when the suite collects
# artifacts: every log the script's servers and clients wrote goes to
# $BERTH_TEST_ARTIFACTS/logs/<script>/, and every secret it handled (the shell's *TOKEN*,
# *PASSWORD* and *SECRET* variables, and the secret members of the JSON answers it kept) to
# $BERTH_TEST_ARTIFACTS/secrets/.
collect_artifacts() {
    [[ -n "${BERTH_TEST_ARTIFACTS:-}" && -d "${IT_TMP:-}" ]] || return 0
    local script=${0##*/} logs secrets name file
    logs="$BERTH_TEST_ARTIFACTS/logs/${script%.sh}"
    secrets="$BERTH_TEST_ARTIFACTS/secrets/${script%.sh}-$$.txt"
    mkdir -p "$logs" "$BERTH_TEST_ARTIFACTS/secrets"
    while IFS= read -r -d '' file; do
        name=${file#"$IT_TMP"/}
        cp "$file" "$logs/${name//\//_}"
    done < <(find "$IT_TMP" -type f \( -name log -o -name stdout -o -name '*.log' \) -print0)
    for name in $(compgen -v | grep -E 'TOKEN|PASSWORD|SECRET|PASS$' | grep -v '_USER$'); do
        [[ ${#name} -gt 0 && -n "${!name:-}" ]] && printf '%s\n' "${!name}"
    done >>"$secrets"
    find "$IT_TMP" -type f -name '*.json' -size -1M -print0 |
        xargs -0 -r jq -r '.. | objects | to_entries[]
            | select(.key | IN("value","secret","password","token","access_token",
                               "refresh_token","accessToken"))
            | .value | strings' 2>/dev/null >>"$secrets"
}

on_exit() {
    local rc=$?
    set +e
    trap - EXIT INT TERM ERR
    # A failure recorded by a subshell fails the test whatever the last command returned.
    if [[ -s "$IT_FAILED" ]] && ((rc == 0 || rc == 143)); then
        rc=1
    fi
    local i
    for ((i = ${#IT_CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${IT_CLEANUP[i]}" >/dev/null 2>&1
    done
    stop_registry >/dev/null 2>&1
    collect_artifacts >/dev/null 2>&1
    if [[ "${IT_KEEP_TMP:-0}" == 1 ]]; then
        log "temp dir kept: $IT_TMP"
    else
        # vfs and overlay leave read-only dirs behind; make them removable.
        chmod -R u+rwX "$IT_TMP" >/dev/null 2>&1
        rm -rf "$IT_TMP"
    fi
    exit "$rc"
}
trap on_exit EXIT
set -E
trap 'it_on_err "$LINENO" "$BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'it_on_term' TERM

# TERM comes from outside (ctest's timeout) or from a failing subshell
# (it_record_failure): then the test failed, exit 1 like fail does.
it_on_term() {
    if [[ -s "$IT_FAILED" ]]; then
        exit 1
    fi
    exit 143
}

it_on_err() {
    printf '[%s] FAIL: command failed at line %s: %s\n' "$IT_NAME" "$1" "$2" >&2
}

add_cleanup() {
    IT_CLEANUP+=("$1")
}

# stop_pid PID [SECONDS]: TERM, wait, then KILL a process this test started.
stop_pid() {
    local pid=$1 limit=${2:-10} i
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null || true
    return 0
}

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
    local limit=$1 i
    shift
    for ((i = 0; i < limit * 10; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- registry

port_in_use() {
    ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# Picked below the kernel's ephemeral range, which port-0 listeners (berthd in other tests) and
# every outgoing connection draw from: a port chosen here can only be taken between the check
# and the bind by another test that picks its port the same way.
pick_free_port() {
    local p i low=32768
    [[ -r /proc/sys/net/ipv4/ip_local_port_range ]] &&
        read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    ((low > 11024)) || low=32768
    for ((i = 0; i < 200; i++)); do
        p=$((10000 + (RANDOM * 32768 + RANDOM) % (low - 10000)))
        if ! port_in_use "$p"; then
            echo "$p"
            return 0
        fi
    done
    fail "no free loopback port found"
}

registry_answers() {
    curl -sf --max-time 2 -o /dev/null "${REGISTRY_AUTH[@]}" "http://127.0.0.1:$REGISTRY_PORT/v2/"
}

# registry_curl CURL ARGS...: curl with the registry's credentials (the administrator token).
registry_curl() {
    curl "${REGISTRY_AUTH[@]}" "$@"
}

# admin_token_of_registry: the administrator token berthd starts with. A test may choose it
# (exporting BERTH_INITIAL_ADMIN_TOKEN before start_registry); otherwise a random one. It is
# taken on the first start only (the data dir keeps its hash), so restarts keep it.
admin_token_of_registry() {
    if [[ -z "${BERTH_INITIAL_ADMIN_TOKEN:-}" ]]; then
        BERTH_INITIAL_ADMIN_TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
    fi
    export BERTH_INITIAL_ADMIN_TOKEN
    ADMIN_TOKEN=$BERTH_INITIAL_ADMIN_TOKEN
    export ADMIN_TOKEN
    REGISTRY_AUTH=(-H "Authorization: Bearer $ADMIN_TOKEN")
}

# refresh_token_for [LOGIN-SERVER]: a refresh token of the registry that answers LOGIN-SERVER
# (host:port, resolved to 127.0.0.1; default $REGISTRY), exchanged for the administrator token
# at POST /oauth2/exchange. A refresh token belongs to one registry.
refresh_token_for() {
    local server=${1:-$REGISTRY} out status token
    out=$(mktemp)
    status=$(curl -s --max-time 30 -o "$out" -w '%{http_code}' \
        --resolve "$server:127.0.0.1" -X POST \
        --data-urlencode grant_type=access_token --data-urlencode "access_token=$ADMIN_TOKEN" \
        "http://$server/oauth2/exchange") || status=000
    [[ "$status" == 200 ]] ||
        fail "POST http://$server/oauth2/exchange answered $status: $(head -c 300 "$out")"
    token=$(jq -r '.refresh_token // empty' "$out")
    [[ -n "$token" ]] || fail "POST http://$server/oauth2/exchange gave no refresh_token: $(head -c 300 "$out")"
    rm -f "$out"
    echo "$token"
}

registry_write_reference_config() {
    cat >"$REGISTRY_DIR/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$REGISTRY_PORT
EOF
}

# start_registry: start berthd ($BERTHD) or the reference registry on the
# data dir $REGISTRY_DIR/data. The first start picks the port; later starts
# (restart_registry) reuse it. Exports REGISTRY=127.0.0.1:PORT.
start_registry() {
    mkdir -p "$REGISTRY_DIR/data"
    if [[ -n "${BERTHD:-}" ]]; then
        [[ -x "$BERTHD" ]] || fail "BERTHD=$BERTHD is not an executable"
        REGISTRY_KIND=berthd
        admin_token_of_registry
        local listen="127.0.0.1:${REGISTRY_PORT:-0}"
        rm -f "$REGISTRY_DIR/port"
        "$BERTHD" --listen "$listen" --data-dir "$REGISTRY_DIR/data" \
            --port-file "$REGISTRY_DIR/port" --log-level info \
            >>"$REGISTRY_DIR/log" 2>&1 &
        REGISTRY_PID=$!
        local i
        for ((i = 0; i < 200; i++)); do
            kill -0 "$REGISTRY_PID" 2>/dev/null ||
                fail "berthd exited during startup (listen $listen)"
            if [[ -s "$REGISTRY_DIR/port" ]]; then
                REGISTRY_PORT=$(tr -d '[:space:]' <"$REGISTRY_DIR/port")
                if [[ "$REGISTRY_PORT" =~ ^[0-9]+$ ]] && registry_answers; then
                    break
                fi
            fi
            sleep 0.1
        done
        ((i < 200)) || fail "berthd did not answer GET /v2/ within 20 s (listen $listen)"
    else
        require_cmd "$REFERENCE_REGISTRY"
        REGISTRY_KIND=reference
        local fixed_port=${REGISTRY_PORT:-}
        for _ in 1 2 3 4 5; do
            [[ -n "$fixed_port" ]] || REGISTRY_PORT=$(pick_free_port)
            registry_write_reference_config
            "$REFERENCE_REGISTRY" serve "$REGISTRY_DIR/config.yml" >>"$REGISTRY_DIR/log" 2>&1 &
            REGISTRY_PID=$!
            local i
            for ((i = 0; i < 200; i++)); do
                kill -0 "$REGISTRY_PID" 2>/dev/null || break
                registry_answers && break
                sleep 0.1
            done
            if kill -0 "$REGISTRY_PID" 2>/dev/null && registry_answers; then
                break
            fi
            stop_pid "$REGISTRY_PID" 2
            REGISTRY_PID=""
            # A restart must get its old port back; only a first start may move.
            [[ -z "$fixed_port" ]] || sleep 1
        done
        [[ -n "$REGISTRY_PID" ]] || fail "reference registry did not start (see $REGISTRY_DIR/log)"
    fi
    REGISTRY="127.0.0.1:$REGISTRY_PORT"
    export REGISTRY REGISTRY_PORT
    if [[ "$REGISTRY_KIND" == berthd ]]; then
        check_refresh_token_after_restart
        [[ -n "$REFRESH_TOKEN" ]] || REFRESH_TOKEN=$(refresh_token_for "$REGISTRY")
        export REFRESH_TOKEN
    fi
    log "registry ($REGISTRY_KIND) pid $REGISTRY_PID listening on $REGISTRY"
}

# check_refresh_token_after_restart: the refresh token the clients logged in with still gets an
# access token after a restart (refresh tokens outlive berthd's process).
check_refresh_token_after_restart() {
    [[ -n "$REFRESH_TOKEN" ]] || return 0
    local status
    status=$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' \
        -u "$REFRESH_TOKEN_USER:$REFRESH_TOKEN" \
        "http://$REGISTRY/oauth2/token?scope=repository:any/repo:pull") || status=000
    [[ "$status" == 200 ]] || fail "GET /oauth2/token with the refresh token answered $status after a restart"
}

stop_registry() {
    if [[ -n "$REGISTRY_PID" ]]; then
        stop_pid "$REGISTRY_PID" 15
        REGISTRY_PID=""
    fi
}

restart_registry() {
    stop_registry
    start_registry
}

kill9_registry() {
    if [[ -n "$REGISTRY_PID" ]]; then
        kill -KILL "$REGISTRY_PID" 2>/dev/null || true
        wait "$REGISTRY_PID" 2>/dev/null || true
        REGISTRY_PID=""
    fi
}

# ---------------------------------------------------------------- HTTP helpers

readonly MT_OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
readonly MT_OCI_INDEX=application/vnd.oci.image.index.v1+json
readonly MT_OCI_CONFIG=application/vnd.oci.image.config.v1+json
readonly MT_OCI_LAYER_GZIP=application/vnd.oci.image.layer.v1.tar+gzip
readonly MT_DOCKER_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
readonly MT_DOCKER_LIST=application/vnd.docker.distribution.manifest.list.v2+json
readonly ACCEPT_ALL_MANIFESTS="$MT_OCI_MANIFEST, $MT_OCI_INDEX, $MT_DOCKER_MANIFEST, $MT_DOCKER_LIST"

sha256_file() {
    local s
    s=$(sha256sum "$1")
    echo "sha256:${s%% *}"
}

# fetch_manifest REPO REF OUTFILE [ACCEPT]: GET a manifest; echoes
# "STATUS CONTENT-TYPE DOCKER-CONTENT-DIGEST".
fetch_manifest() {
    local repo=$1 ref=$2 out=$3 accept=${4:-$ACCEPT_ALL_MANIFESTS}
    local hdr="$out.headers" status ctype dcd
    status=$(registry_curl -s --max-time 30 -D "$hdr" -o "$out" -w '%{http_code}' \
        -H "Accept: $accept" "http://$REGISTRY/v2/$repo/manifests/$ref") || status=000
    ctype=$(awk 'tolower($1) == "content-type:" {sub(/\r$/, "", $2); print $2}' "$hdr" 2>/dev/null | tail -n1)
    dcd=$(awk 'tolower($1) == "docker-content-digest:" {sub(/\r$/, "", $2); print $2}' "$hdr" 2>/dev/null | tail -n1)
    echo "$status ${ctype:--} ${dcd:--}"
}

# registry_manifest_digest REPO REF [ACCEPT]: sha256 of the manifest body the
# registry serves; fails unless the GET is 200 and Docker-Content-Digest agrees.
registry_manifest_digest() {
    local repo=$1 ref=$2 accept=${3:-$ACCEPT_ALL_MANIFESTS}
    local out
    out=$(mktemp)
    local status ctype dcd digest
    read -r status ctype dcd < <(fetch_manifest "$repo" "$ref" "$out" "$accept")
    [[ "$status" == 200 ]] || fail "GET /v2/$repo/manifests/$ref answered $status"
    digest=$(sha256_file "$out")
    if [[ "$dcd" != "-" && "$dcd" != "$digest" ]]; then
        fail "GET /v2/$repo/manifests/$ref: Docker-Content-Digest $dcd but body hashes to $digest"
    fi
    echo "$digest"
}

# registry_tags REPO: the tags of REPO, sorted, one per line (empty if none).
registry_tags() {
    local out status
    out=$(mktemp)
    status=$(registry_curl -s --max-time 30 -o "$out" -w '%{http_code}' "http://$REGISTRY/v2/$1/tags/list") || status=000
    case "$status" in
        200) jq -r '(.tags // [])[]' "$out" | sort ;;
        404) ;;
        *) fail "GET /v2/$1/tags/list answered $status: $(head -c 300 "$out")" ;;
    esac
}

# http_status METHOD URL [CURL ARGS...]: with the registry's credentials.
http_status() {
    local m=$1 u=$2
    shift 2
    # Go clients send Content-Length: 0 on an empty POST/PUT; so does this.
    local len=()
    [[ "$m" == POST || "$m" == PUT ]] && len=(-H 'Content-Length: 0')
    registry_curl -s --max-time 30 -o /dev/null -w '%{http_code}' -X "$m" "${len[@]}" "$@" "$u" || echo 000
}

# check_blob REPO DIGEST: GET the blob and verify its content hashes to DIGEST.
check_blob() {
    local repo=$1 digest=$2 out status
    out=$(mktemp)
    status=$(registry_curl -sL --max-time 60 -o "$out" -w '%{http_code}' \
        "http://$REGISTRY/v2/$repo/blobs/$digest") || status=000
    [[ "$status" == 200 ]] || fail "GET /v2/$repo/blobs/$digest answered $status"
    assert_eq "$digest" "$(sha256_file "$out")" "content of blob $repo@$digest"
    rm -f "$out"
}

# ---------------------------------------------------------------- client state

# setup_containers_env [--no-login | CLIENT...]: private storage.conf, containers.conf, registries.conf,
# policy and auth file for skopeo, podman and buildah; then each CLIENT (podman, skopeo,
# buildah; default skopeo) logs in to the registry (containers_login). They share the auth file,
# so any one login serves all three; each logs in so that its own login is exercised.
setup_containers_env() {
    local d="$IT_TMP/containers"
    mkdir -p "$d/graphroot" "$d/runroot" "$d/tmp" "$d/volumes" "$d/cache"
    cat >"$d/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$d/graphroot"
runroot = "$d/runroot"
EOF
    cat >"$d/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]
netns = "host"
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$d/events.log"
tmp_dir = "$d/tmp"
volume_path = "$d/volumes"
static_dir = "$d/graphroot/libpod"
EOF
    cat >"$d/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "disabled"

[[registry]]
location = "$REGISTRY"
insecure = true
EOF
    cat >"$d/policy.json" <<'EOF'
{"default": [{"type": "insecureAcceptAnything"}]}
EOF
    echo '{"auths": {}}' >"$d/auth.json"
    export CONTAINERS_STORAGE_CONF="$d/storage.conf"
    export CONTAINERS_CONF="$d/containers.conf"
    export CONTAINERS_REGISTRIES_CONF="$d/registries.conf"
    export REGISTRY_AUTH_FILE="$d/auth.json"
    export CONTAINERS_POLICY="$d/policy.json"
    export XDG_RUNTIME_DIR="$d/xdg-run"
    export XDG_CONFIG_HOME="$d/xdg-config"
    export XDG_DATA_HOME="$d/xdg-data"
    mkdir -p "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME"
    chmod 700 "$XDG_RUNTIME_DIR"
    # vfs layers are plain files, but make sure nothing stays mounted.
    add_cleanup "umount -R '$d/graphroot' 2>/dev/null; umount -R '$d/runroot' 2>/dev/null; true"
    # --no-login: the script logs its clients in itself (the access-control scripts).
    [[ "${1:-}" == --no-login ]] && return 0
    local client
    for client in "${@:-skopeo}"; do
        case "$client" in
            podman) containers_login pm ;;
            skopeo) containers_login sk ;;
            buildah) containers_login bh ;;
            *) fail "setup_containers_env: unknown client '$client'" ;;
        esac
    done
}

# containers_login WRAPPER [LOGIN-SERVER [REFRESH-TOKEN]]: `WRAPPER login` (pm, sk, bh or a
# test's own wrapper of podman, skopeo or buildah) to LOGIN-SERVER (default $REGISTRY) as
# $REFRESH_TOKEN_USER with a refresh token (default $REFRESH_TOKEN), then checks that the
# shared auth file holds exactly those credentials. Nothing to do for the reference registry.
containers_login() {
    local wrapper=$1 server=${2:-$REGISTRY} token=${3:-$REFRESH_TOKEN} stored
    [[ "$REGISTRY_KIND" == berthd ]] || return 0
    run_logged "$IT_TMP/login-$wrapper-${server//[^a-zA-Z0-9.]/_}.log" "$wrapper" login --tls-verify=false \
        --username "$REFRESH_TOKEN_USER" --password-stdin "$server" <<<"$token"
    stored=$(jq -r --arg s "$server" '.auths[$s].auth // empty' "$REGISTRY_AUTH_FILE" | base64 -d)
    [[ "$stored" == "$REFRESH_TOKEN_USER:$token" ]] ||
        fail "$wrapper login $server: the auth file holds no credentials for $server"
}

# containers/image keeps root's blob-info cache at the fixed path
# /var/lib/containers/cache (no option in skopeo 1.9 / podman 4.3 / buildah
# 1.28 moves it). Shared, it lets one test's pushes change what another
# pushes (layers substituted by earlier recompressed copies), so every
# skopeo/podman/buildah call runs in a private mount namespace with a cache
# dir of this test bound over that path.
IT_CACHE_ISOLATION=""
containers_isolated() {
    if [[ -z "$IT_CACHE_ISOLATION" ]]; then
        IT_CACHE_ISOLATION=no
        if mkdir -p /var/lib/containers/cache 2>/dev/null &&
            unshare -m --propagation private -- \
                mount --bind "$IT_TMP/containers/cache" /var/lib/containers/cache 2>/dev/null; then
            IT_CACHE_ISOLATION=yes
        else
            log "warning: cannot isolate /var/lib/containers/cache; sharing it"
        fi
    fi
    if [[ "$IT_CACHE_ISOLATION" == yes ]]; then
        # shellcheck disable=SC2016 # expanded by the inner shell
        unshare -m --propagation private -- /bin/sh -c \
            'mount --bind "$0" /var/lib/containers/cache && exec "$@"' \
            "$IT_TMP/containers/cache" "$@"
    else
        "$@"
    fi
}

# skopeo wrapper: private policy, registries config and blob-info cache.
sk() {
    containers_isolated skopeo --policy "$CONTAINERS_POLICY" \
        --registries-conf "$CONTAINERS_REGISTRIES_CONF" "$@"
}

# podman and buildah wrappers: private cache; storage and config come from
# the CONTAINERS_* variables.
pm() {
    containers_isolated podman --cgroup-manager cgroupfs --events-backend file "$@"
}

bh() {
    containers_isolated buildah "$@"
}

# setup_docker_config: a private docker CLI configuration (no credentials yet; docker_login
# adds them once dockerd runs).
setup_docker_config() {
    export DOCKER_CONFIG="$IT_TMP/docker-config"
    mkdir -p "$DOCKER_CONFIG"
    echo '{"auths": {}}' >"$DOCKER_CONFIG/config.json"
}

# start_private_dockerd: a dockerd of the test's own (data, sockets and pid under
# $IT_TMP/dockerd, no networking of its own, vfs storage) that treats $REGISTRY as insecure;
# sets DOCKER_HOST and DOCKERD_PID, defines dk, and stops it at exit. dockerd would join a
# system containerd at /run/containerd if one ran; it starts its own (under exec-root)
# otherwise.
start_private_dockerd() {
    DD="$IT_TMP/dockerd"
    mkdir -p "$DD/data" "$DD/exec"
    DSOCK="$DD/docker.sock"
    jq -n --arg d "$DD" --arg reg "$REGISTRY" --arg sock "unix://$DSOCK" '{
      "data-root": ($d + "/data"),
      "exec-root": ($d + "/exec"),
      "pidfile": ($d + "/docker.pid"),
      "hosts": [$sock],
      "iptables": false,
      "ip6tables": false,
      "ip-forward": false,
      "ip-masq": false,
      "bridge": "none",
      "storage-driver": "vfs",
      "exec-opts": ["native.cgroupdriver=cgroupfs"],
      "insecure-registries": [$reg],
      "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 20000, "Soft": 20000}},
      "log-level": "warn",
      "features": {"buildkit": false}
    }' >"$DD/daemon.json"
    "$DOCKERD_BIN" --config-file "$DD/daemon.json" >"$DD/log" 2>&1 &
    DOCKERD_PID=$!
    add_cleanup "stop_pid $DOCKERD_PID 20; umount -R '$DD/exec' 2>/dev/null; umount -R '$DD/data' 2>/dev/null"
    export DOCKER_HOST="unix://$DSOCK"
    if ! wait_for 30 dk version; then
        tail -n 30 "$DD/log" >&2
        kill -0 "$DOCKERD_PID" 2>/dev/null || fail "dockerd exited during startup (log above)"
        fail "dockerd did not answer on $DSOCK within 30 s"
    fi
    log "dockerd pid $DOCKERD_PID on $DSOCK"
}

dk() {
    "$DOCKER_BIN" "$@"
}

# docker_login [LOGIN-SERVER]: `docker login --password-stdin` to LOGIN-SERVER (default
# $REGISTRY) with the refresh token; the daemon (DOCKER_HOST) must be up, it checks the
# credentials against the registry. Nothing to do for the reference registry.
docker_login() {
    local server=${1:-$REGISTRY}
    [[ "$REGISTRY_KIND" == berthd ]] || return 0
    run_logged "$IT_TMP/docker-login.log" "$DOCKER_BIN" login --username "$REFRESH_TOKEN_USER" \
        --password-stdin "$server" <<<"$REFRESH_TOKEN"
    jq -e --arg s "$server" '.auths[$s] | .auth // .identitytoken' "$DOCKER_CONFIG/config.json" >/dev/null ||
        fail "docker login $server: $DOCKER_CONFIG/config.json holds no credentials for $server"
}

# ctr_credentials: the arguments that give `ctr images pull/push` the registry's credentials
# (none for the reference registry), one per line: read them with mapfile.
ctr_credentials() {
    [[ "$REGISTRY_KIND" == berthd ]] || return 0
    printf '%s\n' --user "$REFRESH_TOKEN_USER:$REFRESH_TOKEN"
}

# ---------------------------------------------------------------- fixtures
#
# build_fixture_image DIR writes a reproducible OCI image layout:
#
#   DIR/oci-layout
#   DIR/index.json            refs: amd64, arm64, latest (= amd64), multi
#   DIR/blobs/sha256/<layer>  busybox-static rootfs, tar.gz (shared)
#   DIR/blobs/sha256/<cfg>    one config per architecture
#   DIR/blobs/sha256/<man>    one manifest per architecture
#   DIR/blobs/sha256/<index>  image index over both manifests ("multi")
#
# The arm64 variant carries the same (x86-64) rootfs: registries and clients
# only need a second platform, never to run it. Sets and exports:
#   FIXTURE_LAYER_DIGEST FIXTURE_DIFF_ID
#   FIXTURE_AMD64_DIGEST FIXTURE_AMD64_CONFIG FIXTURE_ARM64_DIGEST FIXTURE_ARM64_CONFIG
#   FIXTURE_INDEX_DIGEST
# An optional second argument salts the configs (a label) so that different
# callers can build distinct images from the same rootfs.

FIXTURE_APPLETS=(sh ls cat echo true false env mkdir rm sleep id uname)

_blob_put() { # DIR FILE -> echoes digest, moves FILE into blobs
    local dir=$1 file=$2 d
    d=$(sha256_file "$file")
    mv "$file" "$dir/blobs/sha256/${d#sha256:}"
    echo "$d"
}

_fixture_rootfs() {
    local root=$1 a
    require_cmd busybox
    mkdir -p "$root/bin" "$root/etc" "$root/tmp"
    # Static: the image runs it in a chroot without the host's libraries.
    cp "$(command -v busybox)" "$root/bin/busybox"
    chmod 0755 "$root/bin/busybox" "$root/bin" "$root/etc"
    chmod 1777 "$root/tmp"
    for a in "${FIXTURE_APPLETS[@]}"; do
        ln -s busybox "$root/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    chmod 0644 "$root/etc/passwd" "$root/etc/group"
}

# _fixture_config DIR ARCH VARIANT SALT -> writes config blob, echoes "digest size"
_fixture_config() {
    local dir=$1 arch=$2 variant=$3 salt=$4 f
    f=$(mktemp)
    jq -cn --arg arch "$arch" --arg variant "$variant" --arg diff "$FIXTURE_DIFF_ID" --arg salt "$salt" '
      {created: "1970-01-01T00:00:00Z", architecture: $arch}
      + (if $variant == "" then {} else {variant: $variant} end)
      + {os: "linux",
         config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                  Cmd: ["/bin/sh"],
                  Labels: {"org.example.berth.fixture": ("busybox-" + $arch + $salt)}},
         rootfs: {type: "layers", diff_ids: [$diff]},
         history: [{created: "1970-01-01T00:00:00Z", created_by: "berth integration fixture"}]}' >"$f"
    local size
    size=$(stat -c %s "$f")
    echo "$(_blob_put "$dir" "$f") $size"
}

# _fixture_manifest DIR CONFIG_DIGEST CONFIG_SIZE -> echoes "digest size"
_fixture_manifest() {
    local dir=$1 cdig=$2 csize=$3 f size
    f=$(mktemp)
    jq -cn --arg mt "$MT_OCI_MANIFEST" --arg cmt "$MT_OCI_CONFIG" --arg lmt "$MT_OCI_LAYER_GZIP" \
        --arg cdig "$cdig" --argjson csize "$csize" \
        --arg ldig "$FIXTURE_LAYER_DIGEST" --argjson lsize "$FIXTURE_LAYER_SIZE" '
      {schemaVersion: 2, mediaType: $mt,
       config: {mediaType: $cmt, digest: $cdig, size: $csize},
       layers: [{mediaType: $lmt, digest: $ldig, size: $lsize}]}' >"$f"
    size=$(stat -c %s "$f")
    echo "$(_blob_put "$dir" "$f") $size"
}

build_fixture_image() {
    local dir=$1 salt=${2:-}
    local work
    work=$(mktemp -d)
    mkdir -p "$dir/blobs/sha256"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"

    _fixture_rootfs "$work/rootfs"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
        -C "$work/rootfs" -cf "$work/layer.tar" bin etc tmp
    FIXTURE_DIFF_ID=$(sha256_file "$work/layer.tar")
    gzip -n -6 <"$work/layer.tar" >"$work/layer.tar.gz"
    FIXTURE_LAYER_SIZE=$(stat -c %s "$work/layer.tar.gz")
    FIXTURE_LAYER_DIGEST=$(_blob_put "$dir" "$work/layer.tar.gz")

    local cd cs md ms
    read -r cd cs < <(_fixture_config "$dir" amd64 "" "$salt")
    FIXTURE_AMD64_CONFIG=$cd
    read -r md ms < <(_fixture_manifest "$dir" "$cd" "$cs")
    FIXTURE_AMD64_DIGEST=$md
    FIXTURE_AMD64_SIZE=$ms

    read -r cd cs < <(_fixture_config "$dir" arm64 v8 "$salt")
    FIXTURE_ARM64_CONFIG=$cd
    read -r md ms < <(_fixture_manifest "$dir" "$cd" "$cs")
    FIXTURE_ARM64_DIGEST=$md
    FIXTURE_ARM64_SIZE=$ms

    local f
    f=$(mktemp)
    jq -cn --arg it "$MT_OCI_INDEX" --arg mt "$MT_OCI_MANIFEST" \
        --arg a "$FIXTURE_AMD64_DIGEST" --argjson asz "$FIXTURE_AMD64_SIZE" \
        --arg b "$FIXTURE_ARM64_DIGEST" --argjson bsz "$FIXTURE_ARM64_SIZE" '
      {schemaVersion: 2, mediaType: $it,
       manifests: [
         {mediaType: $mt, digest: $a, size: $asz, platform: {architecture: "amd64", os: "linux"}},
         {mediaType: $mt, digest: $b, size: $bsz, platform: {architecture: "arm64", os: "linux", variant: "v8"}}]}' >"$f"
    FIXTURE_INDEX_SIZE=$(stat -c %s "$f")
    FIXTURE_INDEX_DIGEST=$(_blob_put "$dir" "$f")

    jq -cn --arg it "$MT_OCI_INDEX" --arg mt "$MT_OCI_MANIFEST" \
        --arg a "$FIXTURE_AMD64_DIGEST" --argjson asz "$FIXTURE_AMD64_SIZE" \
        --arg b "$FIXTURE_ARM64_DIGEST" --argjson bsz "$FIXTURE_ARM64_SIZE" \
        --arg i "$FIXTURE_INDEX_DIGEST" --argjson isz "$FIXTURE_INDEX_SIZE" '
      def ref($n): {"org.opencontainers.image.ref.name": $n};
      {schemaVersion: 2,
       manifests: [
         {mediaType: $mt, digest: $a, size: $asz, annotations: ref("amd64"),
          platform: {architecture: "amd64", os: "linux"}},
         {mediaType: $mt, digest: $a, size: $asz, annotations: ref("latest"),
          platform: {architecture: "amd64", os: "linux"}},
         {mediaType: $mt, digest: $b, size: $bsz, annotations: ref("arm64"),
          platform: {architecture: "arm64", os: "linux", variant: "v8"}},
         {mediaType: $it, digest: $i, size: $isz, annotations: ref("multi")}]}' >"$dir/index.json"

    rm -rf "$work"
    export FIXTURE_LAYER_DIGEST FIXTURE_LAYER_SIZE FIXTURE_DIFF_ID
    export FIXTURE_AMD64_DIGEST FIXTURE_AMD64_CONFIG FIXTURE_ARM64_DIGEST FIXTURE_ARM64_CONFIG
    export FIXTURE_INDEX_DIGEST
}

# fixture_rootfs DIR: the fixture's root filesystem as a plain directory
# (for buildah copy).
fixture_rootfs() {
    _fixture_rootfs "$1"
}

# oci_layout_digest DIR REF: manifest digest a layout's index.json names for REF.
oci_layout_digest() {
    jq -r --arg r "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' \
        "$1/index.json" | head -n1
}

# What the helpers above run for every test (ss: without it pick_free_port
# could not tell a used port from a free one).
require_cmd curl jq ss awk sha256sum
