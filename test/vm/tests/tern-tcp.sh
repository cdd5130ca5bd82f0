#!/bin/bash
# tern-tgt over NVMe/TCP against the Linux kernel host (nvme-cli, fio): the
# issue-4 acceptance checks that need no fault.
#
# The tgt guest runs tern-tgt (two reactors, no hugepages) with a generated
# config: three subsystems on 10.77.0.1:4420, "malloc" (64 MiB malloc bdev,
# 512-byte blocks), "uring" (96 MiB file on the guest's tmpfs through the
# io_uring bdev, 4 KiB blocks), both open to any host, and "acl" (a small
# malloc bdev) open to one host NQN only. The transport is set up so that
# 4 KiB writes come in-capsule, 128 KiB ones through R2T in 8 io units of
# 16 KiB, and 512 shared buffers run short under the load below (requests
# then wait for a buffer). The host guest:
#   1. nvme discover (the entries this host may see; a persistent discovery
#      controller gets an AEN when a listener is added), nvme connect, nvme
#      list (sizes, block sizes), id-ctrl, id-ns, smart-log, error-log,
#      get-feature -f 7;
#   2. fio write+verify, bs 4k and 128k, iodepth 32, 4 jobs each, on both
#      namespaces at once, with digests off and on (each round has one of
#      the two connections with SQ flow control disabled, so the C2H
#      SUCCESS flag is used);
#   3. a namespace added by RPC while connected appears without a
#      reconnect (AEN, rescan), and one removed disappears; a host not on
#      the acl subsystem's list is refused (the target log says why), the
#      listed one connects, and one added at runtime connects and is
#      dropped when removed;
#   4. everything disconnected: no qpair left, every shared buffer free;
#      SIGTERM: exit 0.
# Every check prints a PASS/FAIL line; each guest ends with its counts.
#   test/vm/run.sh test/vm/tests/tern-tcp.sh
set -u
. "$TERN_VM_LIB"
. "$TERN_VM_LIBDIR/terntgt.sh"

P=nqn.2024-01.org.tern:vm
NQN_M=$P-malloc
NQN_U=$P-uring
NQN_A=$P-acl
HOST_ALLOWED=nqn.2024-01.org.tern:vm-host-allowed
HOST_OTHER=nqn.2024-01.org.tern:vm-host-other
HOST_LATE=nqn.2024-01.org.tern:vm-host-late
URING_FILE=/tmp/tern-vm-uring0.img

# ================================================================== target
if [ "$TERN_VM_ROLE" = tgt ]; then
    trap '[ -n "$TT_PID" ] && kill -KILL "$TT_PID" 2> /dev/null; rm -f "$URING_FILE"' EXIT
    truncate -s 96M "$URING_FILE" || vm_env_fail "cannot create $URING_FILE"
    cfg=$TERN_VM_TEST_DIR/tern-tgt.json
    python3 - "$cfg" "$TERN_VM_TGT_ADDR" "$TT_PORT" "$P" "$URING_FILE" "$HOST_ALLOWED" <<'PY'
import json, sys
out, addr, port, p, uring, allowed = sys.argv[1:]
def listener(nqn):
    return {"method": "nvmf_subsystem_add_listener",
            "params": {"nqn": nqn, "listen_address": {"trtype": "TCP", "adrfam": "IPv4",
                                                      "traddr": addr, "trsvcid": port}}}
def subsys(nqn, sn, mn, any_host):
    return {"method": "nvmf_create_subsystem",
            "params": {"nqn": nqn, "allow_any_host": any_host, "serial_number": sn,
                       "model_number": mn}}
def ns(nqn, bdev, nsid):
    return {"method": "nvmf_subsystem_add_ns",
            "params": {"nqn": nqn, "namespace": {"bdev_name": bdev, "nsid": nsid}}}
