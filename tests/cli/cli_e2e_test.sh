#!/usr/bin/env bash
# End to end: the berth binary against a real berthd, every verb, in every output format where
# it matters, plus the failures scripts rely on (exit codes 1-5, one line on stderr, nothing on
# stdout, the token never printed).
#
#   BERTH=/path/to/berth BERTHD=/path/to/berthd bash tests/cli/cli_e2e_test.sh
#
# Fails when BERTHD is not given or its management API does not answer: a skip is not a pass.
# BERTH_ALLOW_SKIP=1 (developers only) exits 77 (skipped) instead.
# KEEP_TMP=1 keeps the temp dir; VERBOSE=1 traces.

set -euo pipefail
[[ "${VERBOSE:-0}" == 1 ]] && set -x

SKIP=1
[[ "${BERTH_ALLOW_SKIP:-0}" == 1 ]] && SKIP=77
: "${BERTH:?set BERTH to the berth binary}"
if [[ -z "${BERTHD:-}" || ! -x "${BERTHD}" ]]; then
    echo "cli_e2e: skipped: BERTHD (the berthd binary) not given" >&2
    exit $SKIP
fi
for cmd in curl jq sha256sum; do
    command -v "$cmd" >/dev/null || { echo "cli_e2e: skipped: $cmd not installed" >&2; exit $SKIP; }
done

TMP=$(mktemp -d /tmp/berth-cli-e2e.XXXXXX)
BERTHD_PIDS=()
cleanup() {
    local pid
    for pid in "${BERTHD_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "cli_e2e: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

CHECKS=0
fail() {
    echo "cli_e2e: FAIL: $*" >&2
    if [[ -s "$TMP/berthd.log" ]]; then
        echo "cli_e2e: last lines of the berthd log:" >&2
        tail -n 15 "$TMP/berthd.log" >&2
    fi
    exit 1
}

# ------------------------------------------------------------------ start berthd

TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

# start_berthd NAME [BERTHD ARGS...]: starts berthd on a free loopback port with data in
# $TMP/NAME and the token $TOKEN; sets PORT once its management API answers.
start_berthd() {
    local name=$1 pid status="" i
    shift
    BERTH_INITIAL_ADMIN_TOKEN="$TOKEN" "$BERTHD" --listen 127.0.0.1:0 --port-file "$TMP/$name.port" \
        --data-dir "$TMP/$name" --log-level warn "$@" >>"$TMP/berthd.log" 2>&1 &
    pid=$!
    BERTHD_PIDS+=("$pid")
    for ((i = 0; i < 200; i++)); do
        [[ -s "$TMP/$name.port" ]] && break
        kill -0 "$pid" 2>/dev/null || fail "berthd exited during startup"
        sleep 0.1
    done
    [[ -s "$TMP/$name.port" ]] || fail "berthd wrote no port file within 20 s"
    PORT=$(cat "$TMP/$name.port")
    for ((i = 0; i < 100; i++)); do
        status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
            "http://127.0.0.1:$PORT/mgmt/v1/registries" || true)
        [[ "$status" == 200 ]] && break
        [[ "$status" == 404 ]] && { echo "cli_e2e: skipped: berthd has no /mgmt/v1 API" >&2; exit $SKIP; }
        sleep 0.1
    done
    [[ "$status" == 200 ]] || fail "GET /mgmt/v1/registries answered '$status', not 200"
}

start_berthd data
SERVER="http://127.0.0.1:$PORT"

# The CLI finds nothing but what each step gives it.
export XDG_CONFIG_HOME="$TMP/config"
export HOME="$TMP/home"
unset BERTH_SERVER BERTH_TOKEN
mkdir -p "$HOME"

# ------------------------------------------------------------------ helpers

# ok ARGS...: runs berth, which must succeed with an empty stderr; stdout in $OUT.
ok() {
    local rc=0
    "$BERTH" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
    CHECKS=$((CHECKS + 1))
    [[ $rc == 0 ]] || fail "berth $* exited $rc: $ERR"
    [[ -z "$ERR" ]] || fail "berth $* wrote to stderr: $ERR"
    no_token "$*"
}

# bad CODE FRAGMENT ARGS...: berth must exit CODE, print nothing on stdout and exactly one line
# "berth: ..." containing FRAGMENT on stderr.
bad() {
    local want=$1 fragment=$2 rc=0
    shift 2
    "$BERTH" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
    CHECKS=$((CHECKS + 1))
    [[ $rc == "$want" ]] || fail "berth $* exited $rc, want $want (stderr: $ERR)"
    [[ -z "$OUT" ]] || fail "berth $* wrote to stdout on failure: $OUT"
    [[ $(wc -l <"$TMP/err") == 1 ]] || fail "berth $* wrote $(wc -l <"$TMP/err") lines to stderr: $ERR"
    [[ "$ERR" == "berth: "* ]] || fail "berth $* stderr lacks the 'berth: ' prefix: $ERR"
    [[ "$ERR" == *"$fragment"* ]] || fail "berth $* stderr lacks '$fragment': $ERR"
    no_token "$*"
}

# bad_line CODE LINE ARGS...: like bad, but stderr must be exactly LINE.
bad_line() {
    local want=$1 line=$2
    shift 2
    bad "$want" "" "$@"
    eq "$line" "$ERR" "stderr of berth $*"
}

# widest_line TEXT: the longest line in characters ("…" counts one).
widest_line() { sed 's/…/./g' <<<"$1" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }'; }

no_token() {
    if grep -qF "$TOKEN" "$TMP/out" "$TMP/err"; then fail "berth $1 printed the token"; fi
}

eq() { # EXPECTED ACTUAL WHAT
    CHECKS=$((CHECKS + 1))
    [[ "$1" == "$2" ]] || fail "$3: expected '$1', got '$2'"
}

has() { # NEEDLE HAYSTACK WHAT
    CHECKS=$((CHECKS + 1))
    [[ "$2" == *"$1"* ]] || fail "$3: '$1' not in: $2"
}

mode_of() { stat -c %a "$1"; }

# ------------------------------------------------------------------ basics

