# Kernel NVMe-oF reference setup for Tern VM tests: the target VM's kernel
# nvmet (configfs) exports a file-backed namespace; the host VM's kernel
# initiator (nvme-cli) discovers, connects and runs fio with verify.
# Source it after vmlib.sh:  . "$TERN_VM_LIB"; . "$TERN_VM_LIBDIR/knvmet.sh"
#
# The kernel target is the reference every Tern test can be compared with in
# the same VM (TCG timing is emulation-bound: quote ratios, not absolutes).

NVMET_CFG=/sys/kernel/config/nvmet
NVMET_PORTNO=${NVMET_PORTNO:-4420}

# knvmet_target_up TRANSPORT NQN [SIZE_MB=128]: export a file on tmpfs (so
# buffered_io: tmpfs has no O_DIRECT) as namespace 1 of NQN on the target's
# address, any host allowed.
knvmet_target_up() {
    local tr=$1 nqn=$2 size=${3:-128} s p
    [ -d "$NVMET_CFG" ] || vm_env_fail "$NVMET_CFG missing (nvmet module / configfs)"
    truncate -s "${size}M" "/tmp/knvmet-$tr.img"
    s=$NVMET_CFG/subsystems/$nqn
    mkdir "$s" && echo 1 > "$s/attr_allow_any_host" \
        && mkdir "$s/namespaces/1" \
        && echo -n "/tmp/knvmet-$tr.img" > "$s/namespaces/1/device_path" \
        && echo 1 > "$s/namespaces/1/buffered_io" \
        && echo 1 > "$s/namespaces/1/enable" || vm_fail "nvmet subsystem $nqn setup failed"
    p=$NVMET_CFG/ports/$(knvmet_portid "$tr")
    mkdir "$p" && echo ipv4 > "$p/addr_adrfam" && echo "$tr" > "$p/addr_trtype" \
        && echo "$TERN_VM_TGT_ADDR" > "$p/addr_traddr" && echo "$NVMET_PORTNO" > "$p/addr_trsvcid" \
        && ln -s "$s" "$p/subsystems/$nqn" \
        || vm_fail "nvmet $tr port on $TERN_VM_TGT_ADDR:$NVMET_PORTNO failed (dmesg: $(dmesg | tail -n 3))"
    vm_log "kernel nvmet: $nqn on $tr $TERN_VM_TGT_ADDR:$NVMET_PORTNO"
}

knvmet_portid() { if [ "$1" = rdma ]; then echo 1; else echo 2; fi; }

# knvmet_target_down TRANSPORT NQN: undo knvmet_target_up (safe to call twice).
knvmet_target_down() {
    local tr=$1 nqn=$2 s=$NVMET_CFG/subsystems/$2 p
    p=$NVMET_CFG/ports/$(knvmet_portid "$tr")
    rm -f "$p/subsystems/$nqn" 2> /dev/null
    rmdir "$p" 2> /dev/null
    [ -e "$s/namespaces/1/enable" ] && echo 0 > "$s/namespaces/1/enable"
    rmdir "$s/namespaces/1" "$s" 2> /dev/null
    rm -f "/tmp/knvmet-$tr.img"
}

# knvmet_connect TRANSPORT NQN [nvme-connect options...]: discover and connect;
# prints the namespace's block device (/dev/nvmeXnY).
knvmet_connect() {
    local tr=$1 nqn=$2 before after dev i
    shift 2
    nvme discover -t "$tr" -a "$TERN_VM_TGT_ADDR" -s "$NVMET_PORTNO" > /tmp/discover.log 2>&1 \
        || { cat /tmp/discover.log >&2; vm_fail "nvme discover -t $tr -a $TERN_VM_TGT_ADDR failed"; }
    cat /tmp/discover.log >&2
    grep -q "subnqn: *$nqn" /tmp/discover.log || vm_fail "discovery log has no $nqn"
    before=$(knvmet_blockdevs)
    nvme connect -t "$tr" -a "$TERN_VM_TGT_ADDR" -s "$NVMET_PORTNO" -n "$nqn" "$@" >&2 \
        || vm_fail "nvme connect -t $tr -n $nqn failed"
    for ((i = 0; i < 100; i++)); do          # bounded: 20 s for the namespace
        after=$(knvmet_blockdevs)
        dev=$(comm -13 <(echo "$before") <(echo "$after") | head -n 1)
        [ -n "$dev" ] && [ -b "/dev/$dev" ] && { echo "/dev/$dev"; return 0; }
        sleep 0.2
    done
    vm_fail "no namespace block device appeared after connecting to $nqn"
}
knvmet_blockdevs() { ls /sys/block 2> /dev/null | grep -E '^nvme[0-9]+n[0-9]+$' | sort; }

# knvmet_disconnect NQN: disconnect every controller of NQN (idempotent).
knvmet_disconnect() { nvme disconnect -n "$1" > /dev/null 2>&1 || true; }

# knvmet_fio DEV SECONDS NAME [fio options...]: random 4k writes, every block
# read back and checked (crc32c) while the run goes on; fails on any error.
knvmet_fio() {
    local dev=$1 secs=$2 name=$3
    shift 3
    fio --name="$name" --filename="$dev" --ioengine=libaio --direct=1 \
        --rw=randwrite --bs=4k --iodepth=8 --size=32M \
        --runtime="$secs" --time_based \
        --verify=crc32c --verify_backlog=64 --verify_fatal=1 --do_verify=1 \
        --serialize_overlap=1 \
        --output="$TERN_VM_TEST_DIR/fio-$name.txt" "$@"
}
