#!/usr/bin/env bash
# Access control with the real clients: podman, skopeo and buildah each log in and push and
# pull within their scope, with three kinds of credentials:
#   - the default registry's admin user, by running the podman login line berthd prints on the
#     first start of a fresh data directory;
#   - a repository-scoped token (scope map: samples/* content/read + content/write);
#   - a federated identity: a JWT from a test issuer (an RSA key made here, its JWKS in a file)
#     exchanged at /oauth2/exchange for a refresh token, with AcrPush on fed/*.
# Outside its scope a credential's pushes and pulls are refused (the client fails, nothing is
# stored); a wrong password fails the login; a JWT signed by another key, or naming another
# subject, audience or issuer, or expired, is refused with 401. Needs berthd and the berth CLI.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/access_lib.sh"

require_cmd podman skopeo buildah curl jq openssl

berthd_start "$IT_TMP/berthd"
ADMIN_TOKEN=$(berthd_admin_token "$IT_TMP/berthd")
LOGIN_LINE=$(berthd_login_line "$IT_TMP/berthd")
REGISTRY="127.0.0.1:$BD_PORT"
REGISTRY_PORT=$BD_PORT
export REGISTRY REGISTRY_PORT
export BERTH_SERVER="http://$REGISTRY" BERTH_TOKEN="$ADMIN_TOKEN"
EXCHANGE_URL="http://$REGISTRY"
SERVICE=default.registry.local   # the default registry's login server (berthd's default domain)
setup_containers_env --no-login

FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"
# The image podman and buildah push: the fixture in the shared containers-storage.
LOCAL_IMAGE=localhost/access-fixture:1
run_logged "$IT_TMP/load.log" pm pull "oci:$FIX:amd64"
run_logged "$IT_TMP/load-tag.log" pm tag "${FIXTURE_AMD64_CONFIG#sha256:}" "$LOCAL_IMAGE"

# ------------------------------------------------------------------ helpers

# as_admin PATH [CURL ARGS...]: the data plane with the deployment administrator token, to see
# what the registry holds whatever the client under test could do.
as_admin() {
    local path=$1
    shift
    curl -s --max-time 30 -H "Authorization: Bearer $ADMIN_TOKEN" "$@" "http://$REGISTRY$path"
}

# assert_stored REPO TAG: the registry serves REPO:TAG (to the administrator).
assert_stored() {
    local status
    status=$(as_admin "/v2/$1/manifests/$2" -o /dev/null -w '%{http_code}' \
        -H "Accept: $ACCEPT_ALL_MANIFESTS") || status=000
    assert_eq 200 "$status" "the registry holds $1:$2"
}

# assert_nothing_stored REPO: no tag, no manifest list, not in the catalog.
assert_nothing_stored() {
    local status catalog
    status=$(as_admin "/v2/$1/tags/list" -o /dev/null -w '%{http_code}') || status=000
    assert_eq 404 "$status" "tags/list of $1, which a refused push must not create"
    catalog=$(as_admin "/v2/_catalog?n=1000")
    jq -e --arg r "$1" '.repositories | index($r) == null' <<<"$catalog" >/dev/null ||
        fail "the catalog lists $1 after a refused push: $catalog"
}

# fresh_auth NAME: a new, empty auth file for the containers clients.
fresh_auth() {
    export REGISTRY_AUTH_FILE="$IT_TMP/auth-$1.json"
    echo '{"auths": {}}' >"$REGISTRY_AUTH_FILE"
}

# try_login CLIENT USER PASSWORD LOG: CLIENT logs in to $REGISTRY (podman with -p, skopeo and
# buildah with --password-stdin) into the current auth file; returns the client's status.
try_login() {
    local client=$1 user=$2 password=$3
    case "$client" in
        podman) pm login --tls-verify=false -u "$user" -p "$password" "$REGISTRY" ;;
        skopeo) sk login --tls-verify=false -u "$user" --password-stdin "$REGISTRY" <<<"$password" ;;
        buildah) bh login --tls-verify=false -u "$user" --password-stdin "$REGISTRY" <<<"$password" ;;
    esac >"$4" 2>&1
}

