#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Functional tests of tern-tgt's NVMe/TCP target on loopback, with our own
host (nvmf_tcp.py): discovery, connect, identify, logs, features, async
events, I/O with and without digests, the allow-list, keep-alive expiry,
malformed PDUs, connections dropped mid-I/O, buffer pool exhaustion, and
that every pool is full again afterwards.

Usage: test_nvmf_tcp.py BUILD_DIR [SOURCE_DIR]. Ends with `N passed, N failed`.
"""
import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_tcp as N  # noqa: E402
from test_tgt import Target, WORK, run_tests  # noqa: E402

HOST = "nqn.2014-08.org.nvmexpress:uuid:0f0e0d0c-0b0a-0908-0706-050403020100"
HOST2 = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"
SUB = "nqn.2016-06.io.tern:func1"
BS = 512
EAL = ["-l", "0-1", "--no-huge", "-m", "256", "--no-pci"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Tgt:
    """tern-tgt serving SUB (a malloc namespace, NSID 1) on a free port."""

    def __init__(self, allow_any=True, transport=None, extra_ns=False, hosts=()):
        self.port = free_port()
        t = {"trtype": "TCP", "num_shared_buffers": 32, "max_queue_depth": 64}
        t.update(transport or {})
        nvmf = [
            {"method": "nvmf_create_transport", "params": t},
            {"method": "nvmf_create_subsystem",
             "params": {"nqn": SUB, "allow_any_host": allow_any, "serial_number": "FUNC0001",
                        "model_number": "Tern func"}},
            {"method": "nvmf_subsystem_add_ns",
             "params": {"nqn": SUB, "namespace": {"bdev_name": "M0"}}},
            {"method": "nvmf_subsystem_add_listener",
             "params": {"nqn": SUB, "listen_address": {"trtype": "TCP", "adrfam": "IPv4",
                                                       "traddr": "127.0.0.1",
                                                       "trsvcid": str(self.port)}}},
        ]
        for h in hosts:
            nvmf.append({"method": "nvmf_subsystem_add_host", "params": {"nqn": SUB, "host": h}})
        bdevs = [{"method": "bdev_malloc_create",
                  "params": {"name": "M0", "num_blocks": 16384, "block_size": BS}},
                 {"method": "bdev_malloc_create",
                  "params": {"name": "M1", "num_blocks": 4096, "block_size": 4096}}]
        cfg = {"subsystems": [{"subsystem": "bdev", "config": bdevs},
                              {"subsystem": "nvmf", "config": nvmf}]}
        import json
        path = os.path.join(WORK, "tcp-%d.json" % self.port)
        with open(path, "w") as f:
            json.dump(cfg, f)
        self.t = Target(eal=EAL, app=["-c", path])
        self.t.call("framework_wait_init")

    def rpc(self, method, params=None):
        r = self.t.call(method, params)
        assert "error" not in r, "%s: %s" % (method, r)
        return r["result"]

    def ctrl(self, **kw):
        kw.setdefault("nr_io_queues", 2)
        return N.Controller("127.0.0.1", self.port, kw.pop("subnqn", SUB), kw.pop("hostnqn", HOST),
                            **kw)

    def queue(self, **kw):
        return N.Queue("127.0.0.1", self.port, **kw)

    def pools_full(self, timeout=5.0):
        """Every lcore's buffers back, no qpair left; returns the stats."""
        deadline = time.time() + timeout
        while True:
            st = self.rpc("nvmf_get_stats")
            ok = all(g["qpairs"] == 0 and all(t["shared_buffers_free"] == t["shared_buffers"]
                                              and t["pending_data_buffer"] == 0
                                              for t in g["transports"])
                     for g in st["poll_groups"])
            if ok or time.time() > deadline:
                return ok, st
            time.sleep(0.05)

    def close(self):
        try:
            rc, _ = self.t.stop(signal.SIGTERM, timeout=5)
            assert rc == 0, "exit status %d\n%s" % (rc, self.t.output()[-3000:])
        finally:
            self.t.kill()


