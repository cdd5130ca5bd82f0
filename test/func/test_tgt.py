#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Functional tests of tern-tgt: start it on two lcores without hugepages,
talk to it over its RPC socket (valid, malformed, oversized, pipelined,
half-closed), stop it with signals, and check nothing is left behind.

Usage: test_tgt.py BUILD_DIR [SOURCE_DIR]. Prints one line per check and
ends with `N passed, N failed`. Exit 0 only if all passed.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
SRC = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else
                      os.path.join(os.path.dirname(__file__), "..", ".."))
TGT = os.path.join(BUILD, "app", "tern-tgt", "tern-tgt")
RPC = os.path.join(SRC, "usertools", "tern-rpc.py")
WORK = tempfile.mkdtemp(prefix="tern-func-")
EMPTY_CONFIG = os.path.join(WORK, "empty.json")
with open(EMPTY_CONFIG, "w") as _f:
    _f.write('{"subsystems": []}\n')
EAL = ["-l", "0-1", "--no-huge", "-m", "128", "--no-pci"]


class Target:
    """A tern-tgt process with its own socket and DPDK file prefix."""
    count = 0

    def __init__(self, eal=None, app=None, wait=True, default_config=False, binary=None):
        Target.count += 1
        self.prefix = "tern-func-%d-%d" % (os.getpid(), Target.count)
        self.sock = os.path.join(WORK, "tgt%d.sock" % Target.count)
        self.log = os.path.join(WORK, "tgt%d.log" % Target.count)
        app = list(app or [])
        if "-c" not in app and not default_config:
            # The embedded default listens on 127.0.0.1:4420; tests that run
            # targets side by side start empty unless they test the default.
            app += ["-c", EMPTY_CONFIG]
        args = [binary or TGT] + (EAL if eal is None else eal) + ["--file-prefix", self.prefix, "--",
                                                        "-r", self.sock] + app
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("tern-tgt exited with %d before serving:\n%s"
                                     % (self.proc.returncode, self.output()))
            if os.path.exists(self.sock):
                try:
                    self.call("rpc_get_methods")
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError("tern-tgt did not serve RPC within %ds:\n%s" % (timeout, self.output()))

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.sock)
        return s

    def call(self, method, params=None, rid=1):
        s = self.connect()
        req = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            req["params"] = params
        s.sendall(json.dumps(req).encode())
        line = read_line(s)
        s.close()
        return json.loads(line)

    def ok(self, method, params=None):
        """Call and expect a result; return it."""
        r = self.call(method, params)
        assert "error" not in r, "%s %s: %s" % (method, params, r)
        return r["result"]

    def output(self):
        self.logf.flush()
        with open(self.log) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=2.0):
        t0 = time.time()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("tern-tgt did not exit within %.1fs of %s" % (timeout, sig.name))
        return rc, time.time() - t0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()


def read_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        buf += chunk
    return buf.decode()


def read_to_eof(s):
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return buf.decode()
        buf += chunk


