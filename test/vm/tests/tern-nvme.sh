#!/bin/bash
# The userspace vfio NVMe driver and the nvme bdev (issue 7) in the tgt
# guest, whose emulated NVMe SSD sits behind an emulated IOMMU and is bound
# to vfio-pci at boot (lib/guest.sh). tern-tgt attaches it by RPC config
# (bdev_nvme_attach_controller, trtype PCIe) and exports namespace 1 over
# NVMe/TCP; the host guest:
#   1. connects; `nvme id-ns` shows the device's geometry (256 MiB of
#      512-byte blocks); fio write+verify at 4k and 128k;
#   2. disconnects.
#   test/vm/run.sh test/vm/tests/tern-nvme.sh
set -u
. "$TERN_VM_LIB"
. "$TERN_VM_LIBDIR/terntgt.sh"

NQN=nqn.2024-01.org.tern:vm-nvme
NVME_BLOCKS=524288          # run.sh's 256 MiB image in 512-byte blocks

# ================================================================== target
if [ "$TERN_VM_ROLE" = tgt ]; then
    trap '[ -n "$TT_PID" ] && kill -KILL "$TT_PID" 2> /dev/null' EXIT
    [ -n "${TERN_VM_NVME_BDF:-}" ] || vm_env_fail "no NVMe device bound to vfio-pci in the tgt guest"
    cfg=$TERN_VM_TEST_DIR/tern-tgt.json
    python3 - "$cfg" "$TERN_VM_TGT_ADDR" "$TT_PORT" "$NQN" "$TERN_VM_NVME_BDF" <<'PY'
import json, sys
out, addr, port, nqn, bdf = sys.argv[1:]
cfg = {"subsystems": [
    {"subsystem": "bdev", "config": [
        {"method": "bdev_nvme_attach_controller",
         "params": {"name": "Nvme0", "trtype": "PCIe", "traddr": bdf}},
    ]},
    {"subsystem": "nvmf", "config": [
        {"method": "nvmf_create_transport", "params": {"trtype": "TCP"}},
        {"method": "nvmf_create_subsystem",
         "params": {"nqn": nqn, "allow_any_host": True, "serial_number": "TERNVMNVME0000000001",
                    "model_number": "Tern VM nvme"}},
        {"method": "nvmf_subsystem_add_ns",
         "params": {"nqn": nqn, "namespace": {"bdev_name": "Nvme0n1", "nsid": 1}}},
        {"method": "nvmf_subsystem_add_listener",
         "params": {"nqn": nqn, "listen_address": {"trtype": "TCP", "adrfam": "IPv4",
                                                   "traddr": addr, "trsvcid": port}}},
    ]},
]}
json.dump(cfg, open(out, "w"), indent=1)
PY
    tt_target_main "$cfg"
fi

# ================================================================== host
trap 'tt_disconnect "$NQN"; dmesg > "$TERN_VM_TEST_DIR/host-dmesg.txt"; vm_signal done' EXIT
tt_need nvme fio python3
tt_host_wait_ready

c=$(tt_connect "$NQN") || tt_abort "nvme connect" "$(tail -n 3 "$TERN_VM_TEST_DIR/nvme-connect.log")"
tt_pass "nvme connect" "$c"
tt_wait_ns "$NQN" 1 || tt_abort "namespace block device" "no /dev/nvmeXn1 for $NQN"
dev=$(tt_ns_dev "$NQN" 1)
idns=$(nvme id-ns "$dev" -o json 2>&1)
echo "$idns" > "$TERN_VM_TEST_DIR/id-ns.json"
geo=$(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
f = d["lbafs"][d["flbas"] & 0xf]
print(d["nsze"], 1 << f["ds"])' "$idns" 2>&1)
[ "$geo" = "$NVME_BLOCKS 512" ] && tt_pass "nvme id-ns shows the device's geometry" "$geo" \
    || tt_fail "nvme id-ns shows the device's geometry" "got '$geo', want '$NVME_BLOCKS 512'"

job=$TERN_VM_TEST_DIR/verify.fio
cat > "$job" <<FIO
[global]
filename=$dev
direct=1
ioengine=libaio
verify=crc32c
verify_fatal=1
do_verify=1
rw=randwrite
size=64m
[v4k]
bs=4k
iodepth=32
[v128k]
stonewall
bs=128k
iodepth=16
offset=64m
FIO
out=$(tt_fio verify 240 "$job"); rc=$?
[ $rc = 0 ] && tt_pass "fio write+verify through the nvme bdev (4k, 128k)" "$(echo $out)" \
    || tt_fail "fio write+verify through the nvme bdev (4k, 128k)" "exit $rc: $(echo $out)"
tt_disconnect "$NQN"
tt_summary