ok --version
has "berth " "$OUT" "--version"
ok --help
has "Exit codes:" "$OUT" "--help footer"
has "5  conflict" "$OUT" "--help footer lists exit codes"
ok registry show-usage --help
has "--output" "$OUT" "verb help"
for verb in "config soft-delete update" "config retention update" "repository list-deleted" \
    "manifest list-deleted" "manifest list-deleted-tags" "manifest restore" purge \
    "purge schedule list" "purge schedule delete" "quota show" "quota update" build run \
    "run list" "run show" "run logs" "run cancel"; do
    # shellcheck disable=SC2086 # the verb is several words
    ok $verb --help
    has "--output" "$OUT" "help of $verb"
done

bad 3 "no token" registry list --server "$SERVER"

# ------------------------------------------------------------------ parse errors: one line each

bad_line 2 "berth: unknown command 'foo'; valid commands: configure, registry, repository, manifest, login, credential, token, scope-map, role, identity, network-rule, audit, webhook, gc, config, purge, quota, import, credential-set, cache, build, run (see 'berth --help')" foo
bad_line 2 "berth: missing command; valid commands: configure, registry, repository, manifest, login, credential, token, scope-map, role, identity, network-rule, audit, webhook, gc, config, purge, quota, import, credential-set, cache, build, run (see 'berth --help')"
bad_line 2 "berth: give --cmd 'IMAGE [ARG...]' (a quick run) or --file TASK.yaml (a task file) (see 'berth run --help')" \
    run --registry default
bad_line 2 "berth: the context $TMP/none is not a directory" build --registry default -t app:v1 "$TMP/none"
bad_line 2 "berth: unknown command 'frob' for 'berth registry'; valid commands: create, list, show, update, delete, show-usage, check-health (see 'berth registry --help')" registry frob
bad_line 2 "berth: unexpected argument 'x' for 'berth registry list' (see 'berth registry list --help')" \
    registry list x --repository app
bad_line 2 "berth: unknown option '--repository' for 'berth registry list' (see 'berth registry list --help')" \
    registry list --repository app
bad_line 2 "berth: --name: registry name 'ab' must be 5-50 letters or digits (see 'berth registry show --help')" \
    registry show --name ab
bad_line 2 "berth: -n: registry name 'ab' must be 5-50 letters or digits (see 'berth registry show --help')" \
    registry show -n ab
bad_line 2 "berth: --admin-enabled: 'yes' is not one of true, false (see 'berth registry create --help')" \
    registry create --name clitest09 --tier Basic --admin-enabled yes
bad_line 2 "berth: --sku: 'Gold' is not one of Basic, Standard, Premium (see 'berth registry create --help')" \
    registry create --name clitest09 --sku Gold
# Access-control verbs check their input before any request.
bad_line 2 "berth: --ip-address: '10.0.0.0/33' is not an IP address or CIDR range (e.g. 10.0.0.0/24) (see 'berth network-rule add --help')" \
    network-rule add -n clitest09 --ip-address 10.0.0.0/33
bad_line 2 "berth: --repository: action 'content/all' must be content/read, content/write, content/delete, metadata/read or metadata/write" \
    scope-map create -n mymap1 -r clitest09 --repository app content/all
bad_line 2 "berth: --role: 'Admin' is not one of AcrPull, AcrPush, AcrDelete, AcrImageSigner, Owner, Contributor, Reader (see 'berth role assignment create --help')" \
    role assignment create --assignee id-1 --role Admin --registry clitest09
# So do the webhook verbs and audit list; a header's value is never repeated.
bad_line 2 "berth: --name: webhook name 'hook-1' must be 5-50 letters or digits (see 'berth webhook create --help')" \
    webhook create --name hook-1 --registry clitest09 --uri http://127.0.0.1:1/ --actions push
bad_line 2 "berth: --actions: 'build' is not one of push, delete, quarantine, chart_push, chart_delete (see 'berth webhook create --help')" \
    webhook create --name hook1 --registry clitest09 --uri http://127.0.0.1:1/ --actions push,build
bad_line 2 "berth: --headers: header 'Authorization' must be NAME=VALUE" \
    webhook create --name hook1 --registry clitest09 --uri http://127.0.0.1:1/ --actions push \
    --headers "Authorization: Bearer $TOKEN"
bad_line 2 "berth: nothing to update: give --uri, --actions, --headers, --scope, --status, --secret, --secret-file or --format" \
    webhook update --name hook1 --registry clitest09
bad_line 2 "berth: missing command for 'berth audit'; valid commands: logins, list (see 'berth audit --help')" audit
bad_line 2 "berth: --action: 'build' is not one of push, delete, untag, pull, chart_push, chart_delete, ping (see 'berth audit list --help')" \
    audit list --registry clitest09 --action build
# So do the lifecycle verbs: ages, sizes, filters, schedules and empty updates.
bad_line 2 "berth: --ago: '1h1d' is not an age: give \"0\", or days, hours, minutes and seconds in that order, e.g. 30d, 1d12h, 90m or 45s (at most 36500d) (see 'berth purge --help')" \
    purge -n clitest09 --filter 'app:.*' --ago 1h1d
bad_line 2 "berth: --filter is required: the tags to delete, as repository-regex:tag-regex, e.g. --filter 'app:.*' (see 'berth purge --help')" \
    purge -n clitest09 --ago 30d
bad_line 2 "berth: --schedule needs --schedule-name: the name the schedule is saved under" \
    purge -n clitest09 --filter 'app:.*' --ago 30d --schedule '0 3 * * *'
bad_line 2 "berth: nothing to update: give --status or --days" config soft-delete update -n clitest09
bad_line 2 "berth: --size: '10XB' is not a size: give a number and a unit, B, KiB, MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000), e.g. 10GiB or 1.5TB (see 'berth quota update --help')" \
    quota update -n clitest09 --size 10XB
bad_line 2 "berth: give exactly one of --bytes, --size and --unlimited" quota update -n clitest09
# https:// to berthd's plain-HTTP port: the scheme is named, not the TLS library's error.
bad_line 1 "berth: cannot reach the server: 127.0.0.1:$PORT does not speak TLS (a plain HTTP port?); use http://127.0.0.1:$PORT" \
    registry list --server "https://127.0.0.1:$PORT" --token "$TOKEN"
