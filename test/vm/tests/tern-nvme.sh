#!/bin/bash
# The userspace vfio NVMe driver and the nvme bdev (issue 7 acceptance) in
# the tgt guest, whose emulated NVMe SSD (256 MiB, 512-byte blocks) sits
# behind an emulated IOMMU. The tgt guest:
#   1. gives the SSD back to the kernel's nvme driver and binds it to
#      vfio-pci again with usertools/tern-setup;
#   2. runs tern-perf in local mode on it (randread, randwrite, randrw with
#      verify; no network);
#   3. starts tern-tgt, which attaches it (bdev_nvme_attach_controller,
#      PCIe) and exports namespace 1 as subsystem "nvme" over NVMe/TCP and
#      NVMe/RDMA, next to a malloc namespace in subsystem "malloc" (TCP).
# The host guest:
#   a. over TCP: `nvme id-ns` shows the device's geometry; fio write+verify
#      (4k, 128k); an 8 MiB random pattern written at 200 MiB;
#   b. over RDMA: fio write+verify; the pattern reads back bit-exact;
#   c. detach and re-attach of the controller by RPC (its namespace leaves
#      the subsystem and is added back): the pattern reads back bit-exact;
#   d. `echo 1 > /sys/bus/pci/devices/BDF/remove` in the tgt guest while fio
#      runs on both subsystems: the removal completes, the nvme namespace's
#      I/O fails, the malloc namespace's fio verify passes, tern-tgt stays
#      up and answers RPCs, the controller and its bdev are gone, every
#      buffer is free; at the end SIGTERM stops it with exit 0.
# Needs TERN_VM_NIC_OPTS=tx=timer (RDMA; test/vm/meson.build sets it).
#   test/vm/run.sh test/vm/tests/tern-nvme.sh
set -u
. "$TERN_VM_LIB"
. "$TERN_VM_LIBDIR/terntgt.sh"

NQN=nqn.2024-01.org.tern:vm-nvme
NQN_M=nqn.2024-01.org.tern:vm-nvme-malloc
NVME_BLOCKS=524288          # run.sh's 256 MiB image in 512-byte blocks
PAT_SEEK=200                # MiB: where the pattern goes
BDF=${TERN_VM_NVME_BDF:-}

# Requests the host makes of the tgt guest (tt_tgt runs them there).
nv_detach() { tt_rpc bdev_nvme_detach_controller '{"name": "Nvme0"}'; }
nv_attach() {
    tt_rpc bdev_nvme_attach_controller "{\"name\": \"Nvme0\", \"trtype\": \"PCIe\", \"traddr\": \"$BDF\"}" \
        && tt_rpc nvmf_subsystem_add_ns "{\"nqn\": \"$NQN\", \"namespace\": {\"bdev_name\": \"Nvme0n1\", \"nsid\": 1}}"
}
nv_ctrlrs() { tt_rpc bdev_nvme_get_controllers | python3 -c 'import json,sys; print(" ".join("%s:%s:%s" % (c["name"], c["trid"]["traddr"], c["state"]) for c in json.load(sys.stdin)) or "none")'; }
nv_nsids() { tt_rpc nvmf_get_subsystems | python3 -c 'import json,sys; print(" ".join(str(n["nsid"]) for s in json.load(sys.stdin) if s["nqn"] == sys.argv[1] for n in s.get("namespaces", [])) or "none")' "$NQN"; }
# A queue pair per lcore, counters from each lcore, nothing outstanding.
nv_qpairs() {
    tt_rpc bdev_nvme_get_controllers | python3 -c '
import json, sys
q = json.load(sys.stdin)[0]["io_qpairs"]
done = sum(x["completed"] for x in q)
print("lcores %s, %d completed, %d outstanding, %d errors" % ([x["lcore"] for x in q], done,
      sum(x["outstanding"] for x in q), sum(x["errors"] for x in q)))
sys.exit(0 if len(q) == 2 and done > 0 and all(x["outstanding"] == 0 and x["errors"] == 0 for x in q) else 1)'
}
nv_remove() {
    local t0=$SECONDS
    timeout 60 sh -c "echo 1 > /sys/bus/pci/devices/$BDF/remove" || { echo "remove did not complete in 60 s"; return 1; }
    echo "removal completed in $((SECONDS - t0)) s"
    [ ! -e "/sys/bus/pci/devices/$BDF" ]
}
nv_alive() { kill -0 "$TT_PID" 2> /dev/null && tt_rpc framework_get_reactors > /dev/null && echo "pid $TT_PID answers RPCs"; }

