#!/bin/bash
# Guest-side driver of the Tern test VM (runs as PID 1 after switch_root).
#
# 1. finishes the mounts the initramfs left out, loads the modules,
# 2. checks the test environment (link, rxe, ping, rping both ways, vfio on
#    the target) -- any missing piece is reported as ENVIRONMENT, never as a
#    product failure,
# 3. runs every test script of this boot in order, in step with the peer guest,
# 4. saves dmesg and powers off (QEMU then exits).
#
# Layout of the share (mounted at /run/tern, the runner's log directory):
#   .tern/config            written by run.sh: test list, timeouts, addresses
#   .tern/sync/<scope>/     marker files <role>.<name> (see vmlib.sh)
#   .tern/req/              link-cut requests to the runner (see vmlib.sh)
#   .tern/status/<role>.*   setup result, per-test exit codes, "finished"
#   tests/NN-name/<role>.log  output of each test, per role
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8

SHARE=/run/tern
T=$SHARE/.tern
ROLE=$(sed -n 's/.*tern\.role=\([a-z]*\).*/\1/p' /proc/cmdline)
MODE=$(sed -n 's/.*tern\.mode=\([a-z]*\).*/\1/p' /proc/cmdline)
# shellcheck source=/dev/null
. "$T/config"

# devtmpfs has no /dev/fd and friends; bash process substitution needs them.
ln -sfn /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr

mkdir -p "$T/status" "$T/sync/setup" "$SHARE/tests"
GLOG=$SHARE/guest-$ROLE.log
# Everything this script says goes to the console and to guest-<role>.log.
exec > >(tee -a "$GLOG" > /dev/console) 2>&1

export TERN_VM_ROLE=$ROLE
if [ "$ROLE" = tgt ]; then TERN_VM_PEER_ROLE=host; else TERN_VM_PEER_ROLE=tgt; fi
export TERN_VM_PEER_ROLE TERN_VM_TGT_ADDR TERN_VM_HOST_ADDR TERN_VM_IFACE TERN_VM_RDMA_DEV
export TERN_VM_SHARE=$SHARE TERN_VM_LIB=$T/lib/vmlib.sh TERN_VM_LIBDIR=$T/lib TERN_SRC TERN_BUILD_DIR
export TERN_VM_TEST_TIMEOUT=$TEST_TIMEOUT
if [ "$ROLE" = tgt ]; then
    export TERN_VM_SELF_ADDR=$TERN_VM_TGT_ADDR TERN_VM_PEER_ADDR=$TERN_VM_HOST_ADDR
else
    export TERN_VM_SELF_ADDR=$TERN_VM_HOST_ADDR TERN_VM_PEER_ADDR=$TERN_VM_TGT_ADDR
fi
export TERN_VM_SYNC=$T/sync/setup
# shellcheck source=vmlib.sh
. "$TERN_VM_LIB"

log() { echo "[tern-vm $ROLE $(date +%T)] $*"; }

finish() {
    dmesg > "$SHARE/dmesg-$ROLE.log" 2>&1
    : > "$T/status/$ROLE.finished"
    log "powering off"
    sync
    poweroff -f
    sleep 5
    echo o > /proc/sysrq-trigger
}

# Setup failed: record why (the runner prints it as ENVIRONMENT) and stop.
# The status file also releases the peer from any wait on us.
env_fail() {
    log "ENVIRONMENT: $*"
    echo "$*" > "$T/status/$ROLE.env"
    finish
}

# ---------------------------------------------------------------- mounts
mount -t devpts -o gid=5,mode=620 devpts /dev/pts 2>/dev/null || { mkdir -p /dev/pts; mount -t devpts devpts /dev/pts; }
mkdir -p /dev/shm /dev/hugepages
mount -t tmpfs tmpfs /dev/shm
mount -t hugetlbfs nodev /dev/hugepages
modprobe configfs 2>/dev/null
mount -t configfs none /sys/kernel/config || env_fail "cannot mount configfs"
hostname "tern-$ROLE"
ip link set lo up
log "booted ($(uname -r)), mode=${MODE:-test}, uptime $(cut -d' ' -f1 /proc/uptime)s"

# ---------------------------------------------------------------- modules
# The emulated NVMe SSD must go to vfio-pci, not to the kernel nvme driver: set
# driver_override BEFORE nvme is loaded, so nvme never claims it.
NVME_BDF=
if [ "$ROLE" = tgt ]; then
    for d in /sys/bus/pci/devices/*; do
        if [ "$(cat "$d/class")" = 0x010802 ]; then NVME_BDF=${d##*/}; break; fi
    done
    [ -n "$NVME_BDF" ] || env_fail "no emulated NVMe controller (PCI class 0x010802) in the target VM"
    echo vfio-pci > "/sys/bus/pci/devices/$NVME_BDF/driver_override"
