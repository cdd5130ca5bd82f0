#!/bin/bash
# tern-tgt over NVMe/TCP against the Linux kernel host: connections that die
# mid-I/O (issue 4, fault part).
#
# The tgt guest runs tern-tgt with two subsystems on 10.77.0.1:4420,
# "malloc" (64 MiB malloc bdev; also on port 4421) and "uring" (64 MiB file
# through the io_uring bdev), no in-capsule data (every write, and the
# Connect of every I/O queue, comes through R2T) and a deliberately small
# pool of shared data buffers (256 io units of 8 KiB: 16 writes of 128 KiB
# in flight), so that connections die while requests wait for buffers, hold
# them, or are being written.
# The host guest, with both controllers connected (keep-alive 2 s):
#   A. cuts its link for 5 s while fio (write + verify) runs on both
#      namespaces: fio must finish clean after the host reconnects, and the
#      target must have reaped the dead controllers (keep-alive timeout);
#   B. resets the uring controller, then the malloc one (nvme reset: the
#      kernel closes every queue's TCP connection with I/O in flight, then
#      reconnects) while fio runs on both: fio must finish clean;
#   C. disconnects the malloc controller (nvme disconnect) in the middle of
#      fio on it, while fio with verify goes on on uring: the disconnect
#      returns, the target drops the controller and its queues, and the
#      uring controller keeps working (its fio finishes clean);
#   D. connects malloc again: I/O with verify works;
#   E. connects, writes and verifies, disconnects malloc 6 times while fio
#      with verify runs on uring;
#   F. connects malloc on both ports (two paths to one namespace,
#      round-robin) and
#      disconnects one path in the middle of fio with verify: fio finishes
#      clean over the other path;
#   G. disconnects everything: no qpair, no waiting request, every shared
#      buffer free, on every lcore;
#   H. connects both again and sends SIGTERM to the target in the middle of
#      fio:
#      tern-tgt must exit 0 promptly.
# Every check prints a PASS/FAIL line; each guest ends with its counts.
#   test/vm/run.sh test/vm/tests/tern-tcp-faults.sh
set -u
. "$TERN_VM_LIB"
. "$TERN_VM_LIBDIR/terntgt.sh"

P=nqn.2024-01.org.tern:vm-faults
NQN_M=$P-malloc
NQN_U=$P-uring
URING_FILE=/tmp/tern-vm-faults-uring.img

# ================================================================== target
if [ "$TERN_VM_ROLE" = tgt ]; then
    trap '[ -n "$TT_PID" ] && kill -KILL "$TT_PID" 2> /dev/null; rm -f "$URING_FILE"' EXIT
    truncate -s 64M "$URING_FILE" || vm_env_fail "cannot create $URING_FILE"
    cfg=$TERN_VM_TEST_DIR/tern-tgt.json
    python3 - "$cfg" "$TERN_VM_TGT_ADDR" "$TT_PORT" "$P" "$URING_FILE" <<'PY'
import json, sys
out, addr, port, p, uring = sys.argv[1:]
nvmf = [{"method": "nvmf_create_transport",
         "params": {"trtype": "TCP", "max_queue_depth": 128, "in_capsule_data_size": 0,
                    "max_io_size": 131072, "io_unit_size": 8192, "num_shared_buffers": 256}}]
for name, bdev, sn in (("malloc", "Malloc0", "TERNVMFMALLOC0000001"), ("uring", "Uring0", "TERNVMFURING00000001")):
    nqn = "%s-%s" % (p, name)
    nvmf += [
        {"method": "nvmf_create_subsystem",
         "params": {"nqn": nqn, "allow_any_host": True, "serial_number": sn,
                    "model_number": "Tern VM faults " + name}},
        {"method": "nvmf_subsystem_add_ns", "params": {"nqn": nqn, "namespace": {"bdev_name": bdev, "nsid": 1}}},
        {"method": "nvmf_subsystem_add_listener",
         "params": {"nqn": nqn, "listen_address": {"trtype": "TCP", "adrfam": "IPv4",
                                                   "traddr": addr, "trsvcid": port}}},
    ]
    if name == "malloc":     # a second port: a second path (test F)
        nvmf.append({"method": "nvmf_subsystem_add_listener",
                     "params": {"nqn": nqn, "listen_address": {"trtype": "TCP", "adrfam": "IPv4",
                                                               "traddr": addr, "trsvcid": "4421"}}})