cfg = {"subsystems": [
    {"subsystem": "bdev", "config": [
        {"method": "bdev_malloc_create", "params": {"name": "Malloc0", "num_blocks": 131072, "block_size": 512}},
        {"method": "bdev_uring_create", "params": {"name": "Uring0", "filename": uring, "block_size": 4096}},
        {"method": "bdev_malloc_create", "params": {"name": "MallocAcl", "num_blocks": 8192, "block_size": 512}},
    ]},
    {"subsystem": "nvmf", "config": [
        {"method": "nvmf_create_transport",
         "params": {"trtype": "TCP", "max_queue_depth": 128, "in_capsule_data_size": 8192,
                    "max_io_size": 131072, "io_unit_size": 16384, "num_shared_buffers": 512,
                    "c2h_success": True}},
        subsys(p + "-malloc", "TERNVMMALLOC00000001", "Tern VM malloc", True),
        ns(p + "-malloc", "Malloc0", 1), listener(p + "-malloc"),
        subsys(p + "-uring", "TERNVMURING000000001", "Tern VM uring", True),
        ns(p + "-uring", "Uring0", 1), listener(p + "-uring"),
        subsys(p + "-acl", "TERNVMACL00000000001", "Tern VM acl", False),
        {"method": "nvmf_subsystem_add_host", "params": {"nqn": p + "-acl", "host": allowed}},
        ns(p + "-acl", "MallocAcl", 1), listener(p + "-acl"),
    ]},
]}
json.dump(cfg, open(out, "w"), indent=1)
PY
    tt_target_main "$cfg"
fi

# ================================================================== host
CTRLS_TO_DROP=("$NQN_M" "$NQN_U" "$NQN_A" nqn.2014-08.org.nvmexpress.discovery)
trap 'for n in "${CTRLS_TO_DROP[@]}"; do tt_disconnect "$n"; done; dmesg > "$TERN_VM_TEST_DIR/host-dmesg.txt"; vm_signal done' EXIT
tt_need nvme fio python3 udevadm blkdiscard blockdev cmp
tt_host_wait_ready
dmesg -C

# ---- 1. discovery
disc() {   # disc HOSTNQN HOSTID: nvme discover as that host
    timeout 60 nvme discover -t tcp -a "$TERN_VM_TGT_ADDR" -s "$TT_PORT" --hostnqn="$1" --hostid="$2"
}
out=$(disc "$TT_HOSTNQN" "$TT_HOSTID" 2>&1); rc=$?
echo "$out" > "$TERN_VM_TEST_DIR/discover.txt"
subs=$(echo "$out" | sed -n 's/^subnqn: *//p' | sort | tr '\n' ' ')
want="$NQN_M $NQN_U nqn.2014-08.org.nvmexpress.discovery "
if [ $rc = 0 ] && [ "$subs" = "$(echo $want | tr ' ' '\n' | sort | tr '\n' ' ')" ] \
    && echo "$out" | grep -q "traddr: *$TERN_VM_TGT_ADDR" && echo "$out" | grep -q "trsvcid: *$TT_PORT"; then
    tt_pass "nvme discover lists malloc, uring and discovery, not acl" "$(echo "$out" | grep -c '^subnqn')"" entries"
else
    tt_fail "nvme discover lists malloc, uring and discovery, not acl" "exit $rc, subnqns: $subs"
fi
out=$(disc "$HOST_ALLOWED" 7e57a0b1-0000-4000-8000-0000000000a1 2>&1); rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "subnqn: *$NQN_A\$"; then
    tt_pass "nvme discover as the allowed host also lists acl"
else
    tt_fail "nvme discover as the allowed host also lists acl" "exit $rc: $(echo "$out" | grep subnqn | tr '\n' ' ')"
fi

