#!/bin/bash
# usertools/tern-netcheck on a real soft-RoCE machine (issue 6, acceptance 5;
# SEEDS incident 1: two NICs in one subnet). The tgt guest has eth0
# 10.77.0.1/24 carrying rxe0; it
#   1. checks 10.77.0.1 alone: exit 0, the lines name rxe0 and eth0, no
#      other interface in 10.77.0.0/24, the kernel's route through eth0;
#   2. adds a second interface tnc1 (a dummy link, a veth where dummy is
#      missing) with 10.77.0.3/24: exit 1, a PROBLEM naming eth0 and tnc1,
#      and tnc1 answering ARP for 10.77.0.1 (the guest's sysctls are the
#      kernel's defaults);
#      tern-tgt started with an RDMA listener on 10.77.0.1 logs the same
#      PROBLEM as a warning;
#   3. routes the host guest's address through tnc1 for a moment: the
#      kernel's answer (netlink, as `ip route get`) is named: "leaves
#      through tnc1, not eth0";
#   4. removes tnc1: exit 0 again, and the host guest still answers ping.
# The host guest checks its own address (10.77.0.2 on eth0 with rxe0):
# exit 0. Every check prints PASS/FAIL; each guest ends with its counts.
#   test/vm/run.sh test/vm/tests/netcheck.sh
set -u
. "$TERN_VM_LIB"
. "$TERN_VM_LIBDIR/terntgt.sh"

NC=$TERN_SRC/usertools/tern-netcheck
export TERN_BUILD_DIR=$TT_BUILD
[ -x "$TT_BUILD/app/tern-netcheck/tern-netcheck" ] \
    || vm_env_fail "tern-netcheck not built: $TT_BUILD/app/tern-netcheck/tern-netcheck (build first; TERN_BUILD_DIR=${TERN_BUILD_DIR:-unset})"
IF=$TERN_VM_IFACE
DEV=$TERN_VM_RDMA_DEV
TWO=tnc1            # the second interface in the listener's subnet

# check NAME ADDRESS...: run the tool (bounded); its output is printed and
# kept in the test directory as NAME.out; TT_RC is its exit status.
check() {
    local name=$1
    shift
    tt_capture "$name" timeout 30 "$NC" "$@"
}

# line NAME LEVEL WORD...: NAME.out has a LEVEL line holding every WORD.
line() {
    local name=$1 level=$2
    shift 2
    python3 - "$TERN_VM_TEST_DIR/$name.out" "$level" "$@" <<'PY'
import sys
path, level, words = sys.argv[1], sys.argv[2], sys.argv[3:]
for ln in open(path):
    if ln.startswith(level + " ") and all(w in ln for w in words):
        sys.exit(0)
sys.exit(1)
PY
}

