#!/bin/bash
# tern-tgt's NVMe/RDMA listener on an IPv6 address (issue 6, deliverable 1):
# the guests' link gets fd77::1 (tgt) and fd77::2 (host), which rxe turns
# into RoCE v2 GIDs; tern-tgt listens on [fd77::1]:4420 only. The kernel
# host: nvme discover -t rdma lists the subsystem with adrfam ipv6, nvme
# connect, fio write+verify (4 KiB and 128 KiB, QD 32), nvme disconnect;
# then no qpair is left and every pool is full.
#   test/vm/run.sh test/vm/tests/tern-rdma-ipv6.sh
set -u
. "$TERN_VM_LIB"
TT_TRTYPE=rdma
. "$TERN_VM_LIBDIR/terntgt.sh"

NQN=nqn.2024-01.org.tern:vm-rdma6
TGT6=fd77::1
HOST6=fd77::2

# addr6 ADDR: put ADDR on the test link and wait until it is usable (no DAD).
addr6() {
    local i
    ip -6 addr add "$1/64" dev "$TERN_VM_IFACE" nodad 2> /dev/null \
        || vm_env_fail "cannot add $1/64 to $TERN_VM_IFACE (IPv6 off in the guest?)"
    for ((i = 0; i < 50; i++)); do
        ip -6 addr show dev "$TERN_VM_IFACE" | grep -q "$1/64.*tentative" || return 0
        sleep 0.1
    done
}

# ================================================================== target
if [ "$TERN_VM_ROLE" = tgt ]; then
    trap '[ -n "$TT_PID" ] && kill -KILL "$TT_PID" 2> /dev/null' EXIT
    addr6 "$TGT6"
    python3 - "$TERN_VM_TEST_DIR/tern-tgt.json" "$TGT6" "$TT_PORT" "$NQN" <<'PY'
import json, sys
out, addr, port, nqn = sys.argv[1:]
la = {"trtype": "RDMA", "adrfam": "IPv6", "traddr": addr, "trsvcid": port}
json.dump({"subsystems": [
    {"subsystem": "bdev", "config": [
        {"method": "bdev_malloc_create", "params": {"name": "Malloc0", "num_blocks": 65536, "block_size": 512}}]},
    {"subsystem": "nvmf", "config": [
        {"method": "nvmf_create_transport", "params": {"trtype": "RDMA"}},
        {"method": "nvmf_create_subsystem", "params": {"nqn": nqn, "allow_any_host": True,
                                                      "serial_number": "TERNVMRDMA6000000001"}},
        {"method": "nvmf_subsystem_add_ns", "params": {"nqn": nqn, "namespace": {"bdev_name": "Malloc0"}}},
        {"method": "nvmf_subsystem_add_listener", "params": {"nqn": nqn, "listen_address": la}},
        {"method": "nvmf_subsystem_add_listener", "params": {"nqn": "nqn.2014-08.org.nvmexpress.discovery",
                                                            "listen_address": la}}]}]},
    open(out, "w"), indent=1)
PY
    tt_target_main "$TERN_VM_TEST_DIR/tern-tgt.json"
fi

# ================================================================== host
trap 'tt_disconnect "$NQN"; vm_signal done' EXIT
tt_need nvme fio python3
addr6 "$HOST6"
tt_host_wait_ready
TERN_VM_TGT_ADDR=$TGT6      # tt_connect's target address from here on

out=$(timeout 60 nvme discover -t rdma -a "$TGT6" -s "$TT_PORT" --hostnqn="$TT_HOSTNQN" \
    --hostid="$TT_HOSTID" 2>&1); rc=$?
echo "$out" > "$TERN_VM_TEST_DIR/discover.txt"
if [ $rc = 0 ] && echo "$out" | grep -q "subnqn: *$NQN" && echo "$out" | grep -q "adrfam: *ipv6" \
    && echo "$out" | grep -q "traddr: *$TGT6"; then
    tt_pass "nvme discover -t rdma -a $TGT6 lists the subsystem, adrfam ipv6"
else
    tt_fail "nvme discover -t rdma -a $TGT6" "exit $rc: $(echo "$out" | grep -E 'subnqn|adrfam|traddr|rror' | tr '\n' ' ')"
fi
ctrl=$(tt_connect "$NQN" --keep-alive-tmo=15) && dev=$(tt_wait_ns "$NQN" 1 20 && tt_ns_dev "$NQN" 1) \
    && tt_pass "nvme connect -t rdma -a $TGT6" "$ctrl, $dev, $(cat /sys/class/nvme/"$ctrl"/address)" \
    || tt_abort "nvme connect -t rdma -a $TGT6" "$(tail -n 3 "$TERN_VM_TEST_DIR/nvme-connect.log")"
{
    printf '%s\n' '[global]' ioengine=libaio direct=1 rw=randwrite iodepth=32 numjobs=1 \
        verify=crc32c verify_fatal=1 do_verify=1 randrepeat=0 serialize_overlap=1 "filename=$dev"
    printf '\n[v6-4k]\nbs=4k\noffset=0\nsize=8M\n'
    printf '\n[v6-128k]\nbs=128k\noffset=8M\nsize=16M\n'
} > fio-v6.job
out=$(tt_fio v6 300 fio-v6.job); rc=$?
for n in v6-4k v6-128k; do
    line=$(echo "$out" | grep "^$n ")
    [ $rc = 0 ] && [ "$(echo "$line" | cut -d' ' -f2)" = ok ] && tt_pass "fio verify $n over IPv6" "${line#* ok }" \
        || tt_fail "fio verify $n over IPv6" "fio exit $rc: ${line:-no result}"
done
tt_disconnect "$NQN" && [ -z "$(tt_ctrls "$NQN")" ] && tt_pass "nvme disconnect" \
    || tt_fail "nvme disconnect" "controllers left: $(tt_ctrls "$NQN")"
tt_check "no qpair left, every buffer, data WR and SRQ receive back" tt_tgt tt_stats_clean 15
tt_summary
