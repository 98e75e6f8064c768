#!/usr/bin/env bash
# buildah against the registry: build from scratch (copy + run under chroot
# isolation), commit, push, pull back; build a two-architecture manifest list
# and push it with --all.
. "$(dirname "$0")/lib.sh"

require_cmd buildah skopeo curl jq
start_registry
setup_containers_env buildah skopeo

ROOTFS="$IT_TMP/rootfs"
fixture_rootfs "$ROOTFS"

# build_image ARCH NAME: from scratch, busybox rootfs, one RUN step.
build_image() {
    local arch=$1 name=$2 ctr
    ctr=$(bh from --arch "$arch" scratch)
    bh copy "$ctr" "$ROOTFS" / >/dev/null
    bh config --arch "$arch" --os linux --cmd /bin/sh \
        --label "org.example.berth.built-for=$arch" "$ctr"
    if [[ "$arch" == amd64 ]]; then
        bh run --isolation chroot "$ctr" -- /bin/sh -c 'echo built > /etc/berth-built' ||
            fail "buildah run --isolation chroot failed"
    else
        # a foreign arch cannot run here; add the file by copy instead
        echo built >"$IT_TMP/berth-built"
        bh copy "$ctr" "$IT_TMP/berth-built" /etc/berth-built >/dev/null
    fi
    bh commit --quiet --format oci --rm "$ctr" "$name" >/dev/null 2>"$IT_TMP/commit.log" ||
        { cat "$IT_TMP/commit.log" >&2; fail "buildah commit $name failed"; }
}

# 1. build, commit, push
build_image amd64 localhost/berth/amd64
build_image arm64 localhost/berth/arm64
assert_eq arm64 "$(bh inspect --type image --format '{{.OCIv1.Architecture}}' localhost/berth/arm64)" "arch of the arm64 image"

run_logged "$IT_TMP/push1.log" bh push --tls-verify=false --digestfile "$IT_TMP/push1.digest" \
    localhost/berth/amd64 "docker://$REGISTRY/buildah/busybox:amd64"
pushed=$(cat "$IT_TMP/push1.digest")
assert_match '^sha256:[0-9a-f]{64}$' "$pushed" "buildah push digest file"
assert_eq "$pushed" "$(registry_manifest_digest buildah/busybox amd64)" "registry digest of buildah/busybox:amd64"
read -r st ctype _ < <(fetch_manifest buildah/busybox amd64 "$IT_TMP/m1.json")
assert_eq "$MT_OCI_MANIFEST" "$ctype" "Content-Type of the pushed image"
while read -r d; do check_blob buildah/busybox "$d"; done < <(jq -r '.config.digest, .layers[].digest' "$IT_TMP/m1.json")
img_id=$(bh inspect --type image --format '{{.FromImageID}}' localhost/berth/amd64)
assert_eq "$img_id" "$(jq -r .config.digest "$IT_TMP/m1.json" | sed 's/^sha256://')" "config digest = buildah image ID"

# 2. pull it back into an empty store: same image, file from RUN present
run_logged "$IT_TMP/rmi.log" bh rmi -a -f
run_logged "$IT_TMP/pull.log" bh pull --tls-verify=false "$REGISTRY/buildah/busybox:amd64"
assert_eq "$img_id" "$(bh inspect --type image --format '{{.FromImageID}}' "$REGISTRY/buildah/busybox:amd64")" "image ID after pull"
assert_eq "$pushed" "$(bh inspect --type image --format '{{.FromImageDigest}}' "$REGISTRY/buildah/busybox:amd64")" "image digest after pull"
ctr=$(bh from --pull=false "$REGISTRY/buildah/busybox:amd64")
out=$(bh run --isolation chroot "$ctr" -- /bin/cat /etc/berth-built) || fail "buildah run on the pulled image failed"
assert_eq built "$out" "content written by RUN, after the round trip"
bh rm "$ctr" >/dev/null

# 3. multi-arch list: create, add two arches, push --all
#    list A holds the local images (buildah compresses the children while
#    pushing, so their digests are only known from the registry's index);
#    list B holds children buildah pushed itself (digests from --digestfile).
build_image amd64 localhost/berth/amd64
build_image arm64 localhost/berth/arm64
for arch in amd64 arm64; do
    run_logged "$IT_TMP/push-$arch.log" bh push --tls-verify=false --digestfile "$IT_TMP/child-$arch.digest" \
        "localhost/berth/$arch" "docker://$REGISTRY/buildah/multi-b:$arch"
done
run_logged "$IT_TMP/mcreate.log" bh manifest create localhost/berth/list-a
run_logged "$IT_TMP/mcreate.log" bh manifest create localhost/berth/list-b
run_logged "$IT_TMP/madd1.log" bh manifest add --arch amd64 --os linux localhost/berth/list-a containers-storage:localhost/berth/amd64
run_logged "$IT_TMP/madd2.log" bh manifest add --arch arm64 --variant v8 --os linux localhost/berth/list-a containers-storage:localhost/berth/arm64
run_logged "$IT_TMP/madd3.log" bh manifest add --tls-verify=false --arch amd64 --os linux localhost/berth/list-b \
    "docker://$REGISTRY/buildah/multi-b@$(cat "$IT_TMP/child-amd64.digest")"
