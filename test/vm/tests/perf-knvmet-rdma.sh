#!/bin/bash
# tern-perf (lib/host, the NVMe/RDMA host half) against the kernel's
# nvmet-rdma over soft-RoCE (rxe), the reference target (issue 6): the tgt
# VM exports a 128 MiB file-backed namespace; the host VM runs tern-perf
# with
#   - 4 KiB random reads and writes (writes in-capsule: nvmet-rdma takes
#     4 KiB of in-capsule data), QD 8;
#   - 128 KiB sequential reads and writes (keyed SGL: the target RDMA WRITEs
#     and READs the registered buffers), QD 4;
#   - verify (-V) at 4 KiB and 128 KiB;
#   - two qpairs on one namespace (two lcores sharing the guest's vCPU);
#   - an unknown NQN: one line, exit 3; a port nothing listens on: one line
#     naming the CM event, exit 3;
#   - the controller deleted mid-run (the tgt drops the subsystem from its
#     port): tern-perf stops by itself, exit 1, naming the CM event or the
#     failed work completion that ended the qpair.
# Each I/O run: exit 0, no I/O error, I/Os done, no verify failure. Run it after
# smoke-knvmet-rdma.sh (meson test vm-knvmet-rdma), which checks the bench's
# RDMA with the kernel's own host first.
#   test/vm/run.sh test/vm/tests/smoke-knvmet-rdma.sh test/vm/tests/perf-knvmet-rdma.sh
set -u
. "$TERN_VM_LIB"
. "$TERN_VM_LIBDIR/knvmet.sh"
. "$TERN_VM_LIBDIR/terntgt.sh"
. "$TERN_VM_LIBDIR/ternperf.sh"
TP_TARGET=nvmet-rdma
# tern-perf busy-polls; in the guest it shares the one vCPU with the
# kernel's network stack and rxe, which must not wait behind it (with
# dedicated cores, as in production, the question does not arise).
TP_NICE=19
NQN=nqn.2024-01.org.tern:perf-knvmet-rdma

# rxe's own counters (retransmits, sequence and RNR errors, ...) into a
# file of the test dir: evidence for a run that stalls (see the end).
rxe_counters() {
    local d=/sys/class/infiniband/$TERN_VM_RDMA_DEV/ports/1/hw_counters
    [ -d "$d" ] && (cd "$d" && grep -H . -- * > "$TERN_VM_TEST_DIR/$1" 2> /dev/null)
}

# A stalled QP is judged like any failure (this tests Tern's host), but the
# log says when a guest kernel's rxe shows its known 6.1 stall
# (doc/testing.md, "Known limits"): commands that neither complete nor fail
# on a live QP (rxe retransmits, then nothing moves), then ~50 s in
# __rxe_cleanup when a QP is destroyed, after which connects are refused.
rxe_note() {
    dmesg | grep -q '__rxe_cleanup' \
        && vm_log "NOTE: the $1 kernel's rxe hit its __rxe_cleanup stall (rxe counters: $1-rxe-*.txt)"
    return 0
}

if [ "$TERN_VM_ROLE" = tgt ]; then
    rxe_counters tgt-rxe-before.txt
    trap 'rxe_counters tgt-rxe-after.txt; dmesg > "$TERN_VM_TEST_DIR/tgt-dmesg.txt"; rxe_note tgt; knvmet_target_down rdma "$NQN"' EXIT
    dmesg -C
    knvmet_target_up rdma "$NQN" 128
    vm_signal ready
    # Last, the host asks for the controller to go away under load.
    if vm_wait remove "${TERN_VM_TEST_TIMEOUT:-600}" > /dev/null; then
        rm -f "$NVMET_CFG/ports/$(knvmet_portid rdma)/subsystems/$NQN"
        vm_signal removed
    fi
    vm_wait done "${TERN_VM_TEST_TIMEOUT:-600}" > /dev/null || vm_fail "host never finished"
    exit 0
fi

