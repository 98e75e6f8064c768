#!/usr/bin/env bash
# Run every integration script (test_*.sh) and lib.sh's self-test in turn and
# summarise. Pass BERTHD=/path to test berthd; without it the reference
# registry is used, and the scripts that need berthd (test_crash.sh unless
# CRASH_TEST_REFERENCE=1, test_tenancy.sh) cannot run: they fail, or with
# BERTH_ALLOW_SKIP=1 are reported as skipped. Script names may be given to
# run a subset: ./run_all.sh skopeo podman
#
# Exits 0 only when every script passed (or, with BERTH_ALLOW_SKIP=1, skipped).
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
names=("$@")
if ((${#names[@]} == 0)); then
    for script in "$dir"/test_*.sh; do
        script=${script##*/test_}
        names+=("${script%.sh}")
    done
fi
failed=()
skipped=()
if ! "$dir/lib_selftest.sh" >/dev/null; then
    echo "== lib.sh self-test FAIL (run $dir/lib_selftest.sh)"
    failed+=(lib_selftest)
fi
for n in "${names[@]}"; do
    start=$SECONDS
    rc=0
    "$dir/test_$n.sh" || rc=$?
    case "$rc" in
        0) verdict="ok  " ;;
        77) verdict="skip"; skipped+=("$n") ;;
        *) verdict="FAIL"; failed+=("$n") ;;
    esac
    printf '== %-8s %s (%ss)\n' "$n" "$verdict" $((SECONDS - start))
done
((${#skipped[@]} == 0)) || echo "skipped (BERTH_ALLOW_SKIP=1): ${skipped[*]}"
if ((${#failed[@]})); then
    echo "failed: ${failed[*]}"
    exit 1
fi
if ((${#skipped[@]})); then
    echo "passed, except the skipped"
else
    echo "all passed"
fi
