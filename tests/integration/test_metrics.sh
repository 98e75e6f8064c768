#!/usr/bin/env bash
# GET /metrics read the way Prometheus reads it: the exposition is parsed by the reference
# Python client's text-format parser (metrics_parse.py), before and after a push (blob upload
# and manifest PUT with curl) and a pull (manifest GET), and the counters moved by exactly
# what was sent. Then who may scrape: loopback clients without credentials, a remote client
# (X-Forwarded-For through the trusted proxy 127.0.0.1) only with the metrics token, which
# never reaches the log. Needs berthd.
. "$(dirname "$0")/lib.sh"

[[ -n "${BERTHD:-}" ]] || skip "/metrics is a berthd feature (BERTHD unset)"
# Debian's python3-prometheus-client is installed for Debian's interpreter, which another
# python3 first on PATH (pyenv, a virtualenv) does not see.
PYTHON=${PYTHON:-/usr/bin/python3}
require_cmd curl jq sha256sum
PARSE="$(dirname "$0")/metrics_parse.py"
# The parser is what this test is about: without it the test fails, whatever BERTH_ALLOW_SKIP.
[[ -x "$PYTHON" ]] || fail "$PYTHON is missing (python3; scripts/install-deps.sh installs it)"
"$PYTHON" -c 'import prometheus_client.parser' 2>/dev/null ||
    fail "$PYTHON cannot import prometheus_client.parser (python3-prometheus-client; scripts/install-deps.sh installs it)"

# Configured the way an operator may: through the environment (start_registry passes only the
# listener's flags).
METRICS_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
(umask 077 && printf '%s\n' "$METRICS_TOKEN" >"$IT_TMP/metrics-token")
export BERTH_METRICS_TOKEN_FILE="$IT_TMP/metrics-token"
export BERTH_TRUSTED_PROXIES=127.0.0.1
start_registry
REMOTE=(-H 'X-Forwarded-For: 192.0.2.10')

# scrape NAME [CURL ARGS...]: GET /metrics into $IT_TMP/NAME.txt (headers in .headers); echoes
# the status.
scrape() {
    local name=$1
    shift
    curl -s --max-time 30 -D "$IT_TMP/$name.headers" -o "$IT_TMP/$name.txt" -w '%{http_code}' \
        "$@" "http://$REGISTRY/metrics" || echo 000
}
# parse NAME: the parsed families of $IT_TMP/NAME.txt as JSON, in $IT_TMP/NAME.json.
parse() {
    "$PYTHON" "$PARSE" "$IT_TMP/$1.txt" >"$IT_TMP/$1.json" ||
        fail "the exposition $1 does not parse (kept in $IT_TMP/$1.txt)"
}
# value NAME SAMPLE [LABEL=VALUE...]: a sample's value in a parsed scrape; 0 when absent.
value() {
    local name=$1 sample=$2
    shift 2
    local filter='.[].samples[] | select(.name == $sample)' label
    for label in "$@"; do
        filter+=" | select(.labels.\"${label%%=*}\" == \"${label#*=}\")"
    done
    jq -r --arg sample "$sample" "[$filter | .value] | if length == 0 then 0 else .[0] end" \
        "$IT_TMP/$name.json"
}
# delta SAMPLE [LABEL=VALUE...]: after - before, as an integer.
delta() {
    local before after
    before=$(value before "$@")
    after=$(value after "$@")
    jq -n --argjson a "$after" --argjson b "$before" '$a - $b | floor'
}

# 1. a loopback client scrapes without credentials; the exposition parses
assert_eq 200 "$(scrape before)" "GET /metrics from loopback"
content_type=$(awk 'tolower($1) == "content-type:" {sub(/^[^:]*: */, ""); sub(/\r$/, ""); print}' \
    "$IT_TMP/before.headers")
assert_eq "text/plain; version=0.0.4; charset=utf-8" "$content_type" "Content-Type of /metrics"
parse before

# 2. a push and a pull with curl
printf '{"architecture":"amd64","os":"linux","created":"%s"}' "$(date -u +%FT%TZ)" >"$IT_TMP/config"
head -c 300000 /dev/urandom >"$IT_TMP/layer"
config_digest=$(sha256_file "$IT_TMP/config")
layer_digest=$(sha256_file "$IT_TMP/layer")
assert_eq 201 "$(registry_curl -s -o /dev/null -w '%{http_code}' -X POST \
    --data-binary "@$IT_TMP/config" -H 'Content-Type: application/octet-stream' \
    "http://$REGISTRY/v2/it/metrics/blobs/uploads/?digest=$config_digest")" "monolithic config upload"
location=$(registry_curl -s -o /dev/null -D - -X POST -H 'Content-Length: 0' \
    "http://$REGISTRY/v2/it/metrics/blobs/uploads/" |
    awk 'tolower($1) == "location:" {sub(/\r$/, "", $2); print $2}')
[[ -n "$location" ]] || fail "POST /v2/it/metrics/blobs/uploads/ gave no Location"
[[ "$location" == http* ]] || location="http://$REGISTRY$location"
assert_eq 202 "$(registry_curl -s -o /dev/null -w '%{http_code}' -X PATCH \
    --data-binary "@$IT_TMP/layer" -H 'Content-Type: application/octet-stream' "$location")" \
    "PATCH of the layer"