bad 2 "no server" registry list --token "$TOKEN"

# ------------------------------------------------------------------ configure

ok configure --server "$SERVER/" --token "$TOKEN"
CONFIG="$XDG_CONFIG_HOME/berth/config.json"
[[ -f "$CONFIG" ]] || fail "configure wrote no $CONFIG"
eq 600 "$(mode_of "$CONFIG")" "config file mode"
eq 700 "$(mode_of "$XDG_CONFIG_HOME/berth")" "config dir mode"
eq "$SERVER" "$(jq -r .server "$CONFIG")" "stored server (trailing slash dropped)"
ok configure -o json
eq "$SERVER" "$(jq -r .server <<<"$OUT")" "configure shows the server"
eq true "$(jq -r .tokenStored <<<"$OUT")" "configure shows a token is stored"
ok configure
has "$SERVER" "$OUT" "configure table"
bad 2 "http://" configure --server "localhost:$PORT"

# ------------------------------------------------------------------ registry verbs

REG=clitest01
bad 2 "must be 5-50 letters or digits" registry create --name ab --tier Basic
bad 2 "must be 5-50 letters or digits" registry create --name "cli-test-01" --tier Basic
bad 2 "must be 5-50 letters or digits" registry show --name "$(printf 'x%.0s' {1..51})"
bad 2 "--tier: 'Gold'" registry create --name "$REG" --tier Gold
bad 2 "--tier" registry create --name "$REG"

ok registry create --name "$REG" --tier Basic --region westeurope -o json
eq "$REG" "$(jq -r .name <<<"$OUT")" "created name"
eq Basic "$(jq -r .tier <<<"$OUT")" "created tier"
eq westeurope "$(jq -r .region <<<"$OUT")" "created region"
eq false "$(jq -r .adminUserEnabled <<<"$OUT")" "admin user off by default"
ok registry create --name clitest02 --tier standard --admin-enabled true \
    --anonymous-pull-enabled true
has "clitest02" "$OUT" "create table"
has "Standard" "$OUT" "tier spelled as the API spells it"

bad 5 "" registry create --name "$REG" --tier Premium
bad 5 "" registry create --name "CLITEST01" --tier Basic

ok registry list
has "NAME" "$OUT" "list table header"
has "$REG" "$OUT" "list table row"
ok registry list -o tsv
eq "$REG	Basic	westeurope" "$(grep "^$REG	" <<<"$OUT" | cut -f1-3)" "list tsv row"
[[ "$OUT" != *NAME* ]] || fail "tsv printed a header"
ok registry list -o json
eq "clitest01 clitest02" "$(jq -r '[.[].name | select(startswith("clitest"))] | join(" ")' <<<"$OUT")" "list json is the array of registries"

ok registry show --name "$REG"
has "$REG.registry.local" "$OUT" "show table login server"
ok registry show -r "$REG" -o tsv
eq "$REG" "$(cut -f1 <<<"$OUT")" "show tsv"
ok registry show -n "$REG" -o json
eq "$REG.registry.local" "$(jq -r .loginServer <<<"$OUT")" "show json login server"
bad 4 "" registry show --name nosuchreg
bad 4 "" registry show-usage --name nosuchreg

bad 2 "nothing to update" registry update --name "$REG"
bad 2 "--admin-enabled" registry update --name "$REG" --admin-enabled maybe
ok registry update --name "$REG" --tier Standard --anonymous-pull-enabled true -o json
eq Standard "$(jq -r .tier <<<"$OUT")" "updated tier"
eq true "$(jq -r .anonymousPullEnabled <<<"$OUT")" "updated anonymous pull"
ok registry update --name "$REG" --public-network-enabled false --region northeurope -o json
eq false "$(jq -r .publicNetworkAccess <<<"$OUT")" "updated public network"
eq northeurope "$(jq -r .region <<<"$OUT")" "updated region"
eq Standard "$(jq -r .tier <<<"$OUT")" "tier kept"
bad 4 "" registry update --name nosuchreg --tier Premium

ok registry check-health --name "$REG"
has "CHECK" "$OUT" "check-health table"
ok registry check-health --name "$REG" -o json
eq true "$(jq -r .healthy <<<"$OUT")" "registry healthy"

# ------------------------------------------------------------------ content, pushed over /v2/

HOST="$REG.registry.local"
# /v2/ needs credentials: the administrator token may do everything in every registry.
AUTH="Authorization: Bearer $TOKEN"
v2() { # METHOD PATH [curl args...]
    local method=$1 path=$2
    shift 2
    curl -sS --fail-with-body --resolve "$HOST:$PORT:127.0.0.1" -H "$AUTH" -X "$method" "$@" \
        "http://$HOST:$PORT$path"
}
push_blob() { # REPO FILE -> prints the digest
    local repo=$1 file=$2 digest location
    digest="sha256:$(sha256sum "$file" | cut -d' ' -f1)"
    location=$(v2 POST "/v2/$repo/blobs/uploads/" -D - -o /dev/null |
        tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
    [[ -n "$location" ]] || fail "no upload location for $repo"
    [[ "$location" == http* ]] || location="http://$HOST:$PORT$location"
    [[ "$location" == *"?"* ]] && sep="&" || sep="?"
    curl -sS --fail-with-body --resolve "$HOST:$PORT:127.0.0.1" -H "$AUTH" -X PUT \
        -H "Content-Type: application/octet-stream" --data-binary "@$file" \
        "$location${sep}digest=$digest" -o /dev/null || fail "blob upload to $repo"
    echo "$digest"
}
push_manifest() { # REPO REFERENCE FILE
    v2 PUT "/v2/$1/manifests/$2" -H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
        --data-binary "@$3" -o /dev/null || fail "manifest push $1:$2"
}
make_manifest() { # CONFIG-FILE LAYER-FILE NOTE OUT
    local config_digest layer_digest
    config_digest="sha256:$(sha256sum "$1" | cut -d' ' -f1)"
    layer_digest="sha256:$(sha256sum "$2" | cut -d' ' -f1)"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}],"annotations":{"note":"%s"}}' \
        "$config_digest" "$(stat -c %s "$1")" "$layer_digest" "$(stat -c %s "$2")" "$3" >"$4"
}

printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$TMP/config.json"
head -c 3000 /dev/urandom >"$TMP/layer.bin"
for repo in team/app other/thing; do
    push_blob "$repo" "$TMP/config.json" >/dev/null
    push_blob "$repo" "$TMP/layer.bin" >/dev/null
done
make_manifest "$TMP/config.json" "$TMP/layer.bin" one "$TMP/m1.json"
make_manifest "$TMP/config.json" "$TMP/layer.bin" two "$TMP/m2.json"
M1="sha256:$(sha256sum "$TMP/m1.json" | cut -d' ' -f1)"
M2="sha256:$(sha256sum "$TMP/m2.json" | cut -d' ' -f1)"
push_manifest team/app v1 "$TMP/m1.json"
push_manifest team/app latest "$TMP/m1.json"
push_manifest team/app v2 "$TMP/m2.json"
push_manifest other/thing x "$TMP/m1.json"

# ------------------------------------------------------------------ repository verbs

ok repository list --name "$REG" -o tsv
eq "other/thing team/app" "$(cut -f1 <<<"$OUT" | sort | tr '\n' ' ' | sed 's/ $//')" "repository list"
ok repository list --name "$REG"
has "MANIFESTS" "$OUT" "repository list table"
ok repository list --registry "$REG" -o json
eq 2 "$(jq 'length' <<<"$OUT")" "repository list json is the array of repositories"
bad 4 "" repository list --name nosuchreg

ok repository show --name "$REG" --repository team/app -o json
eq team/app "$(jq -r .name <<<"$OUT")" "repository show name"
eq 3 "$(jq -r .tagCount <<<"$OUT")" "repository show tag count"
eq 2 "$(jq -r .manifestCount <<<"$OUT")" "repository show manifest count"
ok repository show --name "$REG" --repository team/app
has "team/app" "$OUT" "repository show table"
bad 4 "" repository show --name "$REG" --repository no/such
bad 2 "repository name" repository show --name "$REG" --repository Team/App

ok repository show-tags --name "$REG" --repository team/app -o tsv
eq "latest v1 v2" "$(cut -f1 <<<"$OUT" | sort | tr '\n' ' ' | sed 's/ $//')" "show-tags"
eq "$M1" "$(awk -F'\t' '$1 == "v1" {print $2}' <<<"$OUT")" "show-tags digest of v1"
ok repository show-tags --name "$REG" --repository team/app
has "DIGEST" "$OUT" "show-tags table"
ok repository show-tags --name "$REG" --repository team/app -o json
eq 3 "$(jq 'length' <<<"$OUT")" "show-tags json is the array of tags"

# ------------------------------------------------------------------ usage, with content

ok registry show-usage --name "$REG" -o json
used=$(jq -r '.value[] | select(.name == "Size") | .currentValue' <<<"$OUT")
eq Bytes "$(jq -r '.value[0].unit' <<<"$OUT")" "show-usage json has the az acr show-usage shape"
[[ "$used" =~ ^[0-9]+$ && "$used" -ge 3000 ]] || fail "show-usage usedBytes '$used' below the layer size"
ok registry show-usage --name "$REG" -o tsv
eq "Size" "$(head -n1 <<<"$OUT" | cut -f1)" "show-usage tsv first row"
eq "$used" "$(head -n1 <<<"$OUT" | cut -f2)" "show-usage tsv bytes"
has "repository:team/app" "$OUT" "show-usage per-repository row"
ok registry show-usage --name "$REG"
has "Webhooks" "$OUT" "show-usage table counts"

# ------------------------------------------------------------------ manifest verbs

ok manifest list --registry "$REG" --repository team/app -o json
eq "$(printf '%s\n%s' "$M1" "$M2" | sort | tr '\n' ' ')" \
    "$(jq -r '.[].digest' <<<"$OUT" | sort | tr '\n' ' ')" "manifest list digests"
ok manifest list --registry "$REG" --repository team/app -o tsv
eq "latest,v1" "$(awk -F'\t' -v d="$M1" '$1 == d {print $6}' <<<"$OUT" | tr ',' '\n' | sort | paste -sd,)" "manifest list tags"
ok manifest list --name "$REG" --repository team/app
has "MEDIA TYPE" "$OUT" "manifest list table"
has "oci.image.manifest.v1+json" "$OUT" "manifest list table media type"
width=$(widest_line "$OUT")
[[ "$width" -le 120 ]] || fail "manifest list table is $width columns wide: $OUT"
bad 4 "" manifest list --registry "$REG" --repository no/such

ok manifest show --registry "$REG" --image "team/app:v2" -o json
eq "$M2" "$(jq -r .digest <<<"$OUT")" "manifest show by tag resolves the digest"
eq two "$(jq -r .content <<<"$OUT" | jq -r .annotations.note)" "manifest content"
ok manifest show --registry "$REG" --image "team/app@$M1"
has "${M1:0:19}" "$OUT" "manifest show by digest (the table may cut the digest)"
ok manifest show --registry "$REG" --image "team/app@$M1" -o tsv
eq "$M1" "$(cut -f1 <<<"$OUT")" "manifest show tsv"
bad 4 "tag 'nope'" manifest show --registry "$REG" --image team/app:nope
bad 4 "" manifest show --registry "$REG" --image "team/app@sha256:$(printf '0%.0s' {1..64})"
bad 2 "needs a tag or a digest" manifest show --registry "$REG" --image team/app
bad 2 "digest" manifest show --registry "$REG" --image "team/app@sha256:123"

# untag: the tag goes, the manifest stays
bad 2 "manifest delete" repository untag --name "$REG" --image "team/app@$M1"
ok repository untag --name "$REG" --image team/app:latest
has "Removed tag 'latest'" "$OUT" "untag confirmation"
ok repository show-tags --name "$REG" --repository team/app -o tsv
eq "v1 v2" "$(cut -f1 <<<"$OUT" | sort | tr '\n' ' ' | sed 's/ $//')" "tags after untag"
ok manifest show --registry "$REG" --image "team/app@$M1" -o json
eq "$M1" "$(jq -r .digest <<<"$OUT")" "manifest kept after untag"
bad 4 "" repository untag --name "$REG" --image team/app:latest

