# Helpers for Tern's own VM tests: tern-tgt runs in the tgt guest, the
# kernel NVMe/TCP host (nvme-cli, fio) in the host guest.
# Source it after vmlib.sh:  . "$TERN_VM_LIB"; . "$TERN_VM_LIBDIR/terntgt.sh"
#
# Reporting: every check prints one line, `PASS name (detail)` or
# `FAIL name: why`, and the script ends with `N passed, N failed`
# (tt_summary), like the functional tests. A missing piece of the bench
# (tern-tgt not built, a program missing) is vm_env_fail: ENVIRONMENT.
#
# The host drives a test; the tgt guest serves it (tt_serve): the host runs
# a shell command in the tgt guest with tt_tgt (an RPC, a look at the
# target's log, stopping the target) through marker files on the share.

TT_PASS=0
TT_FAIL=0
TT_PORT=4420
TT_TRTYPE=${TT_TRTYPE:-tcp}     # the kernel host's transport: tcp or rdma
TT_BUILD=${TERN_BUILD_DIR:-$TERN_SRC/build}
TT_BIN=$TT_BUILD/app/tern-tgt/tern-tgt
TT_RPC_PY=$TERN_SRC/usertools/tern-rpc.py
TT_RUN=/tmp/tern-vm-tgt
TT_SOCK=$TT_RUN/rpc.sock
TT_LOG=${TERN_VM_TEST_DIR:-/tmp}/tern-tgt.log
TT_PID=

tt_pass() { TT_PASS=$((TT_PASS + 1)); echo "PASS $1${2:+ ($2)}"; }
tt_fail() { TT_FAIL=$((TT_FAIL + 1)); echo "FAIL $1: $2"; }
# tt_summary: the closing line; returns 1 when a check failed.
tt_summary() { echo "$TT_PASS passed, $TT_FAIL failed"; [ "$TT_FAIL" = 0 ]; }
# tt_abort NAME WHY: a failure the rest of the test cannot go on from.
# tt_check WHAT COMMAND...: PASS WHAT when COMMAND succeeds, else FAIL; its
# output is the detail either way.
tt_check() {
    local what=$1 out
    shift
    if out=$("$@"); then tt_pass "$what" "$out"; else tt_fail "$what" "$out"; fi
}
tt_abort() { tt_fail "$1" "$2"; tt_summary; exit 1; }
# tt_capture NAME COMMAND...: run COMMAND (bound it yourself: timeout) with
# its output kept in the test directory as NAME.out and printed, indented
# and tagged [NAME]; TT_RC is its exit status.
tt_capture() {
    local name=$1
    shift
    "$@" > "$TERN_VM_TEST_DIR/$name.out" 2>&1
    TT_RC=$?
    sed "s/^/    [$name] /" "$TERN_VM_TEST_DIR/$name.out"
}
# tt_verdict NAME WANT_RC WHAT [MISSING]: the PASS/FAIL line of a check run
# with tt_capture: PASS when TT_RC is WANT_RC and MISSING (what NAME.out
# lacks, said the caller's way) is empty.
tt_verdict() {
    if [ "$TT_RC" = "$2" ] && [ -z "${4:-}" ]; then
        tt_pass "$3" "exit $TT_RC"
    else
        tt_fail "$3" "exit $TT_RC (want $2)${4:+, $4}; see $1.out"
    fi
}

