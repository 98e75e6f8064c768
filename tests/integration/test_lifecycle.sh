#!/usr/bin/env bash
# Content lifecycle against a real berthd with real clients and the berth CLI:
#   a) soft delete: with the policy enabled, a repository skopeo pushed (v1 and stable on one
#      image, v2 on another) is deleted with `berth repository delete`; garbage collection runs
#      and deletes nothing; `repository list-deleted` and `manifest list-deleted` name what was
#      deleted; `manifest restore` (one by digest, one by tag) brings both back, and skopeo
#      copies them out with the same digests and tags as before. The usage reports the
#      soft-deleted bytes while they are deleted, 0 after the restore.
#   b) purge: `berth purge --dry-run -o json` plans, the real run deletes exactly the plan
#      (tags, and with --untagged the manifests left without one); skopeo lists the tags left.
#      A purge schedule saved with `--schedule '* * * * *'` runs within ~70 s by itself.
#   c) retention (Premium): refused on Standard, naming the tier; with 0 days and the lifecycle
#      job every second, the image skopeo untagged by pushing another to its tag is deleted
#      within seconds, while the tagged one pulls and one untagged before the policy was enabled
#      stays.
#   d) quotas: a registry quota just above the usage refuses podman's push of a new image
#      (podman says "denied" and names the quota): nothing of it is pullable or counted, the
#      refused layer's bytes, on disk like any unreferenced upload's, go at the next garbage
#      collection, and after `--unlimited` the same push succeeds; a repository quota refuses
#      pushes into that repository only.
# berthd only (the reference registry has none of this); needs the berth CLI.
. "$(dirname "$0")/lib.sh"

[[ -n "${BERTHD:-}" ]] || skip "the content lifecycle is berthd's: BERTHD is not set"
[[ -n "${BERTH_CLI:-}" && -x "${BERTH_CLI:-}" ]] || fail "BERTH_CLI (the berth CLI) is not set"
require_cmd skopeo podman curl jq sha256sum gzip tar

# The lifecycle job (expiry, retention, scheduled purges) every second; garbage collection only
# when asked for, with a grace period short enough to wait out.
export BERTH_LIFECYCLE_INTERVAL_SECONDS=1
export BERTH_GC_GRACE_PERIOD_SECONDS=1
export BERTH_GC_INTERVAL_SECONDS=0
start_registry
setup_containers_env podman skopeo
export BERTH_SERVER="http://$REGISTRY" BERTH_TOKEN="$ADMIN_TOKEN" BERTH_POLL_INTERVAL_MS=100
R=default
MGMT="http://$REGISTRY/mgmt/v1/registries/$R"
SK_DEST=(--dest-tls-verify=false)
SK_SRC=(--src-tls-verify=false)

# cli ARGS...: berth ARGS, which must succeed; echoes its standard output.
cli() {
    local rc=0
    "$BERTH_CLI" "$@" >"$IT_TMP/cli.out" 2>"$IT_TMP/cli.err" || rc=$?
    ((rc == 0)) || fail "berth $* exited $rc: $(cat "$IT_TMP/cli.err") $(head -c 500 "$IT_TMP/cli.out")"
    cat "$IT_TMP/cli.out"
}

# usage_of FIELD: a field of the registry's storage usage (GET .../usage), e.g. usedBytes.
usage_of() {
    local out status
    out=$(mktemp)
    status=$(registry_curl -s --max-time 30 -o "$out" -w '%{http_code}' "$MGMT/usage") || status=000
    [[ "$status" == 200 ]] || fail "GET $MGMT/usage answered $status: $(head -c 300 "$out")"
    jq -er --arg f "$1" '.storage[$f]' "$out" || fail "GET $MGMT/usage has no storage.$1: $(cat "$out")"
}

