#!/usr/bin/env bash
# The webhook verbs and `audit list` of the berth CLI against a real berthd, with a real receiver
# (webhook_cli_receiver.py): webhook create|list|show|update|delete|ping|get-config|list-events|
# redeliver and audit list, their -o json shapes, and what the receiver gets: the custom
# headers, an X-Berth-Signature that verifies with the secret (openssl), the payload of a push
# in scope and nothing for a push out of scope or to a disabled webhook, a failed delivery
# retried, a redelivery. The secret never shows in the CLI's output nor in berthd's log (the
# suite's no-secrets check reads the log). Exit codes 2, 4 and 5 where the CLI or the server
# refuses.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/access_lib.sh"

require_cmd curl jq openssl sha256sum
PYTHON=${PYTHON:-python3}
require_cmd "$PYTHON"

berthd_start "$IT_TMP/berthd"
ADMIN_TOKEN=$(berthd_admin_token "$IT_TMP/berthd")
SERVER="http://127.0.0.1:$BD_PORT"
export BERTH_SERVER="$SERVER" BERTH_TOKEN="$ADMIN_TOKEN"
REG=default

# The routes are the server's; say so plainly when they are missing rather than failing later.
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$SERVER/mgmt/v1/registries/$REG/webhooks" || echo 000)
[[ "$status" == 200 ]] ||
    fail "GET /mgmt/v1/registries/$REG/webhooks answered $status: this berthd has no webhook routes"

# ------------------------------------------------------------------ helpers

# expect_exit CODE FRAGMENT ARGS...: berth must exit CODE with one stderr line holding FRAGMENT
# and nothing on stdout.
expect_exit() {
    local want=$1 fragment=$2 rc=0
    shift 2
    berth "$@" >"$IT_TMP/out" 2>"$IT_TMP/err" || rc=$?
    assert_eq "$want" "$rc" "exit code of berth $* (stderr: $(cat "$IT_TMP/err"))"
    assert_eq "" "$(cat "$IT_TMP/out")" "stdout of the failed berth $*"
    assert_eq 1 "$(wc -l <"$IT_TMP/err")" "stderr lines of berth $*"
    [[ "$(cat "$IT_TMP/err")" == *"$fragment"* ]] ||
        fail "berth $*: '$fragment' not in: $(cat "$IT_TMP/err")"
}

# no_secret FILE WHAT: the signing secret is not in FILE.
no_secret() {
    if grep -qF "$WEBHOOK_SECRET" "$1"; then fail "$2 shows the webhook secret"; fi
}

RECEIVER="$IT_TMP/receiver"
mkdir -p "$RECEIVER"
"$PYTHON" "$(dirname "$0")/webhook_cli_receiver.py" "$RECEIVER" 2>"$RECEIVER/stderr.txt" &
RECEIVER_PID=$!
add_cleanup "stop_pid $RECEIVER_PID"
wait_for 20 test -s "$RECEIVER/port" || fail "the webhook receiver did not start: $(cat "$RECEIVER/stderr.txt")"
RPORT=$(cat "$RECEIVER/port")

received() { cat "$RECEIVER/count"; }

# request_for EVENT_ID [MIN]: the number of the MIN-th request (default 1st) that carried the
# event EVENT_ID; fails when none arrives within 30 s.
request_for() {
    local id=$1 min=${2:-1} i n seen
    for ((i = 0; i < 300; i++)); do
        seen=0
        for ((n = 1; n <= $(received); n++)); do
            if [[ "$(jq -r '.headers["x-berth-event-id"] // ""' "$RECEIVER/$n.json")" == "$id" ]]; then
                seen=$((seen + 1))
                if ((seen >= min)); then
                    echo "$n"
                    return 0
                fi
            fi
        done
        sleep 0.1
    done
    fail "the receiver got no delivery #$min of event $id within 30 s ($(received) requests)"
}