# client_login CLIENT USER PASSWORD: the login succeeds and stores credentials.
client_login() {
    local log="$IT_TMP/login-$1-$RANDOM.log"
    try_login "$@" "$log" || { cat "$log" >&2; fail "$1 login as $2 failed"; }
    jq -e --arg r "$REGISTRY" '.auths[$r].auth | length > 0' "$REGISTRY_AUTH_FILE" >/dev/null ||
        fail "$1 login stored no credentials for $REGISTRY in $REGISTRY_AUTH_FILE"
}

# client_push CLIENT REPO:TAG LOG: CLIENT pushes the fixture; returns the client's status.
client_push() {
    case "$1" in
        podman) pm push --tls-verify=false --format oci "$LOCAL_IMAGE" "$REGISTRY/$2" ;;
        skopeo) sk copy --dest-tls-verify=false "oci:$FIX:amd64" "docker://$REGISTRY/$2" ;;
        buildah) bh push --tls-verify=false --format oci "$LOCAL_IMAGE" "docker://$REGISTRY/$2" ;;
    esac >"$3" 2>&1
}

# client_pull CLIENT REPO:TAG LOG: CLIENT pulls from the registry; returns the client's status.
client_pull() {
    case "$1" in
        podman) pm rmi "$REGISTRY/$2" >/dev/null 2>&1 || true
            pm pull --tls-verify=false "$REGISTRY/$2" ;;
        skopeo) rm -rf "$IT_TMP/pulled"
            sk copy --src-tls-verify=false "docker://$REGISTRY/$2" "oci:$IT_TMP/pulled:x" ;;
        buildah) pm rmi "$REGISTRY/$2" >/dev/null 2>&1 || true
            bh pull --tls-verify=false "$REGISTRY/$2" ;;
    esac >"$3" 2>&1
}

# round_trip CLIENT REPO:TAG: CLIENT (logged in) pushes, the registry holds the image, CLIENT
# pulls it back and has the fixture's config.
round_trip() {
    local client=$1 ref=$2 log="$IT_TMP/rt-$1-${2//[\/:]/-}"
    client_push "$client" "$ref" "$log.push" ||
        { tail -n 20 "$log.push" >&2; fail "$client push of $ref within its scope failed"; }
    assert_stored "${ref%%:*}" "${ref##*:}"
    client_pull "$client" "$ref" "$log.pull" ||
        { tail -n 20 "$log.pull" >&2; fail "$client pull of $ref within its scope failed"; }
    case "$client" in
        skopeo) local config
            config=$(jq -r '.manifests[0].digest' "$IT_TMP/pulled/index.json" | cut -d: -f2)
            assert_eq "$FIXTURE_AMD64_CONFIG" \
                "$(jq -r .config.digest "$IT_TMP/pulled/blobs/sha256/$config")" \
                "config of the image skopeo pulled from $ref" ;;
        *) assert_eq "${FIXTURE_AMD64_CONFIG#sha256:}" \
            "$(pm image inspect --format '{{.ID}}' "$REGISTRY/$ref")" \
            "image ID after $client pull of $ref" ;;
    esac
}

# push_refused CLIENT REPO:TAG: CLIENT's push outside its scope fails as denied, and the
# repository is not created.
push_refused() {
    local client=$1 ref=$2 log="$IT_TMP/refused-push-$1-${2//[\/:]/-}.log"
    if client_push "$client" "$ref" "$log"; then
        fail "$client pushed $ref outside its scope"
    fi
    grep -Eqi 'denied|403 \(Forbidden\)' "$log" ||
        { cat "$log" >&2; fail "$client's refused push of $ref does not say it was denied"; }
    assert_nothing_stored "${ref%%:*}"
}

# pull_refused CLIENT REPO:TAG: CLIENT's pull outside its scope fails as denied.
pull_refused() {
    local client=$1 ref=$2 log="$IT_TMP/refused-pull-$1-${2//[\/:]/-}.log"
    if client_pull "$client" "$ref" "$log"; then
        fail "$client pulled $ref outside its scope"
    fi
    grep -Eqi 'denied|403 \(Forbidden\)' "$log" ||
        { cat "$log" >&2; fail "$client's refused pull of $ref does not say it was denied"; }
}

