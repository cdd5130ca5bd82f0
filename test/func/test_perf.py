#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Functional tests of tern-perf against tern-tgt's NVMe/TCP target on
loopback: every workload, JSON output, verify mode (with digests, in-capsule
and R2T writes; and that it catches a bit flipped by a test-only bdev),
several qpairs, and the one-line errors for a bad transport
ID, an unreachable target and an unknown subsystem; an RDMA transport ID
on a machine without an RDMA device. Pools are full after.
Local mode (-c, bdevs without a network): every workload, verify over two
lcores, failures on a bdev that keeps nothing, bad configs and names.

Usage: test_perf.py BUILD_DIR [SOURCE_DIR]. Ends with `N passed, N failed`.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_nvmf_tcp import SUB, Tgt, free_port  # noqa: E402
from test_tgt import BUILD, WORK, Target, run_tests  # noqa: E402

PERF = os.path.join(BUILD, "app", "tern-perf", "tern-perf")
TGT_TEST = os.path.join(BUILD, "test", "func", "tern-tgt-test")
_runs = [0]


def perf(args, lcores="1", timeout=60):
    _runs[0] += 1
    eal = ["-l", lcores, "--no-huge", "-m", "128", "--no-pci", "--no-telemetry",
           "--file-prefix", "tern-perf-%d-%d" % (os.getpid(), _runs[0]), "--log-level", "*:warning"]
    p = subprocess.run([PERF] + eal + ["--"] + args, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def trid(port, nqn=SUB):
    return "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:%d subnqn:%s" % (port, nqn)


def result(out):
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    assert len(lines) == 1, "want one JSON line, got:\n%s" % out
    return json.loads(lines[0])


def t_every_workload_json():
    t = Tgt()
    try:
        for w, extra in (("randread", []), ("read", []), ("randwrite", []), ("write", []),
                         ("rw", ["-M", "70"]), ("randrw", [])):
            rc, out, err = perf(["-r", trid(t.port), "-q", "8", "-o", "4096", "-w", w, "-t", "1",
                                 "--json"] + extra)
            assert rc == 0, "%s: exit %d\n%s%s" % (w, rc, out, err)
            r = result(out)
            assert r["workload"] == w and r["errors"] == 0, r
            assert r["ios"] > 0 and r["iops"] > 0 and r["mib_s"] > 0, r
            lat = r["lat_us"]
            assert 0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["p9999"] <= lat["max"], lat
            assert r["read_pct"] == {"randread": 100, "read": 100, "randwrite": 0, "write": 0,
                                     "rw": 70, "randrw": 50}[w], r
        ok, st = t.pools_full()
        assert ok, st
    finally:
        t.close()


def t_verify_with_digests_incapsule_and_r2t():
    t = Tgt(transport={"in_capsule_data_size": 4096})
    try:
        for size, dg in ((4096, []), (65536, ["--hdgst", "--ddgst"]), (131072, ["--ddgst"])):
            rc, out, err = perf(["-r", trid(t.port), "-q", "4", "-o", str(size), "-w", "randrw",
                                 "-t", "1", "-V", "--json"] + dg)
            assert rc == 0, "%d %s: exit %d\n%s%s" % (size, dg, rc, out, err)
            r = result(out)
            assert r["verify_failures"] == 0 and r["errors"] == 0 and r["ios"] > 0, r
        ok, st = t.pools_full()
        assert ok, st
    finally:
        t.close()


def t_qpairs_over_two_lcores_and_table():
    t = Tgt()
    try:
        rc, out, err = perf(["-r", trid(t.port), "-q", "4", "-P", "2", "-w", "randread", "-t", "1",
                             "--warmup", "1"], lcores="0-1")
        assert rc == 0, "exit %d\n%s%s" % (rc, out, err)
        rows = [ln for ln in out.splitlines() if ln.startswith("ctrlr ")]
        assert len(rows) == 2 and "lcore 0" in rows[0] and "lcore 1" in rows[1], out
        assert any(ln.startswith("total") for ln in out.splitlines()), out
        ok, st = t.pools_full()
        assert ok, st
    finally:
        t.close()


def t_bad_trid_unreachable_and_unknown_nqn():
    rc, out, err = perf(["-r", "trtype:FOO traddr:127.0.0.1"])
    assert rc == 2 and "unknown trtype 'FOO'" in err, (rc, err)
    rc, out, err = perf(["-r", "trtype:TCP traddr:127.0.0.1 trsvcid:99999"])
    assert rc == 2 and "not a port" in err, (rc, err)
    rc, out, err = perf(["-r", "trtype:TCP traddr:127.0.0.1 subnqn:nqn.bad"])
    assert rc == 2 and "subnqn" in err, (rc, err)
    rc, out, err = perf(["-q", "8"])
    assert rc == 2 and "no target" in err, (rc, err)
    port = free_port()
    rc, out, err = perf(["-r", trid(port), "-t", "1"])
    assert rc == 3 and "cannot connect" in err and "refused" in err.lower(), (rc, err)
    assert len(err.strip().splitlines()) == 1, err
    t = Tgt()
    try:
        rc, out, err = perf(["-r", trid(t.port, "nqn.2016-06.io.tern:nosuch"), "-t", "1"])
        assert rc == 3 and "refused" in err and "nosuch" in err, (rc, err)
        assert len(err.strip().splitlines()) == 1, err
    finally:
        t.close()


def t_rdma_without_a_device_fails_in_one_line():
    """No RDMA device on this machine (the real RDMA runs are in the VMs,
    perf-knvmet-rdma.sh): one line that says so, exit 3, nothing hangs.
    Digests are TCP's: asking for them with an RDMA trid is a usage error."""
    rdma = "trtype:RDMA adrfam:IPv4 traddr:127.0.0.1 trsvcid:%d subnqn:%s" % (free_port(), SUB)
    rc, out, err = perf(["-r", rdma, "-t", "1"], timeout=30)
    assert rc == 3, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tern-perf: RDMA 127.0.0.1:"), err
    if not os.path.exists("/dev/infiniband/rdma_cm"):
        assert "no RDMA device" in err, err
    for dg in ("--hdgst", "--ddgst"):
        rc, out, err = perf(["-r", rdma, "-t", "1", dg])
        assert rc == 2 and "NVMe/TCP digests" in err and "RDMA" in err, (dg, rc, err)
        assert len(err.strip().splitlines()) == 1, err


def t_verify_catches_a_flipped_bit():
    """tern-tgt-test's bitflip bdev flips a bit of block 37 on every read."""
    port = free_port()
    cfg = {"subsystems": [
        {"subsystem": "bdev", "config": [
            {"method": "bdev_bitflip_create",
             "params": {"name": "F0", "num_blocks": 64, "block_size": 512, "flip_lba": 37}}]},
        {"subsystem": "nvmf", "config": [
            {"method": "nvmf_create_transport", "params": {"trtype": "TCP"}},
            {"method": "nvmf_create_subsystem", "params": {"nqn": SUB, "allow_any_host": True}},
            {"method": "nvmf_subsystem_add_ns",
             "params": {"nqn": SUB, "namespace": {"bdev_name": "F0"}}},
            {"method": "nvmf_subsystem_add_listener",
             "params": {"nqn": SUB, "listen_address": {"trtype": "TCP", "adrfam": "IPv4",
                                                       "traddr": "127.0.0.1",
                                                       "trsvcid": str(port)}}}]}]}
    path = os.path.join(WORK, "bitflip-%d.json" % port)
    with open(path, "w") as f:
        json.dump(cfg, f)
    t = Target(eal=["-l", "0", "--no-huge", "-m", "128", "--no-pci"], app=["-c", path],
               binary=TGT_TEST)
    try:
        t.call("framework_wait_init")
        rc, out, err = perf(["-r", trid(port), "-q", "1", "-o", "512", "-w", "randwrite", "-t",
                             "2", "-V"])
        assert rc == 1, "exit %d\n%s%s" % (rc, out, err)
        bad = [ln for ln in err.splitlines() if "VERIFY FAILED" in ln]
        assert bad and all(" LBA 37 byte 100:" in ln for ln in bad), err
        assert "verify failures" in out, out
        # Without -V nothing looks at the data: the same target passes.
        rc, out, err = perf(["-r", trid(port), "-q", "1", "-o", "512", "-w", "read", "-t", "1"])
        assert rc == 0, "exit %d\n%s%s" % (rc, out, err)
    finally:
        rc = t.stop()[0]
        t.kill()
        assert rc == 0, rc


class FakeController:
    """A listener that answers tern-perf's ICReq with `icresp` (bytes) and
    then, if given, sends `after` once the Connect capsule has arrived."""

    def __init__(self, icresp, after=None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.icresp, self.after = icresp, after
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def recv_n(self, c, n):
        b = b""
        while len(b) < n:
            x = c.recv(n - len(b))
            if not x:
                break
            b += x
        return b

    def serve(self):
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        with c:
            c.settimeout(20)
            self.recv_n(c, 128)                     # ICReq
            c.sendall(self.icresp)
            if self.after is not None:
                self.recv_n(c, 72 + 1024)           # Connect capsule with its data
                c.sendall(self.after)
            try:
                while c.recv(4096):
                    pass
            except OSError:
                pass

    def close(self):
        self.sock.close()
        self.thread.join(5)


def icresp(maxh2cdata=131072, cpda=0, dgst=0):
    return struct.pack("<BBBBIHBBI", 0x01, 0, 128, 0, 128, 0, cpda, dgst, maxh2cdata) + bytes(112)


def t_controller_errors_fail_cleanly():
    """A target whose ICResp or first response is wrong: one line, exit 3, no hang."""
    cases = [
        (icresp(maxh2cdata=100), None, "ICResp not acceptable"),
        (icresp(dgst=2), None, "digest the host did not ask for"),
        # A valid ICResp, then a CapsuleResp for CID 77, which is not in flight.
        (icresp(), struct.pack("<BBBBIIIHHHH", 0x05, 0, 24, 0, 24, 0, 0, 0, 0, 77, 0),
         "CapsuleResp for a command not in flight"),
        # A valid ICResp, then a PDU type only a host sends.
        (icresp(), struct.pack("<BBBBI", 0x04, 0, 72, 0, 72) + bytes(64), "malformed PDU header"),
    ]
    for ic, after, want in cases:
        f = FakeController(ic, after)
        try:
            rc, out, err = perf(["-r", trid(f.port), "-t", "1"], timeout=30)
            assert rc == 3 and want in err, (want, rc, err)
        finally:
            f.close()


def t_target_killed_mid_run():
    """The target dies under load: tern-perf stops by itself, says why, exits 1."""
    t = Tgt()
    try:
        eal = ["-l", "1", "--no-huge", "-m", "128", "--no-pci", "--no-telemetry",
               "--file-prefix", "tern-perf-kill-%d" % os.getpid(), "--log-level", "*:warning"]
        p = subprocess.Popen([PERF] + eal + ["--", "-r", trid(t.port), "-q", "8", "-w", "randrw",
                                              "-t", "30"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        t.t.proc.kill()
        out, err = p.communicate(timeout=20)
        assert p.returncode == 1, (p.returncode, out, err)
        assert "the I/O qpair failed" in err and "first error" in err, err
        total = [ln for ln in out.splitlines() if ln.startswith("total")]
        assert total and float(total[0].split()[1]) > 0, out    # IOPS over the time it ran
    finally:
        t.t.kill()


def t_sigint_ends_the_run_early_with_a_report():
    """SIGINT (and SIGTERM) stop a long run: exit 0, the JSON totals of the
    time it ran, verify clean, and a line saying why it stopped early."""
    t = Tgt()
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            eal = ["-l", "1", "--no-huge", "-m", "128", "--no-pci", "--no-telemetry",
                   "--file-prefix", "tern-perf-sig-%d-%d" % (os.getpid(), sig),
                   "--log-level", "*:warning"]
            p = subprocess.Popen([PERF] + eal + ["--", "-r", trid(t.port), "-q", "8", "-w", "randrw",
                                                  "-V", "-t", "600", "--json"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(2)
            t0 = time.time()
            p.send_signal(sig)
            out, err = p.communicate(timeout=30)
            assert p.returncode == 0, (sig, p.returncode, out, err)
            assert time.time() - t0 < 15, "took %.1f s to stop" % (time.time() - t0)
            assert ("%s: stopping after" % signal.Signals(sig).name) in err, err
            r = result(out)
            assert r["ios"] > 0 and r["errors"] == 0 and r["verify_failures"] == 0, r
        ok, st = t.pools_full()
        assert ok, st
    finally:
        t.t.kill()


# ---- local mode: -c BDEV_CONFIG, no network
LOCAL_CFG = {"subsystems": [
    {"subsystem": "bdev", "config": [
        {"method": "bdev_malloc_create", "params": {"name": "Malloc0", "num_blocks": 8192,
                                                    "block_size": 512}},
        {"method": "bdev_null_create", "params": {"name": "Null0", "num_blocks": 65536,
                                                  "block_size": 4096}}]},
    # A target's config serves: the nvmf part is left out in local mode.
    {"subsystem": "nvmf", "config": [{"method": "nvmf_create_transport",
                                      "params": {"trtype": "TCP"}}]}]}


def local_cfg(cfg=None, name="local"):
    path = os.path.join(WORK, "perf-%s-%d.json" % (name, os.getpid()))
    with open(path, "w") as f:
        json.dump(LOCAL_CFG if cfg is None else cfg, f)
    return path


def t_local_every_workload_and_verify_over_two_lcores():
    cfg = local_cfg()
    for w in ("randread", "read", "randwrite", "write", "rw", "randrw"):
        rc, out, err = perf(["-c", cfg, "-b", "Null0", "-q", "16", "-w", w, "-t", "1", "--json"])
        assert rc == 0, "%s: exit %d\n%s%s" % (w, rc, out, err)
        r = result(out)
        assert r["workload"] == w and r["errors"] == 0 and r["qpairs"] == 1, r
        assert r["ios"] > 0 and r["iops"] > 0, r
        lat = r["lat_us"]
        assert 0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"], lat
    # Verify on malloc, 512-byte blocks, 2 jobs on each of 2 lcores; a table.
    rc, out, err = perf(["-c", cfg, "-b", "Malloc0", "-P", "4", "-q", "8", "-o", "8192", "-w",
                         "randrw", "-V", "-t", "2"], lcores="0-1")
    assert rc == 0, "exit %d\n%s%s" % (rc, out, err)
    rows = [ln for ln in out.splitlines() if ln.startswith("bdev Malloc0 qpair")]
    assert len(rows) == 4 and "(lcore 0)" in out and "(lcore 1)" in out, out
    assert "errors" not in out and "VERIFY" not in err, out + err


def t_local_verify_failures_on_a_null_bdev():
    # The null bdev keeps nothing: every read-back fails the check. The
    # first failures are named, the rest counted; exit 1.
    rc, out, err = perf(["-c", local_cfg(), "-b", "Null0", "-q", "8", "-V", "-t", "1", "--json"])
    assert rc == 1, "exit %d\n%s%s" % (rc, out, err)
    r = result(out)
    assert r["verify_failures"] > 100, r
    named = [ln for ln in err.splitlines() if "VERIFY FAILED: bdev Null0" in ln]
    assert len(named) == 10 and "counted, not printed" in err, err


def t_local_bad_config_and_names():
    bad_entry = {"subsystems": [{"subsystem": "bdev", "config": [
        {"method": "bdev_malloc_create", "params": {"name": "M", "num_blocks": 8,
                                                    "block_size": 1000}}]}]}
    none = {"subsystems": [{"subsystem": "nvmf", "config": []}]}
    cases = [
        (["-c", "/nonexistent/x.json"], 2, "unable to open /nonexistent/x.json"),
        (["-c", "/etc/hostname"], 2, "line 1"),
        (["-c", local_cfg(), "-b", "Nope"], 2, "bdev Nope: no such bdev"),
        (["-b", "Null0"], 2, "-b names a bdev of the -c configuration"),
        (["-c", local_cfg(), "-r", trid(4420)], 2, "do not mix"),
        (["-c", local_cfg(), "--hdgst"], 2, "go with -r"),
        (["-c", local_cfg(), "-b", "Malloc0", "-o", "4000"], 2, "not a multiple"),
        (["-c", local_cfg(bad_entry, "bad")], 3, "the bdev configuration failed"),
        (["-c", local_cfg(none, "none")], 3, "makes no bdev"),
    ]
    for args, want, text in cases:
        rc, out, err = perf(args + ["-t", "1"])
        assert rc == want and text in err, "%s: exit %d (want %d)\n%s%s" % (args, rc, want, out, err)
        one = [ln for ln in err.splitlines() if ln.startswith("tern-perf:")]
        assert len(one) == 1, "one line, not:\n%s" % err


def t_bench_script_quick_prints_json_and_draws_the_plot():
    src = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))
    out = os.path.join(WORK, "bench")
    p = subprocess.run([sys.executable, os.path.join(src, "test", "bench", "tcp-loopback"),
                        "--quick", "--build", BUILD, "--out", out],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "exit %d\n%s%s" % (p.returncode, p.stdout, p.stderr)
    objs = [json.loads(ln) for ln in p.stdout.splitlines()]
    kinds = [o["kind"] for o in objs]
    assert kinds.count("result") == 2 and kinds.count("summary") == 2, kinds
    assert kinds.count("machine") == 1 and kinds.count("memory") == 1, kinds
    for o in objs:
        if o["kind"] == "result":
            assert o["iops"] > 0 and o["errors"] == 0, o
            assert o["cpu_ns_per_io"] > 0 and o["rss_kib"] > 0, o
            assert set(("avg", "p50", "p99", "p999")) <= set(o["lat_us"]), o
        if o["kind"] == "memory":
            assert o["rss_kib_64qp"] > o["rss_kib_1qp"] > 0, o
    with open(os.path.join(out, "latency.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", "latency.png is not a PNG"
    with open(os.path.join(out, "summary.md")) as f:
        md = f.read()
    assert "| null | 4k-randread-qd32 | 1 |" in md, md
    # Bad usage: one line, exit 2.
    p = subprocess.run([sys.executable, os.path.join(src, "test", "bench", "tcp-loopback"),
                        "--build", BUILD, "--bdevs", "nvme"], capture_output=True, text=True)
    assert p.returncode == 2 and "'nvme' is not one of" in p.stderr, p.stderr


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("t_")]


if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
