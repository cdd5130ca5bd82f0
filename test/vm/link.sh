#!/bin/bash
# Pull or plug the virtual cable between the two Tern test VMs, from the host
# machine, through each QEMU's monitor socket (`set_link n0 off|on`).
#
#   test/vm/link.sh RUNTIME_DIR down|up [both|tgt|host]
#   test/vm/link.sh RUNTIME_DIR cut SECONDS [both|tgt|host]
#
# RUNTIME_DIR is the /tmp/tern-vm.XXXXXX directory run.sh / shell.sh print.
# "both" (default): both NICs lose carrier, like a pulled cable. "tgt"/"host":
# only that VM's NIC goes down; the other VM just sees packets vanish.
# (`off`/`on`/`restore` are accepted for down/up.) Guest-side tests use
# vm_link from lib/vmlib.sh instead, which asks run.sh to call this.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 2 ] || usage
RT=$1 action=$2
shift 2
secs=
case $action in
    down|off) state=off ;;
    up|on|restore) state=on ;;
    cut) [ $# -ge 1 ] && [[ $1 =~ ^[0-9]+$ ]] || usage; secs=$1; shift; state=off ;;
    *) usage ;;
esac
side=${1:-both}
case $side in both|tgt|host) ;; *) usage ;; esac

set_link() {   # $1 = on|off; prints one line per VM; fails if any VM failed
    local r out rc=0
    for r in tgt host; do
        [ "$side" = both ] || [ "$side" = "$r" ] || continue
        # set_link prints nothing on success, an error message otherwise.
        if out=$(python3 "$HERE/lib/monitor.py" "$RT/$r.mon" set_link n0 "$1" 2>&1) && [ -z "$out" ]; then
            echo "$(date +%T.%3N) $r: link $1"
        else
            echo "$(date +%T.%3N) $r: set_link n0 $1 FAILED: $out"
            rc=1
        fi
    done
    return $rc
}

set_link "$state" || exit 1
if [ -n "$secs" ]; then
    sleep "$secs"
    set_link on
fi
