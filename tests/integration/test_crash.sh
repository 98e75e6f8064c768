#!/usr/bin/env bash
# Crash consistency: concurrent writes of every kind over plain HTTP, kill -9 of the registry
# mid-flight, restart on the same data dir, then:
#   - every acknowledged blob (201) and manifest (201) is served with the right digest, and
#     acknowledged tags point at their manifests;
#   - nothing that was not acknowledged is visible half-written: a GET either 404s or returns
#     the complete, correct content;
#   - acknowledged deletes (manifest by digest, tag; 202) stay deleted, and a tag delete left
#     its manifest in place; a digest delete cut by the kill removed the manifest and its tag
#     together or neither;
#   - chunked uploads that were mid-body at the kill (a rate-limited PATCH, its curl provably
#     still running) either answer 404 or report an offset that keeps every acknowledged byte;
#     resuming from that offset and completing with the whole blob's digest gives 201 and a
#     blob that hashes right;
#   - acknowledged management writes (registry create 201, tier change 200, delete 204) hold.
# The kill must catch at least one request in flight, or the cycle proves nothing and fails.
# Three kill cycles; each verification covers every earlier cycle too.
#
# Needs BERTHD. CRASH_TEST_REFERENCE=1 runs it against the reference registry instead (to check
# the test itself; the management part is berthd's and is left out there).
. "$(dirname "$0")/lib.sh"

if [[ -z "${BERTHD:-}" && "${CRASH_TEST_REFERENCE:-0}" != 1 ]]; then
    skip "BERTHD is not set (CRASH_TEST_REFERENCE=1 runs this against the reference registry)"
fi
require_cmd curl sha256sum jq

WORKERS=${CRASH_WORKERS:-8}
CYCLES=${CRASH_CYCLES:-3}
SESSIONS=${CRASH_SESSIONS:-3}
# A chunked upload: one acknowledged first chunk, then the rest in one PATCH slowed down so that
# it is still sending when the registry dies. Session k sends at PATCH_RATES[k % 3]: the slowest
# (48 MiB at 32 KiB/s) outlasts any wait before the kill; the faster ones have several MiB
# inside the server by then, more than one read buffer, so the kill cuts an append midway.
FIRST_CHUNK=262144
REST_SIZE=$((48 * 1048576))
read -r -a PATCH_RATES <<<"${CRASH_PATCH_RATES:-32k 192k 512k}"
LOGS="$IT_TMP/logs"
WORK="$IT_TMP/work"
mkdir -p "$LOGS" "$WORK"
WORKER_PIDS=()

# The reference registry answers a DELETE by tag with 400 (distribution's known limit) and has
# no management API; it gets deletes by digest only.
MANAGEMENT=0
TAG_DELETES=0
if [[ -n "${BERTHD:-}" ]]; then
    MANAGEMENT=1
    TAG_DELETES=1
fi

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

# header_of FILE NAME: the last value of header NAME in a curl -D dump ("" when absent).
header_of() {
    { awk -v name="$(tr '[:upper:]' '[:lower:]' <<<"$2"):" \
        'tolower($1) == name {sub(/\r$/, ""); sub(/^[^:]*:[ \t]*/, ""); v = $0} END {print v}' \
        "$1" 2>/dev/null || true; } | tail -n1
}

# absolute LOCATION: an absolute URL for a Location header value.
absolute() {
    if [[ "$1" == http* ]]; then echo "$1"; else echo "http://$REGISTRY$1"; fi
}

# with_query URL PARAM: URL with PARAM appended to its query.
with_query() {
    if [[ "$1" == *\?* ]]; then echo "$1&$2"; else echo "$1?$2"; fi
}