def drain(queues, timeout=20.0):
    """Serve every queue's PDUs in turn until none has a command pending, as
    a host with one thread per queue would: the target may hold a shared
    buffer for one queue's R2T while another queue's command waits for it."""
    deadline = time.monotonic() + timeout
    done = {}
    while any(q.pending() for q in queues):
        if time.monotonic() > deadline:
            raise AssertionError("commands still pending: %s" % [q.pending() for q in queues])
        for q in queues:
            if q.pending():
                q.poll(0.005)
    for q in queues:
        for cid in list(q._done):
            done[(q.qid, cid)] = q.wait_completion(cid)
    return done


def expect_status(fn, sct, sc):
    try:
        fn()
    except N.NvmeStatus as e:
        assert (e.sct, e.sc) == (sct, sc), "got %s, wanted SCT %d SC 0x%x" % (e, sct, sc)
        return e
    raise AssertionError("command succeeded; wanted SCT %d SC 0x%x" % (sct, sc))


# ---------------------------------------------------------------- tests
def t_discovery_lists_subsystem_and_itself():
    g = Tgt()
    try:
        ents = N.discover("127.0.0.1", g.port, HOST)
        subs = {(e["subtype"], e["subnqn"], e["traddr"], e["trsvcid"]) for e in ents}
        assert (2, SUB, "127.0.0.1", str(g.port)) in subs, ents
        assert (3, N.DISCOVERY_NQN, "127.0.0.1", str(g.port)) in subs, ents
        assert all(e["trtype"] == 3 and e["adrfam"] == 1 for e in ents), ents
        # A subsystem the host may not see is not listed.
        g.rpc("nvmf_create_subsystem", {"nqn": SUB + "x", "allow_any_host": False})
        g.rpc("nvmf_subsystem_add_listener",
              {"nqn": SUB + "x", "listen_address": {"trtype": "TCP", "adrfam": "IPv4",
                                                    "traddr": "127.0.0.1",
                                                    "trsvcid": str(g.port)}})
        assert SUB + "x" not in {e["subnqn"] for e in N.discover("127.0.0.1", g.port, HOST)}
        g.rpc("nvmf_subsystem_add_host", {"nqn": SUB + "x", "host": HOST})
        assert SUB + "x" in {e["subnqn"] for e in N.discover("127.0.0.1", g.port, HOST)}
    finally:
        g.close()


def t_identify_and_features():
    g = Tgt()
    try:
        c = g.ctrl(kato_ms=5000)
        a = c.admin
        assert c.sn.strip() == "FUNC0001" and c.mn.strip() == "Tern func", (c.sn, c.mn)
        assert c.subnqn == SUB and c.nn == 32 and c.id["cntrltype"] == 1, c.id
        assert c.mdts == 5, c.mdts          # 128 KiB in 4 KiB pages
        assert c.ioccsz == (64 + 4096) // 16, c.ioccsz
        assert c.id["maxcmd"] == 64, c.id
        ns = N.parse_id_ns(a.identify(0, nsid=1))
        assert ns["nsze"] == 16384 and ns["lba_size"] == BS, ns
        assert N.parse_id_ns(a.identify(0, nsid=7))["nsze"] == 0   # inactive: zeroes
        expect_status(lambda: a.identify(0, nsid=33), 0, 0x0B)
        active = struct.unpack("<1024I", a.identify(2))
        assert active[:2] == (1, 0), active[:4]
        descs = N.parse_ns_desc_list(a.identify(3, nsid=1))
        assert any(d[0] == 3 for d in descs), descs          # a UUID
        expect_status(lambda: a.identify(0x55), 0, 0x02)
        assert a.get_features(7).cdw0 == 0x00010001, hex(a.get_features(7).cdw0)
        assert a.get_features(0x0F).cdw0 == 5000
        expect_status(lambda: a.get_features(0x42), 0, 0x02)
        expect_status(lambda: a.set_features(0x0B, 0x100, sv=True), 1, 0x0D)
        assert a.prop_get(N.PROP_VS, False) == 0x10300
        cap = a.prop_get(N.PROP_CAP, True)
        assert cap & 0xFFFF == 63 and (cap >> 37) & 1, hex(cap)
        expect_status(lambda: a.prop_set(N.PROP_CAP, 0, True), 0, 0x02)
        a.keep_alive()
        smart = a.get_log_page(2, 512)
        fw = a.get_log_page(3, 512)
        assert fw[0] == 1 and fw[8:16].strip(), fw[:16]
        eff = struct.unpack("<512I", a.get_log_page(5, 4096)[:2048])
        assert eff[0x06] & 1 and eff[256 + 0x01] == 3, (eff[0x06], eff[257])
        expect_status(lambda: a.get_log_page(0x42, 512), 1, 0x09)
        # Unknown admin opcodes and commands on a fused pair are refused.
        cpl = a.submit(N.sqe(0x80))
        assert cpl.status & 0xFF == 0x01, N.status_str(cpl.status)
        c.close()
        assert smart is not None
    finally:
        g.close()


