#!/bin/bash
# tern-tgt over NVMe/RDMA (soft-RoCE) against the Linux kernel host, faults
# in a loop (issue 6, acceptance 4; incident 5 of ../shared/SEEDS.md):
#   RF_FAULT=linkcut    the link between the guests dead for 10 s mid-I/O
#                       (the host's keep-alive, 5 s, and the target's retry
#                       exceeded / keep-alive timeout end the connections);
#   RF_FAULT=devremove  the target guest's rxe device deleted mid-I/O
#                       (`rdma link delete`: DEVICE_REMOVAL on every CM id;
#                       the delete returns only once tern-tgt has let go of
#                       the device) and added back 3 s later (the listener
#                       comes back by itself). A second rxe device, on a
#                       dummy netdev, stays throughout: see below.
# RF_LOOPS times (default 10). Not run directly: tern-rdma-linkcut.sh and
# tern-rdma-devremove.sh set RF_FAULT and source this file.
#
# The tgt guest runs tern-tgt with an RDMA subsystem (64 MiB malloc) on
# 10.77.0.1:4420 and, for "the other connection", a TCP subsystem (32 MiB
# malloc) on 127.0.0.1:4420 that tern-perf in the tgt guest drives with
# verify from before the first fault to after the last. The host guest
# connects (keep-alive 5 s, reconnect every 1 s, controller loss after
# 600 s) and, each round, starts fio (write + verify, 4 KiB and 128 KiB),
# injects the fault 2 s in, and checks: fio finishes with every block
# verified, the host reconnected, tern-tgt is alive and the other
# connection still runs. After the loop: the other connection's run ends
# clean (no error, no verify failure), and once the host disconnects no
# qpair is left and every shared buffer and data WR is back, on both
# transports. The first failed round ends the loop (later rounds would only
# repeat it).
set -u
. "$TERN_VM_LIB"
TT_TRTYPE=rdma
. "$TERN_VM_LIBDIR/terntgt.sh"

RF_FAULT=${RF_FAULT:?set by tern-rdma-linkcut.sh or tern-rdma-devremove.sh}
RF_LOOPS=${RF_LOOPS:-10}
P=nqn.2024-01.org.tern:vm-rdma-$RF_FAULT
NQN_R=$P-rdma
NQN_L=$P-local

# ================================================================== target
if [ "$TERN_VM_ROLE" = tgt ]; then
    RF_PERF=$TT_BUILD/app/tern-perf/tern-perf
    RF_PERF_PID=
    trap '[ -n "$RF_PERF_PID" ] && kill -KILL "$RF_PERF_PID" 2> /dev/null
          [ -n "$TT_PID" ] && kill -KILL "$TT_PID" 2> /dev/null' EXIT
    [ -x "$RF_PERF" ] || vm_env_fail "tern-perf not built: $RF_PERF"
    if [ "$RF_FAULT" = devremove ]; then
        # A second RDMA device (rxe on a dummy netdev, nothing listens on
        # it): librdmacm lets go of a removed device only while another one
        # is listed (drivers/transport/rdma/rdma_target.c,
        # librdmacm_forget_removed), and rxe's removal waits for that.
        { modprobe dummy && ip link add tnd0 type dummy && ip link set tnd0 up \
            && rdma link add rxe1 type rxe netdev tnd0; } > "$TERN_VM_TEST_DIR/rxe1.txt" 2>&1 \
            || vm_env_fail "cannot add a second rxe device on a dummy netdev: $(cat "$TERN_VM_TEST_DIR/rxe1.txt")"
    fi
    cfg=$TERN_VM_TEST_DIR/tern-tgt.json
    python3 - "$cfg" "$TERN_VM_TGT_ADDR" "$TT_PORT" "$NQN_R" "$NQN_L" <<'PY'
import json, sys
out, addr, port, nqn_r, nqn_l = sys.argv[1:]
def sub(nqn, bdev, sn, trtype, traddr):
    return [
        {"method": "nvmf_create_subsystem", "params": {"nqn": nqn, "allow_any_host": True,
                                                      "serial_number": sn}},
        {"method": "nvmf_subsystem_add_ns", "params": {"nqn": nqn, "namespace": {"bdev_name": bdev}}},
        {"method": "nvmf_subsystem_add_listener", "params": {"nqn": nqn, "listen_address":
            {"trtype": trtype, "adrfam": "IPv4", "traddr": traddr, "trsvcid": port}}}]