# push_blob REPO FILE DIGEST: POST an upload, PUT ?digest= with the whole
# body. Echoes the status of the PUT (or "P<status>" if the POST failed).
push_blob() {
    local repo=$1 file=$2 digest=$3 hdr loc st
    hdr="$file.hdr"
    st=$(registry_curl -s --max-time 20 -X POST -H 'Content-Length: 0' -D "$hdr" -o /dev/null -w '%{http_code}' \
        "http://$REGISTRY/v2/$repo/blobs/uploads/") || st=000
    if [[ "$st" != 202 ]]; then
        echo "P$st"
        return
    fi
    loc=$(with_query "$(absolute "$(header_of "$hdr" Location)")" "digest=$digest")
    st=$(registry_curl -s --max-time 60 -X PUT -H 'Content-Type: application/octet-stream' \
        --data-binary "@$file" -o /dev/null -w '%{http_code}' "$loc") || st=000
    echo "$st"
}

# push_image REPO TAG SIZE WORKDIR LOG LABEL: a layer of SIZE random bytes, a config and the
# manifest tagged TAG. Logs "B" lines for the blobs; echoes "<status> <manifest digest> <config
# digest> <layer digest>" of the manifest PUT, or "skip" when a blob push failed.
push_image() {
    local repo=$1 tag=$2 size=$3 wd=$4 log=$5 label=$6 ldig cdig csize mdig st
    head -c "$size" /dev/urandom >"$wd/layer"
    ldig=$(sha256_file "$wd/layer")
    st=$(push_blob "$repo" "$wd/layer" "$ldig")
    echo "B $st $repo $ldig $size" >>"$log"
    if [[ "$st" != 201 ]]; then
        echo skip
        return
    fi
    printf '{"architecture":"amd64","os":"linux","config":{"Labels":{"writer":"%s","tag":"%s"}},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
        "$label" "$tag" "$ldig" >"$wd/config"
    cdig=$(sha256_file "$wd/config")
    csize=$(stat -c %s "$wd/config")
    st=$(push_blob "$repo" "$wd/config" "$cdig")
    echo "B $st $repo $cdig $csize" >>"$log"
    if [[ "$st" != 201 ]]; then
        echo skip
        return
    fi
    printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
        "$MT_OCI_MANIFEST" "$MT_OCI_CONFIG" "$cdig" "$csize" "$ldig" "$size" >"$wd/manifest"
    mdig=$(sha256_file "$wd/manifest")
    st=$(registry_curl -s --max-time 20 -X PUT -H "Content-Type: $MT_OCI_MANIFEST" \
        --data-binary "@$wd/manifest" -o /dev/null -w '%{http_code}' \
        "http://$REGISTRY/v2/$repo/manifests/$tag") || st=000
    echo "$st $mdig $cdig $ldig"
}

# worker W CYCLE: push distinct images until the stop file appears. Log lines:
#   B <status> <repo> <digest> <size>
#   M <status> <repo> <tag> <manifest digest> <config digest> <layer digest>
worker() {
    local w=$1 cycle=$2 log="$LOGS/c$2-w$1.log" wd="$WORK/c$2-w$1"
    local repo="crash/w$w" i=0 size tag result
    mkdir -p "$wd"
    while [[ ! -e "$LOGS/stop" ]]; do
        i=$((i + 1))
        tag="c$cycle-$i"
        if ((RANDOM % 10 < 3)); then
            size=$((1048576 + RANDOM * 64))      # 1 - 3 MiB
        else
            size=$((1024 + RANDOM))              # 1 - 33 KiB
        fi
        result=$(push_image "$repo" "$tag" "$size" "$wd" "$log" "w$w")
        if [[ "$result" == skip ]]; then
            sleep 0.05
            continue
        fi
        read -r st mdig cdig ldig <<<"$result"
        echo "M $st $repo $tag $mdig $cdig $ldig" >>"$log"
        [[ "$st" == 201 ]] || sleep 0.05
    done
}