# manifest delete by tag: the manifest the tag points at goes, with every tag pointing at it
push_manifest team/app v2b "$TMP/m2.json"
bad 2 "without --yes" manifest delete --registry "$REG" --image team/app:v2
ok manifest delete --registry "$REG" --image team/app:v2 --yes
eq "Deleted manifest 'team/app@$M2' (tag 'v2' and every tag pointing at it) from registry '$REG'." \
    "$OUT" "delete by tag confirmation"
bad 4 "" manifest show --registry "$REG" --image "team/app@$M2"
bad 4 "tag 'v2b'" manifest show --registry "$REG" --image team/app:v2b
ok repository show-tags --name "$REG" --repository team/app -o tsv
eq "v1" "$(cut -f1 <<<"$OUT" | sort | tr '\n' ' ' | sed 's/ $//')" "tags after delete by tag"
ok manifest list --registry "$REG" --repository team/app -o json
eq "$M1" "$(jq -r '.[].digest' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')" "other manifest untouched"
ok manifest show --registry "$REG" --image other/thing:x -o json
eq "$M1" "$(jq -r .digest <<<"$OUT")" "other repository untouched"
bad 4 "tag 'v2'" manifest delete --registry "$REG" --image team/app:v2 --yes

# manifest delete by digest
make_manifest "$TMP/config.json" "$TMP/layer.bin" three "$TMP/m3.json"
M3="sha256:$(sha256sum "$TMP/m3.json" | cut -d' ' -f1)"
push_manifest team/app v3 "$TMP/m3.json"
bad 2 "without --yes" manifest delete --registry "$REG" --image "team/app@$M3"
ok manifest delete --registry "$REG" --image "team/app@$M3" --yes -o json
eq "" "$OUT" "delete prints nothing in json"
bad 4 "" manifest show --registry "$REG" --image "team/app@$M3"
bad 4 "" manifest show --registry "$REG" --image team/app:v3
bad 4 "" manifest delete --registry "$REG" --image "team/app@$M3" --yes
ok manifest show --registry "$REG" --image team/app:v1 -o json
eq "$M1" "$(jq -r .digest <<<"$OUT")" "v1 untouched by the deletions"

# repository delete
bad 2 "without --yes" repository delete --name "$REG" --repository other/thing
ok repository delete --name "$REG" --repository other/thing --yes
has "Deleted repository 'other/thing'" "$OUT" "repository delete confirmation"
bad 4 "" repository show --name "$REG" --repository other/thing
bad 4 "" repository delete --name "$REG" --repository other/thing --yes

# ------------------------------------------------------------------ content lifecycle

# A registry of its own, Basic at first: retention needs Premium. The /v2/ helpers above push to
# $HOST.
LREG=clitest03
ok registry create --name "$LREG" --tier Basic
HOST="$LREG.registry.local"

# the soft delete policy
ok config soft-delete show -n "$LREG" -o json
eq "disabled 7 null" "$(jq -r '"\(.status) \(.days) \(.lastUpdatedTime)"' <<<"$OUT")" "soft delete policy by default"
ok config soft-delete show -n "$LREG"
has "never" "$OUT" "soft delete table: never updated"
bad 2 "--days: '91' is not a number of days from 1 to 90" config soft-delete update -n "$LREG" --days 91
bad 2 "--status" config soft-delete update -n "$LREG" --status on
bad 4 "" config soft-delete show -n nosuchreg
ok config soft-delete update -n "$LREG" --status enabled --days 3 -o json
eq "enabled 3" "$(jq -r '"\(.status) \(.days)"' <<<"$OUT")" "soft delete policy after the update"
[[ "$(jq -r .lastUpdatedTime <<<"$OUT")" =~ ^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T.*Z$ ]] ||
    fail "soft delete lastUpdatedTime after the update: $OUT"
ok config soft-delete update -n "$LREG" --days 5 -o tsv
eq "enabled	5" "$(cut -f1,2 <<<"$OUT")" "soft delete: --days alone keeps the status"
ok config soft-delete show -n "$LREG" -o tsv
eq "enabled	5" "$(cut -f1,2 <<<"$OUT")" "soft delete policy shown after the updates"

# the retention policy: Premium only, and the refusal names the tier
ok config retention show -n "$LREG" -o json
eq "UntaggedManifests disabled 7" "$(jq -r '"\(.type) \(.status) \(.days)"' <<<"$OUT")" "retention policy by default"
bad_line 2 "berth: the Basic tier has no retention policy; it needs the Premium tier" \
    config retention update -n "$LREG" --status enabled --days 1
ok registry update --name "$LREG" --tier Standard
bad_line 2 "berth: the Standard tier has no retention policy; it needs the Premium tier" \
    config retention update -n "$LREG" --status enabled
ok config retention show -n "$LREG" -o json
eq "disabled 7" "$(jq -r '"\(.status) \(.days)"' <<<"$OUT")" "retention policy after the refused updates"
ok registry update --name "$LREG" --tier Premium
ok config retention update -n "$LREG" --status enabled --days 30 --type UntaggedManifests -o json
eq "UntaggedManifests enabled 30" "$(jq -r '"\(.type) \(.status) \(.days)"' <<<"$OUT")" "retention on Premium"
bad 2 "--days: '366' is not a number of days from 0 to 365" config retention update -n "$LREG" --days 366
ok config retention update -n "$LREG" --status disabled
has "disabled" "$(sed -n 3p <<<"$OUT")" "retention table after disabling"
has "30" "$(sed -n 3p <<<"$OUT")" "retention table keeps the days"

# content, then deletes with soft delete on: a manifest by tag, a tag alone, a repository
for repo in lc/app lc/gone; do
    push_blob "$repo" "$TMP/config.json" >/dev/null
    push_blob "$repo" "$TMP/layer.bin" >/dev/null
done
push_manifest lc/app v1 "$TMP/m1.json"
push_manifest lc/app latest "$TMP/m1.json"
push_manifest lc/app v2 "$TMP/m2.json"
push_manifest lc/gone x "$TMP/m1.json"
ok manifest delete --registry "$LREG" --image lc/app:v2 --yes
ok repository untag --name "$LREG" --image lc/app:latest
ok repository delete --name "$LREG" --repository lc/gone --yes