cfg = {"subsystems": [
    {"subsystem": "bdev", "config": [
        {"method": "bdev_malloc_create", "params": {"name": "Malloc0", "num_blocks": 131072, "block_size": 512}},
        {"method": "bdev_malloc_create", "params": {"name": "Malloc1", "num_blocks": 8192, "block_size": 4096}},
    ]},
    {"subsystem": "nvmf", "config": [
        {"method": "nvmf_create_transport", "params": {"trtype": "RDMA", "max_queue_depth": 128}},
        {"method": "nvmf_create_transport", "params": {"trtype": "TCP"}},
    ] + sub(nqn_r, "Malloc0", "TERNVMRDMAF000000001", "RDMA", addr)
      + sub(nqn_l, "Malloc1", "TERNVMRDMAF000000002", "TCP", "127.0.0.1")},
]}
json.dump(cfg, open(out, "w"), indent=1)
PY

    # rf_local_start: tern-perf on loopback TCP, 4 KiB randrw with verify,
    # until rf_local_stop (or 1500 s). Not niced: it shares the one vCPU
    # with tern-tgt's two reactors and must get on with its I/O.
    rf_local_start() {
        "$RF_PERF" -l 0 --no-pci --no-huge -m 256 --no-telemetry --file-prefix "rf-$$" \
            --log-level '*:warning' -- \
            -r "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$TT_PORT subnqn:$NQN_L" \
            -q 4 -o 4096 -w randrw -V -t 1500 --json \
            > "$TERN_VM_TEST_DIR/local-perf.out" 2> "$TERN_VM_TEST_DIR/local-perf.err" < /dev/null &
        RF_PERF_PID=$!
        sleep 3
        kill -0 "$RF_PERF_PID" 2> /dev/null && echo "tern-perf pid $RF_PERF_PID" \
            || { echo "tern-perf ended: $(tail -n 3 "$TERN_VM_TEST_DIR/local-perf.err")"; return 1; }
    }
    rf_local_alive() { kill -0 "$RF_PERF_PID" 2> /dev/null; }
    # rf_local_stop: SIGTERM (a background job of a script ignores SIGINT
    # until tern-perf sets its handler); its exit status and JSON totals.
    rf_local_stop() {
        local rc i
        kill -TERM "$RF_PERF_PID" 2> /dev/null
        for ((i = 0; i < 300; i++)); do kill -0 "$RF_PERF_PID" 2> /dev/null || break; sleep 0.1; done
        kill -0 "$RF_PERF_PID" 2> /dev/null && { kill -KILL "$RF_PERF_PID"; echo "did not stop within 30 s of SIGTERM"; return 1; }
        wait "$RF_PERF_PID"; rc=$?
        RF_PERF_PID=
        python3 - "$TERN_VM_TEST_DIR/local-perf.out" "$rc" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
if len(lines) != 1:
    print("exit %s, no JSON result" % sys.argv[2]); sys.exit(1)
r = json.loads(lines[0])
print("exit %s: %d I/Os, %d errors, %d verify failures, %d IOPS" % (
    sys.argv[2], r["ios"], r["errors"], r.get("verify_failures", -1), r["iops"]))
sys.exit(0 if sys.argv[2] == "0" and r["ios"] > 0 and not r["errors"] and not r.get("verify_failures") else 1)
PY
    }
    rf_since() { python3 -c "import sys, time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$1"; }
    # rf_dev_cycle SECONDS: delete the rxe device, wait, add it back.
    rf_dev_cycle() {
        local t0 rc i
        t0=$(date +%s.%N)
        timeout -k 5 60 rdma link delete "$TERN_VM_RDMA_DEV"; rc=$?
        [ $rc = 0 ] || { echo "rdma link delete $TERN_VM_RDMA_DEV: exit $rc after $(rf_since "$t0") s"; return 1; }
        echo "deleted in $(rf_since "$t0") s"
        sleep "$1"
        rdma link add "$TERN_VM_RDMA_DEV" type rxe netdev "$TERN_VM_IFACE" || { echo "rdma link add failed"; return 1; }
        for ((i = 0; i < 60; i++)); do
            rdma link show "$TERN_VM_RDMA_DEV/1" 2> /dev/null | grep -q 'state ACTIVE' && { echo "back, ACTIVE"; return 0; }
            sleep 0.5
        done
        echo "$TERN_VM_RDMA_DEV not ACTIVE 30 s after rdma link add"
        return 1
    }
    tt_target_main "$cfg"