def t_io_paths_with_and_without_digests():
    g = Tgt()
    try:
        for hd, dd in ((False, False), (True, False), (True, True)):
            c = g.ctrl(hdgst=hd, ddgst=dd)
            q = c.io[0]
            small = os.urandom(4096)
            q.write(1, 8, small, BS)                           # in-capsule
            assert q.stats["incapsule"] >= 1
            assert q.read(1, 8, 8, BS) == small
            big = os.urandom(131072)
            c.io[1].write(1, 1000, big, BS)                    # R2T + H2CData
            assert c.io[1].read(1, 1000, 256, BS) == big
            q.compare(1, 8, small, BS)
            expect_status(lambda: q.compare(1, 8, bytes(4096), BS), 2, 0x85)
            q.flush(1)
            q.write_zeroes(1, 8, 8)
            assert q.read(1, 8, 8, BS) == bytes(4096)
            q.dsm_deallocate(1, [(1000, 256)])
            # Several ranges, one empty: each named range reads back as zeroes
            # (malloc deallocates to zeroes), the rest is kept.
            q.write(1, 2000, big, BS)
            q.dsm_deallocate(1, [(2000, 8), (2050, 0), (2100, 16), (2255, 1)])
            back = q.read(1, 2000, 256, BS)
            for lba in range(2000, 2256):
                blk = back[(lba - 2000) * BS:(lba - 1999) * BS]
                gone = lba < 2008 or 2100 <= lba < 2116 or lba == 2255
                assert blk == (bytes(BS) if gone else big[(lba - 2000) * BS:(lba - 1999) * BS]), lba
            expect_status(lambda: q.dsm_deallocate(1, [(0, 1), (16383, 2)]), 0, 0x80)
            q.write(1, 0, small, BS, cdw12_flags=1 << 30)      # FUA
            expect_status(lambda: q.read(1, 16383, 2, BS), 0, 0x80)
            expect_status(lambda: q.read(1, 1 << 40, 1, BS), 0, 0x80)
            expect_status(lambda: q.read(2, 0, 1, BS), 0, 0x0B)
            expect_status(lambda: q.read(0xFFFFFFFF, 0, 1, BS), 0, 0x0B)
            # SGL shorter than the transfer.
            cpl = q.submit(N.sqe(N.OPC_READ, 1, cdw12=7), data_in_len=BS)
            assert cpl.status & 0xFF == 0x0F, N.status_str(cpl.status)
            # An opcode the NVM command set does not have here.
            cpl = q.submit(N.sqe(0x7E, 1))
            assert cpl.status & 0xFF == 0x01, N.status_str(cpl.status)
            c.close()
        ok, st = g.pools_full()
        assert ok, st
    finally:
        g.close()


