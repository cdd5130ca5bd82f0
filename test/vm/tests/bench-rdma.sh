#!/bin/bash
# NVMe/RDMA over soft-RoCE, Tern against the kernel's nvmet in the same boot
# (issue 6, acceptance 2; ../shared/BENCHMARKS.md, "Test VM benchmark").
#
# The tgt guest exports one namespace that keeps nothing, twice: the kernel's
# nvmet-rdma on port 4420 (null_blk, /dev/nullb0) and tern-tgt on port 4421
# (a null bdev of the same size and block size). Only one target runs at a
# time (tern-tgt busy-polls the guest's one vCPU): tern-tgt is stopped while
# nvmet is measured. The host guest runs the same workloads against each,
# with tern-perf and with the kernel host + fio, BENCH_ROUNDS times (default
# 3), nvmet then Tern in each round. Every result is one JSON line in
# results.jsonl of the test dir: {target, initiator, round, workload, iops,
# mib_s, lat_us {avg, p50, p99}}. test/bench/rdma-vm runs this and writes
# the ratios (Tern / nvmet, per round and median) to summary.md.
#   TERN_BUILD_DIR=$PWD/build test/vm/run.sh test/vm/tests/bench-rdma.sh
set -u
. "$TERN_VM_LIB"
. "$TERN_VM_LIBDIR/knvmet.sh"
TT_TRTYPE=rdma
. "$TERN_VM_LIBDIR/terntgt.sh"
. "$TERN_VM_LIBDIR/ternperf.sh"
TP_NICE=19               # as in perf-knvmet-rdma.sh: rxe needs the vCPU too
TT_LCORES=${BENCH_TGT_LCORES:-1}   # one reactor: the tgt guest has one vCPU, rxe needs it too
ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECONDS:-5}
NQN_K=nqn.2024-01.org.tern:bench-knvmet
NQN_T=nqn.2024-01.org.tern:bench-tern
TERN_PORT=4421
# name, tern-perf -w, fio --rw, I/O size, queue depth
WORKLOADS="4k-randread-qd1 randread randread 4096 1
4k-randread-qd32 randread randread 4096 32
4k-randwrite-qd32 randwrite randwrite 4096 32
128k-read-qd16 read read 131072 16
128k-write-qd16 write write 131072 16"

# ================================================================== target
if [ "$TERN_VM_ROLE" = tgt ]; then
    trap '[ -n "$TT_PID" ] && kill -KILL "$TT_PID" 2> /dev/null; bench_knvmet_down' EXIT
    modprobe null_blk nr_devices=1 gb=1 bs=512 > /dev/null 2>&1 && [ -b /dev/nullb0 ] \
        || vm_env_fail "null_blk (/dev/nullb0) not available"
    bench_knvmet_down() {
        local s=$NVMET_CFG/subsystems/$NQN_K p=$NVMET_CFG/ports/1
        rm -f "$p/subsystems/$NQN_K" 2> /dev/null; rmdir "$p" 2> /dev/null
        [ -e "$s/namespaces/1/enable" ] && echo 0 > "$s/namespaces/1/enable"
        rmdir "$s/namespaces/1" "$s" 2> /dev/null
    }
    s=$NVMET_CFG/subsystems/$NQN_K p=$NVMET_CFG/ports/1
    { mkdir "$s" && echo 1 > "$s/attr_allow_any_host" && mkdir "$s/namespaces/1" \
        && echo -n /dev/nullb0 > "$s/namespaces/1/device_path" && echo 1 > "$s/namespaces/1/enable" \
        && mkdir "$p" && echo ipv4 > "$p/addr_adrfam" && echo rdma > "$p/addr_trtype" \
        && echo "$TERN_VM_TGT_ADDR" > "$p/addr_traddr" && echo 4420 > "$p/addr_trsvcid" \
        && ln -s "$s" "$p/subsystems/$NQN_K"; } || vm_fail "kernel nvmet-rdma setup failed: $(dmesg | tail -n 3)"
    cfg=$TERN_VM_TEST_DIR/tern-tgt.json
    python3 - "$cfg" "$TERN_VM_TGT_ADDR" "$TERN_PORT" "$NQN_T" <<'PY'
import json, sys
out, addr, port, nqn = sys.argv[1:]
json.dump({"subsystems": [
    {"subsystem": "bdev", "config": [
        {"method": "bdev_null_create", "params": {"name": "Null0", "num_blocks": 2097152, "block_size": 512}}]},
    {"subsystem": "nvmf", "config": [
        {"method": "nvmf_create_transport", "params": {"trtype": "RDMA"}},
        {"method": "nvmf_create_subsystem", "params": {"nqn": nqn, "allow_any_host": True,
                                                      "serial_number": "TERNBENCHRDMA0000001"}},
        {"method": "nvmf_subsystem_add_ns", "params": {"nqn": nqn, "namespace": {"bdev_name": "Null0"}}},
        {"method": "nvmf_subsystem_add_listener", "params": {"nqn": nqn, "listen_address":
            {"trtype": "RDMA", "adrfam": "IPv4", "traddr": addr, "trsvcid": port}}}]}]},
    open(out, "w"), indent=1)