cfg = {"subsystems": [
    {"subsystem": "bdev", "config": [
        {"method": "bdev_malloc_create", "params": {"name": "Malloc0", "num_blocks": 16384, "block_size": 4096}},
        {"method": "bdev_uring_create", "params": {"name": "Uring0", "filename": uring, "block_size": 4096}},
    ]},
    {"subsystem": "nvmf", "config": nvmf},
]}
json.dump(cfg, open(out, "w"), indent=1)
PY
    tt_target_main "$cfg"
fi

# ================================================================== host
FIO_PIDS=()
trap 'for p in "${FIO_PIDS[@]}"; do fio_kill "$p"; done; tt_disconnect "$NQN_M"; tt_disconnect "$NQN_U";
      dmesg > "$TERN_VM_TEST_DIR/host-dmesg.txt"; vm_signal done' EXIT
tt_need nvme fio python3 pgrep pkill dd
tt_host_wait_ready
dmesg -C
# -W 1: a write queue besides the read queue, so I/O lands on both lcores.
KA=(--keep-alive-tmo=2 --reconnect-delay=1 --ctrl-loss-tmo=120 -W 1)

# fio_bg NAME DEV SECONDS VERIFY(1|0): fio in the background, time based,
# 4k and 128k jobs side by side; with VERIFY every block written is read
# back and checked while it runs. Sets FIO_PID.
fio_bg() {
    local name=$1 dev=$2 secs=$3 v=$4 vopt
    # serialize_overlap: time based, a job writes its region over and over;
    # two writes of one block in flight at once may land in either order
    # (NVMe does not order commands), and fio would then report a mismatch
    # that is not one. fio holds the second write back instead.
    if [ "$v" = 1 ]; then
        vopt="rw=randwrite
serialize_overlap=1
verify=crc32c
verify_backlog=32
verify_fatal=1
do_verify=1"
    else
        vopt="rw=randrw"
    fi
    cat > "fio-$name.job" <<EOF
[global]
ioengine=libaio
direct=1
filename=$dev
iodepth=16
numjobs=2
time_based=1
runtime=$secs
randrepeat=0
$vopt

[${name}-4k]
bs=4k
offset=0
size=8M
offset_increment=8M

[${name}-128k]
bs=128k
offset=16M
size=16M
offset_increment=16M
EOF
    tt_fio "$name" $((secs + 200)) "fio-$name.job" > "fio-$name.summary" &
    FIO_PID=$!
    FIO_PIDS+=("$FIO_PID")
}

# fio_kill PID: stop a background fio_bg (TERM to `timeout`, which passes
# it on to fio; KILL after 20 s).
fio_kill() {
    local i
    kill -0 "$1" 2> /dev/null || { wait "$1" 2> /dev/null; return 0; }
    pkill -TERM -P "$1" 2> /dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$1" 2> /dev/null || break; sleep 0.2; done
    if kill -0 "$1" 2> /dev/null; then
        for i in $(pgrep -P "$1"); do pkill -KILL -P "$i"; kill -KILL "$i"; done 2> /dev/null
        kill -KILL "$1" 2> /dev/null
    fi
    wait "$1" 2> /dev/null
    return 0
}

# fio_wait NAME PID: wait for a background fio (it is bounded by its own
# timeout); returns its status; prints its per-job summary.
fio_wait() {
    local rc
    wait "$2"; rc=$?
    cat "fio-$1.summary"
    return $rc
}

# ctrl_count NQN WANT [TIMEOUT=20]: wait until the target holds WANT
# controllers of NQN; prints the last count.
ctrl_count() {
    local n
    n=$(tt_tgt 'for i in $(seq '"$((${3:-20} * 5))"'); do n=$(tt_count_ctrlrs '"$1"'); [ "$n" = '"$2"' ] && break; sleep 0.2; done; echo $n')
    echo "$n" | tail -n 1
    [ "$(echo "$n" | tail -n 1)" = "$2" ]
}

