#!/bin/bash
# Runs test/vm/run.sh --logs DIR TESTS...; when the first test that did not
# pass ended as ENVIRONMENT because the guest kernel's rxe wedged (Debian
# 6.1, doc/testing.md "Known limits"; the knvmet tests say "rxe wedged"),
# boots again, at most TERN_VM_WEDGE_RETRIES times (default 2), each try with its
# own logs (DIR/try-N). Any other result, pass or fail, is final at once.
# Only for tests of the KERNEL target and host (the bench's reference): a
# Tern test must never be retried this way, a target bug can cause the stall.
#
#   test/vm/retry-wedged.sh --logs DIR TEST_SCRIPT [TEST_SCRIPT...]
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ "${1:-}" = --logs ] && [ $# -ge 3 ] || { echo "usage: $0 --logs DIR TEST_SCRIPT..." >&2; exit 2; }
LOGS=$2
shift 2
RETRIES=${TERN_VM_WEDGE_RETRIES:-2}

try=0
while :; do
    try=$((try + 1))
    "$HERE/run.sh" --logs "$LOGS/try-$try" "$@"
    rc=$?
    [ $rc = 0 ] && exit 0
    # The first test that did not pass decides: a wedge there makes every
    # later test of the boot meaningless (rxe and eth0 are gone), whatever
    # they report; anything else is final.
    first=$(grep -E '^(FAIL|ENVIRONMENT) ' "$LOGS/try-$try/summary.txt" 2> /dev/null | head -n 1)
    case $first in
        "ENVIRONMENT "*) ;;
        *) exit $rc ;;
    esac
    name=$(awk '{print $2}' <<< "$first")
    grep -qs 'rxe wedged' "$LOGS/try-$try/tests/$name"/*.log || exit $rc
    if [ $try -gt "$RETRIES" ]; then
        echo "vm: rxe wedged in all $try boots; giving up (logs: $LOGS/try-*)"
        exit $rc
    fi
    echo "vm: the guest kernel's rxe wedged (known Debian 6.1 stall, not judged); booting again ($try of $RETRIES retries; logs of this boot kept in $LOGS/try-$try)"
done