# deleter CYCLE: push small images to crash/del and delete each right after its push, by tag
# or by digest in turn. Log lines (besides the blobs' "B" lines):
#   N <status> <repo> <tag> <manifest digest>      the manifest PUT
#   T <status> <repo> <tag> <manifest digest>      DELETE .../manifests/<tag>
#   G <status> <repo> <tag> <manifest digest>      DELETE .../manifests/<digest>
deleter() {
    local cycle=$1 log="$LOGS/c$1-d.log" wd="$WORK/c$1-d" repo=crash/del i=0 tag result st
    mkdir -p "$wd"
    while [[ ! -e "$LOGS/stop" ]]; do
        i=$((i + 1))
        tag="c$cycle-d$i"
        result=$(push_image "$repo" "$tag" $((512 + RANDOM % 4096)) "$wd" "$log" deleter)
        if [[ "$result" == skip ]]; then
            sleep 0.05
            continue
        fi
        read -r st mdig _ <<<"$result"
        echo "N $st $repo $tag $mdig" >>"$log"
        if [[ "$st" != 201 ]]; then
            sleep 0.05
            continue
        fi
        if ((TAG_DELETES && i % 2)); then
            st=$(registry_curl -s --max-time 20 -X DELETE -o /dev/null -w '%{http_code}' \
                "http://$REGISTRY/v2/$repo/manifests/$tag") || st=000
            echo "T $st $repo $tag $mdig" >>"$log"
        else
            st=$(registry_curl -s --max-time 20 -X DELETE -o /dev/null -w '%{http_code}' \
                "http://$REGISTRY/v2/$repo/manifests/$mdig") || st=000
            echo "G $st $repo $tag $mdig" >>"$log"
        fi
    done
}

# mgmt OUTPUT CURL ARGS...: a management API call with the administrator token, the body to
# OUTPUT; echoes the status.
mgmt() {
    local output=$1 st
    shift
    st=$(registry_curl -s --max-time 20 -o "$output" -w '%{http_code}' "$@") || st=000
    echo "$st"
}

# manager CYCLE: create registries through the management API; change the tier of every third
# and delete every third. Log lines:
#   R <status> <name>            POST /mgmt/v1/registries (tier Basic)
#   U <status> <name> Premium    PATCH tier
#   Z <status> <name>            DELETE
manager() {
    local cycle=$1 log="$LOGS/c$1-m.log" i=0 name st
    while [[ ! -e "$LOGS/stop" ]]; do
        i=$((i + 1))
        name="crash${cycle}reg$i"
        st=$(mgmt /dev/null -X POST -H 'Content-Type: application/json' \
            --data "{\"name\":\"$name\",\"tier\":\"Basic\"}" \
            "http://$REGISTRY/mgmt/v1/registries")
        echo "R $st $name" >>"$log"
        if [[ "$st" != 201 ]]; then
            sleep 0.05
            continue
        fi
        case $((i % 3)) in
            1)
                st=$(mgmt /dev/null -X PATCH -H 'Content-Type: application/json' --data '{"tier":"Premium"}' \
                    "http://$REGISTRY/mgmt/v1/registries/$name")
                echo "U $st $name Premium" >>"$log"
                ;;
            2)
                st=$(mgmt /dev/null -X DELETE "http://$REGISTRY/mgmt/v1/registries/$name")
                echo "Z $st $name" >>"$log"
                ;;
        esac
        sleep 0.02
    done
}