# login_refused CLIENT USER PASSWORD: the login fails and stores nothing.
login_refused() {
    local client=$1 log="$IT_TMP/bad-login-$1-$RANDOM.log"
    fresh_auth "bad-$client"
    if try_login "$client" "$2" "$3" "$log"; then
        fail "$client logged in as $2 with a wrong password"
    fi
    grep -Eqi 'unauthorized|401|invalid username' "$log" ||
        { cat "$log" >&2; fail "$client's refused login does not say why"; }
    assert_eq null "$(jq -c --arg r "$REGISTRY" '.auths[$r]' "$REGISTRY_AUTH_FILE")" \
        "credentials $client stored after a refused login"
}

# ------------------------------------------------------------------ 1. anonymous callers

hdr="$IT_TMP/anon.headers"
status=$(curl -s -D "$hdr" -o "$IT_TMP/anon.json" -w '%{http_code}' "http://$REGISTRY/v2/")
assert_eq 401 "$status" "GET /v2/ without credentials"
assert_eq "Bearer realm=\"http://$REGISTRY/oauth2/token\",service=\"$SERVICE\"" \
    "$(header_value "$hdr" WWW-Authenticate)" "challenge of GET /v2/"
status=$(curl -s -D "$hdr" -o /dev/null -w '%{http_code}' "http://$REGISTRY/v2/samples/x/manifests/1")
assert_eq 401 "$status" "anonymous manifest GET"
assert_match "scope=\"repository:samples/x:pull\"" "$(header_value "$hdr" WWW-Authenticate)" \
    "challenge of an anonymous pull names the repository scope"

# ------------------------------------------------------------------ 2. the admin user

read -r -a words <<<"$LOGIN_LINE"
assert_eq "podman login --tls-verify=false $REGISTRY -u default -p" "${words[*]:0:7}" \
    "the login line berthd printed"
assert_eq 8 "${#words[@]}" "words of the login line"
ADMIN_PASSWORD=${words[7]}
assert_match '^[A-Za-z0-9_-]{43}$' "$ADMIN_PASSWORD" "the admin user's password"
berth credential show --name default -o json >"$IT_TMP/credential.json"
assert_eq default "$(jq -r .username "$IT_TMP/credential.json")" "admin user name"
assert_eq "$ADMIN_PASSWORD" "$(jq -r '.passwords[] | select(.name == "password") | .value' \
    "$IT_TMP/credential.json")" "the printed password is the admin user's first password"

# the printed command, run as printed (podman, against this test's storage)
fresh_auth admin-podman
run_logged "$IT_TMP/printed-login.log" pm "${words[@]:1}"
round_trip podman admin/podman:1
round_trip podman samples/admin:1
for client in skopeo buildah; do
    fresh_auth "admin-$client"
    client_login "$client" default "$ADMIN_PASSWORD"
    round_trip "$client" "admin/$client:1"
done
login_refused podman default "${ADMIN_PASSWORD}x"
pass "admin user: the printed podman login, then podman, skopeo and buildah push and pull"

# ------------------------------------------------------------------ 3. a repository-scoped token

berth scope-map create --name samples-rw --registry default \
    --repository 'samples/*' content/read content/write -o json >"$IT_TMP/scope-map.json"
assert_eq '["repositories/samples/*/content/read","repositories/samples/*/content/write"]' \
    "$(jq -c .actions "$IT_TMP/scope-map.json")" "scope map actions"
berth token create --name samples-ci --registry default --scope-map samples-rw -o json \
    >"$IT_TMP/token.json"
TOKEN_PASSWORD=$(jq -r '.credentials.passwords[] | select(.name == "password1") | .value' \
    "$IT_TMP/token.json")
TOKEN_PASSWORD2=$(jq -r '.credentials.passwords[] | select(.name == "password2") | .value' \
    "$IT_TMP/token.json")
assert_match '^.{20,}$' "$TOKEN_PASSWORD" "token password1"
assert_match '^.{20,}$' "$TOKEN_PASSWORD2" "token password2"
assert_ne "$TOKEN_PASSWORD" "$TOKEN_PASSWORD2" "the token's two passwords"

for client in podman skopeo buildah; do
    fresh_auth "token-$client"
    # buildah logs in with the second password: both are valid.
    password=$TOKEN_PASSWORD
    [[ "$client" != buildah ]] || password=$TOKEN_PASSWORD2
    client_login "$client" samples-ci "$password"
    round_trip "$client" "samples/$client:token"
    push_refused "$client" "other/$client-token:1"
    pull_refused "$client" "admin/podman:1"