def t_stats_and_controller_rpcs():
    g = Tgt()
    try:
        c = g.ctrl(nr_io_queues=2)
        c.io[0].write(1, 0, os.urandom(8192), BS)
        ctrls = g.rpc("nvmf_subsystem_get_controllers", {"nqn": SUB})
        assert len(ctrls) == 1 and ctrls[0]["hostnqn"] == HOST and ctrls[0]["num_qpairs"] == 3, ctrls
        qps = g.rpc("nvmf_subsystem_get_qpairs", {"nqn": SUB})
        assert sorted(q["qid"] for q in qps) == [0, 1, 2], qps
        assert {q["lcore"] for q in qps} == {0, 1}, qps         # spread over lcores
        st = g.rpc("nvmf_get_stats")["poll_groups"]
        assert sum(pg["transports"][0]["requests"] for pg in st) == 3 * 64, st
        assert sum(pg["transports"][0]["requests_in_use"] for pg in st) == 0, st
        tr = g.rpc("nvmf_get_transports")
        assert tr[0]["trtype"] == "TCP" and tr[0]["max_queue_depth"] == 64, tr
        smart = c.admin.get_log_page(2, 512)
        writes = int.from_bytes(smart[80:96], "little")
        assert writes == 1, smart[64:96].hex()
        c.close()
        r = g.t.call("nvmf_subsystem_get_controllers", {"nqn": "nqn.2016-06.io.tern:none"})
        assert r["error"]["code"] == -19, r
        r = g.t.call("nvmf_create_transport", {"trtype": "TCP"})
        assert "already exists" in r["error"]["message"], r
        r = g.t.call("nvmf_create_transport", {"trtype": "FOO"})
        assert r["error"]["code"] == -32602, r
        r = g.t.call("nvmf_subsystem_add_listener",
                     {"nqn": SUB, "listen_address": {"trtype": "TCP", "traddr": "1.2.3.x",
                                                     "trsvcid": "4420"}})
        assert "not an IPv4 address" in r["error"]["message"], r
        for port in ("0", "65536", "44x"):
            r = g.t.call("nvmf_subsystem_add_listener",
                         {"nqn": SUB, "listen_address": {"trtype": "TCP", "traddr": "127.0.0.1",
                                                         "trsvcid": port}})
            assert "is not a port (1-65535)" in r["error"]["message"], (port, r)
        r = g.t.call("nvmf_subsystem_add_listener",
                     {"nqn": SUB, "listen_address": {"trtype": "TCP", "adrfam": "IPv6",
                                                     "traddr": "127.0.0.1", "trsvcid": "4420"}})
        assert "not an IPv6 address" in r["error"]["message"], r
    finally:
        g.close()


def t_transport_options_checked():
    t = Target(eal=EAL)
    try:
        for params, words in (({"max_io_size": 100000}, "power of two"),
                              ({"max_io_size": 1 << 20, "io_unit_size": 8192}, "io units"),
                              ({"num_shared_buffers": 1}, "floor"),
                              ({"in_capsule_data_size": 1000}, "multiple of 16"),
                              ({"max_queue_depth": 1}, "below"),
                              ({"bogus": 1}, "bogus")):
            p = {"trtype": "TCP"}
            p.update(params)
            r = t.call("nvmf_create_transport", p)
            assert "error" in r and words in r["error"]["message"], (params, r)
        r = t.call("nvmf_get_transports")
        assert r["result"] == [], r
    finally:
        t.kill()


