#!/bin/bash
# tern-tgt over NVMe/RDMA (soft-RoCE) against the Linux kernel host
# (nvme-cli, fio): issue 6, acceptance 1 and 3.
#
# The tgt guest runs tern-tgt (two reactors, no hugepages) with one RDMA
# transport and a 96 MiB malloc namespace on 10.77.0.1:4420. The host guest:
#   1. default transport options (a shared receive queue per device and
#      lcore): nvme discover -t rdma lists the subsystem
#      and the discovery subsystem with trtype rdma; nvme connect -t rdma;
#      the namespace's size and LBA format; fio write+verify, bs 4k (in-capsule
#      data), 128k (RDMA READ / WRITE, send-with-invalidate) and mixed sizes,
#      iodepth 32, 4 jobs each; no kernel NVMe errors; nvme disconnect; no
#      qpair left, every buffer and data WR free, every SRQ receive posted;
#   2. the target restarted with data_wr_pool_size at its floor and no_srq
#      (each qpair its own receive queue): 128 KiB
#      random writes then reads with verify at queue depth 128 finish (no
#      hang); nvmf_get_stats sampled meanwhile shows requests waiting for data
#      WRs (a pending queue grows) and, after, every pending queue empty and
#      every pool full.
#   test/vm/run.sh test/vm/tests/tern-rdma.sh
set -u
. "$TERN_VM_LIB"
TT_TRTYPE=rdma
. "$TERN_VM_LIBDIR/terntgt.sh"

NQN=nqn.2024-01.org.tern:vm-rdma
DISC_NQN=nqn.2014-08.org.nvmexpress.discovery

# ================================================================== target
if [ "$TERN_VM_ROLE" = tgt ]; then
    trap '[ -n "$TT_PID" ] && kill -KILL "$TT_PID" 2> /dev/null' EXIT
    mkcfg() {   # FILE [TRANSPORT PARAMS JSON]
        python3 - "$1" "$TERN_VM_TGT_ADDR" "$TT_PORT" "$NQN" "${2:-{\}}" <<'PY'
import json, sys
out, addr, port, nqn, extra = sys.argv[1:]
tp = {"trtype": "RDMA", "max_queue_depth": 128}
tp.update(json.loads(extra))
cfg = {"subsystems": [
    {"subsystem": "bdev", "config": [
        {"method": "bdev_malloc_create", "params": {"name": "Malloc0", "num_blocks": 196608, "block_size": 512}},
    ]},
    {"subsystem": "nvmf", "config": [
        {"method": "nvmf_create_transport", "params": tp},
        {"method": "nvmf_create_subsystem", "params": {"nqn": nqn, "allow_any_host": True,
            "serial_number": "TERNVMRDMA0000000001", "model_number": "Tern VM rdma"}},
        {"method": "nvmf_subsystem_add_ns", "params": {"nqn": nqn, "namespace": {"bdev_name": "Malloc0", "nsid": 1}}},
        {"method": "nvmf_subsystem_add_listener", "params": {"nqn": nqn, "listen_address":
            {"trtype": "RDMA", "adrfam": "IPv4", "traddr": addr, "trsvcid": port}}},
        {"method": "nvmf_subsystem_add_listener", "params": {"nqn": "nqn.2014-08.org.nvmexpress.discovery",
            "listen_address": {"trtype": "RDMA", "adrfam": "IPv4", "traddr": addr, "trsvcid": port}}},
    ]},
]}
json.dump(cfg, open(out, "w"), indent=1)
PY
    }
    mkcfg "$TERN_VM_TEST_DIR/tern-tgt.json"
    # data_wr_pool_size 1 is below any floor: the target raises it to the floor.
    mkcfg "$TERN_VM_TEST_DIR/tern-tgt-floor.json" '{"data_wr_pool_size": 1, "no_srq": true}'
    tt_target_main "$TERN_VM_TEST_DIR/tern-tgt.json"
fi

# ================================================================== host
trap 'tt_disconnect "$NQN"; dmesg > "$TERN_VM_TEST_DIR/host-dmesg.txt"; vm_signal done' EXIT
tt_need nvme fio python3
tt_host_wait_ready
dmesg -C

# ---- 1. discovery
out=$(timeout 60 nvme discover -t rdma -a "$TERN_VM_TGT_ADDR" -s "$TT_PORT" --hostnqn="$TT_HOSTNQN" \
    --hostid="$TT_HOSTID" 2>&1); rc=$?
