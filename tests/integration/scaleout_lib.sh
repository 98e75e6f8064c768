# Helpers for tests of a scale-out deployment: several berthd nodes on shared backends
# (PostgreSQL metadata, Azure Blob Storage bytes in Azurite) behind HAProxy. Source after
# lib.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/scaleout_lib.sh"
#   start_scaleout_backends         # PostgreSQL + Azurite; exports what every node needs
#   start_node 1; start_node 2      # berthd nodes on their own ports ($NODE_PORT[1], ...)
#   start_balancer 1 2              # HAProxy in front of them; REGISTRY points at it
#
# The backends come from berth_test_backends ($BERTH_TEST_BACKENDS, set by CMake), which runs
# the same PostgreSQL and Azurite launchers as the C++ tests and stops them when the test ends.
# HAProxy balances round robin and closes both sides after every response (option httpclose),
# so each request of a client may reach another node.

NODE_PID=()
NODE_PORT=()
BALANCER_PID=""
BALANCER_PORT=""
BACKENDS_PID=""

# start_scaleout_backends: starts PostgreSQL and Azurite, and exports the configuration every
# node shares: metadata, storage, container, connection string, deployment key and the
# administrator token (BERTH_INITIAL_ADMIN_TOKEN, $ADMIN_TOKEN).
start_scaleout_backends() {
    [[ -n "${BERTH_TEST_BACKENDS:-}" ]] ||
        skip "BERTH_TEST_BACKENDS (the berth_test_backends launcher) is not set"
    [[ -x "$BERTH_TEST_BACKENDS" ]] || fail "BERTH_TEST_BACKENDS=$BERTH_TEST_BACKENDS is not an executable"
    local env_file="$IT_TMP/backends.env" i
    # Under /tmp, not the test's private temp dir: PostgreSQL runs as its own system user when
    # the test runs as root, and must reach its cluster directory.
    TMPDIR=/tmp "$BERTH_TEST_BACKENDS" "$env_file" >"$IT_TMP/backends.log" 2>&1 &
    BACKENDS_PID=$!
    add_cleanup 'stop_pid "$BACKENDS_PID" 30'
    for ((i = 0; i < 1200; i++)); do
        [[ -s "$env_file" ]] && break
        kill -0 "$BACKENDS_PID" 2>/dev/null ||
            fail "the test backends did not start: $(tail -c 2000 "$IT_TMP/backends.log")"
        sleep 0.1
    done
    [[ -s "$env_file" ]] || fail "the test backends did not start within 120 s"
    # shellcheck disable=SC1090
    . "$env_file"
    export PGPASSWORD
    export BERTH_METADATA="$BERTH_TEST_PG_URI"
    export BERTH_STORAGE=azure
    export BERTH_AZURE_CONTAINER="berth-it-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    export BERTH_AZURE_STORAGE_CONNECTION_STRING="$BERTH_TEST_AZURE_CONNECTION_STRING"
    export BERTH_DEPLOYMENT_KEY
    BERTH_DEPLOYMENT_KEY=$(head -c 32 /dev/urandom | base64 -w0)
    admin_token_of_registry
    log "backends: PostgreSQL ${BERTH_METADATA%%\?*}, Azurite container $BERTH_AZURE_CONTAINER"
}

node_dir() { echo "$IT_TMP/node$1"; }

# node_answers N: GET /v2/ on node N answers 200 (with the administrator token).
node_answers() {
    curl -sf --max-time 2 -o /dev/null "${REGISTRY_AUTH[@]}" "http://127.0.0.1:${NODE_PORT[$1]}/v2/"
}

# start_node N [BERTHD ARGS...]: starts node N (its port is kept across restarts) and waits
# until it answers.
start_node() {
    local n=$1 dir
    shift
    dir=$(node_dir "$n")
    mkdir -p "$dir/data"
    local port=${NODE_PORT[$n]:-0}
    rm -f "$dir/port"
    "$BERTHD" --listen "127.0.0.1:$port" --data-dir "$dir/data" --port-file "$dir/port" \
        --log-level info "$@" >>"$dir/log" 2>&1 &
    NODE_PID[$n]=$!
    local i
    for ((i = 0; i < 600; i++)); do
        kill -0 "${NODE_PID[$n]}" 2>/dev/null ||
            fail "node $n exited during start-up: $(tail -n 5 "$dir/log")"
        if [[ -s "$dir/port" ]]; then
            NODE_PORT[$n]=$(tr -d '[:space:]' <"$dir/port")
            node_answers "$n" && break
        fi
        sleep 0.1
    done
    ((i < 600)) || fail "node $n did not answer GET /v2/ within 60 s: $(tail -n 5 "$dir/log")"
    add_cleanup "stop_pid ${NODE_PID[$n]} 10"
    log "node $n: pid ${NODE_PID[$n]} on 127.0.0.1:${NODE_PORT[$n]}"
}