connect_both() {   # PHASE
    cm=$(tt_connect "$NQN_M" "${KA[@]}") && tt_wait_ns "$NQN_M" 1 20 && dm=$(tt_ns_dev "$NQN_M" 1) \
        && cu=$(tt_connect "$NQN_U" "${KA[@]}") && tt_wait_ns "$NQN_U" 1 20 && du=$(tt_ns_dev "$NQN_U" 1) \
        && tt_pass "$1: connect malloc and uring" "$cm $dm, $cu $du" \
        || tt_abort "$1: connect malloc and uring" "$(tail -n 3 "$TERN_VM_TEST_DIR/nvme-connect.log" | tr '\n' '|') $(dmesg | tail -n 3 | tr '\n' '|')"
}

# ---- A. link cut mid-I/O
connect_both A
fio_bg cut-m "$dm" 25 1; pm=$FIO_PID
fio_bg cut-u "$du" 25 1; pu=$FIO_PID
sleep 5
if kill -0 "$pm" 2> /dev/null && kill -0 "$pu" 2> /dev/null; then
    vm_link cut 5 host || vm_env_fail "the runner did not cut the link"
    t_cut=$(date +%s)
    fio_wait cut-m "$pm" > out-m.txt; rm_=$?
    fio_wait cut-u "$pu" > out-u.txt; ru_=$?
    cat out-m.txt out-u.txt
    [ $rm_ = 0 ] && tt_pass "A: fio verify on malloc across a 5 s link cut" "$(tr '\n' ' ' < out-m.txt)" \
        || tt_fail "A: fio verify on malloc across a 5 s link cut" "fio exit $rm_: $(tr '\n' ' ' < out-m.txt)"
    [ $ru_ = 0 ] && tt_pass "A: fio verify on uring across a 5 s link cut" "$(tr '\n' ' ' < out-u.txt)" \
        || tt_fail "A: fio verify on uring across a 5 s link cut" "fio exit $ru_: $(tr '\n' ' ' < out-u.txt)"
    vm_log "fio finished $(( $(date +%s) - t_cut )) s after the cut"
    n=$(dmesg | grep -c 'Successfully reconnected')
    [ "$n" -ge 1 ] && tt_pass "A: the host reconnected after the cut" "$n reconnects" \
        || tt_fail "A: the host reconnected after the cut" "no 'Successfully reconnected' (keep-alive 2 s, cut 5 s): $(dmesg | grep nvme | tail -n 3 | tr '\n' '|')"
    out=$(tt_tgt tt_log_grep "'keep-alive timeout'" '|' grep -c "'$P'"); rc=$?
    a=$(ctrl_count "$NQN_M" 1); b=$(ctrl_count "$NQN_U" 1)
    if [ "$a" = 1 ] && [ "$b" = 1 ] && [ "${out:-0}" -ge 2 ]; then
        tt_pass "A: the target reaped the cut controllers (keep-alive timeout), 1 live each" "$out keep-alive expiries"
    else
        tt_fail "A: the target reaped the cut controllers (keep-alive timeout), 1 live each" "controllers malloc $a uring $b, keep-alive expiries logged: ${out:-0}"
    fi
    [ "$(cat "/sys/class/nvme/$cm/state")" = live ] && [ "$(cat "/sys/class/nvme/$cu/state")" = live ] \
        && timeout 60 dd if="$dm" of=/dev/null bs=64k count=64 iflag=direct status=none \
        && timeout 60 dd if="$du" of=/dev/null bs=64k count=64 iflag=direct status=none \
        && tt_pass "A: both controllers live and readable after the cut" \
        || tt_fail "A: both controllers live and readable after the cut" "$cm $(cat "/sys/class/nvme/$cm/state") $cu $(cat "/sys/class/nvme/$cu/state")"
else
    tt_fail "A: fio running when the link is cut" "fio ended early: $(cat fio-cut-m.summary fio-cut-u.summary 2> /dev/null | tr '\n' ' ')"
fi
dmesg > "$TERN_VM_TEST_DIR/host-dmesg-A.txt"
dmesg -C