# session CYCLE K: a chunked upload to crash/s<K>. POST, PATCH the first chunk (acknowledged),
# then PATCH the rest at its rate from PATCH_RATES; the pid of that curl goes to c<CYCLE>-s<K>.pid for the
# in-flight check. When the curl ends (the kill cuts it), logs one line to c<CYCLE>-s<K>.log:
#   S <patch 1 status> <patch 2 status> <repo> <location> <file> <digest> <acknowledged bytes>
session() {
    local cycle=$1 k=$2 repo="crash/s$2" file="$WORK/c$1-s$2.bin" log="$LOGS/c$1-s$2.log"
    local hdr="$file.hdr" st st1 st2 loc digest size=$((FIRST_CHUNK + REST_SIZE)) pid acked=0
    head -c "$size" /dev/urandom >"$file"
    head -c "$FIRST_CHUNK" "$file" >"$file.first"
    tail -c "+$((FIRST_CHUNK + 1))" "$file" >"$file.rest"
    digest=$(sha256_file "$file")
    st=$(registry_curl -s --max-time 20 -X POST -H 'Content-Length: 0' -D "$hdr" -o /dev/null \
        -w '%{http_code}' "http://$REGISTRY/v2/$repo/blobs/uploads/") || st=000
    if [[ "$st" != 202 ]]; then
        echo "S P$st - $repo - $file $digest 0" >>"$log"
        return
    fi
    loc=$(absolute "$(header_of "$hdr" Location)")
    st1=$(registry_curl -s --max-time 30 -X PATCH -H 'Content-Type: application/octet-stream' \
        -H "Content-Range: 0-$((FIRST_CHUNK - 1))" --data-binary "@$file.first" \
        -D "$hdr" -o /dev/null -w '%{http_code}' "$loc") || st1=000
    if [[ "$st1" == 202 ]]; then
        acked=$FIRST_CHUNK
        loc=$(absolute "$(header_of "$hdr" Location)")
    fi
    curl -s "${REGISTRY_AUTH[@]}" --limit-rate "${PATCH_RATES[k % ${#PATCH_RATES[@]}]}" --max-time 3600 -X PATCH \
        -H 'Content-Type: application/octet-stream' \
        -H "Content-Range: $FIRST_CHUNK-$((size - 1))" --data-binary "@$file.rest" \
        -D "$hdr.2" -o /dev/null -w '%{http_code}' "$loc" >"$file.st2" 2>/dev/null &
    pid=$!
    echo "$pid" >"$LOGS/c$cycle-s$k.pid"
    wait "$pid" 2>/dev/null || true
    st2=$(cat "$file.st2" 2>/dev/null || true)
    if [[ "$st2" == 202 ]]; then
        acked=$size
        loc=$(absolute "$(header_of "$hdr.2" Location)")
    fi
    echo "S $st1 ${st2:-000} $repo $loc $file $digest $acked" >>"$log"
}

ERRORS=0
problem() {
    printf '[%s] PROBLEM: %s\n' "$IT_NAME" "$*" >&2
    ERRORS=$((ERRORS + 1))
}