stop_node() {
    stop_pid "${NODE_PID[$1]}" 10
    NODE_PID[$1]=""
}

kill9_node() {
    local pid=${NODE_PID[$1]}
    [[ -n "$pid" ]] || return 0
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    NODE_PID[$1]=""
}

# start_balancer N...: HAProxy on a free port in front of nodes N..., round robin, one request
# per connection, and a health check every 500 ms that takes a dead node out after two
# failures. Sets REGISTRY (and REGISTRY_PORT) to it.
start_balancer() {
    require_cmd haproxy
    local config="$IT_TMP/haproxy.cfg" n
    BALANCER_PORT=$(pick_free_port)
    {
        cat <<EOF
global
    maxconn 2000
defaults
    mode http
    option httpclose
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    retries 2
    option redispatch
frontend registry
    bind 127.0.0.1:$BALANCER_PORT
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /healthz
EOF
        for n in "$@"; do
            echo "    server node$n 127.0.0.1:${NODE_PORT[$n]} check inter 500ms fall 2 rise 2"
        done
    } >"$config"
    haproxy -c -f "$config" >"$IT_TMP/haproxy-check.log" 2>&1 ||
        fail "haproxy refuses its configuration: $(cat "$IT_TMP/haproxy-check.log")"
    haproxy -db -f "$config" >"$IT_TMP/haproxy.log" 2>&1 &
    BALANCER_PID=$!
    add_cleanup 'stop_pid "$BALANCER_PID" 5'
    REGISTRY_PORT=$BALANCER_PORT
    REGISTRY="127.0.0.1:$BALANCER_PORT"
    REGISTRY_KIND=berthd
    export REGISTRY REGISTRY_PORT
    wait_for 20 registry_answers || fail "HAProxy on $REGISTRY does not answer GET /v2/"
    log "HAProxy pid $BALANCER_PID on $REGISTRY in front of nodes $*"
}

# build_big_image DIR MIB: an OCI layout in DIR whose image (ref "big") has one layer of MIB MiB
# of random bytes (gzip framing, so it does not compress), for pushes that last long enough to
# be interrupted. Sets big_layer and big_manifest (their digests).
build_big_image() {
    local dir=$1 mib=$2 work
    work=$(mktemp -d)
    mkdir -p "$dir/blobs/sha256"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
    head -c $((mib * 1024 * 1024)) /dev/urandom | gzip -1 >"$work/layer.gz"
    local layer_size config config_size manifest_size
    layer_size=$(stat -c %s "$work/layer.gz")
    big_layer=$(_blob_put "$dir" "$work/layer.gz")
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' \
        "$big_layer" >"$work/config.json"
    config_size=$(stat -c %s "$work/config.json")
    config=$(_blob_put "$dir" "$work/config.json")
    jq -cn --arg mt "$MT_OCI_MANIFEST" --arg cmt "$MT_OCI_CONFIG" --arg lmt "$MT_OCI_LAYER_GZIP" \
        --arg c "$config" --argjson cs "$config_size" --arg l "$big_layer" --argjson ls "$layer_size" \
        '{schemaVersion: 2, mediaType: $mt, config: {mediaType: $cmt, digest: $c, size: $cs},
          layers: [{mediaType: $lmt, digest: $l, size: $ls}]}' >"$work/manifest.json"
    manifest_size=$(stat -c %s "$work/manifest.json")
    big_manifest=$(_blob_put "$dir" "$work/manifest.json")
    jq -cn --arg mt "$MT_OCI_MANIFEST" --arg d "$big_manifest" --argjson s "$manifest_size" \
        '{schemaVersion: 2, manifests: [{mediaType: $mt, digest: $d, size: $s,
          annotations: {"org.opencontainers.image.ref.name": "big"}}]}' >"$dir/index.json"
    rm -rf "$work"
}
