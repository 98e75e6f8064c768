#!/usr/bin/env bash
# No secret in any log the suite wrote: every secret a test sent or was answered with (noted
# under DIR/secrets/) is looked for in every log (DIR/logs/), and so is anything shaped like a
# JWT. Prints where a secret was found, never the secret itself.
set -euo pipefail

dir=${1:?usage: check_no_secrets.sh ARTIFACTS_DIR}
logs=()
if [[ -d "$dir/logs" ]]; then
    mapfile -d '' logs < <(find "$dir/logs" -type f -print0)
fi
secrets_file=$(mktemp)
trap 'rm -f "$secrets_file"' EXIT
if [[ -d "$dir/secrets" ]]; then
    find "$dir/secrets" -type f -exec cat {} + | sort -u >"$secrets_file"
fi
secret_count=$(wc -l <"$secrets_file")

if ((${#logs[@]} == 0)); then
    echo "no logs were collected under $dir/logs: nothing to scan"
    exit 0
fi
if ((secret_count == 0)); then
    echo "FAIL: ${#logs[@]} logs were collected but no secret was noted: the check would pass blindly"
    exit 1
fi

# A first start prints the administrator token and the admin user's login line once, on
# purpose, on berthd's standard output: those two lines are the one place a secret belongs.
shown_once='^(berthd: deployment administrator token: |  podman login )'

status=0
# Every noted secret, as a fixed string.
for file in "${logs[@]}"; do
    count=$(grep -vE "$shown_once" "$file" | grep -cFf "$secrets_file" || true)
    if ((count > 0)); then
        echo "FAIL: $file holds $count line(s) with a secret a test used"
        status=1
    fi
done
# Anything that looks like a JWT (header.payload.signature, base64url JSON).
if matches=$(grep -rlE 'eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}' "${logs[@]}"); then
    while read -r file; do echo "FAIL: $file holds a JWT"; done <<<"$matches"
    status=1
fi
bytes=$(cat "${logs[@]}" | wc -c)
echo "scanned ${#logs[@]} logs ($bytes bytes) for $secret_count secrets and for JWTs"
exit "$status"