# verify_sessions CYCLE: every chunked upload of the cycle answers 404 or resumes from the
# offset it reports and completes into the right blob. Completed ones are logged to
# resumed.log as acknowledged blobs, so later cycles check them again.
verify_sessions() {
    local cycle=$1 f kind st1 st2 repo loc file digest acked
    local hdr="$WORK/session.hdr" code range offset size st out="$WORK/session.out"
    local resumed=0 unknown=0 offsets=""
    for f in "$LOGS"/c"$cycle"-s*.log; do
        [[ -e "$f" ]] || continue
        read -r kind st1 st2 repo loc file digest acked <"$f"
        if [[ "$st1" == P* ]]; then
            problem "chunked upload to $repo: POST answered ${st1#P} before the kill"
            continue
        fi
        [[ "$st1" == 202 ]] || problem "chunked upload to $repo: first PATCH answered $st1 before the kill"
        size=$(stat -c %s "$file")
        code=$(registry_curl -s --max-time 30 -D "$hdr" -o /dev/null -w '%{http_code}' "$loc") || code=000
        if [[ "$code" == 404 ]]; then
            unknown=$((unknown + 1))
            continue
        fi
        if [[ "$code" != 204 ]]; then
            problem "chunked upload to $repo: status after restart answered $code, expected 204 or 404"
            continue
        fi
        range=$(header_of "$hdr" Range)
        if ! [[ "$range" =~ ^0-([0-9]+)$ ]]; then
            problem "chunked upload to $repo: status after restart has Range '$range'"
            continue
        fi
        offset=$((BASH_REMATCH[1] + 1))
        [[ "$range" == 0-0 && "$acked" == 0 ]] && offset=0   # "0-0" also means empty
        offsets+=" $offset/$size"
        if ((offset < acked)); then
            problem "chunked upload to $repo: offset $offset after restart, but $acked bytes were acknowledged"
        fi
        if ((offset > size)); then
            problem "chunked upload to $repo: offset $offset after restart is beyond the $size bytes sent"
            continue
        fi
        local next
        next=$(header_of "$hdr" Location)
        [[ -z "$next" ]] || loc=$(absolute "$next")
        if ((offset < size)); then
            tail -c "+$((offset + 1))" "$file" >"$out"
            st=$(registry_curl -s --max-time 120 -X PATCH -H 'Content-Type: application/octet-stream' \
                -H "Content-Range: $offset-$((size - 1))" --data-binary "@$out" \
                -D "$hdr" -o /dev/null -w '%{http_code}' "$loc") || st=000
            if [[ "$st" != 202 ]]; then
                problem "chunked upload to $repo: resuming at offset $offset answered $st"
                continue
            fi
            next=$(header_of "$hdr" Location)
            [[ -z "$next" ]] || loc=$(absolute "$next")
        fi
        st=$(registry_curl -s --max-time 120 -X PUT -H 'Content-Length: 0' -o "$out" -w '%{http_code}' \
            "$(with_query "$loc" "digest=$digest")") || st=000
        if [[ "$st" != 201 ]]; then
            problem "chunked upload to $repo: completing after resuming at offset $offset answered $st: $(head -c 300 "$out")"
            continue
        fi
        st=$(registry_curl -s --max-time 120 -o "$out" -w '%{http_code}' \
            "http://$REGISTRY/v2/$repo/blobs/$digest") || st=000
        if [[ "$st" != 200 || "$(sha256_file "$out")" != "$digest" ]]; then
            problem "chunked upload to $repo: the completed blob $digest answers $st with content hashing to $(sha256_file "$out")"
            continue
        fi
        echo "B 201 $repo $digest $size" >>"$LOGS/resumed.log"
        resumed=$((resumed + 1))
    done
    log "chunked uploads after kill cycle $cycle: $resumed resumed and completed" \
        "(offset/size after restart:${offsets:- none}), $unknown answered 404"
}

# verify_registries: acknowledged management writes of every cycle so far hold.
verify_registries() {
    ((MANAGEMENT)) || return 0
    local list="$WORK/registries.json" st kind name extra
    st=$(mgmt "$list" "http://$REGISTRY/mgmt/v1/registries")
    if [[ "$st" != 200 ]]; then
        problem "GET /mgmt/v1/registries answered $st after restart"
        return
    fi
    local -A tier=() created=() updated=() deleted=()
    while read -r name extra; do
        tier[$name]=$extra
    done < <(jq -r '.registries[] | "\(.name) \(.tier)"' "$list")
    local f acked=0
    for f in "$LOGS"/c*-m.log; do
        [[ -e "$f" ]] || continue
        while read -r kind st name extra; do
            case "$kind" in
                R) created[$name]=$st ;;
                U) updated[$name]=$st ;;
                Z) deleted[$name]=$st ;;
            esac
        done <"$f"
    done
    local have want
    for name in "${!created[@]}"; do
        have=${tier[$name]:-absent}
        case "${created[$name]}" in
            201) acked=$((acked + 1)) ;;
            000)
                [[ "$have" == absent || "$have" == Basic ]] ||
                    problem "registry $name (create in flight at the kill) is there with tier $have"
                continue
                ;;
            *)
                problem "registry $name: create answered ${created[$name]} before the kill"
                continue
                ;;
        esac
        if [[ -n "${deleted[$name]:-}" ]]; then
            case "${deleted[$name]}" in
                204) want=absent ;;
                000) want="absent|Basic" ;;
                *) problem "registry $name: delete answered ${deleted[$name]} before the kill"; continue ;;
            esac
        elif [[ -n "${updated[$name]:-}" ]]; then
            case "${updated[$name]}" in
                200) want=Premium ;;
                000) want="Basic|Premium" ;;
                *) problem "registry $name: tier change answered ${updated[$name]} before the kill"; continue ;;
            esac
        else
            want=Basic
        fi
        [[ "|$want|" == *"|$have|"* ]] ||
            problem "registry $name: expected ${want//|/ or } after restart, found $have (create ${created[$name]}, tier change ${updated[$name]:--}, delete ${deleted[$name]:--})"
    done
    ((acked > 0)) || problem "no registry create was acknowledged"
    log "verified ${#created[@]} registries ($acked acknowledged creates) against the management API"
}

