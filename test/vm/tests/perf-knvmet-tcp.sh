#!/bin/bash
# tern-perf (lib/host, the NVMe/TCP host half) against the kernel's
# nvmet-tcp, the reference target (issue 5, interop): the tgt VM exports a
# 128 MiB file-backed namespace; the host VM runs tern-perf with
#   - every workload (read write randread randwrite rw randrw), 4 KiB, QD 8;
#   - verify (-V) at 4 KiB (in-capsule) and 64 KiB (over nvmet's in-capsule
#     size: R2T and H2CData), digests off, then header and data digests on;
#   - two qpairs on one namespace (two lcores sharing the guest's vCPU);
#   - an unknown NQN: one line, exit 3.
# Each run: exit 0, no I/O error, I/Os done, no verify failure.
#   test/vm/run.sh test/vm/tests/perf-knvmet-tcp.sh
set -u
. "$TERN_VM_LIB"
. "$TERN_VM_LIBDIR/knvmet.sh"
. "$TERN_VM_LIBDIR/terntgt.sh"
NQN=nqn.2024-01.org.tern:perf-knvmet-tcp
PERF=$TT_BUILD/app/tern-perf/tern-perf

if [ "$TERN_VM_ROLE" = tgt ]; then
    trap 'dmesg > "$TERN_VM_TEST_DIR/tgt-dmesg.txt"; knvmet_target_down tcp "$NQN"' EXIT
    dmesg -C
    knvmet_target_up tcp "$NQN" 128
    vm_signal ready
    vm_wait done "${TERN_VM_TEST_TIMEOUT:-600}" > /dev/null || vm_fail "host never finished"
    exit 0
fi

# ---- host
trap 'dmesg > "$TERN_VM_TEST_DIR/host-dmesg.txt"; vm_signal done' EXIT
[ -x "$PERF" ] || vm_env_fail "tern-perf not built: $PERF (TERN_BUILD_DIR=${TERN_BUILD_DIR:-unset})"
vm_wait ready 120 > /dev/null || vm_fail "target never got ready"
TRID="trtype:TCP adrfam:IPv4 traddr:$TERN_VM_TGT_ADDR trsvcid:$NVMET_PORTNO subnqn:$NQN"
N=0

# perf NAME LCORES ARGS...: one bounded tern-perf run; output in the test dir.
perf() {
    local name=$1 lc=$2
    shift 2
    N=$((N + 1))
    timeout 120 "$PERF" --lcores "$lc" --no-pci --no-huge -m 256 --no-telemetry \
        --file-prefix "perf-$$-$N" --log-level '*:warning' -- "$@" \
        > "$TERN_VM_TEST_DIR/perf-$name.out" 2> "$TERN_VM_TEST_DIR/perf-$name.err"
}

# check NAME: the run's JSON says I/Os done, no error, no verify failure.
check() {
    python3 - "$TERN_VM_TEST_DIR/perf-$1.out" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
if len(lines) != 1:
    print("no JSON result"); sys.exit(1)
r = json.loads(lines[0])
bad = r["errors"] or r.get("verify_failures", 0) or r["ios"] == 0
print("%s %d B QD %d x%d: %d IOPS, %.1f MiB/s, p99 %.0f us, %d I/Os, %d errors%s" % (
    r["workload"], r["io_size"], r["qd"], r["qpairs"], r["iops"], r["mib_s"], r["lat_us"]["p99"],
    r["ios"], r["errors"], ", %d verify failures" % r["verify_failures"] if "verify_failures" in r else ""))
sys.exit(1 if bad else 0)
PY
}

run() {   # NAME LCORES ARGS...
    local name=$1 rc out crc
    perf "$@"; rc=$?
    out=$(check "$name"); crc=$?
    if [ $rc = 0 ] && [ $crc = 0 ]; then
        tt_pass "tern-perf vs nvmet-tcp: $name" "$out"
    else
        tt_fail "tern-perf vs nvmet-tcp: $name" "exit $rc: $out; $(tail -n 3 "$TERN_VM_TEST_DIR/perf-$name.err" | tr '\n' '|')"
    fi
}

for w in randread read randwrite write rw randrw; do
    run "$w" 0 -r "$TRID" -q 8 -o 4096 -w "$w" -t 2 --json
done
run verify-4k 0 -r "$TRID" -q 8 -o 4096 -w randrw -V -t 2 --json
run verify-64k 0 -r "$TRID" -q 8 -o 65536 -w randrw -V -t 2 --json
run verify-64k-digests 0 -r "$TRID" -q 8 -o 65536 -w randrw -V -t 2 --hdgst --ddgst --json
run two-qpairs '0@0,1@0' -r "$TRID" -q 8 -o 4096 -w randrw -P 2 -t 2 --json

perf unknown-nqn 0 -r "${TRID%subnqn:*}subnqn:$NQN-nope" -t 1 --json; rc=$?
err=$(grep -c '^tern-perf:' "$TERN_VM_TEST_DIR/perf-unknown-nqn.err")
[ $rc = 3 ] && [ "$err" = 1 ] \
    && tt_pass "tern-perf vs nvmet-tcp: an unknown NQN gets one line, exit 3" "$(grep '^tern-perf:' "$TERN_VM_TEST_DIR/perf-unknown-nqn.err")" \
    || tt_fail "tern-perf vs nvmet-tcp: an unknown NQN gets one line, exit 3" "exit $rc, $err lines: $(tr '\n' '|' < "$TERN_VM_TEST_DIR/perf-unknown-nqn.err")"

n=$(dmesg | grep -ciE 'nvme.*(error|fail|invalid)')
vm_log "host dmesg: $n NVMe error lines"
tt_summary
