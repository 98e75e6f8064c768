#!/usr/bin/env bash
# containerd (ctr) against the registry: pull what skopeo pushed (single image
# and multi-arch index), push the pulled image to a new repository.
. "$(dirname "$0")/lib.sh"

require_cmd containerd ctr skopeo curl jq
start_registry
setup_containers_env skopeo

FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"
run_logged "$IT_TMP/sk1.log" sk copy --preserve-digests --dest-tls-verify=false "oci:$FIX:amd64" "docker://$REGISTRY/ctr/busybox:1"
run_logged "$IT_TMP/sk2.log" sk copy --preserve-digests --all --dest-tls-verify=false "oci:$FIX:multi" "docker://$REGISTRY/ctr/multi:1"

# containerd with everything under the temp dir
CD="$IT_TMP/ctrd"
mkdir -p "$CD/root" "$CD/state"
SOCK="$CD/containerd.sock"
cat >"$CD/config.toml" <<EOF
version = 2
root = "$CD/root"
state = "$CD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$SOCK.ttrpc"

[debug]
  address = ""
  level = "warn"

[metrics]
  address = ""
EOF
containerd --config "$CD/config.toml" >"$CD/log" 2>&1 &
CTRD_PID=$!
add_cleanup "stop_pid $CTRD_PID 10; umount -R '$CD/state' 2>/dev/null; umount -R '$CD/root' 2>/dev/null"
c() {
    ctr --address "$SOCK" --namespace berth-it "$@"
}
# ctr keeps no login: every pull and push carries the registry's credentials (--user).
mapfile -t CTR_USER < <(ctr_credentials)
wait_for 20 c version || { tail -n 20 "$CD/log" >&2; fail "containerd did not come up on $SOCK"; }
log "containerd pid $CTRD_PID on $SOCK"

# ctr_digest REF: the target digest containerd records for REF
ctr_digest() {
    c images ls | awk -v r="$1" '$1 == r {print $3}'
}

# 1. pull the single image; the digest matches the pushed manifest
run_logged "$IT_TMP/pull1.log" c images pull "${CTR_USER[@]}" --plain-http --snapshotter native "$REGISTRY/ctr/busybox:1"
assert_eq "$FIXTURE_AMD64_DIGEST" "$(ctr_digest "$REGISTRY/ctr/busybox:1")" "digest ctr reports for ctr/busybox:1"
assert_eq "$FIXTURE_AMD64_DIGEST" "$(registry_manifest_digest ctr/busybox 1)" "registry digest of ctr/busybox:1"
# content store holds the exact blobs
for d in "$FIXTURE_AMD64_DIGEST" "$FIXTURE_AMD64_CONFIG" "$FIXTURE_LAYER_DIGEST"; do
    got=$(c content get "$d" | sha256sum | cut -d' ' -f1)
    assert_eq "$d" "sha256:$got" "containerd content $d"
done

# 2. pull the multi-arch index: ctr records the index digest and fetches the
#    amd64 child; --all-platforms fetches both
run_logged "$IT_TMP/pull2.log" c images pull "${CTR_USER[@]}" --plain-http --snapshotter native --all-platforms "$REGISTRY/ctr/multi:1"
assert_eq "$FIXTURE_INDEX_DIGEST" "$(ctr_digest "$REGISTRY/ctr/multi:1")" "digest ctr reports for ctr/multi:1"
for d in "$FIXTURE_INDEX_DIGEST" "$FIXTURE_AMD64_DIGEST" "$FIXTURE_ARM64_DIGEST" "$FIXTURE_ARM64_CONFIG"; do
    got=$(c content get "$d" | sha256sum | cut -d' ' -f1)
    assert_eq "$d" "sha256:$got" "containerd content $d (from the index)"
done

# 3. push the pulled image to a new repository, then check it in the registry
run_logged "$IT_TMP/push1.log" c images push "${CTR_USER[@]}" --plain-http "$REGISTRY/ctr/pushed:1" "$REGISTRY/ctr/busybox:1"
assert_eq "$FIXTURE_AMD64_DIGEST" "$(registry_manifest_digest ctr/pushed 1)" "registry digest of ctr/pushed:1"
check_blob ctr/pushed "$FIXTURE_LAYER_DIGEST"
check_blob ctr/pushed "$FIXTURE_AMD64_CONFIG"

# 4. push the whole index to a new repository
run_logged "$IT_TMP/push2.log" c images push "${CTR_USER[@]}" --plain-http "$REGISTRY/ctr/pushed-multi:1" "$REGISTRY/ctr/multi:1"
read -r st ctype _ < <(fetch_manifest ctr/pushed-multi 1 "$IT_TMP/idx.json")
assert_eq 200 "$st" "GET ctr/pushed-multi:1"
assert_eq "$MT_OCI_INDEX" "$ctype" "Content-Type of the index pushed by ctr"
assert_eq "$FIXTURE_INDEX_DIGEST" "$(sha256_file "$IT_TMP/idx.json")" "index digest pushed by ctr"
for d in "$FIXTURE_AMD64_DIGEST" "$FIXTURE_ARM64_DIGEST"; do
    assert_eq "$d" "$(registry_manifest_digest ctr/pushed-multi "$d")" "child $d pushed by ctr"
done
check_blob ctr/pushed-multi "$FIXTURE_ARM64_CONFIG"

# 5. remove and pull the pushed copy back
run_logged "$IT_TMP/rm.log" c images rm "$REGISTRY/ctr/pushed:1"
run_logged "$IT_TMP/pull3.log" c images pull "${CTR_USER[@]}" --plain-http --snapshotter native "$REGISTRY/ctr/pushed:1"
assert_eq "$FIXTURE_AMD64_DIGEST" "$(ctr_digest "$REGISTRY/ctr/pushed:1")" "digest after pulling ctr/pushed:1"

pass "ctr pull (image, index), push (image, index), pull back"