# The repositories with deleted content kept: lc/gone, and lc/app, which lost a manifest and a tag.
ok repository list-deleted -n "$LREG" -o json
eq '["lc/app","lc/gone"]' "$(jq -c . <<<"$OUT")" "repository list-deleted json"
ok repository list-deleted -n "$LREG" -o tsv
eq "lc/app lc/gone" "$(paste -sd' ' <<<"$OUT")" "repository list-deleted tsv"
ok repository list-deleted -n "$LREG"
eq "NAME" "$(head -n1 <<<"$OUT" | tr -d ' ')" "repository list-deleted table header"
has "lc/gone" "$OUT" "repository list-deleted table"
ok manifest list-deleted -n "$LREG" --repository lc/app -o json
eq "$M2 v2 linux/amd64" "$(jq -r '.[] | "\(.digest) \(.tags | join(",")) \(.os)/\(.architecture)"' <<<"$OUT")" \
    "manifest list-deleted json: the deleted manifest with its tag"
[[ "$(jq -r '.[0].expiryTime' <<<"$OUT")" > "$(jq -r '.[0].deletedTime' <<<"$OUT")" ]] ||
    fail "a deleted manifest expires after it was deleted: $OUT"
ok manifest list-deleted -n "$LREG" --repository lc/app
has "linux/amd64" "$OUT" "manifest list-deleted table platform"
has "EXPIRES" "$OUT" "manifest list-deleted table header"
ok manifest list-deleted -n "$LREG" --repository lc/gone -o tsv
eq "$M1" "$(cut -f1 <<<"$OUT")" "manifest list-deleted of the deleted repository"
ok manifest list-deleted-tags -n "$LREG" --repository lc/app -o json
eq "latest=$M1 v2=$M2" "$(jq -r '.[] | "\(.name)=\(.digest)"' <<<"$OUT" | sort | paste -sd' ')" \
    "list-deleted-tags: the untagged tag and the deleted manifest's tag"
ok manifest list-deleted-tags -n "$LREG" --repository lc/app:v2 -o json
eq "v2=$M2" "$(jq -r '.[] | "\(.name)=\(.digest)"' <<<"$OUT" | paste -sd' ')" "list-deleted-tags with :TAG"
ok manifest list-deleted-tags -n "$LREG" --repository lc/app:v1 -o json
eq "[]" "$(jq -c . <<<"$OUT")" "list-deleted-tags of a tag never deleted"
ok manifest list-deleted-tags -n "$LREG" --repository lc/app:v2
has "EXPIRES" "$OUT" "list-deleted-tags table header"
bad 2 "tag" manifest list-deleted-tags -n "$LREG" --repository 'lc/app:-bad'

# restore by tag, by digest; what is not kept is 404
ok manifest restore -n "$LREG" --image lc/app:v2 -o json
eq "[\"$M2\"] [\"v2\"] []" "$(jq -c .manifests <<<"$OUT") $(jq -c .tags <<<"$OUT") $(jq -c .tagsNotRestored <<<"$OUT")" \
    "restore by tag"
ok manifest show --registry "$LREG" --image lc/app:v2 -o json
eq "$M2" "$(jq -r .digest <<<"$OUT")" "lc/app:v2 restored"
ok manifest restore -n "$LREG" --image "lc/gone@$M1"
eq "Restored 1 manifest and 1 tag in repository 'lc/gone'." "$(tail -n1 <<<"$OUT")" "restore by digest message"
has "manifest" "$OUT" "restore table"
ok repository show-tags --name "$LREG" --repository lc/gone -o tsv
eq "x	$M1" "$(cut -f1,2 <<<"$OUT")" "lc/gone:x restored"
ok repository list-deleted -n "$LREG" -o json
eq '["lc/app"]' "$(jq -c . <<<"$OUT")" "repository list-deleted after restoring lc/gone (lc/app:latest is still deleted)"
bad 4 "no deleted tag nope" manifest restore -n "$LREG" --image lc/app:nope
bad 4 "" manifest restore -n "$LREG" --image "lc/app@sha256:$(printf '1%.0s' {1..64})"
bad 4 "" manifest restore -n "$LREG" --image lc/app:v2
bad 2 "needs a tag or a digest" manifest restore -n "$LREG" --image lc/app
# A deleted manifest whose tag's name is in use again: the manifest comes back, the tag only
# with --force.
make_manifest "$TMP/config.json" "$TMP/layer.bin" five "$TMP/m5.json"
M5="sha256:$(sha256sum "$TMP/m5.json" | cut -d' ' -f1)"
push_manifest lc/app rc "$TMP/m5.json"
ok manifest delete --registry "$LREG" --image lc/app:rc --yes
push_manifest lc/app rc "$TMP/m1.json"
ok manifest restore -n "$LREG" --image "lc/app@$M5"
eq "Restored 1 manifest and 0 tags in repository 'lc/app'.
Not restored: rc (the name is in use now; --force moves it to the restored manifest)." \
    "$(tail -n2 <<<"$OUT")" "restore with the tag's name in use"
ok manifest show --registry "$LREG" --image lc/app:rc -o json
eq "$M1" "$(jq -r .digest <<<"$OUT")" "lc/app:rc stays where it was"
ok manifest show --registry "$LREG" --image "lc/app@$M5" -o json
eq "$M5" "$(jq -r .digest <<<"$OUT")" "the restored manifest"
ok manifest restore -n "$LREG" --image "lc/app@$M5" --force -o json
eq "[] [\"rc\"] []" "$(jq -c .manifests <<<"$OUT") $(jq -c .tags <<<"$OUT") $(jq -c .tagsNotRestored <<<"$OUT")" \
    "restore --force of the kept tag"
ok manifest show --registry "$LREG" --image lc/app:rc -o json
eq "$M5" "$(jq -r .digest <<<"$OUT")" "lc/app:rc moved by restore --force"