def responses(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


# --------------------------------------------------------------------------
def check_environment():
    """Environment, not product: say what is missing."""
    missing = []
    if not os.access(TGT, os.X_OK):
        missing.append("tern-tgt binary at %s (build first)" % TGT)
    if os.cpu_count() is None or os.cpu_count() < 2:
        missing.append("2 CPUs (the tests pin lcores 0-1)")
    if missing:
        print("ENVIRONMENT: missing " + "; ".join(missing))
        sys.exit(77)


def t_acceptance_two_reactors_and_clean_sigterm():
    # The acceptance command: tern-tgt -l 0-1 --no-huge -- (plus a private
    # prefix and socket so runs cannot collide).
    t = Target(eal=["-l", "0-1", "--no-huge"], default_config=True)
    try:
        r = t.call("framework_get_reactors")["result"]
        lcores = sorted(x["lcore"] for x in r["reactors"])
        assert lcores == [0, 1], "reactors on %s" % lcores
        assert r["tick_rate"] > 0
        for x in r["reactors"]:
            assert x["busy"] + x["idle"] > 0, x
            assert "socket" in x and "pollers" in x, x
        main = [x for x in r["reactors"] if x["lcore"] == 0][0]
        assert any(p["name"] == "rpc_server" for p in main["pollers"]), main["pollers"]
        rc, dt = t.stop(signal.SIGTERM)
        assert rc == 0, "exit status %d\n%s" % (rc, t.output())
        assert dt < 2.0, "took %.2fs" % dt
        assert not os.path.exists(t.sock), "RPC socket left behind"
        for d in ("/run/dpdk", "/var/run/dpdk"):
            assert not os.path.exists(os.path.join(d, t.prefix)), \
                "DPDK runtime dir %s/%s left behind: %s" % (d, t.prefix,
                                                          os.listdir(os.path.join(d, t.prefix)))
        out = t.output()
        assert "reactor on lcore 0" in out and "reactor on lcore 1" in out, out
        assert "Terminated received: stopping" in out, out
    finally:
        t.kill()


def t_rpc_errors_and_server_keeps_answering():
    t = Target()
    try:
        # Method not found, invalid params, invalid request, bad jsonrpc.
        r = t.call("no_such_method")
        assert r["error"]["code"] == -32601 and r["id"] == 1, r
        r = t.call("tern_get_version", {"bogus": 1})
        assert r["error"]["code"] == -32602 and "bogus" in r["error"]["message"], r
        r = t.call("tern_get_version", [1])
        assert r["error"]["code"] == -32602, r
        s = t.connect()
        s.sendall(b'{"jsonrpc":"1.0","id":4,"method":"tern_get_version"}')
        r = json.loads(read_line(s))
        assert r["error"]["code"] == -32600 and r["id"] == 4, r
        s.sendall(b'[{"jsonrpc":"2.0","id":5,"method":"tern_get_version"}]')
        r = json.loads(read_line(s))
        assert r["error"]["code"] == -32600, r
        s.close()

        # Malformed: parse error, then the server closes this connection.
        s = t.connect()
        s.sendall(b'{"jsonrpc": "2.0", "id": 1, "method": tern}')
        out = responses(read_to_eof(s))
        assert len(out) == 1 and out[0]["error"]["code"] == -32700, out
        s.close()

        # Oversized: 2 MiB that never completes a request.
        s = t.connect()
        try:
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"' + b"x" * (2 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass    # the server may give up before we finish: that is the point
        out = responses(read_to_eof(s))
        assert len(out) == 1 and out[0]["error"]["code"] == -32600, out
        assert "larger than" in out[0]["error"]["message"], out
        s.close()

        # Pipelined and partial: three requests, split at odd places.
        s = t.connect()
        blob = b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "tern_get_version"}).encode()
                        for i in (11, 12, 13))
        for part in (blob[:7], blob[7:60], blob[60:]):
            s.sendall(part)
            time.sleep(0.01)
        got = [json.loads(read_line(s)) for _ in range(3)]
        assert sorted(x["id"] for x in got) == [11, 12, 13], got
        s.close()

        # Half-closed: the answer still arrives, then EOF.
        s = t.connect()
        s.sendall(b'{"jsonrpc":"2.0","id":21,"method":"framework_get_reactors"}')
        s.shutdown(socket.SHUT_WR)
        out = responses(read_to_eof(s))
        assert len(out) == 1 and out[0]["id"] == 21 and "reactors" in out[0]["result"], out
        s.close()

        # Gone before the answer, and a notification (no answer at all).
        for _ in range(10):
            s = t.connect()
            s.sendall(b'{"jsonrpc":"2.0","id":31,"method":"framework_get_reactors"}')
            s.close()
        s = t.connect()
        s.sendall(b'{"jsonrpc":"2.0","method":"tern_get_version"}'
                  b'{"jsonrpc":"2.0","id":32,"method":"tern_get_version"}')
        r = json.loads(read_line(s))
        assert r["id"] == 32, "the notification got no answer: %s" % r
        s.close()

        # Still serving, still alive.
        r = t.call("tern_get_version", rid=99)
        with open(os.path.join(SRC, "VERSION")) as f:
            assert r["result"]["version"] == f.read().strip(), r
        assert t.proc.poll() is None
        rc, _ = t.stop(signal.SIGINT)
        assert rc == 0, "SIGINT exit %d" % rc
    finally:
        t.kill()