# ---- 1b. a persistent discovery controller hears of a new listener (AEN)
DISC_NQN=nqn.2014-08.org.nvmexpress.discovery
disc_aen() {
    local upid out rc dc i aen
    udevadm monitor --kernel --property --subsystem-match=nvme > udev.txt 2>&1 &
    upid=$!
    sleep 1
    out=$(timeout 60 nvme discover -p -t tcp -a "$TERN_VM_TGT_ADDR" -s "$TT_PORT" \
        --hostnqn="$TT_HOSTNQN" --hostid="$TT_HOSTID" 2>&1); rc=$?
    dc=$(tt_ctrls "$DISC_NQN" | head -n 1)
    if [ $rc != 0 ] || [ -z "$dc" ]; then
        tt_fail "nvme discover -p keeps a discovery controller" "exit $rc, controller '${dc}': $(echo "$out" | tail -n 2 | tr '\n' '|')"
        kill "$upid"; wait "$upid" 2> /dev/null
        return
    fi
    tt_pass "nvme discover -p keeps a discovery controller" "$dc"
    out=$(tt_tgt tt_rpc nvmf_subsystem_add_listener "'{\"nqn\": \"$NQN_M\", \"listen_address\": {\"trtype\": \"TCP\", \"adrfam\": \"IPv4\", \"traddr\": \"$TERN_VM_TGT_ADDR\", \"trsvcid\": \"4422\"}}'"); rc=$?
    for ((i = 0; i < 75; i++)); do grep -q 'NVME_AEN=' udev.txt && break; sleep 0.2; done
    aen=$(grep -m 1 -o 'NVME_AEN=.*' udev.txt)
    if [ $rc = 0 ] && [ -n "$aen" ]; then
        tt_pass "listener added by RPC: the discovery controller gets an AEN" "$aen"
    else
        tt_fail "listener added by RPC: the discovery controller gets an AEN" "rpc rc $rc ($out), no NVME_AEN uevent in 15 s"
    fi
    out=$(disc "$TT_HOSTNQN" "$TT_HOSTID" 2>&1)
    echo "$out" | grep -q 'trsvcid: *4422' && tt_pass "the new listener is in the discovery log" \
        || tt_fail "the new listener is in the discovery log" "$(echo "$out" | grep trsvcid | tr '\n' ' ')"
    out=$(tt_tgt tt_rpc nvmf_subsystem_remove_listener "'{\"nqn\": \"$NQN_M\", \"listen_address\": {\"trtype\": \"TCP\", \"adrfam\": \"IPv4\", \"traddr\": \"$TERN_VM_TGT_ADDR\", \"trsvcid\": \"4422\"}}'"); rc=$?
    [ $rc = 0 ] || tt_fail "nvmf_subsystem_remove_listener" "rc $rc: $out"
    timeout 30 nvme disconnect -d "$dc" > /dev/null 2>&1 \
        && tt_pass "disconnect the persistent discovery controller" \
        || tt_fail "disconnect the persistent discovery controller" "$dc: $(cat /sys/class/nvme/"$dc"/state 2> /dev/null)"
    kill "$upid"; wait "$upid" 2> /dev/null
}
disc_aen

