#!/usr/bin/env bash
# Network access control, trusted proxies, rate limits and the failed-login throttle, all on
# loopback: the 127.0.0.0/8 addresses are the clients (curl --interface 127.0.0.N).
#   1. a Premium registry with default action Deny and an allow rule for 127.0.0.2: 127.0.0.2
#      gets in (401 challenge, 200 with credentials), 127.0.0.1 gets 403 naming its address,
#      on /v2/ and on the token service; the default registry is not affected;
#   2. berthd --trusted-proxy 127.0.0.3/32: X-Forwarded-For is believed from 127.0.0.3 only;
#   3. public network access off: only loopback clients, whatever the rules say;
#   4. repeated wrong passwords from one address are slowed down, then refused with 429;
#   5. berth audit logins lists the successes and failures with their client addresses;
#   6. berthd --rate-limit-scale: a bounded run of requests hits 429 TOOMANYREQUESTS with a
#      Retry-After; after that many seconds the next request succeeds.
# Needs berthd and the berth CLI.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/access_lib.sh"

require_cmd curl jq

berthd_start "$IT_TMP/net" --trusted-proxy 127.0.0.3/32 --rate-limit-scale 0
NET_DIR=$BD_DIR
PORT=$BD_PORT
ADMIN_TOKEN=$(berthd_admin_token "$NET_DIR")
LOGIN_LINE=$(berthd_login_line "$NET_DIR")
DEFAULT_PASSWORD=${LOGIN_LINE##* }
export BERTH_SERVER="http://127.0.0.1:$PORT" BERTH_TOKEN="$ADMIN_TOKEN"
NETREG_HOST=netreg.registry.local   # berthd's default domain; curl --resolve, no DNS

run_logged "$IT_TMP/create.log" berth registry create --name netreg --tier Premium \
    --admin-enabled true
NETREG_PASSWORD=$(berth credential show --name netreg -o json |
    jq -r '.passwords[] | select(.name == "password") | .value')
assert_match '^[A-Za-z0-9_-]{43}$' "$NETREG_PASSWORD" "netreg admin user's password"

# call FROM REGISTRY PATH [CURL ARGS...]: a request from 127.0.0.FROM's address to REGISTRY
# (netreg or default) on berthd's port. Prints "STATUS"; the body is in $IT_TMP/body, the
# headers in $IT_TMP/headers.
call() {
    local from=$1 registry=$2 path=$3 host status
    shift 3
    host=127.0.0.1
    [[ "$registry" == default ]] || host="$registry.registry.local"
    status=$(curl -s --max-time 30 --interface "$from" \
        --resolve "$NETREG_HOST:$PORT:127.0.0.1" -D "$IT_TMP/headers" -o "$IT_TMP/body" \
        -w '%{http_code}' "$@" "http://$host:$PORT$path") || status=000
    echo "$status"
}
# assert_network_denied FROM REGISTRY PATH NAMED [CURL ARGS...]: 403 DENIED whose message names
# the address NAMED.
assert_network_denied() {
    local from=$1 registry=$2 path=$3 named=$4 status message
    shift 4
    status=$(call "$from" "$registry" "$path" "$@")
    assert_eq 403 "$status" "$path on $registry from $from ($*)"
    assert_eq DENIED "$(jq -r '.errors[0].code' "$IT_TMP/body")" "error code of the refusal"
    message=$(jq -r '.errors[0].message' "$IT_TMP/body")
    assert_match "'${named//./\\.}'" "$message" "the refusal names the client address $named"
}
with_netreg=(-u "netreg:$NETREG_PASSWORD")
# audit_has REGISTRY JQ-FILTER: the registry's login events (JSON array) satisfy the filter;
# the audit is written in the background, so callers poll (bounded).
audit_has() {
    berth audit logins --name "$1" --top 1000 -o json >"$IT_TMP/audit.json" 2>/dev/null &&
        jq -e "$2" "$IT_TMP/audit.json" >/dev/null
}

# ------------------------------------------------------------------ 1. IP rules

# before any rule: open
assert_eq 401 "$(call 127.0.0.1 netreg /v2/)" "netreg from 127.0.0.1 before the rules"
run_logged "$IT_TMP/rule.log" berth network-rule add --name netreg --ip-address 127.0.0.2
run_logged "$IT_TMP/deny.log" berth registry update --name netreg --default-action Deny
berth network-rule list --name netreg -o json >"$IT_TMP/rules.json"
assert_eq Deny "$(jq -r .defaultAction "$IT_TMP/rules.json")" "netreg default action"
assert_eq '["127.0.0.2/32"]' "$(jq -c '[.ipRules[].ipAddressOrRange]' "$IT_TMP/rules.json")" \
    "netreg IP rules"

# the allowed address: the usual challenge, then in with credentials
assert_eq 401 "$(call 127.0.0.2 netreg /v2/)" "netreg /v2/ from 127.0.0.2 without credentials"
assert_match "service=\"$NETREG_HOST\"" "$(header_value "$IT_TMP/headers" WWW-Authenticate)" \
    "challenge to 127.0.0.2"
assert_eq 200 "$(call 127.0.0.2 netreg /v2/ "${with_netreg[@]}")" "netreg /v2/ from 127.0.0.2"
assert_eq 200 "$(call 127.0.0.2 netreg "/oauth2/token?service=$NETREG_HOST" "${with_netreg[@]}")" \
    "token service from 127.0.0.2"
assert_eq 401 "$(call 127.0.0.2 netreg /v2/ -u "netreg:wrong-$NETREG_PASSWORD")" \
    "netreg from 127.0.0.2 with a wrong password"

# every other address: 403 naming it, with or without credentials, also at the token service
assert_network_denied 127.0.0.1 netreg /v2/ 127.0.0.1
assert_network_denied 127.0.0.1 netreg /v2/ 127.0.0.1 "${with_netreg[@]}"
assert_network_denied 127.0.0.1 netreg /v2/samples/x/manifests/1 127.0.0.1 "${with_netreg[@]}"
assert_network_denied 127.0.0.1 netreg "/oauth2/token?service=$NETREG_HOST" 127.0.0.1 \
    "${with_netreg[@]}"
assert_network_denied 127.0.0.4 netreg /v2/ 127.0.0.4 "${with_netreg[@]}"
# an address header from a client that is no trusted proxy is not believed
assert_network_denied 127.0.0.1 netreg /v2/ 127.0.0.1 "${with_netreg[@]}" \
    -H 'X-Forwarded-For: 127.0.0.2'
# the default registry on the same port has no rules
assert_eq 401 "$(call 127.0.0.1 default /v2/)" "default registry from 127.0.0.1"
assert_eq 200 "$(call 127.0.0.4 default /v2/ -u "default:$DEFAULT_PASSWORD")" \
    "default registry from 127.0.0.4 with credentials"
pass "IP rules: 127.0.0.2 allowed, other addresses refused with their address named"

# ------------------------------------------------------------------ 2. trusted proxy

assert_eq 200 "$(call 127.0.0.3 netreg /v2/ "${with_netreg[@]}" -H 'X-Forwarded-For: 127.0.0.2')" \
    "from the trusted proxy for 127.0.0.2"
# A client-supplied hop left of the proxy's own entry changes nothing.
assert_eq 200 "$(call 127.0.0.3 netreg /v2/ "${with_netreg[@]}" \
    -H 'X-Forwarded-For: 127.0.0.9, 127.0.0.2')" "from the trusted proxy, spoofed first hop"
assert_network_denied 127.0.0.3 netreg /v2/ 127.0.0.3 "${with_netreg[@]}"
assert_network_denied 127.0.0.3 netreg /v2/ 127.0.0.5 "${with_netreg[@]}" \
    -H 'X-Forwarded-For: 127.0.0.2, 127.0.0.5'
assert_network_denied 127.0.0.3 netreg /v2/ 127.0.0.1 "${with_netreg[@]}" \
    -H 'X-Forwarded-For: 127.0.0.1'
pass "trusted proxy: X-Forwarded-For believed from 127.0.0.3 only, rightmost untrusted hop"

# The audit so far: 127.0.0.2's wrong password and its logins, direct and through the proxy;
# nothing from the addresses the rules refused, whose requests never reached a password check.
wait_for 10 audit_has netreg \
    'any(.[]; .result == "failure" and .clientAddress == "127.0.0.2" and .identity == "netreg"
         and .reason == "wrong password")' ||
    fail "netreg's audit lacks the wrong password from 127.0.0.2: $(head -c 600 "$IT_TMP/audit.json")"