# ================================================================== target
if [ "$TERN_VM_ROLE" = tgt ]; then
    trap '[ -n "$TT_PID" ] && kill -KILL "$TT_PID" 2> /dev/null' EXIT
    [ -n "$BDF" ] || vm_env_fail "no NVMe device bound to vfio-pci in the tgt guest"
    SETUP=$TERN_SRC/usertools/tern-setup
    drv() { basename "$(readlink "/sys/bus/pci/devices/$BDF/driver" 2> /dev/null)"; }

    # ---- 1. tern-setup: to the kernel and back to vfio-pci
    out=$(timeout 60 "$SETUP" reset "$BDF" 2>&1); rc=$?
    [ $rc = 0 ] && [ "$(drv)" = nvme ] && tt_pass "tern-setup reset $BDF: on nvme" \
        || tt_fail "tern-setup reset $BDF: on nvme" "exit $rc, driver $(drv): $out"
    out=$(timeout 60 "$SETUP" bind "$BDF" 2>&1); rc=$?
    grp=$(basename "$(readlink "/sys/bus/pci/devices/$BDF/iommu_group")")
    if [ $rc = 0 ] && [ "$(drv)" = vfio-pci ] && [ -c "/dev/vfio/$grp" ]; then
        tt_pass "tern-setup bind $BDF: on vfio-pci" "/dev/vfio/$grp"
    else
        tt_fail "tern-setup bind $BDF: on vfio-pci" "exit $rc, driver $(drv): $out"
        vm_signal ready fail; tt_summary; exit 1
    fi

    # ---- 2. tern-perf local mode on the device
    pcfg=$TERN_VM_TEST_DIR/perf-bdevs.json
    printf '{"subsystems": [{"subsystem": "bdev", "config": [{"method": "bdev_nvme_attach_controller", "params": {"name": "Nvme0", "trtype": "PCIe", "traddr": "%s"}}]}]}\n' "$BDF" > "$pcfg"
    for w in randread randwrite randrw; do
        v=; [ $w = randrw ] && v=-V
        # shellcheck disable=SC2086
        timeout 90 "$TT_BUILD/app/tern-perf/tern-perf" -l 0 --no-pci --no-huge -m 256 --no-telemetry \
            --file-prefix "tp-$$" -- -c "$pcfg" -b Nvme0n1 -q 32 -o 4096 -w $w $v -t 3 --json \
            > "$TERN_VM_TEST_DIR/perf-$w.out" 2>&1; rc=$?
        res=$(python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
r = [x for x in r if "workload" in x]
if not r:
    print("no result line"); sys.exit(1)
r = r[0]
print("%s: %d I/Os, %d IOPS, %d errors, p50 %.0f us" % (r["workload"], r["ios"], r["iops"], r["errors"], r["lat_us"]["p50"]))
sys.exit(0 if r["ios"] > 0 and r["errors"] == 0 else 1)' "$TERN_VM_TEST_DIR/perf-$w.out" 2>&1)
        [ $rc = 0 ] && [ $? = 0 ] && tt_pass "tern-perf local $w${v:+ verify} on Nvme0n1" "$res" \
            || tt_fail "tern-perf local $w${v:+ verify} on Nvme0n1" "exit $rc: $res $(tail -n 3 "$TERN_VM_TEST_DIR/perf-$w.out" | tr '\n' '|')"
    done

    # ---- 3. the target
    cfg=$TERN_VM_TEST_DIR/tern-tgt.json
    python3 - "$cfg" "$TERN_VM_TGT_ADDR" "$TT_PORT" "$NQN" "$NQN_M" "$BDF" <<'PY'
import json, sys
out, addr, port, nqn, nqn_m, bdf = sys.argv[1:]
def listener(n, tr):
    return {"method": "nvmf_subsystem_add_listener",
            "params": {"nqn": n, "listen_address": {"trtype": tr, "adrfam": "IPv4",
                                                    "traddr": addr, "trsvcid": port}}}
def subsys(n, sn):
    return {"method": "nvmf_create_subsystem",
            "params": {"nqn": n, "allow_any_host": True, "serial_number": sn,
                       "model_number": "Tern VM nvme"}}
def ns(n, bdev):
    return {"method": "nvmf_subsystem_add_ns",
            "params": {"nqn": n, "namespace": {"bdev_name": bdev, "nsid": 1}}}
cfg = {"subsystems": [
    {"subsystem": "bdev", "config": [
        {"method": "bdev_nvme_attach_controller",
         "params": {"name": "Nvme0", "trtype": "PCIe", "traddr": bdf}},
        {"method": "bdev_malloc_create",
         "params": {"name": "Malloc0", "num_blocks": 131072, "block_size": 512}},
    ]},
    {"subsystem": "nvmf", "config": [
        {"method": "nvmf_create_transport", "params": {"trtype": "TCP"}},
        {"method": "nvmf_create_transport", "params": {"trtype": "RDMA"}},
        subsys(nqn, "TERNVMNVME0000000001"), ns(nqn, "Nvme0n1"),
        listener(nqn, "TCP"), listener(nqn, "RDMA"),
        subsys(nqn_m, "TERNVMNVME0000000002"), ns(nqn_m, "Malloc0"), listener(nqn_m, "TCP"),
    ]},
]}
json.dump(cfg, open(out, "w"), indent=1)
PY
    tt_target_main "$cfg"
fi

# ================================================================== host
trap 'TT_TRTYPE=tcp; tt_disconnect "$NQN"; tt_disconnect "$NQN_M"; dmesg > "$TERN_VM_TEST_DIR/host-dmesg.txt"; vm_signal done' EXIT
tt_need nvme fio python3 dd cmp
tt_host_wait_ready
PAT=/tmp/tern-nvme-pattern
dd if=/dev/urandom of="$PAT" bs=1M count=8 status=none

# verify_job NAME DEV SIZE: fio write+verify, 4k QD32 then 128k QD16.
verify_job() {
    local job=$TERN_VM_TEST_DIR/$1.fio out rc
    cat > "$job" <<FIO
[global]
filename=$2
direct=1
ioengine=libaio
verify=crc32c
verify_fatal=1
do_verify=1
rw=randwrite
size=$3
[v4k]
bs=4k
iodepth=32
[v128k]
stonewall
bs=128k
iodepth=16
offset=$3
FIO
    out=$(tt_fio "$1" 300 "$job"); rc=$?
    [ $rc = 0 ] && tt_pass "fio write+verify ($1)" "$(echo $out)" \
        || tt_fail "fio write+verify ($1)" "exit $rc: $(echo $out)"
}
# pattern_check WHAT DEV: the pattern reads back bit-exact.
pattern_check() {
    if dd if="$2" bs=1M skip=$PAT_SEEK count=8 iflag=direct status=none | cmp -s - "$PAT"; then
        tt_pass "$1: the pattern reads back bit-exact"
    else
        tt_fail "$1: the pattern reads back bit-exact" "8 MiB at $PAT_SEEK MiB differ"
    fi
}
# attach TRTYPE NQN: connect and print the namespace's block device.
attach() {
    TT_TRTYPE=$1
    tt_connect "$2" > /dev/null || { echo "nvme connect -t $1 failed: $(tail -n 2 "$TERN_VM_TEST_DIR/nvme-connect.log")"; return 1; }
    tt_wait_ns "$2" 1 || { echo "no block device for $2"; return 1; }
    tt_ns_dev "$2" 1
}

# ---- a. TCP
dev=$(attach tcp "$NQN") || tt_abort "nvme connect -t tcp" "$dev"
tt_pass "nvme connect -t tcp" "$dev"
idns=$(nvme id-ns "$dev" -o json 2>&1)
echo "$idns" > "$TERN_VM_TEST_DIR/id-ns.json"
geo=$(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
f = d["lbafs"][d["flbas"] & 0xf]
print(d["nsze"], 1 << f["ds"])' "$idns" 2>&1)
[ "$geo" = "$NVME_BLOCKS 512" ] && tt_pass "nvme id-ns shows the device's geometry" "$geo" \
    || tt_fail "nvme id-ns shows the device's geometry" "got '$geo', want '$NVME_BLOCKS 512'"
verify_job tcp "$dev" 48m
dd if="$PAT" of="$dev" bs=1M seek=$PAT_SEEK oflag=direct conv=fsync status=none \
    && tt_pass "8 MiB pattern written over TCP" || tt_fail "8 MiB pattern written over TCP" "dd failed"
pattern_check "TCP" "$dev"
tt_disconnect "$NQN"
out=$(tt_tgt nv_qpairs) && tt_pass "bdev_nvme_get_controllers: each lcore's queue pair and its counters" "$out" \
    || tt_fail "bdev_nvme_get_controllers: each lcore's queue pair and its counters" "$out"

# ---- b. RDMA
if dev=$(attach rdma "$NQN"); then
    tt_pass "nvme connect -t rdma" "$dev"
    verify_job rdma "$dev" 32m
    pattern_check "RDMA, written over TCP" "$dev"
    tt_disconnect "$NQN"
else
    tt_fail "nvme connect -t rdma" "$dev"
fi
TT_TRTYPE=tcp

# ---- c. detach and re-attach
out=$(tt_tgt nv_detach) && [ "$(tt_tgt nv_ctrlrs)" = none ] && [ "$(tt_tgt nv_nsids)" = none ] \
    && tt_pass "bdev_nvme_detach_controller: controller and namespace gone" \
    || tt_fail "bdev_nvme_detach_controller: controller and namespace gone" "$out; $(tt_tgt nv_ctrlrs); nsids $(tt_tgt nv_nsids)"
out=$(tt_tgt nv_attach) && tt_pass "re-attached, namespace 1 added back" "$(tt_tgt nv_ctrlrs)" \
    || tt_fail "re-attached, namespace 1 added back" "$out"
if dev=$(attach tcp "$NQN"); then
    pattern_check "after detach and re-attach" "$dev"
else
    tt_fail "connect after re-attach" "$dev"
fi

# ---- d. surprise removal mid-I/O
devm=$(attach tcp "$NQN_M") || tt_fail "connect the malloc subsystem" "$devm"
dev=$(tt_ns_dev "$NQN" 1)
cat > "$TERN_VM_TEST_DIR/gone.fio" <<FIO
[gone]
filename=$dev
direct=1
ioengine=libaio
rw=randrw
bs=4k
iodepth=16
time_based=1
runtime=20
FIO
cat > "$TERN_VM_TEST_DIR/malloc.fio" <<FIO
[malloc]
filename=$devm
direct=1
ioengine=libaio
rw=randwrite
bs=4k
iodepth=16
size=32m
verify=crc32c
verify_fatal=1
do_verify=1
time_based=1
runtime=20
FIO
tt_fio gone 120 "$TERN_VM_TEST_DIR/gone.fio" > "$TERN_VM_TEST_DIR/gone.sum" &
pg=$!
tt_fio malloc 120 "$TERN_VM_TEST_DIR/malloc.fio" > "$TERN_VM_TEST_DIR/malloc.sum" &
pm=$!
sleep 5
out=$(TT_TGT_TIMEOUT=90 tt_tgt nv_remove) && tt_pass "PCI removal of the SSD mid-I/O completes" "$out" \
    || tt_fail "PCI removal of the SSD mid-I/O completes" "$out"
wait $pg; rcg=$?
wait $pm; rcm=$?
[ $rcg != 0 ] && tt_pass "I/O to the removed device's namespace fails" "fio exit $rcg: $(cat "$TERN_VM_TEST_DIR/gone.sum" | head -n 1)" \
    || tt_fail "I/O to the removed device's namespace fails" "fio exit 0: $(cat "$TERN_VM_TEST_DIR/gone.sum")"
[ $rcm = 0 ] && tt_pass "the malloc namespace's fio verify passes throughout" "$(cat "$TERN_VM_TEST_DIR/malloc.sum")" \
    || tt_fail "the malloc namespace's fio verify passes throughout" "exit $rcm: $(cat "$TERN_VM_TEST_DIR/malloc.sum")"
out=$(tt_tgt nv_alive) && tt_pass "tern-tgt stays up after the removal" "$out" \
    || tt_fail "tern-tgt stays up after the removal" "$out"
out="$(tt_tgt nv_ctrlrs); nsids $(tt_tgt nv_nsids)"
[ "$out" = "none; nsids none" ] && tt_pass "controller Nvme0 and its namespace are gone" \
    || tt_fail "controller Nvme0 and its namespace are gone" "$out"
tt_disconnect "$NQN"
tt_disconnect "$NQN_M"
out=$(tt_tgt tt_stats_clean 20) && tt_pass "no qpair left, every buffer free" "$out" \
    || tt_fail "no qpair left, every buffer free" "$out"
tt_summary