def t_async_event_on_namespace_added():
    g = Tgt()
    try:
        c = g.ctrl(nr_io_queues=1)
        a = c.admin
        a.set_features(0x0B, 0x100)
        cid = a.aer()
        nsid = g.rpc("nvmf_subsystem_add_ns", {"nqn": SUB, "namespace": {"bdev_name": "M1"}})
        cpl = a.wait_completion(cid, timeout=5)
        assert cpl.status == 0 and cpl.cdw0 & 0x7 == 2 and (cpl.cdw0 >> 16) & 0xFF == 4, \
            hex(cpl.cdw0)
        changed = struct.unpack("<1024I", a.get_log_page(4, 4096))
        assert changed[:2] == (nsid, 0), changed[:4]
        assert struct.unpack("<1024I", a.get_log_page(4, 4096))[0] == 0     # read cleared it
        active = struct.unpack("<1024I", a.identify(2))
        assert active[:3] == (1, nsid, 0), active[:4]
        q = c.io[0]
        data = os.urandom(8192)
        q.write(nsid, 3, data, 4096)
        assert q.read(nsid, 3, 2, 4096) == data
        # Removal is announced too, and I/O to it fails cleanly.
        cid = a.aer()
        g.rpc("nvmf_subsystem_remove_ns", {"nqn": SUB, "nsid": nsid})
        assert a.wait_completion(cid, timeout=5).status == 0
        expect_status(lambda: q.read(nsid, 0, 1, 4096), 0, 0x0B)
        # A fifth outstanding AER exceeds AERL + 1 = 4.
        for _ in range(4):
            a.aer()
        cid = a.aer()
        assert a.wait_completion(cid, timeout=5).status & 0xFF == 0x05
        c.close()
        ok, st = g.pools_full()
        assert ok, st
    finally:
        g.close()


def t_allow_list_and_connect_errors():
    g = Tgt(allow_any=False, hosts=[HOST])
    try:
        c = g.ctrl(nr_io_queues=1)
        try:
            g.ctrl(hostnqn=HOST2)
            raise AssertionError("a host off the allow-list connected")
        except N.NvmeStatus as e:
            assert (e.sct, e.sc) == (1, 0x84), e
        q = g.queue()
        # Before its Connect a queue takes nothing else: a fabrics command
        # (Property Get) and an admin command (Keep Alive) both get Command
        # Sequence Error; the Connect after them still works.
        e = expect_status(lambda: q.submit(N.property_get_sqe(0, 1), check=True), 0, 0x0c)
        assert e.dnr, e
        expect_status(lambda: q.submit(N.sqe(0x18), check=True), 0, 0x0c)
        q.connect(SUB, HOST, qid=0)
        q.close()
        q = g.queue()
        e = expect_status(lambda: q.connect("nqn.2016-06.io.tern:nothere", HOST), 1, 0x82)
        assert e.cdw0 == 0x10100, hex(e.cdw0)             # IATTR 1, offset of SUBNQN
        q.close()
        q = g.queue()
        e = expect_status(lambda: q.connect(SUB, "not an nqn"), 1, 0x82)
        assert e.cdw0 == 0x10200, hex(e.cdw0)
        q.close()
        q = g.queue()
        e = expect_status(lambda: q.connect(SUB, HOST, sqsize=4000), 1, 0x82)
        assert e.cdw0 == 44, hex(e.cdw0)                  # SQSIZE in the SQE
        q.close()
        q = g.queue()                                     # I/O queue of no controller
        e = expect_status(lambda: q.connect(SUB, HOST, qid=1, cntlid=0x4242), 1, 0x82)
        q.close()
        q = g.queue()                                     # qid already connected
        expect_status(lambda: q.connect(SUB, HOST, qid=1, cntlid=c.cntlid), 1, 0x82)
        q.close()
        q = g.queue()                                     # another host's controller
        g.rpc("nvmf_subsystem_add_host", {"nqn": SUB, "host": HOST2})
        e = expect_status(lambda: q.connect(SUB, HOST2, qid=2, cntlid=c.cntlid), 1, 0x82)
        assert e.cdw0 == 0x10200, hex(e.cdw0)
        q.close()
        # Removing the host from the list drops its controller.
        g.rpc("nvmf_subsystem_remove_host", {"nqn": SUB, "host": HOST})
        assert c.admin.closed(timeout=3), "controller of a removed host still connected"
        ok, st = g.pools_full()
        assert ok, st
    finally:
        g.close()


