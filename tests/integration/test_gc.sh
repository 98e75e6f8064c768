#!/usr/bin/env bash
# Online garbage collection against a real berthd with real clients:
#   - skopeo pushes images that share their layer; curl uploads a few hundred blobs no manifest
#     will reference; a manifest delete (skopeo delete) and a repository delete leave garbage;
#   - `berth gc run --wait` frees exactly that: the live images still pull with skopeo with their
#     digests, and the blob files on disk are exactly the blobs the live manifests reference;
#   - a kill -9 in the middle of a sweep (slowed down with small pages and a pause between them),
#     then a restart: the interrupted run resumes by itself and finishes, nothing referenced is
#     lost, the garbage is gone;
#   - after every repository is deleted and a run, the blob bytes on disk are zero and the
#     catalog is empty;
#   - /metrics counts what the runs removed.
# Needs berthd and the berth CLI.
. "$(dirname "$0")/lib.sh"

[[ -n "${BERTHD:-}" ]] || skip "garbage collection is a berthd feature (BERTHD unset)"
[[ -n "${BERTH_CLI:-}" && -x "${BERTH_CLI:-}" ]] || fail "BERTH_CLI (the berth CLI) is not set"
require_cmd skopeo curl jq sha256sum

# A short grace period so the test need not wait an hour; no schedule (runs are asked for);
# small pages with a pause, so a run over a few hundred blobs lasts long enough to be killed.
export BERTH_GC_GRACE_PERIOD_SECONDS=1
export BERTH_GC_INTERVAL_SECONDS=0
export BERTH_GC_PAGE_SIZE=20
export BERTH_GC_PAGE_PAUSE_MS=150
start_registry
setup_containers_env skopeo
export BERTH_SERVER="http://$REGISTRY" BERTH_TOKEN="$ADMIN_TOKEN" BERTH_POLL_INTERVAL_MS=100
BLOBS_DIR="$REGISTRY_DIR/data/blobs"
SK_DEST=(--dest-tls-verify=false)
SK_SRC=(--src-tls-verify=false)

berth() { "$BERTH_CLI" "$@"; }

# stored_blobs: the digests of the blob files on disk, sorted.
stored_blobs() {
    find "$BLOBS_DIR" -type f 2>/dev/null | awk -F/ '{print $(NF-2) ":" $NF}' | sort
}
stored_bytes() {
    find "$BLOBS_DIR" -type f -printf '%s\n' 2>/dev/null | awk '{s += $1} END {print s + 0}'
}

# referenced_blobs REPO:TAG...: the config and layer digests of those images' manifests, sorted.
referenced_blobs() {
    local ref out
    for ref in "$@"; do
        out=$(mktemp)
        read -r status _ _ < <(fetch_manifest "${ref%%:*}" "${ref#*:}" "$out")
        [[ "$status" == 200 ]] || fail "GET manifest $ref answered $status"
        jq -r '.config.digest, .layers[].digest' "$out"
    done | sort -u
}

