#!/usr/bin/env bash
# Crash consistency: concurrent pushes over plain HTTP, kill -9 of the
# registry mid-flight, restart on the same data dir, then:
#   - every acknowledged blob (201) and manifest (201) is served with the
#     right digest, and acknowledged tags point at their manifests;
#   - nothing that was not acknowledged is visible half-written: a GET either
#     404s or returns the complete, correct content.
# Three kill cycles; each verification covers every earlier cycle too.
#
# Needs BERTHD. CRASH_TEST_REFERENCE=1 runs it against the reference registry
# instead (to check the test itself).
. "$(dirname "$0")/lib.sh"

if [[ -z "${BERTHD:-}" && "${CRASH_TEST_REFERENCE:-0}" != 1 ]]; then
    skip "BERTHD is not set (CRASH_TEST_REFERENCE=1 runs this against the reference registry)"
fi
require_cmd curl sha256sum

WORKERS=${CRASH_WORKERS:-8}
CYCLES=${CRASH_CYCLES:-3}
LOGS="$IT_TMP/logs"
mkdir -p "$LOGS"
WORKER_PIDS=()

stop_workers() {
    touch "$LOGS/stop"
    local p
    for p in "${WORKER_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    WORKER_PIDS=()
}
kill_workers() {
    touch "$LOGS/stop"
    local p
    for p in "${WORKER_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
}
add_cleanup kill_workers

# push_blob REPO FILE DIGEST: POST an upload, PUT ?digest= with the whole
# body. Echoes the status of the PUT (or "P<status>" if the POST failed).
push_blob() {
    local repo=$1 file=$2 digest=$3 hdr loc st
    hdr="$file.hdr"
    st=$(curl -s --max-time 20 -X POST -H 'Content-Length: 0' -D "$hdr" -o /dev/null -w '%{http_code}' \
        "http://$REGISTRY/v2/$repo/blobs/uploads/") || st=000
    if [[ "$st" != 202 ]]; then
        echo "P$st"
        return
    fi
    loc=$(awk 'tolower($1) == "location:" {sub(/\r$/, "", $2); print $2}' "$hdr" | tail -n1)
    [[ "$loc" == http* ]] || loc="http://$REGISTRY$loc"
    if [[ "$loc" == *\?* ]]; then loc="$loc&digest=$digest"; else loc="$loc?digest=$digest"; fi
    st=$(curl -s --max-time 60 -X PUT -H 'Content-Type: application/octet-stream' \
        --data-binary "@$file" -o /dev/null -w '%{http_code}' "$loc") || st=000
    echo "$st"
}

# worker W CYCLE: push distinct images until the stop file appears. Log lines:
#   B <status> <repo> <digest> <size>
#   M <status> <repo> <tag> <manifest digest> <config digest> <layer digest>
worker() {
    local w=$1 cycle=$2 log="$LOGS/c$2-w$1.log" wd="$IT_TMP/work/c$2-w$1"
    local repo="crash/w$w" i=0 size ldig cdig mdig csize st tag
    mkdir -p "$wd"
    while [[ ! -e "$LOGS/stop" ]]; do
        i=$((i + 1))
        tag="c$cycle-$i"
        if ((RANDOM % 10 < 3)); then
            size=$((1048576 + RANDOM * 64))      # 1 - 3 MiB
        else
            size=$((1024 + RANDOM))              # 1 - 33 KiB
        fi
        head -c "$size" /dev/urandom >"$wd/layer"
        ldig=$(sha256_file "$wd/layer")
        st=$(push_blob "$repo" "$wd/layer" "$ldig")
        echo "B $st $repo $ldig $size" >>"$log"
        if [[ "$st" != 201 ]]; then
            sleep 0.05
            continue
        fi

        printf '{"architecture":"amd64","os":"linux","config":{"Labels":{"worker":"%s","tag":"%s"}},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
            "$w" "$tag" "$ldig" >"$wd/config"
        cdig=$(sha256_file "$wd/config")
        csize=$(stat -c %s "$wd/config")
        st=$(push_blob "$repo" "$wd/config" "$cdig")
        echo "B $st $repo $cdig $csize" >>"$log"
        if [[ "$st" != 201 ]]; then
            sleep 0.05
            continue
        fi

        printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
            "$MT_OCI_MANIFEST" "$MT_OCI_CONFIG" "$cdig" "$csize" "$ldig" "$size" >"$wd/manifest"
        mdig=$(sha256_file "$wd/manifest")
        st=$(curl -s --max-time 20 -X PUT -H "Content-Type: $MT_OCI_MANIFEST" \
            --data-binary "@$wd/manifest" -o /dev/null -w '%{http_code}' \
            "http://$REGISTRY/v2/$repo/manifests/$tag") || st=000
        echo "M $st $repo $tag $mdig $cdig $ldig" >>"$log"
        [[ "$st" == 201 ]] || sleep 0.05
    done
}

ERRORS=0
problem() {
    printf '[%s] PROBLEM: %s\n' "$IT_NAME" "$*" >&2
    ERRORS=$((ERRORS + 1))
}