audit_has netreg 'any(.[]; .result == "success" and .clientAddress == "127.0.0.2"
                       and .identity == "netreg" and .identityKind == "adminUser")' ||
    fail "netreg's audit lacks the successes from 127.0.0.2"
audit_has netreg 'all(.[]; .clientAddress == "127.0.0.2")' ||
    fail "netreg's audit has logins from addresses its rules refused: $(cat "$IT_TMP/audit.json")"

# removing the rule closes the door for 127.0.0.2 too
run_logged "$IT_TMP/remove.log" berth network-rule remove --name netreg --ip-address 127.0.0.2
assert_network_denied 127.0.0.2 netreg /v2/ 127.0.0.2 "${with_netreg[@]}"

# ------------------------------------------------------------------ 3. public network access off

run_logged "$IT_TMP/private.log" berth registry update --name netreg --public-network-enabled false
assert_eq false "$(berth registry show --name netreg -o json | jq -r .publicNetworkAccess)" \
    "netreg publicNetworkAccess"
# every loopback client, rules or not ...
for from in 127.0.0.1 127.0.0.2 127.0.0.4; do
    assert_eq 200 "$(call "$from" netreg /v2/ "${with_netreg[@]}")" \
        "netreg from loopback $from with public access off"
done
# ... and nobody else: a client behind the trusted proxy (a documentation address, carried
# only in the header) is refused.
assert_network_denied 127.0.0.3 netreg /v2/ 192.0.2.10 "${with_netreg[@]}" \
    -H 'X-Forwarded-For: 192.0.2.10'
