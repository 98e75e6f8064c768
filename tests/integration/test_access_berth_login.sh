#!/usr/bin/env bash
# berth login end to end: `berth login --name default` exchanges the administrator token for a
# refresh token and writes it into docker's config and the containers auth file (both in this
# test's temp dir, neither existing before), keeping the other entries; podman and skopeo then
# push with those files alone. --expose-token prints a token that works as a password and
# writes nothing; a login with a token's name and password stores that token's scope; a wrong
# password exits 3 and writes nothing. Needs berthd and the berth CLI.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/access_lib.sh"

require_cmd podman skopeo curl jq

berthd_start "$IT_TMP/berthd"
ADMIN_TOKEN=$(berthd_admin_token "$IT_TMP/berthd")
REGISTRY="127.0.0.1:$BD_PORT"
REGISTRY_PORT=$BD_PORT
export REGISTRY REGISTRY_PORT
export BERTH_SERVER="http://$REGISTRY" BERTH_TOKEN="$ADMIN_TOKEN"
setup_containers_env --no-login

FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"
LOCAL_IMAGE=localhost/access-fixture:1
run_logged "$IT_TMP/load.log" pm pull "oci:$FIX:amd64"
run_logged "$IT_TMP/load-tag.log" pm tag "${FIXTURE_AMD64_CONFIG#sha256:}" "$LOCAL_IMAGE"

as_admin() { # PATH [CURL ARGS...]
    local path=$1
    shift
    curl -s --max-time 30 -H "Authorization: Bearer $ADMIN_TOKEN" "$@" "http://$REGISTRY$path"
}
assert_stored() { # REPO TAG
    assert_eq 200 "$(as_admin "/v2/$1/manifests/$2" -o /dev/null -w '%{http_code}' \
        -H "Accept: $ACCEPT_ALL_MANIFESTS")" "the registry holds $1:$2"
}
# stored_secret FILE: the password of FILE's entry for $REGISTRY, after checking its user.
stored_secret() {
    local auth decoded
    auth=$(jq -r --arg r "$REGISTRY" '.auths[$r].auth // empty' "$1")
    [[ -n "$auth" ]] || fail "$1 has no entry for $REGISTRY: $(cat "$1")"
    decoded=$(base64 -d <<<"$auth") || fail "the entry for $REGISTRY in $1 is not base64"
    assert_eq "$REFRESH_TOKEN_USER" "${decoded%%:*}" "user name stored in $1"
    echo "${decoded#*:}"
}
file_mode() {
    stat -c %a "$1"
}

# ------------------------------------------------------------------ 1. login with the admin token

LOGIN_DIR="$IT_TMP/berth-login"
export DOCKER_CONFIG="$LOGIN_DIR/docker"
export REGISTRY_AUTH_FILE="$LOGIN_DIR/containers/auth.json"
berth login --name default -o json >"$IT_TMP/login.json" 2>"$IT_TMP/login.err" ||
    fail "berth login --name default (exit $?): $(cat "$IT_TMP/login.err")"
assert_eq "$REGISTRY" "$(jq -r .loginServer "$IT_TMP/login.json")" "loginServer berth login reports"
assert_eq "$DOCKER_CONFIG/config.json" "$(jq -r .dockerConfig "$IT_TMP/login.json")" \
    "docker config berth login wrote"
assert_eq "$REGISTRY_AUTH_FILE" "$(jq -r .containersAuthFile "$IT_TMP/login.json")" \
    "containers auth file berth login wrote"
if grep -q "$ADMIN_TOKEN" "$IT_TMP/login.json" "$DOCKER_CONFIG/config.json" "$REGISTRY_AUTH_FILE"; then
    fail "berth login printed or stored the administrator token itself"
fi
assert_eq 600 "$(file_mode "$DOCKER_CONFIG/config.json")" "mode of docker's config.json"
assert_eq 600 "$(file_mode "$REGISTRY_AUTH_FILE")" "mode of the containers auth file"
assert_eq 700 "$(file_mode "$DOCKER_CONFIG")" "mode of the docker config dir berth created"
docker_secret=$(stored_secret "$DOCKER_CONFIG/config.json")
containers_secret=$(stored_secret "$REGISTRY_AUTH_FILE")
assert_eq "$docker_secret" "$containers_secret" "the refresh token in both files"
assert_match '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "$docker_secret" \
    "the stored refresh token"

# podman pushes and pulls with nothing but the file berth wrote
run_logged "$IT_TMP/push-podman.log" pm push --tls-verify=false "$LOCAL_IMAGE" \
    "$REGISTRY/berth-login/podman:1"
assert_stored berth-login/podman 1
run_logged "$IT_TMP/pull-podman.log" pm pull --tls-verify=false "$REGISTRY/berth-login/podman:1"

# a second login replaces only its own entry
jq --arg r "$REGISTRY" '.auths["other.invalid:5000"] = {"auth": "b3RoZXI6c2VjcmV0"}
    | .auths[$r] = {"identitytoken": "stale"} | .credsStore = ""' \
    "$REGISTRY_AUTH_FILE" >"$IT_TMP/seeded.json"
cp "$IT_TMP/seeded.json" "$REGISTRY_AUTH_FILE"
berth login --name default >"$IT_TMP/login2.out" 2>&1 ||
    fail "second berth login: $(cat "$IT_TMP/login2.out")"
