#!/usr/bin/env bash
# Run every integration script in turn and summarise. Pass BERTHD=/path to
# test berthd; without it the reference registry is used (test_crash.sh then
# skips unless CRASH_TEST_REFERENCE=1). Script names may be given to run a
# subset: ./run_all.sh skopeo podman
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
names=("$@")
((${#names[@]})) || names=(skopeo podman buildah ctr docker crash)
failed=()
for n in "${names[@]}"; do
    start=$SECONDS
    if "$dir/test_$n.sh"; then
        printf '== %-8s ok   (%ss)\n' "$n" $((SECONDS - start))
    else
        printf '== %-8s FAIL (%ss)\n' "$n" $((SECONDS - start))
        failed+=("$n")
    fi
done
if ((${#failed[@]})); then
    echo "failed: ${failed[*]}"
    exit 1
fi
echo "all passed"