# ------------------------------------------------------------------ tgt side
# tt_tgt_start CONFIG: start tern-tgt on TT_LCORES lcores (default 2; on one
# vCPU when the guest has only one), no hugepages, log in the test
# directory; returns once framework_wait_init answers (or fails, with the
# log's tail). TT_LCORES=1: one reactor, which leaves the vCPU to the
# kernel's rxe between polls of nothing (the benchmark's setting).
tt_tgt_start() {
    local cfg=$1 lc i
    [ -x "$TT_BIN" ] || vm_env_fail "tern-tgt not built: $TT_BIN (build first; TERN_BUILD_DIR=${TERN_BUILD_DIR:-unset})"
    [ -r "$TT_RPC_PY" ] || vm_env_fail "$TT_RPC_PY not visible in the guest"
    mkdir -p "$TT_RUN"
    rm -f "$TT_SOCK"
    # Two reactors either way; with one vCPU both share it (lcore@cpu).
    if [ "${TT_LCORES:-2}" = 1 ]; then lc=(-l 0)
    elif [ "$(nproc)" -ge 2 ]; then lc=(-l 0-1); else lc=(--lcores 0@0,1@0); fi
    # TT_EAL: the EAL's memory options (tests of the vfio NVMe driver may
    # want hugepages); the default is no hugepages.
    # shellcheck disable=SC2086
    "$TT_BIN" "${lc[@]}" ${TT_EAL:---no-pci --no-huge -m 512} --no-telemetry --file-prefix "tt-$$" \
        -- -c "$cfg" -r "$TT_SOCK" >> "$TT_LOG" 2>&1 &
    TT_PID=$!
    for ((i = 0; i < 300; i++)); do             # bounded: 60 s
        kill -0 "$TT_PID" 2> /dev/null || break
        [ -S "$TT_SOCK" ] && tt_rpc framework_wait_init > /dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "tern-tgt did not come up: $(tail -n 5 "$TT_LOG")" >&2
    return 1
}

# tt_rpc METHOD [JSON]: one JSON-RPC call; the result on stdout.
tt_rpc() {
    if [ $# -ge 2 ]; then
        timeout 30 python3 "$TT_RPC_PY" -s "$TT_SOCK" "$1" -j "$2"
    else
        timeout 30 python3 "$TT_RPC_PY" -s "$TT_SOCK" "$1"
    fi
}

# tt_tgt_stop [TIMEOUT=15]: SIGTERM; prints "exit N after S s" (N=timeout
# when it did not stop in time: then it is killed and the return is 1).
tt_tgt_stop() {
    local t=${1:-15} i rc t0
    [ -n "$TT_PID" ] || { echo "not running"; return 1; }
    t0=$(date +%s.%N)
    kill -TERM "$TT_PID" 2> /dev/null
    for ((i = 0; i < t * 10; i++)); do
        kill -0 "$TT_PID" 2> /dev/null || break
        sleep 0.1
    done
    if kill -0 "$TT_PID" 2> /dev/null; then
        kill -ABRT "$TT_PID" 2> /dev/null; sleep 1; kill -KILL "$TT_PID" 2> /dev/null
        wait "$TT_PID" 2> /dev/null
        TT_PID=
        echo "exit timeout after ${t} s (killed)"
        return 1
    fi
    wait "$TT_PID"; rc=$?
    TT_PID=
    echo "exit $rc after $(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$(date +%s.%N)") s"
    [ "$rc" = 0 ]
}