# ---- identity commands on one controller and namespace
identity_checks() {   # CTRL DEV SN MN SIZE_BYTES LBA_SHIFT NQN
    local c=$1 dev=$2 sn=$3 mn=$4 size=$5 shift=$6 nqn=$7 out rc v vrc
    out=$(nvme list -o json 2>&1); rc=$?
    v=$(echo "$out" | python3 -c '
import json, sys
dev, size, bs = sys.argv[1], int(sys.argv[2]), 1 << int(sys.argv[3])
d = json.load(sys.stdin)
e = [x for x in d.get("Devices", []) if x.get("DevicePath") == dev]
if not e:
    print("no %s in nvme list" % dev); sys.exit(1)
e = e[0]
ps, ss = e.get("PhysicalSize"), e.get("SectorSize")
if ps != size or ss != bs:
    print("%s: PhysicalSize %s SectorSize %s, want %d %d" % (dev, ps, ss, size, bs)); sys.exit(1)
print("%s %d bytes, %d-byte sectors" % (dev, ps, ss))
' "$dev" "$size" "$shift" 2>&1); vrc=$?
    [ $rc = 0 ] && [ $vrc = 0 ] && [ "$(blockdev --getsize64 "$dev")" = "$size" ] \
        && [ "$(blockdev --getss "$dev")" = $((1 << shift)) ] \
        && tt_pass "nvme list: $nqn namespace size and block size" "$v" \
        || tt_fail "nvme list: $nqn namespace size and block size" "exit $rc: $v; blockdev $(blockdev --getsize64 "$dev") $(blockdev --getss "$dev")"

    out=$(nvme id-ctrl "/dev/$c" -o json 2>&1); rc=$?
    v=$(echo "$out" | python3 -c '
import json, sys
sn, mn, nqn = sys.argv[1:4]
d = json.load(sys.stdin)
bad = []
if d["sn"].strip() != sn: bad.append("sn %r" % d["sn"])
if d["mn"].strip() != mn: bad.append("mn %r" % d["mn"])
if d["subnqn"].strip() != nqn: bad.append("subnqn %r" % d["subnqn"])
if not 1 <= d["cntlid"] <= 0xffef: bad.append("cntlid %d" % d["cntlid"])
if d["mdts"] != 5: bad.append("mdts %d (128 KiB is 5)" % d["mdts"])
if d["ioccsz"] != (64 + 8192) // 16: bad.append("ioccsz %d" % d["ioccsz"])
if d["nn"] < 2: bad.append("nn %d" % d["nn"])
if not d["oaes"] & 0x100: bad.append("oaes 0x%x lacks NS attribute notices" % d["oaes"])
if d["kas"] == 0: bad.append("kas 0")
print("; ".join(bad) if bad else "sn %s mn %r cntlid %d mdts %d ioccsz %d nn %d oaes 0x%x" % (
    sn, mn, d["cntlid"], d["mdts"], d["ioccsz"], d["nn"], d["oaes"]))
sys.exit(1 if bad else 0)
' "$sn" "$mn" "$nqn" 2>&1); vrc=$?
    [ $rc = 0 ] && [ $vrc = 0 ] && tt_pass "nvme id-ctrl /dev/$c" "$v" \
        || tt_fail "nvme id-ctrl /dev/$c" "exit $rc: $v"

    out=$(nvme id-ns "$dev" -o json 2>&1); rc=$?
    v=$(echo "$out" | python3 -c '
import json, sys
size, shift = int(sys.argv[1]), int(sys.argv[2])
d = json.load(sys.stdin)
nlb = size >> shift
lbaf = d["lbafs"][d["flbas"] & 0xf]
bad = []
if d["nsze"] != nlb or d["ncap"] != nlb: bad.append("nsze %d ncap %d, want %d" % (d["nsze"], d["ncap"], nlb))
if lbaf["ds"] != shift or lbaf["ms"] != 0: bad.append("lbaf ds %d ms %d" % (lbaf["ds"], lbaf["ms"]))
print("; ".join(bad) if bad else "nsze %d, %d-byte blocks" % (d["nsze"], 1 << lbaf["ds"]))
sys.exit(1 if bad else 0)
' "$size" "$shift" 2>&1); vrc=$?
    [ $rc = 0 ] && [ $vrc = 0 ] && tt_pass "nvme id-ns $dev" "$v" || tt_fail "nvme id-ns $dev" "exit $rc: $v"

    out=$(nvme smart-log "/dev/$c" -o json 2>&1); rc=$?
    v=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("critical_warning %s" % d["critical_warning"]); sys.exit(d["critical_warning"] != 0)' 2>&1); vrc=$?
    [ $rc = 0 ] && [ $vrc = 0 ] && tt_pass "nvme smart-log /dev/$c" "$v" || tt_fail "nvme smart-log /dev/$c" "exit $rc: $v $out"

    out=$(nvme error-log "/dev/$c" -o json 2>&1); rc=$?
    v=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); e=d["errors"]; print("%d entries" % len(e))' 2>&1); vrc=$?
    [ $rc = 0 ] && [ $vrc = 0 ] && tt_pass "nvme error-log /dev/$c" "$v" || tt_fail "nvme error-log /dev/$c" "exit $rc: $v $out"

    out=$(nvme get-feature "/dev/$c" -f 7 2>&1); rc=$?
    v=$(echo "$out" | sed -n 's/.*Current value: *\(0x[0-9a-fA-F]*\|[0-9]*\)$/\1/p' | head -n 1)
    if [ $rc = 0 ] && [ -n "$v" ]; then
        tt_pass "nvme get-feature -f 7 /dev/$c" "$v: $(( (v & 0xffff) + 1 )) submission, $(( (v >> 16) + 1 )) completion queues"
    else
        tt_fail "nvme get-feature -f 7 /dev/$c" "exit $rc: $out"
    fi
}

# ---- data commands besides Read/Write: FUA, Flush, Write Zeroes, DSM
data_cmds() {   # NAME DEV BLOCK_SIZE (1 MiB at 60 MiB into the namespace)
    local name=$1 dev=$2 bs=$3 off=$((60 << 20)) n=$((1 << 20)) rc out
    head -c $n /dev/urandom > pat.bin
    head -c $n /dev/zero > zero.bin
    rd() { dd if="$dev" bs=64k skip=$((off / 65536)) count=$((n / 65536)) iflag=direct status=none; }
    if dd if=pat.bin of="$dev" bs=64k seek=$((off / 65536)) oflag=direct,dsync conv=notrunc status=none \
        && rd | cmp -s - pat.bin; then
        tt_pass "$name: FUA writes (O_DSYNC) read back"
    else
        tt_fail "$name: FUA writes (O_DSYNC) read back" "$(dmesg | tail -n 2 | tr '\n' '|')"
    fi
    out=$(timeout 30 nvme flush "$dev" 2>&1); rc=$?
    [ $rc = 0 ] && tt_pass "$name: nvme flush" || tt_fail "$name: nvme flush" "exit $rc: $out"
    out=$(timeout 30 nvme write-zeroes "$dev" -s $((off / bs)) -c $((n / bs - 1)) 2>&1); rc=$?
    if [ $rc = 0 ] && rd | cmp -s - zero.bin; then
        tt_pass "$name: nvme write-zeroes, the range reads back as zeroes"
    else
        tt_fail "$name: nvme write-zeroes, the range reads back as zeroes" "exit $rc: $out; $(rd | cmp - zero.bin 2>&1 | head -n 1)"
    fi
    dd if=pat.bin of="$dev" bs=64k seek=$((off / 65536)) oflag=direct conv=notrunc status=none
    out=$(timeout 30 blkdiscard -z -o $off -l $n "$dev" 2>&1); rc=$?
    if [ $rc = 0 ] && rd | cmp -s - zero.bin; then
        tt_pass "$name: blkdiscard -z (write_zeroes_max_bytes $(cat /sys/block/"${dev#/dev/}"/queue/write_zeroes_max_bytes)), zeroes read back"
    else
        tt_fail "$name: blkdiscard -z, zeroes read back" "exit $rc: $out; $(rd | cmp - zero.bin 2>&1 | head -n 1)"
    fi
    out=$(timeout 30 blkdiscard -o $off -l $n "$dev" 2>&1); rc=$?
    [ $rc = 0 ] && tt_pass "$name: blkdiscard (DSM deallocate, discard_max_bytes $(cat /sys/block/"${dev#/dev/}"/queue/discard_max_bytes))" \
        || tt_fail "$name: blkdiscard (DSM deallocate)" "exit $rc: $out"
}

# ---- fio: write, then read back and verify every block
fio_job() {   # FILE DEV_MALLOC DEV_URING
    local f=$1 dm=$2 du=$3 d name dev bmin
    {
        printf '%s\n' '[global]' ioengine=libaio direct=1 rw=randwrite iodepth=32 numjobs=4 \
            verify=crc32c verify_fatal=1 do_verify=1 randrepeat=0
        # Per namespace: 4 x 6 MiB of 4k, 4 x 8 MiB of 128k, 4 x 2 MiB of
        # sizes from one block to 128k (in-capsule, one io unit, several).
        for d in "malloc $dm 512" "uring $du 4k"; do
            set -- $d
            name=$1 dev=$2 bmin=$3
            printf '\n[%s-4k]\nfilename=%s\nbs=4k\noffset=0\nsize=6M\noffset_increment=6M\n' "$name" "$dev"
            printf '\n[%s-128k]\nfilename=%s\nbs=128k\noffset=24M\nsize=8M\noffset_increment=8M\n' "$name" "$dev"
            printf '\n[%s-mix]\nfilename=%s\nbsrange=%s-128k\noffset=56M\nsize=2M\noffset_increment=2M\n' "$name" "$dev" "$bmin"
        done
    } > "$f"
}

# ---- one round: connect both, (identity), fio, (namespace add/remove), disconnect
round() {   # MODE=off|on
    local mode=$1 fm fu cm cu dm du t0 out rc line n
    # -d: SQ flow control off (C2H SUCCESS flag); -W 1: a write queue
    # besides the read queue, so that I/O lands on both target lcores.
    if [ "$mode" = on ]; then fm=(-g -G -d -W 1); fu=(-g -G); else fm=(); fu=(-d -W 1); fi
    cm=$(tt_connect "$NQN_M" "${fm[@]}") && dm=$(tt_wait_ns "$NQN_M" 1 20 && tt_ns_dev "$NQN_M" 1) \
        && tt_pass "connect malloc, digests $mode ${fm[*]}" "$cm, $dm" \
        || { tt_fail "connect malloc, digests $mode ${fm[*]}" "$(tail -n 3 "$TERN_VM_TEST_DIR/nvme-connect.log"; dmesg | tail -n 5)"; return 1; }
    cu=$(tt_connect "$NQN_U" "${fu[@]}") && du=$(tt_wait_ns "$NQN_U" 1 20 && tt_ns_dev "$NQN_U" 1) \
        && tt_pass "connect uring, digests $mode ${fu[*]}" "$cu, $du" \
        || { tt_fail "connect uring, digests $mode ${fu[*]}" "$(tail -n 3 "$TERN_VM_TEST_DIR/nvme-connect.log"; dmesg | tail -n 5)"; return 1; }

    if [ "$mode" = off ]; then
        identity_checks "$cm" "$dm" TERNVMMALLOC00000001 "Tern VM malloc" $((64 << 20)) 9 "$NQN_M"
        identity_checks "$cu" "$du" TERNVMURING000000001 "Tern VM uring" $((96 << 20)) 12 "$NQN_U"
        data_cmds malloc "$dm" 512
        data_cmds uring "$du" 4096
    fi

    fio_job "fio-$mode.job" "$dm" "$du"
    t0=$(date +%s)
    out=$(tt_fio "digests-$mode" 240 "fio-$mode.job"); rc=$?
    echo "$out"
    for n in malloc-4k malloc-128k malloc-mix uring-4k uring-128k uring-mix; do
        line=$(echo "$out" | grep "^$n ")
        if [ $rc = 0 ] && [ "$(echo "$line" | cut -d' ' -f2)" = ok ]; then
            tt_pass "fio verify $n (4 jobs, iodepth 32), digests $mode" "${line#* ok }"
        else
            tt_fail "fio verify $n (4 jobs, iodepth 32), digests $mode" "fio exit $rc: ${line:-no result}; $(grep -m 3 -iE 'error|verify|bad' "$TERN_VM_TEST_DIR/fio-digests-$mode.txt" | tr '\n' '|')"
        fi
    done
    vm_log "fio round (digests $mode): $(( $(date +%s) - t0 )) s"

    out=$(tt_dmesg_nvme_errors)
    [ -z "$out" ] && tt_pass "no kernel NVMe errors, digests $mode" \
        || tt_fail "no kernel NVMe errors, digests $mode" "$(echo "$out" | head -n 3 | tr '\n' '|')"

    if [ "$mode" = on ]; then
        ns_hotplug "$cm"
    fi

    tt_disconnect "$NQN_M"; rc1=$?
    tt_disconnect "$NQN_U"; rc2=$?
    if [ $rc1 = 0 ] && [ $rc2 = 0 ] && ! tt_ns_dev "$NQN_M" 1 > /dev/null && ! tt_ns_dev "$NQN_U" 1 > /dev/null; then
        tt_pass "nvme disconnect malloc and uring, digests $mode"
    else
        tt_fail "nvme disconnect malloc and uring, digests $mode" "exit $rc1/$rc2, devices: $(tt_ns_dev "$NQN_M" 1) $(tt_ns_dev "$NQN_U" 1)"
    fi
}

# ---- 3a. namespaces added and removed while connected
ns_hotplug() {   # CTRL (of the malloc subsystem)
    local c=$1 out rc t0 i dev fpid
    out=$(tt_tgt tt_rpc bdev_malloc_create "'{\"name\": \"MallocHot\", \"num_blocks\": 8192, \"block_size\": 4096}'" \
        '&&' tt_rpc nvmf_subsystem_add_ns "'{\"nqn\": \"$NQN_M\", \"namespace\": {\"bdev_name\": \"MallocHot\", \"nsid\": 2}}'")
    rc=$?
    t0=$(date +%s.%N)
    [ $rc = 0 ] || { tt_fail "nvmf_subsystem_add_ns while connected" "rc $rc: $out"; return; }
    if tt_wait_ns "$NQN_M" 2 15; then
        dev=$(tt_ns_dev "$NQN_M" 2)
        if [ "$(blockdev --getsize64 "$dev")" = $((32 << 20)) ] && [ "$(blockdev --getss "$dev")" = 4096 ] \
            && [ "$(cat /sys/class/nvme/"$c"/state)" = live ]; then
            tt_pass "namespace 2 added by RPC appears without a reconnect" \
                "$dev after $(python3 -c "import sys,time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$t0") s, 32 MiB, 4096-byte blocks, $c still live"
        else
            tt_fail "namespace 2 added by RPC appears without a reconnect" "$dev: size $(blockdev --getsize64 "$dev"), block $(blockdev --getss "$dev"), $c $(cat /sys/class/nvme/"$c"/state)"
        fi
        # A little I/O on it, read back.
        if timeout 60 fio --name=hot --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k \
            --iodepth=8 --size=4M --verify=crc32c --verify_fatal=1 --output="$TERN_VM_TEST_DIR/fio-hot.txt" > /dev/null 2>&1; then
            tt_pass "fio verify on the added namespace"
        else
            tt_fail "fio verify on the added namespace" "$(tail -n 3 "$TERN_VM_TEST_DIR/fio-hot.txt" | tr '\n' '|')"
        fi
    else
        tt_fail "namespace 2 added by RPC appears without a reconnect" "no block device in 15 s; $(nvme list-ns "/dev/$c" 2>&1 | tr '\n' ' '); dmesg: $(dmesg | tail -n 3 | tr '\n' '|')"
        return
    fi
    # Removed in the middle of I/O on it: the I/O fails or completes, the
    # block device goes, namespace 1 stays, and the bdev can then be deleted
    # (every lcore let go of it).
    timeout -k 5 90 fio --name=hot-rm --filename="$dev" --ioengine=libaio --direct=1 --rw=randrw \
        --bsrange=4k-128k --iodepth=16 --numjobs=2 --time_based --runtime=40 \
        --output="$TERN_VM_TEST_DIR/fio-hot-rm.txt" > /dev/null 2>&1 &
    fpid=$!
    sleep 3
    out=$(tt_tgt tt_rpc nvmf_subsystem_remove_ns "'{\"nqn\": \"$NQN_M\", \"nsid\": 2}'"); rc=$?
    [ $rc = 0 ] || tt_fail "nvmf_subsystem_remove_ns mid-I/O" "rc $rc: $out"
    t0=$(date +%s)
    for ((i = 0; i < 100; i++)); do tt_ns_dev "$NQN_M" 2 > /dev/null || break; sleep 0.2; done
    if ! tt_ns_dev "$NQN_M" 2 > /dev/null && tt_ns_dev "$NQN_M" 1 > /dev/null && [ "$(cat /sys/class/nvme/"$c"/state)" = live ]; then
        tt_pass "namespace 2 removed by RPC mid-I/O disappears, namespace 1 stays" "$(( $(date +%s) - t0 )) s"
    else
        tt_fail "namespace 2 removed by RPC mid-I/O disappears, namespace 1 stays" "ns2 $(tt_ns_dev "$NQN_M" 2) ns1 $(tt_ns_dev "$NQN_M" 1) $c $(cat /sys/class/nvme/"$c"/state)"
    fi
    for ((i = 0; i < 150; i++)); do kill -0 "$fpid" 2> /dev/null || break; sleep 0.2; done
    if kill -0 "$fpid" 2> /dev/null; then
        tt_fail "fio on the removed namespace ends" "still running 30 s after the removal: $(dmesg | grep nvme | tail -n 3 | tr '\n' '|')"
        kill -TERM "$fpid"
    else
        tt_pass "fio on the removed namespace ends" "$(grep -m 1 -o 'err=[ 0-9]*' "$TERN_VM_TEST_DIR/fio-hot-rm.txt")"
    fi
    wait "$fpid" 2> /dev/null
    out=$(tt_tgt tt_rpc bdev_malloc_delete "'{\"name\": \"MallocHot\"}'"); rc=$?
    [ $rc = 0 ] && tt_pass "bdev_malloc_delete of the removed namespace's bdev" \
        || tt_fail "bdev_malloc_delete of the removed namespace's bdev" "rc $rc: $out"
}

# ---- 3b. the acl subsystem
acl_checks() {
    local out rc c i fpid save_nqn=$TT_HOSTNQN save_id=$TT_HOSTID
    TT_HOSTNQN=$HOST_OTHER TT_HOSTID=7e57a0b1-0000-4000-8000-0000000000a2
    if c=$(tt_connect "$NQN_A"); then
        tt_fail "a host not on the list is refused" "nvme connect as $HOST_OTHER succeeded ($c)"
        tt_disconnect "$NQN_A"
    else
        out=$(tt_tgt tt_log_grep "'$HOST_OTHER.*refused|refused.*$HOST_OTHER'"); rc=$?
        [ $rc = 0 ] && tt_pass "a host not on the list is refused; the target log says why" "$(echo "$out" | tail -n 1)" \
            || tt_fail "a host not on the list is refused; the target log says why" "connect failed, but no log line names $HOST_OTHER (rc $rc)"
    fi
    TT_HOSTNQN=$HOST_ALLOWED TT_HOSTID=7e57a0b1-0000-4000-8000-0000000000a1
    if c=$(tt_connect "$NQN_A") && tt_wait_ns "$NQN_A" 1 20; then
        tt_pass "the listed host connects to acl" "$c, $(tt_ns_dev "$NQN_A" 1)"
    else
        tt_fail "the listed host connects to acl" "$(tail -n 2 "$TERN_VM_TEST_DIR/nvme-connect.log" | tr '\n' '|')"
    fi
    tt_disconnect "$NQN_A"
    # A host added at runtime gets in; removed, its controller is dropped.
    TT_HOSTNQN=$HOST_LATE TT_HOSTID=7e57a0b1-0000-4000-8000-0000000000a3
    out=$(tt_tgt tt_rpc nvmf_subsystem_add_host "'{\"nqn\": \"$NQN_A\", \"host\": \"$HOST_LATE\"}'"); rc=$?
    if [ $rc = 0 ] && c=$(tt_connect "$NQN_A" --ctrl-loss-tmo=5 --reconnect-delay=1) && tt_wait_ns "$NQN_A" 1 20; then
        tt_pass "a host added by nvmf_subsystem_add_host connects" "$c"
        out=$(tt_tgt tt_rpc nvmf_subsystem_remove_host "'{\"nqn\": \"$NQN_A\", \"host\": \"$HOST_LATE\"}'" '&&' \
            '{ for i in $(seq 50); do [ "$(tt_count_ctrlrs '"$NQN_A"')" = 0 ] && break; sleep 0.2; done;' \
            'tt_count_ctrlrs '"$NQN_A"'; }'); rc=$?
        if [ $rc = 0 ] && [ "$(echo "$out" | tail -n 1)" = 0 ]; then
            tt_pass "nvmf_subsystem_remove_host drops its controller" "the target holds 0 controllers of acl"
        else
            tt_fail "nvmf_subsystem_remove_host drops its controller" "rc $rc: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
        fi
    else
        tt_fail "a host added by nvmf_subsystem_add_host connects" "rpc rc $rc: $out; $(tail -n 2 "$TERN_VM_TEST_DIR/nvme-connect.log" | tr '\n' '|')"
    fi
    tt_disconnect "$NQN_A"
    # The subsystem deleted in the middle of I/O: its controller goes (the
    # host's reconnects are refused), then its bdev can be deleted.
    TT_HOSTNQN=$HOST_ALLOWED TT_HOSTID=7e57a0b1-0000-4000-8000-0000000000a1
    if c=$(tt_connect "$NQN_A" --ctrl-loss-tmo=3 --reconnect-delay=1) && tt_wait_ns "$NQN_A" 1 20; then
        timeout -k 5 90 fio --name=acl-del --filename="$(tt_ns_dev "$NQN_A" 1)" --ioengine=libaio --direct=1 \
            --rw=randrw --bsrange=4k-128k --iodepth=16 --numjobs=2 --time_based --runtime=40 \
            --output="$TERN_VM_TEST_DIR/fio-acl-del.txt" > /dev/null 2>&1 &
        fpid=$!
        sleep 3
        out=$(tt_tgt tt_rpc nvmf_delete_subsystem "'{\"nqn\": \"$NQN_A\"}'"); rc=$?
        [ $rc = 0 ] && tt_pass "nvmf_delete_subsystem mid-I/O" "$out" || tt_fail "nvmf_delete_subsystem mid-I/O" "rc $rc: $out"
        for ((i = 0; i < 150; i++)); do kill -0 "$fpid" 2> /dev/null || break; sleep 0.2; done
        if kill -0 "$fpid" 2> /dev/null; then
            tt_fail "fio on the deleted subsystem ends" "still running 30 s later; $c: $(cat /sys/class/nvme/"$c"/state 2> /dev/null)"
            kill -TERM "$fpid"
        else
            tt_pass "fio on the deleted subsystem ends" "$(grep -m 1 -o 'err=[ 0-9]*' "$TERN_VM_TEST_DIR/fio-acl-del.txt")"
        fi
        wait "$fpid" 2> /dev/null
        tt_disconnect "$NQN_A"
        out=$(tt_tgt tt_rpc bdev_malloc_delete "'{\"name\": \"MallocAcl\"}'"); rc=$?
        [ $rc = 0 ] && tt_pass "bdev_malloc_delete of the deleted subsystem's bdev" \
            || tt_fail "bdev_malloc_delete of the deleted subsystem's bdev" "rc $rc: $out"
    else
        tt_fail "connect to acl before deleting it" "$(tail -n 2 "$TERN_VM_TEST_DIR/nvme-connect.log" | tr '\n' '|')"
    fi
    TT_HOSTNQN=$save_nqn TT_HOSTID=$save_id
}

round off
round on
dmesg -C
acl_checks

# ---- 4. all disconnected: clean; SIGTERM: exit 0
out=$(tt_tgt tt_stats_clean 10); rc=$?
[ $rc = 0 ] && tt_pass "all disconnected: 0 qpairs, every shared buffer free" "$out" \
    || tt_fail "all disconnected: 0 qpairs, every shared buffer free" "$out"
out=$(TT_TGT_TIMEOUT=40 tt_tgt tt_tgt_stop 15); rc=$?
[ $rc = 0 ] && tt_pass "tern-tgt exits 0 on SIGTERM" "$out" || tt_fail "tern-tgt exits 0 on SIGTERM" "$out"
tt_summary