fi

# ================================================================== host
trap 'tt_disconnect "$NQN_R"; dmesg > "$TERN_VM_TEST_DIR/host-dmesg.txt"; vm_signal done' EXIT
tt_need nvme fio python3
tt_host_wait_ready
dmesg -C

ctrl=$(tt_connect "$NQN_R" --keep-alive-tmo=5 --reconnect-delay=1 --ctrl-loss-tmo=600) \
    && dev=$(tt_wait_ns "$NQN_R" 1 20 && tt_ns_dev "$NQN_R" 1) \
    && tt_pass "nvme connect -t rdma" "$ctrl, $dev" \
    || tt_abort "nvme connect -t rdma" "$(tail -n 3 "$TERN_VM_TEST_DIR/nvme-connect.log")"
out=$(tt_tgt rf_local_start) && tt_pass "the other connection (tern-perf, TCP loopback in the tgt guest) runs" "$out" \
    || tt_abort "the other connection (tern-perf, TCP loopback in the tgt guest) runs" "$out"

printf '%s\n' '[global]' ioengine=libaio direct=1 rw=randwrite verify=crc32c verify_fatal=1 do_verify=1 \
    randrepeat=0 serialize_overlap=1 "filename=$dev" \
    '[rf-4k]' bs=4k iodepth=16 offset=0 size=4M \
    '[rf-128k]' bs=128k iodepth=4 offset=16M size=8M > fio-rf.job

case $RF_FAULT in
    linkcut) what="link cut 10 s" ;;
    devremove) what="rxe device deleted and added back" ;;
    *) tt_abort "RF_FAULT" "unknown fault '$RF_FAULT'" ;;
esac
rounds=0
for ((round = 1; round <= RF_LOOPS; round++)); do
    t0=$(date +%s)
    before=$(dmesg | grep -c 'Successfully reconnected')
    tt_fio "rf-$round" 300 fio-rf.job > "fio-rf-$round.summary" &
    fpid=$!
    sleep 2
    fault= bad=
    case $RF_FAULT in
        linkcut) vm_link cut 10 both || vm_env_fail "the runner did not cut the link" ;;
        devremove) fault=$(TT_TGT_TIMEOUT=120 tt_tgt rf_dev_cycle 3) \
                       || bad+="the device cycle failed: $(echo "$fault" | tr '\n' ' '); " ;;
    esac
    wait $fpid; rc=$?
    for n in rf-4k rf-128k; do
        line=$(grep "^$n " "fio-rf-$round.summary")
        [ $rc = 0 ] && [ "$(echo "$line" | cut -d' ' -f2)" = ok ] || bad+="$n: ${line:-no result} (fio exit $rc); "
    done
    after=$(dmesg | grep -c 'Successfully reconnected')
    [ "$after" -gt "$before" ] || bad+="no reconnect ('Successfully reconnected' $before -> $after); "
    tt_tgt 'kill -0 $TT_PID' > /dev/null || bad+="tern-tgt is gone; "
    tt_tgt rf_local_alive > /dev/null || bad+="the other connection's tern-perf ended; "
    if [ -z "$bad" ]; then
        tt_pass "round $round: $what mid-I/O, host reconnected, fio verify clean" \
            "$(( $(date +%s) - t0 )) s${fault:+, $(echo "$fault" | tr '\n' ' ')}"
        rounds=$((rounds + 1))
    else
        tt_fail "round $round: $what mid-I/O, host reconnected, fio verify clean" \
            "$bad$(dmesg | grep nvme | tail -n 3 | tr '\n' '|')"
        break
    fi
done
vm_log "$rounds of $RF_LOOPS rounds passed"

tt_check "the other connection ran through every round clean" tt_tgt rf_local_stop
tt_disconnect "$NQN_R" && [ -z "$(tt_ctrls "$NQN_R")" ] && tt_pass "nvme disconnect" \
    || tt_fail "nvme disconnect" "controllers left: $(tt_ctrls "$NQN_R")"
tt_check "RDMA: no qpair left, every buffer and data WR back" tt_tgt tt_stats_clean 20
tt_check "TCP: no qpair left, every buffer back" tt_tgt 'TT_TRTYPE=tcp tt_stats_clean 20'
tt_summary
