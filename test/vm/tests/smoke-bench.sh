#!/bin/bash
# Smoke test of the bench itself: both guests see each other and their
# environment (the runner's setup already checked rxe, ping and rping; this
# checks the test-side contract: env vars, markers, a timed link cut).
set -u
. "$TERN_VM_LIB"
vm_log "role=$TERN_VM_ROLE self=$TERN_VM_SELF_ADDR peer=$TERN_VM_PEER_ADDR src=$TERN_SRC"
[ -r "$TERN_SRC/VERSION" ] \
    || vm_env_fail "source tree $TERN_SRC not visible in the guest (under /tmp /run /var/tmp /var/log /var/lib /root? the guests cover those with tmpfs)"
rdma link show
if [ "$TERN_VM_ROLE" = tgt ]; then
    [ -c "/dev/vfio/$TERN_VM_VFIO_GROUP" ] || vm_env_fail "/dev/vfio/$TERN_VM_VFIO_GROUP missing"
    vm_log "NVMe $TERN_VM_NVME_BDF on vfio group $TERN_VM_VFIO_GROUP"
fi

# Markers carry data: each side hands the other a token.
vm_signal hello "from-$TERN_VM_ROLE"
got=$(vm_wait hello 60) || vm_fail "peer never said hello"
[ "$got" = "from-$TERN_VM_PEER_ROLE" ] || vm_fail "wrong token '$got'"

# A timed cut: while it lasts the peer is unreachable; afterwards it is back.
vm_barrier before-cut 60 || vm_fail "barrier"
if [ "$TERN_VM_ROLE" = host ]; then
    vm_link cut 4 || vm_fail "link cut request failed"
    ping -c 2 -W 1 "$TERN_VM_PEER_ADDR" && vm_fail "peer still reachable during a cut"
    ok=
    for i in $(seq 1 20); do ping -c 1 -W 1 "$TERN_VM_PEER_ADDR" > /dev/null && { ok=1; break; }; done
    [ -n "$ok" ] || vm_fail "peer unreachable after the link was restored"
    vm_log "link cut and restored: peer reachable again"
fi
vm_barrier end 120 || vm_fail "barrier end"
vm_log "ok"
