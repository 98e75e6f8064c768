#!/usr/bin/env bash
# Moving up: an embedded berthd (SQLite + filesystem) gets images pushed by skopeo, is stopped,
# and `berthd migrate` copies its data directory to PostgreSQL + Azurite. The first run is
# killed (-9) in the middle of its blob copy; the rerun finishes. A node on the new backends then
# serves every image with the same digests, the administrator token is unchanged, and a third
# run reports that the copy is done.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scaleout_lib.sh"

require_cmd skopeo curl jq gzip

# 1. The embedded deployment, with three images in two repositories, one with a 60 MiB layer.
start_registry
setup_containers_env skopeo
FIX="$IT_TMP/fixture"
build_fixture_image "$FIX"
SK_DEST=(--dest-tls-verify=false)
SK_SRC=(--src-tls-verify=false)
run_logged "$IT_TMP/push1.log" sk copy "${SK_DEST[@]}" "oci:$FIX:amd64" "docker://$REGISTRY/moved/busybox:1.0"
run_logged "$IT_TMP/push2.log" sk copy --all "${SK_DEST[@]}" "oci:$FIX:multi" "docker://$REGISTRY/moved/busybox:multi"
BIG="$IT_TMP/big"
build_big_image "$BIG" 60
run_logged "$IT_TMP/push3.log" sk copy "${SK_DEST[@]}" "oci:$BIG:big" "docker://$REGISTRY/moved/big:1"
declare -A digests=(["moved/busybox:1.0"]=$FIXTURE_AMD64_DIGEST ["moved/busybox:multi"]=$FIXTURE_INDEX_DIGEST
    ["moved/big:1"]=$big_manifest)
stop_registry
source_dir="$REGISTRY_DIR/data"
embedded_admin_token=$ADMIN_TOKEN

# 2. The scale-out backends, and the migration: killed once it is copying blobs, then rerun.
start_scaleout_backends
# The embedded berthd made its own key file: the nodes take that key (migrate's report says so).
BERTH_DEPLOYMENT_KEY=$(base64 -w0 "$source_dir/deployment.key")
export BERTH_DEPLOYMENT_KEY
migrate_command=("$BERTHD" migrate --from-data-dir "$source_dir" --parallel 1)
migrate() { "${migrate_command[@]}"; }
# exec: $! is berthd itself, whose connections the loop below looks for.
(trap - ERR; exec "${migrate_command[@]}") >"$IT_TMP/migrate1.log" 2>&1 &
migrate_pid=$!
# Killed once it talks to Azurite (it opens the destination storage right before the blob copy)
# and has had half a second to store part of the 60 MiB layer.
azurite_port=$(sed -n 's/.*BlobEndpoint=http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$BERTH_AZURE_STORAGE_CONNECTION_STRING")
[[ -n "$azurite_port" ]] || fail "no Azurite port in the connection string"
for ((i = 0; i < 1200; i++)); do
    kill -0 "$migrate_pid" 2>/dev/null || break
    ss -Htnp state established "( dport = :$azurite_port )" 2>/dev/null | grep -q "pid=$migrate_pid," && break
    sleep 0.025
done
sleep 0.5
kill -KILL "$migrate_pid" 2>/dev/null || true
first_status=0
wait "$migrate_pid" 2>/dev/null || first_status=$?
assert_eq 137 "$first_status" "exit status of the first migration (killed mid-copy)"
log "first migration killed mid-copy"
# The killed run's upload keeps its 60 s lease in Azure: until it expires the rerun says the
# copy is in use and stops, changing nothing; then it continues from what was stored.
for ((attempt = 1; ; attempt++)); do
    if (trap - ERR; migrate) >"$IT_TMP/migrate2.log" 2>&1; then break; fi
    grep -q "in use by another migration" "$IT_TMP/migrate2.log" ||
        fail "the rerun failed: $(cat "$IT_TMP/migrate2.log")"
    ((attempt < 20)) || fail "the killed run's lease never expired: $(cat "$IT_TMP/migrate2.log")"
    sleep 5
done
log "the rerun finished after $attempt attempt(s): $(grep -m1 'blobs:' "$IT_TMP/migrate2.log")"
grep -q "The administrator token is unchanged" "$IT_TMP/migrate2.log" ||
    fail "migrate did not carry the administrator token: $(cat "$IT_TMP/migrate2.log")"
if grep -q -- "$BERTH_DEPLOYMENT_KEY" "$IT_TMP/migrate2.log" "$IT_TMP/migrate1.log"; then
    fail "migrate printed the deployment key"
fi
run_logged "$IT_TMP/migrate3.log" migrate
grep -qi "already" "$IT_TMP/migrate3.log" || fail "a third run did not report the copy as done: $(cat "$IT_TMP/migrate3.log")"

# 3. A node on the new backends: the same administrator token, every image with its digest,
# the big layer byte for byte.
unset BERTH_INITIAL_ADMIN_TOKEN
start_node 1
[[ "$ADMIN_TOKEN" == "$embedded_admin_token" ]] || fail "the administrator token changed"
REGISTRY="127.0.0.1:${NODE_PORT[1]}"
REGISTRY_PORT=${NODE_PORT[1]}
export REGISTRY REGISTRY_PORT
REFRESH_TOKEN=$(refresh_token_for "$REGISTRY")
export REFRESH_TOKEN
setup_containers_env skopeo
for ref in "${!digests[@]}"; do
    assert_eq "${digests[$ref]}" "$(registry_manifest_digest "${ref%%:*}" "${ref#*:}")" "digest of $ref after the move"
done
BACK="$IT_TMP/back"
run_logged "$IT_TMP/pull-big.log" sk copy "${SK_SRC[@]}" "docker://$REGISTRY/moved/big:1" "oci:$BACK:big"
cmp -s "$BIG/blobs/sha256/${big_layer#sha256:}" "$BACK/blobs/sha256/${big_layer#sha256:}" ||
    fail "the big layer pulled after the move differs from the one pushed"
run_logged "$IT_TMP/pull-multi.log" sk copy --all "${SK_SRC[@]}" "docker://$REGISTRY/moved/busybox:multi" "oci:$BACK:multi"
assert_eq "$FIXTURE_INDEX_DIGEST" "$(oci_layout_digest "$BACK" multi)" "the index pulled after the move"

pass