# sk_tags REPO: the tags skopeo lists, sorted, space-separated.
sk_tags() {
    sk list-tags --tls-verify=false "docker://$REGISTRY/$1" >"$IT_TMP/tags.json" 2>"$IT_TMP/tags.err" ||
        fail "skopeo list-tags $1 failed: $(cat "$IT_TMP/tags.err")"
    jq -r '.Tags[]' "$IT_TMP/tags.json" | sort | paste -sd' '
}

# sk_digest REPO:TAG: the manifest digest skopeo reports.
sk_digest() {
    sk inspect --tls-verify=false --format '{{.Digest}}' "docker://$REGISTRY/$1" 2>"$IT_TMP/inspect.err" ||
        fail "skopeo inspect $1 failed: $(cat "$IT_TMP/inspect.err")"
}

# push_oci LAYOUT:REF REPO:TAG: skopeo copies an image of an OCI layout to the registry.
push_oci() {
    run_logged "$IT_TMP/push-${2//[\/:]/_}.log" sk copy "${SK_DEST[@]}" "oci:$1" "docker://$REGISTRY/$2"
}

# manifest_status REPO REF: the HTTP status of GET /v2/REPO/manifests/REF.
manifest_status() {
    http_status GET "http://$REGISTRY/v2/$1/manifests/$2" -H "Accept: $ACCEPT_ALL_MANIFESTS"
}

# image FIX-NAME: an OCI layout of the busybox fixture whose config is salted with the name,
# so that each name is a distinct image (they share the layer).
image() {
    local dir="$IT_TMP/img-$1"
    [[ -d "$dir" ]] || build_fixture_image "$dir" "-$1"
    echo "$dir:amd64"
}

# random_image DIR KIB SALT: an OCI layout DIR (ref "img") of one image whose only layer holds
# KIB KiB of random bytes (they do not compress).
random_image() {
    local dir=$1 kib=$2 salt=$3 work diff layer config manifest
    work=$(mktemp -d)
    mkdir -p "$dir/blobs/sha256" "$work/root"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
    head -c $((kib * 1024)) /dev/urandom >"$work/root/data-$salt"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/root" -cf "$work/layer.tar" .
    diff=$(sha256_file "$work/layer.tar")
    gzip -n -1 <"$work/layer.tar" >"$work/layer.tgz"
    local lsize
    lsize=$(stat -c %s "$work/layer.tgz")
    layer=$(_blob_put "$dir" "$work/layer.tgz")
    jq -cn --arg diff "$diff" --arg salt "$salt" '{architecture: "amd64", os: "linux",
        config: {Labels: {"org.example.berth.fixture": $salt}},
        rootfs: {type: "layers", diff_ids: [$diff]}}' >"$work/config.json"
    local csize
    csize=$(stat -c %s "$work/config.json")
    config=$(_blob_put "$dir" "$work/config.json")
    jq -cn --arg mt "$MT_OCI_MANIFEST" --arg cmt "$MT_OCI_CONFIG" --arg lmt "$MT_OCI_LAYER_GZIP" \
        --arg c "$config" --argjson cs "$csize" --arg l "$layer" --argjson ls "$lsize" '
        {schemaVersion: 2, mediaType: $mt, config: {mediaType: $cmt, digest: $c, size: $cs},
         layers: [{mediaType: $lmt, digest: $l, size: $ls}]}' >"$work/manifest.json"
    local msize
    msize=$(stat -c %s "$work/manifest.json")
    manifest=$(_blob_put "$dir" "$work/manifest.json")
    jq -cn --arg mt "$MT_OCI_MANIFEST" --arg m "$manifest" --argjson ms "$msize" '
        {schemaVersion: 2, manifests: [{mediaType: $mt, digest: $m, size: $ms,
         annotations: {"org.opencontainers.image.ref.name": "img"}}]}' >"$dir/index.json"
    rm -rf "$work"
}

# ================================================================== a) soft delete and restore

