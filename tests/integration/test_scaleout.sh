#!/usr/bin/env bash
# A scale-out deployment: PostgreSQL + Azurite + three berthd nodes behind HAProxy (round robin,
# one request per connection). skopeo and podman push through the balancer, so their requests
# spread over the nodes; a chunked upload (crane's way: POST, PATCH, PATCH, PUT) moves between
# nodes mid-upload; every node serves what any node stored; `kill -9` of a node in the middle
# of a push loses no acknowledged image, and the client's retry goes through the others.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scaleout_lib.sh"

require_cmd skopeo podman curl jq haproxy gzip
start_scaleout_backends
# Every node schedules a deployment-wide collection every 2 s (the grace period of an hour keeps
# all content): the deployment, not each node, must run one per period (section 8).
export BERTH_GC_INTERVAL_SECONDS=2
nodes_started=$(date +%s)
for n in 1 2 3; do start_node "$n"; done
start_balancer 1 2 3
REFRESH_TOKEN=$(refresh_token_for "$REGISTRY")
export REFRESH_TOKEN
setup_containers_env skopeo podman

FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"
SK_DEST=(--dest-tls-verify=false)
SK_SRC=(--src-tls-verify=false)

# node_curl N CURL-ARGS...: curl straight to node N with the administrator token.
node_curl() {
    local n=$1
    shift
    curl -s --max-time 60 "${REGISTRY_AUTH[@]}" "$@" \
        --connect-to "::127.0.0.1:${NODE_PORT[$n]}"
}

# node_manifest_digest N REPO REF: Docker-Content-Digest of the manifest as node N serves it.
node_manifest_digest() {
    node_curl "$1" -o /dev/null -D - -H "Accept: $ACCEPT_ALL_MANIFESTS" \
        "http://$REGISTRY/v2/$2/manifests/$3" |
        awk 'tolower($1) == "docker-content-digest:" {sub(/\r$/, "", $2); print $2}'
}

# node_requests N PATH-PART: requests node N logged whose target holds PATH-PART.
node_requests() {
    grep -c -- "$2" "$(node_dir "$1")/log" || true
}

# 1. skopeo pushes through the balancer: single image and the multi-arch index.
run_logged "$IT_TMP/push-sk.log" sk copy "${SK_DEST[@]}" "oci:$FIX:amd64" "docker://$REGISTRY/scale/busybox:1.0"
run_logged "$IT_TMP/push-all.log" sk copy --all "${SK_DEST[@]}" "oci:$FIX:multi" "docker://$REGISTRY/scale/busybox:multi"
for n in 1 2 3; do
    served=$(node_requests "$n" " /v2/scale/busybox/")
    log "node $n answered $served requests of the skopeo pushes"
    ((served > 0)) || fail "node $n answered none of the pushes' requests: the balancer did not spread them"
done

# 2. podman pushes through the balancer.
run_logged "$IT_TMP/pull-oci.log" pm pull "oci:$FIX:arm64"
img=$(pm images -q --no-trunc | head -n1)
run_logged "$IT_TMP/tag.log" pm tag "$img" "$REGISTRY/scale/podman:arm64"
run_logged "$IT_TMP/push-pm.log" pm push --tls-verify=false --format oci \
    --digestfile "$IT_TMP/pm.digest" "$REGISTRY/scale/podman:arm64"
pm_digest=$(cat "$IT_TMP/pm.digest")

# 3. Every node serves every image with the same digest.
for n in 1 2 3; do
    assert_eq "$FIXTURE_AMD64_DIGEST" "$(node_manifest_digest "$n" scale/busybox 1.0)" "scale/busybox:1.0 on node $n"
    assert_eq "$FIXTURE_INDEX_DIGEST" "$(node_manifest_digest "$n" scale/busybox multi)" "scale/busybox:multi on node $n"
    assert_eq "$pm_digest" "$(node_manifest_digest "$n" scale/podman arm64)" "scale/podman:arm64 on node $n"
    got=$(node_curl "$n" "http://$REGISTRY/v2/scale/busybox/blobs/$FIXTURE_LAYER_DIGEST" | sha256sum | cut -d' ' -f1)
    assert_eq "$FIXTURE_LAYER_DIGEST" "sha256:$got" "layer bytes from node $n"
done

# 4. A chunked upload that moves between nodes: POST and the first PATCH on node 1, the second
# PATCH on node 2, the status on node 3, the closing PUT on node 3. The hash state and the
# offset live in the shared backends, so node 3 verifies the digest of bytes it never saw.
head -c 3000000 /dev/urandom >"$IT_TMP/chunked.bin"
chunked_digest=$(sha256_file "$IT_TMP/chunked.bin")
head -c 1000000 "$IT_TMP/chunked.bin" >"$IT_TMP/part1"
tail -c +1000001 "$IT_TMP/chunked.bin" >"$IT_TMP/part2"
hdr="$IT_TMP/chunked.headers"
st=$(node_curl 1 -X POST -o /dev/null -D "$hdr" -w '%{http_code}' "http://$REGISTRY/v2/scale/chunked/blobs/uploads/")
assert_eq 202 "$st" "POST upload on node 1"
location=$(awk 'tolower($1) == "location:" {sub(/\r$/, "", $2); print $2}' "$hdr")
[[ "$location" == http* ]] || location="http://$REGISTRY$location"
st=$(node_curl 1 -X PATCH -o /dev/null -D "$hdr" -w '%{http_code}' -H "Content-Type: application/octet-stream" \
    -H "Content-Range: 0-999999" --data-binary "@$IT_TMP/part1" "$location")