assert_eq 200 "$(call 127.0.0.3 netreg /v2/ "${with_netreg[@]}" -H 'X-Forwarded-For: 127.0.0.6')" \
    "a loopback client behind the trusted proxy"
pass "public network access off: loopback clients only"

# ------------------------------------------------------------------ 4. failed logins

# attempt FROM PASSWORD: GET /v2/ on the default registry as its admin user; prints
# "STATUS SECONDS".
attempt() {
    curl -s --max-time 60 --interface "$1" -u "default:$2" -D "$IT_TMP/headers" \
        -o "$IT_TMP/body" -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$PORT/v2/" ||
        echo "000 0"
}
# The first five failures answer at once; then each is held back longer (0.1 s, doubling).
for ((i = 1; i <= 9; i++)); do
    read -r status seconds < <(attempt 127.0.0.7 "wrong-$i")
    assert_eq 401 "$status" "wrong password #$i from 127.0.0.7"
done
awk -v s="$seconds" 'BEGIN {exit !(s >= 0.75)}' ||
    fail "the 9th wrong password in a row answered in ${seconds}s, not slowed down (>= 0.8 s)"
# another address is not held back
read -r status seconds < <(attempt 127.0.0.8 "$DEFAULT_PASSWORD")
assert_eq 200 "$status" "the right password from another address"
# 21 more failures at once bring 127.0.0.7 to the limit (30 in the window)
pids=()
for ((i = 10; i <= 30; i++)); do
    curl -s --max-time 60 --interface 127.0.0.7 -u "default:wrong-$i" -o /dev/null \
        "http://127.0.0.1:$PORT/v2/" &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || true; done
read -r status _ < <(attempt 127.0.0.7 "$DEFAULT_PASSWORD")
assert_eq 429 "$status" "even the right password from 127.0.0.7 after 30 failures"
assert_eq TOOMANYREQUESTS "$(jq -r '.errors[0].code' "$IT_TMP/body")" "code of the refusal"
retry=$(header_value "$IT_TMP/headers" Retry-After)
assert_match '^[0-9]+$' "$retry" "Retry-After of the login refusal"
((retry >= 1 && retry <= 60)) || fail "Retry-After $retry is outside the 60 s window"
status=$(curl -s --max-time 30 --interface 127.0.0.7 -u "default:$DEFAULT_PASSWORD" -o /dev/null \
    -w '%{http_code}' "http://127.0.0.1:$PORT/oauth2/token?service=default.registry.local")
