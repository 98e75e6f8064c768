#!/usr/bin/env bash
# Webhooks never lose a push: the receiver answers 500 for a while, then is down, and berthd is
# killed with -9 and restarted in between. Once the receiver is back, every event of every
# acknowledged push has been delivered (at least once), and the delivery record holds the
# failed attempts (HTTP 500 and no answer). Needs berthd.
. "$(dirname "$0")/lib.sh"

[[ -n "${BERTHD:-}" ]] || skip "webhooks are a berthd feature (BERTHD unset)"
require_cmd skopeo curl jq
. "$(dirname "$0")/webhook_lib.sh"

export BERTH_WEBHOOK_POLL_INTERVAL_MS=50
export BERTH_WEBHOOK_BACKOFF_MIN_MS=100
export BERTH_WEBHOOK_BACKOFF_MAX_MS=500
export BERTH_WEBHOOK_TIMEOUT_SECONDS=2
# The killed process's claim on the webhook must expire before the restarted one carries on.
export BERTH_WEBHOOK_LEASE_SECONDS=4
start_receiver fail
start_registry
setup_containers_env skopeo
create_webhook hookfault "$(jq -nc --arg uri "http://127.0.0.1:$RECEIVER_PORT/fault" \
    '{serviceUri: $uri, actions: ["push"]}')"

FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"
pushed=()
push_tag() {
    run_logged "$IT_TMP/push-$1.log" sk copy --dest-tls-verify=false "oci:$FIX:amd64" \
        "docker://$REGISTRY/fault/app:$1"
    pushed+=("$1")
}

# 1. The receiver fails: deliveries are attempted and answered 500.
push_tag t1
push_tag t2
wait_for 30 bash -c "[[ \$(jq -c 'select(.answered == \"fail\")' '$RECEIVED' | wc -l) -ge 3 ]]" ||
    fail "no repeated attempts while the receiver answered 500"

# 2. The receiver is down: no answer at all.
stop_receiver
push_tag t3
push_tag t4
sleep 1

# 3. berthd dies without warning, and comes back.
kill9_registry
start_registry
push_tag t5

# 4. The receiver comes back: everything acknowledged arrives.
start_receiver ok
for tag in "${pushed[@]}"; do
    wait_received 1 ".action == \"push\" and .target.tag == \"$tag\"" /fault 90
done
ok_tags=$(jq -r 'select(.answered == "ok") | .body | fromjson | .target.tag' "$RECEIVED" | sort -u | tr '\n' ' ')
assert_eq "t1 t2 t3 t4 t5 " "$ok_tags" "tags delivered once the receiver was back"

# 5. The attempts are on record: answered 500, not answered, and delivered.
status=$(mgmt GET "registries/default/webhooks/hookfault/events?top=100")
assert_eq 200 "$status" "list events"
record="$IT_TMP/mgmt.json"
[[ $(jq '[.events[] | select(.result == "failed" and .eventResponseMessage.statusCode == 500)] | length' "$record") -ge 1 ]] ||
    fail "no attempt answered 500 on record"
[[ $(jq '[.events[] | select(.result == "failed" and .eventResponseMessage.statusCode == 0 and .error != "")] | length' "$record") -ge 1 ]] ||
    fail "no unanswered attempt on record"
assert_eq 5 "$(jq '[.events[] | select(.result == "delivered") | .eventRequestMessage.content.target.tag] | unique | length' "$record")" \
    "delivered pushes on record"
pass
