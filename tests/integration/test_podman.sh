#!/usr/bin/env bash
# podman against the registry: load the fixture from an OCI layout, push it
# as OCI and as Docker v2s2, pull it back, compare digests everywhere.
. "$(dirname "$0")/lib.sh"

require_cmd podman skopeo curl jq
start_registry
setup_containers_env podman skopeo

FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"

# assert_repo_digest IMAGE NAME@DIGEST: podman lists NAME@DIGEST in RepoDigests.
assert_repo_digest() {
    local rd
    rd=$(pm image inspect --format '{{json .RepoDigests}}' "$1")
    jq -e --arg r "$2" 'index($r) != null' <<<"$rd" >/dev/null ||
        fail "RepoDigests of $1 lack $2: $rd"
}

# 1. pull the fixture out of the layout
run_logged "$IT_TMP/pull-oci.log" pm pull "oci:$FIX:amd64"
img=$(pm images --format '{{.ID}}' --filter "id=${FIXTURE_AMD64_CONFIG#sha256:}" | head -n1)
[[ -n "$img" ]] || img=$(pm images -q --no-trunc | head -n1)
assert_eq "${FIXTURE_AMD64_CONFIG#sha256:}" "$(pm image inspect --format '{{.ID}}' "$img")" "image ID (config digest) of the loaded fixture"
run_logged "$IT_TMP/tag.log" pm tag "$img" "$REGISTRY/podman/busybox:oci" "$REGISTRY/podman/busybox:v2s2"

# 2. push --format oci, the digest podman reports is the registry's
run_logged "$IT_TMP/push-oci.log" pm push --tls-verify=false --format oci \
    --digestfile "$IT_TMP/oci.digest" "$REGISTRY/podman/busybox:oci"
oci_digest=$(cat "$IT_TMP/oci.digest")
assert_match '^sha256:[0-9a-f]{64}$' "$oci_digest" "digest file of podman push --format oci"
assert_eq "$oci_digest" "$(registry_manifest_digest podman/busybox oci)" "registry digest of podman/busybox:oci"
read -r st ctype _ < <(fetch_manifest podman/busybox oci "$IT_TMP/m-oci.json")
assert_eq 200 "$st" "GET podman/busybox:oci"
assert_eq "$MT_OCI_MANIFEST" "$ctype" "Content-Type of the OCI push"
assert_eq "${FIXTURE_AMD64_CONFIG}" "$(jq -r .config.digest "$IT_TMP/m-oci.json")" "config digest in the pushed OCI manifest"
while read -r d; do check_blob podman/busybox "$d"; done < <(jq -r '.config.digest, .layers[].digest' "$IT_TMP/m-oci.json")

# 3. push --format v2s2
run_logged "$IT_TMP/push-v2s2.log" pm push --tls-verify=false --format v2s2 \
    --digestfile "$IT_TMP/v2s2.digest" "$REGISTRY/podman/busybox:v2s2"
v2_digest=$(cat "$IT_TMP/v2s2.digest")
assert_eq "$v2_digest" "$(registry_manifest_digest podman/busybox v2s2)" "registry digest of podman/busybox:v2s2"
read -r st ctype _ < <(fetch_manifest podman/busybox v2s2 "$IT_TMP/m-v2.json")
assert_eq 200 "$st" "GET podman/busybox:v2s2"
assert_eq "$MT_DOCKER_MANIFEST" "$ctype" "Content-Type of the v2s2 push"
assert_eq "$MT_DOCKER_MANIFEST" "$(jq -r .mediaType "$IT_TMP/m-v2.json")" "mediaType in the v2s2 manifest"
assert_ne "$oci_digest" "$v2_digest" "OCI and v2s2 manifests"
while read -r d; do check_blob podman/busybox "$d"; done < <(jq -r '.config.digest, .layers[].digest' "$IT_TMP/m-v2.json")
assert_eq "oci v2s2 " "$(registry_tags podman/busybox | tr '\n' ' ')" "tags/list"

