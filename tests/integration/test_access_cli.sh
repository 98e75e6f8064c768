#!/usr/bin/env bash
# Every access-control verb of the berth CLI against a real berthd, with the -o json shapes
# scripts depend on (the hosted service's CLI shapes): credential show|renew, token
# create|list|show|update|delete and credential generate, scope-map
# create|list|show|update|delete, identity create|list|show|delete, role assignment
# create|list|delete, network-rule add|list|remove, registry update --default-action and
# --admin-enabled, audit logins. Each change is checked through what the registry then does.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/access_lib.sh"

require_cmd curl jq

berthd_start "$IT_TMP/berthd"
ADMIN_TOKEN=$(berthd_admin_token "$IT_TMP/berthd")
REGISTRY="127.0.0.1:$BD_PORT"
export BERTH_SERVER="http://$REGISTRY" BERTH_TOKEN="$ADMIN_TOKEN"

# v2_status USER:PASSWORD PATH: the status of GET PATH with Basic credentials.
v2_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 30 -u "$1" "http://$REGISTRY$2"
}

# ------------------------------------------------------------------ credential show | renew
berth credential show --name default -o json >"$IT_TMP/cred.json"
assert_eq default "$(jq -r .username "$IT_TMP/cred.json")" "credential show: username"
assert_eq '["password","password2"]' "$(jq -c '[.passwords[].name]' "$IT_TMP/cred.json")" \
    "credential show: password names"
ADMIN_PASSWORD=$(jq -r '.passwords[0].value' "$IT_TMP/cred.json")
ADMIN_PASSWORD2=$(jq -r '.passwords[1].value' "$IT_TMP/cred.json")
assert_eq 200 "$(v2_status "default:$ADMIN_PASSWORD2" /v2/)" "password2 logs in"
berth credential renew --name default --password-name password2 -o json >"$IT_TMP/renew.json"
NEW_PASSWORD2=$(jq -r '.passwords[] | select(.name == "password2") | .value' "$IT_TMP/renew.json")
assert_ne "$ADMIN_PASSWORD2" "$NEW_PASSWORD2" "credential renew changes password2"
assert_eq "$ADMIN_PASSWORD" "$(jq -r '.passwords[] | select(.name == "password") | .value' \
    "$IT_TMP/renew.json")" "credential renew keeps password"
assert_eq 401 "$(v2_status "default:$ADMIN_PASSWORD2" /v2/)" "the old password2 no longer works"
assert_eq 200 "$(v2_status "default:$NEW_PASSWORD2" /v2/)" "the new password2 works"

# ------------------------------------------------------------------ scope maps
berth scope-map create --name readers --registry default --description "read samples" \
    --repository 'samples/*' content/read metadata/read -o json >"$IT_TMP/map.json"
assert_eq '["repositories/samples/*/content/read","repositories/samples/*/metadata/read"]' \
    "$(jq -c .actions "$IT_TMP/map.json")" "scope-map create: actions"
berth scope-map list --registry default -o json >"$IT_TMP/maps.json"
jq -e 'type == "array"' "$IT_TMP/maps.json" >/dev/null || fail "scope-map list -o json is not an array"
assert_eq 4 "$(jq length "$IT_TMP/maps.json")" "scope-map list: three system maps and readers"
berth scope-map update --name readers --registry default --add-repository team/app content/read \
    -o json >"$IT_TMP/map2.json"
jq -e '.actions | index("repositories/team/app/content/read") != null' "$IT_TMP/map2.json" \
    >/dev/null || fail "scope-map update --add-repository: $(cat "$IT_TMP/map2.json")"
assert_eq "read samples" "$(berth scope-map show --name readers --registry default -o json |
    jq -r .description)" "scope-map show: description"

# ------------------------------------------------------------------ tokens
berth token create --name reader1 --registry default --scope-map readers -o json >"$IT_TMP/token.json"
assert_eq reader1 "$(jq -r .credentials.username "$IT_TMP/token.json")" "token create: username"
assert_eq '["password1","password2"]' "$(jq -c '[.credentials.passwords[].name]' "$IT_TMP/token.json")" \
    "token create: password names"
TOKEN_PASSWORD=$(jq -r '.credentials.passwords[0].value' "$IT_TMP/token.json")
assert_eq 404 "$(v2_status "reader1:$TOKEN_PASSWORD" /v2/samples/none/tags/list)" \
    "the token reads samples/* (nothing there yet: 404, not 403)"
assert_eq 403 "$(v2_status "reader1:$TOKEN_PASSWORD" /v2/other/app/tags/list)" \
    "the token reads nothing else"
berth token list --registry default -o json >"$IT_TMP/tokens.json"
assert_eq '["reader1"]' "$(jq -c '[.[].name]' "$IT_TMP/tokens.json")" "token list"
assert_eq null "$(jq -c '.[0].credentials.passwords[0].value // null' "$IT_TMP/tokens.json")" \
    "token list shows no password"
berth token update --name reader1 --registry default --status disabled -o json >/dev/null
assert_eq disabled "$(berth token show --name reader1 --registry default -o json | jq -r .status)" \
    "token show after update"
assert_eq 401 "$(v2_status "reader1:$TOKEN_PASSWORD" /v2/)" "a disabled token logs in no more"
berth token update --name reader1 --registry default --status enabled -o json >/dev/null
berth token credential generate --name reader1 --registry default --password1 \
    --expiration-in-days 30 -o json >"$IT_TMP/gen.json"