# delivery_of NAME EVENT_ID RESULT: waits until list-events of webhook NAME shows an attempt at
# EVENT_ID with RESULT; prints that delivery as JSON.
delivery_of() {
    local name=$1 id=$2 result=$3 i
    for ((i = 0; i < 300; i++)); do
        berth webhook list-events --name "$name" --registry "$REG" -o json >"$IT_TMP/deliveries.json"
        if jq -e --arg id "$id" --arg r "$result" 'any(.[]; .id == $id and .result == $r)' \
            "$IT_TMP/deliveries.json" >/dev/null; then
            jq -c --arg id "$id" --arg r "$result" \
                'first(.[] | select(.id == $id and .result == $r))' "$IT_TMP/deliveries.json"
            return 0
        fi
        sleep 0.1
    done
    fail "webhook $name shows no '$result' delivery of $id within 30 s: $(head -c 800 "$IT_TMP/deliveries.json")"
}

# Content, pushed over /v2/ with the administrator token.
v2() { # METHOD PATH [curl args...]
    local method=$1 path=$2
    shift 2
    curl -sS --fail-with-body --max-time 30 -H "Authorization: Bearer $ADMIN_TOKEN" -X "$method" \
        "$@" "$SERVER$path"
}
push_blob() { # REPO FILE
    local repo=$1 file=$2 digest location sep
    digest="sha256:$(sha256sum "$file" | cut -d' ' -f1)"
    location=$(v2 POST "/v2/$repo/blobs/uploads/" -H 'Content-Length: 0' -D - -o /dev/null |
        tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
    [[ -n "$location" ]] || fail "no upload location for $repo"
    [[ "$location" == http* ]] || location="$SERVER$location"
    [[ "$location" == *"?"* ]] && sep="&" || sep="?"
    curl -sS --fail-with-body --max-time 30 -H "Authorization: Bearer $ADMIN_TOKEN" -X PUT \
        -H "Content-Type: application/octet-stream" --data-binary "@$file" \
        "$location${sep}digest=$digest" -o /dev/null || fail "blob upload to $repo"
}
# push_image REPO TAG NOTE: pushes a one-layer image; prints the manifest's digest.
push_image() {
    local repo=$1 tag=$2 manifest="$IT_TMP/manifest-$3.json"
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$IT_TMP/config.json"
    printf 'layer %s' "$3" >"$IT_TMP/layer-$3"
    push_blob "$repo" "$IT_TMP/config.json"
    push_blob "$repo" "$IT_TMP/layer-$3"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}' \
        "$(sha256sum "$IT_TMP/config.json" | cut -d' ' -f1)" "$(stat -c %s "$IT_TMP/config.json")" \
        "$(sha256sum "$IT_TMP/layer-$3" | cut -d' ' -f1)" "$(stat -c %s "$IT_TMP/layer-$3")" >"$manifest"
    v2 PUT "/v2/$repo/manifests/$tag" -H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
        --data-binary "@$manifest" -o /dev/null || fail "manifest push $repo:$tag"
    echo "sha256:$(sha256sum "$manifest" | cut -d' ' -f1)"
}

# ------------------------------------------------------------------ create, list, show, config

WEBHOOK_SECRET=$(random_hex 24)
RECEIVER_TOKEN="rcv-$(random_hex 12)"
printf '%s\n' "$WEBHOOK_SECRET" >"$IT_TMP/secret.txt"

berth webhook create --name hook1 --registry "$REG" --uri "http://127.0.0.1:$RPORT/hook1" \
    --actions push delete --scope 'team/*:*' \
    --headers "Authorization=Bearer $RECEIVER_TOKEN" X-Team=blue \
    --secret-file "$IT_TMP/secret.txt" -o json >"$IT_TMP/hook1.json"