# pull_and_check REPO:TAG DIGEST: skopeo copies the image out and its manifest digest matches;
# every blob it names is served with the right content.
pull_and_check() {
    local ref=$1 want=$2 dir digest
    dir=$(mktemp -d)
    run_logged "$IT_TMP/pull-${ref//[\/:]/_}.log" sk copy "${SK_SRC[@]}" \
        "docker://$REGISTRY/$ref" "oci:$dir:x"
    assert_eq "$want" "$(registry_manifest_digest "${ref%%:*}" "${ref#*:}")" "digest of $ref"
    local out
    out=$(mktemp)
    fetch_manifest "${ref%%:*}" "${ref#*:}" "$out" >/dev/null
    for digest in $(jq -r '.config.digest, .layers[].digest' "$out"); do
        check_blob "${ref%%:*}" "$digest"
    done
}

# upload_garbage REPO COUNT: COUNT distinct small blobs, one monolithic upload each, in one curl.
upload_garbage() {
    local repo=$1 count=$2 i file digest name=${1//\//_}
    local config="$IT_TMP/garbage-$name.curl"
    mkdir -p "$IT_TMP/garbage"
    (umask 077 && : >"$config")
    for ((i = 0; i < count; i++)); do
        file="$IT_TMP/garbage/$name-$i"
        printf 'garbage %s %d %s' "$repo" "$i" "$RANDOM" >"$file"
        digest=$(sha256_file "$file")
        {
            echo "url = \"http://$REGISTRY/v2/$repo/blobs/uploads/?digest=$digest\""
            echo "request = POST"
            echo "data-binary = \"@$file\""
            echo "header = \"Content-Type: application/octet-stream\""
            # Every URL of a curl config takes its own options: the credentials too.
            echo "header = \"Authorization: Bearer $ADMIN_TOKEN\""
            echo "write-out = \"%{http_code}\\n\""
            echo "output = /dev/null"
            [[ $i -lt $((count - 1)) ]] && echo "next"
        } >>"$config"
    done
    curl -s --max-time 120 -K "$config" >"$IT_TMP/garbage-$name.status" ||
        fail "uploading garbage to $repo failed"
    assert_eq "$count" "$(grep -c '^201$' "$IT_TMP/garbage-$name.status")" "201s uploading garbage"
}

gc_run_json() { # ARGS...: berth gc run ARGS -o json, checked to succeed
    berth gc run "$@" -o json >"$IT_TMP/gc.json" 2>"$IT_TMP/gc.err" ||
        fail "berth gc run $* failed: $(cat "$IT_TMP/gc.err")"
    cat "$IT_TMP/gc.json"
}

# ------------------------------------------------------------------ images and garbage

FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"
for tag in keep drop; do
    # Distinct images (their configs differ) sharing the busybox layer.
    SALTED="$IT_TMP/fixture-$tag"
    build_fixture_image "$SALTED" "-$tag"
    run_logged "$IT_TMP/push-$tag.log" sk copy "${SK_DEST[@]}" "oci:$SALTED:amd64" \
        "docker://$REGISTRY/gc/app:$tag"
done
run_logged "$IT_TMP/push-other.log" sk copy "${SK_DEST[@]}" "oci:$FIX:amd64" \
    "docker://$REGISTRY/gc/other:v1"
KEEP_DIGEST=$(registry_manifest_digest gc/app keep)
DROP_DIGEST=$(registry_manifest_digest gc/app drop)
OTHER_DIGEST=$(registry_manifest_digest gc/other v1)
DROP_CONFIG=$(fetch_manifest gc/app drop "$IT_TMP/drop.json" >/dev/null; jq -r .config.digest "$IT_TMP/drop.json")
upload_garbage gc/scratch 300
upload_garbage gc/app 60
log "pushed: $(stored_blobs | wc -l) blob files"

run_logged "$IT_TMP/delete-drop.log" sk delete --tls-verify=false "docker://$REGISTRY/gc/app@$DROP_DIGEST"
status=$(http_status DELETE "http://$REGISTRY/mgmt/v1/registries/default/repositories/gc/scratch" \
    -H "Authorization: Bearer $ADMIN_TOKEN")
assert_eq 204 "$status" "DELETE repository gc/scratch"
sleep 2  # past the grace period

# ------------------------------------------------------------------ a dry run, then a real run

dry=$(gc_run_json --name default --dry-run --wait)
assert_eq succeeded "$(jq -r .status <<<"$dry")" "dry run status"
assert_eq true "$(jq -r .dryRun <<<"$dry")" "dry run flag"
# 300 from the deleted repository, 60 unreferenced uploads, the dropped image's config.
assert_eq 361 "$(jq -r .blobsDeleted <<<"$dry")" "blobs a dry run would delete"
assert_eq 364 "$(stored_blobs | wc -l | tr -d ' ')" "blob files after the dry run (4 of images, 360 garbage)"

real=$(gc_run_json --name default --wait)
assert_eq succeeded "$(jq -r .status <<<"$real")" "run status"
assert_eq "$(jq -r .blobsDeleted <<<"$dry")" "$(jq -r .blobsDeleted <<<"$real")" \
    "blobs deleted equals the dry run's count"
assert_eq "$(jq -r .bytesReclaimed <<<"$dry")" "$(jq -r .bytesReclaimed <<<"$real")" \
    "bytes reclaimed equals the dry run's"
assert_eq "$(referenced_blobs gc/app:keep gc/other:v1)" "$(stored_blobs)" \
    "the blob files are exactly what the live images reference"
[[ "$(stored_blobs)" != *"${DROP_CONFIG#sha256:}"* ]] || fail "the dropped image's config is still stored"
pull_and_check gc/app:keep "$KEEP_DIGEST"
pull_and_check gc/other:v1 "$OTHER_DIGEST"
catalog=$(registry_curl -s "http://$REGISTRY/v2/_catalog" | jq -c .repositories)
assert_eq '["gc/app","gc/other"]' "$catalog" "catalog after the run"

# ------------------------------------------------------------------ kill -9 in the middle of a sweep

upload_garbage gc/crash 400
status=$(http_status DELETE "http://$REGISTRY/mgmt/v1/registries/default/repositories/gc/crash" \
    -H "Authorization: Bearer $ADMIN_TOKEN")
assert_eq 204 "$status" "DELETE repository gc/crash"
sleep 2
started=$(gc_run_json)
RUN_ID=$(jq -r .id <<<"$started")
# Wait until the blob sweep has deleted some but not all, then kill.
for ((i = 0; i < 300; i++)); do
    shown=$(berth gc show --id "$RUN_ID" -o json)
    deleted=$(jq -r .blobsDeleted <<<"$shown")
    [[ "$(jq -r .phase <<<"$shown")" == blobs && "$deleted" -gt 0 ]] && break
    sleep 0.05
done
[[ "$(jq -r .phase <<<"$shown")" == blobs && "$deleted" -lt 400 ]] ||
    fail "the run was not caught mid-sweep: $shown"
kill9_registry
log "killed berthd mid-sweep: run $RUN_ID had deleted $deleted of 400"
start_registry
for ((i = 0; i < 600; i++)); do
    shown=$(berth gc show --id "$RUN_ID" -o json)
    [[ "$(jq -r .status <<<"$shown")" != running ]] && break
    sleep 0.1
done
assert_eq succeeded "$(jq -r .status <<<"$shown")" "the interrupted run, resumed after the restart"
# Progress is saved about once a second, so the counters after a crash may miss the last
# second's removals (those blobs are gone all the same): at least what was saved at the kill.
total=$(jq -r .blobsDeleted <<<"$shown")
((total >= deleted && total <= 400)) ||
    fail "the resumed run counts $total blobs deleted; expected $deleted to 400"
assert_eq "$(referenced_blobs gc/app:keep gc/other:v1)" "$(stored_blobs)" \
    "after the crash and the resumed run, the blob files are exactly the referenced ones"
pull_and_check gc/app:keep "$KEEP_DIGEST"
pull_and_check gc/other:v1 "$OTHER_DIGEST"

# ------------------------------------------------------------------ everything deleted: zero bytes

for repo in gc/app gc/other; do
    status=$(http_status DELETE "http://$REGISTRY/mgmt/v1/registries/default/repositories/$repo" \
        -H "Authorization: Bearer $ADMIN_TOKEN")
    assert_eq 204 "$status" "DELETE repository $repo"
done
sleep 2
last=$(gc_run_json --wait)
assert_eq succeeded "$(jq -r .status <<<"$last")" "final run status"
assert_eq 0 "$(stored_bytes)" "blob bytes on disk after deleting everything"
assert_eq '[]' "$(registry_curl -s "http://$REGISTRY/v2/_catalog" | jq -c '.repositories')" \
    "catalog after deleting everything"
usage=$(registry_curl -s -H "Authorization: Bearer $ADMIN_TOKEN" \
    "http://$REGISTRY/mgmt/v1/registries/default/usage" | jq '.storage.usedBytes')
assert_eq 0 "$usage" "usage after deleting everything"

# The other verbs against the real server: the latest run, and a page of two.
assert_eq "$(jq -r .id <<<"$last")" "$(berth gc status -o json | jq -r .id)" "gc status: the latest run"
assert_eq 2 "$(berth gc list --top 2 -o json | jq length)" "gc list --top 2"
assert_eq "$(jq -r .id <<<"$last")" "$(berth gc list --name default --top 1 -o json | jq -r '.[0].id')" \
    "gc list --name: the registry's runs include the deployment-wide ones"

metrics=$(curl -s "http://$REGISTRY/metrics")
grep -q '^berth_gc_runs_total{result="succeeded"} [1-9]' <<<"$metrics" ||
    fail "berth_gc_runs_total does not count the runs: $(grep berth_gc_runs <<<"$metrics")"
grep -q '^berth_gc_blobs_deleted_total [1-9]' <<<"$metrics" ||
    fail "berth_gc_blobs_deleted_total does not count the deleted blobs"
pass