# purge: a dry run, then the real run deleting the same
make_manifest "$TMP/config.json" "$TMP/layer.bin" four "$TMP/m4.json"
M4="sha256:$(sha256sum "$TMP/m4.json" | cut -d' ' -f1)"
push_manifest lc/app dev-1 "$TMP/m4.json"
push_manifest lc/app dev-2 "$TMP/m1.json"
ok purge -n "$LREG" --filter 'lc/app:^dev-' --ago 0 --dry-run
dry=$OUT
eq "lc/app:dev-1 ($M4)
lc/app:dev-2 ($M1)
Would delete 2 tags and 0 manifests" "$dry" "purge --dry-run output"
ok repository show-tags --name "$LREG" --repository lc/app -o tsv
has "dev-1" "$OUT" "tags after the dry run"
ok purge -n "$LREG" --filter 'lc/app:^dev-' --ago 0
eq "$(sed '$d' <<<"$dry")" "$(sed '$d' <<<"$OUT")" "the purge deleted what its dry run listed"
eq "Deleted 2 tags and 0 manifests" "$(tail -n1 <<<"$OUT")" "purge summary"
ok repository show-tags --name "$LREG" --repository lc/app -o tsv
[[ "$OUT" != *dev-* ]] || fail "dev- tags left after the purge: $OUT"
ok purge -n "$LREG" --filter 'lc/app:.*' --ago 1d --untagged --dry-run
eq "Would delete 0 tags and 0 manifests" "$OUT" "nothing a day old"
# -o json, with --untagged: M4 lost its tag to the purge above
push_manifest lc/app dev-3 "$TMP/m3.json"
ok purge -n "$LREG" --filter 'lc/app:^dev-' --ago 0 --untagged --dry-run -o json
dry=$OUT
eq true "$(jq -r .dryRun <<<"$dry")" "purge json dryRun"
eq "lc/app:dev-3=$M3" "$(jq -r '.tags[] | "\(.repository):\(.tag)=\(.digest)"' <<<"$dry" | paste -sd' ')" \
    "purge json: the tags it would delete"
eq "$(printf 'lc/app@%s\n' "$M3" "$M4" | sort | paste -sd' ')" \
    "$(jq -r '.manifests[] | "\(.repository)@\(.digest)"' <<<"$dry" | sort | paste -sd' ')" \
    "purge json: the untagged manifests it would delete"
ok purge -n "$LREG" --filter 'lc/app:^dev-' --ago 0 --untagged -o json
eq false "$(jq -r .dryRun <<<"$OUT")" "purge json dryRun of the real run"
eq "$(jq -c '{tags, manifests}' <<<"$dry")" "$(jq -c '{tags, manifests}' <<<"$OUT")" \
    "purge json: the real run deleted the dry run's tags and manifests"
eq "[]" "$(jq -c .failures <<<"$OUT")" "purge json failures"
bad 4 "" manifest show --registry "$LREG" --image "lc/app@$M4"
# Soft delete is on: what the purge deleted is kept.
ok manifest list-deleted -n "$LREG" --repository lc/app -o json
has "$M3" "$(jq -r '.[].digest' <<<"$OUT")" "purged manifest kept by soft delete"
has "$M4" "$(jq -r '.[].digest' <<<"$OUT")" "purged untagged manifest kept by soft delete"

# purge schedules: save, replace, list, delete, delete again
ok purge -n "$LREG" --filter 'lc/app:^tmp-' --filter 'lc/other:.*' --ago 30d --keep 2 --untagged \
    --schedule '0 3 * * *' --schedule-name nightly-1.a_b
eq "Saved purge schedule 'nightly-1.a_b' of registry '$LREG': it runs at '0 3 * * *' (UTC)." \
    "$(tail -n1 <<<"$OUT")" "purge --schedule message"
ok purge schedule list -n "$LREG" -o json
eq 'nightly-1.a_b|0 3 * * *|lc/app:^tmp- lc/other:.*|30d|true|2|null' \
    "$(jq -r '.[] | [.name, .schedule, (.filters | join(" ")), .ago, .untagged, .keep, .lastRunTime] | map(tostring) | join("|")' <<<"$OUT")" \
    "purge schedule list json"
ok purge -n "$LREG" --filter 'lc/app:^tmp-' --ago 1d12h --schedule '30 2 * * 1-5' --schedule-name nightly-1.a_b -o json
eq "1d12h 30 2 * * 1-5 false 0" "$(jq -r '"\(.ago) \(.schedule) \(.untagged) \(.keep)"' <<<"$OUT")" \
    "the schedule replaced"
ok purge -n "$LREG" schedule list -o tsv
eq "nightly-1.a_b" "$(cut -f1 <<<"$OUT")" "purge -n R schedule list: still one schedule"
ok purge schedule list -n "$LREG"
has "never" "$OUT" "purge schedule list table: never run"
bad 2 "without --yes" purge schedule delete -n "$LREG" --schedule-name nightly-1.a_b
bad 2 "schedule name" purge schedule delete -n "$LREG" --schedule-name 'a/b' --yes
bad 2 "--dry-run" purge -n "$LREG" --filter 'lc/app:x' --ago 0 --dry-run --schedule '0 3 * * *' --schedule-name n1
ok purge schedule delete -n "$LREG" --schedule-name nightly-1.a_b --yes
eq "Deleted purge schedule 'nightly-1.a_b' from registry '$LREG'." "$OUT" "purge schedule delete message"
bad_line 4 "berth: registry '$LREG' has no purge schedule 'nightly-1.a_b'" \
    purge schedule delete -n "$LREG" --schedule-name nightly-1.a_b --yes
ok purge schedule list -n "$LREG" -o json
eq "[]" "$(jq -c . <<<"$OUT")" "purge schedules after the delete"

# quotas: the registry's (Premium includes 500 GiB) and a repository's
ok quota show -n "$LREG" -o json
eq "$LREG null 536870912000 536870912000" \
    "$(jq -r '"\(.registry) \(.quotaBytes) \(.includedBytes) \(.effectiveQuotaBytes)"' <<<"$OUT")" "quota show json"