# expect NAME WANT_RC WHAT [LEVEL WORD... --]...: one PASS/FAIL line.
expect() {
    local name=$1 want=$2 what=$3 missing=
    shift 3
    while [ $# -gt 0 ]; do
        local spec=()
        while [ $# -gt 0 ] && [ "$1" != -- ]; do spec+=("$1"); shift; done
        [ $# -gt 0 ] && shift
        line "$name" "${spec[@]}" || missing="$missing [${spec[*]}]"
    done
    tt_verdict "$name" "$want" "$what" "${missing:+no line with$missing}"
}

if [ "$TERN_VM_ROLE" = host ]; then
    check host-alone "$TERN_VM_HOST_ADDR"
    expect host-alone 0 "host guest: $TERN_VM_HOST_ADDR alone on $IF passes" \
        OK "$TERN_VM_HOST_ADDR/24 is on $IF, the netdev of $DEV" --
    vm_barrier end 300 || tt_fail "barrier end" "the tgt guest never finished"
    tt_summary
    exit
fi

# ---- tgt
ADDR=$TERN_VM_TGT_ADDR
SUBNET=${ADDR%.*}.0/24
SECOND=${ADDR%.*}.3
trap 'ip link del "$TWO" 2> /dev/null; ip route del "$TERN_VM_HOST_ADDR/32" dev "$TWO" 2> /dev/null' EXIT
vm_log "sysfs: $DEV parent=$(cat "/sys/class/infiniband/$DEV/parent" 2>&1)," \
    "GID 0 ndev=$(cat "/sys/class/infiniband/$DEV/ports/1/gid_attrs/ndevs/0" 2>&1)"

# 1. alone in its subnet
check alone "$ADDR"
expect alone 0 "$ADDR alone: exit 0, names $DEV and $IF" \
    OK "$ADDR/24 is on $IF, the netdev of $DEV port 1" -- \
    OK "no other interface has an address in $SUBNET" -- \
    OK "leaves through $IF" --

# 2. a second interface in the subnet
if modprobe dummy numdummies=0 2> /dev/null && ip link add "$TWO" type dummy 2> /dev/null; then
    kind=dummy
elif ip link add "$TWO" type veth peer name "${TWO}p" 2> /dev/null; then
    kind=veth
    ip link set "${TWO}p" up
else
    vm_env_fail "cannot make a second interface in the guest (neither dummy nor veth)"
fi
ip link set "$TWO" up && ip addr add "$SECOND/24" dev "$TWO" \
    || vm_env_fail "cannot address $TWO ($kind) with $SECOND/24"
vm_log "second interface: $TWO ($kind) $SECOND/24"
check shared "$ADDR"
expect shared 1 "$TWO ($kind, $SECOND/24) in $SUBNET: exit 1, names $IF and $TWO" \
    PROBLEM "$SUBNET" "on $IF" "also on $TWO ($SECOND/24)" "Fix:" -- \
    PROBLEM "$TWO answers ARP requests for $ADDR" --

# 2b. tern-tgt adding an RDMA listener on that address logs the same warning
cfg=$TERN_VM_TEST_DIR/tern-tgt-netcheck.json
cat > "$cfg" <<EOF
{"subsystems": [{"subsystem": "nvmf", "config": [
  {"method": "nvmf_create_transport", "params": {"trtype": "RDMA"}},
  {"method": "nvmf_subsystem_add_listener", "params": {"nqn": "nqn.2014-08.org.nvmexpress.discovery",
   "listen_address": {"trtype": "RDMA", "adrfam": "IPv4", "traddr": "$ADDR", "trsvcid": "4420"}}}]}]}
EOF
if tt_tgt_start "$cfg"; then
    w=$(grep -E "warning: listener $ADDR port 4420: .*also on $TWO" "$TT_LOG" | head -n 1)
    [ -n "$w" ] && grep -q "network problem(s) above" "$TT_LOG" \
        && tt_pass "tern-tgt's RDMA listener on $ADDR warns about $TWO" "${w#*: }" \
        || tt_fail "tern-tgt's RDMA listener on $ADDR warns about $TWO" "no such warning: $(grep -m 3 'listener' "$TT_LOG" | tr '\n' '|')"
    tt_tgt_stop 15 > /dev/null || tt_fail "tern-tgt stops" "it did not stop on SIGTERM"
else
    tt_fail "tern-tgt's RDMA listener on $ADDR warns about $TWO" "tern-tgt did not start: $(tail -n 3 "$TT_LOG" | tr '\n' '|')"
fi

# 3. the kernel's route to the subnet's hosts through the second interface
if ip route add "$TERN_VM_HOST_ADDR/32" dev "$TWO"; then
    check route "$ADDR"
    ip route del "$TERN_VM_HOST_ADDR/32" dev "$TWO"
    expect route 1 "a route through $TWO is named" \
        PROBLEM "asked for $TERN_VM_HOST_ADDR from $ADDR" "leaves through $TWO, not $IF" --
else
    tt_fail "a route through $TWO is named" "ip route add $TERN_VM_HOST_ADDR/32 dev $TWO failed"
fi

# 4. removed again
ip link del "$TWO"
check removed "$ADDR"
expect removed 0 "$TWO removed: exit 0 again" OK "no other interface has an address in $SUBNET" --
if ping -c 2 -W 2 "$TERN_VM_HOST_ADDR" > "$TERN_VM_TEST_DIR/ping.out" 2>&1; then
    tt_pass "the host guest answers ping after the test"
else
    tt_fail "the host guest answers ping after the test" "$(tail -n 2 "$TERN_VM_TEST_DIR/ping.out" | tr '\n' '|')"
fi
vm_barrier end 300 || tt_fail "barrier end" "the host guest never finished"
tt_summary
