#!/usr/bin/env bash
# skopeo against the registry: push an OCI layout, inspect, copy back
# byte-exactly, copy across repositories (blob mount), push a multi-arch index
# with --all, list tags, delete by digest.
. "$(dirname "$0")/lib.sh"

require_cmd skopeo curl jq
start_registry
setup_containers_env skopeo

FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"
log "fixture amd64 $FIXTURE_AMD64_DIGEST arm64 $FIXTURE_ARM64_DIGEST index $FIXTURE_INDEX_DIGEST"

SK_DEST=(--dest-tls-verify=false)
SK_SRC=(--src-tls-verify=false)

# 1. push oci layout -> registry, digest preserved
run_logged "$IT_TMP/copy1.log" sk copy "${SK_DEST[@]}" "oci:$FIX:amd64" "docker://$REGISTRY/skopeo/busybox:1.0"
assert_eq "$FIXTURE_AMD64_DIGEST" "$(registry_manifest_digest skopeo/busybox 1.0)" "registry digest of skopeo/busybox:1.0"

# 2. inspect --raw digest and inspect's reported Digest
raw="$IT_TMP/raw.json"
sk inspect --tls-verify=false --raw "docker://$REGISTRY/skopeo/busybox:1.0" >"$raw" || fail "skopeo inspect --raw failed"
assert_eq "$FIXTURE_AMD64_DIGEST" "$(sha256_file "$raw")" "sha256 of skopeo inspect --raw"
cmp -s "$raw" "$FIX/blobs/sha256/${FIXTURE_AMD64_DIGEST#sha256:}" || fail "inspect --raw differs from the local manifest bytes"
reported=$(sk inspect --tls-verify=false "docker://$REGISTRY/skopeo/busybox:1.0" | jq -r .Digest)
assert_eq "$FIXTURE_AMD64_DIGEST" "$reported" "skopeo inspect .Digest"
arch=$(sk inspect --tls-verify=false "docker://$REGISTRY/skopeo/busybox:1.0" | jq -r .Architecture)
assert_eq amd64 "$arch" "skopeo inspect .Architecture"
config_digest=$(sk inspect --tls-verify=false --config --raw "docker://$REGISTRY/skopeo/busybox:1.0" | sha256sum | cut -d' ' -f1)
assert_eq "$FIXTURE_AMD64_CONFIG" "sha256:$config_digest" "skopeo inspect --config --raw digest"

