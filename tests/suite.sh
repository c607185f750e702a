#!/usr/bin/env bash
# The whole test suite, as `make test` runs it (after deploy/install-deps.sh).
#
# As root: builds the appliance kernel's `smp` flavour (once; cached afterwards), which nearly
# every guest test boots, then runs the suite. The `time-travel` flavour serves only
# `clock: virtual` nodes, so it is built in the background at idle CPU priority while the rest
# of the suite runs (much of which waits on guests rather than computing), and the tests that
# need it run last. On a fresh machine this overlaps minutes of compiling with the suite; with
# both flavours cached it changes nothing. Each build's time is printed.
#
# As another user: the tests that need root (named root_*) are skipped, and this says so.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
suite_started=$(date +%s)
# Tests that boot the time-travel flavour: they run after its build.
TIME_TRAVEL_TESTS=(root_virtual_clock)

$CARGO build --workspace --bins

if [ "$(id -u)" != 0 ]; then
    echo "SKIPPED: tests named root_* boot UML guests and need root; run 'make test' as root."
    exec $CARGO test --workspace --no-fail-fast -- --skip root_
fi

umlvnf=./target/debug/umlvnf
$umlvnf kernel build --flavour smp

mkdir -p target
tt_log=target/kernel-time-travel.log
started=$(date +%s)
chrt --idle 0 $umlvnf kernel build --flavour time-travel >"$tt_log" 2>&1 &
tt_build=$!
trap 'kill "$tt_build" 2>/dev/null || true' EXIT INT TERM

skips=()
for t in "${TIME_TRAVEL_TESTS[@]}"; do skips+=(--skip "$t"); done
status=0
$CARGO test --workspace --no-fail-fast -- --test-threads=2 "${skips[@]}" || status=$?

echo "suite: waiting for the time-travel kernel built in the background (log: $tt_log)"
if ! wait "$tt_build"; then
    echo "suite: building the time-travel kernel failed; the end of $tt_log:" >&2
    tail -n 30 "$tt_log" >&2
    exit 1
fi
trap - EXIT INT TERM
if grep -E "built in" "$tt_log"; then
    echo "suite: time-travel kernel ready $(($(date +%s) - started)) s after its build started"
else
    echo "suite: time-travel kernel was built already: $(grep -E '^kernel: ' "$tt_log" || true)"
fi

for t in "${TIME_TRAVEL_TESTS[@]}"; do
    # A filter that no longer names a test must fail, not pass with nothing run.
    out=$($CARGO test --workspace --no-fail-fast -- --test-threads=2 "$t" 2>&1) || status=$?
    echo "$out"
    if ! grep -qE "test result: .* [1-9][0-9]* passed|[1-9][0-9]* failed" <<<"$out"; then
        echo "suite: no test matched '$t' (tests/suite.sh TIME_TRAVEL_TESTS is stale)" >&2
        status=1
    fi
done
echo "suite: $(($(date +%s) - suite_started)) s in all (build, kernels and tests)"
exit $status