run_logged "$IT_TMP/madd4.log" bh manifest add --tls-verify=false --arch arm64 --variant v8 --os linux localhost/berth/list-b \
    "docker://$REGISTRY/buildah/multi-b@$(cat "$IT_TMP/child-arm64.digest")"
bh manifest inspect localhost/berth/list-b >"$IT_TMP/list-b-local.json"

# verify_index REPO TAG DIGEST_FILE [LOCAL_LIST_JSON]
verify_index() {
    local repo=$1 tag=$2 list_digest idx st ctype dcd n=0 d arch m b cfg_arch local_d
    list_digest=$(cat "$3")
    assert_match '^sha256:[0-9a-f]{64}$' "$list_digest" "buildah manifest push digest file ($repo)"
    idx="$IT_TMP/index-${repo//\//_}.json"
    read -r st ctype dcd < <(fetch_manifest "$repo" "$tag" "$idx" "$MT_OCI_INDEX")
    assert_eq 200 "$st" "GET $repo:$tag (Accept: OCI index)"
    assert_eq "$MT_OCI_INDEX" "$ctype" "Content-Type of $repo:$tag"
    assert_eq "$list_digest" "$(sha256_file "$idx")" "index digest of $repo: registry body vs buildah --digestfile"
    [[ "$dcd" == - ]] || assert_eq "$list_digest" "$dcd" "Docker-Content-Digest of $repo:$tag"
    assert_eq "$MT_OCI_INDEX" "$(jq -r .mediaType "$idx")" "mediaType in the index"
    assert_eq "amd64 arm64 " "$(jq -r '.manifests[].platform.architecture' "$idx" | sort | tr '\n' ' ')" "platforms in $repo"
    while read -r d arch; do
        if [[ -n "${4:-}" ]]; then
            local_d=$(jq -r --arg a "$arch" '.manifests[] | select(.platform.architecture == $a) | .digest' "$4")
            assert_eq "$local_d" "$d" "child digest for $arch: buildah manifest inspect vs registry index"
        fi
        m="$IT_TMP/child-${repo//\//_}-$arch.json"
        read -r st ctype _ < <(fetch_manifest "$repo" "$d" "$m")
        assert_eq 200 "$st" "GET $repo child manifest $d ($arch)"
        assert_eq "$d" "$(sha256_file "$m")" "child manifest body digest ($repo, $arch)"
        while read -r b; do check_blob "$repo" "$b"; done < <(jq -r '.config.digest, .layers[].digest' "$m")
        cfg_arch=$(registry_curl -sfL "http://$REGISTRY/v2/$repo/blobs/$(jq -r .config.digest "$m")" | jq -r .architecture)
        assert_eq "$arch" "$cfg_arch" "architecture in the child's config ($repo)"
        n=$((n + 1))
    done < <(jq -r '.manifests[] | "\(.digest) \(.platform.architecture)"' "$idx")
    assert_eq 2 "$n" "children verified in $repo"
    raw=$(sk inspect --tls-verify=false --raw "docker://$REGISTRY/$repo:$tag" | sha256sum | cut -d' ' -f1)
    assert_eq "$list_digest" "sha256:$raw" "skopeo inspect --raw of $repo:$tag"
}

run_logged "$IT_TMP/mpush-a.log" bh manifest push --all --format oci --tls-verify=false \
    --digestfile "$IT_TMP/list-a.digest" localhost/berth/list-a "docker://$REGISTRY/buildah/multi:latest"
verify_index buildah/multi latest "$IT_TMP/list-a.digest"

run_logged "$IT_TMP/mpush-b.log" bh manifest push --all --format oci --tls-verify=false \
    --digestfile "$IT_TMP/list-b.digest" localhost/berth/list-b "docker://$REGISTRY/buildah/multi-b:list"
verify_index buildah/multi-b list "$IT_TMP/list-b.digest" "$IT_TMP/list-b-local.json"
for arch in amd64 arm64; do
    jq -e --arg d "$(cat "$IT_TMP/child-$arch.digest")" '[.manifests[].digest] | index($d) != null' \
        "$IT_TMP/index-buildah_multi-b.json" >/dev/null ||
        fail "index of buildah/multi-b lacks the $arch digest buildah push reported"
done

# 4. pull the list's arm64 child by platform
run_logged "$IT_TMP/pull-arm.log" bh pull --tls-verify=false --arch arm64 --variant v8 "$REGISTRY/buildah/multi:latest"
assert_eq arm64 "$(bh inspect --type image --format '{{.OCIv1.Architecture}}' "$REGISTRY/buildah/multi:latest")" "arch of the image pulled for arm64"

pass "buildah from/copy/run/commit/push/pull and manifest create/add/push --all"