fi

# nvme_rdma register_always=N: the kernel host then sends single-page I/O
# buffers with the PD's global rkey instead of a fast-registration MR per
# I/O. Debian 6.1's rxe mishandles MRs left over from a torn-down connection
# ("rxe_reg_fast_mr: mr->lkey = ... not free" after a reconnect), which times
# out the next keep-alive, and the second teardown then stalls in
# __rxe_cleanup and leaves rxe and eth0 dead for the rest of the boot.
for m in virtio_net rdma_rxe ib_uverbs rdma_ucm nvme nvme_tcp "nvme_rdma register_always=N" \
         nvmet nvmet_tcp nvmet_rdma vfio_pci; do
    # shellcheck disable=SC2086   # module name + parameters
    modprobe $m || env_fail "modprobe $m failed (is /lib/modules/$(uname -r) complete?)"
done
# Extra modules a test suite asks for (run.sh: TERN_VM_MODULES).
for m in ${EXTRA_MODULES:-}; do
    modprobe "$m" || env_fail "modprobe $m (TERN_VM_MODULES) failed"
done
log "modules loaded"

# ---------------------------------------------------------------- vfio
if [ "$ROLE" = tgt ]; then
    dev=/sys/bus/pci/devices/$NVME_BDF
    if [ -e "$dev/driver" ] && [ "$(basename "$(readlink "$dev/driver")")" != vfio-pci ]; then
        echo "$NVME_BDF" > "$dev/driver/unbind"
    fi
    [ -e "$dev/driver" ] || echo "$NVME_BDF" > /sys/bus/pci/drivers_probe
    [ "$(basename "$(readlink "$dev/driver" 2>/dev/null)")" = vfio-pci ] \
        || env_fail "NVMe $NVME_BDF did not bind to vfio-pci"
    [ -e "$dev/iommu_group" ] || env_fail "NVMe $NVME_BDF has no IOMMU group (intel_iommu=on missing?)"
    grp=$(basename "$(readlink "$dev/iommu_group")")
    [ -c "/dev/vfio/$grp" ] || env_fail "/dev/vfio/$grp missing for NVMe $NVME_BDF"
    export TERN_VM_NVME_BDF=$NVME_BDF TERN_VM_VFIO_GROUP=$grp
    log "NVMe $NVME_BDF bound to vfio-pci, /dev/vfio/$grp"
fi

# ---------------------------------------------------------------- link + rxe
[ -e "/sys/class/net/$TERN_VM_IFACE" ] || env_fail "no network interface $TERN_VM_IFACE"
ip addr add "$TERN_VM_SELF_ADDR/24" dev "$TERN_VM_IFACE" || env_fail "cannot address $TERN_VM_IFACE"
ip link set "$TERN_VM_IFACE" up || env_fail "cannot bring $TERN_VM_IFACE up"
rdma link add "$TERN_VM_RDMA_DEV" type rxe netdev "$TERN_VM_IFACE" \
    || env_fail "rdma link add $TERN_VM_RDMA_DEV type rxe netdev $TERN_VM_IFACE failed"
ok=
for _ in $(seq 1 60); do       # bounded: 30 s
    if rdma link show "$TERN_VM_RDMA_DEV/1" 2>/dev/null | grep -q 'state ACTIVE'; then ok=1; break; fi
    sleep 0.5
done
[ -n "$ok" ] || env_fail "rxe port $TERN_VM_RDMA_DEV/1 not ACTIVE: $(rdma link show 2>&1)"
log "rxe $TERN_VM_RDMA_DEV on $TERN_VM_IFACE ACTIVE"

# Both guests up and configured before either probes the other.
vm_barrier up "$BOOT_TIMEOUT" || env_fail "peer guest $TERN_VM_PEER_ROLE never came up"

ping -c 3 -W 5 -i 0.5 "$TERN_VM_PEER_ADDR" > /tmp/ping.log 2>&1 \
    || env_fail "ping $TERN_VM_SELF_ADDR -> $TERN_VM_PEER_ADDR failed: $(tail -n 2 /tmp/ping.log)"
log "ping $TERN_VM_PEER_ADDR ok"