# ---- B. controller resets mid-I/O
fio_bg reset-m "$dm" 16 1; pm=$FIO_PID
fio_bg reset-u "$du" 16 1; pu=$FIO_PID
for x in "4 $cu" "6 $cm"; do
    set -- $x
    sleep "$1"
    t0=$(date +%s)
    # A reset takes a second or two; 60 s is the host's admin timeout (the
    # target did not answer an admin command, e.g. the Property Set of CC).
    timeout 50 nvme reset "/dev/$2"; rc=$?
    for ((i = 0; i < 150; i++)); do [ "$(cat "/sys/class/nvme/$2/state")" = live ] && break; sleep 0.2; done
    st=$(cat "/sys/class/nvme/$2/state")
    dt=$(( $(date +%s) - t0 ))
    [ $rc = 0 ] && [ "$st" = live ] && [ $dt -le 20 ] && tt_pass "B: nvme reset of $2 mid-I/O" "live again after $dt s" \
        || tt_fail "B: nvme reset of $2 mid-I/O" "exit $rc, state $st after $dt s; $(dmesg | grep -E "$2: .*(timeout|error)" | head -n 2 | tr '\n' '|')"
done
fio_wait reset-m "$pm" > out-m.txt; rm_=$?
fio_wait reset-u "$pu" > out-u.txt; ru_=$?
cat out-m.txt out-u.txt
[ $ru_ = 0 ] && tt_pass "B: fio verify on uring across the resets" "$(tr '\n' ' ' < out-u.txt)" \
    || tt_fail "B: fio verify on uring across the resets" "fio exit $ru_: $(tr '\n' ' ' < out-u.txt)"
[ $rm_ = 0 ] && tt_pass "B: fio verify on malloc across the resets" "$(tr '\n' ' ' < out-m.txt)" \
    || tt_fail "B: fio verify on malloc across the resets" "fio exit $rm_: $(tr '\n' ' ' < out-m.txt)"
a=$(ctrl_count "$NQN_M" 1); b=$(ctrl_count "$NQN_U" 1)
[ "$a" = 1 ] && [ "$b" = 1 ] && tt_pass "B: the target holds one controller each after the resets" \
    || tt_fail "B: the target holds one controller each after the resets" "malloc $a, uring $b"
dmesg > "$TERN_VM_TEST_DIR/host-dmesg-B.txt"
dmesg -C

# ---- C. disconnect mid-I/O; the other controller keeps working
fio_bg disc-m "$dm" 30 0; pm=$FIO_PID
fio_bg disc-u "$du" 15 1; pu=$FIO_PID
sleep 4
t0=$(date +%s)
tt_disconnect "$NQN_M"; rc=$?
dt=$(( $(date +%s) - t0 ))
[ $rc = 0 ] && ! tt_ns_dev "$NQN_M" 1 > /dev/null && [ -z "$(tt_ctrls "$NQN_M")" ] \
    && tt_pass "C: nvme disconnect of malloc mid-I/O" "returned 0 after $dt s" \
    || tt_fail "C: nvme disconnect of malloc mid-I/O" "exit $rc after $dt s, controllers left: $(tt_ctrls "$NQN_M")"
# fio on the vanished device ends with errors (expected); bounded anyway.
for ((i = 0; i < 150; i++)); do kill -0 "$pm" 2> /dev/null || break; sleep 0.2; done
kill -0 "$pm" 2> /dev/null && vm_log "fio on the disconnected namespace still running 30 s later: stopping it"
fio_kill "$pm"
a=$(ctrl_count "$NQN_M" 0)
out=$(tt_tgt tt_rpc nvmf_subsystem_get_qpairs "'{\"nqn\": \"$NQN_M\"}'" '|' python3 -c "'import json,sys; print(len(json.load(sys.stdin)))'")
[ "$a" = 0 ] && [ "$out" = 0 ] && tt_pass "C: the target dropped the malloc controller and its queues" \
    || tt_fail "C: the target dropped the malloc controller and its queues" "controllers $a, qpairs $out"
