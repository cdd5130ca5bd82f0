#!/bin/bash
# Tern's Python NVMe/TCP host library (test/func/nvmf_tcp.py) against the
# kernel's nvmet-tcp, the reference target: the tgt VM exports a file-backed
# namespace (any host allowed); the host VM runs the library's selftest, then
# test/func/nvmf_tcp_interop.py: discovery, a bad Connect, admin + 2 I/O
# queues with digests off and on (identify, log pages, features, keep-alive,
# AER, 4 KiB in-capsule and 128 KiB R2T writes read back, flush, write
# zeroes, DSM, SQ flow control disabled), and a malformed CapsuleCmd (HLEN
# 80) that must get a C2HTermReq or a close while a second controller keeps
# working.
#
# The namespace is a file on a small ext4 (loop-mounted image on tmpfs), not
# on tmpfs itself as in knvmet.sh: nvmet's file backend implements Write
# Zeroes with fallocate(FALLOC_FL_ZERO_RANGE), which tmpfs does not support
# (the command then fails although ONCS advertises it).
#
#   test/vm/run.sh test/vm/tests/client-knvmet-tcp.sh
set -u
. "$TERN_VM_LIB"
. "$TERN_VM_LIBDIR/knvmet.sh"
NQN=nqn.2024-01.org.tern:client-knvmet-tcp
LIBDIR=$TERN_SRC/test/func

MNT=/tmp/client-knvmet-ext4
IMG=$MNT/ns1.img
PORTDIR=$NVMET_CFG/ports/$(knvmet_portid tcp)
SUBDIR=$NVMET_CFG/subsystems/$NQN

target_up() {
    modprobe loop && modprobe ext4 || vm_env_fail "modprobe loop/ext4 failed"
    truncate -s 192M /tmp/client-knvmet-ext4.img && mkfs.ext4 -q -F /tmp/client-knvmet-ext4.img \
        && mkdir -p "$MNT" && mount -o loop /tmp/client-knvmet-ext4.img "$MNT" \
        || vm_env_fail "cannot make and mount an ext4 image for the namespace file"
    truncate -s 128M "$IMG"
    mkdir "$SUBDIR" && echo 1 > "$SUBDIR/attr_allow_any_host" \
        && mkdir "$SUBDIR/namespaces/1" && echo -n "$IMG" > "$SUBDIR/namespaces/1/device_path" \
        && echo 1 > "$SUBDIR/namespaces/1/buffered_io" && echo 1 > "$SUBDIR/namespaces/1/enable" \
        || vm_fail "nvmet subsystem $NQN setup failed"
    mkdir "$PORTDIR" && echo ipv4 > "$PORTDIR/addr_adrfam" && echo tcp > "$PORTDIR/addr_trtype" \
        && echo "$TERN_VM_TGT_ADDR" > "$PORTDIR/addr_traddr" \
        && echo "$NVMET_PORTNO" > "$PORTDIR/addr_trsvcid" && ln -s "$SUBDIR" "$PORTDIR/subsystems/$NQN" \
        || vm_fail "nvmet tcp port $TERN_VM_TGT_ADDR:$NVMET_PORTNO failed: $(dmesg | tail -n 3)"
    vm_log "kernel nvmet: $NQN (file $IMG on ext4) on tcp $TERN_VM_TGT_ADDR:$NVMET_PORTNO"
}

target_down() {
    rm -f "$PORTDIR/subsystems/$NQN" 2> /dev/null
    rmdir "$PORTDIR" 2> /dev/null
    [ -e "$SUBDIR/namespaces/1/enable" ] && echo 0 > "$SUBDIR/namespaces/1/enable"
    rmdir "$SUBDIR/namespaces/1" "$SUBDIR" 2> /dev/null
    umount "$MNT" 2> /dev/null
    rm -f /tmp/client-knvmet-ext4.img
}

if [ "$TERN_VM_ROLE" = tgt ]; then
    trap 'dmesg > "$TERN_VM_TEST_DIR/tgt-dmesg.txt"; target_down' EXIT
    dmesg -C
    target_up
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