assert_eq 429 "$status" "the token service from 127.0.0.7"
read -r status _ < <(attempt 127.0.0.1 "$DEFAULT_PASSWORD")
assert_eq 200 "$status" "the right password from 127.0.0.1 meanwhile"
pass "failed logins: slowed after five, refused with 429 after thirty, per address"

# ------------------------------------------------------------------ 5. login audit

wait_for 10 audit_has default \
    '[.[] | select(.result == "failure" and .clientAddress == "127.0.0.7"
      and .identity == "default")] | length >= 30' ||
    fail "the audit lacks the 30 failures from 127.0.0.7: $(head -c 600 "$IT_TMP/audit.json")"
audit_has default '[.[] | select(.result == "failure")][0].reason == "wrong password"' ||
    fail "a failure's reason is not 'wrong password'"
for from in 127.0.0.8 127.0.0.1 127.0.0.4; do
    wait_for 10 audit_has default "any(.[]; .result == \"success\" and .clientAddress == \"$from\"
        and .identity == \"default\" and .identityKind == \"adminUser\")" ||
        fail "the audit lacks the success from $from"
done
for from in 127.0.0.2 127.0.0.6 127.0.0.1; do
    wait_for 10 audit_has netreg \
        "any(.[]; .result == \"success\" and .clientAddress == \"$from\")" ||
        fail "netreg's audit lacks the success from $from"
done
berth audit logins --name default --result failure --top 5 -o json >"$IT_TMP/failures.json"
assert_eq 5 "$(jq length "$IT_TMP/failures.json")" "audit --result failure --top 5"
jq -e 'all(.[]; .result == "failure")' "$IT_TMP/failures.json" >/dev/null ||
    fail "audit --result failure lists other results"
berth audit logins --name default >"$IT_TMP/audit.txt"
grep -q '127\.0\.0\.7.*failure' "$IT_TMP/audit.txt" ||
    fail "the audit table does not show 127.0.0.7's failures: $(head -n 5 "$IT_TMP/audit.txt")"
pass "login audit: successes and failures with client addresses"

# ------------------------------------------------------------------ 6. rate limits

# Basic tier reads: 5,000 a minute per identity; scaled by 0.006 that is 30 a minute (one
# every 2 s once the bucket is empty), 60 for the whole registry.
berthd_stop "$BD_PID"
berthd_start "$IT_TMP/rate" --rate-limit-scale 0.006
PORT=$BD_PORT
RATE_PASSWORD=$(berthd_login_line "$BD_DIR")
RATE_PASSWORD=${RATE_PASSWORD##* }
export BERTH_SERVER="http://127.0.0.1:$PORT" BERTH_TOKEN
BERTH_TOKEN=$(berthd_admin_token "$BD_DIR")
first_refused=0
for ((i = 1; i <= 100; i++)); do
    read -r status _ < <(attempt 127.0.0.1 "$RATE_PASSWORD")
    if [[ "$status" == 429 ]]; then
        first_refused=$i
        break
    fi
    assert_eq 200 "$status" "read #$i before the limit"
done
# 30 in the bucket, plus what refills (0.5 a second) while the loop runs on a slow machine.
((first_refused > 20 && first_refused <= 70)) ||
    fail "the first 429 came at request $first_refused, expected after about 30"
assert_eq TOOMANYREQUESTS "$(jq -r '.errors[0].code' "$IT_TMP/body")" "code of the 429"
retry=$(header_value "$IT_TMP/headers" Retry-After)
assert_match '^[0-9]+$' "$retry" "Retry-After of the 429"
((retry >= 1 && retry <= 10)) || fail "Retry-After $retry, expected about 2 s"
# another identity has a bucket of its own (the registry's still has room)
berth token create --name reader1 --registry default --scope-map _repositories_pull -o json \
    >"$IT_TMP/reader.json"
reader_password=$(jq -r '.credentials.passwords[0].value' "$IT_TMP/reader.json")
status=$(curl -s --max-time 30 -u "reader1:$reader_password" -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$PORT/v2/")
assert_eq 200 "$status" "another identity while the first is limited"
sleep "$retry"
read -r status _ < <(attempt 127.0.0.1 "$RATE_PASSWORD")
assert_eq 200 "$status" "the next read after waiting Retry-After ($retry s)"
pass "rate limits: 429 TOOMANYREQUESTS with Retry-After, per identity, and back after waiting"
