#!/bin/bash
# usertools/tern-setup on the tgt guest's emulated NVMe SSD, behind the
# emulated IOMMU (issue 7). The guest's setup left the SSD on vfio-pci with
# driver_override=vfio-pci; the tgt guest
#   1. shows status: the SSD on vfio-pci, its group, /dev/vfio/N; --json;
#   2. resets it to nvme: the namespace's block device comes back;
#   3. puts an ext4 filesystem on the namespace and mounts it: bind is
#      refused and names the device and the mount point; unmounts;
#      the same with the namespace as swap, and open by a process;
#   4. binds it: vfio-pci, /dev/vfio/N, the block device gone;
#   5. holds /dev/vfio/N open: reset is refused and names the PID;
#   6. resets it (nvme again) and binds it again: left as it was found;
#   7. a bad BDF (exit 2); 2 MiB hugepages on node 0 (and back); one 1 GiB
#      page, which a 1.5 GiB guest cannot give (exit 1, or 3 where the CPU
#      has no 1 GiB pages).
# The host guest, without an NVMe controller, checks status there.
# Every check prints PASS/FAIL; each guest ends with its counts.
#   test/vm/run.sh test/vm/tests/tern-setup.sh
set -u
. "$TERN_VM_LIB"
. "$TERN_VM_LIBDIR/terntgt.sh"

TS=$TERN_SRC/usertools/tern-setup
[ -x "$TS" ] || vm_env_fail "$TS not visible in the guest"
OUT=$TERN_VM_TEST_DIR

# ts NAME ARG...: run tern-setup (bounded); its output is printed and kept
# as NAME.out; TT_RC is its exit status.
ts() {
    local name=$1
    shift
    tt_capture "$name" timeout 120 "$TS" "$@"
}

# expect NAME WANT_RC WHAT TEXT...: one PASS/FAIL line: the exit status and
# every TEXT (fixed strings) in NAME.out.
expect() {
    local name=$1 want=$2 what=$3 missing='' w
    shift 3
    for w in "$@"; do
        grep -qF -- "$w" "$OUT/$name.out" || missing="$missing [$w]"
    done
    tt_verdict "$name" "$want" "$what" "${missing:+missing:$missing}"
}

if [ "$TERN_VM_ROLE" = host ]; then
    ts host-status status
    expect host-status 0 "host guest: status without NVMe controllers" \
        "NVMe controllers (PCI class 0108xx): 0" "Hugepages"
    vm_barrier end 300 || tt_fail "barrier end" "the tgt guest never finished"
    tt_summary
    exit
fi

# ---- tgt
BDF=${TERN_VM_NVME_BDF:-}
GRP=${TERN_VM_VFIO_GROUP:-}
if [ -z "$BDF" ] || [ -z "$GRP" ]; then
    vm_env_fail "no TERN_VM_NVME_BDF/TERN_VM_VFIO_GROUP from the guest's setup"
fi
DEV=/sys/bus/pci/devices/$BDF
MNT=/tmp/tern-setup-mnt
HP=/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages
driver() { basename "$(readlink "$DEV/driver" 2> /dev/null)" 2> /dev/null; }
override() { cat "$DEV/driver_override"; }
START_DRIVER=$(driver)
START_OVERRIDE=$(override)
START_HP=$(cat "$HP" 2> /dev/null)
SLEEPER=
vm_log "$BDF: driver $START_DRIVER, driver_override $START_OVERRIDE, IOMMU group $GRP"

# Whatever happens, leave the SSD and the hugepages as found.
cleanup() {
    [ -n "$SLEEPER" ] && kill "$SLEEPER" 2> /dev/null && wait "$SLEEPER" 2> /dev/null
    mountpoint -q "$MNT" && umount "$MNT"
    [ -n "${NS:-}" ] && swapoff "/dev/$NS" 2> /dev/null
    if [ "$(driver)" != "$START_DRIVER" ] || [ "$(override)" != "$START_OVERRIDE" ]; then
        if [ "$START_DRIVER" = vfio-pci ]; then "$TS" bind "$BDF"; else "$TS" reset "$BDF"; fi
    fi
    [ -n "$START_HP" ] && echo "$START_HP" > "$HP"
}
trap cleanup EXIT

