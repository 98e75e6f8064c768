#!/usr/bin/env bash
# docker against the registry: a private dockerd (everything in the temp dir),
# docker load/tag/push/rmi/pull, RepoDigests against the registry's digests,
# pull of an OCI image and of a multi-arch index pushed by skopeo.
. "$(dirname "$0")/lib.sh"

require_cmd "$DOCKERD_BIN" "$DOCKER_BIN" skopeo curl jq
start_registry
setup_containers_env skopeo
setup_docker_config

FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"

start_private_dockerd
docker_login "$REGISTRY"

# docker_repo_digest IMAGE REPO: the digest in IMAGE's RepoDigests for REPO
docker_repo_digest() {
    dk image inspect --format '{{json .RepoDigests}}' "$1" |
        jq -r --arg r "$2" '.[] | select(startswith($r + "@")) | sub("^[^@]*@"; "")' | head -n1
}

# 1. docker load (docker 20.10 does not load OCI layouts: go through a
#    docker-archive made by skopeo)
run_logged "$IT_TMP/sk-archive.log" sk copy "oci:$FIX:amd64" "docker-archive:$IT_TMP/fixture.tar:berth/fixture:latest"
run_logged "$IT_TMP/load.log" dk load -i "$IT_TMP/fixture.tar"
image_id=$(dk image inspect --format '{{.Id}}' berth/fixture:latest)
assert_eq "$FIXTURE_AMD64_CONFIG" "$image_id" "docker image ID (config digest) after load"

# 2. tag + push: the digest docker reports is the registry's
run_logged "$IT_TMP/tag.log" dk tag berth/fixture:latest "$REGISTRY/docker/busybox:1"
run_logged "$IT_TMP/push.log" dk push "$REGISTRY/docker/busybox:1"
push_digest=$(grep -o 'digest: sha256:[0-9a-f]\{64\}' "$IT_TMP/push.log" | head -n1 | cut -d' ' -f2)
assert_match '^sha256:[0-9a-f]{64}$' "$push_digest" "digest printed by docker push"
reg_digest=$(registry_manifest_digest docker/busybox 1)
assert_eq "$reg_digest" "$push_digest" "docker push digest vs registry"
assert_eq "$reg_digest" "$(docker_repo_digest "$REGISTRY/docker/busybox:1" "$REGISTRY/docker/busybox")" "RepoDigests after push"
read -r st ctype _ < <(fetch_manifest docker/busybox 1 "$IT_TMP/m.json")
assert_eq 200 "$st" "GET docker/busybox:1"
assert_eq "$MT_DOCKER_MANIFEST" "$ctype" "Content-Type of the manifest docker pushed"
assert_eq "$FIXTURE_AMD64_CONFIG" "$(jq -r .config.digest "$IT_TMP/m.json")" "config digest in the pushed manifest"
while read -r d; do check_blob docker/busybox "$d"; done < <(jq -r '.config.digest, .layers[].digest' "$IT_TMP/m.json")

# 3. rmi everything, pull back: same ID, same RepoDigest
run_logged "$IT_TMP/rmi.log" dk rmi -f "$REGISTRY/docker/busybox:1" berth/fixture:latest
if dk image inspect "$FIXTURE_AMD64_CONFIG" >/dev/null 2>&1; then
    fail "image still present after docker rmi"
fi
run_logged "$IT_TMP/pull.log" dk pull "$REGISTRY/docker/busybox:1"
assert_eq "$FIXTURE_AMD64_CONFIG" "$(dk image inspect --format '{{.Id}}' "$REGISTRY/docker/busybox:1")" "image ID after pull"
assert_eq "$reg_digest" "$(docker_repo_digest "$REGISTRY/docker/busybox:1" "$REGISTRY/docker/busybox")" "RepoDigests after pull"
grep -q "Digest: $reg_digest" "$IT_TMP/pull.log" || fail "docker pull did not print Digest: $reg_digest"

# 4. pull by digest
run_logged "$IT_TMP/pull-digest.log" dk pull "$REGISTRY/docker/busybox@$reg_digest"
assert_eq "$FIXTURE_AMD64_CONFIG" "$(dk image inspect --format '{{.Id}}' "$REGISTRY/docker/busybox@$reg_digest")" "image ID after pull by digest"

# 5. round trip: pushing the pulled image to a new repo gives the same digest
run_logged "$IT_TMP/tag2.log" dk tag "$REGISTRY/docker/busybox:1" "$REGISTRY/docker/again:1"
run_logged "$IT_TMP/push2.log" dk push "$REGISTRY/docker/again:1"
assert_eq "$reg_digest" "$(registry_manifest_digest docker/again 1)" "digest of the re-pushed image"

# 6. an OCI manifest pushed by skopeo, and a multi-arch OCI index
run_logged "$IT_TMP/sk-oci.log" sk copy --preserve-digests --dest-tls-verify=false "oci:$FIX:amd64" "docker://$REGISTRY/docker/oci:1"
run_logged "$IT_TMP/sk-multi.log" sk copy --preserve-digests --all --dest-tls-verify=false "oci:$FIX:multi" "docker://$REGISTRY/docker/multi:1"
run_logged "$IT_TMP/pull-oci.log" dk pull "$REGISTRY/docker/oci:1"
assert_eq "$FIXTURE_AMD64_DIGEST" "$(docker_repo_digest "$REGISTRY/docker/oci:1" "$REGISTRY/docker/oci")" "RepoDigests of the OCI image"
run_logged "$IT_TMP/pull-multi.log" dk pull "$REGISTRY/docker/multi:1"
assert_eq "$FIXTURE_INDEX_DIGEST" "$(docker_repo_digest "$REGISTRY/docker/multi:1" "$REGISTRY/docker/multi")" "RepoDigests of the multi-arch image"
assert_eq "$FIXTURE_AMD64_CONFIG" "$(dk image inspect --format '{{.Id}}' "$REGISTRY/docker/multi:1")" "platform docker picked from the index"

# 7. a container runs from the pulled image (no network needed)
out=$(dk run --rm --network none "$REGISTRY/docker/busybox:1" /bin/sh -c 'echo hello-from-berth' 2>"$IT_TMP/run.err") ||
    { cat "$IT_TMP/run.err" >&2; fail "docker run of the pulled image failed"; }
assert_eq hello-from-berth "$out" "docker run output"

pass "docker load/tag/push/rmi/pull (tag, digest), OCI image and index pulls, run"