def t_rpc_client_tool():
    t = Target()
    try:
        p = run([sys.executable, RPC, "-s", t.sock, "framework_get_reactors"])
        assert p.returncode == 0, p.stderr
        assert len(json.loads(p.stdout)["reactors"]) == 2, p.stdout
        p = run([sys.executable, RPC, "-s", t.sock, "rpc_get_methods", "--current", "true"])
        assert p.returncode == 0 and "framework_start_init" not in p.stdout, p.stdout
        p = run([sys.executable, RPC, "-s", t.sock, "rpc_get_methods", "-j", '{"current": false}'])
        assert "framework_start_init" in json.loads(p.stdout), p.stdout
        p = run([sys.executable, RPC, "-s", t.sock, "rpc_get_methods", "--current", "yes"])
        assert p.returncode == 1 and "-32602" in p.stderr and "current" in p.stderr, p.stderr
        p = run([sys.executable, RPC, "-s", t.sock, "nope"])
        assert p.returncode == 1 and "Method not found" in p.stderr, p.stderr
        p = run([sys.executable, RPC, "-s", os.path.join(WORK, "absent.sock"), "rpc_get_methods"])
        assert p.returncode == 2 and "cannot talk" in p.stderr, p.stderr
    finally:
        t.kill()


def t_config_file_replayed_and_bad_config_stops_startup():
    good = os.path.join(WORK, "good.json")
    with open(good, "w") as f:
        json.dump({"subsystems": [{"subsystem": "framework", "config": [
            {"method": "rpc_get_methods", "params": {"current": True}}]}]}, f)
    t = Target(app=["-c", good])
    try:
        assert t.call("framework_wait_init").get("result") is True
        assert "good.json: configuration applied" in t.output(), t.output()
        rc, _ = t.stop()
        assert rc == 0
    finally:
        t.kill()

    cases = [
        ({"subsystems": [{"subsystem": "bdev", "config": [
            {"method": "bdev_does_not_exist", "params": {}}]}]},
         ["bad1.json", "subsystem bdev", "bdev_does_not_exist", "Method not found"]),
        ({"subsystems": [{"subsystem": "framework", "config": [
            {"method": "rpc_get_methods", "params": {"current": 3}}]}]},
         ["bad2.json", "rpc_get_methods", "parameter current must be a boolean"]),
        ('{"subsystems": [ {"subsystem": "x", ', ["bad3.json", "line 1"]),
        ({"subsystem": []}, ["bad4.json", "\"subsystems\" array"]),
    ]
    for i, (cfg, expect) in enumerate(cases, 1):
        path = os.path.join(WORK, "bad%d.json" % i)
        with open(path, "w") as f:
            f.write(cfg if isinstance(cfg, str) else json.dumps(cfg))
        t = Target(app=["-c", path], wait=False)
        try:
            rc = t.proc.wait(timeout=20)
            out = t.output()
            assert rc == 1, "bad config %d: exit %d\n%s" % (i, rc, out)
            for e in expect:
                assert e in out, "bad config %d: %r not in log:\n%s" % (i, e, out)
            assert not os.path.exists(t.sock), "socket left after failed start"
        finally:
            t.kill()
    t = Target(app=["-c", os.path.join(WORK, "missing.json")], wait=False)
    try:
        assert t.proc.wait(timeout=20) == 1
        assert "missing.json" in t.output() and "No such file" in t.output(), t.output()
    finally:
        t.kill()