# hold FILE: a process (sleep) with FILE open on stdin; its PID in SLEEPER.
hold() {
    # shellcheck disable=SC2217  # sleep only holds the file open
    sleep 600 < "$1" &
    SLEEPER=$!
    sleep 0.5
}
release() {
    kill "$SLEEPER" 2> /dev/null
    wait "$SLEEPER" 2> /dev/null
    SLEEPER=
}

# 1. status
ts status status
expect status 0 "status: $BDF on vfio-pci with its group" \
    "$BDF 1b36:0010 numa=" "driver=vfio-pci override=vfio-pci iommu_group=$GRP" \
    "/dev/vfio/$GRP: present" "vfio: vfio-pci loaded; /dev/vfio present" "node 0"
ts json status --json
if python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); n = d["nvme"][0]; assert n["bdf"] == sys.argv[2] and n["driver"] == "vfio-pci", n' \
        "$OUT/json.out" "$BDF" 2> "$OUT/json.err"; then
    tt_pass "status --json names $BDF on vfio-pci"
else
    tt_fail "status --json names $BDF on vfio-pci" "$(tail -n 1 "$OUT/json.err")"
fi

# 2. to nvme
ts reset1 reset "${BDF#0000:}"
NS=$(basename "$(ls -d "$DEV"/nvme/nvme*/nvme*n1 2> /dev/null | head -n 1)")
expect reset1 0 "reset: $BDF back on nvme with its namespace" \
    "$BDF: reset to nvme (was vfio-pci)" "/dev/$NS"
for _ in $(seq 1 50); do [ -b "/dev/$NS" ] && break; sleep 0.2; done
if [ "$(driver)" != nvme ] || [ -z "$NS" ] || [ ! -b "/dev/$NS" ]; then
    tt_abort "reset" "driver $(driver), namespace '$NS'"
fi
MM=$(cat "/sys/block/$NS/dev")
ts status-nvme status
expect status-nvme 0 "status: $BDF on nvme, $NS ($MM) free" \
    "driver=nvme override=- iommu_group=$GRP" "$NS ($MM, 256 MiB): free"

# 3. in use: mounted, swap, open
mkdir -p "$MNT"
if ! command -v mkfs.ext4 > /dev/null; then
    tt_fail "bind refused while mounted" "no mkfs.ext4 on this machine (e2fsprogs)"
elif ! modprobe ext4 2> "$OUT/modprobe-ext4.err"; then
    vm_env_fail "modprobe ext4: $(cat "$OUT/modprobe-ext4.err")"
elif mkfs.ext4 -q -F -E nodiscard "/dev/$NS" > "$OUT/mkfs.out" 2>&1 && mount "/dev/$NS" "$MNT"; then
    ts mounted bind "$BDF"
    expect mounted 1 "bind refused while $NS is mounted, names it and $MNT" \
        "refused $BDF (1b36:0010, driver nvme)" "$NS ($MM) is mounted on $MNT (ext4)"
    ts status-mounted status
    expect status-mounted 0 "status shows $NS mounted" "$NS ($MM, 256 MiB): mounted on $MNT (ext4)"
    umount "$MNT"
else
    tt_fail "bind refused while mounted" "mkfs.ext4 or mount of /dev/$NS failed: $(tail -n 2 "$OUT/mkfs.out")"
fi
[ "$(driver)" = nvme ] || tt_abort "still on nvme after the refusal" "on $(driver)"

if mkswap "/dev/$NS" > "$OUT/mkswap.out" 2>&1 && swapon "/dev/$NS"; then
    ts swap bind "$BDF"
    expect swap 1 "bind refused while $NS is swap" "refused $BDF" "$NS ($MM) is in use as swap"
    swapoff "/dev/$NS"
else
    tt_fail "bind refused while swap" "mkswap/swapon /dev/$NS failed: $(tail -n 2 "$OUT/mkswap.out")"