PY
    tt_target_main "$cfg"
fi

# ================================================================== host
trap 'nvme disconnect-all > /dev/null 2>&1; vm_signal done' EXIT
tt_need nvme fio python3
tt_host_wait_ready
[ -x "$TP_PERF" ] || vm_env_fail "tern-perf not built: $TP_PERF"
RES=$TERN_VM_TEST_DIR/results.jsonl
: > "$RES"

# result TARGET INITIATOR ROUND WORKLOAD FILE: one JSON line from a
# tern-perf JSON or a fio JSON output.
result() {
    python3 - "$@" >> "$RES" <<'PY'
import json, sys
target, ini, rnd, wl, path = sys.argv[1:]
text = open(path).read()
if ini == "tern-perf":
    r = json.loads([l for l in text.splitlines() if l.startswith("{")][0])
    if r["errors"]:
        sys.exit("tern-perf: %d errors" % r["errors"])
    out = {"iops": r["iops"], "mib_s": r["mib_s"],
           "lat_us": {k: r["lat_us"][k] for k in ("avg", "p50", "p99")}}
else:
    j = json.loads(text[text.index("{"):])["jobs"][0]
    if j["error"]:
        sys.exit("fio: error %d" % j["error"])
    d = j["read"] if j["read"]["io_bytes"] else j["write"]
    pct = d["clat_ns"].get("percentile", {})
    out = {"iops": d["iops"], "mib_s": d["bw_bytes"] / 1048576.0,
           "lat_us": {"avg": d["lat_ns"]["mean"] / 1000.0, "p50": pct.get("50.000000", 0) / 1000.0,
                      "p99": pct.get("99.000000", 0) / 1000.0}}
out.update({"target": target, "initiator": ini, "round": int(rnd), "workload": wl})
print(json.dumps(out, sort_keys=True))
PY
}

# measure TARGET PORT NQN ROUND: every workload with tern-perf, then with fio.
measure() {
    local target=$1 port=$2 nqn=$3 round=$4 name w frw bs qd f dev i
    while read -r name w frw bs qd; do
        f=$TERN_VM_TEST_DIR/perf-$target-$round-$name.out
        timeout 120 nice -n "$TP_NICE" "$TP_PERF" --lcores 0 --no-pci --no-huge -m 256 --no-telemetry \
            --file-prefix "bench-$$" --log-level '*:warning' -- \
            -r "trtype:RDMA adrfam:IPv4 traddr:$TERN_VM_TGT_ADDR trsvcid:$port subnqn:$nqn" \
            -w "$w" -o "$bs" -q "$qd" -t "$SECS" --warmup 1 --json > "$f" 2> "${f%.out}.err" \
            && result "$target" tern-perf "$round" "$name" "$f" \
            || tt_fail "$target round $round: tern-perf $name" "$(tail -n 2 "${f%.out}.err" | tr '\n' '|')"
    done <<< "$WORKLOADS"
    timeout 60 nvme connect -t rdma -a "$TERN_VM_TGT_ADDR" -s "$port" -n "$nqn" > /dev/null 2>&1 \
        || { tt_fail "$target round $round: nvme connect" "port $port"; return; }
    for ((i = 0; i < 100; i++)); do       # bounded: 20 s for the namespace
        dev=/dev/$(knvmet_blockdevs | head -n 1)
        [ -b "$dev" ] && break
        sleep 0.2
    done
    while read -r name w frw bs qd; do
        f=$TERN_VM_TEST_DIR/fio-$target-$round-$name.json
        timeout 120 fio --name="$name" --filename="$dev" --ioengine=libaio --direct=1 --rw="$frw" \
            --bs="$bs" --iodepth="$qd" --runtime="$SECS" --ramp_time=1 --time_based \
            --output-format=json --output="$f" > /dev/null 2>&1 \
            && result "$target" fio "$round" "$name" "$f" \
            || tt_fail "$target round $round: fio $name" "$(tail -n 3 "$f" | tr '\n' '|')"
    done <<< "$WORKLOADS"
    nvme disconnect -n "$nqn" > /dev/null 2>&1
}

for ((round = 1; round <= ROUNDS; round++)); do
    out=$(tt_tgt 'tt_tgt_stop 15') || tt_abort "round $round: tern-tgt stopped" "$out"
    measure nvmet 4420 "$NQN_K" "$round"
    out=$(tt_tgt 'tt_tgt_start "$TERN_VM_TEST_DIR/tern-tgt.json"') || tt_abort "round $round: tern-tgt started" "$out"
    measure tern "$TERN_PORT" "$NQN_T" "$round"
    tt_pass "round $round" "$(grep -c "\"round\": $round" "$RES") results"
done
tt_summary
