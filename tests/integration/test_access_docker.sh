#!/usr/bin/env bash
# docker login against berthd's access control, with a private dockerd (everything in the temp
# dir): the default registry's admin user (the password berthd prints on its first start) and
# a token scoped to samples/* each log in, push and pull within their scope; the token's pushes
# and pulls elsewhere are denied and store nothing; a wrong password fails docker login; a
# federated identity's JWT, exchanged for a refresh token, logs docker in for fed/*.
# Needs berthd and the berth CLI.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/access_lib.sh"

require_cmd "$DOCKERD_BIN" "$DOCKER_BIN" skopeo curl jq

berthd_start "$IT_TMP/berthd"
ADMIN_TOKEN=$(berthd_admin_token "$IT_TMP/berthd")
LOGIN_LINE=$(berthd_login_line "$IT_TMP/berthd")
ADMIN_PASSWORD=${LOGIN_LINE##* }
REGISTRY="127.0.0.1:$BD_PORT"
REGISTRY_PORT=$BD_PORT
export REGISTRY REGISTRY_PORT
export BERTH_SERVER="http://$REGISTRY" BERTH_TOKEN="$ADMIN_TOKEN"
setup_containers_env --no-login
setup_docker_config

FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"

start_private_dockerd

# the fixture in docker (docker does not load OCI layouts: a docker-archive made by skopeo)
run_logged "$IT_TMP/sk-archive.log" sk copy "oci:$FIX:amd64" \
    "docker-archive:$IT_TMP/fixture.tar:berth/fixture:latest"
run_logged "$IT_TMP/load.log" dk load -i "$IT_TMP/fixture.tar"

as_admin() { # PATH [CURL ARGS...]
    local path=$1
    shift
    curl -s --max-time 30 -H "Authorization: Bearer $ADMIN_TOKEN" "$@" "http://$REGISTRY$path"
}
# registry_digest REPO TAG: the digest the registry serves for REPO:TAG (to the administrator).
registry_digest() {
    local out sum
    out=$(mktemp)
    assert_eq 200 "$(as_admin "/v2/$1/manifests/$2" -o "$out" -w '%{http_code}' \
        -H "Accept: $ACCEPT_ALL_MANIFESTS")" "the registry holds $1:$2"
    sum=$(sha256sum "$out")
    echo "sha256:${sum%% *}"
}
assert_nothing_stored() { # REPO
    assert_eq 404 "$(as_admin "/v2/$1/tags/list" -o /dev/null -w '%{http_code}')" \
        "tags/list of $1 after a refused push"
    as_admin "/v2/_catalog?n=1000" | jq -e --arg r "$1" '.repositories | index($r) == null' \
        >/dev/null || fail "the catalog lists $1 after a refused push"
}
docker_login() { # USER PASSWORD LOG
    dk login -u "$1" --password-stdin "$REGISTRY" <<<"$2" >"$3" 2>&1
}
# push_pull REF: tag, push, compare with the registry, remove, pull back.
push_pull() {
    local ref=$1 log="$IT_TMP/pp-${1//[\/:]/-}" pushed
    run_logged "$log.tag" dk tag berth/fixture:latest "$REGISTRY/$ref"
    run_logged "$log.push" dk push "$REGISTRY/$ref"
    pushed=$(grep -o 'digest: sha256:[0-9a-f]\{64\}' "$log.push" | head -n1 | cut -d' ' -f2)
    assert_eq "$(registry_digest "${ref%%:*}" "${ref##*:}")" "$pushed" "digest docker pushed for $ref"
    run_logged "$log.rmi" dk rmi "$REGISTRY/$ref"
    run_logged "$log.pull" dk pull "$REGISTRY/$ref"
    grep -q "Digest: $pushed" "$log.pull" || fail "docker pull of $ref did not print Digest: $pushed"
    assert_eq "$FIXTURE_AMD64_CONFIG" "$(dk image inspect --format '{{.Id}}' "$REGISTRY/$ref")" \
        "image ID after docker pull of $ref"
}
# Refusals are final: docker must stop at the first one, not retry the upload (docker 20.10
# retries five times over about 50 s an error it does not recognise as final). Each refused
# push that took longer than this is reported at the end, after every other check.
REFUSAL_SECONDS=30
SLOW_REFUSALS=()
# push_refused REF PATTERN: docker's push of REF fails with output matching PATTERN, promptly,
# and nothing is stored.
push_refused() {
    local ref=$1 log="$IT_TMP/refused-${1//[\/:]/-}.log" start=$SECONDS
    run_logged "$log.tag" dk tag berth/fixture:latest "$REGISTRY/$ref"
    if dk push "$REGISTRY/$ref" >"$log" 2>&1; then
        fail "docker pushed $ref without the right to"
    fi
    (( SECONDS - start <= REFUSAL_SECONDS )) || SLOW_REFUSALS+=("$ref:$((SECONDS - start))s")
    grep -Eqi "$2" "$log" || { cat "$log" >&2; fail "the refused push of $ref does not say /$2/"; }
    assert_nothing_stored "${ref%%:*}"
}
pull_refused() { # REF
    local ref=$1 log="$IT_TMP/refused-pull-${1//[\/:]/-}.log"
    if dk pull "$REGISTRY/$ref" >"$log" 2>&1; then
        fail "docker pulled $ref outside the credential's scope"
    fi
    grep -Eqi 'denied' "$log" || { cat "$log" >&2; fail "the refused pull of $ref does not say denied"; }
}

# 1. the admin user
if docker_login default "wrong-$ADMIN_PASSWORD" "$IT_TMP/bad-login.log"; then
    fail "docker login succeeded with a wrong password"
fi
grep -Eqi 'unauthorized|invalid username' "$IT_TMP/bad-login.log" ||
    { cat "$IT_TMP/bad-login.log" >&2; fail "the refused docker login does not say why"; }
assert_eq null "$(jq -c --arg r "$REGISTRY" '.auths[$r]' "$DOCKER_CONFIG/config.json")" \
    "docker's stored credentials after a refused login"
docker_login default "$ADMIN_PASSWORD" "$IT_TMP/login-admin.log" ||
    { cat "$IT_TMP/login-admin.log" >&2; fail "docker login as the admin user"; }
jq -e --arg r "$REGISTRY" '.auths[$r].auth | length > 0' "$DOCKER_CONFIG/config.json" >/dev/null ||
    fail "docker login stored no credentials for $REGISTRY"
push_pull admin/docker:1
push_pull samples/docker:admin
run_logged "$IT_TMP/logout.log" dk logout "$REGISTRY"
pass "admin user: docker login, push and pull"

# 2. a token on samples/*
run_logged "$IT_TMP/scope-map.log" berth scope-map create --name samples-rw --registry default \
    --repository 'samples/*' content/read content/write
berth token create --name samples-docker --registry default --scope-map samples-rw -o json \
    >"$IT_TMP/token.json"
TOKEN_PASSWORD=$(jq -r '.credentials.passwords[] | select(.name == "password1") | .value' \
    "$IT_TMP/token.json")
if docker_login samples-docker "wrong-$TOKEN_PASSWORD" "$IT_TMP/bad-token-login.log"; then
    fail "docker login succeeded with a wrong token password"
fi
docker_login samples-docker "$TOKEN_PASSWORD" "$IT_TMP/login-token.log" ||
    { cat "$IT_TMP/login-token.log" >&2; fail "docker login as the token"; }
push_pull samples/docker:token
# pulling what the admin user pushed under samples/ is within scope
run_logged "$IT_TMP/pull-admin-samples.log" dk pull "$REGISTRY/samples/docker:admin"
push_refused other/docker-token:1 denied
run_logged "$IT_TMP/rmi-admin.log" dk rmi "$REGISTRY/admin/docker:1"
pull_refused admin/docker:1
pass "token on samples/*: docker push and pull within scope, refused outside"

# 3. a federated identity: a JWT of a test issuer exchanged for a refresh token
ISSUER=http://127.0.0.1/berth-docker-issuer   # a name in the token; never contacted
make_rsa_issuer "$IT_TMP/issuer" ci-key
berth identity create --name docker-ci --kind federated --issuer "$ISSUER" --audience berth-ci \
    --jwks "$IT_TMP/issuer/ci-key.jwks.json" --subject "ci:docker" -o json >"$IT_TMP/fed.json" ||
    fail "berth identity create --kind federated"
run_logged "$IT_TMP/fed-role.log" berth role assignment create \
    --assignee "$(jq -r .id "$IT_TMP/fed.json")" --role AcrPush --registry default \
    --repository 'fed/*'
now=$(date +%s)
JWT=$(sign_rs256_jwt "$IT_TMP/issuer/ci-key.pem" ci-key \
    "{\"iss\":\"$ISSUER\",\"aud\":\"berth-ci\",\"sub\":\"ci:docker\",\"iat\":$now,\"nbf\":$now,\"exp\":$((now + 300))}")
EXCHANGE_URL="http://$REGISTRY"
read -r status body < <(exchange --data-urlencode grant_type=access_token \
    --data-urlencode "access_token=$JWT")
assert_eq 200 "$status" "exchange of the federated JWT: $(head -c 300 "$body")"
FED_REFRESH_TOKEN=$(jq -r .refresh_token "$body")
docker_login "$REFRESH_TOKEN_USER" "$FED_REFRESH_TOKEN" "$IT_TMP/login-fed.log" ||
    { cat "$IT_TMP/login-fed.log" >&2; fail "docker login with the federated refresh token"; }
push_pull fed/docker:federated
push_refused samples/docker-fed:1 denied
pass "federated identity: docker login with the exchanged token, push and pull on fed/*"

# 4. without login docker cannot push
run_logged "$IT_TMP/logout2.log" dk logout "$REGISTRY"
push_refused anonymous/x:1 'unauthorized|authentication required'
((${#SLOW_REFUSALS[@]} == 0)) || fail "docker retried refused pushes for more than \
${REFUSAL_SECONDS}s instead of stopping at the refusal: ${SLOW_REFUSALS[*]}"
pass "docker push refused promptly without a login and outside a token's scope"