def t_config_changes_while_hosts_are_connected():
    g = Tgt()
    try:
        c = g.ctrl(nr_io_queues=2)
        port2 = free_port()
        la2 = {"trtype": "TCP", "adrfam": "IPv4", "traddr": "127.0.0.1", "trsvcid": str(port2)}
        g.rpc("nvmf_subsystem_add_listener", {"nqn": SUB, "listen_address": la2})
        c2 = N.Controller("127.0.0.1", port2, SUB, HOST2, nr_io_queues=1)
        data = os.urandom(4096)
        c2.io[0].write(1, 40, data, BS)
        assert c.io[1].read(1, 40, 8, BS) == data          # same namespace, other listener
        # Removing the first listener: no new connections there, the
        # connected host keeps working.
        la1 = {"trtype": "TCP", "adrfam": "IPv4", "traddr": "127.0.0.1", "trsvcid": str(g.port)}
        g.rpc("nvmf_subsystem_remove_listener", {"nqn": SUB, "listen_address": la1})
        try:
            g.queue()
            raise AssertionError("connected to a removed listener")
        except N.NvmeTcpError as e:
            assert "refused" in str(e), e
        assert c.io[0].read(1, 40, 8, BS) == data
        # A namespace removed under I/O, then the whole subsystem deleted.
        for i in range(8):
            c.io[0].submit(N.sqe(N.OPC_WRITE, 1, cdw10=i * 256, cdw12=255),
                           data_out=os.urandom(131072), wait=False)
        g.rpc("nvmf_subsystem_remove_ns", {"nqn": SUB, "nsid": 1})
        for key, cpl in drain([c.io[0]]).items():
            assert cpl.status in (0, 0x0B | 0x4000), N.status_str(cpl.status)
        g.rpc("nvmf_delete_subsystem", {"nqn": SUB})
        for q in [c.admin, c2.admin] + c.io + c2.io:
            assert q.closed(timeout=3), "a queue of a deleted subsystem is still open"
        ok, st = g.pools_full()
        assert ok, st
        # The bdev is free again: it can be deleted.
        g.rpc("bdev_malloc_delete", {"name": "M0"})
    finally:
        g.close()


def t_keep_alive_expiry_tears_down_all_queues():
    g = Tgt()
    try:
        c = g.ctrl(nr_io_queues=2, kato_ms=1000)
        t0 = time.time()
        assert c.admin.closed(timeout=5), "admin queue still open after keep-alive expiry"
        for q in c.io:
            assert q.closed(timeout=3), "I/O queue still open after keep-alive expiry"
        dt = time.time() - t0
        assert 0.9 < dt < 3.5, "torn down after %.2fs" % dt
        assert "keep-alive timeout (1000 ms) expired" in g.t.output()
        ok, st = g.pools_full()
        assert ok, st
        # Keep-alives keep it up.
        c = g.ctrl(nr_io_queues=1, kato_ms=1000)
        for _ in range(6):
            time.sleep(0.3)
            c.admin.keep_alive()
        assert not c.admin.closed(timeout=0.1)
        c.close()
    finally:
        g.close()


