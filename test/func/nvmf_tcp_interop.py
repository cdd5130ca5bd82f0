#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Interoperability check of nvmf_tcp.py against a real NVMe/TCP target.

The VM bench runs it against the Linux kernel's nvmet-tcp
(test/vm/tests/client-knvmet-tcp.sh); any target exporting a namespace of
at least 64 MiB that allows any host will do:

    nvmf_tcp_interop.py --addr 10.77.0.1 --port 4420 --subnqn NQN

Writes to the namespace (LBAs in the first 4 MiB). One line per check,
`N passed, N failed` last; exit 0 only when nothing failed.
"""
import argparse
import os
import struct
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvmf_tcp as t  # noqa: E402


class Known(Exception):
    """A check ran into a documented deviation of the target from the
    specification: reported as KNOWN, counted neither passed nor failed."""


class Runner:
    def __init__(self):
        self.passed = self.failed = 0
        self.known = []

    def check(self, name, fn, *args):
        """Run fn; PASS/FAIL line; returns fn's value or None on failure."""
        t0 = time.monotonic()
        try:
            detail = fn(*args)
        except Known as e:
            self.known.append(name)
            print("KNOWN %s: target deviation: %s" % (name, e), flush=True)
            return None
        except Exception as e:      # noqa: BLE001 - every failure is reported
            self.failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)
            if not isinstance(e, (AssertionError, t.NvmeStatus, t.NvmeTcpError)):
                traceback.print_exc()
            return None
        self.passed += 1
        extra = "" if detail is None or detail is True else ": %s" % (detail,)
        print("PASS %s (%.2fs)%s" % (name, time.monotonic() - t0, extra), flush=True)
        return detail if detail is not None else True

    def note(self, msg):
        print("NOTE %s" % msg, flush=True)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, default=4420)
    ap.add_argument("--disc-port", type=int, default=None, help="discovery port (default --port)")
    ap.add_argument("--subnqn", required=True)
    ap.add_argument("--nsid", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30.0, help="per command (TCG guests are slow)")
    a = ap.parse_args()
    r = Runner()
    hostnqn, hostid = t.new_hostnqn()
    r.note("host %s, target %s:%d %s" % (hostnqn, a.addr, a.port, a.subnqn))

    # ---- discovery
    def discovery():
        ents = t.discover(a.addr, a.disc_port or a.port, hostnqn, timeout=a.timeout, hostid=hostid)
        for e in ents:
            print("    entry: subtype %d trtype %d adrfam %d treq 0x%x portid %d cntlid 0x%x "
                  "asqsz %d traddr %s trsvcid %s subnqn %s sectype %d"
                  % (e["subtype"], e["trtype"], e["adrfam"], e["treq"], e["portid"], e["cntlid"],
                     e["asqsz"], e["traddr"], e["trsvcid"], e["subnqn"], e["tsas"][0]))
        mine = [e for e in ents if e["subnqn"] == a.subnqn]
        expect(mine, "no entry for %s" % a.subnqn)
        e = mine[0]
        a.treq = e["treq"]
        expect(e["subtype"] == 2 and e["trtype"] == 3 and e["adrfam"] == 1,
               "subtype/trtype/adrfam %d/%d/%d, expected 2 (NVM)/3 (TCP)/1 (IPv4)"
               % (e["subtype"], e["trtype"], e["adrfam"]))
        expect(e["traddr"] == a.addr and e["trsvcid"] == str(a.port),
               "traddr/trsvcid %s/%s" % (e["traddr"], e["trsvcid"]))
        expect(e["asqsz"] >= 32, "ASQSZ %d < 32" % e["asqsz"])
        return "%d entries" % len(ents)
    r.check("discovery log (genctr-checked, header then full)", discovery)

    def disc_offset():
        q = t.Queue(a.addr, a.disc_port or a.port, timeout=a.timeout)
        try:
            q.connect(t.DISCOVERY_NQN, hostnqn, hostid=hostid)
            q.enable()
            _, ents = t.read_discovery_log(q)
            whole = q.get_log_page(t.LID_DISCOVERY, 1024 * (len(ents) + 1), nsid=0)
            last = q.get_log_page(t.LID_DISCOVERY, 1024, offset=1024 * len(ents), nsid=0)
            expect(last == whole[-1024:], "entry read at offset %d differs" % (1024 * len(ents)))
            return "entry %d read alone at offset %d" % (len(ents) - 1, 1024 * len(ents))
        finally:
            q.close()
    r.check("get log page with an offset (LPOL), discovery log", disc_offset)

    # ---- bad Connect: unknown subsystem -> Connect Invalid Parameters on SUBNQN
    def bad_connect():
        q = t.Queue(a.addr, a.port, timeout=a.timeout)
        try:
            try:
                q.connect(a.subnqn + ".nonexistent", hostnqn, hostid=hostid)
            except t.NvmeStatus as e:
                expect(e.sct == 1 and e.sc == 0x82,
                       "expected SCT 1 SC 82h (Connect Invalid Parameters), got %s" % e)
                expect(e.cdw0 == (1 << 16 | 256),
                       "IATTR/IPO 0x%x, expected 0x10100 (Connect data, SUBNQN at 256)" % e.cdw0)
                return str(e)
            raise AssertionError("Connect to an unknown subsystem succeeded")
        finally:
            q.close()
    r.check("connect to an unknown NQN: Connect Invalid Parameters, cdw0 IATTR/IPO", bad_connect)

    for dig in (False, True):
        suite(r, a, hostnqn, hostid, dig)

    malformed(r, a, hostnqn, hostid)

    if r.known:
        print("%d known target deviations (not counted): %s" % (len(r.known), "; ".join(r.known)))
    print("%d passed, %d failed" % (r.passed, r.failed), flush=True)
    return 1 if r.failed else 0


