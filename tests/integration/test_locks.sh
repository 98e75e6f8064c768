#!/usr/bin/env bash
# Locks (changeable attributes) against a real client: a write-locked tag keeps its image.
# podman pushes an image to locks/app:v1, the tag is write-locked through the management API,
# and a push of a new image (the same content as Docker v2s2: another manifest) to the tag fails
# with the lock named in podman's error while the tag still points at the first digest; the same
# image may be pushed again, and once unlocked the tag moves. Then /acr/v1 describes the
# pushed image and write-locks the repository, which podman's next push runs into. berthd
# only: the reference registry has no locks.
. "$(dirname "$0")/lib.sh"

require_cmd podman skopeo curl jq
[[ -n "${BERTHD:-}" ]] || skip "locks are berthd's: BERTHD is not set"
start_registry
setup_containers_env podman skopeo

FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"
MGMT="http://$REGISTRY/mgmt/v1/registries/default/repositories/locks/app"

# set_tag_attributes JSON: PATCH the tag's changeable attributes; echoes the answer.
set_tag_attributes() {
    local status
    status=$(registry_curl -s -o "$IT_TMP/patch.json" -w '%{http_code}' -X PATCH \
        -H 'Content-Type: application/json' --data "$1" "$MGMT/tags/v1")
    assert_eq 200 "$status" "PATCH $MGMT/tags/v1 $1 ($(cat "$IT_TMP/patch.json"))"
    cat "$IT_TMP/patch.json"
}

# 1. the first image, as OCI
run_logged "$IT_TMP/pull-oci.log" pm pull "oci:$FIX:amd64"
img=$(pm images -q --no-trunc | head -n1)
run_logged "$IT_TMP/tag.log" pm tag "$img" "$REGISTRY/locks/app:v1"
run_logged "$IT_TMP/push-1.log" pm push --tls-verify=false --format oci \
    --digestfile "$IT_TMP/first.digest" "$REGISTRY/locks/app:v1"
first=$(cat "$IT_TMP/first.digest")
assert_eq "$first" "$(registry_manifest_digest locks/app v1)" "digest of locks/app:v1"

# 2. lock the tag against writes
answer=$(set_tag_attributes '{"writeEnabled":false}')
assert_eq false "$(jq -r .changeableAttributes.writeEnabled <<<"$answer")" "writeEnabled after PATCH"
assert_eq true "$(jq -r .changeableAttributes.deleteEnabled <<<"$answer")" "deleteEnabled after PATCH"

# 3. a new image (v2s2: another manifest) to the locked tag fails, naming the lock
rc=0
pm push --tls-verify=false --format v2s2 "$REGISTRY/locks/app:v1" >"$IT_TMP/push-2.log" 2>&1 || rc=$?
assert_ne 0 "$rc" "exit code of podman push to a write-locked tag"
grep -q "tag v1 of repository locks/app is locked: writeEnabled is false" "$IT_TMP/push-2.log" ||
    fail "podman's error does not name the lock: $(cat "$IT_TMP/push-2.log")"
grep -qi "denied" "$IT_TMP/push-2.log" ||
    fail "podman's error does not say the access was denied: $(cat "$IT_TMP/push-2.log")"
assert_eq "$first" "$(registry_manifest_digest locks/app v1)" "locks/app:v1 after the refused push"

# 4. the same image again is no change, and is accepted
run_logged "$IT_TMP/push-3.log" pm push --tls-verify=false --format oci \
    --digestfile "$IT_TMP/again.digest" "$REGISTRY/locks/app:v1"
assert_eq "$first" "$(cat "$IT_TMP/again.digest")" "digest of the repeated push"

# 5. unlocked, the tag moves
set_tag_attributes '{"writeEnabled":true}' >/dev/null
run_logged "$IT_TMP/push-4.log" pm push --tls-verify=false --format v2s2 \
    --digestfile "$IT_TMP/second.digest" "$REGISTRY/locks/app:v1"
second=$(cat "$IT_TMP/second.digest")
assert_ne "$first" "$second" "the v2s2 manifest and the OCI one"
assert_eq "$second" "$(registry_manifest_digest locks/app v1)" "locks/app:v1 after unlocking"

# 6. the repository API (/acr/v1) describes what podman pushed, the platform read from the
# image's config (Docker v2s2: a Docker config), and locks the repository the hosted way
ACR="http://$REGISTRY/acr/v1/locks/app"
acr=$(registry_curl -s "$ACR/_manifests/$second")
assert_eq amd64 "$(jq -r .manifest.architecture <<<"$acr")" "architecture of $second ($acr)"
assert_eq linux "$(jq -r .manifest.os <<<"$acr")" "os of $second"
assert_eq v1 "$(jq -r '.manifest.tags | join(",")' <<<"$acr")" "tags of $second"
acr=$(registry_curl -s "$ACR/_tags?orderby=timedesc&n=1")
assert_eq "$second" "$(jq -r '.tags[0].digest' <<<"$acr")" "the latest tag's digest ($acr)"
status=$(registry_curl -s -o "$IT_TMP/acr-patch.json" -w '%{http_code}' -X PATCH \
    -H 'Content-Type: application/json' --data '{"writeEnabled":false}' "$ACR")
assert_eq 200 "$status" "PATCH $ACR ($(cat "$IT_TMP/acr-patch.json"))"
rc=0
pm push --tls-verify=false --format oci "$REGISTRY/locks/app:v1" "docker://$REGISTRY/locks/app:v2" \
    >"$IT_TMP/push-5.log" 2>&1 || rc=$?
assert_ne 0 "$rc" "exit code of podman push to a write-locked repository"
grep -q "repository locks/app is locked: writeEnabled is false" "$IT_TMP/push-5.log" ||
    fail "podman's error does not name the repository lock: $(cat "$IT_TMP/push-5.log")"

pass "a write-locked tag keeps its image; podman names the lock; /acr/v1 describes and locks"