fio_wait disc-u "$pu" > out-u.txt; ru_=$?
cat out-u.txt
[ $ru_ = 0 ] && tt_pass "C: fio verify on uring goes on across the malloc disconnect" "$(tr '\n' ' ' < out-u.txt)" \
    || tt_fail "C: fio verify on uring goes on across the malloc disconnect" "fio exit $ru_: $(tr '\n' ' ' < out-u.txt)"
dmesg > "$TERN_VM_TEST_DIR/host-dmesg-C.txt"

# ---- D. a new connect works
if cm=$(tt_connect "$NQN_M" -g -G) && tt_wait_ns "$NQN_M" 1 20 && dm=$(tt_ns_dev "$NQN_M" 1); then
    if timeout 90 fio --name=again --filename="$dm" --ioengine=libaio --direct=1 --rw=randwrite \
        --bsrange=4k-128k --iodepth=16 --size=16M --verify=crc32c --verify_fatal=1 \
        --output="$TERN_VM_TEST_DIR/fio-again.txt" > /dev/null 2>&1; then
        tt_pass "D: a new connect to malloc (digests on) works, fio verify passes" "$cm $dm"
    else
        tt_fail "D: a new connect to malloc (digests on) works, fio verify passes" "fio: $(grep -m 3 -iE 'error|verify' "$TERN_VM_TEST_DIR/fio-again.txt" | tr '\n' '|')"
    fi
else
    tt_fail "D: a new connect to malloc (digests on) works, fio verify passes" "connect: $(tail -n 3 "$TERN_VM_TEST_DIR/nvme-connect.log" | tr '\n' '|')"
fi

# ---- E. connect/disconnect churn on malloc while uring works
tt_disconnect "$NQN_M"
fio_bg churn-u "$du" 20 1; pu=$FIO_PID
ok=0 why=
for ((k = 1; k <= 6; k++)); do
    if c=$(tt_connect "$NQN_M" -W 1) && tt_wait_ns "$NQN_M" 1 20 && d=$(tt_ns_dev "$NQN_M" 1) \
        && timeout 60 fio --name=churn --filename="$d" --ioengine=libaio --direct=1 --rw=randwrite \
            --bsrange=4k-128k --iodepth=16 --size=2M --offset=$((k * 2))M --verify=crc32c --verify_fatal=1 \
            --output="$TERN_VM_TEST_DIR/fio-churn-$k.txt" > /dev/null 2>&1 \
        && tt_disconnect "$NQN_M"; then
        ok=$((ok + 1))
    else
        why="$why cycle $k failed ($c $d: $(grep -m 1 -iE 'error' "$TERN_VM_TEST_DIR/fio-churn-$k.txt" 2> /dev/null));"
        tt_disconnect "$NQN_M"
    fi
done
[ $ok = 6 ] && tt_pass "E: 6 cycles of connect, fio verify, disconnect on malloc" \
    || tt_fail "E: 6 cycles of connect, fio verify, disconnect on malloc" "$ok of 6:$why"
fio_wait churn-u "$pu" > out-u.txt; ru_=$?
cat out-u.txt
[ $ru_ = 0 ] && tt_pass "E: fio verify on uring meanwhile" "$(tr '\n' ' ' < out-u.txt)" \
    || tt_fail "E: fio verify on uring meanwhile" "fio exit $ru_: $(tr '\n' ' ' < out-u.txt)"