log "a) soft delete, garbage collection, restore"
policy=$(cli config soft-delete update -n "$R" --status enabled --days 7 -o json)
assert_eq "enabled 7" "$(jq -r '"\(.status) \(.days)"' <<<"$policy")" "soft delete policy after the update"
assert_eq "enabled 7" "$(cli config soft-delete show -n "$R" -o json | jq -r '"\(.status) \(.days)"')" \
    "soft delete policy shown"

push_oci "$(image one)" soft/app:v1
push_oci "$(image one)" soft/app:stable
push_oci "$(image two)" soft/app:v2
D1=$(sk_digest soft/app:v1)
D2=$(sk_digest soft/app:v2)
assert_ne "$D1" "$D2" "the two images' digests"
assert_eq "$D1" "$(sk_digest soft/app:stable)" "digest of soft/app:stable (the same image as v1)"
assert_eq "$D1" "$(registry_manifest_digest soft/app v1)" "digest of soft/app:v1 served over /v2/"
TAGS_BEFORE=$(sk_tags soft/app)
assert_eq "stable v1 v2" "$TAGS_BEFORE" "tags of soft/app after the pushes"
USED_BEFORE=$(usage_of usedBytes)
assert_eq 0 "$(usage_of softDeletedBytes)" "softDeletedBytes before any delete"
log "pushed soft/app: v1=stable=$D1 v2=$D2; usedBytes $USED_BEFORE"

cli repository delete -n "$R" --repository soft/app --yes >/dev/null
assert_eq 404 "$(manifest_status soft/app "$D1")" "GET soft/app@$D1 after the repository delete"
assert_eq 404 "$(manifest_status soft/app v2)" "GET soft/app:v2 after the repository delete"
# Every blob was soft/app's alone: all of it is soft-deleted now, none of it used.
SOFT_DELETED=$(usage_of softDeletedBytes)
((SOFT_DELETED >= USED_BEFORE && USED_BEFORE > 0)) ||
    fail "softDeletedBytes is $SOFT_DELETED while soft/app is deleted; expected at least the $USED_BEFORE bytes it used"
assert_eq 0 "$(usage_of usedBytes)" "usedBytes while soft/app is deleted"
quota=$(cli quota show -n "$R" -o json)
assert_eq "$SOFT_DELETED" "$(jq -r .softDeletedBytes <<<"$quota")" "softDeletedBytes of berth quota show"
log "deleted soft/app: softDeletedBytes $SOFT_DELETED, usedBytes $(usage_of usedBytes)"

# Garbage collection must keep what soft delete keeps: nothing else is garbage here.
sleep 2  # past the grace period
gc=$(cli gc run --name "$R" --wait -o json)
assert_eq succeeded "$(jq -r .status <<<"$gc")" "garbage collection status"
assert_eq 0 "$(jq -r .blobsDeleted <<<"$gc")" "blobs garbage collection deleted while soft/app is soft-deleted"

assert_eq '["soft/app"]' "$(cli repository list-deleted -n "$R" -o json | jq -c .)" \
    "berth repository list-deleted"
deleted=$(cli manifest list-deleted -n "$R" --repository soft/app -o json)
assert_eq "$(printf '%s\n' "$D1" "$D2" | sort | paste -sd' ')" \
    "$(jq -r '.[].digest' <<<"$deleted" | sort | paste -sd' ')" "digests berth manifest list-deleted lists"
assert_eq "stable,v1" "$(jq -r --arg d "$D1" '.[] | select(.digest == $d) | .tags | sort | join(",")' <<<"$deleted")" \
    "deleted tags of $D1"
assert_eq "v2" "$(jq -r --arg d "$D2" '.[] | select(.digest == $d) | .tags | join(",")' <<<"$deleted")" \
    "deleted tags of $D2"
assert_eq "linux/amd64" "$(jq -r --arg d "$D1" '.[] | select(.digest == $d) | "\(.os)/\(.architecture)"' <<<"$deleted")" \
    "platform of the deleted $D1"