# 3. copy back to a new layout: every blob byte-identical
BACK="$IT_TMP/back"
run_logged "$IT_TMP/copy2.log" sk copy "${SK_SRC[@]}" "docker://$REGISTRY/skopeo/busybox:1.0" "oci:$BACK:copy"
assert_eq "$FIXTURE_AMD64_DIGEST" "$(oci_layout_digest "$BACK" copy)" "digest in copied-back index.json"
for d in "$FIXTURE_AMD64_DIGEST" "$FIXTURE_AMD64_CONFIG" "$FIXTURE_LAYER_DIGEST"; do
    h=${d#sha256:}
    [[ -f "$BACK/blobs/sha256/$h" ]] || fail "blob $d missing from the copied-back layout"
    cmp -s "$FIX/blobs/sha256/$h" "$BACK/blobs/sha256/$h" || fail "blob $d differs after the round trip"
done
check_blob skopeo/busybox "$FIXTURE_LAYER_DIGEST"
check_blob skopeo/busybox "$FIXTURE_AMD64_CONFIG"

# 4. registry -> registry across repositories (skopeo mounts the blobs)
run_logged "$IT_TMP/copy3.log" sk copy "${SK_SRC[@]}" "${SK_DEST[@]}" \
    "docker://$REGISTRY/skopeo/busybox:1.0" "docker://$REGISTRY/skopeo/other:copied"
assert_eq "$FIXTURE_AMD64_DIGEST" "$(registry_manifest_digest skopeo/other copied)" "digest after cross-repo copy"
check_blob skopeo/other "$FIXTURE_LAYER_DIGEST"
check_blob skopeo/other "$FIXTURE_AMD64_CONFIG"
# The mount endpoint itself: blob already in skopeo/busybox, mount into a third repo. The
# source holds the blob, so the mount must happen (201, blob served with its Location); a 202
# would open an upload instead and make every client send the layer again.
hdr="$IT_TMP/mount.headers"
st=$(http_status POST "http://$REGISTRY/v2/skopeo/mounted/blobs/uploads/?mount=$FIXTURE_LAYER_DIGEST&from=skopeo/busybox" -D "$hdr")
assert_eq 201 "$st" "POST mount from skopeo/busybox"
location=$(awk 'tolower($1) == "location:" {sub(/\r$/, "", $2); print $2}' "$hdr")
assert_match "/v2/skopeo/mounted/blobs/$FIXTURE_LAYER_DIGEST\$" "$location" "Location of the mounted blob"
check_blob skopeo/mounted "$FIXTURE_LAYER_DIGEST"

# 5. multi-arch index with --all
run_logged "$IT_TMP/copy4.log" sk copy --all "${SK_DEST[@]}" "oci:$FIX:multi" "docker://$REGISTRY/skopeo/multi:latest"
out="$IT_TMP/index.json"
read -r st ctype dcd < <(fetch_manifest skopeo/multi latest "$out")
assert_eq 200 "$st" "GET skopeo/multi:latest"
assert_eq "$MT_OCI_INDEX" "$ctype" "Content-Type of the index"
assert_eq "$FIXTURE_INDEX_DIGEST" "$(sha256_file "$out")" "index digest in the registry"
for d in "$FIXTURE_AMD64_DIGEST" "$FIXTURE_ARM64_DIGEST"; do
    assert_eq "$d" "$(registry_manifest_digest skopeo/multi "$d")" "child manifest $d"
done
check_blob skopeo/multi "$FIXTURE_ARM64_CONFIG"
# skopeo picks the platform child when asked for one architecture
arm=$(sk --override-arch arm64 --override-variant v8 inspect --tls-verify=false "docker://$REGISTRY/skopeo/multi:latest" | jq -r .Architecture)
assert_eq arm64 "$arm" "architecture of the child chosen for arm64"
arm=$(sk --override-arch arm64 --override-variant v8 inspect --tls-verify=false --config --raw "docker://$REGISTRY/skopeo/multi:latest" | sha256sum | cut -d' ' -f1)
assert_eq "$FIXTURE_ARM64_CONFIG" "sha256:$arm" "config of the child chosen for arm64"
rawidx=$(sk inspect --tls-verify=false --raw "docker://$REGISTRY/skopeo/multi:latest" | sha256sum | cut -d' ' -f1)
assert_eq "$FIXTURE_INDEX_DIGEST" "sha256:$rawidx" "skopeo inspect --raw of the index"
# and copies the whole index back
run_logged "$IT_TMP/copy5.log" sk copy --all "${SK_SRC[@]}" "docker://$REGISTRY/skopeo/multi:latest" "oci:$IT_TMP/back-multi:m"
assert_eq "$FIXTURE_INDEX_DIGEST" "$(oci_layout_digest "$IT_TMP/back-multi" m)" "index digest after copy back --all"

# 6. list-tags
for t in 1.1 1.2 2.0; do
    run_logged "$IT_TMP/copy-$t.log" sk copy "${SK_DEST[@]}" "oci:$FIX:amd64" "docker://$REGISTRY/skopeo/busybox:$t"
done
tags=$(sk list-tags --tls-verify=false "docker://$REGISTRY/skopeo/busybox" | jq -r '.Tags[]' | sort | tr '\n' ' ')
assert_eq "1.0 1.1 1.2 2.0 " "$tags" "skopeo list-tags"
assert_eq "1.0 1.1 1.2 2.0 " "$(registry_tags skopeo/busybox | tr '\n' ' ')" "tags/list"

# 7. delete by digest: every tag on that digest goes, the other repo keeps its copy
run_logged "$IT_TMP/delete.log" sk delete --tls-verify=false "docker://$REGISTRY/skopeo/busybox:1.1"
assert_eq "" "$(registry_tags skopeo/busybox | tr '\n' ' ')" "tags/list after skopeo delete"
read -r st _ _ < <(fetch_manifest skopeo/busybox "$FIXTURE_AMD64_DIGEST" "$IT_TMP/gone.json")
assert_eq 404 "$st" "GET deleted manifest by digest"
read -r st _ _ < <(fetch_manifest skopeo/busybox 1.0 "$IT_TMP/gone.json")
assert_eq 404 "$st" "GET tag of deleted manifest"
assert_eq "$FIXTURE_AMD64_DIGEST" "$(registry_manifest_digest skopeo/other copied)" "skopeo/other after delete in skopeo/busybox"
if sk inspect --tls-verify=false --raw "docker://$REGISTRY/skopeo/busybox:2.0" >/dev/null 2>&1; then
    fail "skopeo inspect of a deleted tag succeeded"
fi

# 8. push again after the delete works (same digest comes back)
run_logged "$IT_TMP/copy6.log" sk copy "${SK_DEST[@]}" "oci:$FIX:amd64" "docker://$REGISTRY/skopeo/busybox:again"
assert_eq "$FIXTURE_AMD64_DIGEST" "$(registry_manifest_digest skopeo/busybox again)" "digest after re-push"

pass "skopeo push/inspect/copy/mount/multi-arch/list-tags/delete"
