#!/usr/bin/env bash
# Registries as tenants: three registries of different tiers created with the berth CLI, a
# real client (skopeo) pushing to each through its login server name, and the proof that
# content, catalog, tags and usage stay apart. Needs berthd and the berth CLI.
. "$(dirname "$0")/lib.sh"

[[ -n "${BERTHD:-}" ]] || skip "registries are a berthd feature (BERTHD unset)"
[[ -n "${BERTH_CLI:-}" && -x "${BERTH_CLI}" ]] || skip "BERTH_CLI (the berth CLI) not given"
require_cmd skopeo curl jq unshare mount

start_registry
setup_containers_env skopeo
DOMAIN=registry.local   # berthd's default domain

berth() {
    "$BERTH_CLI" --server "http://$REGISTRY" --token "$ADMIN_TOKEN" "$@"
}

# Login server names resolve to loopback only inside the client's own mount namespace: a
# private /etc/hosts, nothing on the machine changes.
HOSTS="$IT_TMP/hosts"
{
    echo "127.0.0.1 localhost"
    for r in basicreg standardreg premiumreg; do echo "127.0.0.1 $r.$DOMAIN"; done
} >"$HOSTS"
sk_hosts() {
    unshare -m --propagation private -- /bin/sh -c \
        'mount --bind "$0" /etc/hosts && mount --bind "$1" /var/lib/containers/cache && shift && exec "$@"' \
        "$HOSTS" "$IT_TMP/containers/cache" \
        skopeo --policy "$CONTAINERS_POLICY" --registries-conf "$CONTAINERS_REGISTRIES_CONF" "$@"
}
mkdir -p "$IT_TMP/containers/cache"
# curl against a login server name without touching DNS.
curl_reg() { # REGISTRY-NAME PATH
    registry_curl -sf --resolve "$1.$DOMAIN:$REGISTRY_PORT:127.0.0.1" "http://$1.$DOMAIN:$REGISTRY_PORT$2"
}

FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"

# 1. three registries, three tiers, through the CLI
berth registry create --name basicreg --tier Basic >/dev/null || fail "create basicreg"
berth registry create --name standardreg --tier Standard >/dev/null || fail "create standardreg"
berth registry create --name premiumreg --tier Premium >/dev/null || fail "create premiumreg"
listed=$(berth registry list --output json | jq -r '.[].name' | sort | tr '\n' ' ')
assert_eq "basicreg default premiumreg standardreg " "$listed" "registries listed"
assert_eq "Premium" "$(berth registry show --name premiumreg --output json | jq -r .tier)" "premium tier"
assert_eq "premiumreg.$DOMAIN" "$(berth registry show --name premiumreg --output json | jq -r .loginServer)" "login server"

# 2. push with skopeo through each login server name, logged in to each (a refresh token
#    belongs to one registry)
for r in basicreg standardreg premiumreg; do
    containers_login sk_hosts "$r.$DOMAIN:$REGISTRY_PORT" \
        "$(refresh_token_for "$r.$DOMAIN:$REGISTRY_PORT")"
done
sk_hosts copy --dest-tls-verify=false --preserve-digests "oci:$FIX:amd64" \
    "docker://basicreg.$DOMAIN:$REGISTRY_PORT/team/app:1.0" >/dev/null || fail "push to basicreg"
sk_hosts copy --dest-tls-verify=false --preserve-digests "oci:$FIX:arm64" \
    "docker://standardreg.$DOMAIN:$REGISTRY_PORT/team/app:2.0" >/dev/null || fail "push to standardreg"
sk_hosts copy --dest-tls-verify=false --preserve-digests "oci:$FIX:amd64" \
    "docker://premiumreg.$DOMAIN:$REGISTRY_PORT/other/thing:x" >/dev/null || fail "push to premiumreg"

# 3. each catalog lists only its own repositories; the default registry saw nothing
assert_eq '{"repositories":["team/app"]}' "$(curl_reg basicreg /v2/_catalog)" "basicreg catalog"
assert_eq '{"repositories":["team/app"]}' "$(curl_reg standardreg /v2/_catalog)" "standardreg catalog"
assert_eq '{"repositories":["other/thing"]}' "$(curl_reg premiumreg /v2/_catalog)" "premiumreg catalog"
assert_eq '{"repositories":[]}' "$(registry_curl -sf "http://$REGISTRY/v2/_catalog")" "default registry catalog"

# 4. the same repository name in two registries holds different tags and manifests
assert_eq '{"name":"team/app","tags":["1.0"]}' "$(curl_reg basicreg /v2/team/app/tags/list)" "basicreg tags"
assert_eq '{"name":"team/app","tags":["2.0"]}' "$(curl_reg standardreg /v2/team/app/tags/list)" "standardreg tags"
status=$(registry_curl -s -o /dev/null -w '%{http_code}' --resolve "standardreg.$DOMAIN:$REGISTRY_PORT:127.0.0.1" \
    "http://standardreg.$DOMAIN:$REGISTRY_PORT/v2/team/app/manifests/1.0")
assert_eq 404 "$status" "basicreg's tag is not visible in standardreg"
# Identical digests stay apart: premiumreg holds the amd64 layer, standardreg does not link it.
status=$(registry_curl -s -o /dev/null -w '%{http_code}' --resolve "standardreg.$DOMAIN:$REGISTRY_PORT:127.0.0.1" \
    "http://standardreg.$DOMAIN:$REGISTRY_PORT/v2/team/app/blobs/$FIXTURE_AMD64_CONFIG")
assert_eq 404 "$status" "amd64 config blob not visible in standardreg"

# 5. an unknown registry host is a clear 404
body=$(registry_curl -s --resolve "nosuchreg.$DOMAIN:$REGISTRY_PORT:127.0.0.1" "http://nosuchreg.$DOMAIN:$REGISTRY_PORT/v2/")
assert_match "nosuchreg" "$body" "unknown registry named in the error"

# 6. usage is per registry and matches what was pushed (the layer + config of each image)
used_of() { berth registry show-usage --name "$1" --output json | jq -r '.value[] | select(.name == "Size") | .currentValue'; }
blob_size() { stat -c %s "$FIX/blobs/sha256/${1#sha256:}"; }
amd64_bytes=$(( $(blob_size "$FIXTURE_AMD64_CONFIG") + $(blob_size "$FIXTURE_LAYER_DIGEST") ))
assert_eq "$amd64_bytes" "$(used_of basicreg)" "basicreg usage"
assert_eq "$amd64_bytes" "$(used_of premiumreg)" "premiumreg usage"
assert_eq 0 "$(used_of default)" "default registry usage"

# 7. repositories, tags and manifests through the CLI are per registry too
assert_eq "team/app" "$(berth repository list --name basicreg --output tsv | cut -f1)" "repository list"
assert_eq "1.0" "$(berth repository show-tags --name basicreg --repository team/app --output tsv | cut -f1)" "show-tags"

pass "three registries isolated: content, catalog, tags, usage"