# verify_all: check every log line of every cycle so far. All GETs go through
# one curl (one connection) and one sha256sum, the machine may be loaded.
verify_all() {
    local vd="$IT_TMP/verify"
    rm -rf "$vd"
    mkdir -p "$vd/out"
    local -a urls=() wants=() modes=() descs=()
    local kind st repo a b c d f n
    # add_check URL DIGEST MODE DESCRIPTION; MODE: 200 (served, hashing to DIGEST), 404 (gone),
    # any (404, or 200 with the complete content).
    add_check() {
        urls+=("$1")
        wants+=("$2")
        modes+=("$3")
        descs+=("$4")
    }
    local acked_blobs=0 acked_manifests=0 acked_deletes=0 unacked=0
    local -A pushed=() pushed_digest=() deleted=() delete_kind=()
    local -a same=()   # "i j": checks i and j must get the same status
    for f in "$LOGS"/c*-w*.log "$LOGS"/c*-d.log "$LOGS"/resumed.log; do
        [[ -e "$f" ]] || continue
        while read -r kind st repo a b c d; do
            case "$kind" in
                B)
                    if [[ "$st" == 201 ]]; then
                        acked_blobs=$((acked_blobs + 1))
                        add_check "/v2/$repo/blobs/$a" "$a" 200 "acknowledged blob $repo@$a ($b bytes)"
                    else
                        unacked=$((unacked + 1))
                        add_check "/v2/$repo/blobs/$a" "$a" any "unacknowledged blob $repo@$a ($b bytes, upload said $st)"
                    fi
                    ;;
                M)
                    if [[ "$st" == 201 ]]; then
                        acked_manifests=$((acked_manifests + 1))
                        add_check "/v2/$repo/manifests/$a" "$b" 200 "acknowledged tag $repo:$a -> $b"
                        add_check "/v2/$repo/manifests/$b" "$b" 200 "acknowledged manifest $repo@$b (tag $a)"
                        add_check "/v2/$repo/blobs/$c" "$c" 200 "config $repo@$c of acknowledged manifest $repo:$a"
                        add_check "/v2/$repo/blobs/$d" "$d" 200 "layer $repo@$d of acknowledged manifest $repo:$a"
                    else
                        unacked=$((unacked + 1))
                        add_check "/v2/$repo/manifests/$a" "$b" any "unacknowledged tag $repo:$a -> $b (PUT said $st)"
                    fi
                    ;;
                N)
                    pushed[$repo:$a]=$st
                    pushed_digest[$repo:$a]=$b
                    ;;
                T | G)
                    deleted[$repo:$a]=$st
                    delete_kind[$repo:$a]=$kind
                    ;;
            esac
        done <"$f"
    done
    # Images of the deleter: what their push and delete were answered decides what is served.
    local key tag mdig del
    for key in "${!pushed[@]}"; do
        repo=${key%%:*}
        tag=${key#*:}
        mdig=${pushed_digest[$key]}
        if [[ "${pushed[$key]}" != 201 ]]; then
            unacked=$((unacked + 1))
            add_check "/v2/$repo/manifests/$tag" "$mdig" any "unacknowledged tag $repo:$tag -> $mdig (PUT said ${pushed[$key]})"
            continue
        fi
        acked_manifests=$((acked_manifests + 1))
        del=${deleted[$key]:-none}
        case "${delete_kind[$key]:-}:$del" in
            :none)
                add_check "/v2/$repo/manifests/$tag" "$mdig" 200 "acknowledged tag $repo:$tag -> $mdig (not deleted)"
                add_check "/v2/$repo/manifests/$mdig" "$mdig" 200 "acknowledged manifest $repo@$mdig (not deleted)"
                ;;
            T:202)
                acked_deletes=$((acked_deletes + 1))
                add_check "/v2/$repo/manifests/$tag" "$mdig" 404 "tag $repo:$tag, whose DELETE was acknowledged"
                add_check "/v2/$repo/manifests/$mdig" "$mdig" 200 "manifest $repo@$mdig, untagged by an acknowledged tag DELETE"
                ;;
            T:000)
                unacked=$((unacked + 1))
                add_check "/v2/$repo/manifests/$tag" "$mdig" any "tag $repo:$tag, DELETE in flight at the kill"
                add_check "/v2/$repo/manifests/$mdig" "$mdig" 200 "manifest $repo@$mdig, its tag's DELETE in flight at the kill"
                ;;
            G:202)
                acked_deletes=$((acked_deletes + 1))
                add_check "/v2/$repo/manifests/$mdig" "$mdig" 404 "manifest $repo@$mdig, whose DELETE was acknowledged"
                add_check "/v2/$repo/manifests/$tag" "$mdig" 404 "tag $repo:$tag of a manifest whose DELETE was acknowledged"
                ;;
            G:000)
                unacked=$((unacked + 1))
                add_check "/v2/$repo/manifests/$mdig" "$mdig" any "manifest $repo@$mdig, DELETE in flight at the kill"
                add_check "/v2/$repo/manifests/$tag" "$mdig" any "tag $repo:$tag, its manifest's DELETE in flight at the kill"
                # One transaction: the manifest and its tag went together or not at all.
                same+=("$((${#urls[@]} - 2)) $((${#urls[@]} - 1))")
                ;;
            *)
                problem "DELETE of $repo:$tag (${delete_kind[$key]} = by $([[ ${delete_kind[$key]} == T ]] && echo tag || echo digest)) answered $del before the kill"
                ;;
        esac
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
    registry_curl -s --max-time 600 -K "$vd/curl.cfg" -w '%{http_code}\n' >"$vd/codes" || true
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
        case "${modes[i]}" in
            200)
                if [[ "$code" != 200 ]]; then
                    problem "${descs[i]}: GET ${urls[i]} answered $code"
                elif [[ "$got" != "${wants[i]}" ]]; then
                    problem "${descs[i]}: GET ${urls[i]} body ($(stat -c %s "$vd/out/$i") bytes) hashes to $got"
                fi
                ;;
            404)
                [[ "$code" == 404 ]] || problem "${descs[i]}: GET ${urls[i]} answered $code, expected 404"
                ;;
            any)
                case "$code" in
                    404) ;;
                    200)
                        visible=$((visible + 1))
                        [[ "$got" == "${wants[i]}" ]] ||
                            problem "${descs[i]}: GET ${urls[i]} returned a body ($(stat -c %s "$vd/out/$i") bytes) hashing to $got: half-written?"
                        ;;
                    *) problem "${descs[i]}: GET ${urls[i]} answered $code, expected 404 or 200 with full content" ;;
                esac
                ;;
        esac
    done

    local pair
    for pair in "${same[@]}"; do
        read -r a b <<<"$pair"
        [[ "${codes[a]:-000}" == "${codes[b]:-000}" ]] ||
            problem "half a delete: GET ${urls[a]} answered ${codes[a]:-000} but GET ${urls[b]} answered ${codes[b]:-000}"
    done

    # tags/list lists every acknowledged tag, and no tag whose deletion was acknowledged
    local w tags
    for ((w = 0; w < WORKERS; w++)); do
        tags=$(registry_curl -s --max-time 30 "http://$REGISTRY/v2/crash/w$w/tags/list" | jq -r '(.tags // [])[]' 2>/dev/null | sort) || true
        while read -r a; do
            [[ -n "$a" ]] || continue
            grep -qxF "$a" <<<"$tags" || problem "tags/list of crash/w$w lacks acknowledged tag $a"
        done < <({ cat "$LOGS"/c*-w"$w".log 2>/dev/null || true; } | awk '$1 == "M" && $2 == 201 {print $4}')
    done
    tags=$(registry_curl -s --max-time 30 "http://$REGISTRY/v2/crash/del/tags/list" | jq -r '(.tags // [])[]' 2>/dev/null | sort) || true
    for key in "${!pushed[@]}"; do
        [[ "${pushed[$key]}" == 201 ]] || continue
        tag=${key#*:}
        if [[ "${deleted[$key]:-none}" == 202 ]]; then
            ! grep -qxF "$tag" <<<"$tags" || problem "tags/list of crash/del lists $tag, whose deletion was acknowledged"
        elif [[ -z "${deleted[$key]:-}" ]]; then
            grep -qxF "$tag" <<<"$tags" || problem "tags/list of crash/del lacks acknowledged tag $tag"
        fi
    done
    log "verified $n GETs: $acked_blobs acknowledged blobs, $acked_manifests acknowledged manifests," \
        "$acked_deletes acknowledged deletes, $unacked unacknowledged requests ($visible of them visible, complete)"
    ((acked_manifests > 0)) || problem "no push was acknowledged at all"
    ((acked_deletes > 0)) || problem "no delete was acknowledged at all"
}