assert_eq 202 "$st" "PATCH of the first chunk on node 1"
location=$(awk 'tolower($1) == "location:" {sub(/\r$/, "", $2); print $2}' "$hdr")
[[ "$location" == http* ]] || location="http://$REGISTRY$location"
st=$(node_curl 2 -X PATCH -o /dev/null -D "$hdr" -w '%{http_code}' -H "Content-Type: application/octet-stream" \
    -H "Content-Range: 1000000-2999999" --data-binary "@$IT_TMP/part2" "$location")
assert_eq 202 "$st" "PATCH of the second chunk on node 2"
location=$(awk 'tolower($1) == "location:" {sub(/\r$/, "", $2); print $2}' "$hdr")
[[ "$location" == http* ]] || location="http://$REGISTRY$location"
range=$(node_curl 3 -o /dev/null -D - "$location" | awk 'tolower($1) == "range:" {sub(/\r$/, "", $2); print $2}')
assert_eq "0-2999999" "$range" "upload status on node 3"
sep='?'
[[ "$location" == *\?* ]] && sep='&'
st=$(node_curl 3 -X PUT -o /dev/null -w '%{http_code}' "$location${sep}digest=$chunked_digest")
assert_eq 201 "$st" "closing PUT on node 3"
got=$(node_curl 1 "http://$REGISTRY/v2/scale/chunked/blobs/$chunked_digest" | sha256sum | cut -d' ' -f1)
assert_eq "$chunked_digest" "sha256:$got" "the chunked blob read back from node 1"

# 5. kill -9 of a node in the middle of a push. The image has one 40 MiB layer, so the push
# is still under way when a node dies; the client may fail, and its retry goes through the
# balancer to the nodes left. Nothing acknowledged before is lost.
BIG="$IT_TMP/big"
build_big_image "$BIG" 40

# Its failure is expected and reported below, not through the ERR trap.
(trap - ERR; sk copy "${SK_DEST[@]}" "oci:$BIG:big" "docker://$REGISTRY/scale/big:1") >"$IT_TMP/push-big.log" 2>&1 &
push_pid=$!
# The node to kill: the one with a connection open while the layer's bytes flow (HAProxy
# closes every connection after its response, so a lasting one is a request under way).
victim=""
for ((i = 0; i < 400; i++)); do
    if grep -q "POST /v2/scale/big/blobs/uploads" "$(node_dir 1)/log" "$(node_dir 2)/log" "$(node_dir 3)/log"; then
        for n in 1 2 3; do
            if [[ -n $(ss -Htn state established "( sport = :${NODE_PORT[$n]} )") ]]; then
                victim=$n
                break
            fi
        done
    fi
    [[ -z "$victim" ]] || break
    sleep 0.025
done
if [[ -z "$victim" ]]; then
    victim=2
    log "no node was seen mid-request; killing node 2 while the push goes on"
fi
kill9_node "$victim"
log "node $victim killed with the push under way"
if wait "$push_pid"; then
    log "the push finished despite the killed node"
else
    log "the push failed with node $victim gone ($(tail -n 1 "$IT_TMP/push-big.log")); retrying through the balancer"
    run_logged "$IT_TMP/push-big-retry.log" sk copy --retry-times 3 "${SK_DEST[@]}" "oci:$BIG:big" "docker://$REGISTRY/scale/big:1"
fi
for n in 1 2 3; do
    [[ "$n" == "$victim" ]] && continue
    assert_eq "$big_manifest" "$(node_manifest_digest "$n" scale/big 1)" "scale/big:1 on node $n after the retry"
    assert_eq "$FIXTURE_AMD64_DIGEST" "$(node_manifest_digest "$n" scale/busybox 1.0)" "scale/busybox:1.0 on node $n after the kill"
    assert_eq "$pm_digest" "$(node_manifest_digest "$n" scale/podman arm64)" "scale/podman:arm64 on node $n after the kill"
done
BACK="$IT_TMP/big-back"
run_logged "$IT_TMP/pull-big.log" sk copy "${SK_SRC[@]}" "docker://$REGISTRY/scale/big:1" "oci:$BACK:big"
cmp -s "$BIG/blobs/sha256/${big_layer#sha256:}" "$BACK/blobs/sha256/${big_layer#sha256:}" ||
    fail "the big layer pulled through the balancer differs from the one pushed"

