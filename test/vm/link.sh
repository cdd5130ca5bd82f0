#!/bin/bash
# Break or restore the virtual link between the two Tern test VMs, from the
# host machine, through each QEMU's monitor socket.
#
#   test/vm/link.sh RUNTIME_DIR down|up [both|tgt|host]
#   test/vm/link.sh RUNTIME_DIR cut SECONDS [both|tgt|host]
#   test/vm/link.sh RUNTIME_DIR carrier-down|carrier-up [both|tgt|host]
#
# RUNTIME_DIR is the /tmp/tern-vm.XXXXXX directory run.sh / shell.sh print.
# down/up/cut: every frame through that VM's netdev is dropped, both ways (a
#   QEMU filter-redirector "cut" into a null chardev, switched by qom-set).
#   The guests' NICs keep carrier: it is a dead cable/switch as the kernels
#   see it from their traffic only. One side is enough; "both" is the default.
# carrier-down/up: `set_link n0 off|on`: the guest NIC also loses carrier.
#   CAUTION: with QEMU 7.2, set_link off while the virtio-net TX bottom half
#   is pending can leave the guest's TX queue stuck for good ("NETDEV
#   WATCHDOG: transmit queue 0 timed out"), which then wedges rxe: use it
#   only on an idle link. (`off`/`on`/`restore` are aliases of down/up.)
# Guest-side tests use vm_link from lib/vmlib.sh, which asks run.sh to call this.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 2 ] || usage
RT=$1 action=$2
shift 2
secs=
case $action in
    down|off) cmd="qom-set cut status on" ;;
    up|on|restore) cmd="qom-set cut status off" ;;
    cut) [ $# -ge 1 ] && [[ $1 =~ ^[0-9]+$ ]] || usage
         secs=$1; shift; cmd="qom-set cut status on" ;;
    carrier-down) cmd="set_link n0 off" ;;
    carrier-up) cmd="set_link n0 on" ;;
    *) usage ;;
esac
side=${1:-both}
case $side in both|tgt|host) ;; *) usage ;; esac

run() {   # $1... = monitor command; one line per VM; fails if any VM failed
    local r out rc=0
    for r in tgt host; do
        [ "$side" = both ] || [ "$side" = "$r" ] || continue
        # Both commands print nothing on success, an error message otherwise.
        if out=$(python3 "$HERE/lib/monitor.py" "$RT/$r.mon" "$@" 2>&1) && [ -z "$out" ]; then
            echo "$(date +%T.%3N) $r: $*"
        else
            echo "$(date +%T.%3N) $r: $* FAILED: $out"
            rc=1
        fi
    done
    return $rc
}

# shellcheck disable=SC2086   # $cmd is words on purpose
run $cmd || exit 1
if [ -n "$secs" ]; then
    sleep "$secs"
    run qom-set cut status off
fi