echo "$out" > "$TERN_VM_TEST_DIR/discover.txt"
subs=$(echo "$out" | sed -n 's/^subnqn: *//p' | sort | tr '\n' ' ')
if [ $rc = 0 ] && [ "$subs" = "$(printf '%s\n' "$NQN" "$DISC_NQN" | sort | tr '\n' ' ')" ] \
    && [ "$(echo "$out" | grep -c '^trtype: *rdma')" = 2 ] && echo "$out" | grep -q "traddr: *$TERN_VM_TGT_ADDR"; then
    tt_pass "nvme discover -t rdma lists the subsystem and discovery, trtype rdma"
else
    tt_fail "nvme discover -t rdma" "exit $rc: $(echo "$out" | grep -E 'subnqn|trtype|rror' | tr '\n' ' ')"
fi

# ---- 1b. connect, geometry, fio verify, disconnect
ctrl=$(tt_connect "$NQN" --keep-alive-tmo=15) && dev=$(tt_wait_ns "$NQN" 1 20 && tt_ns_dev "$NQN" 1) \
    && tt_pass "nvme connect -t rdma" "$ctrl, $dev" \
    || tt_abort "nvme connect -t rdma" "$(tail -n 3 "$TERN_VM_TEST_DIR/nvme-connect.log"; dmesg | tail -n 5 | tr '\n' '|')"
size=$(blockdev --getsize64 "$dev"); lbs=$(blockdev --getss "$dev")
[ "$size" = $((96 << 20)) ] && [ "$lbs" = 512 ] && tt_pass "namespace geometry" "$size bytes, $lbs-byte blocks" \
    || tt_fail "namespace geometry" "$size bytes, $lbs-byte blocks (want $((96 << 20)), 512)"
[ "$(cat /sys/class/nvme/"$ctrl"/transport)" = rdma ] && tt_pass "the controller's transport is rdma" \
    || tt_fail "the controller's transport is rdma" "$(cat /sys/class/nvme/"$ctrl"/transport)"

{
    printf '%s\n' '[global]' ioengine=libaio direct=1 rw=randwrite iodepth=32 numjobs=4 \
        verify=crc32c verify_fatal=1 do_verify=1 randrepeat=0 serialize_overlap=1 "filename=$dev"
    printf '\n[rdma-4k]\nbs=4k\noffset=0\nsize=6M\noffset_increment=6M\n'
    printf '\n[rdma-128k]\nbs=128k\noffset=24M\nsize=12M\noffset_increment=12M\n'
    printf '\n[rdma-mix]\nbsrange=512-128k\noffset=72M\nsize=4M\noffset_increment=4M\n'
} > fio-rdma.job
t0=$(date +%s)
out=$(tt_fio rdma 300 fio-rdma.job); rc=$?
echo "$out"
for n in rdma-4k rdma-128k rdma-mix; do
    line=$(echo "$out" | grep "^$n ")
    if [ $rc = 0 ] && [ "$(echo "$line" | cut -d' ' -f2)" = ok ]; then
        tt_pass "fio verify $n (4 jobs, iodepth 32)" "${line#* ok }"
    else
        tt_fail "fio verify $n (4 jobs, iodepth 32)" "fio exit $rc: ${line:-no result}; $(echo "$out" | grep '^- ' | head -n 2)"
    fi
done
vm_log "fio (default options): $(( $(date +%s) - t0 )) s"
out=$(tt_dmesg_nvme_errors)
[ -z "$out" ] && tt_pass "no kernel NVMe errors" || tt_fail "no kernel NVMe errors" "$(echo "$out" | head -n 3 | tr '\n' '|')"
tt_disconnect "$NQN" && [ -z "$(tt_ctrls "$NQN")" ] && tt_pass "nvme disconnect" \
    || tt_fail "nvme disconnect" "controllers left: $(tt_ctrls "$NQN")"
tt_check "no qpair left, every buffer and data WR free" tt_tgt tt_stats_clean 15
out=$(tt_tgt 'tt_log_grep "SRQ of"'); rc=$?
[ $rc = 0 ] && tt_pass "the qpairs were on shared receive queues" "$(echo "$out" | sed 's/.*lcore/lcore/' | tr '\n' ';')" \
    || tt_fail "the qpairs were on shared receive queues" "no 'SRQ of' in the target's log"