# 6. The killed node comes back and serves everything.
start_node "$victim"
assert_eq "$big_manifest" "$(node_manifest_digest "$victim" scale/big 1)" "scale/big:1 on the restarted node $victim"
assert_eq "$chunked_digest" "sha256:$(node_curl "$victim" "http://$REGISTRY/v2/scale/chunked/blobs/$chunked_digest" | sha256sum | cut -d' ' -f1)" \
    "the chunked blob from the restarted node $victim"
tags=$(node_curl "$victim" "http://$REGISTRY/v2/scale/busybox/tags/list" | jq -c .tags)
assert_eq '["1.0","multi"]' "$tags" "tags of scale/busybox on node $victim"

# 7. Dedicated data endpoints: with dataEndpointEnabled (a Premium feature) a blob GET answers
# 307 with a short-lived read URL of the blob in Azurite, so bytes bypass the nodes. Only for
# callers the registry lets pull: one without credentials gets 401, not a URL.
mgmt_patch() {
    curl -s --max-time 30 -o "$IT_TMP/mgmt.json" -w '%{http_code}' "${REGISTRY_AUTH[@]}" \
        -X PATCH -H 'Content-Type: application/json' -d "$1" "http://$REGISTRY/mgmt/v1/registries/default"
}
assert_eq 200 "$(mgmt_patch '{"tier":"Premium","dataEndpointEnabled":true}')" "enable the data endpoint"
assert_eq true "$(jq -r .dataEndpointEnabled "$IT_TMP/mgmt.json")" "dataEndpointEnabled after the PATCH"
hdr="$IT_TMP/direct.headers"
st=$(curl -s --max-time 30 -o /dev/null -D "$hdr" -w '%{http_code}' "${REGISTRY_AUTH[@]}" \
    "http://$REGISTRY/v2/scale/big/blobs/$big_layer")
assert_eq 307 "$st" "blob GET with the data endpoint on"
direct=$(awk 'tolower($1) == "location:" {sub(/\r$/, "", $2); print $2}' "$hdr")
azurite_endpoint=$(sed -n 's/.*BlobEndpoint=\([^;]*\).*/\1/p' <<<"$BERTH_AZURE_STORAGE_CONNECTION_STRING")
assert_match "^$azurite_endpoint/$BERTH_AZURE_CONTAINER/" "$direct" "the redirect points at the blob in the container"
[[ "$direct" != *"$(sed -n 's/.*AccountKey=\([^;]*\).*/\1/p' <<<"$BERTH_AZURE_STORAGE_CONNECTION_STRING")"* ]] ||
    fail "the redirect holds the account key"
got=$(curl -s --max-time 60 "$direct" | sha256sum | cut -d' ' -f1)
assert_eq "$big_layer" "sha256:$got" "bytes read through the redirect (no berthd credentials)"
st=$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' "http://$REGISTRY/v2/scale/big/blobs/$big_layer")
assert_eq 401 "$st" "blob GET without credentials, data endpoint on"
DIRECT_BACK="$IT_TMP/direct-back"
run_logged "$IT_TMP/pull-direct.log" sk copy "${SK_SRC[@]}" "docker://$REGISTRY/scale/big:1" "oci:$DIRECT_BACK:big"
cmp -s "$BIG/blobs/sha256/${big_layer#sha256:}" "$DIRECT_BACK/blobs/sha256/${big_layer#sha256:}" ||
    fail "skopeo pulled other bytes through the data endpoint"
assert_eq 200 "$(mgmt_patch '{"dataEndpointEnabled":false}')" "disable the data endpoint"
st=$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' "${REGISTRY_AUTH[@]}" \
    "http://$REGISTRY/v2/scale/big/blobs/$big_layer")
assert_eq 200 "$st" "blob GET with the data endpoint off"

# 8. Scheduled collection across the nodes: one run per period for the whole deployment, never
# two at once (the lease in PostgreSQL), all of them finished.
sleep 4
elapsed=$(($(date +%s) - nodes_started))
runs=$(curl -s --max-time 30 "${REGISTRY_AUTH[@]}" "http://$REGISTRY/mgmt/v1/gc/runs?top=100")
scheduled=$(jq '[.runs[] | select(.startedBy == "schedule")] | length' <<<"$runs")
log "$scheduled scheduled collections in $elapsed s on 3 nodes with a 2 s schedule"
((scheduled >= 2)) || fail "only $scheduled scheduled collections ran in $elapsed s"
((scheduled <= elapsed / 2 + 2)) ||
    fail "$scheduled scheduled collections in $elapsed s: the nodes each ran the schedule"
jq -e '[.runs[] | select(.startedBy == "schedule") | .status] | all(. == "succeeded" or . == "running")' \
    <<<"$runs" >/dev/null || fail "a scheduled collection did not succeed: $runs"
# Newest first: each run started after the one before it had finished.
overlaps=$(jq '[.runs | map(select(.startedBy == "schedule")) | reverse | . as $r
    | range(1; length) | select($r[.].startTime < $r[. - 1].finishTime)] | length' <<<"$runs")
assert_eq 0 "$overlaps" "scheduled collections that overlapped"

pass