# 4. remove everything local, pull back both, digests and IDs identical
run_logged "$IT_TMP/rmi.log" pm rmi -a -f
assert_eq "" "$(pm images -q)" "local images after rmi -a"
for t in oci v2s2; do
    run_logged "$IT_TMP/pull-$t.log" pm pull --tls-verify=false "$REGISTRY/podman/busybox:$t"
done
# Both tags share one config, so podman keeps one image carrying both digests.
for d in "$oci_digest" "$v2_digest"; do
    assert_repo_digest "$REGISTRY/podman/busybox:oci" "$REGISTRY/podman/busybox@$d"
done
assert_eq "${FIXTURE_AMD64_CONFIG#sha256:}" "$(pm image inspect --format '{{.ID}}' "$REGISTRY/podman/busybox:oci")" "image ID after pull"
raw=$(sk inspect --tls-verify=false --raw "docker://$REGISTRY/podman/busybox:oci" | sha256sum | cut -d' ' -f1)
assert_eq "$oci_digest" "sha256:$raw" "skopeo inspect --raw | sha256sum"

# 5. pull by digest
run_logged "$IT_TMP/pull-digest.log" pm pull --tls-verify=false "$REGISTRY/podman/busybox@$oci_digest"
assert_eq "${FIXTURE_AMD64_CONFIG#sha256:}" "$(pm image inspect --format '{{.ID}}' "$REGISTRY/podman/busybox@$oci_digest")" "image ID after pull by digest"

# 6. the skopeo-pushed fixture keeps its exact digest through podman pull
# (into an empty store: podman records no new digest for an image it has)
run_logged "$IT_TMP/rmi2.log" pm rmi -a -f
run_logged "$IT_TMP/sk-push.log" sk copy --preserve-digests --dest-tls-verify=false "oci:$FIX:amd64" "docker://$REGISTRY/podman/fixture:1"
run_logged "$IT_TMP/pull-fixture.log" pm pull --tls-verify=false "$REGISTRY/podman/fixture:1"
assert_repo_digest "$REGISTRY/podman/fixture:1" "$REGISTRY/podman/fixture@$FIXTURE_AMD64_DIGEST"

# 7. multi-arch: podman pulls the amd64 child of the index
run_logged "$IT_TMP/rmi3.log" pm rmi -a -f
run_logged "$IT_TMP/sk-push-multi.log" sk copy --all --dest-tls-verify=false "oci:$FIX:multi" "docker://$REGISTRY/podman/multi:1"
run_logged "$IT_TMP/pull-multi.log" pm pull --tls-verify=false --arch amd64 "$REGISTRY/podman/multi:1"
assert_eq "${FIXTURE_AMD64_CONFIG#sha256:}" "$(pm image inspect --format '{{.ID}}' "$REGISTRY/podman/multi:1")" "image picked from the index"
assert_repo_digest "$REGISTRY/podman/multi:1" "$REGISTRY/podman/multi@$FIXTURE_INDEX_DIGEST"
assert_repo_digest "$REGISTRY/podman/multi:1" "$REGISTRY/podman/multi@$FIXTURE_AMD64_DIGEST"

# 8. a second push of the pulled image to a new repo reproduces the digest
run_logged "$IT_TMP/rmi4.log" pm rmi -a -f
run_logged "$IT_TMP/pull-again.log" pm pull --tls-verify=false "$REGISTRY/podman/busybox:oci"
run_logged "$IT_TMP/tag2.log" pm tag "$REGISTRY/podman/busybox:oci" "$REGISTRY/podman/again:oci"
run_logged "$IT_TMP/push-again.log" pm push --tls-verify=false --format oci \
    --digestfile "$IT_TMP/again.digest" "$REGISTRY/podman/again:oci"
assert_eq "$oci_digest" "$(cat "$IT_TMP/again.digest")" "digest of the re-push"
assert_eq "$oci_digest" "$(registry_manifest_digest podman/again oci)" "registry digest of the re-push"

pass "podman pull/push (oci, v2s2)/pull by tag and digest/multi-arch"