def t_wait_for_rpc():
    t = Target(app=["--wait-for-rpc"], default_config=True)
    try:
        methods = t.call("rpc_get_methods", {"current": True})["result"]
        assert "framework_start_init" in methods, methods
        assert "configuration applied" not in t.output()
        # wait_init answers only once the configuration is applied
        s = t.connect()
        s.sendall(b'{"jsonrpc":"2.0","id":41,"method":"framework_wait_init"}')
        s.settimeout(0.3)
        try:
            early = s.recv(100)
        except socket.timeout:
            early = b""
        assert early == b"", "framework_wait_init answered before init: %r" % early
        s.settimeout(10)
        r = t.call("framework_start_init")
        assert r.get("result") is True, r
        assert json.loads(read_line(s))["id"] == 41
        s.close()
        assert "embedded default config: configuration applied" in t.output(), t.output()
        r = t.call("framework_start_init")
        assert r["error"]["code"] == -1, r
        rc, _ = t.stop()
        assert rc == 0
    finally:
        t.kill()


def t_second_instance_on_same_socket_refused():
    t = Target()
    try:
        other = subprocess.run([TGT] + EAL + ["--file-prefix", t.prefix + "b", "--", "-r", t.sock],
                               capture_output=True, text=True, timeout=30)
        assert other.returncode == 1, other.returncode
        assert "served by another process" in other.stdout + other.stderr, other.stdout
        assert t.call("tern_get_version")["result"], "first instance unaffected"
        assert t.stop()[0] == 0
    finally:
        t.kill()


def t_command_line():
    p = run([TGT, "--help"])
    assert p.returncode == 0, p.returncode
    assert "Options (after `--`)" in p.stdout and "--wait-for-rpc" in p.stdout, p.stdout
    assert "EAL common options" in p.stdout, "EAL's half of the help is missing"
    p = run([TGT, "-l", "0", "--", "--help"])
    assert p.returncode == 0 and "EAL common options" in p.stdout
    p = run([TGT, "--", "--version"])
    assert p.returncode == 0 and p.stdout.startswith("tern-tgt "), p.stdout
    p = run([TGT, "--", "--bogus"])
    assert p.returncode == 2 and "unknown option --bogus" in p.stderr, p.stderr
    p = run([TGT, "--", "-c"])
    assert p.returncode == 2 and "needs an argument" in p.stderr, p.stderr
    p = run([TGT, "--", "extra"])
    assert p.returncode == 2 and "unexpected argument" in p.stderr, p.stderr
    p = run([TGT, "--", "--print-default-config"])
    assert p.returncode == 0 and "subsystems" in json.loads(p.stdout), p.stdout
    p = run([TGT, "-l", "0-1", "--no-huge", "--no-such-eal-flag", "--", "-r", os.path.join(WORK, "x.sock")])
    assert p.returncode == 1 and "EAL initialisation failed" in p.stdout + p.stderr, p.stdout + p.stderr


