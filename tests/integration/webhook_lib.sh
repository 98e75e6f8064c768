# Shared by the webhook tests: a real HTTP receiver (webhook_receiver.py) on a free loopback
# port, and helpers over what it received and over the management API's webhook routes.
# Source after lib.sh.

PYTHON=${PYTHON:-/usr/bin/python3}
[[ -x "$PYTHON" ]] || fail "$PYTHON is missing (python3; scripts/install-deps.sh installs it)"
RECEIVER_SCRIPT="$(dirname "${BASH_SOURCE[0]}")/webhook_receiver.py"
RECEIVED="$IT_TMP/received.jsonl"
RECEIVER_MODE="$IT_TMP/receiver.mode"
RECEIVER_PID=""
RECEIVER_PORT=""

# start_receiver [MODE]: (re)starts the receiver on RECEIVER_PORT (a free port the first time).
start_receiver() {
    echo "${1:-ok}" >"$RECEIVER_MODE"
    touch "$RECEIVED"
    [[ -n "$RECEIVER_PORT" ]] || RECEIVER_PORT=$(pick_free_port)
    "$PYTHON" "$RECEIVER_SCRIPT" "$RECEIVER_PORT" "$RECEIVED" "$RECEIVER_MODE" \
        >>"$IT_TMP/receiver.log" 2>&1 &
    RECEIVER_PID=$!
    add_cleanup "stop_pid $RECEIVER_PID 2"
    local i
    for ((i = 0; i < 100; i++)); do
        port_in_use "$RECEIVER_PORT" && return 0
        sleep 0.1
    done
    fail "the webhook receiver did not listen on $RECEIVER_PORT"
}

stop_receiver() {
    stop_pid "$RECEIVER_PID" 2
    RECEIVER_PID=""
}

receiver_mode() { echo "$*" >"$RECEIVER_MODE"; }

# received_bodies [PATH]: the JSON bodies received (on PATH only, if given), one per line.
received_bodies() {
    local path=${1:-}
    jq -c --arg path "$path" 'select($path == "" or .path == $path) | .body | fromjson' \
        "$RECEIVED"
}

# wait_received COUNT JQ-FILTER [PATH] [SECONDS]: waits until COUNT received bodies match.
wait_received() {
    local count=$1 filter=$2 path=${3:-} seconds=${4:-60} i n
    for ((i = 0; i < seconds * 10; i++)); do
        n=$(received_bodies "$path" | jq -c "select($filter)" | wc -l)
        ((n >= count)) && return 0
        sleep 0.1
    done
    fail "received $n of $count bodies matching '$filter' (path '${path:-any}') within ${seconds}s"
}

# mgmt METHOD PATH [BODY]: a management API call as the administrator; the body of the answer
# goes to $IT_TMP/mgmt.json, the status is echoed.
mgmt() {
    local method=$1 path=$2 body=${3:-}
    local args=(-s --max-time 30 -X "$method" -o "$IT_TMP/mgmt.json" -w '%{http_code}'
        -H "Authorization: Bearer $ADMIN_TOKEN")
    [[ -z "$body" ]] || args+=(-H 'Content-Type: application/json' --data-binary "$body")
    curl "${args[@]}" "http://$REGISTRY/mgmt/v1/$path" || echo 000
}

# create_webhook NAME JSON-FIELDS: POST a webhook of the default registry; fails unless 201.
create_webhook() {
    local status
    status=$(mgmt POST registries/default/webhooks "$(jq -c --arg name "$1" '. + {name: $name}' <<<"$2")")
    [[ "$status" == 201 ]] || fail "creating webhook $1 answered $status: $(cat "$IT_TMP/mgmt.json")"
}