# tt_stats_clean [TIMEOUT=10]: poll nvmf_get_stats until every lcore has 0
# qpairs, 0 requests waiting and all shared buffers (and, for RDMA, data
# WRs, and every SRQ receive posted again) free; prints the per-lcore figures; 1 if it does not get there in time.
tt_stats_clean() {
    local t=${1:-10} i out
    for ((i = 0; i <= t * 2; i++)); do
        out=$(tt_rpc nvmf_get_stats | python3 -c '
import json, sys
trtype = sys.argv[1].upper()
s = json.load(sys.stdin)
ok = True
parts = []
for pg in s["poll_groups"]:
    tr = [t for t in pg["transports"] if t["trtype"] == trtype]
    if not tr:
        ok = False
        parts.append("lcore %d: no %s transport" % (pg["lcore"], trtype))
        continue
    t = tr[0]
    good = (pg["qpairs"] == 0 and t["shared_buffers_free"] == t["shared_buffers"]
            and t["connections"] == 0)
    if trtype == "TCP":
        good = good and t["pending_data_buffer"] == 0
        parts.append("lcore %d: qpairs %d conns %d buffers %d/%d free, pending %d, waits %d, accepted %d"
                     % (pg["lcore"], pg["qpairs"], t["connections"], t["shared_buffers_free"],
                        t["shared_buffers"], t["pending_data_buffer"], t["buffer_waits"], t["accepted"]))
    else:
        good = good and t["data_wr_pool_free"] == t["data_wr_pool_size"]
        srq = ["%s %d/%d" % (d["name"], d["srq_receives_posted"], d["srq_depth"])
               for d in t.get("devices", []) if d["srq_depth"]]
        good = good and all(d["srq_receives_posted"] == d["srq_depth"] for d in t.get("devices", []))
        parts.append("lcore %d: qpairs %d conns %d buffers %d/%d free, data WRs %d/%d free, SRQ receives posted %s, accepted %d closed %d"
                     % (pg["lcore"], pg["qpairs"], t["connections"], t["shared_buffers_free"],
                        t["shared_buffers"], t["data_wr_pool_free"], t["data_wr_pool_size"],
                        ", ".join(srq) or "none", t["accepted"], t["closed"]))
    ok = ok and good
print("; ".join(parts))
sys.exit(0 if ok and parts else 1)
' "$TT_TRTYPE") && { echo "$out"; return 0; }
        sleep 0.5
    done
    echo "${out:-nvmf_get_stats did not answer}"
    return 1
}

# tt_count_ctrlrs NQN: controllers of NQN the target holds now.
tt_count_ctrlrs() {
    tt_rpc nvmf_subsystem_get_controllers "{\"nqn\": \"$1\"}" \
        | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'
}

# tt_log_grep ERE: the target log's lines matching ERE (1 if none).
tt_log_grep() { grep -E "$1" "$TT_LOG"; }

# tt_serve: run the host's requests (tt_tgt) in order until the host
# signals "done" (0) or is gone (1). Each request is one shell command
# line; its output and exit status go back as "ans-N".
tt_serve() {
    # Odd names: the requests run in this shell (tt_tgt_stop must `wait`
    # for tern-tgt) and may set variables of their own (i, n, ...).
    local _tt_i=1 _tt_f _tt_cmd _tt_rc _tt_out
    while :; do
        _tt_f=$TERN_VM_SYNC/$TERN_VM_PEER_ROLE.req-$_tt_i
        if [ -e "$_tt_f" ]; then
            _tt_cmd=$(cat "$_tt_f")
            vm_log "request $_tt_i: $_tt_cmd" >&2
            eval "$_tt_cmd" > "$TT_RUN/req.out" 2>&1; _tt_rc=$?
            _tt_out=$(cat "$TT_RUN/req.out")
            printf '%s\n' "$_tt_out" | sed 's/^/    /' >&2
            vm_signal "ans-$_tt_i" "$(printf '%s\nrc=%d' "$_tt_out" "$_tt_rc")"
            _tt_i=$((_tt_i + 1))
            continue
        fi
        [ -e "$TERN_VM_SYNC/$TERN_VM_PEER_ROLE.done" ] && return 0
        vm_peer_gone && return 1
        sleep 0.2
    done
}

# tt_counters: the TCP transport's fault counters per lcore, one line.
tt_counters() {
    tt_rpc nvmf_get_stats | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("; ".join("lcore %d: accepted %d, buffer waits %d, term sent %d, term received %d, "
                "digest errors %d/%d, commands failed %d" % (
    p["lcore"], t["accepted"], t["buffer_waits"], t["term_reqs_sent"], t["term_reqs_received"],
    t["header_digest_errors"], t["data_digest_errors"], p["commands_failed"])
    for p in s["poll_groups"] for t in p["transports"]))'
}

# tt_target_main CONFIG: the whole tgt side of a test: start tern-tgt on
# CONFIG, tell the host (ready: ok|fail), serve its requests, stop the
# target if the host did not, look for signs of internal trouble in its
# log, print the counts and exit.
tt_target_main() {
    local bad r
    if tt_tgt_start "$1"; then
        tt_pass "tern-tgt started" "pid $TT_PID, config $1"
        vm_signal ready ok
    else
        tt_fail "tern-tgt started" "$(tail -n 3 "$TT_LOG" | tr '\n' '|')"
        vm_signal ready fail
    fi
    tt_serve || tt_fail "host finished" "the host guest ended without signalling done"
    if [ -n "$TT_PID" ]; then
        # Not in $(...): only this shell can `wait` for tern-tgt.
        tt_tgt_stop 15 > "$TT_RUN/stop.out" && tt_pass "tern-tgt stopped at the test's end" "$(cat "$TT_RUN/stop.out")" \
            || tt_fail "tern-tgt stopped at the test's end" "$(cat "$TT_RUN/stop.out")"
    fi
    bad=$(grep -E 'freed with .* outstanding|still registered at exit|cannot reach|no memory|Segmentation|Assertion|panic' "$TT_LOG")
    [ -z "$bad" ] && tt_pass "target log has no internal errors" \
        || tt_fail "target log has no internal errors" "$(echo "$bad" | head -n 3 | tr '\n' '|')"
    tt_summary
    exit
}

# ------------------------------------------------------------------ host side
# tt_tgt COMMAND...: run COMMAND (a shell command line, e.g. a tt_* helper)
# in the tgt guest; prints its output; returns its exit status (99 when
# the tgt guest did not answer within TT_TGT_TIMEOUT s, default 90).
# Requests are numbered by the markers already sent (callers use $(...)).
tt_tgt() {
    local ans rc n
    n=$(( $(ls "$TERN_VM_SYNC" | grep -c "^$TERN_VM_ROLE\.req-[0-9]*\$") + 1 ))
    vm_signal "req-$n" "$*"
    ans=$(vm_wait "ans-$n" "${TT_TGT_TIMEOUT:-90}") || { echo "the tgt guest did not answer '$*'"; return 99; }
    rc=$(printf '%s\n' "$ans" | sed -n 's/^rc=//p' | tail -n 1)
    printf '%s\n' "$ans" | sed '$d'
    return "${rc:-99}"
}

# tt_need PROGRAM...: ENVIRONMENT when one is missing in the guest.
tt_need() {
    local p
    for p in "$@"; do
        command -v "$p" > /dev/null || vm_env_fail "program '$p' missing in the $TERN_VM_ROLE guest (the guests run the machine's /)"
    done
}

# tt_host_wait_ready: wait for the tgt guest's tern-tgt (ENVIRONMENT when
# it is not built or the tgt guest reported ENVIRONMENT).
tt_host_wait_ready() {
    local r
    [ -x "$TT_BIN" ] || vm_env_fail "tern-tgt not built: $TT_BIN (build first; TERN_BUILD_DIR=${TERN_BUILD_DIR:-unset})"
    if ! r=$(vm_wait ready 150); then
        [ "$(cat "$TERN_VM_PEER_DONE" 2> /dev/null)" = 3 ] && vm_env_fail "the tgt guest reported ENVIRONMENT (see its log)"
        tt_abort "target ready" "the tgt guest never signalled ready"
    fi
    [ "$r" = ok ] || tt_abort "target ready" "tern-tgt did not start (see the tgt log)"
}

# A host identity of our own (not /etc/nvme, which is the machine's).
TT_HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:7e57a0b1-0000-4000-8000-000000000001
TT_HOSTID=7e57a0b1-0000-4000-8000-000000000001

# tt_ctrls NQN: controller names (nvmeN) connected to NQN, one a line.
tt_ctrls() {
    local c
    for c in /sys/class/nvme/nvme*; do
        [ -e "$c/subsysnqn" ] && [ "$(cat "$c/subsysnqn" 2> /dev/null)" = "$1" ] && echo "${c##*/}"
    done
    return 0
}

# tt_ns_dev NQN NSID: the namespace's block device (/dev/nvmeXnY), if any.
tt_ns_dev() {
    local b
    for b in /sys/block/nvme*; do
        [[ ${b##*/} =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
        [ "$(cat "$b/device/subsysnqn" 2> /dev/null)" = "$1" ] || continue
        [ "$(cat "$b/nsid" 2> /dev/null)" = "$2" ] && [ -b "/dev/${b##*/}" ] && { echo "/dev/${b##*/}"; return 0; }
    done
    return 1
}

# tt_wait_ns NQN NSID [TIMEOUT=20]: wait for the namespace's block device.
tt_wait_ns() {
    local i
    for ((i = 0; i < ${3:-20} * 5; i++)); do
        tt_ns_dev "$1" "$2" > /dev/null && return 0
        sleep 0.2
    done
    return 1
}

# tt_connect NQN [nvme connect options]: connect with our host identity;
# prints the new controller (nvmeN). Output of nvme-cli in tt-connect.log.
tt_connect() {
    local nqn=$1 before c i
    shift
    before=$(tt_ctrls "$nqn")
    timeout 60 nvme connect -t "$TT_TRTYPE" -a "$TERN_VM_TGT_ADDR" -s "$TT_PORT" -n "$nqn" \
        --hostnqn="$TT_HOSTNQN" --hostid="$TT_HOSTID" "$@" >> "$TERN_VM_TEST_DIR/nvme-connect.log" 2>&1 \
        || return 1
    for ((i = 0; i < 50; i++)); do
        c=$(comm -13 <(echo "$before") <(tt_ctrls "$nqn") | head -n 1)
        [ -n "$c" ] && { echo "$c"; return 0; }
        sleep 0.2
    done
    return 1
}

# tt_disconnect NQN: disconnect every controller of NQN (bounded).
tt_disconnect() { timeout 60 nvme disconnect -n "$1" > /dev/null 2>&1; }

# tt_fio NAME TIMEOUT JOBFILE: run fio (JSON output in the test dir);
# prints one summary line per job name: "name ok|ERR writes reads"; the
# return is fio's (124: timed out).
tt_fio() {
    local name=$1 t=$2 job=$3 rc
    timeout -k 5 "$t" fio --output-format=json --output="$TERN_VM_TEST_DIR/fio-$name.json" "$job" \
        > "$TERN_VM_TEST_DIR/fio-$name.txt" 2>&1
    rc=$?
    python3 - "$TERN_VM_TEST_DIR/fio-$name.json" "$TERN_VM_TEST_DIR/fio-$name.txt" <<'PY' 2> /dev/null
import json, sys, collections
try:
    text = open(sys.argv[1]).read()
    d = json.loads(text[text.index("{"):])
except Exception as e:
    print("- no fio JSON output (%s)" % e)
    sys.exit(0)
agg = collections.OrderedDict()
for j in d.get("jobs", []):
    a = agg.setdefault(j["jobname"], [0, 0, 0, 0])
    a[0] = a[0] or j.get("error", 0)
    a[1] += j["write"]["total_ios"]
    a[2] += j["read"]["total_ios"]
    a[3] = max(a[3], j.get("job_runtime", 0))
for n, (err, w, r, ms) in agg.items():
    print("%s %s writes=%d reads=%d %.1fs" % (n, "ok" if not err else "error=%d" % err, w, r, ms / 1000.0))
if any(a[0] for a in agg.values()):
    # fio's own words for the first failure (verify: bad header/crc ... at offset)
    try:
        lines = [l.strip() for l in open(sys.argv[2], errors="replace")
                 if "verify" in l or "error" in l.lower() or "bad" in l]
    except OSError:
        lines = []
    print("- fio said: " + (" | ".join(lines[:4]) if lines else "nothing on stderr"))
PY
    return $rc
}

# tt_dmesg_nvme_errors: kernel NVMe host lines that mean trouble.
tt_dmesg_nvme_errors() {
    dmesg | grep -E 'nvme' | grep -iE 'timeout|error|fail|invalid|unexpected|digest|reset|abort|warn|oops|BUG' \
        | grep -v 'Removing ctrl'
}
