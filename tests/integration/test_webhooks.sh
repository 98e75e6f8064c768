#!/usr/bin/env bash
# Webhooks with a real receiver: a push through skopeo produces exactly the documented payload
# (the hosted service's JSON); scope and action filters hold; custom headers arrive and the
# HMAC signature verifies; the CloudEvents form has the spec's required attributes; deletes,
# pings, the delivery record, redelivery and the audit log. Needs berthd.
. "$(dirname "$0")/lib.sh"

[[ -n "${BERTHD:-}" ]] || skip "webhooks are a berthd feature (BERTHD unset)"
require_cmd skopeo curl jq
. "$(dirname "$0")/webhook_lib.sh"

export BERTH_WEBHOOK_POLL_INTERVAL_MS=50
export BERTH_WEBHOOK_BACKOFF_MIN_MS=100
export BERTH_WEBHOOK_BACKOFF_MAX_MS=400
start_receiver ok
start_registry
setup_containers_env skopeo
HOOK="http://127.0.0.1:$RECEIVER_PORT"
SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
HEADER_VALUE="Bearer $(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

create_webhook hooksigned "$(jq -nc --arg uri "$HOOK/signed" --arg secret "$SECRET" \
    --arg auth "$HEADER_VALUE" \
    '{serviceUri: $uri, actions: ["push", "delete"], scope: "hooks/*:*",
      customHeaders: {"X-Receiver-Auth": $auth}, secret: $secret}')"
create_webhook hookcloud "$(jq -nc --arg uri "$HOOK/cloud" \
    '{serviceUri: $uri, actions: ["push"], scope: "hooks/app:*", format: "cloudevents"}')"
create_webhook hookother "$(jq -nc --arg uri "$HOOK/other" \
    '{serviceUri: $uri, actions: ["push"], scope: "elsewhere:*"}')"

# Refused at create: link-local and metadata destinations, bad names and actions.
for bad in '{"serviceUri":"http://169.254.169.254/latest","actions":["push"]}' \
    '{"serviceUri":"http://[fe80::1]:80/","actions":["push"]}' \
    '{"serviceUri":"ftp://127.0.0.1/","actions":["push"]}' \
    '{"serviceUri":"http://127.0.0.1/","actions":["pull"]}'; do
    status=$(mgmt POST registries/default/webhooks "$(jq -c '. + {name: "refused1"}' <<<"$bad")")
    assert_eq 400 "$status" "create webhook with $bad"
done

# 1. A push through skopeo: exactly the documented payload.
FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"
run_logged "$IT_TMP/push.log" sk copy --dest-tls-verify=false "oci:$FIX:amd64" \
    "docker://$REGISTRY/hooks/app:1.0"
MANIFEST_SIZE=$(stat -c %s "$FIX/blobs/sha256/${FIXTURE_AMD64_DIGEST#sha256:}")
wait_received 1 '.action == "push"' /signed
wait_received 1 '.data.action == "push"' /cloud
payload=$(received_bodies /signed | jq -c 'select(.action == "push")' | head -1)
assert_eq '["action","id","request","target","timestamp"]' "$(jq -c 'keys' <<<"$payload")" "payload keys"
assert_eq '["digest","length","mediaType","repository","size","tag"]' \
    "$(jq -c '.target | keys' <<<"$payload")" "target keys"
assert_eq '["host","id","method","useragent"]' "$(jq -c '.request | keys' <<<"$payload")" "request keys"
assert_eq "$FIXTURE_AMD64_DIGEST" "$(jq -r .target.digest <<<"$payload")" "target.digest"
assert_eq "$MT_OCI_MANIFEST" "$(jq -r .target.mediaType <<<"$payload")" "target.mediaType"
assert_eq "$MANIFEST_SIZE" "$(jq -r .target.size <<<"$payload")" "target.size"
assert_eq "$MANIFEST_SIZE" "$(jq -r .target.length <<<"$payload")" "target.length"
assert_eq hooks/app "$(jq -r .target.repository <<<"$payload")" "target.repository"
assert_eq 1.0 "$(jq -r .target.tag <<<"$payload")" "target.tag"
assert_eq PUT "$(jq -r .request.method <<<"$payload")" "request.method"
assert_eq "$REGISTRY" "$(jq -r .request.host <<<"$payload")" "request.host"
assert_match 'containers|skopeo' "$(jq -r .request.useragent <<<"$payload")" "request.useragent"
assert_match '^[0-9a-f-]{36}$' "$(jq -r .id <<<"$payload")" "id"
assert_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' \
    "$(jq -r .timestamp <<<"$payload")" "timestamp"
[[ -n "$(jq -r .request.id <<<"$payload")" ]] || fail "request.id is empty"

# 2. Custom headers arrive; the signature verifies over the time and the exact body.
jq -c 'select(.path == "/signed")' "$RECEIVED" | head -1 >"$IT_TMP/signed.json"
assert_eq "$HEADER_VALUE" "$(jq -r '.headers["X-Receiver-Auth"]' "$IT_TMP/signed.json")" "custom header"
SECRET="$SECRET" "$PYTHON" - "$IT_TMP/signed.json" <<'PY' || fail "the signature does not verify"
import hashlib, hmac, json, os, sys, time
request = json.load(open(sys.argv[1]))
fields = dict(part.split("=", 1) for part in request["headers"]["X-Berth-Signature"].split(","))
expected = hmac.new(os.environ["SECRET"].encode(), f'{fields["t"]}.{request["body"]}'.encode(),
                    hashlib.sha256).hexdigest()
assert hmac.compare_digest(expected, fields["v1"]), "signature mismatch"
assert abs(time.time() - int(fields["t"])) < 300, "signature time is not now"
PY
assert_eq null "$(jq -r '.headers["X-Berth-Signature"] // null' \
    <<<"$(jq -c 'select(.path == "/cloud")' "$RECEIVED" | head -1)")" "no signature without a secret"

# 3. CloudEvents: the spec's required attributes, structured mode, the payload as data.
cloud=$(received_bodies /cloud | head -1)
for attribute in specversion id source type; do
    [[ "$(jq -r --arg a "$attribute" '.[$a] // "" | tostring' <<<"$cloud")" != "" ]] ||
        fail "CloudEvents attribute $attribute missing: $cloud"
done
assert_eq 1.0 "$(jq -r .specversion <<<"$cloud")" "specversion"
assert_eq io.berth.registry.push "$(jq -r .type <<<"$cloud")" "type"
assert_eq /registries/default "$(jq -r .source <<<"$cloud")" "source"
assert_eq "hooks/app:1.0" "$(jq -r .subject <<<"$cloud")" "subject"
assert_eq "$FIXTURE_AMD64_DIGEST" "$(jq -r .data.target.digest <<<"$cloud")" "data.target.digest"
assert_match '^application/cloudevents\+json' \
    "$(jq -r 'select(.path == "/cloud") | .headers["Content-Type"]' "$RECEIVED" | head -1)" "content type"

# 4. Scope and action filters: another repository reaches only the webhook scoped to it; a
# repository outside every scope and a delete (push-only webhooks) reach none of the others.
run_logged "$IT_TMP/push2.log" sk copy --src-tls-verify=false --dest-tls-verify=false \
    "docker://$REGISTRY/hooks/app:1.0" "docker://$REGISTRY/elsewhere:2.0"
wait_received 1 '.target.repository == "elsewhere"' /other
digest=$FIXTURE_AMD64_DIGEST
status=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $ADMIN_TOKEN" \
    "http://$REGISTRY/mgmt/v1/registries/default/repositories/hooks/app/manifests/$digest")
assert_eq 204 "$status" "delete the manifest through the management API"
wait_received 1 '.action == "delete"' /signed
delete=$(received_bodies /signed | jq -c 'select(.action == "delete")' | head -1)
assert_eq '["digest","mediaType","repository"]' "$(jq -c '.target | keys' <<<"$delete")" "delete target keys"
assert_eq DELETE "$(jq -r .request.method <<<"$delete")" "delete request.method"
sleep 1  # anything wrongly delivered would have arrived by now (poll 50 ms)
assert_eq 0 "$(received_bodies /signed | jq -c 'select(.target.repository == "elsewhere")' | wc -l)" \
    "hooksigned got a push outside its scope"
assert_eq 0 "$(received_bodies /cloud | jq -c 'select(.data.action != "push")' | wc -l)" \
    "hookcloud got an action it does not subscribe to"
assert_eq 1 "$(received_bodies /other | wc -l)" "hookother got only its own repository's push"

# 5. Ping, the delivery record (secrets masked), redelivery.
status=$(mgmt POST registries/default/webhooks/hooksigned/ping)
assert_eq 200 "$status" "ping"
ping_id=$(jq -r .id "$IT_TMP/mgmt.json")
wait_received 1 ".action == \"ping\" and .id == \"$ping_id\"" /signed
status=$(mgmt GET "registries/default/webhooks/hooksigned/events?top=10")
assert_eq 200 "$status" "list events"
grep -q "$HEADER_VALUE" "$IT_TMP/mgmt.json" && fail "the delivery record shows the custom header's value"
grep -q "$SECRET" "$IT_TMP/mgmt.json" && fail "the delivery record shows the secret"
assert_eq '*****' "$(jq -r '[.events[] | .eventRequestMessage.headers["X-Receiver-Auth"]][0]' "$IT_TMP/mgmt.json")" \
    "masked custom header"
assert_eq delivered "$(jq -r '[.events[] | select(.action == "push")][0].result' "$IT_TMP/mgmt.json")" "push delivery result"
assert_eq 200 "$(jq -r '[.events[] | select(.action == "push")][0].eventResponseMessage.statusCode' "$IT_TMP/mgmt.json")" "push delivery status"
push_id=$(jq -r .id <<<"$payload")
status=$(mgmt POST "registries/default/webhooks/hooksigned/events/$push_id/redeliver")
assert_eq 202 "$status" "redeliver"
wait_received 2 ".id == \"$push_id\"" /signed
status=$(mgmt POST "registries/default/webhooks/hooksigned/events/no-such-event/redeliver")
assert_eq 404 "$status" "redeliver an unknown event"
status=$(mgmt GET registries/default/webhooks/hooksigned/config)
assert_eq 200 "$status" "get config"
assert_eq "$HEADER_VALUE" "$(jq -r '.customHeaders["X-Receiver-Auth"]' "$IT_TMP/mgmt.json")" "config headers"
status=$(mgmt GET registries/default/webhooks/hooksigned)
assert_eq 200 "$status" "show"
assert_eq true "$(jq -r .signed "$IT_TMP/mgmt.json")" "show: signed"
grep -q "$RECEIVER_PORT" "$IT_TMP/mgmt.json" && fail "show reveals the service URI"

# 6. The audit log: who pushed, pulled and deleted, with the client address.
sk inspect --tls-verify=false --raw "docker://$REGISTRY/elsewhere:2.0" >/dev/null ||
    fail "skopeo inspect (a pull) failed"
for ((i = 0; i < 50; i++)); do  # pulls are written in batches, at least every second
    mgmt GET "registries/default/audit/events?action=pull&repository=elsewhere" >/dev/null
    [[ "$(jq '.events | length' "$IT_TMP/mgmt.json")" -ge 1 ]] && break
    sleep 0.1
done
pull=$(jq -c '.events[0]' "$IT_TMP/mgmt.json")
assert_eq pull "$(jq -r .action <<<"$pull")" "audit: pull recorded"
assert_eq 127.0.0.1 "$(jq -r .clientAddress <<<"$pull")" "audit: client address"
assert_eq 2.0 "$(jq -r .tag <<<"$pull")" "audit: pulled tag"
[[ -n "$(jq -r .identity <<<"$pull")" ]] || fail "audit: no identity on the pull"
status=$(mgmt GET "registries/default/audit/events?action=delete")
assert_eq "$digest" "$(jq -r '.events[0].digest' "$IT_TMP/mgmt.json")" "audit: the delete"
assert_eq deploymentAdmin "$(jq -r '.events[0].identityKind' "$IT_TMP/mgmt.json")" "audit: who deleted"

# 7. Webhooks count against the tier and go with their name.
status=$(mgmt DELETE registries/default/webhooks/hookother)
assert_eq 204 "$status" "delete webhook"
status=$(mgmt GET registries/default/webhooks/hookother)
assert_eq 404 "$status" "deleted webhook is gone"
assert_eq WebhookNotFound "$(jq -r .error.code "$IT_TMP/mgmt.json")" "error code"
grep -q "$SECRET\|$HEADER_VALUE" "$REGISTRY_DIR/log" && fail "a secret reached berthd's log"
pass
