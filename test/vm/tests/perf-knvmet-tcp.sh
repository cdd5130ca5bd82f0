#!/bin/bash
# tern-perf (lib/host, the NVMe/TCP host half) against the kernel's
# nvmet-tcp, the reference target (issue 5, interop): the tgt VM exports a
# 128 MiB file-backed namespace; the host VM runs tern-perf with
#   - every workload (read write randread randwrite rw randrw), 4 KiB, QD 8;
#   - verify (-V) at 4 KiB (in-capsule) and 64 KiB (over nvmet's in-capsule
#     size: R2T and H2CData), digests off, then header and data digests on;
#   - two qpairs on one namespace (two lcores sharing the guest's vCPU);
#   - an unknown NQN: one line, exit 3.
# Each run: exit 0, no I/O error, I/Os done, no verify failure.
#   test/vm/run.sh test/vm/tests/perf-knvmet-tcp.sh
set -u
. "$TERN_VM_LIB"
. "$TERN_VM_LIBDIR/knvmet.sh"
. "$TERN_VM_LIBDIR/terntgt.sh"
. "$TERN_VM_LIBDIR/ternperf.sh"
TP_TARGET=nvmet-tcp
NQN=nqn.2024-01.org.tern:perf-knvmet-tcp

if [ "$TERN_VM_ROLE" = tgt ]; then
    trap 'dmesg > "$TERN_VM_TEST_DIR/tgt-dmesg.txt"; knvmet_target_down tcp "$NQN"' EXIT
    dmesg -C
    knvmet_target_up tcp "$NQN" 128
    vm_signal ready
    vm_wait done "${TERN_VM_TEST_TIMEOUT:-600}" > /dev/null || vm_fail "host never finished"
    exit 0
fi

# ---- host
trap 'dmesg > "$TERN_VM_TEST_DIR/host-dmesg.txt"; vm_signal done' EXIT
[ -x "$TP_PERF" ] || vm_env_fail "tern-perf not built: $TP_PERF (TERN_BUILD_DIR=${TERN_BUILD_DIR:-unset})"
vm_wait ready 120 > /dev/null || vm_fail "target never got ready"
TRID="trtype:TCP adrfam:IPv4 traddr:$TERN_VM_TGT_ADDR trsvcid:$NVMET_PORTNO subnqn:$NQN"

for w in randread read randwrite write rw randrw; do
    tp_run "$w" 0 -r "$TRID" -q 8 -o 4096 -w "$w" -t 2 --json
done
tp_run verify-4k 0 -r "$TRID" -q 8 -o 4096 -w randrw -V -t 2 --json
tp_run verify-64k 0 -r "$TRID" -q 8 -o 65536 -w randrw -V -t 2 --json
tp_run verify-64k-digests 0 -r "$TRID" -q 8 -o 65536 -w randrw -V -t 2 --hdgst --ddgst --json
tp_run two-qpairs '0@0,1@0' -r "$TRID" -q 8 -o 4096 -w randrw -P 2 -t 2 --json

tp_unknown_nqn "$TRID"

n=$(dmesg | grep -ciE 'nvme.*(error|fail|invalid)')
vm_log "host dmesg: $n NVMe error lines"
tt_summary
