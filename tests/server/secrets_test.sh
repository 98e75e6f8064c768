#!/usr/bin/env bash
# No secret reaches the log or a response. berthd runs at debug level (text log), then at trace
# level (JSON log), while management and data-plane calls carry the deployment administrator
# token and failing calls carry wrong tokens (Bearer, Basic, other schemes, the query string).
# Then:
#   - the generated token is printed once, on stdout, at the first start of the data directory,
#     and nowhere else: not in the log, not on a later start, not in any response header or body;
#   - a token supplied through BERTH_INITIAL_ADMIN_TOKEN is never printed at all;
#   - no wrong token appears in the log, on stdout or in a response.
# Needs BERTHD (ctest sets it), curl and base64.
set -euo pipefail

[[ -n "${BERTHD:-}" && -x "${BERTHD}" ]] || { echo "secrets_test: BERTHD not set" >&2; exit 1; }
command -v curl >/dev/null && command -v base64 >/dev/null ||
    { echo "secrets_test: needs curl and base64" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/berth-secrets.XXXXXX")
BERTHD_PID=""
cleanup() {
    if [[ -n "$BERTHD_PID" ]]; then
        kill "$BERTHD_PID" 2>/dev/null || true
        wait "$BERTHD_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
    echo "secrets_test: FAIL: $*" >&2
    exit 1
}

# start NAME DATA-DIR ARGS...: berthd on a free loopback port; stdout to $TMP/NAME.out, the log
# (stderr) to $TMP/NAME.log. Sets SERVER.
start() {
    local name=$1 data=$2 i
    shift 2
    rm -f "$TMP/port"
    "$BERTHD" --listen 127.0.0.1:0 --port-file "$TMP/port" --data-dir "$data" "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.log" &
    BERTHD_PID=$!
    for ((i = 0; i < 200; i++)); do
        kill -0 "$BERTHD_PID" 2>/dev/null || fail "berthd ($name) exited during startup"
        [[ -s "$TMP/port" ]] && break
        sleep 0.1
    done
    [[ -s "$TMP/port" ]] || fail "berthd ($name) wrote no port file within 20 s"
    SERVER="http://127.0.0.1:$(tr -d '[:space:]' <"$TMP/port")"
    for ((i = 0; i < 100; i++)); do
        curl -sf -o /dev/null "$SERVER/healthz" && return 0
        sleep 0.1
    done
    fail "berthd ($name) does not answer /healthz"
}

# stop: SIGTERM, and wait, so the log is complete.
stop() {
    kill -TERM "$BERTHD_PID"
    wait "$BERTHD_PID" || true
    BERTHD_PID=""
}

N=0
# call EXPECTED-STATUSES METHOD PATH [CURL ARGS...]: one request, answered with one of the
# statuses ("200" or "200|401"); its response header and body are kept under $TMP/responses for
# the final scan.
call() {
    local expected=$1 method=$2 path=$3 status
    shift 3
    N=$((N + 1))
    status=$(curl -s -X "$method" -D "$TMP/responses/$N.headers" -o "$TMP/responses/$N.body" \
        -w '%{http_code}' "$@" "$SERVER$path") || status="curl failed"
    [[ "|$expected|" == *"|$status|"* ]] || fail "$method $path answered $status, expected $expected"
}

random_token() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# The calls of one run: every management verb with the token, then the same kinds of calls
# with wrong tokens. REGISTRY differs per run (names are unique).
exercise() {
    local token=$1 registry=$2 wrong
    local good=(-H "Authorization: Bearer $token")
    local json=(-H "Content-Type: application/json")
    call 200 GET /mgmt/v1/tiers "${good[@]}"
    call 201 POST /mgmt/v1/registries "${good[@]}" "${json[@]}" \
        --data "{\"name\":\"$registry\",\"tier\":\"Basic\"}"
    call 200 GET /mgmt/v1/registries "${good[@]}"
    call 200 GET "/mgmt/v1/registries/$registry" "${good[@]}"
    call 200 PATCH "/mgmt/v1/registries/$registry" "${good[@]}" "${json[@]}" \
        --data '{"tier":"Standard"}'
    call 200 GET "/mgmt/v1/registries/$registry/usage" "${good[@]}"
    call 200 GET "/mgmt/v1/registries/$registry/health" "${good[@]}"
    call 200 GET "/mgmt/v1/registries/$registry/repositories" "${good[@]}"
    # The data plane takes no administrator token today (401 once it authenticates); whatever it
    # does with the header, the header must not be logged.
    call "200|401" GET /v2/ "${good[@]}"
    call "200|401" GET /v2/_catalog "${good[@]}"
    call "201|401" POST "/v2/team/app/blobs/uploads/?digest=sha256:$(printf 'x' | sha256sum | cut -c1-64)" \
        "${good[@]}" --data-binary x
    # A failing call that carries the right token.
    call 404 GET "/mgmt/v1/registries/nosuchregistry" "${good[@]}"

    for wrong in "${WRONG[@]}"; do
        call 401 GET /mgmt/v1/registries -H "Authorization: Bearer $wrong"
        call 401 POST /mgmt/v1/registries -H "Authorization: bearer $wrong" "${json[@]}" \
            --data '{"name":"wrongtoken","tier":"Basic"}'
        call 401 DELETE "/mgmt/v1/registries/$registry" -H "Authorization: Bearer $wrong"
        call 401 GET /mgmt/v1/registries -u "admin:$wrong"
        call 401 GET /mgmt/v1/registries -H "Authorization: Token $wrong"
        call 401 GET "/mgmt/v1/registries?access_token=$wrong"
        call "200|401" GET /v2/ -H "Authorization: Bearer $wrong"
    done
    # The administrator token in a scheme it is not accepted in.
    call 401 GET /mgmt/v1/registries -u "admin:$token"
    call 401 GET "/mgmt/v1/registries?access_token=$token"
    # The registry is still there: no wrong-token call changed anything.
    call 204 DELETE "/mgmt/v1/registries/$registry" "${good[@]}"
}

# count_in FIXED-STRING FILE...: occurrences, as lines holding it.
count_in() {
    local needle=$1
    shift
    { grep -F -o -- "$needle" "$@" 2>/dev/null || true; } | wc -l
}

# absent SECRET WHAT FILE...: SECRET (and the Basic-auth form of it) is in none of the files.
absent() {
    local secret=$1 what=$2 basic
    shift 2
    basic=$(printf 'admin:%s' "$secret" | base64 -w0)
    for needle in "$secret" "$basic"; do
        if grep -F -l -- "$needle" "$@" >"$TMP/hits" 2>/dev/null; then
            fail "$what found in: $(tr '\n' ' ' <"$TMP/hits")"
        fi
    done
}

mkdir -p "$TMP/responses"
WRONG=("$(random_token)" "wrong-token-$(random_token | cut -c1-16)" "ShortWrongTok")

# --- 1. first start, debug level: the generated token is printed once on stdout.
start first "$TMP/data" --log-level debug
TOKEN=$(sed -n 's/^berthd: deployment administrator token: \([0-9a-f]*\)$/\1/p' "$TMP/first.out")
[[ "$TOKEN" =~ ^[0-9a-f]{64}$ ]] || fail "no generated token on stdout: $(cat "$TMP/first.out")"
# The last wrong token differs from the real one in its last character only.
WRONG+=("${TOKEN:0:63}$([[ "${TOKEN:63}" == 0 ]] && echo 1 || echo 0)")
exercise "$TOKEN" firstrun
stop

# --- 2. restart on the same data directory, trace level, JSON: nothing printed again.
start second "$TMP/data" --log-level trace --log-format json
exercise "$TOKEN" secondrun
stop

# --- 3. a token given through the environment is never printed.
SUPPLIED="supplied-$(random_token)"
BERTH_INITIAL_ADMIN_TOKEN="$SUPPLIED" start third "$TMP/data3" --log-level debug
exercise "$SUPPLIED" thirdrun
stop

# The logs hold what was asked for: the access lines of the calls above, failures included.
for run in first second third; do
    [[ $(count_in "/mgmt/v1/registries 401 " "$TMP/$run.log") -gt 0 ]] ||
        fail "the $run log has no line about the refused calls: is the access log on?"
    [[ $(count_in "/mgmt/v1/registries" "$TMP/$run.log") -gt 0 ]] ||
        fail "the $run log does not mention the management calls"
done

[[ $(count_in "$TOKEN" "$TMP/first.out") == 1 ]] ||
    fail "the generated token is printed $(count_in "$TOKEN" "$TMP/first.out") times at first start"
absent "$TOKEN" "the administrator token" \
    "$TMP/first.log" "$TMP/second.out" "$TMP/second.log" "$TMP/third.out" "$TMP/third.log" \
    "$TMP"/responses/*
absent "$SUPPLIED" "the supplied administrator token" \
    "$TMP/first.out" "$TMP/first.log" "$TMP/second.out" "$TMP/second.log" \
    "$TMP/third.out" "$TMP/third.log" "$TMP"/responses/*
for wrong in "${WRONG[@]}"; do
    absent "$wrong" "wrong token '$wrong'" "$TMP"/*.out "$TMP"/*.log "$TMP"/responses/*
done

echo "secrets_test: PASS: $N calls in 3 runs (debug text, trace JSON, supplied token);" \
    "no token in the logs or responses, the generated one printed once"
