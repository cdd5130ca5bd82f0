#!/bin/bash
# Tern's Python NVMe/TCP host library (test/func/nvmf_tcp.py) against the
# kernel's nvmet-tcp, the reference target: the tgt VM exports a file-backed
# namespace (any host allowed); the host VM runs the library's selftest, then
# test/func/nvmf_tcp_interop.py: discovery, a bad Connect, admin + 2 I/O
# queues with digests off and on (identify, log pages, features, keep-alive,
# AER, 4 KiB in-capsule and 128 KiB R2T writes read back, flush, write
# zeroes, DSM), and a malformed CapsuleCmd (HLEN 80) that must get a
# C2HTermReq or a close while a second controller keeps working.
#
#   test/vm/run.sh test/vm/tests/client-knvmet-tcp.sh
set -u
. "$TERN_VM_LIB"
. "$TERN_VM_LIBDIR/knvmet.sh"
NQN=nqn.2024-01.org.tern:client-knvmet-tcp
LIBDIR=$TERN_SRC/test/func

if [ "$TERN_VM_ROLE" = tgt ]; then
    trap 'dmesg > "$TERN_VM_TEST_DIR/tgt-dmesg.txt"; knvmet_target_down tcp "$NQN"' EXIT
    dmesg -C
    knvmet_target_up tcp "$NQN" 128
    vm_signal ready
    vm_wait done "${TERN_VM_TEST_TIMEOUT:-600}" > /dev/null || vm_fail "host never finished"
    dmesg | grep -iE 'nvmet|tcp' | tail -n 40
    exit 0
fi

# ---- host
trap 'vm_signal done' EXIT
for f in nvmf_tcp.py nvmf_tcp_interop.py; do
    [ -r "$LIBDIR/$f" ] || vm_env_fail "$LIBDIR/$f not visible in the guest (TERN_SRC=$TERN_SRC)"
done
python3 "$LIBDIR/nvmf_tcp.py" selftest > "$TERN_VM_TEST_DIR/selftest.txt" 2>&1 \
    || vm_fail "nvmf_tcp.py selftest: $(grep -E '^FAIL|passed' "$TERN_VM_TEST_DIR/selftest.txt")"
vm_log "selftest: $(tail -n 1 "$TERN_VM_TEST_DIR/selftest.txt")"
vm_wait ready 120 > /dev/null || vm_fail "target never got ready"
timeout 540 python3 -u "$LIBDIR/nvmf_tcp_interop.py" --addr "$TERN_VM_TGT_ADDR" \
    --port "$NVMET_PORTNO" --subnqn "$NQN" --timeout 30 2>&1 | tee "$TERN_VM_TEST_DIR/interop.txt"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || vm_fail "interop with kernel nvmet-tcp: $(tail -n 1 "$TERN_VM_TEST_DIR/interop.txt") (exit $rc)"
vm_log "PASS: nvmf_tcp.py against kernel nvmet-tcp: $(tail -n 1 "$TERN_VM_TEST_DIR/interop.txt")"