no_secret "$IT_TMP/hook1.json" "webhook create -o json"
assert_eq "$(jq -cS . <<<'{"name":"hook1","registry":"default","actions":["push","delete"],"scope":"team/*:*","status":"enabled","format":"default","signed":true}')" \
    "$(jq -cS 'del(.createdTime)' "$IT_TMP/hook1.json")" "webhook create: the webhook"
assert_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$(jq -r .createdTime "$IT_TMP/hook1.json")" \
    "webhook create: createdTime"

# A second one: disabled, CloudEvents, the secret from standard input, every action in any case.
printf '%s\n' "$WEBHOOK_SECRET" | berth webhook create --name hook2 --registry "$REG" \
    --uri "http://127.0.0.1:$RPORT/hook2" --actions PUSH,chart_push --status disabled \
    --format CloudEvents --secret - -o json >"$IT_TMP/hook2.json"
assert_eq '["push","chart_push"] disabled cloudevents true ' \
    "$(jq -j '(.actions | tostring), " ", .status, " ", .format, " ", .signed, " ", .scope' "$IT_TMP/hook2.json")" \
    "webhook create hook2"

expect_exit 5 "" webhook create --name HOOK1 --registry "$REG" --uri http://127.0.0.1:1/ --actions push
expect_exit 4 "" webhook create --name hook9 --registry nosuchreg --uri http://127.0.0.1:1/ --actions push
expect_exit 2 "webhook name 'hook-9'" webhook create --name hook-9 --registry "$REG" \
    --uri http://127.0.0.1:1/ --actions push
expect_exit 2 "--uri" webhook create --name hook9 --registry "$REG" --uri 127.0.0.1 --actions push
expect_exit 2 "--actions: 'build'" webhook create --name hook9 --registry "$REG" \
    --uri http://127.0.0.1:1/ --actions build
expect_exit 2 "NAME=VALUE" webhook create --name hook9 --registry "$REG" \
    --uri http://127.0.0.1:1/ --actions push --headers "Authorization: Bearer $RECEIVER_TOKEN"
# Refused by the server, not the CLI: a header the delivery sets itself, a metadata address.
expect_exit 2 "" webhook create --name hook9 --registry "$REG" --uri http://127.0.0.1:1/ \
    --actions push --headers X-Berth-Signature=forged
expect_exit 2 "" webhook create --name hook9 --registry "$REG" --uri http://169.254.169.254/ \
    --actions push

berth webhook list --registry "$REG" -o json >"$IT_TMP/list.json"
assert_eq '["hook1","hook2"]' "$(jq -c '[.[].name]' "$IT_TMP/list.json")" "webhook list: sorted names"
berth webhook list --registry "$REG" -o tsv >"$IT_TMP/list.tsv"
assert_eq "hook1	enabled	push,delete	team/*:*	default	true" \
    "$(head -n1 "$IT_TMP/list.tsv" | cut -f1-6)" "webhook list -o tsv"
berth webhook list --registry "$REG" >"$IT_TMP/list.txt"
assert_match '^NAME +STATUS +ACTIONS +SCOPE +FORMAT +SIGNED +CREATED' "$(head -n1 "$IT_TMP/list.txt")" \
    "webhook list table header"

berth webhook show --name hook1 --registry "$REG" -o json >"$IT_TMP/show.json"
assert_eq "$(jq -c . "$IT_TMP/hook1.json")" "$(jq -c . "$IT_TMP/show.json")" "webhook show = create's answer"
assert_eq false "$(jq 'has("serviceUri") or has("customHeaders") or has("secret")' "$IT_TMP/show.json")" \
    "webhook show hides the URI, headers and secret"
expect_exit 4 "" webhook show --name hook9 --registry "$REG"

berth webhook get-config --name hook1 --registry "$REG" -o json >"$IT_TMP/config-out.json"
assert_eq "{\"serviceUri\":\"http://127.0.0.1:$RPORT/hook1\",\"customHeaders\":{\"Authorization\":\"Bearer $RECEIVER_TOKEN\",\"X-Team\":\"blue\"}}" \
    "$(jq -cS . "$IT_TMP/config-out.json" | jq -c '{serviceUri, customHeaders}')" "webhook get-config"
no_secret "$IT_TMP/config-out.json" "webhook get-config"

# ------------------------------------------------------------------ ping: what the receiver gets

berth webhook ping --name hook1 --registry "$REG" -o json >"$IT_TMP/ping.json"
PING_ID=$(jq -r .id "$IT_TMP/ping.json")
assert_match '^[0-9a-f-]{36}$' "$PING_ID" "webhook ping: the event id"
n=$(request_for "$PING_ID")
assert_eq /hook1 "$(jq -r .path "$RECEIVER/$n.json")" "the ping went to hook1's URI"
assert_eq "Bearer $RECEIVER_TOKEN" "$(jq -r '.headers.authorization' "$RECEIVER/$n.json")" \
    "the custom Authorization header"
assert_eq blue "$(jq -r '.headers["x-team"]' "$RECEIVER/$n.json")" "the custom X-Team header"
assert_match '^application/json' "$(jq -r '.headers["content-type"]' "$RECEIVER/$n.json")" \
    "the default payload's Content-Type"
assert_eq "ping $PING_ID" "$(jq -j '.action, " ", .id' "$RECEIVER/$n.body")" "the ping payload"
SIGNATURE=$(jq -r '.headers["x-berth-signature"]' "$RECEIVER/$n.json")
assert_match '^t=[0-9]+,v1=[0-9a-f]{64}$' "$SIGNATURE" "X-Berth-Signature"
t=${SIGNATURE#t=}
t=${t%%,*}
want=$({ printf '%s.' "$t"; cat "$RECEIVER/$n.body"; } |
    openssl dgst -sha256 -hmac "$WEBHOOK_SECRET" -hex | sed 's/^.*= //')
assert_eq "v1=$want" "${SIGNATURE#*,}" "the signature is HMAC-SHA256 of '<t>.<body>' with the secret"

delivery=$(delivery_of hook1 "$PING_ID" delivered)
assert_eq "ping 1 200 *****" "$(jq -j '.action, " ", .attempt, " ", .eventResponseMessage.statusCode, " ", .eventRequestMessage.headers.Authorization' <<<"$delivery")" \
    "list-events: the ping's delivery, custom header masked"
assert_eq "$PING_ID" "$(jq -r .eventRequestMessage.content.id <<<"$delivery")" \
    "list-events: the payload sent"
berth webhook list-events --name hook1 --registry "$REG" >"$IT_TMP/events.txt"
assert_match '^ID +TIME +ACTION +EVENT ID +ATTEMPT +RESULT +STATUS +ERROR' "$(head -n1 "$IT_TMP/events.txt")" \
    "list-events table header"
grep -q "$PING_ID" "$IT_TMP/events.txt" || fail "list-events table lacks the whole event id"

# ------------------------------------------------------------------ pushes: scope and status

before=$(received)
OTHER_DIGEST=$(push_image other/thing x other)
APP_DIGEST=$(push_image team/app v1 app)
berth audit list --registry "$REG" --repository team/app --action push --top 1 -o json >"$IT_TMP/audit1.json"
PUSH_ID=$(jq -r '.[0].id' "$IT_TMP/audit1.json")
assert_eq "push team/app v1 $APP_DIGEST" \
    "$(jq -j '.[0] | .action, " ", .repository, " ", .tag, " ", .digest' "$IT_TMP/audit1.json")" \
    "audit list: the push"
n=$(request_for "$PUSH_ID")
assert_eq "push team/app v1 $APP_DIGEST" \
    "$(jq -j '.action, " ", .target.repository, " ", .target.tag, " ", .target.digest' "$RECEIVER/$n.body")" \
    "hook1 got the push in its scope"
# hook1's events go in order, so other/thing's push was decided before team/app's; hook2 is
# disabled. Neither sent anything else.
assert_eq $((before + 1)) "$(received)" "only hook1's push of team/app was delivered"
for ((i = before + 1; i <= $(received); i++)); do
    [[ "$(jq -r .path "$RECEIVER/$i.json")" != /hook2 ]] || fail "the disabled hook2 got a delivery"
done

# ------------------------------------------------------------------ audit list

berth audit list --registry "$REG" -o json >"$IT_TMP/audit.json"
jq -e 'type == "array" and length >= 3' "$IT_TMP/audit.json" >/dev/null ||
    fail "audit list: $(head -c 800 "$IT_TMP/audit.json")"
jq -e '[.[].sequence] == ([.[].sequence] | sort | reverse)' "$IT_TMP/audit.json" >/dev/null ||
    fail "audit list is not newest first"
jq -e --arg id "$PING_ID" 'any(.[]; .id == $id and .action == "ping")' "$IT_TMP/audit.json" \
    >/dev/null || fail "audit list lacks the ping"
jq -e --arg d "$OTHER_DIGEST" 'any(.[]; .action == "push" and .repository == "other/thing" and .digest == $d)' \
    "$IT_TMP/audit.json" >/dev/null || fail "audit list lacks the push of other/thing (no webhook wanted it)"
# Paging: --top 1, then --before the sequence it showed.
berth audit list --registry "$REG" --top 1 -o json >"$IT_TMP/page1.json"
assert_eq 1 "$(jq length "$IT_TMP/page1.json")" "audit list --top 1"
SEQ=$(jq -r '.[0].sequence' "$IT_TMP/page1.json")
berth audit list --registry "$REG" --top 1 --before "$SEQ" -o json >"$IT_TMP/page2.json"
assert_eq "$(jq -c '.[1]' "$IT_TMP/audit.json")" "$(jq -c '.[0]' "$IT_TMP/page2.json")" \
    "audit list --before: the next page"
berth audit list --registry "$REG" --top 1 >"$IT_TMP/page1.txt"
grep -q "add --before $SEQ for the next page" "$IT_TMP/page1.txt" ||
    fail "audit list table does not say how to page: $(cat "$IT_TMP/page1.txt")"
berth audit list --registry "$REG" --since 2000-01-01T00:00:00Z --until 2000-01-02T00:00:00Z -o json >"$IT_TMP/none.json"
assert_eq 0 "$(jq length "$IT_TMP/none.json")" "audit list of a day long past"
expect_exit 2 "--action: 'quarantine'" audit list --registry "$REG" --action quarantine
expect_exit 4 "" audit list --registry nosuchreg

# ------------------------------------------------------------------ a failing receiver, retries, redeliver

berth webhook update --name hook1 --registry "$REG" --uri "http://127.0.0.1:$RPORT/fail" -o json >/dev/null
berth webhook ping --name hook1 --registry "$REG" -o json >"$IT_TMP/ping2.json"
PING2_ID=$(jq -r .id "$IT_TMP/ping2.json")
failed=$(delivery_of hook1 "$PING2_ID" failed)
assert_eq "500 failing on purpose" "$(jq -j '.eventResponseMessage.statusCode, " ", .eventResponseMessage.content' <<<"$failed")" \
    "list-events: the failed attempt and the receiver's answer"
# Back to a working URI: the retry delivers the same event.
berth webhook update --name hook1 --registry "$REG" --uri "http://127.0.0.1:$RPORT/hook1" -o json >/dev/null
retried=$(delivery_of hook1 "$PING2_ID" delivered)
(($(jq .attempt <<<"$retried") >= 2)) || fail "the retry is not a later attempt: $retried"

n=$(request_for "$PING_ID")
berth webhook redeliver --name hook1 --registry "$REG" --event-id "$PING_ID" -o json >"$IT_TMP/redeliver.json"
assert_eq "$PING_ID" "$(jq -r .id "$IT_TMP/redeliver.json")" "webhook redeliver: the event id"
n2=$(request_for "$PING_ID" 2)
assert_eq "$(jq -cS . "$RECEIVER/$n.body")" "$(jq -cS . "$RECEIVER/$n2.body")" \
    "the redelivery's payload is the first delivery's"
expect_exit 4 "" webhook redeliver --name hook1 --registry "$REG" --event-id 00000000-0000-0000-0000-000000000000
expect_exit 2 "--event-id" webhook redeliver --name hook1 --registry "$REG" --event-id a/b

berth webhook list-events --name hook1 --registry "$REG" --top 1 -o json >"$IT_TMP/top1.json"
assert_eq 1 "$(jq length "$IT_TMP/top1.json")" "list-events --top 1"
FIRST=$(jq -r '.[0].deliveryId' "$IT_TMP/top1.json")
berth webhook list-events --name hook1 --registry "$REG" --top 1 --before "$FIRST" -o json >"$IT_TMP/top1b.json"
(($(jq '.[0].deliveryId' "$IT_TMP/top1b.json") < FIRST)) || fail "list-events --before: not an older delivery"
expect_exit 2 "--top: '101'" webhook list-events --name hook1 --registry "$REG" --top 101

# ------------------------------------------------------------------ update

berth webhook update --name hook1 --registry "$REG" --headers '' --scope '' --secret '' \
    --actions delete --status disabled --format cloudevents -o json >"$IT_TMP/updated.json"
assert_eq '["delete"]  disabled cloudevents false' \
    "$(jq -j '(.actions | tostring), " ", .scope, " ", .status, " ", .format, " ", .signed' "$IT_TMP/updated.json")" \
    "webhook update: every field"
assert_eq '{}' "$(berth webhook get-config --name hook1 --registry "$REG" -o json | jq -c .customHeaders)" \
    "webhook update --headers '' removes them"
berth webhook update --name hook2 --registry "$REG" --status enabled -o json >"$IT_TMP/hook2b.json"
assert_eq "enabled push,chart_push cloudevents true" \
    "$(jq -j '.status, " ", (.actions | join(",")), " ", .format, " ", .signed' "$IT_TMP/hook2b.json")" \
    "webhook update --status keeps the other fields"
expect_exit 2 "nothing to update" webhook update --name hook2 --registry "$REG"
expect_exit 4 "" webhook update --name hook9 --registry "$REG" --status enabled

# ------------------------------------------------------------------ delete, the tier's limit

berth webhook delete --name hook2 --registry "$REG" >"$IT_TMP/deleted.txt"
assert_eq "Deleted webhook 'hook2' from registry 'default'." "$(cat "$IT_TMP/deleted.txt")" "webhook delete"
expect_exit 4 "" webhook show --name hook2 --registry "$REG"
expect_exit 4 "" webhook delete --name hook2 --registry "$REG"
assert_eq '["hook1"]' "$(berth webhook list --registry "$REG" -o json | jq -c '[.[].name]')" \
    "webhook list after the delete"

berth registry create --name hooksbasic --tier Basic -o json >/dev/null
for name in hookone hooktwo; do
    berth webhook create --name "$name" --registry hooksbasic --uri "http://127.0.0.1:$RPORT/b" \
        --actions push -o json >/dev/null
done
expect_exit 5 "" webhook create --name hookthree --registry hooksbasic \
    --uri "http://127.0.0.1:$RPORT/b" --actions push
assert_eq 2 "$(berth registry show-usage --name hooksbasic -o json |
    jq '.value[] | select(.name == "Webhooks") | .currentValue')" "show-usage counts the webhooks"

# The secret went nowhere it should not.
no_secret "$BD_DIR/log" "berthd's log"
for file in "$IT_TMP"/*.json "$IT_TMP"/*.txt; do
    [[ "$file" == "$IT_TMP/secret.txt" ]] || no_secret "$file" "the CLI's output ($file)"
done

pass "every webhook verb and audit list of the berth CLI against berthd and a receiver"