def t_bdevs_by_rpc():
    t = Target()
    try:
        r = t.call("bdev_malloc_create", {"name": "M0", "num_blocks": 2048, "block_size": 512})
        assert r["result"] == "M0", r
        r = t.call("bdev_null_create", {"name": "N0", "num_blocks": 1 << 30, "block_size": 4096,
                                        "uuid": "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"})
        assert r["result"] == "N0", r
        bdevs = {b["name"]: b for b in t.call("bdev_get_bdevs")["result"]}
        assert set(bdevs) == {"M0", "N0"}, bdevs
        assert bdevs["M0"]["num_blocks"] == 2048 and bdevs["M0"]["product_name"] == "malloc"
        assert bdevs["N0"]["uuid"] == "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", bdevs["N0"]
        assert bdevs["N0"]["supported_io_types"]["compare"] is False
        assert bdevs["M0"]["supported_io_types"]["compare"] is True
        # Bad input: clear errors, nothing else changes.
        r = t.call("bdev_malloc_create", {"name": "M0", "num_blocks": 8, "block_size": 512})
        assert r["error"]["code"] == -17, r
        r = t.call("bdev_malloc_create", {"name": "Big", "num_blocks": 1 << 40, "block_size": 512})
        assert r["error"]["code"] == -12 and "DPDK memory" in r["error"]["message"], r
        r = t.call("bdev_null_create", {"name": "X", "num_blocks": 8, "block_size": 513})
        assert r["error"]["code"] == -32602, r
        r = t.call("bdev_null_create", {"name": "X", "num_blocks": 8})
        assert r["error"]["code"] == -32602 and "block_size" in r["error"]["message"], r
        r = t.call("bdev_get_bdevs", {"name": "nope"})
        assert r["error"]["code"] == -19, r
        st = t.call("bdev_get_iostat")["result"]
        assert st["io_pool"]["size"] == st["io_pool"]["free"] > 0, st
        assert sorted(b["name"] for b in st["bdevs"]) == ["M0", "N0"], st
        assert st["bdevs"][0]["num_read_ops"] == 0 and st["bdevs"][0]["io_waiters"] == 0, st
        assert t.call("bdev_get_iostat", {"name": "nope"})["error"]["code"] == -19
        r = t.call("bdev_malloc_delete", {"name": "N0"})
        assert r["error"]["code"] == -19, "a malloc delete must not remove a null bdev: %s" % r
        r = t.call("bdev_set_options", {"bdev_io_pool_size": 1000})
        assert r["error"]["code"] == -1, "startup-only method at runtime: %s" % r
        assert len(t.call("bdev_get_bdevs")["result"]) == 2
        assert t.call("bdev_malloc_delete", {"name": "M0"})["result"] is True
        assert t.call("bdev_null_delete", {"name": "N0"})["result"] is True
        assert t.call("bdev_get_bdevs")["result"] == []
        assert t.stop()[0] == 0
        assert "never came back" not in t.output(), t.output()
    finally:
        t.kill()


def pci_device_on_a_driver():
    """A PCI function of this machine bound to a driver other than vfio-pci, or None."""
    base = "/sys/bus/pci/devices"
    for d in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        drv = os.path.join(base, d, "driver")
        if os.path.islink(drv) and os.path.basename(os.readlink(drv)) != "vfio-pci":
            return d, os.path.basename(os.readlink(drv))
    return None


def t_bdev_nvme_rpc_errors():
    # No device is attached on this machine: every refusal is an RPC error
    # object, the log says why, and nothing else changes.
    t = Target()
    try:
        def err(params, code, text=None, method="bdev_nvme_attach_controller"):
            r = t.call(method, params)
            assert "error" in r and r["error"]["code"] == code, "%s %s: %s" % (method, params, r)
            if text:
                assert text in r["error"]["message"], r

        good = {"name": "Nvme0", "trtype": "PCIe", "traddr": "0000:ff:1f.7"}
        err(dict(good, trtype="TCP"), -32602, "PCIe")
        err(dict(good, traddr="zz:1"), -32602, "not a PCI address")
        err(dict(good, traddr="0000:00:20.0"), -32602, "not a PCI address")   # device 0x20 > 0x1f
        err(dict(good, io_queue_size=2), -32602, "io_queue_size")
        err(dict(good, io_queue_size=8192), -32602, "io_queue_size")
        err(dict(good, bogus=1), -32602, "bogus")
        err(good, -19)
        assert "0000:ff:1f.7: no such PCI device" in t.output(), t.output()
        dev = pci_device_on_a_driver()
        if dev:
            err(dict(good, traddr=dev[0]), -16)
            assert "bound to %s, not vfio-pci" % dev[1] in t.output(), t.output()
        err({"name": "Nvme9"}, -19, "does not exist", "bdev_nvme_detach_controller")
        err({"name": "Nvme9"}, -19, "does not exist", "bdev_nvme_get_controllers")
        assert t.call("bdev_nvme_get_controllers")["result"] == []
        assert t.call("bdev_get_bdevs")["result"] == []
        assert t.stop()[0] == 0
    finally:
        t.kill()