def t_malformed_pdus_get_term_requests():
    g = Tgt()
    try:
        other = g.ctrl(nr_io_queues=1)
        cases = []
        # Wrong HLEN on a capsule.
        q = g.queue()
        q.send_raw(N.build_pdu(N.CAPSULE_CMD, bytes(64), hlen=80))
        cases.append((q, N.FES_INVALID_HEADER_FIELD, 2))
        # Unknown PDU type.
        q = g.queue()
        q.send_raw(bytes([0x0C, 0, 8, 0]) + struct.pack("<I", 8))
        cases.append((q, N.FES_INVALID_HEADER_FIELD, 0))
        # A capsule before ICReq.
        q = g.queue(icreq=False)
        q.send_raw(N.pdu_capsule_cmd(N.sqe(N.OPC_KEEP_ALIVE)))
        cases.append((q, N.FES_PDU_SEQUENCE_ERROR, None))
        # A second ICReq.
        q = g.queue()
        q.send_raw(N.pdu_icreq())
        cases.append((q, N.FES_PDU_SEQUENCE_ERROR, None))
        # Header digest error.
        q = g.queue(hdgst=True)
        pdu = bytearray(q.pdu_capsule_cmd(N.sqe(N.OPC_KEEP_ALIVE)))
        pdu[72] ^= 0xFF
        q.send_raw(bytes(pdu))
        cases.append((q, N.FES_HDGST_ERROR, None))
        # H2CData with no R2T outstanding.
        q = g.queue()
        q.connect(SUB, HOST)
        q.send_raw(q.pdu_h2c_data(1, 5, 0, bytes(512)))
        cases.append((q, N.FES_INVALID_HEADER_FIELD, 10))
        # ICReq with an unknown PFV.
        q = g.queue(icreq=False)
        q.send_raw(N.pdu_icreq(pfv=7))
        cases.append((q, N.FES_UNSUPPORTED_PARAMETER, 8))
        # In-capsule data beyond the admin limit.
        q = g.queue()
        q.send_raw(N.pdu_capsule_cmd(N.sqe(N.OPC_SET_FEATURES), bytes(12288)))
        cases.append((q, N.FES_DATA_LIMIT_EXCEEDED, None))
        for q, fes, fei in cases:
            got = q.expect_term_req(timeout=3)
            assert got is not None, "closed without C2HTermReq (wanted FES %d)" % fes
            assert got[0] == fes, "FES %d, wanted %d" % (got[0], fes)
            if fei is not None:
                assert got[1] == fei, "FEI %d, wanted %d" % (got[1], fei)
            assert q.closed(timeout=3), "connection left open after C2HTermReq"
        # A data digest error fails the command, not the connection.
        c = g.ctrl(nr_io_queues=1, hdgst=True, ddgst=True)
        q = c.io[0]
        sq = N.sqe(N.OPC_WRITE, 1, cdw12=7)
        sq = N.sqe_set_sgl(N.sqe_set_cid(sq, 77), N.sgl_incapsule(4096))
        pdu = bytearray(q.pdu_capsule_cmd(sq, os.urandom(4096)))
        pdu[-1] ^= 0x55
        q.track(77, N.OPC_WRITE)
        q.send_raw(bytes(pdu))
        cpl = q.wait_completion(77, timeout=3)
        assert cpl.status & 0xFF == 0x22, N.status_str(cpl.status)
        data = os.urandom(4096)
        q.write(1, 0, data, BS)
        assert q.read(1, 0, 8, BS) == data
        # A bad SGL type fails the command.
        sq = N.sqe_set_sgl(N.sqe(N.OPC_READ, 1, cdw12=0), N.sgl_desc(0, 512, type_=0x4))
        cpl = q.submit(sq, data_in_len=512, set_sgl=False)
        assert cpl.status & 0xFF == 0x11, N.status_str(cpl.status)
        c.close()
        # The controller that was there all along still works.
        data = os.urandom(512)
        other.io[0].write(1, 5, data, BS)
        assert other.io[0].read(1, 5, 1, BS) == data
        other.close()
        ok, st = g.pools_full()
        assert ok, st
        out = g.t.output()
        assert "sending C2HTermReq" in out and "header digest mismatch" in out, out[-2000:]
    finally:
        g.close()