used=$(jq -r .usedBytes <<<"$OUT")
[[ "$used" -ge 3000 ]] || fail "quota show usedBytes '$used' below the layer size"
[[ "$(jq -r .softDeletedBytes <<<"$OUT")" -gt 0 ]] || fail "quota show: no soft-deleted bytes after the purge: $OUT"
ok quota update -n "$LREG" --size 1GiB -o json
eq "1073741824 1073741824" "$(jq -r '"\(.quotaBytes) \(.effectiveQuotaBytes)"' <<<"$OUT")" "quota --size 1GiB"
ok quota update -n "$LREG" --size 1.5TB -o json
eq "1500000000000" "$(jq -r .quotaBytes <<<"$OUT")" "quota --size 1.5TB"
ok quota update -n "$LREG" --bytes 123456789 -o tsv
eq "$LREG	123456789" "$(cut -f1,2 <<<"$OUT")" "quota --bytes tsv"
ok quota show -n "$LREG"
has "117.7 MiB" "$OUT" "quota table shows the quota in units"
ok quota update -n "$LREG" --unlimited -o json
eq "null 536870912000" "$(jq -r '"\(.quotaBytes) \(.effectiveQuotaBytes)"' <<<"$OUT")" "quota --unlimited"
ok quota show -n "$LREG"
has "none" "$OUT" "quota table without a quota"
ok quota show -n "$LREG" --repository lc/app -o json
eq "lc/app null" "$(jq -r '"\(.repository) \(.quotaBytes)"' <<<"$OUT")" "repository quota show"
[[ "$(jq -r .usedBytes <<<"$OUT")" -ge 3000 ]] || fail "repository usedBytes below the layer size: $OUT"
ok quota update -n "$LREG" --repository lc/app --size 10KiB -o json
eq "lc/app 10240" "$(jq -r '"\(.repository) \(.quotaBytes)"' <<<"$OUT")" "repository quota --size 10KiB"
# The quota holds: a 20000-byte blob into lc/app is refused with DENIED naming it.
head -c 20000 /dev/urandom >"$TMP/big.bin"
big="sha256:$(sha256sum "$TMP/big.bin" | cut -d' ' -f1)"
status=$(curl -s -o "$TMP/denied.json" -w '%{http_code}' --resolve "$HOST:$PORT:127.0.0.1" -H "$AUTH" \
    -X POST -H "Content-Type: application/octet-stream" --data-binary "@$TMP/big.bin" \
    "http://$HOST:$PORT/v2/lc/app/blobs/uploads/?digest=$big")
eq 403 "$status" "a blob over the repository quota ($(cat "$TMP/denied.json"))"
eq DENIED "$(jq -r '.errors[0].code' "$TMP/denied.json")" "the code of the refusal"
has "the repository's storage quota is 10240 bytes" "$(jq -r '.errors[0].message' "$TMP/denied.json")" \
    "the refusal names the quota"
ok quota update -n "$LREG" --repository lc/app --bytes 7 -o tsv
eq "lc/app	7" "$(cut -f1,2 <<<"$OUT")" "repository quota --bytes tsv"
ok quota update -n "$LREG" --repository lc/app --unlimited -o json
eq "null" "$(jq -r .quotaBytes <<<"$OUT")" "repository quota --unlimited"
bad_line 4 "berth: repository 'no/such' does not exist in registry '$LREG'" quota show -n "$LREG" --repository no/such
bad_line 4 "berth: repository 'no/such' does not exist in registry '$LREG'" \
    quota update -n "$LREG" --repository no/such --bytes 5
bad 4 "" quota show -n nosuchreg
bad 2 "--bytes" quota update -n "$LREG" --bytes -1

ok registry delete --name "$LREG" --yes
HOST="$REG.registry.local"

# ------------------------------------------------------------------ credentials and overrides

bad 3 "" registry list --token wrong-token
bad 3 "" registry show --name "$REG" --token wrong-token
BERTH_TOKEN=wrong-token bad 3 "" registry list
BERTH_TOKEN=wrong-token ok registry list --token "$TOKEN"
BERTH_SERVER="http://127.0.0.1:1" bad 1 "cannot reach" registry list
bad 1 "cannot reach" registry list --server "http://127.0.0.1:1"
ok --server "$SERVER" --token - registry show --name "$REG" -o tsv <<<"$TOKEN"
eq "$REG" "$(cut -f1 <<<"$OUT")" "token from stdin"
ok -o json registry show --name "$REG" --server "$SERVER"
eq "$REG" "$(jq -r .name <<<"$OUT")" "flags before the verb"

# ------------------------------------------------------------------ registry delete

# The default registry answers every host outside the domain: it cannot be deleted.
bad_line 5 "berth: registry 'default' is the default registry of this deployment and cannot be deleted" \
    registry delete --name default --yes
bad_line 5 "berth: registry 'default' is the default registry of this deployment and cannot be deleted" \
    registry delete --name DEFAULT --yes
ok registry show --name default -o json
eq default "$(jq -r .name <<<"$OUT")" "default registry kept"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$SERVER/v2/")
[[ "$status" == 200 ]] || fail "GET /v2/ answered $status after the refused delete"

bad 2 "without --yes" registry delete --name clitest02
ok registry delete --name clitest02 --yes
has "Deleted registry 'clitest02'" "$OUT" "registry delete confirmation"
ok registry delete --name "$REG" --yes -o tsv
eq "" "$OUT" "delete prints nothing in tsv"
bad 4 "" registry show --name "$REG"
bad 4 "" registry delete --name "$REG" --yes
ok registry list -o json
eq 0 "$(jq '[.[].name | select(startswith("clitest"))] | length' <<<"$OUT")" "all gone"

# ------------------------------------------------------------------ a configured default registry

# With --default-registry, that registry is the protected one; the built-in 'default' is then
# an ordinary registry.
start_berthd data2 --default-registry mainreg01
SERVER2="http://127.0.0.1:$PORT"
bad_line 5 "berth: registry 'mainreg01' is the default registry of this deployment and cannot be deleted" \
    registry delete --name mainreg01 --yes --server "$SERVER2"
ok registry delete --name default --yes --server "$SERVER2"
ok registry list --server "$SERVER2" -o json
eq "mainreg01" "$(jq -r '[.[].name] | join(" ")' <<<"$OUT")" "only the configured default is left"

echo "cli_e2e: passed ($CHECKS checks)"