def t_bdev_options_before_init():
    t = Target(app=["--wait-for-rpc"])
    try:
        r = t.call("bdev_set_options", {"bdev_io_pool_size": 4096, "bdev_io_cache_size": 64})
        assert r.get("result") is True, r
        r = t.call("bdev_set_options", {"bdev_io_pool_size": 0})
        assert r["error"]["code"] == -32602, r
        assert t.call("framework_start_init").get("result") is True
        assert t.call("framework_wait_init").get("result") is True
        out = t.output()
        assert "mempool tern_bdev_io: 4096 objects" in out, out
        assert "bdev_io_cache_size 64 ignored" in out, out
        assert t.stop()[0] == 0
    finally:
        t.kill()


def t_nvmf_subsystems_by_rpc():
    nqn = "nqn.2016-06.io.spdk:cnode1"
    t = Target()
    try:
        ok = t.ok

        def err(method, params, code, text=None):
            r = t.call(method, params)
            assert "error" in r and r["error"]["code"] == code, "%s %s: %s" % (method, params, r)
            if text:
                assert text in r["error"]["message"], r
            return r

        subs = ok("nvmf_get_subsystems")
        assert [x["nqn"] for x in subs] == ["nqn.2014-08.org.nvmexpress.discovery"], subs
        ok("bdev_malloc_create", {"name": "M0", "num_blocks": 1024, "block_size": 512})
        ok("bdev_malloc_create", {"name": "M1", "num_blocks": 1024, "block_size": 4096})
        ok("nvmf_create_subsystem", {"nqn": nqn, "serial_number": "SN0001", "max_namespaces": 4})
        err("nvmf_create_subsystem", {"nqn": nqn}, -17)
        err("nvmf_create_subsystem", {"nqn": "nqn.2016-06.io..spdk:x"}, -32602, "domain label")
        err("nvmf_create_subsystem", {"nqn": "iqn.x"}, -32602, "nqn.")
        err("nvmf_create_subsystem", {"nqn": "nqn.2016-06.io.spdk:c2", "serial_number": "x" * 21}, -32602)
        err("nvmf_create_subsystem", {"nqn": "nqn.2014-08.org.nvmexpress.discovery"}, -32602)
        assert ok("nvmf_subsystem_add_ns", {"nqn": nqn, "namespace": {"bdev_name": "M0"}}) == 1
        assert ok("nvmf_subsystem_add_ns", {"nqn": nqn, "namespace": {
            "bdev_name": "M1", "nsid": 3, "nguid": "00112233-4455-6677-8899-AABBCCDDEEFF",
            "eui64": "0011223344556677"}}) == 3
        err("nvmf_subsystem_add_ns", {"nqn": nqn, "namespace": {"bdev_name": "M1"}}, -17, "already")
        err("nvmf_subsystem_add_ns", {"nqn": nqn, "namespace": {"bdev_name": "nope"}}, -19)
        err("nvmf_subsystem_add_ns", {"nqn": nqn, "namespace": {"bdev_name": "M0", "nsid": 9}}, -32602)
        err("nvmf_subsystem_add_ns", {"nqn": nqn, "namespace": {"bdev_name": "M0", "nguid": "12"}}, -32602)
        err("nvmf_subsystem_add_ns", {"nqn": nqn, "namespace": {"bdev_nam": "M0"}}, -32602, "bdev_nam")
        err("nvmf_subsystem_add_ns", {"nqn": "nqn.2016-06.io.spdk:none", "namespace": {"bdev_name": "M0"}}, -19)
        ok("nvmf_subsystem_add_host", {"nqn": nqn, "host": "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"})
        err("nvmf_subsystem_add_host", {"nqn": nqn, "host": "host1"}, -32602)
        err("nvmf_subsystem_add_host", {"nqn": "nqn.2014-08.org.nvmexpress.discovery",
                                        "host": "nqn.2016-06.io.spdk:h"}, -32602, "every host")
        ok("nvmf_subsystem_allow_any_host", {"nqn": nqn, "allow_any_host": True})
        sub = [x for x in ok("nvmf_get_subsystems") if x["nqn"] == nqn][0]
        assert sub["serial_number"] == "SN0001" and sub["allow_any_host"] is True, sub
        assert [n["nsid"] for n in sub["namespaces"]] == [1, 3], sub
        ns3 = sub["namespaces"][1]
        assert ns3["nguid"] == "00112233445566778899AABBCCDDEEFF" and ns3["eui64"] == "0011223344556677", ns3
        assert len(sub["hosts"]) == 1, sub
        ok("nvmf_subsystem_remove_host", {"nqn": nqn, "host": sub["hosts"][0]["nqn"]})
        err("nvmf_subsystem_remove_host", {"nqn": nqn, "host": sub["hosts"][0]["nqn"]}, -32602)
        ok("nvmf_subsystem_remove_ns", {"nqn": nqn, "nsid": 1})
        err("nvmf_subsystem_remove_ns", {"nqn": nqn, "nsid": 1}, -32602)
        # A bdev deleted under a namespace takes the namespace with it.
        ok("bdev_malloc_delete", {"name": "M1"})
        sub = [x for x in ok("nvmf_get_subsystems") if x["nqn"] == nqn][0]
        assert sub["namespaces"] == [], sub
        assert "bdev M1 is going away; removing namespace 3" in t.output()
        err("nvmf_delete_subsystem", {"nqn": "nqn.2014-08.org.nvmexpress.discovery"}, -32602)
        ok("nvmf_delete_subsystem", {"nqn": nqn})
        err("nvmf_delete_subsystem", {"nqn": nqn}, -19)
        assert t.stop()[0] == 0
        assert "never came back" not in t.output()
    finally:
        t.kill()