# ---- host
trap 'rxe_counters host-rxe-after.txt; dmesg > "$TERN_VM_TEST_DIR/host-dmesg.txt"; vm_signal done' EXIT
rxe_counters host-rxe-before.txt
dmesg -C
[ -x "$TP_PERF" ] || vm_env_fail "tern-perf not built: $TP_PERF (TERN_BUILD_DIR=${TERN_BUILD_DIR:-unset})"
[ -e /dev/infiniband/rdma_cm ] || vm_env_fail "/dev/infiniband/rdma_cm missing (rdma_ucm not loaded?)"
vm_wait ready 120 > /dev/null || vm_fail "target never got ready"
TRID="trtype:RDMA adrfam:IPv4 traddr:$TERN_VM_TGT_ADDR trsvcid:$NVMET_PORTNO subnqn:$NQN"

tp_run randread-4k 0 -r "$TRID" -q 8 -o 4096 -w randread -t 2 --json
tp_run randwrite-4k 0 -r "$TRID" -q 8 -o 4096 -w randwrite -t 2 --json
tp_run read-128k 0 -r "$TRID" -q 4 -o 131072 -w read -t 2 --json
tp_run write-128k 0 -r "$TRID" -q 4 -o 131072 -w write -t 2 --json
tp_run verify-4k 0 -r "$TRID" -q 8 -o 4096 -w randrw -V -t 2 --json
tp_run verify-128k 0 -r "$TRID" -q 4 -o 131072 -w randrw -V -t 2 --json
tp_run two-qpairs '0@0,1@0' -r "$TRID" -q 8 -o 4096 -w randrw -P 2 -t 2 --json

tp_unknown_nqn "$TRID"

# Nothing listens on the next port: the CM rejects the connect (or finds
# nobody); tern-perf says so in one line and exits 3.
what="tern-perf vs nvmet-rdma: a port nothing listens on gets one line, exit 3"
tp_perf no-listener 0 -r "${TRID/trsvcid:$NVMET_PORTNO/trsvcid:$((NVMET_PORTNO + 1))}" -t 1 --json; rc=$?
errf=$TERN_VM_TEST_DIR/perf-no-listener.err
if [ $rc = 3 ] && [ "$(grep -c '^tern-perf:' "$errf")" = 1 ] && grep -q 'RDMA_CM_EVENT_' "$errf"; then
    tt_pass "$what" "$(grep '^tern-perf:' "$errf")"
else
    tt_fail "$what" "exit $rc: $(tr '\n' '|' < "$errf")"
fi

# The controller is deleted 5 s into a 60 s run: the qpairs fail (CM
# DISCONNECTED, or a flushed completion first), tern-perf stops itself.
what="tern-perf vs nvmet-rdma: the controller deleted mid-run ends the run, exit 1"
tp_perf target-gone 0 -r "$TRID" -q 8 -o 4096 -w randrw -t 60 & pid=$!
sleep 5
vm_signal remove
vm_wait removed 60 > /dev/null || tt_fail "$what" "the tgt did not remove the subsystem"
t0=$(date +%s)
for ((i = 0; i < 600; i++)); do kill -0 $pid 2> /dev/null || break; sleep 0.1; done
if kill -0 $pid 2> /dev/null; then
    kill -KILL $pid
    tt_fail "$what" "still running 60 s after the removal"
else
    wait $pid; rc=$?
    out=$TERN_VM_TEST_DIR/perf-target-gone
    why=$(grep -hE 'queue [0-9]+ to .*(RDMA_CM_EVENT_|completion: )' "$out.out" "$out.err" | head -n 1)
    if [ $rc = 1 ] && grep -q 'the I/O qpair failed' "$out.err" && [ -n "$why" ]; then
        tt_pass "$what" "stopped $(( $(date +%s) - t0 )) s after; $why"
    else
        tt_fail "$what" "exit $rc: $(tail -n 5 "$out.out" "$out.err" | tr '\n' '|')"
    fi
fi

n=$(dmesg | grep -ciE 'rxe|rdma' | tr -d ' ')
vm_log "host dmesg: $n rxe/rdma lines"
rxe_note host
tt_summary