assert_eq b3RoZXI6c2VjcmV0 "$(jq -r '.auths["other.invalid:5000"].auth' "$REGISTRY_AUTH_FILE")" \
    "another registry's entry after berth login"
assert_eq null "$(jq -c --arg r "$REGISTRY" '.auths[$r].identitytoken' "$REGISTRY_AUTH_FILE")" \
    "stale identitytoken of the replaced entry"
stored_secret "$REGISTRY_AUTH_FILE" >/dev/null
pass "berth login with the administrator token: both files written, podman pushes with them"

# ------------------------------------------------------------------ 2. --expose-token

before=$(sha256sum "$REGISTRY_AUTH_FILE" "$DOCKER_CONFIG/config.json")
berth login --name default --expose-token -o json >"$IT_TMP/expose.json" 2>"$IT_TMP/expose.err" ||
    fail "berth login --expose-token: $(cat "$IT_TMP/expose.err")"
assert_eq "$before" "$(sha256sum "$REGISTRY_AUTH_FILE" "$DOCKER_CONFIG/config.json")" \
    "files after --expose-token"
assert_eq "$REGISTRY" "$(jq -r .loginServer "$IT_TMP/expose.json")" "exposed loginServer"
assert_eq "$REFRESH_TOKEN_USER" "$(jq -r .username "$IT_TMP/expose.json")" "exposed username"
EXPOSED=$(jq -r .accessToken "$IT_TMP/expose.json")
assert_match '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "$EXPOSED" "exposed token"

# the token is a password: the token service takes it, and skopeo logs in and pushes with it
status=$(curl -s -o "$IT_TMP/access.json" -w '%{http_code}' -u "$REFRESH_TOKEN_USER:$EXPOSED" \
    "http://$REGISTRY/oauth2/token?scope=repository:berth-login/skopeo:pull,push")
assert_eq 200 "$status" "GET /oauth2/token with the exposed token as password"
assert_match '^[A-Za-z0-9_-]+\.' "$(jq -r .access_token "$IT_TMP/access.json")" "access token"
export REGISTRY_AUTH_FILE="$IT_TMP/expose-auth.json"
echo '{"auths": {}}' >"$REGISTRY_AUTH_FILE"
run_logged "$IT_TMP/sk-login.log" sk login --tls-verify=false -u "$REFRESH_TOKEN_USER" \
    --password-stdin "$REGISTRY" <<<"$EXPOSED"
run_logged "$IT_TMP/sk-push.log" sk copy --dest-tls-verify=false "oci:$FIX:amd64" \
    "docker://$REGISTRY/berth-login/skopeo:1"
assert_stored berth-login/skopeo 1
status=$(curl -s -o /dev/null -w '%{http_code}' -u "$REFRESH_TOKEN_USER:${EXPOSED}x" \
    "http://$REGISTRY/oauth2/token?scope=repository:berth-login/skopeo:pull")
assert_eq 401 "$status" "GET /oauth2/token with a damaged token"
pass "berth login --expose-token: nothing written, the token works as a password"

# ------------------------------------------------------------------ 3. a token's name and password

run_logged "$IT_TMP/scope-map.log" berth scope-map create --name samples-rw --registry default \
    --repository 'samples/*' content/read content/write
berth token create --name samples-ci --registry default --scope-map samples-rw -o json \
    >"$IT_TMP/token.json"
TOKEN_PASSWORD=$(jq -r '.credentials.passwords[] | select(.name == "password1") | .value' \
    "$IT_TMP/token.json")
export REGISTRY_AUTH_FILE="$LOGIN_DIR/token-auth.json"
export DOCKER_CONFIG="$LOGIN_DIR/token-docker"
# wrong password: exit 3, nothing written
rc=0
berth login --name default --username samples-ci --password-stdin <<<"not-$TOKEN_PASSWORD" \
    >"$IT_TMP/bad.out" 2>&1 || rc=$?
assert_eq 3 "$rc" "exit status of berth login with a wrong password ($(cat "$IT_TMP/bad.out"))"
[[ ! -e "$REGISTRY_AUTH_FILE" ]] || fail "berth login wrote $REGISTRY_AUTH_FILE after a refusal"
[[ ! -e "$DOCKER_CONFIG/config.json" ]] || fail "berth login wrote docker's config after a refusal"

berth login --name default --username samples-ci --password-stdin <<<"$TOKEN_PASSWORD" \
    >"$IT_TMP/token-login.out" 2>&1 || fail "berth login as the token: $(cat "$IT_TMP/token-login.out")"
run_logged "$IT_TMP/push-token.log" pm push --tls-verify=false "$LOCAL_IMAGE" \
    "$REGISTRY/samples/berth-login:1"
assert_stored samples/berth-login 1
if pm push --tls-verify=false "$LOCAL_IMAGE" "$REGISTRY/other/berth-login:1" \
    >"$IT_TMP/push-other.log" 2>&1; then
    fail "the token's refresh token pushed outside samples/*"
fi
grep -Eqi 'denied|403 \(Forbidden\)' "$IT_TMP/push-other.log" ||
    { cat "$IT_TMP/push-other.log" >&2; fail "the refused push does not say it was denied"; }
assert_eq 404 "$(as_admin /v2/other/berth-login/tags/list -o /dev/null -w '%{http_code}')" \
    "tags/list of the repository a refused push named"
pass "berth login --username TOKEN: scoped push; wrong password exits 3 and writes nothing"