# rping both ways: first the target serves and the host connects, then the
# reverse. The server side is bounded by timeout, the client by -C and timeout.
rping_round() {   # $1 = role that serves
    if [ "$ROLE" = "$1" ]; then
        timeout 60 rping -s -a "$TERN_VM_SELF_ADDR" -C 5 > "/tmp/rping-s-$1.log" 2>&1 &
        local pid=$!
        sleep 1
        vm_signal "rping-$1-listening"
        wait $pid || { cat "/tmp/rping-s-$1.log"; return 1; }
    else
        vm_wait "rping-$1-listening" 60 || return 1
        timeout 60 rping -c -a "$TERN_VM_PEER_ADDR" -C 5 -v > "/tmp/rping-c-$1.log" 2>&1 \
            || { cat "/tmp/rping-c-$1.log"; return 1; }
    fi
}
rping_round tgt || env_fail "rping host -> tgt over $TERN_VM_RDMA_DEV failed"
rping_round host || env_fail "rping tgt -> host over $TERN_VM_RDMA_DEV failed"
log "rping both ways ok"
: > "$T/status/$ROLE.setup-ok"
vm_barrier setup-done 120 || env_fail "peer guest $TERN_VM_PEER_ROLE failed its setup"
log "environment ready after $(cut -d' ' -f1 /proc/uptime)s of uptime"

# ---------------------------------------------------------------- shell mode
if [ "$MODE" = shell ]; then
    if [ "$ROLE" = tgt ]; then
        cat <<MSG
================================================================
 Tern test VM shell (target). Peer host VM: $TERN_VM_HOST_ADDR, this VM: $TERN_VM_TGT_ADDR
 rxe: $TERN_VM_RDMA_DEV on $TERN_VM_IFACE; NVMe $NVME_BDF on vfio-pci (/dev/vfio/${grp:-?})
 Source tree (read-only): $TERN_SRC     Writable share: $SHARE
 Helpers: . \$TERN_VM_LIB; vm_link cut 5   (exit the shell to stop both VMs)
================================================================
MSG
        # A shell with a controlling terminal on the console, so Ctrl-C works.
        setsid -c bash -i < /dev/console > /dev/console 2>&1
        : > "$T/status/tgt.shell-done"
    else
        # Host: stay up for the developer until the target's shell ends.
        vm_wait_file "$T/status/tgt.shell-done" "$SHELL_TIMEOUT" "target shell"
    fi
    finish
fi

# ---------------------------------------------------------------- tests
idx=0
for t in $TESTS; do
    idx=$((idx + 1))
    name=$(printf '%02d-%s' "$idx" "$(basename "$t" .sh)")
    dir=$SHARE/tests/$name
    mkdir -p "$dir" "$T/sync/$name"
    export TERN_VM_TEST_NAME=$name TERN_VM_TEST_DIR=$dir TERN_VM_SYNC=$T/sync/$name
    export TERN_VM_TESTS=$T/$(dirname "$t")
    export TERN_VM_PEER_DONE=$T/status/$TERN_VM_PEER_ROLE.$name.rc
    # Start every test in step; a peer that never arrives fails this test.
    if ! vm_barrier start "$TEST_TIMEOUT"; then
        echo 1 > "$T/status/$ROLE.$name.rc"
        continue
    fi
    # A writable scratch cwd (/ is the read-only host root).
    mkdir -p "/tmp/work/$name" && cd "/tmp/work/$name" || exit
    log "test $name: start"
    # A previous test may have left the link broken (a wedged driver, a cut
    # never restored): say so at the top of this test's log, so a failure
    # here is not blamed on this test without that context.
    if ! ping -c 1 -W 2 "$TERN_VM_PEER_ADDR" > /dev/null 2>&1 \
        && ! ping -c 2 -W 2 "$TERN_VM_PEER_ADDR" > /dev/null 2>&1; then
        echo "NOTE: peer $TERN_VM_PEER_ADDR does not answer ping at the start of $name" \
            | tee "$dir/$ROLE.log"
    fi
    start=$(date +%s)
    # Test output: its own log, and the console (interleaved with kernel logs).
    timeout -k 10 "$TEST_TIMEOUT" bash "$T/$t" 2>&1 < /dev/null \
        | tee -a "$dir/$ROLE.log"
    rc=${PIPESTATUS[0]}
    [ "$rc" = 124 ] && log "test $name: TIMEOUT after ${TEST_TIMEOUT}s"
    echo "$rc" > "$T/status/$ROLE.$name.rc"
    log "test $name: exit $rc after $(( $(date +%s) - start ))s"
done

# Wait (briefly) for the peer to finish too, so neither side loses its link
# while the other still cleans up.
TERN_VM_SYNC=$T/sync/setup TERN_VM_PEER_DONE=$T/status/$TERN_VM_PEER_ROLE.finished \
    vm_barrier all-done 120 || true
finish
