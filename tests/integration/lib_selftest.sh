#!/usr/bin/env bash
# Self-test of lib.sh: small scripts that source it and must pass or fail as
# a test would. Above all, a `fail` inside a command substitution, a process
# substitution or a pipeline must fail the test (an argument's exit status is
# lost: `assert_eq "" "$(registry_tags r)"` once passed when the server
# answered an error), and a skip must not pass.
#
# Stand-alone on purpose: it must not rely on the helpers it checks.
set -uo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
lib="$dir/lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-lib-selftest.XXXXXX")
trap 'rm -rf "$work"' EXIT
unset BERTH_ALLOW_SKIP IT_VERBOSE IT_KEEP_TMP
problems=0

# case NAME EXPECTED_RC STDERR_REGEX [ENV=VALUE...] <<'EOF' body EOF:
# runs the body after sourcing lib.sh; checks the exit status and that stderr
# matches the regex. A line "REACHED" or "PASS" on stderr is never expected
# when EXPECTED_RC is not 0.
case_() {
    local name=$1 want_rc=$2 want_err=$3
    shift 3
    local script="$work/$name.sh"
    { printf '. %q\n' "$lib"; cat; } >"$script"
    local rc=0
    env "$@" timeout 120 bash "$script" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    local err
    err=$(cat "$work/$name.err")
    local why=""
    if [[ "$rc" != "$want_rc" ]]; then
        why="exit status $rc, expected $want_rc"
    elif ! grep -Eq -- "$want_err" "$work/$name.err"; then
        why="stderr does not match /$want_err/"
    elif [[ "$want_rc" != 0 ]] && grep -Eq 'REACHED|PASS' "$work/$name.err"; then
        why="the script went on after the failure"
    fi
    if [[ -n "$why" ]]; then
        printf 'FAIL %s: %s\n--- stderr:\n%s\n---\n' "$name" "$why" "$err"
        problems=$((problems + 1))
    else
        printf 'ok   %s\n' "$name"
    fi
}

case_ passing_test 0 'PASS: all good' <<'EOF'
assert_eq a a "same"
assert_match '^[0-9]+$' 42 "number"
pass "all good"
EOF

case_ failed_assertion 1 "FAIL: compared: expected 'a', got 'b'" <<'EOF'
assert_eq a b "compared"
echo REACHED >&2
EOF

case_ fail_in_command_substitution 1 'FAIL: from a command substitution' <<'EOF'
assert_eq "" "$(fail 'from a command substitution')" "value"
echo REACHED >&2
pass
EOF

case_ fail_in_nested_command_substitution 1 'FAIL: two levels down' <<'EOF'
inner() { fail 'two levels down'; }
outer() { echo "[$(inner)]"; }
assert_eq "[]" "$(outer)" "value"
echo REACHED >&2
pass
EOF

case_ fail_in_process_substitution 1 'FAIL: from a process substitution' <<'EOF'
read -r value < <(fail 'from a process substitution') || true
assert_eq "" "${value:-}" "value"
pass
EOF

case_ fail_in_pipeline 1 'FAIL: from a pipeline' <<'EOF'
produce() { fail 'from a pipeline'; }
produce | cat >/dev/null || true
pass
EOF

case_ fail_in_subshell_then_exit_0 1 'FAIL: from a subshell' <<'EOF'
(fail 'from a subshell') || true
exit 0
EOF

# The case that hid real failures: a registry answering an error to
# tags/list, its tags compared to "" in an argument. busybox httpd with Basic
# auth on /v2 answers every /v2/ request 401.
case_ registry_error_in_argument 1 'FAIL: GET /v2/team/app/tags/list answered 401' <<'EOF'
require_cmd busybox
mkdir -p "$IT_TMP/www"
echo '/v2:user:password' >"$IT_TMP/httpd.conf"
REGISTRY_PORT=$(pick_free_port)
REGISTRY="127.0.0.1:$REGISTRY_PORT"
busybox httpd -f -p "$REGISTRY" -h "$IT_TMP/www" -c "$IT_TMP/httpd.conf" &
add_cleanup "stop_pid $!"
wait_for 10 curl -s -o /dev/null "http://$REGISTRY/" || fail "busybox httpd did not start"
assert_eq "" "$(registry_tags team/app | tr '\n' ' ')" "tags/list"
echo REACHED >&2
pass
EOF

case_ skip_fails_by_default 1 'FAIL: cannot run: no client here' <<'EOF'
skip "no client here"
EOF

case_ skip_allowed_by_opt_out 77 'SKIP: no client here' BERTH_ALLOW_SKIP=1 <<'EOF'
skip "no client here"
EOF

case_ missing_command_fails 1 "FAIL: cannot run: required command 'berth-no-such-tool' is not on PATH" <<'EOF'
require_cmd sh berth-no-such-tool
EOF

# Tools are looked up on PATH, wherever they are installed.
mkdir -p "$work/bin"
printf '#!/bin/sh\necho fake-tool-ran\n' >"$work/bin/berth-fake-tool"
chmod +x "$work/bin/berth-fake-tool"
case_ command_found_on_path 0 'PASS: found' "PATH=$work/bin:$PATH" <<'EOF'
require_cmd berth-fake-tool
assert_eq fake-tool-ran "$(berth-fake-tool)" "output of the tool found on PATH"
pass found
EOF

if ((problems)); then
    echo "$problems lib.sh self-test case(s) failed"
    exit 1
fi
echo "lib.sh self-test passed"