assert_eq "stable v1 v2" \
    "$(cli manifest list-deleted-tags -n "$R" --repository soft/app -o json | jq -r '.[].name' | sort | paste -sd' ')" \
    "berth manifest list-deleted-tags soft/app"
assert_eq "$D2" "$(cli manifest list-deleted-tags -n "$R" --repository soft/app:v2 -o json | jq -r '.[].digest')" \
    "berth manifest list-deleted-tags soft/app:v2"

restored=$(cli manifest restore -n "$R" --image "soft/app@$D1" -o json)
assert_eq "[\"$D1\"] [\"stable\",\"v1\"]" \
    "$(jq -c '.manifests' <<<"$restored") $(jq -c '.tags | sort' <<<"$restored")" "restore by digest"
restored=$(cli manifest restore -n "$R" --image soft/app:v2 -o json)
assert_eq "[\"$D2\"] [\"v2\"]" "$(jq -c '.manifests' <<<"$restored") $(jq -c '.tags' <<<"$restored")" \
    "restore by tag"

assert_eq "$TAGS_BEFORE" "$(sk_tags soft/app)" "tags of soft/app after the restore"
for tag in v1 stable v2; do
    want=$D1
    [[ "$tag" == v2 ]] && want=$D2
    out="$IT_TMP/restored-$tag"
    run_logged "$IT_TMP/pull-restored-$tag.log" sk copy "${SK_SRC[@]}" \
        "docker://$REGISTRY/soft/app:$tag" "oci:$out:$tag"
    assert_eq "$want" "$(oci_layout_digest "$out" "$tag")" "digest of soft/app:$tag copied out after the restore"
    assert_eq "$want" "$(sk_digest "soft/app:$tag")" "digest skopeo inspects for soft/app:$tag after the restore"
done
# skopeo verified every blob it copied; the layout holds the restored image byte for byte.
cmp -s "$IT_TMP/img-one/blobs/sha256/${D1#sha256:}" "$IT_TMP/restored-v1/blobs/sha256/${D1#sha256:}" ||
    fail "the manifest of soft/app:v1 copied out after the restore differs from the one pushed"
assert_eq 0 "$(usage_of softDeletedBytes)" "softDeletedBytes after restoring everything"
assert_eq "$USED_BEFORE" "$(usage_of usedBytes)" "usedBytes after the restore (as before the delete)"
assert_eq '[]' "$(cli repository list-deleted -n "$R" -o json | jq -c .)" \
    "berth repository list-deleted after the restore"
pass "a) soft delete round trip: $D1 (v1, stable) and $D2 (v2) back; $SOFT_DELETED bytes were soft-deleted"

# ================================================================== b) purge, now and scheduled

log "b) purge"
cli config soft-delete update -n "$R" --status disabled >/dev/null
# purge/repo: dev-1 and v1 on A (A stays tagged), dev-2 on B, dev-3 on C, release on D, and E
# left untagged by pushing D over its tag. purge/keep's name does not match the filter.
push_oci "$(image a)" purge/repo:dev-1
push_oci "$(image a)" purge/repo:v1
push_oci "$(image b)" purge/repo:dev-2
push_oci "$(image c)" purge/repo:dev-3
push_oci "$(image d)" purge/repo:release
push_oci "$(image e)" purge/repo:scratch
E=$(sk_digest purge/repo:scratch)
push_oci "$(image d)" purge/repo:scratch
push_oci "$(image b)" purge/keep:dev-1
A=$(sk_digest purge/repo:v1)
B=$(sk_digest purge/repo:dev-2)
C=$(sk_digest purge/repo:dev-3)
D=$(sk_digest purge/repo:release)
assert_eq "$D" "$(sk_digest purge/repo:scratch)" "purge/repo:scratch after pushing D over it"
assert_eq 200 "$(manifest_status purge/repo "$E")" "the untagged E before the purge"

