#!/usr/bin/env bash
# A named registry reached from the same machine without DNS or /etc/hosts: berthd
# --registry-listener gives registry "teamreg" a port of its own; podman and skopeo push to
# 127.0.0.1:<that port> and pull back, and curl through the Host-header route
# (teamreg.registry.local on the main port) proves the images landed in teamreg and not in
# the default registry. Needs berthd.
. "$(dirname "$0")/lib.sh"

[[ -n "${BERTHD:-}" ]] || skip "registry listeners are a berthd feature (BERTHD unset)"
require_cmd podman skopeo curl jq

# The listener is configured the way an operator may: through the environment (start_registry
# passes only the main listener's flags).
TEAM_PORT=$(pick_free_port)
export BERTH_REGISTRY_LISTENERS="teamreg=127.0.0.1:$TEAM_PORT"
start_registry
setup_containers_env skopeo
TEAM="127.0.0.1:$TEAM_PORT"
DOMAIN=registry.local   # berthd's default domain

mgmt() { # METHOD PATH [BODY]
    registry_curl -sf -X "$1" \
        -H 'Content-Type: application/json' ${3:+--data "$3"} "http://$REGISTRY$2"
}
# curl through the Host-header route: the login server name on the main port, no DNS.
curl_named() { # REGISTRY-NAME PATH [CURL ARGS...]
    local name=$1 path=$2
    shift 2
    registry_curl -sf --resolve "$name.$DOMAIN:$REGISTRY_PORT:127.0.0.1" "$@" \
        "http://$name.$DOMAIN:$REGISTRY_PORT$path"
}
manifest_digest_named() { # REGISTRY-NAME REPO REF: sha256 of the manifest bytes served
    local sum
    sum=$(curl_named "$1" "/v2/$2/manifests/$3" -H "Accept: $ACCEPT_ALL_MANIFESTS" | sha256sum)
    echo "sha256:${sum%% *}"
}

# 1. the listener answers for teamreg before teamreg exists: a clear NAME_UNKNOWN, never the
#    default registry
body=$(registry_curl -s "http://$TEAM/v2/")
assert_match '"NAME_UNKNOWN"' "$body" "listener of a registry not created yet"
assert_match "teamreg" "$body" "the missing registry is named"

# 2. created later through the management API, it is reachable at once
mgmt POST /mgmt/v1/registries '{"name":"teamreg","tier":"Standard"}' >/dev/null ||
    fail "create teamreg"
assert_eq 200 "$(http_status GET "http://$TEAM/v2/")" "GET /v2/ through the teamreg listener"
# podman and skopeo log in to the listener with a refresh token of teamreg, exchanged there.
TEAM_REFRESH_TOKEN=$(refresh_token_for "$TEAM")
containers_login pm "$TEAM" "$TEAM_REFRESH_TOKEN"
containers_login sk "$TEAM" "$TEAM_REFRESH_TOKEN"

FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"

# 3. podman pushes through the listener
run_logged "$IT_TMP/pull-oci.log" pm pull "oci:$FIX:amd64"
img=$(pm images -q --no-trunc | head -n1)
[[ -n "$img" ]] || fail "podman did not load the fixture"
run_logged "$IT_TMP/tag.log" pm tag "$img" "$TEAM/team/app:podman"
run_logged "$IT_TMP/push.log" pm push --tls-verify=false --format oci \
    --digestfile "$IT_TMP/podman.digest" "$TEAM/team/app:podman"
podman_digest=$(cat "$IT_TMP/podman.digest")
assert_match '^sha256:[0-9a-f]{64}$' "$podman_digest" "digest file of podman push"

# 4. skopeo pushes through the listener
run_logged "$IT_TMP/skopeo.log" sk copy --dest-tls-verify=false --preserve-digests \
    "oci:$FIX:arm64" "docker://$TEAM/team/tool:skopeo"

# 5. through the Host-header route: both images are in teamreg, the default registry is empty
assert_eq '{"repositories":["team/app","team/tool"]}' "$(curl_named teamreg /v2/_catalog)" \
    "teamreg catalog (Host route)"
assert_eq '{"repositories":[]}' "$(registry_curl -sf "http://$REGISTRY/v2/_catalog")" \
    "default registry catalog"
assert_eq "$podman_digest" "$(manifest_digest_named teamreg team/app podman)" \
    "podman's manifest in teamreg"
assert_eq "$FIXTURE_ARM64_DIGEST" "$(manifest_digest_named teamreg team/tool skopeo)" \
    "skopeo's manifest in teamreg"
assert_eq 404 "$(http_status GET "http://$REGISTRY/v2/team/app/manifests/podman")" \
    "podman's tag in the default registry"
repos=$(mgmt GET /mgmt/v1/registries/teamreg/repositories | jq -r '[.repositories[].name] | join(" ")')
assert_eq "team/app team/tool" "$repos" "teamreg repositories (management API)"

# 6. the listener wins over the Host header
assert_eq '{"repositories":["team/app","team/tool"]}' \
    "$(registry_curl -sf -H "Host: otherreg.$DOMAIN:$TEAM_PORT" "http://$TEAM/v2/_catalog")" \
    "catalog through the listener with another registry's Host"

# 7. both clients read back through the listener
run_logged "$IT_TMP/rmi.log" pm rmi -a -f
run_logged "$IT_TMP/pull.log" pm pull --tls-verify=false "$TEAM/team/app:podman"
assert_eq "${FIXTURE_AMD64_CONFIG#sha256:}" \
    "$(pm image inspect --format '{{.ID}}' "$TEAM/team/app:podman")" "image ID after podman pull"
raw=$(sk inspect --tls-verify=false --raw "docker://$TEAM/team/tool:skopeo" | sha256sum)
assert_eq "$FIXTURE_ARM64_DIGEST" "sha256:${raw%% *}" "skopeo inspect --raw through the listener"

pass "teamreg reached through its own port by podman and skopeo; content only in teamreg"