# ---- F. two paths to one namespace; one disconnected mid-I/O
tt_disconnect "$NQN_M"
# The second path goes through the subsystem's second listener, port 4421
# (nvme-cli 2.3 calls a second connect to the same port "already connected",
# -D or not).
if c1=$(tt_connect "$NQN_M" -W 1) && c2=$(TT_PORT=4421 tt_connect "$NQN_M" -W 1) \
    && tt_wait_ns "$NQN_M" 1 20 \
    && d=$(tt_ns_dev "$NQN_M" 1); then
    paths=$(for x in /sys/block/"${d#/dev/}"/device/nvme*; do [ -e "$x/state" ] && echo "${x##*/}"; done | tr '\n' ' ')
    echo round-robin > /sys/block/"${d#/dev/}"/device/iopolicy 2> /dev/null
    pol=$(cat /sys/block/"${d#/dev/}"/device/iopolicy 2> /dev/null)
    n=$(ctrl_count "$NQN_M" 2)
    [ "$n" = 2 ] && tt_pass "F: two controllers of malloc (two paths), one namespace" "$c1 $c2, subsystem controllers: ${paths:-none (no native multipath)}, iopolicy ${pol:-?}" \
        || tt_fail "F: two controllers of malloc (two paths), one namespace" "the target holds $n"
    fio_bg mp "$d" 20 1; pm=$FIO_PID
    sleep 5
    timeout 60 nvme disconnect -d "$c1" > /dev/null 2>&1; rc=$?
    [ $rc = 0 ] && [ "$(cat "/sys/class/nvme/$c2/state")" = live ] && tt_pass "F: one path disconnected mid-I/O" "$c1 gone, $c2 live" \
        || tt_fail "F: one path disconnected mid-I/O" "exit $rc, $c2 $(cat "/sys/class/nvme/$c2/state")"
    fio_wait mp "$pm" > out-m.txt; rm_=$?
    cat out-m.txt
    [ $rm_ = 0 ] && tt_pass "F: fio verify goes on over the other path" "$(tr '\n' ' ' < out-m.txt)" \
        || tt_fail "F: fio verify goes on over the other path" "fio exit $rm_: $(tr '\n' ' ' < out-m.txt)"
    n=$(ctrl_count "$NQN_M" 1)
    [ "$n" = 1 ] && tt_pass "F: the target holds the remaining controller only" \
        || tt_fail "F: the target holds the remaining controller only" "$n controllers"
else
    tt_fail "F: two controllers of malloc (two paths), one namespace" "$(tail -n 3 "$TERN_VM_TEST_DIR/nvme-connect.log" | tr '\n' '|')"
fi
dmesg > "$TERN_VM_TEST_DIR/host-dmesg-F.txt"

# ---- G. everything disconnected: clean
tt_disconnect "$NQN_M"; tt_disconnect "$NQN_U"
out=$(tt_tgt tt_stats_clean 15); rc=$?
[ $rc = 0 ] && tt_pass "G: all disconnected: 0 qpairs, no waiting request, every shared buffer free" "$out" \
    || tt_fail "G: all disconnected: 0 qpairs, no waiting request, every shared buffer free" "$out"
out=$(tt_tgt tt_counters)
vm_log "target counters: $out"

# ---- H. SIGTERM in the middle of I/O (malloc and uring)
LOSS=(--ctrl-loss-tmo=5 --reconnect-delay=1 -W 1)
if cm=$(tt_connect "$NQN_M" "${LOSS[@]}") && tt_wait_ns "$NQN_M" 1 20 && dm=$(tt_ns_dev "$NQN_M" 1) \
    && cu=$(tt_connect "$NQN_U" "${LOSS[@]}") && tt_wait_ns "$NQN_U" 1 20 && du=$(tt_ns_dev "$NQN_U" 1); then
    fio_bg term-m "$dm" 30 0; pm=$FIO_PID
    fio_bg term-u "$du" 30 0; pu=$FIO_PID
    sleep 4
    out=$(TT_TGT_TIMEOUT=40 tt_tgt tt_tgt_stop 15); rc=$?
    [ $rc = 0 ] && tt_pass "H: tern-tgt exits 0 on SIGTERM with a host connected mid-I/O" "$out" \
        || tt_fail "H: tern-tgt exits 0 on SIGTERM with a host connected mid-I/O" "$out"
    tt_disconnect "$NQN_M"; tt_disconnect "$NQN_U"
    fio_kill "$pm"; fio_kill "$pu"
else
    tt_fail "H: connect before SIGTERM" "$(tail -n 3 "$TERN_VM_TEST_DIR/nvme-connect.log" | tr '\n' '|')"
    out=$(TT_TGT_TIMEOUT=40 tt_tgt tt_tgt_stop 15); rc=$?
    [ $rc = 0 ] && tt_pass "H: tern-tgt exits 0 on SIGTERM" "$out" || tt_fail "H: tern-tgt exits 0 on SIGTERM" "$out"
fi
tt_summary