# verify_all: check every log line of every cycle so far. All GETs go through
# one curl (one connection) and one sha256sum, the machine may be loaded.
verify_all() {
    local vd="$IT_TMP/verify"
    rm -rf "$vd"
    mkdir -p "$vd/out"
    local -a urls=() wants=() acked=() descs=()
    local kind st repo a b c d f n
    # add_check URL DIGEST ACKED DESCRIPTION
    add_check() {
        urls+=("$1")
        wants+=("$2")
        acked+=("$3")
        descs+=("$4")
    }
    local acked_blobs=0 acked_manifests=0 unacked=0
    for f in "$LOGS"/c*-w*.log; do
        [[ -e "$f" ]] || continue
        while read -r kind st repo a b c d; do
            if [[ "$kind" == B ]]; then
                if [[ "$st" == 201 ]]; then
                    acked_blobs=$((acked_blobs + 1))
                    add_check "/v2/$repo/blobs/$a" "$a" 1 "acknowledged blob $repo@$a ($b bytes)"
                else
                    unacked=$((unacked + 1))
                    add_check "/v2/$repo/blobs/$a" "$a" 0 "unacknowledged blob $repo@$a ($b bytes, upload said $st)"
                fi
            elif [[ "$kind" == M ]]; then
                if [[ "$st" == 201 ]]; then
                    acked_manifests=$((acked_manifests + 1))
                    add_check "/v2/$repo/manifests/$a" "$b" 1 "acknowledged tag $repo:$a -> $b"
                    add_check "/v2/$repo/manifests/$b" "$b" 1 "acknowledged manifest $repo@$b (tag $a)"
                    add_check "/v2/$repo/blobs/$c" "$c" 1 "config $repo@$c of acknowledged manifest $repo:$a"
                    add_check "/v2/$repo/blobs/$d" "$d" 1 "layer $repo@$d of acknowledged manifest $repo:$a"
                else
                    unacked=$((unacked + 1))
                    add_check "/v2/$repo/manifests/$a" "$b" 0 "unacknowledged tag $repo:$a -> $b (PUT said $st)"
                fi
            fi
        done <"$f"
    done
    n=${#urls[@]}
    ((n > 0)) || { problem "no request was logged at all"; return; }

    local i
    {
        echo "header = \"Accept: $MT_OCI_MANIFEST\""
        for ((i = 0; i < n; i++)); do
            echo "url = \"http://$REGISTRY${urls[i]}\""
            echo "output = \"$vd/out/$i\""
        done
    } >"$vd/curl.cfg"
    curl -s --max-time 600 -K "$vd/curl.cfg" -w '%{http_code}\n' >"$vd/codes" || true
    local -a codes=()
    mapfile -t codes <"$vd/codes"
    local -A hashes=()
    local h p
    while read -r h p; do
        hashes[${p##*/}]="sha256:$h"
    done < <(cd "$vd/out" && find . -type f -printf '%f\0' | xargs -0 -r sha256sum)

    local code got visible=0
    for ((i = 0; i < n; i++)); do
        code=${codes[i]:-000}
        got=${hashes[$i]:-none}
        if [[ "${acked[i]}" == 1 ]]; then
            if [[ "$code" != 200 ]]; then
                problem "${descs[i]}: GET ${urls[i]} answered $code"
            elif [[ "$got" != "${wants[i]}" ]]; then
                problem "${descs[i]}: GET ${urls[i]} body ($(stat -c %s "$vd/out/$i") bytes) hashes to $got"
            fi
        else
            case "$code" in
                404) ;;
                200)
                    visible=$((visible + 1))
                    [[ "$got" == "${wants[i]}" ]] ||
                        problem "${descs[i]}: GET ${urls[i]} returned a body ($(stat -c %s "$vd/out/$i") bytes) hashing to $got: half-written?"
                    ;;
                *) problem "${descs[i]}: GET ${urls[i]} answered $code, expected 404 or 200 with full content" ;;
            esac
        fi
    done

    # tags/list lists every acknowledged tag
    local w tags
    for ((w = 0; w < WORKERS; w++)); do
        tags=$(curl -s --max-time 30 "http://$REGISTRY/v2/crash/w$w/tags/list" | jq -r '(.tags // [])[]' 2>/dev/null | sort) || true
        while read -r a; do
            [[ -n "$a" ]] || continue
            grep -qxF "$a" <<<"$tags" || problem "tags/list of crash/w$w lacks acknowledged tag $a"
        done < <({ cat "$LOGS"/c*-w"$w".log 2>/dev/null || true; } | awk '$1 == "M" && $2 == 201 {print $4}')
    done
    log "verified $n GETs: $acked_blobs acknowledged blobs, $acked_manifests acknowledged manifests," \
        "$unacked unacknowledged requests ($visible of them visible, complete)"
    ((acked_manifests > 0)) || problem "no push was acknowledged at all"
}

start_registry
for ((cycle = 1; cycle <= CYCLES; cycle++)); do
    rm -f "$LOGS/stop"
    for ((w = 0; w < WORKERS; w++)); do
        worker "$w" "$cycle" &
        WORKER_PIDS+=($!)
    done
    # Push until every worker could have finished an image (on a loaded
    # machine that takes longer than the nominal 2 s), then 1.0 - 2.0 s more,
    # then kill -9 mid-flight.
    for ((t = 0; t < 300; t++)); do
        acks=$({ cat "$LOGS"/c"$cycle"-w*.log 2>/dev/null || true; } | awk '$1 == "M" && $2 == 201' | wc -l)
        ((acks >= WORKERS)) && break
        sleep 0.1
    done
    sleep "1.$((RANDOM % 10))"
    kill9_registry
    log "cycle $cycle: registry killed with SIGKILL"
    stop_workers
    start_registry
    verify_all
    ((ERRORS == 0)) || fail "$ERRORS consistency problem(s) after kill cycle $cycle (details above)"
    rm -rf "$IT_TMP/work"
done

pass "$CYCLES kill -9 cycles with $WORKERS concurrent pushers: acknowledged data intact, nothing half-written visible"