fi

hold "/dev/$NS"
ts open bind "$BDF"
expect open 1 "bind refused while /dev/$NS is open, names the PID" \
    "refused $BDF" "/dev/$NS is open by PID $SLEEPER (sleep)"
release
[ "$(driver)" = nvme ] || tt_abort "still on nvme after the refusals" "on $(driver)"

# 4. bind
ts bind1 bind "$BDF"
expect bind1 0 "bind: $BDF on vfio-pci, /dev/vfio/$GRP" \
    "$BDF: bound to vfio-pci (was nvme); /dev/vfio/$GRP"
if [ "$(driver)" = vfio-pci ] && [ -c "/dev/vfio/$GRP" ] && [ ! -e "/dev/$NS" ] \
        && [ "$(override)" = vfio-pci ]; then
    tt_pass "sysfs: driver vfio-pci, driver_override vfio-pci, /dev/vfio/$GRP, no /dev/$NS"
else
    tt_fail "sysfs after bind" "driver $(driver), override $(override), $(ls -l "/dev/vfio/$GRP" "/dev/$NS" 2>&1 | tr '\n' '|')"
fi

# 5. the group open: reset refused
hold "/dev/vfio/$GRP"
ts vfio-open reset "$BDF"
expect vfio-open 1 "reset refused while /dev/vfio/$GRP is open, names the PID" \
    "refused $BDF (1b36:0010, driver vfio-pci)" "/dev/vfio/$GRP is open by PID $SLEEPER (sleep)"
ts status-vfio-open status
expect status-vfio-open 0 "status shows who holds /dev/vfio/$GRP" \
    "/dev/vfio/$GRP: present; open by PID $SLEEPER (sleep)"
release
[ "$(driver)" = vfio-pci ] || tt_fail "still on vfio-pci after the refusal" "on $(driver)"

# 6. back and forth once more, then as found
ts reset2 reset "$BDF"
expect reset2 0 "reset after the group is closed" "$BDF: reset to nvme (was vfio-pci)" "/dev/$NS"
ts bind2 bind "$BDF"
expect bind2 0 "bind again" "$BDF: bound to vfio-pci (was nvme)"
if [ "$(driver)" = "$START_DRIVER" ] && [ "$(override)" = "$START_OVERRIDE" ] \
        && [ -c "/dev/vfio/$GRP" ]; then
    tt_pass "left as found" "driver $START_DRIVER, driver_override $START_OVERRIDE"
else
    tt_fail "left as found" "driver $(driver) override $(override) (found: $START_DRIVER, $START_OVERRIDE)"
fi

# 7. usage, hugepages
ts bad-bdf bind 00:04
expect bad-bdf 2 "a bad BDF: exit 2" "bad PCI address '00:04'"
if [ -w "$HP" ]; then
    ts huge hugepages --node 0 32
    expect huge 0 "hugepages: 32 x 2 MiB on node 0" "node 0: 32 x 2 MiB pages (64 MiB) reserved" \
        "hugetlbfs: mounted on /dev/hugepages"
    [ "$(cat "$HP")" = 32 ] || tt_fail "node 0's nr_hugepages is 32" "it is $(cat "$HP")"
    ts huge-back hugepages --no-mount "$START_HP"
    expect huge-back 0 "hugepages back to $START_HP" "node 0: $START_HP x 2 MiB pages"
    ts huge-1g hugepages --size 1G 1
    if [ "$TT_RC" = 3 ]; then
        expect huge-1g 3 "1 GiB pages: none on this CPU (exit 3)" "no 1 GiB hugepages"
    else
        expect huge-1g 1 "1 GiB page the 1.5 GiB guest cannot give: exit 1, says so" \
            "node 0: the kernel gave 0 of 1 1 GiB pages"
        echo 0 > /sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages
    fi
else
    tt_fail "hugepages" "$HP is missing or read-only in the guest"
fi
vm_barrier end 300 || tt_fail "barrier end" "the host guest never finished"
tt_summary