# acknowledged PATTERN: how many log lines of this cycle's logs match the awk PATTERN.
acknowledged() {
    { cat "$LOGS"/c"$cycle"-*.log 2>/dev/null || true; } | awk "$1" | wc -l
}

start_registry
for ((cycle = 1; cycle <= CYCLES; cycle++)); do
    rm -f "$LOGS/stop"
    for ((w = 0; w < WORKERS; w++)); do
        worker "$w" "$cycle" &
        WORKER_PIDS+=($!)
    done
    deleter "$cycle" &
    WORKER_PIDS+=($!)
    if ((MANAGEMENT)); then
        manager "$cycle" &
        WORKER_PIDS+=($!)
    fi
    for ((k = 0; k < SESSIONS; k++)); do
        session "$cycle" "$k" &
        WORKER_PIDS+=($!)
    done
    # Write until every worker could have finished an image, a delete and (berthd) a
    # management write were acknowledged and every chunked upload is sending its slow PATCH
    # (on a loaded machine that takes longer than the nominal 2 s), then 1.0 - 2.0 s more,
    # then kill -9 mid-flight.
    for ((t = 0; t < 600; t++)); do
        acks=$(acknowledged '$1 == "M" && $2 == 201')
        deletes=$(acknowledged '($1 == "T" || $1 == "G") && $2 == 202')
        writes=$(acknowledged '$1 == "R" && $2 == 201')
        ((MANAGEMENT)) || writes=1
        sending=$(find "$LOGS" -name "c$cycle-s*.pid" | wc -l)
        ((acks >= WORKERS && deletes > 0 && writes > 0 && sending >= SESSIONS)) && break
        sleep 0.1
    done
    sleep "1.$((RANDOM % 10))"
    # The slow PATCHes whose curl still runs are mid-body: the kill catches them in flight.
    in_flight=0
    for pidfile in "$LOGS"/c"$cycle"-s*.pid; do
        [[ -e "$pidfile" ]] || continue
        if kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            in_flight=$((in_flight + 1))
        fi
    done
    kill9_registry
    log "cycle $cycle: registry killed with SIGKILL; $in_flight chunked PATCH(es) mid-body"
    stop_workers
    ((in_flight > 0)) || problem "cycle $cycle: no request was in flight at the kill"
    start_registry
    verify_sessions "$cycle"
    verify_all
    verify_registries
    ((ERRORS == 0)) || fail "$ERRORS consistency problem(s) after kill cycle $cycle (details above)"
    rm -rf "$WORK"
    mkdir -p "$WORK"
done

writers="$WORKERS pushers, a deleter, $SESSIONS chunked uploads in flight"
((MANAGEMENT)) && writers+=" and management writes"
pass "$CYCLES kill -9 cycles with $writers: acknowledged data intact, acknowledged deletes hold," \
    "nothing half-written visible"