NEW_TOKEN_PASSWORD=$(jq -r '.passwords[] | select(.name == "password1") | .value' "$IT_TMP/gen.json")
assert_ne "$TOKEN_PASSWORD" "$NEW_TOKEN_PASSWORD" "token credential generate: a new password1"
assert_ne null "$(jq -r '.passwords[] | select(.name == "password1") | .expiry' "$IT_TMP/gen.json")" \
    "the generated password has an expiry"
assert_eq 401 "$(v2_status "reader1:$TOKEN_PASSWORD" /v2/)" "the old password1 no longer works"
assert_eq 200 "$(v2_status "reader1:$NEW_TOKEN_PASSWORD" /v2/)" "the new password1 works"
berth scope-map delete --name readers --registry default --yes >/dev/null 2>&1 &&
    fail "a scope map a token uses was deleted"
berth token delete --name reader1 --registry default --yes
assert_eq 401 "$(v2_status "reader1:$NEW_TOKEN_PASSWORD" /v2/)" "a deleted token logs in no more"
berth scope-map delete --name readers --registry default --yes
assert_eq 3 "$(berth scope-map list --registry default -o json | jq length)" "scope-map delete"

# ------------------------------------------------------------------ identities and roles
berth identity create --name ci-bot --kind service-principal -o json >"$IT_TMP/sp.json"
SP_ID=$(jq -r .id "$IT_TMP/sp.json")
SP_SECRET=$(jq -r .secret "$IT_TMP/sp.json")
assert_eq servicePrincipal "$(jq -r .kind "$IT_TMP/sp.json")" "identity create: kind"
assert_eq 403 "$(v2_status "$SP_ID:$SP_SECRET" /v2/samples/none/tags/list)" "no role: denied"
berth role assignment create --assignee "$SP_ID" --role AcrPull --registry default \
    -o json >"$IT_TMP/ra.json"
RA_ID=$(jq -r .id "$IT_TMP/ra.json")
assert_eq /registries/default "$(jq -r .scope "$IT_TMP/ra.json")" "role assignment scope"
assert_eq 404 "$(v2_status "$SP_ID:$SP_SECRET" /v2/samples/none/tags/list)" "AcrPull: may read"
assert_eq "[\"$RA_ID\"]" "$(berth role assignment list --assignee "$SP_ID" -o json | jq -c '[.[].id]')" \
    "role assignment list"
assert_eq ci-bot "$(berth identity show --id "$SP_ID" -o json | jq -r .name)" "identity show"
jq -e --arg id "$SP_ID" 'map(.id) | index($id) != null' <(berth identity list -o json) \
    >/dev/null || fail "identity list lacks the service principal"
assert_eq null "$(berth identity list -o json | jq -c '.[0].secret // null')" \
    "identity list shows no secret"
berth role assignment delete --ids "$RA_ID" --yes
assert_eq 403 "$(v2_status "$SP_ID:$SP_SECRET" /v2/samples/none/tags/list)" "role removed: denied"
berth identity delete --id "$SP_ID" --yes
assert_eq 401 "$(v2_status "$SP_ID:$SP_SECRET" /v2/)" "a deleted identity logs in no more"

# ------------------------------------------------------------------ network rules
berth registry create --name netcli --tier Premium -o json >/dev/null
berth network-rule add --name netcli --ip-address 10.1.0.0/16 -o json >"$IT_TMP/rules.json"
assert_eq '[{"action":"Allow","ipAddressOrRange":"10.1.0.0/16"}]' \
    "$(jq -c .ipRules "$IT_TMP/rules.json")" "network-rule add"
assert_eq 1 "$(berth network-rule list --name netcli -o json | jq '.ipRules | length')" \
    "network-rule list"
berth registry update --name netcli --default-action Deny -o json >"$IT_TMP/netcli.json"
assert_eq Deny "$(jq -r .networkRuleSet.defaultAction "$IT_TMP/netcli.json")" \
    "registry update --default-action"
status=$(curl -s -o "$IT_TMP/denied.json" -w '%{http_code}' -H "Host: netcli.registry.local" \
    "http://$REGISTRY/v2/")
assert_eq 403 "$status" "127.0.0.1 is outside the rules: denied"
assert_match "127.0.0.1" "$(jq -r '.errors[0].message' "$IT_TMP/denied.json")" \
    "the denial names the client's address"
berth network-rule remove --name netcli --ip-address 10.1.0.0/16 -o json >/dev/null
assert_eq 0 "$(berth network-rule list --name netcli -o json | jq '.ipRules | length')" \
    "network-rule remove"
berth registry update --name default --default-action Deny >/dev/null 2>&1 &&
    fail "Deny on a tier without IP rules was accepted"

# ------------------------------------------------------------------ admin user off, audit
berth registry update --name default --admin-enabled false -o json >/dev/null
assert_eq 401 "$(v2_status "default:$ADMIN_PASSWORD" /v2/)" "admin user disabled: no login"
berth credential show --name default >/dev/null 2>&1 && fail "credential show of a disabled admin user"
berth audit logins --name default --result failure -o json >"$IT_TMP/audit.json"
jq -e 'type == "array" and length > 0 and all(.[]; .result == "failure")' "$IT_TMP/audit.json" \
    >/dev/null || fail "audit logins --result failure: $(head -c 500 "$IT_TMP/audit.json")"
jq -e 'any(.[]; .identity == "reader1" and .clientAddress == "127.0.0.1")' "$IT_TMP/audit.json" \
    >/dev/null || fail "the audit lacks the disabled token's failed login"
berth audit logins --name default --result success --top 1 -o json >"$IT_TMP/audit1.json"
assert_eq 1 "$(jq length "$IT_TMP/audit1.json")" "audit logins --top 1"

pass "every access-control verb of the berth CLI against berthd"