done
# A read-only pull of another client's samples/ image is within scope.
client_pull skopeo samples/admin:1 "$IT_TMP/token-pull-admin.log" ||
    fail "the token could not pull samples/admin:1"
for client in podman skopeo buildah; do
    login_refused "$client" samples-ci "wrong-$TOKEN_PASSWORD"
done
# The token's password is no password of another name.
login_refused podman default "$TOKEN_PASSWORD"
pass "token on samples/*: push and pull with three clients; other repositories refused"

# ------------------------------------------------------------------ 4. a federated identity

ISSUER=http://127.0.0.1/berth-test-issuer   # a name in the token; never contacted
AUDIENCE=berth-ci
SUBJECT=repo:samples:ref:refs/heads/main
make_rsa_issuer "$IT_TMP/issuer" trusted-key
make_rsa_issuer "$IT_TMP/issuer" other-key
# The identity trusts the JWKS file by its absolute path (the management API's form).
identity=$(jq -cn --arg iss "$ISSUER" --arg aud "$AUDIENCE" --arg sub "$SUBJECT" \
    --arg jwks "$IT_TMP/issuer/trusted-key.jwks.json" \
    '{name: "ci-federated", kind: "federated", issuer: $iss, audience: $aud, jwks: $jwks,
      subject: $sub}')
curl -sf -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    --data "$identity" "http://$REGISTRY/mgmt/v1/identities" >"$IT_TMP/identity.json" ||
    fail "create the federated identity"
IDENTITY_ID=$(jq -r .id "$IT_TMP/identity.json")
assert_match '^[A-Za-z0-9._-]+$' "$IDENTITY_ID" "federated identity id"
berth role assignment create --assignee "$IDENTITY_ID" --role AcrPush --registry default \
    --repository 'fed/*' -o json >"$IT_TMP/assignment.json"
assert_eq "/registries/default/repositories/fed/*" "$(jq -r .scope "$IT_TMP/assignment.json")" \
    "role assignment scope"
assert_eq AcrPush "$(jq -r .role "$IT_TMP/assignment.json")" "role assignment role"

# jwt_for KEY KID [JQ EDIT]: a JWT of the test issuer, valid for five minutes, edited by EDIT.
jwt_for() {
    local now payload
    now=$(date +%s)
    payload=$(jq -cn --arg iss "$ISSUER" --arg aud "$AUDIENCE" --arg sub "$SUBJECT" \
        --argjson now "$now" "{iss: \$iss, aud: \$aud, sub: \$sub, iat: \$now, nbf: \$now,
         exp: (\$now + 300)} | ${3:-.}")
    sign_rs256_jwt "$IT_TMP/issuer/$1.pem" "$2" "$payload"
}
# exchange_jwt JWT: POST /oauth2/exchange; prints "STATUS BODY-FILE"
exchange_jwt() {
    exchange --data-urlencode grant_type=access_token --data-urlencode "service=$SERVICE" \
        --data-urlencode "access_token=$1"
}

read -r status body < <(exchange_jwt "$(jwt_for trusted-key trusted-key)")
assert_eq 200 "$status" "exchange of the issuer's JWT: $(head -c 300 "$body")"
REFRESH_TOKEN=$(jq -r .refresh_token "$body")
assert_match '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "$REFRESH_TOKEN" \
    "refresh token from the exchange"

# What the issuer did not sign, or signed for someone else, gets nothing.
check_refused_jwt() { # WHAT JWT
    local status body
    read -r status body < <(exchange_jwt "$2")
    assert_eq 401 "$status" "exchange of $1"
    assert_eq null "$(jq -c '.refresh_token' "$body" 2>/dev/null || echo null)" \
        "refresh token for $1"
}
check_refused_jwt "a JWT signed by another key under the trusted kid" \
    "$(jwt_for other-key trusted-key)"
check_refused_jwt "a JWT signed by a key the JWKS does not hold" "$(jwt_for other-key other-key)"
check_refused_jwt "a JWT for another subject" \
    "$(jwt_for trusted-key trusted-key '.sub = "repo:samples:ref:refs/heads/evil"')"
check_refused_jwt "a JWT for another audience" \
    "$(jwt_for trusted-key trusted-key '.aud = "someone-else"')"
check_refused_jwt "a JWT from another issuer" \
    "$(jwt_for trusted-key trusted-key '.iss = "http://127.0.0.1/other-issuer"')"