# ---- 2. data_wr_pool_size at its floor, 128 KiB at queue depth 128
out=$(tt_tgt 'tt_tgt_stop 15 && tt_tgt_start "$TERN_VM_TEST_DIR/tern-tgt-floor.json" && tt_log_grep "no_srq: every qpair" > /dev/null && tt_log_grep "RDMA data WR pool"'); rc=$?
[ $rc = 0 ] && tt_pass "target restarted with data_wr_pool_size at its floor" "$(echo "$out" | tail -n 1 | sed 's/.*pool: //')" \
    || tt_abort "target restarted with data_wr_pool_size at its floor" "$out"
ctrl=$(tt_connect "$NQN" --queue-size=128 --keep-alive-tmo=15) && dev=$(tt_wait_ns "$NQN" 1 20 && tt_ns_dev "$NQN" 1) \
    && tt_pass "nvme connect -t rdma --queue-size=128" "$ctrl, $dev" \
    || tt_abort "nvme connect -t rdma --queue-size=128" "$(tail -n 3 "$TERN_VM_TEST_DIR/nvme-connect.log")"
printf '%s\n' '[global]' ioengine=libaio direct=1 iodepth=128 numjobs=1 bs=128k "filename=$dev" \
    size=64M verify=crc32c verify_fatal=1 do_verify=1 randrepeat=0 serialize_overlap=1 \
    '[floor-128k]' rw=randwrite > fio-floor.job
rm -f stats-floor.txt
( for ((i = 0; i < 600; i++)); do
      [ -e fio-floor.done ] && break
      tt_tgt tt_rpc nvmf_get_stats >> stats-floor.txt 2>&1
      echo "@@" >> stats-floor.txt
      sleep 0.3
  done ) &
spid=$!
t0=$(date +%s)
out=$(tt_fio floor 300 fio-floor.job); rc=$?
touch fio-floor.done
wait $spid
# and once after: the counters (pending_max: the most at once) include the
# samples' gaps (a sample through the tgt guest takes a second or more)
{ tt_tgt tt_rpc nvmf_get_stats; echo "@@"; } >> stats-floor.txt 2>&1
line=$(echo "$out" | grep '^floor-128k ')
if [ $rc = 0 ] && [ "$(echo "$line" | cut -d' ' -f2)" = ok ]; then
    tt_pass "fio 128k write+verify at iodepth 128 with the WR pool at its floor" "${line#* ok }, $(( $(date +%s) - t0 )) s"
else
    tt_fail "fio 128k write+verify at iodepth 128 with the WR pool at its floor" "fio exit $rc: ${line:-no result}"
fi
grow=$(python3 - stats-floor.txt <<'PY'
import json, sys
best = (0, "")
waits = 0
for chunk in open(sys.argv[1]).read().split("@@"):
    try:
        s = json.loads(chunk[chunk.index("{"):])
    except Exception:
        continue
    for pg in s["poll_groups"]:
        for t in pg["transports"]:
            if t["trtype"] != "RDMA":
                continue
            for d in t.get("devices", []):
                n = d["pending_rdma_read"] + d["pending_rdma_send"] + d["pending_data_buffer"]
                waits = max(waits, d["data_wr_waits"])
                if n > best[0]:
                    best = (n, "lcore %d %s: read %d send %d buffer %d, data WRs free %d/%d"
                            % (pg["lcore"], d["name"], d["pending_rdma_read"], d["pending_rdma_send"],
                               d["pending_data_buffer"], t["data_wr_pool_free"], t["data_wr_pool_size"]))
                if d["pending_max"] > best[0]:
                    best = (d["pending_max"], "lcore %d %s: pending_max %d" % (pg["lcore"], d["name"], d["pending_max"]))
print("%d %d %s" % (best[0], waits, best[1]))
PY
)
[ "${grow%% *}" -gt 0 ] 2> /dev/null && tt_pass "a pending queue grew while the WR pool ran dry" "max $grow" \
    || tt_fail "a pending queue grew while the WR pool ran dry" "max ${grow:-?} ($(grep -c '@@' stats-floor.txt) samples)"
tt_disconnect "$NQN" && [ -z "$(tt_ctrls "$NQN")" ] && tt_pass "nvme disconnect after the floor run" \
    || tt_fail "nvme disconnect after the floor run" "controllers left: $(tt_ctrls "$NQN")"
tt_check "pending queues drained, every buffer and data WR back" tt_tgt tt_stats_clean 15
tt_summary