def t_connections_dropped_mid_io_leave_pools_full():
    g = Tgt()
    try:
        for round_ in range(3):
            c = g.ctrl(nr_io_queues=2)
            for q in c.io:
                for i in range(16):
                    q.submit(N.sqe(N.OPC_WRITE, 1, cdw10=i * 256, cdw12=255),
                             data_out=os.urandom(131072), wait=False)
                    q.submit(N.sqe(N.OPC_READ, 1, cdw10=i * 256, cdw12=255),
                             data_in_len=131072, wait=False)
            # Reset: the sockets go away with commands in flight.
            for q in [c.admin] + c.io:
                q.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                q.sock.close()
            ok, st = g.pools_full()
            assert ok, "round %d: %s" % (round_, st)
        c = g.ctrl(nr_io_queues=1)
        data = os.urandom(4096)
        c.io[0].write(1, 0, data, BS)
        assert c.io[0].read(1, 0, 8, BS) == data
        c.close()
    finally:
        g.close()


def t_buffer_pool_at_its_floor_never_hangs():
    # Two 128 KiB buffers for two lcores: most requests wait for a buffer,
    # and the pending queue is retried on every poll (SEEDS.md incident 2).
    g = Tgt(transport={"num_shared_buffers": 2})
    try:
        c = g.ctrl(nr_io_queues=2)
        pattern = {}
        for q in c.io:
            for i in range(24):
                slba = (i % 12) * 256 + (0 if q is c.io[0] else 4096)
                data = os.urandom(131072)
                pattern[slba] = data
                q.submit(N.sqe(N.OPC_WRITE, 1, cdw10=slba, cdw12=255), data_out=data, wait=False)
        assert all(cpl.status == 0 for cpl in drain(c.io).values())
        cids = {}
        for slba in pattern:
            q = c.io[0] if slba < 4096 else c.io[1]
            cids[(q.qid, q.submit(N.sqe(N.OPC_READ, 1, cdw10=slba, cdw12=255),
                                  data_in_len=131072, wait=False))] = slba
        for key, cpl in drain(c.io).items():
            assert cpl.status == 0 and cpl.data == pattern[cids[key]], key
        st = g.rpc("nvmf_get_stats")
        waits = sum(t["buffer_waits"] for pg in st["poll_groups"] for t in pg["transports"])
        assert waits > 0, st
        c.close()
        ok, st = g.pools_full()
        assert ok, st
    finally:
        g.close()


def t_sigterm_with_hosts_connected():
    g = Tgt()
    c = g.ctrl(nr_io_queues=2)
    for q in c.io:
        q.submit(N.sqe(N.OPC_WRITE, 1, cdw12=255), data_out=bytes(131072), wait=False)
    rc, _ = g.t.stop(signal.SIGTERM, timeout=5)
    out = g.t.output()
    g.t.kill()
    assert rc == 0, "exit status %d\n%s" % (rc, out[-3000:])
    for q in [c.admin] + c.io:
        assert q.closed(timeout=2)
    assert "qpairs did not finish" not in out, out[-2000:]


def t_default_config_serves_malloc_on_4420():
    t = Target(eal=["-l", "0-1", "--no-huge"], default_config=True)
    try:
        try:
            c = N.Controller("127.0.0.1", 4420, "nqn.2016-06.io.tern:cnode1", HOST, nr_io_queues=1)
        except OSError as e:
            raise AssertionError("port 4420: %s\n%s" % (e, t.output()[-2000:]))
        ns = N.parse_id_ns(c.admin.identify(0, nsid=1))
        assert ns["nsze"] * ns["lba_size"] == 16 << 20, ns
        data = os.urandom(4096)
        c.io[0].write(1, 0, data, 512)
        assert c.io[0].read(1, 0, 8, 512) == data
        c.close()
        rc = t.stop()[0]
        assert rc == 0, "exit status %d\n%s" % (rc, t.output()[-3000:])
    finally:
        t.kill()


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("t_")]


if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