check_refused_jwt "an expired JWT" \
    "$(jwt_for trusted-key trusted-key '.iat -= 7200 | .nbf -= 7200 | .exp -= 3600')"
good=$(jwt_for trusted-key trusted-key)
check_refused_jwt "a JWT with its signature cut" "${good%.*}."
check_refused_jwt "an unsigned JWT (alg none)" \
    "$(printf '{"alg":"none","typ":"JWT","kid":"trusted-key"}' | base64url).$(cut -d. -f2 <<<"$good")."

for client in podman skopeo buildah; do
    fresh_auth "federated-$client"
    client_login "$client" "$REFRESH_TOKEN_USER" "$REFRESH_TOKEN"
    round_trip "$client" "fed/$client:1"
    push_refused "$client" "samples/fed-$client:1"
done
pull_refused podman samples/admin:1
login_refused skopeo "$REFRESH_TOKEN_USER" "${REFRESH_TOKEN%?}"
pass "federated identity: JWT exchanged, push and pull on fed/* with three clients"

# ------------------------------------------------------------------ 5. the CLI's federated identity

# berth identity create --jwks FILE makes an identity the token service accepts JWTs for.
berth identity create --name ci-federated-cli --kind federated --issuer "$ISSUER" \
    --audience "$AUDIENCE-cli" --jwks "$IT_TMP/issuer/trusted-key.jwks.json" \
    --subject "$SUBJECT" -o json >"$IT_TMP/identity-cli.json" 2>"$IT_TMP/identity-cli.err" ||
    fail "berth identity create --kind federated --jwks FILE: $(cat "$IT_TMP/identity-cli.err")"
assert_eq federated "$(jq -r .kind "$IT_TMP/identity-cli.json")" "kind of the CLI's identity"
read -r status body < <(exchange_jwt "$(jwt_for trusted-key trusted-key ".aud = \"$AUDIENCE-cli\"")")
assert_eq 200 "$status" "exchange for the identity the CLI made: $(head -c 300 "$body")"

# ------------------------------------------------------------------ 6. a JWKS served over HTTP

# The issuer's keys at an http:// URL (busybox httpd on loopback), fetched by berthd.
require_cmd busybox
mkdir -p "$IT_TMP/jwks-site"
cp "$IT_TMP/issuer/trusted-key.jwks.json" "$IT_TMP/jwks-site/keys.json"
JWKS_PORT=$(pick_free_port)
busybox httpd -f -p "127.0.0.1:$JWKS_PORT" -h "$IT_TMP/jwks-site" &
JWKS_PID=$!
add_cleanup "kill $JWKS_PID 2>/dev/null"
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$JWKS_PORT/keys.json" || fail "the JWKS server did not start"
berth identity create --name ci-federated-url --kind federated --issuer "$ISSUER" \
    --audience "$AUDIENCE-url" --jwks "http://127.0.0.1:$JWKS_PORT/keys.json" \
    --subject "$SUBJECT" -o json >"$IT_TMP/identity-url.json" 2>"$IT_TMP/identity-url.err" ||
    fail "berth identity create --jwks URL: $(cat "$IT_TMP/identity-url.err")"
read -r status body < <(exchange_jwt "$(jwt_for trusted-key trusted-key ".aud = \"$AUDIENCE-url\"")")
assert_eq 200 "$status" "exchange for the identity whose JWKS is a URL: $(head -c 300 "$body")"
check_refused_jwt "a JWT the URL's keys do not verify" \
    "$(jwt_for other-key trusted-key ".aud = \"$AUDIENCE-url\"")"
# An address that answers nothing: the JWT is refused, berthd stays up.
berth identity create --name ci-federated-down --kind federated --issuer "$ISSUER" \
    --audience "$AUDIENCE-down" --jwks "http://127.0.0.1:$(pick_free_port)/keys.json" \
    --subject "$SUBJECT" -o json >/dev/null 2>&1 || fail "identity with an unreachable JWKS URL"
check_refused_jwt "a JWT whose issuer's JWKS cannot be fetched" \
    "$(jwt_for trusted-key trusted-key ".aud = \"$AUDIENCE-down\"")"
pass "federated identity with its JWKS fetched from an http:// URL"

pass "admin user, scoped token and federated identity with podman, skopeo and buildah"
