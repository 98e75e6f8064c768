#!/usr/bin/env bash
# expect_exit.sh STATUS REGEX CMD [ARG...]: runs CMD and passes only when it exits with STATUS
# and its output (stdout and stderr together) matches the extended REGEX.
#
# ctest's PASS_REGULAR_EXPRESSION ignores the exit status and WILL_FAIL accepts any failure, a
# crash included; scripts and service managers act on the status, so the tests check both.
set -uo pipefail
if (($# < 3)); then
    echo "usage: expect_exit.sh STATUS REGEX CMD [ARG...]" >&2
    exit 2
fi
want=$1 regex=$2
shift 2
out=$("$@" 2>&1)
got=$?
printf '%s\n' "$out"
if [[ "$got" != "$want" ]]; then
    echo "FAIL: '$*' exited with status $got, expected $want" >&2
    exit 1
fi
if ! grep -Eq -- "$regex" <<<"$out"; then
    echo "FAIL: the output of '$*' does not match /$regex/" >&2
    exit 1
fi
echo "ok: '$*' exited $got and printed /$regex/"
