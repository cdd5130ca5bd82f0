# tern-perf (lib/host and a host transport) in the host guest against a
# target in the tgt guest, for the perf-* VM tests: bounded runs, a check of
# each run's JSON, one PASS/FAIL line per run (terntgt.sh's tt_pass/tt_fail).
# Source it after vmlib.sh and terntgt.sh, then set TP_TARGET, the target's
# name in the PASS/FAIL lines:
#   . "$TERN_VM_LIBDIR/ternperf.sh"; TP_TARGET=nvmet-rdma

TP_PERF=$TT_BUILD/app/tern-perf/tern-perf
TP_TARGET=${TP_TARGET:-target}
TP_NICE=${TP_NICE:-0}   # nice level of tern-perf (it busy-polls the guest's one vCPU)
TP_N=0

# tp_perf NAME LCORES ARGS...: one bounded tern-perf run; output in the test dir.
tp_perf() {
    local name=$1 lc=$2
    shift 2
    TP_N=$((TP_N + 1))
    timeout 120 nice -n "$TP_NICE" "$TP_PERF" --lcores "$lc" --no-pci --no-huge -m 256 --no-telemetry \
        --file-prefix "perf-$$-$TP_N" --log-level '*:warning' -- "$@" \
        > "$TERN_VM_TEST_DIR/perf-$name.out" 2> "$TERN_VM_TEST_DIR/perf-$name.err"
}

# tp_check NAME: the run's JSON says I/Os done, no error, no verify failure.
tp_check() {
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

# tp_run NAME LCORES ARGS...: tp_perf, then tp_check; one PASS or FAIL line.
tp_run() {
    local name=$1 rc out crc
    tp_perf "$@"; rc=$?
    out=$(tp_check "$name"); crc=$?
    if [ $rc = 0 ] && [ $crc = 0 ]; then
        tt_pass "tern-perf vs $TP_TARGET: $name" "$out"
    else
        tt_fail "tern-perf vs $TP_TARGET: $name" "exit $rc: $out; $(tail -n 3 "$TERN_VM_TEST_DIR/perf-$name.err" | tr '\n' '|')"
    fi
}

# tp_unknown_nqn TRID: the same target under an NQN it does not have must
# give one line on stderr and exit 3.
tp_unknown_nqn() {
    local rc err what="tern-perf vs $TP_TARGET: an unknown NQN gets one line, exit 3"
    tp_perf unknown-nqn 0 -r "${1%subnqn:*}subnqn:${1##*subnqn:}-nope" -t 1 --json; rc=$?
    err=$(grep -c '^tern-perf:' "$TERN_VM_TEST_DIR/perf-unknown-nqn.err")
    if [ $rc = 3 ] && [ "$err" = 1 ]; then
        tt_pass "$what" "$(grep '^tern-perf:' "$TERN_VM_TEST_DIR/perf-unknown-nqn.err")"
    else
        tt_fail "$what" "exit $rc, $err lines: $(tr '\n' '|' < "$TERN_VM_TEST_DIR/perf-unknown-nqn.err")"
    fi
}