def t_namespace_bdev_delete_churn():
    """Deleting a bdev under a namespace, 400 times: every lcore lets go of
    the namespace and the bdev goes each time. A count written by two lcores
    at once once lost an update here and left the RPC waiting forever; the
    race is narrow (this loop caught it in about 1 run of 6), so the loop is
    a net, not a proof: only the main lcore counts now."""
    nqn = "nqn.2016-06.io.spdk:churn"
    t = Target()
    try:
        ok = t.ok
        ok("nvmf_create_subsystem", {"nqn": nqn, "max_namespaces": 2})
        for i in range(400):
            name = "C%d" % i
            ok("bdev_malloc_create", {"name": name, "num_blocks": 64, "block_size": 512})
            ok("nvmf_subsystem_add_ns", {"nqn": nqn, "namespace": {"bdev_name": name}})
            ok("bdev_malloc_delete", {"name": name})
        assert ok("bdev_get_bdevs") == [], "bdevs left behind"
        sub = [x for x in ok("nvmf_get_subsystems") if x["nqn"] == nqn][0]
        assert sub["namespaces"] == [], sub
        assert t.stop()[0] == 0
        assert "never came back" not in t.output()
    finally:
        t.kill()


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("t_")]


def run_tests(tests, check=None):
    """Run test functions (TERN_FUNC_ONLY=word: only those whose name has
    it) after the environment check (`check`, default this file's); print
    PASS/FAIL lines and `N passed, N failed`; exit status."""
    (check or check_environment)()
    passed = failed = 0
    only = os.environ.get("TERN_FUNC_ONLY")
    for t in tests:
        if only and only not in t.__name__:
            continue
        t0 = time.time()
        try:
            t()
            passed += 1
            print("PASS %s (%.1fs)" % (t.__name__[2:], time.time() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s (%.1fs)" % (t.__name__[2:], time.time() - t0), flush=True)
            traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