expected_tags=$(jq -cn --arg a "$A" --arg b "$B" --arg c "$C" '[
    {repository: "purge/repo", tag: "dev-1", digest: $a},
    {repository: "purge/repo", tag: "dev-2", digest: $b},
    {repository: "purge/repo", tag: "dev-3", digest: $c}] | sort')
expected_manifests=$(printf '%s\n' "$B" "$C" "$E" | jq -Rsc 'split("\n")[:-1]
    | map({repository: "purge/repo", digest: .}) | sort')
dry=$(cli purge -n "$R" --filter 'repo:^dev-' --ago 0 --untagged --dry-run -o json)
assert_eq true "$(jq -r .dryRun <<<"$dry")" "dryRun of the dry run"
assert_eq "$expected_tags" "$(jq -c '.tags | sort' <<<"$dry")" "tags the dry run would delete"
assert_eq "$expected_manifests" "$(jq -c '.manifests | sort' <<<"$dry")" "manifests the dry run would delete"
assert_eq "dev-1 dev-2 dev-3 release scratch v1" "$(sk_tags purge/repo)" "tags of purge/repo after the dry run"
assert_eq 200 "$(manifest_status purge/repo "$E")" "the untagged E after the dry run"

real=$(cli purge -n "$R" --filter 'repo:^dev-' --ago 0 --untagged -o json)
assert_eq false "$(jq -r .dryRun <<<"$real")" "dryRun of the real run"
assert_eq "$(jq -c '.tags | sort' <<<"$dry")" "$(jq -c '.tags | sort' <<<"$real")" \
    "tags the purge deleted (the dry run's)"
assert_eq "$(jq -c '.manifests | sort' <<<"$dry")" "$(jq -c '.manifests | sort' <<<"$real")" \
    "manifests the purge deleted (the dry run's)"
assert_eq '[]' "$(jq -c .failures <<<"$real")" "failures of the purge"
assert_eq "release scratch v1" "$(sk_tags purge/repo)" "tags of purge/repo after the purge"
assert_eq "dev-1" "$(sk_tags purge/keep)" "tags of purge/keep (its name does not match) after the purge"
for digest in "$B" "$C" "$E"; do
    assert_eq 404 "$(manifest_status purge/repo "$digest")" "GET purge/repo@$digest after the purge"
done
assert_eq "$A" "$(sk_digest purge/repo:v1)" "purge/repo:v1 (A, still tagged) after the purge"
assert_eq "$B" "$(sk_digest purge/keep:dev-1)" "purge/keep:dev-1 after the purge"
log "purge deleted $(jq -r '[.tags[].tag] | join(" ")' <<<"$real") and $(jq '.manifests | length' <<<"$real") manifests"

# A schedule every minute: it runs at the next minute boundary, when the lifecycle job (every
# second here) sees it due; so within 61 s, give or take a pass.
push_oci "$(image f)" purge/repo:dev-4
push_oci "$(image g)" purge/repo:dev-5
F=$(sk_digest purge/repo:dev-4)
saved=$(cli purge -n "$R" --filter 'repo:^dev-' --ago 0 --untagged \
    --schedule '* * * * *' --schedule-name every-minute -o json)
assert_eq "every-minute * * * * * null" "$(jq -r '"\(.name) \(.schedule) \(.lastRunTime)"' <<<"$saved")" \
    "the saved schedule"
start=$SECONDS
schedule=""
while ((SECONDS - start < 75)); do
    schedule=$(cli purge schedule list -n "$R" -o json | jq -c '.[] | select(.name == "every-minute")')
    [[ -n "$schedule" ]] || fail "purge schedule list lost every-minute"
    [[ "$(jq -r .lastRunTime <<<"$schedule")" != null ]] && break
    sleep 1
done
[[ "$(jq -r .lastRunTime <<<"$schedule")" != null ]] ||
    fail "the every-minute purge schedule did not run within 75 s: $schedule"
log "the schedule ran $((SECONDS - start)) s after it was saved, at $(jq -r .lastRunTime <<<"$schedule"): $(jq -r .lastResult <<<"$schedule")"
assert_eq "deleted 2 tags and 2 manifests; 0 failed" "$(jq -r .lastResult <<<"$schedule")" \
    "lastResult of the scheduled purge"
assert_eq "release scratch v1" "$(sk_tags purge/repo)" "tags of purge/repo after the scheduled purge"
assert_eq 404 "$(manifest_status purge/repo "$F")" "GET purge/repo@$F (dev-4) after the scheduled purge"
cli purge schedule delete -n "$R" --schedule-name every-minute --yes >/dev/null
assert_eq '[]' "$(cli purge schedule list -n "$R" -o json | jq -c .)" "purge schedules after the delete"
pass "b) purge: the run deleted the dry run's 3 tags and 3 manifests; the schedule ran by itself"

# ================================================================== c) retention (Premium)

log "c) retention"
# Retention applies to manifests untagged after it was enabled: this one, untagged before, stays.
push_oci "$(image before)" ret/control:latest
BEFORE=$(sk_digest ret/control:latest)
push_oci "$(image after)" ret/control:latest
sleep 1.5  # its untagging a second older than the policy (times are kept to the second)
rc=0
"$BERTH_CLI" config retention update -n "$R" --status enabled --days 0 >"$IT_TMP/ret.out" 2>"$IT_TMP/ret.err" || rc=$?
assert_eq 2 "$rc" "exit code of enabling retention on a Standard registry ($(cat "$IT_TMP/ret.err"))"
grep -q Standard "$IT_TMP/ret.err" || fail "the refusal does not name the tier: $(cat "$IT_TMP/ret.err")"
assert_eq Premium "$(cli registry update --name "$R" --tier Premium -o json | jq -r .tier)" "tier after the update"
policy=$(cli config retention update -n "$R" --status enabled --days 0 -o json)
assert_eq "UntaggedManifests enabled 0" "$(jq -r '"\(.type) \(.status) \(.days)"' <<<"$policy")" \
    "retention policy after the update"

push_oci "$(image old)" ret/app:latest
OLD=$(sk_digest ret/app:latest)
assert_eq 200 "$(manifest_status ret/app "$OLD")" "GET ret/app@$OLD while tagged"
push_oci "$(image new)" ret/app:latest
untagged_at=$EPOCHREALTIME
for ((i = 0; i < 150; i++)); do
    [[ "$(manifest_status ret/app "$OLD")" == 404 ]] && break
    sleep 0.1
done
assert_eq 404 "$(manifest_status ret/app "$OLD")" "GET ret/app@$OLD (untagged) 15 s after it lost its tag"
log "retention deleted the untagged $OLD within $(awk -v a="$untagged_at" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s"
NEW=$(sk_digest ret/app:latest)
assert_ne "$OLD" "$NEW" "the two images pushed to ret/app:latest"
out="$IT_TMP/retained"
run_logged "$IT_TMP/pull-retained.log" sk copy "${SK_SRC[@]}" "docker://$REGISTRY/ret/app:latest" "oci:$out:latest"
assert_eq "$NEW" "$(oci_layout_digest "$out" latest)" "digest of ret/app:latest pulled after retention"
assert_eq "latest" "$(sk_tags ret/app)" "tags of ret/app after retention"
grep -q "1 untagged manifests deleted by retention" "$REGISTRY_DIR/log" ||
    fail "berthd's log does not say retention deleted the manifest: $(grep 'content lifecycle' "$REGISTRY_DIR/log")"
assert_eq 200 "$(manifest_status ret/control "$BEFORE")" \
    "GET ret/control@$BEFORE, untagged before retention was enabled, after several lifecycle passes"
cli config retention update -n "$R" --status disabled >/dev/null
pass "c) retention: the untagged image went, the tagged one pulls"

# ================================================================== d) quotas

log "d) quotas"
# Every image here is new content: a layer of 256 KiB of random bytes.
random_image "$IT_TMP/big1" 256 big1
random_image "$IT_TMP/big2" 256 big2
run_logged "$IT_TMP/pm-pull-1.log" pm pull "oci:$IT_TMP/big1:img"
BIG1_ID=$(pm images -q --no-trunc --filter "label=org.example.berth.fixture=big1" | head -n1)
[[ -n "$BIG1_ID" ]] || fail "podman has no image labelled big1 after pulling it"
run_logged "$IT_TMP/pm-tag-1.log" pm tag "$BIG1_ID" "$REGISTRY/quota/app:v1"
# A repository for the repository quota, with something in it (a quota needs the repository).
push_oci "$(image small)" quota/small:v1
push_oci "$(image small)" quota/other:v1

# Collect what the purges and retention above left linked, so the usage holds live content only.
sleep 2  # past the grace period (1 s, counted in whole seconds of file times)
gc=$(cli gc run --name "$R" --wait -o json)
assert_eq succeeded "$(jq -r .status <<<"$gc")" "garbage collection status before the quota"
USED=$(usage_of usedBytes)
LIMIT=$((USED + 16))
quota=$(cli quota update -n "$R" --bytes "$LIMIT" -o json)
assert_eq "$LIMIT $LIMIT $USED" "$(jq -r '"\(.quotaBytes) \(.effectiveQuotaBytes) \(.usedBytes)"' <<<"$quota")" \
    "registry quota (quotaBytes, effectiveQuotaBytes, usedBytes) after the update"
rc=0
pm push --tls-verify=false --format oci "$REGISTRY/quota/app:v1" >"$IT_TMP/pm-push-refused.log" 2>&1 || rc=$?
assert_ne 0 "$rc" "exit code of podman push over the registry quota"
grep -qi "denied" "$IT_TMP/pm-push-refused.log" ||
    fail "podman's error does not say denied: $(cat "$IT_TMP/pm-push-refused.log")"
grep -q "the registry's storage quota is $LIMIT bytes" "$IT_TMP/pm-push-refused.log" ||
    fail "podman's error does not name the registry's storage quota: $(cat "$IT_TMP/pm-push-refused.log")"
log "podman's refusal: $(grep -i denied "$IT_TMP/pm-push-refused.log" | tail -n1)"
assert_eq "$USED" "$(usage_of usedBytes)" "usedBytes after the refused push"
assert_eq 404 "$(manifest_status quota/app v1)" "GET quota/app:v1 after the refused push"
assert_eq "" "$(registry_tags quota/app)" "tags of quota/app after the refused push"
assert_eq 404 "$(http_status GET "http://$REGISTRY/v2/quota/app/blobs/sha256:${BIG1_ID#sha256:}")" \
    "GET the refused image's config blob"
# The layer podman tried to upload: its digest is in the upload URL podman's error names.
refused=$(grep -o 'digest=sha256%3A[0-9a-f]\{64\}' "$IT_TMP/pm-push-refused.log" | head -n1)
refused=${refused#digest=sha256%3A}
[[ -n "$refused" ]] || fail "podman's error names no layer digest: $(cat "$IT_TMP/pm-push-refused.log")"
assert_eq 404 "$(http_status GET "http://$REGISTRY/v2/quota/app/blobs/sha256:$refused")" "GET the refused layer"
# Its bytes reached the disk before the link was refused, as an unreferenced upload's do: garbage
# collection removes them.
refused_file="$REGISTRY_DIR/data/blobs/sha256/${refused:0:2}/$refused"
if [[ -e "$refused_file" ]]; then
    log "the refused layer's $(stat -c %s "$refused_file") bytes are on disk until garbage collection"
fi
sleep 2  # past the grace period (1 s, counted in whole seconds of file times)
gc=$(cli gc run --name "$R" --wait -o json)
assert_eq succeeded "$(jq -r .status <<<"$gc")" "garbage collection status after the refused push"
[[ ! -e "$refused_file" ]] || fail "the refused layer's file $refused_file is still on disk after garbage collection"
assert_eq 0 "$(jq -r .linksRemoved <<<"$gc")" "links garbage collection removed after the refused push"
assert_eq "$USED" "$(usage_of usedBytes)" "usedBytes after garbage collection"

quota=$(cli quota update -n "$R" --unlimited -o json)
assert_eq null "$(jq -r .quotaBytes <<<"$quota")" "quotaBytes after --unlimited"
run_logged "$IT_TMP/pm-push-1.log" pm push --tls-verify=false --format oci \
    --digestfile "$IT_TMP/big1.digest" "$REGISTRY/quota/app:v1"
assert_eq "$(cat "$IT_TMP/big1.digest")" "$(sk_digest quota/app:v1)" "digest of quota/app:v1 pushed after --unlimited"
((USED + 256 * 1024 <= $(usage_of usedBytes))) ||
    fail "usedBytes $(usage_of usedBytes) after the push does not count the 256 KiB layer (was $USED)"

# A repository quota: quota/small is full, quota/other has no quota.
SMALL_USED=$(cli quota show -n "$R" --repository quota/small -o json | jq -r .usedBytes)
quota=$(cli quota update -n "$R" --repository quota/small --bytes $((SMALL_USED + 16)) -o json)
assert_eq "quota/small $((SMALL_USED + 16))" "$(jq -r '"\(.repository) \(.quotaBytes)"' <<<"$quota")" \
    "repository quota after the update"
run_logged "$IT_TMP/pm-pull-2.log" pm pull "oci:$IT_TMP/big2:img"
BIG2_ID=$(pm images -q --no-trunc --filter "label=org.example.berth.fixture=big2" | head -n1)
[[ -n "$BIG2_ID" ]] || fail "podman has no image labelled big2 after pulling it"
run_logged "$IT_TMP/pm-tag-2.log" pm tag "$BIG2_ID" "$REGISTRY/quota/small:v2" "$REGISTRY/quota/other:v2"
rc=0
pm push --tls-verify=false --format oci "$REGISTRY/quota/small:v2" >"$IT_TMP/pm-push-small.log" 2>&1 || rc=$?
assert_ne 0 "$rc" "exit code of podman push over the repository quota"
grep -qi "denied" "$IT_TMP/pm-push-small.log" ||
    fail "podman's error does not say denied: $(cat "$IT_TMP/pm-push-small.log")"
grep -q "the repository's storage quota is $((SMALL_USED + 16)) bytes" "$IT_TMP/pm-push-small.log" ||
    fail "podman's error does not name the repository's storage quota: $(cat "$IT_TMP/pm-push-small.log")"
assert_eq "v1" "$(sk_tags quota/small)" "tags of quota/small after the refused push"
assert_eq "$SMALL_USED" "$(cli quota show -n "$R" --repository quota/small -o json | jq -r .usedBytes)" \
    "usedBytes of quota/small after the refused push"
run_logged "$IT_TMP/pm-push-other.log" pm push --tls-verify=false --format oci \
    --digestfile "$IT_TMP/big2.digest" "$REGISTRY/quota/other:v2"
assert_eq "$(cat "$IT_TMP/big2.digest")" "$(sk_digest quota/other:v2)" "digest of quota/other:v2 (no repository quota)"
cli quota update -n "$R" --repository quota/small --unlimited >/dev/null
run_logged "$IT_TMP/pm-push-small-2.log" pm push --tls-verify=false --format oci "$REGISTRY/quota/small:v2"
assert_eq "$(cat "$IT_TMP/big2.digest")" "$(sk_digest quota/small:v2)" "digest of quota/small:v2 once its quota is removed"
pass "d) quotas: the registry's and a repository's refuse podman's push, naming the quota"
