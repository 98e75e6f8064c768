# Helpers for the access-control scripts (test_access_*.sh), sourced after lib.sh.
#
# These scripts need berthd started with flags of their own (--trusted-proxy,
# --rate-limit-scale, a fresh data directory whose first start prints the admin login), so
# they start it here rather than through lib.sh's start_registry, and drive the management
# API with the berth CLI ($BERTH_CLI).

[[ -n "${BERTHD:-}" ]] || skip "access control is a berthd feature (BERTHD unset)"
[[ -x "$BERTHD" ]] || fail "BERTHD=$BERTHD is not an executable"
[[ -n "${BERTH_CLI:-}" ]] || skip "the access-control scripts need the berth CLI (BERTH_CLI unset)"
[[ -x "$BERTH_CLI" ]] || fail "BERTH_CLI=$BERTH_CLI is not an executable"
require_cmd openssl base64 od

# The user name a refresh token logs in with is lib.sh's REFRESH_TOKEN_USER.

# random_hex BYTES
random_hex() {
    od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# The berthd processes this script started and has not stopped yet; the EXIT trap stops them.
BD_RUNNING=()
add_cleanup berthd_stop_all

# berthd_stop PID: stops a berthd this script started (and forgets it, so that the EXIT trap
# never signals a number the system may since have given to another process).
berthd_stop() {
    local pid=$1 i
    for i in "${!BD_RUNNING[@]}"; do
        if [[ "${BD_RUNNING[i]}" == "$pid" ]]; then
            unset "BD_RUNNING[i]"
            stop_pid "$pid" 15
        fi
    done
}

berthd_stop_all() {
    local pid
    for pid in "${BD_RUNNING[@]}"; do
        stop_pid "$pid" 15
    done
    BD_RUNNING=()
}

# berthd_start DIR [FLAGS...]: starts berthd on 127.0.0.1 (a port of the kernel's choosing)
# with the data directory DIR/data; its standard output (the first start's admin token and
# login line) goes to DIR/stdout, its log to DIR/log. Sets BD_PID, BD_PORT and BD_DIR; the
# EXIT trap stops it. A failure shows this berthd's log (lib.sh's fail reads $REGISTRY_DIR).
berthd_start() {
    local dir=$1 i
    shift
    mkdir -p "$dir/data"
    rm -f "$dir/port"
    "$BERTHD" --listen 127.0.0.1:0 --data-dir "$dir/data" --port-file "$dir/port" \
        --log-level info "$@" >>"$dir/stdout" 2>>"$dir/log" &
    BD_PID=$!
    BD_DIR=$dir
    REGISTRY_DIR=$dir
    REGISTRY_KIND=berthd
    BD_RUNNING+=("$BD_PID")
    for ((i = 0; i < 200; i++)); do
        kill -0 "$BD_PID" 2>/dev/null || fail "berthd exited during startup (flags: $*)"
        if [[ -s "$dir/port" ]]; then
            BD_PORT=$(tr -d '[:space:]' <"$dir/port")
            # /v2/ answers 401 without credentials: any HTTP answer means it serves.
            if [[ "$BD_PORT" =~ ^[0-9]+$ ]] &&
                [[ "$(http_status GET "http://127.0.0.1:$BD_PORT/v2/")" =~ ^[1-5][0-9][0-9]$ ]]; then
                log "berthd pid $BD_PID on 127.0.0.1:$BD_PORT ($*)"
                return 0
            fi
        fi
        sleep 0.1
    done
    fail "berthd did not answer on its port within 20 s (flags: $*)"
}

# berthd_admin_token DIR: the deployment administrator token the first start printed.
berthd_admin_token() {
    local token
    token=$(sed -n 's/^berthd: deployment administrator token: //p' "$1/stdout" | head -n1)
    [[ -n "$token" ]] || fail "berthd printed no deployment administrator token ($1/stdout)"
    echo "$token"
}

# berthd_login_line DIR: the podman login command the first start printed.
berthd_login_line() {
    local line
    grep -q '^berthd: log in to the default registry with:$' "$1/stdout" ||
        fail "berthd did not announce the default registry's login ($1/stdout)"
    line=$(grep -A1 '^berthd: log in to the default registry with:$' "$1/stdout" | sed -n 2p)
    [[ -n "$line" ]] || fail "no login line after the announcement ($1/stdout)"
    echo "$line"
}

# berth ARGS...: the CLI against the server and token in BERTH_SERVER / BERTH_TOKEN.
berth() {
    "$BERTH_CLI" "$@"
}

# base64url (stdin -> stdout), no padding
base64url() {
    base64 -w0 | tr '+/' '-_' | tr -d '='
}

# make_rsa_issuer DIR KID: an RSA-2048 key DIR/KID.pem and its public JWKS DIR/KID.jwks.json.
make_rsa_issuer() {
    local dir=$1 kid=$2 n e
    mkdir -p "$dir"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/$kid.pem" 2>/dev/null ||
        fail "openssl could not make an RSA key"
    # The modulus as hex, then as bytes, then base64url; the exponent is 65537 (AQAB).
    n=$(openssl rsa -in "$dir/$kid.pem" -noout -modulus 2>/dev/null | sed 's/^Modulus=//')
    # shellcheck disable=SC2059 # the format is the bytes, as \xHH escapes
    n=$(printf "$(sed 's/../\\x&/g' <<<"$n")" | base64url)
    [[ -n "$n" ]] || fail "cannot read the RSA modulus"
    e=$(openssl rsa -in "$dir/$kid.pem" -noout -text 2>/dev/null | grep -c 'publicExponent: 65537')
    assert_eq 1 "$e" "the RSA key's public exponent is 65537"
    jq -n --arg kid "$kid" --arg n "$n" \
        '{keys: [{kty: "RSA", use: "sig", alg: "RS256", kid: $kid, n: $n, e: "AQAB"}]}' \
        >"$dir/$kid.jwks.json"
}

# sign_rs256_jwt KEY_PEM KID PAYLOAD_JSON: a compact JWS (RS256) over PAYLOAD_JSON.
sign_rs256_jwt() {
    local key=$1 kid=$2 payload=$3 header input signature
    header=$(jq -cn --arg kid "$kid" '{alg: "RS256", typ: "JWT", kid: $kid}' | tr -d '\n' | base64url)
    input="$header.$(printf '%s' "$payload" | base64url)"
    signature=$(printf '%s' "$input" | openssl dgst -sha256 -sign "$key" -binary | base64url)
    [[ -n "$signature" ]] || fail "openssl could not sign the JWT"
    echo "$input.$signature"
}

# exchange ARGS...: POST /oauth2/exchange on the server at $EXCHANGE_URL with the form
# fields given as curl --data-urlencode arguments; prints "STATUS BODY-FILE".
exchange() {
    local out status
    out=$(mktemp)
    status=$(curl -s --max-time 30 -o "$out" -w '%{http_code}' -X POST "$@" \
        "$EXCHANGE_URL/oauth2/exchange") || status=000
    echo "$status $out"
}

# header_value FILE NAME: the value of header NAME in a curl -D dump (last one, no CR).
header_value() {
    awk -v name="$(tr '[:upper:]' '[:lower:]' <<<"$2"):" \
        'tolower($1) == name {sub(/\r$/, ""); $1 = ""; sub(/^ /, ""); v = $0} END {print v}' "$1"
}