def suite(r, a, hostnqn, hostid, dig):
    tag = "[digests %s] " % ("on" if dig else "off")
    st = {}

    def bring_up():
        c = t.Controller(a.addr, a.port, a.subnqn, hostnqn, nr_io_queues=2, kato_ms=120000,
                         hdgst=dig, ddgst=dig, hostid=hostid, timeout=a.timeout)
        st["c"] = c
        for q in [c.admin] + c.io:
            expect((q.hdgst, q.ddgst) == (dig, dig), "negotiated digests %s/%s on qid %s"
                   % (q.hdgst, q.ddgst, q.qid))
        return ("cntlid %d, CAP 0x%x, maxh2cdata %d, cpda %d, ioccsz %d, mdts %d, %d+%d queues"
                % (c.cntlid, c.cap, c.admin.maxh2cdata, c.admin.cpda, c.ioccsz, c.mdts,
                   c.nsqa, c.ncqa))
    if not r.check(tag + "connect admin + 2 I/O queues, enable, identify, number of queues",
                   bring_up):
        return
    c = st["c"]
    adm, nsid = c.admin, a.nsid
    to = a.timeout

    def id_ctrl():
        d = c.id
        expect(d["cntrltype"] == 1, "CNTRLTYPE %d, expected 1 (I/O controller)" % d["cntrltype"])
        expect(d["subnqn"] == a.subnqn, "SUBNQN %r" % d["subnqn"])
        expect(d["ioccsz"] >= 4 and d["iorcsz"] >= 1, "IOCCSZ %d IORCSZ %d" % (d["ioccsz"], d["iorcsz"]))
        expect(d["sqes"] & 0xF == 6 and d["cqes"] & 0xF == 4, "SQES 0x%x CQES 0x%x" % (d["sqes"], d["cqes"]))
        expect(d["nn"] >= nsid, "NN %d" % d["nn"])
        expect(d["sgls"] & 0x3, "SGLS 0x%x: SGLs not supported" % d["sgls"])
        vs = adm.prop_get(t.PROP_VS)
        expect(vs == d["ver"] or d["ver"] == 0, "VS 0x%x but Identify VER 0x%x" % (vs, d["ver"]))
        return "%s %s fw %s ver 0x%x oncs 0x%x vwc 0x%x sgls 0x%x kas %d lpa 0x%x" % (
            d["mn"], d["sn"], d["fr"], vs, d["oncs"], d["vwc"], d["sgls"], d["kas"], d["lpa"])
    r.check(tag + "identify controller fields, VS property", id_ctrl)

    def ns_list():
        b = adm.identify(2, nsid=0, timeout=to)
        ids = [x for x in struct.unpack("<1024I", b) if x]
        expect(nsid in ids, "nsid %d not in the active list %s" % (nsid, ids[:8]))
        return ids
    r.check(tag + "identify active namespace list (CNS 02h)", ns_list)

    def id_ns():
        ns = t.parse_id_ns(adm.identify(0, nsid=nsid, timeout=to))
        expect(ns["nsze"] > 0 and ns["ncap"] <= ns["nsze"], "NSZE %d NCAP %d" % (ns["nsze"], ns["ncap"]))
        expect(ns["lba_size"] >= 512, "LBA size %d" % ns["lba_size"])
        expect(ns["nsze"] * ns["lba_size"] >= 64 << 20, "namespace smaller than 64 MiB")
        st["bs"] = ns["lba_size"]
        return "nsze %d, %d-byte LBAs, nguid %s, eui64 %s" % (
            ns["nsze"], ns["lba_size"], ns["nguid"].hex(), ns["eui64"].hex())
    if not r.check(tag + "identify namespace", id_ns):
        c.close()
        return
    bs = st["bs"]

    def ns_desc():
        d = t.parse_ns_desc_list(adm.identify(3, nsid=nsid, timeout=to))
        kinds = [t.NIDT_NAMES.get(k, k) for k, _ in d]
        expect(any(k in (1, 2, 3) for k, _ in d), "no EUI64/NGUID/UUID descriptor: %s" % kinds)
        return ", ".join("%s=%s" % (t.NIDT_NAMES.get(k, k), v.hex()) for k, v in d)
    r.check(tag + "namespace identification descriptor list (CNS 03h)", ns_desc)

    def logs():
        out = []
        n = c.id["elpe"] + 1
        b = adm.get_log_page(t.LID_ERROR, 64 * min(n, 64), timeout=to)
        out.append("error log %d entries, count %d" % (len(b) // 64, struct.unpack_from("<Q", b)[0]))
        b = adm.get_log_page(t.LID_SMART, 512, timeout=to)
        expect(len(b) == 512, "SMART log %d bytes" % len(b))
        out.append("smart temp %dK spare %d%%" % (struct.unpack_from("<H", b, 1)[0], b[3]))
        b = adm.get_log_page(t.LID_FW_SLOT, 512, timeout=to)
        out.append("fw slot afi 0x%x frs1 %r" % (b[0], b[8:16].rstrip(b"\0 ").decode("ascii", "replace")))
        b = adm.get_log_page(t.LID_CHANGED_NS, 4096, rae=True, timeout=to)
        out.append("changed ns %s" % [x for x in struct.unpack("<1024I", b) if x][:4])
        return "; ".join(out)
    r.check(tag + "log pages: error, SMART, firmware slot, changed NS (RAE)", logs)

    def effects():
        if not c.id["lpa"] & 0x2:
            return "skipped: LPA bit 1 clear (no Commands Supported and Effects log)"
        b = adm.get_log_page(t.LID_CMD_EFFECTS, 4096, timeout=to)
        acs = struct.unpack_from("<256I", b)
        iocs = struct.unpack_from("<256I", b, 1024)
        expect(acs[t.OPC_IDENTIFY] & 1, "Identify not marked supported (ACS 0x%x)" % acs[6])
        expect(iocs[t.OPC_READ] & 1 and iocs[t.OPC_WRITE] & 1, "read/write not marked supported")
        return "write effects 0x%x" % iocs[t.OPC_WRITE]
    r.check(tag + "commands supported and effects log (if LPA says so)", effects)

    def partial_log():
        whole = adm.get_log_page(t.LID_SMART, 512, timeout=to)
        try:
            part = adm.get_log_page(t.LID_SMART, 256, offset=256, timeout=to)
        except t.NvmeStatus as e:
            if c.id["mn"].startswith("Linux") and e.sc == 0x06:
                raise Known("kernel nvmet serves the SMART log only whole (LPA bit 2 set, "
                            "offset read: %s)" % e) from None
            raise
        expect(part[32:] == whole[288:], "offset read differs from the whole page")
    r.check(tag + "SMART log read with an offset (LPOL)", partial_log)

    def feat7():
        cpl = adm.get_features(t.FID_NUM_QUEUES, timeout=to)
        nsqa, ncqa = (cpl.cdw0 & 0xFFFF) + 1, (cpl.cdw0 >> 16) + 1
        expect(nsqa >= 2 and ncqa >= 2, "Number of Queues %d/%d" % (nsqa, ncqa))
        return "cdw0 0x%x (%d SQs, %d CQs)" % (cpl.cdw0, nsqa, ncqa)
    r.check(tag + "get features 07h (number of queues)", feat7)

    def kato():
        cpl = adm.get_features(t.FID_KATO, timeout=to)
        expect(cpl.cdw0 == 120000, "KATO %d, Connect asked 120000" % cpl.cdw0)
        return "KATO %d ms" % cpl.cdw0
    r.check(tag + "get features 0Fh (keep alive timer) reflects Connect KATO", kato)

    def keepalive():
        adm.keep_alive(timeout=to)
    r.check(tag + "keep alive", keepalive)

    def aer_pending():
        cid = adm.aer()
        adm.keep_alive(timeout=to)
        adm.get_features(t.FID_NUM_QUEUES, timeout=to)
        expect(cid in adm.pending(), "AER completed without an event: %r" % adm._done.get(cid))
        return "AER cid %d outstanding while 2 commands completed" % cid
    r.check(tag + "async event request stays outstanding", aer_pending)

    base = 2048 if not dig else 4096        # 1-2 MiB in at 512-byte LBAs
    lb4k = 4096 // bs

    def io_small():
        q = c.io[0]
        data = os.urandom(4096)
        n0 = dict(q.stats)
        q.write(nsid, base, data, bs, timeout=to)
        expect(q.stats["incapsule"] == n0["incapsule"] + 1 and q.stats["R2T"] == n0["R2T"],
               "4 KiB write was not sent in-capsule: %s" % q.stats)
        got = q.read(nsid, base, lb4k, bs, timeout=to)
        expect(got == data, "read back differs")
        if c.oncs & 1:
            q.compare(nsid, base, data, bs, timeout=to)
            try:
                q.compare(nsid, base, bytes(4096), bs, timeout=to)
                raise AssertionError("compare of different data succeeded")
            except t.NvmeStatus as e:
                expect(e.sct == 2 and e.sc == 0x85, "miscompare status: %s" % e)
            return "compare ok"
        return "compare skipped: ONCS bit 0 clear"
    r.check(tag + "4 KiB write in-capsule, read back, compare", io_small)

    def io_large():
        q = c.io[1]
        data = os.urandom(128 * 1024)
        n0 = dict(q.stats)
        q.write(nsid, base + 64, data, bs, timeout=to)
        r2t, h2c = q.stats["R2T"] - n0["R2T"], q.stats["H2CData"] - n0["H2CData"]
        expect(r2t >= 1 and q.stats["incapsule"] == n0["incapsule"],
               "128 KiB write did not go through R2T: %s" % q.stats)
        got = q.read(nsid, base + 64, len(data) // bs, bs, timeout=to)
        expect(got == data, "read back differs")
        c2h = q.stats["C2HData"] - n0["C2HData"]
        return "%d R2T, %d H2CData, %d C2HData, %d with SUCCESS" % (
            r2t, h2c, c2h, q.stats["SUCCESS"] - n0["SUCCESS"])
    r.check(tag + "128 KiB write via R2T/H2CData, read back", io_large)

    def flush():
        if not c.vwc & 1:
            c.io[0].flush(nsid, timeout=to)
            return "VWC not present; flush accepted"
        c.io[0].flush(nsid, timeout=to)
    r.check(tag + "flush", flush)

    def wzeroes():
        q = c.io[1]
        if not c.oncs & 0x8:
            return "skipped: ONCS bit 3 clear"
        q.write(nsid, base + 512, os.urandom(8 * 4096), bs, timeout=to)
        q.write_zeroes(nsid, base + 512, 8 * lb4k, timeout=to)
        got = q.read(nsid, base + 512, 8 * lb4k, bs, timeout=to)
        expect(got == bytes(len(got)), "blocks not zero after Write Zeroes")
    r.check(tag + "write zeroes, read back zeros", wzeroes)

    def dsm():
        if not c.oncs & 0x4:
            return "skipped: ONCS bit 2 clear"
        c.io[0].dsm_deallocate(nsid, [(base + 1024, lb4k), (base + 1100, lb4k)], timeout=to)
    r.check(tag + "dataset management deallocate", dsm)

    def lba_range():
        ns_blocks = t.parse_id_ns(adm.identify(0, nsid=nsid, timeout=to))["nsze"]
        try:
            c.io[0].read(nsid, ns_blocks, 1, bs, timeout=to)
        except t.NvmeStatus as e:
            if e.sct == 0 and e.sc == 0x81 and c.id["mn"].startswith("Linux"):
                raise Known("kernel nvmet (file backend) answers Capacity Exceeded, not "
                            "LBA Out of Range, for a read past the end: %s" % e) from None
            expect(e.sct == 0 and e.sc == 0x80, "expected LBA Out of Range, got %s" % e)
            return str(e)
        raise AssertionError("read past the end succeeded")
    r.check(tag + "read past the end: LBA Out of Range", lba_range)

    def sqfc_disabled():
        if not getattr(a, "treq", 0) & 0x4:
            return "skipped: the discovery entry's TREQ bit 2 is clear"
        d = t.Controller(a.addr, a.port, a.subnqn, hostnqn, nr_io_queues=1, hostid=hostid,
                         hdgst=dig, ddgst=dig, timeout=to, io_cattr=0x4, kato_ms=120000)
        try:
            q = d.io[0]
            data = os.urandom(64 * 1024)
            q.write(nsid, base + 2048, data, bs, timeout=to)
            n0 = dict(q.stats)
            got = q.read(nsid, base + 2048, len(data) // bs, bs, timeout=to)
            expect(got == data, "read back differs")
            succ, resp = q.stats["SUCCESS"] - n0["SUCCESS"], q.stats["CapsuleResp"] - n0["CapsuleResp"]
            q.flush(nsid, timeout=to)
            return "read completed by %d SUCCESS flag(s), %d CapsuleResp" % (succ, resp)
        finally:
            d.close()
    r.check(tag + "I/O queue with SQ flow control disabled (CATTR bit 2), reads", sqfc_disabled)

    def forced_r2t():
        # last use of io[0]: a target that never answers leaves this command outstanding
        q = c.io[0]
        data = os.urandom(4096)
        n0 = dict(q.stats)
        try:
            q.write(nsid, base + 8, data, bs, in_capsule=False, timeout=min(to, 15))
        except t.NvmeTcpError as e:
            if "timed out" in str(e) and q.stats["R2T"] == n0["R2T"] and \
                    c.id["mn"].startswith("Linux"):
                raise Known("kernel nvmet-tcp sends no R2T for a write that would fit its "
                            "in-capsule size when the host uses a transport SGL; the command "
                            "never completes") from None
            raise
        expect(q.stats["R2T"] > n0["R2T"], "no R2T for a transport-SGL write")
        expect(q.read(nsid, base + 8, lb4k, bs, timeout=to) == data, "read back differs")
    r.check(tag + "4 KiB write with a transport SGL (R2T) instead of in-capsule", forced_r2t)

    def disconnect_io():
        q = c.io[1]
        try:
            q.disconnect(timeout=to)
            ok = "Disconnect completed"
        except t.NvmeStatus as e:
            if e.sct == 0 and e.sc == 0x01:
                return "Disconnect not supported (Invalid Command Opcode): optional command"
            raise
        return ok
    r.check(tag + "disconnect an I/O queue (optional command)", disconnect_io)

    def close():
        c.close()
    r.check(tag + "shutdown (CC.SHN) and close", close)


def malformed(r, a, hostnqn, hostid):
    st = {}
    to = a.timeout

    def second():
        st["b"] = t.Controller(a.addr, a.port, a.subnqn, hostnqn, nr_io_queues=1,
                               hostid=hostid, timeout=to, kato_ms=120000)
        ns = t.parse_id_ns(st["b"].admin.identify(0, nsid=a.nsid, timeout=to))
        st["bs"] = ns["lba_size"]
        return "healthy controller %d up" % st["b"].cntlid
    if not r.check("malformed: a second, healthy controller", second):
        return
    b, bs = st["b"], st["bs"]

    def bad_hlen():
        q = t.Queue(a.addr, a.port, timeout=to)
        try:
            q.connect(a.subnqn, hostnqn, hostid=hostid)
            cid = q.alloc_cid()
            cmd = t.sqe(t.OPC_IDENTIFY, 0, cdw10=1, cid=cid, sgl=t.sgl_transport(4096))
            q.send_raw(q.pdu_capsule_cmd(cmd, hlen=80))        # CapsuleCmd HLEN is 72
            res = q.expect_term_req(to)
            closed = q.closed(to)
            if res is not None:
                fes, fei = res
                expect(fes == t.FES_INVALID_HEADER_FIELD and fei == 2,
                       "C2HTermReq FES 0x%x FEI %d, expected 1 (invalid header field) / 2 (HLEN)"
                       % (fes, fei))
                expect(closed, "C2HTermReq sent but the connection stays open")
                return "C2HTermReq FES %d FEI %d, then closed" % (fes, fei)
            expect(closed, "connection still open")
            return "closed without C2HTermReq"
        finally:
            q.close()
    r.check("malformed: CapsuleCmd with HLEN 80 gets C2HTermReq or a close", bad_hlen)

    def still_fine():
        data = os.urandom(8192)
        b.io[0].write(a.nsid, 4096, data, bs, timeout=to)
        expect(b.io[0].read(a.nsid, 4096, 8192 // bs, bs, timeout=to) == data, "read back differs")
        b.admin.keep_alive(timeout=to)
        t.parse_id_ctrl(b.admin.identify(1, timeout=to))
    r.check("malformed: the second controller still works", still_fine)

    def fresh():
        c = t.Controller(a.addr, a.port, a.subnqn, hostnqn, nr_io_queues=1, hostid=hostid, timeout=to)
        c.io[0].read(a.nsid, 0, 1, bs, timeout=to)
        c.close()
    r.check("malformed: a new controller can connect afterwards", fresh)
    r.check("malformed: close the second controller", b.close)


if __name__ == "__main__":
    sys.exit(main())