assert_eq 201 "$(registry_curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Length: 0' \
    "$location?digest=$layer_digest")" "PUT closing the layer's upload"
config_size=$(stat -c %s "$IT_TMP/config")
layer_size=$(stat -c %s "$IT_TMP/layer")
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":%s},"layers":[{"mediaType":"%s","digest":"%s","size":%s}]}' \
    "$MT_OCI_MANIFEST" "$MT_OCI_CONFIG" "$config_digest" "$config_size" \
    "$MT_OCI_LAYER_GZIP" "$layer_digest" "$layer_size" >"$IT_TMP/manifest"
manifest_size=$(stat -c %s "$IT_TMP/manifest")
assert_eq 201 "$(registry_curl -s -o /dev/null -w '%{http_code}' -X PUT \
    --data-binary "@$IT_TMP/manifest" -H "Content-Type: $MT_OCI_MANIFEST" \
    "http://$REGISTRY/v2/it/metrics/manifests/v1")" "manifest PUT"
read -r status _ _ < <(fetch_manifest it/metrics v1 "$IT_TMP/pulled")
assert_eq 200 "$status" "manifest GET"
cmp -s "$IT_TMP/manifest" "$IT_TMP/pulled" || fail "the manifest pulled differs from the one pushed"

# 3. the counters moved by exactly the push and the pull
assert_eq 200 "$(scrape after)" "GET /metrics after the push"
parse after
r=registry=default
assert_eq 1 "$(delta berth_pushes_total $r)" "berth_pushes_total"
assert_eq 1 "$(delta berth_successful_pushes_total $r)" "berth_successful_pushes_total"
assert_eq 1 "$(delta berth_pulls_total $r)" "berth_pulls_total"
assert_eq 1 "$(delta berth_successful_pulls_total $r)" "berth_successful_pulls_total"
assert_eq $((config_size + layer_size + manifest_size)) \
    "$(delta berth_http_received_bytes_total $r)" "request body bytes received"
assert_eq "$manifest_size" "$(delta berth_http_sent_bytes_total $r)" \
    "response body bytes sent (the manifest; the push's answers have none)"
assert_eq 1 "$(delta berth_http_request_duration_seconds_count route=manifest.put status_class=2xx)" \
    "latency observations of manifest.put"
assert_eq 1 "$(delta berth_http_request_duration_seconds_bucket route=manifest.get status_class=2xx le=+Inf)" \
    "the +Inf bucket of manifest.get"
storage=$(value after berth_storage_used_bytes $r)
jq -en --argjson s "$storage" --argjson want $((config_size + layer_size)) '$s >= $want' >/dev/null ||
    fail "berth_storage_used_bytes{registry=\"default\"} is $storage, under the $((config_size + layer_size)) bytes pushed"

# Types as Prometheus reads them; every bucket series counts up to its +Inf bucket.
types=$(jq -r '[.[] | select(.name | startswith("berth_")) | "\(.name)=\(.type)"] | sort | join(" ")' \
    "$IT_TMP/after.json")
for want in berth_pushes=counter berth_successful_pulls=counter berth_http_received_bytes=counter \
    berth_http_request_duration_seconds=histogram berth_storage_used_bytes=gauge \
    berth_open_upload_sessions=gauge berth_outbox_undelivered_events=gauge \
    berth_outbox_oldest_event_age_seconds=gauge berth_blocking_pool_tasks=gauge; do
    [[ " $types " == *" $want "* ]] || fail "family $want not in the exposition: $types"
done
jq -e '[.[] | select(.type == "histogram") | .samples | group_by(.labels.route + " " + .labels.status_class)[]
        | map(select(.name | endswith("_bucket"))) | map(.value | if . == "+Inf" then 1e308 else . end)
        | . == sort] | all' "$IT_TMP/after.json" >/dev/null || fail "histogram buckets are not cumulative"
pass "a push and a pull, parsed by prometheus_client"

# 4. a remote client needs the metrics token
assert_eq 401 "$(scrape remote "${REMOTE[@]}")" "remote scrape without the token"
challenge=$(awk 'tolower($1) == "www-authenticate:" {sub(/^[^:]*: */, ""); sub(/\r$/, ""); print}' \
    "$IT_TMP/remote.headers")
assert_eq 'Bearer realm="berth-metrics"' "$challenge" "challenge of a remote scrape"
assert_eq 401 "$(scrape remote "${REMOTE[@]}" -H "Authorization: Bearer $ADMIN_TOKEN")" \
    "remote scrape with the administrator token (not the metrics token)"
assert_eq 401 "$(scrape remote "${REMOTE[@]}" -H "Authorization: Bearer ${METRICS_TOKEN}0")" \
    "remote scrape with a wrong token"
assert_eq 200 "$(scrape remote "${REMOTE[@]}" -H "Authorization: Bearer $METRICS_TOKEN")" \
    "remote scrape with the metrics token"
parse remote
assert_eq 3 "$(value remote berth_http_request_duration_seconds_count route=metrics status_class=4xx)" \
    "refused scrapes recorded"
if grep -qF "$METRICS_TOKEN" "$REGISTRY_DIR/log"; then
    fail "the metrics token is in berthd's log"
fi
pass "loopback scrapes freely, a remote client only with the metrics token"
