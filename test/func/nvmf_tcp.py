#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A small NVMe/TCP host for Tern's functional tests (standard library only).

It is the independent client that checks the target, so it follows the
specifications, not an implementation: the NVM Express TCP Transport
Specification 1.0 ("TCP") and the NVM Express Base Specification 2.0
("Base", its fabrics chapter 6 and the admin commands). Wire layouts match
lib/nvme/tern_nvme_tcp_spec.h, tern_nvmf_spec.h and tern_nvme_spec.h.

    python3 test/func/nvmf_tcp.py selftest     # unit checks, no network
    python3 test/func/nvmf_tcp.py discover ADDR [PORT]

Layers
------
* crc32c(), the PDU builders pdu_*() and parse_pdu(): bytes in, bytes out,
  every header field overridable so tests can build malformed PDUs.
* sqe() and the SGL helpers: 64-byte submission queue entries.
* Queue: one TCP connection = one NVMe queue pair. ICReq/ICResp on
  construction, then submit() and helpers (connect, prop_get/set, enable,
  identify, get_log_page, features, I/O). Raw access: send_raw, recv_pdu,
  expect_term_req, closed.
* Controller: admin queue + I/O queues, the usual bring-up.
* discover(): the discovery log, generation counter checked.

Decisions taken from the specifications
---------------------------------------
SGL1 in every command (TCP 3.3; descriptor formats Base 4.1.2). NVMe/TCP
uses exactly one SGL descriptor in the SQE (PSDT = 01b, Base Figure 88
"for NVMe over Fabrics ... SGLs"):
  - data sent inside the command capsule: SGL Data Block descriptor,
    type 0h, subtype 1h (Offset), Address = 0 (offset from the start of the
    in-capsule data; ICDOFF must be 0, see below), Length = data length;
  - data transferred outside the capsule (C2HData for controller-to-host,
    R2T + H2CData for host-to-controller): Transport SGL Data Block
    descriptor, type 5h, subtype Ah (transport specific), Address = 0,
    Length = data length;
  - no data: the same Transport Data Block descriptor with Length 0.
In-capsule data limits: the admin queue accepts 8 KiB of in-capsule data
(TCP capsule size rules); an I/O queue accepts IOCCSZ * 16 - 64 bytes
(Identify Controller IOCCSZ is in 16-byte units and counts the 64-byte SQE).
Queue.icd_max holds the limit used by submit(in_capsule=None); Controller
sets it from IOCCSZ. Data at a non-zero ICDOFF is not supported (Controller
raises if a target reports ICDOFF != 0).

PDU data alignment (TCP 3.6.2.2-3): HPDA (sent in ICReq, here 0) is the
alignment the host wants for PDUs *it receives* with data (C2HData); CPDA
(from ICResp) is what the controller wants for PDUs *it receives* with data
(CapsuleCmd with in-capsule data, H2CData). So builders pad PDO up to a
multiple of (CPDA + 1) * 4 when sending, and the parser simply starts data
at PDO (checking PDO >= HLEN + header digest and PDO <= PLEN).

Digests (TCP 3.6.1): CRC32C (Castagnoli, reflected, init and final xor
FFFFFFFFh), stored little-endian. The header digest covers the HLEN header
bytes and follows the header; the data digest covers the data only (not the
padding) and ends the PDU. HDGSTF/DDGSTF are set exactly when the digest
is present: never on ICReq/ICResp/H2CTermReq/C2HTermReq, DDGSTF only on
PDUs that carry data. ICResp may not enable a digest the host did not ask
for; it may decline one (Queue.hdgst/ddgst give the negotiated result).

C2HData SUCCESS flag (TCP 3.6.2.9): valid only together with LAST_PDU; the
command completed successfully and no CapsuleResp follows (the completion
then has status 0 and no SQHD). The flag is only permitted when SQ flow
control is disabled on the queue (Connect CATTR bit 2); receiving it
otherwise is reported as a protocol error unless the queue tolerates
"success_with_sqfc".

Data length: a command's C2HData PDUs must be contiguous from offset 0
(DATAO == bytes received so far), stay within the SGL length, and carry
LAST_PDU on the PDU that completes the transfer. A successful completion
with fewer bytes than requested is a protocol error unless "short_c2h" is
tolerated. R2T (TCP 3.6.2.10): R2TO + R2TL within the command's data,
R2TL > 0; the host answers with H2CData PDUs of at most MAXH2CDATA bytes,
TTAG copied, LAST_PDU on the last PDU of *each* R2T. MAXR2T is sent as 0
(0's based: one outstanding R2T per command).

SQ flow control (Base 2.0 fabrics queue model): unless disabled in Connect,
the host keeps at most SQSIZE commands in the SQ (SQSIZE is 0's based, so
one slot stays free) and frees slots from the SQHD of each completion. CQE
fields are checked: SQID must be the queue's QID, SQHD < SQSIZE + 1.

Status values (NvmeStatus.status, Completion.status) are the CQE status
field shifted right by one (the phase bit dropped): SC 7:0, SCT 10:8,
CRD 12:11, M 13, DNR 14 -- the layout of lib/nvme's TERN_NVME_STATUS().

Tolerances
----------
Queue(..., tolerate={...}) accepts named deviations explicitly; nothing is
accepted silently. Known names: "success_with_sqfc", "short_c2h".

Linux kernel nvmet-tcp (Debian 6.1.0) as seen from this client
--------------------------------------------------------------
test/vm/tests/client-knvmet-tcp.sh runs nvmf_tcp_interop.py against it with
digests off and on. The library needed no tolerance for it. What differs
from the specifications (the interop script reports these as KNOWN):
  - A write whose length fits the in-capsule limit but is described by a
    transport SGL (data to follow R2T) never gets an R2T: nvmet waits for
    in-capsule data and the command never completes. The host's choice is
    legal (TCP 3.3); Linux hosts always send such data in-capsule.
  - SMART / Health log read with an offset (LPOL) fails with Internal Error
    although LPA bit 2 (extended data, offsets) is set; offsets work on the
    discovery log.
  - The file backend answers a read past the namespace end with Capacity
    Exceeded (81h) instead of LBA Out of Range (80h).
Behaviour that is legal but worth knowing:
  - Disconnect (fabrics 08h, optional) is not implemented: Invalid Command
    Opcode; Controller.close() ignores that.
  - A malformed PDU header (CapsuleCmd HLEN 80) makes it close the
    connection without a C2HTermReq (TCP lets the controller just close);
    that queue's controller gets a fatal error, other controllers live on.
  - It sets the More bit (status bit 13) on errors it logs in the Error
    Information log; Compare is not supported (ONCS bit 0 clear); TREQ has
    bit 2 (SQ flow control disable) and C2HData then carries SUCCESS.
  - Write Zeroes on a file namespace needs fallocate(ZERO_RANGE): on tmpfs
    it fails (SCT 1 SC 83h) although ONCS advertises it.
  - Keep Alive on a controller connected with KATO 0 fails with Keep Alive
    Timeout Invalid.
"""
import os
import socket
import struct
import sys
import time
import uuid as _uuid

# ---------------------------------------------------------------- constants
ICREQ, ICRESP, H2C_TERM_REQ, C2H_TERM_REQ = 0x00, 0x01, 0x02, 0x03
CAPSULE_CMD, CAPSULE_RESP, H2C_DATA, C2H_DATA, R2T = 0x04, 0x05, 0x06, 0x07, 0x09
PDU_NAMES = {ICREQ: "ICReq", ICRESP: "ICResp", H2C_TERM_REQ: "H2CTermReq",
             C2H_TERM_REQ: "C2HTermReq", CAPSULE_CMD: "CapsuleCmd",
             CAPSULE_RESP: "CapsuleResp", H2C_DATA: "H2CData", C2H_DATA: "C2HData",
             R2T: "R2T"}
# Header length of every PDU type (TCP 3.6.2): the PDU-specific header included.
PDU_HLEN = {ICREQ: 128, ICRESP: 128, H2C_TERM_REQ: 24, C2H_TERM_REQ: 24,
            CAPSULE_CMD: 72, CAPSULE_RESP: 24, H2C_DATA: 24, C2H_DATA: 24, R2T: 24}

FLAG_HDGSTF = 0x01
FLAG_DDGSTF = 0x02
FLAG_LAST_PDU = 0x04
FLAG_SUCCESS = 0x08
DGST_HDR = 0x01     # ICReq/ICResp DGST bits
DGST_DATA = 0x02
TERM_REQ_MAX_DATA = 128

# Fatal error status of H2CTermReq/C2HTermReq (TCP 3.6.2.4-5).
FES_INVALID_HEADER_FIELD = 0x01
FES_PDU_SEQUENCE_ERROR = 0x02
FES_HDGST_ERROR = 0x03
FES_DATA_OUT_OF_RANGE = 0x04
FES_DATA_LIMIT_EXCEEDED = 0x05
FES_UNSUPPORTED_PARAMETER = 0x06

# SGL descriptor types and subtypes (Base 4.1.2).
SGL_DATA_BLOCK = 0x0
SGL_TRANSPORT_DATA_BLOCK = 0x5
SGL_SUBTYPE_ADDRESS = 0x0
SGL_SUBTYPE_OFFSET = 0x1
SGL_SUBTYPE_TRANSPORT = 0xA
PSDT_SGL = 0x40         # CDW0 bits 15:14 = 01b: SGL, MPTR contiguous

ADMIN_ICD_MAX = 8192    # admin queue in-capsule data limit

# Opcodes.
OPC_FABRICS = 0x7F
FCTYPE_PROPERTY_SET, FCTYPE_CONNECT, FCTYPE_PROPERTY_GET = 0x00, 0x01, 0x04
FCTYPE_DISCONNECT = 0x08
OPC_GET_LOG_PAGE, OPC_IDENTIFY, OPC_ABORT = 0x02, 0x06, 0x08
OPC_SET_FEATURES, OPC_GET_FEATURES, OPC_AER, OPC_KEEP_ALIVE = 0x09, 0x0A, 0x0C, 0x18
OPC_FLUSH, OPC_WRITE, OPC_READ, OPC_COMPARE = 0x00, 0x01, 0x02, 0x05
OPC_WRITE_ZEROES, OPC_DSM = 0x08, 0x09

# Properties (controller registers, Base 3.1.3).
PROP_CAP, PROP_VS, PROP_CC, PROP_CSTS, PROP_NSSR = 0x00, 0x08, 0x14, 0x1C, 0x20
PROP_8BYTE = (PROP_CAP, 0x28, 0x30)     # CAP, ASQ, ACQ

DISCOVERY_NQN = "nqn.2014-08.org.nvmexpress.discovery"
LID_ERROR, LID_SMART, LID_FW_SLOT, LID_CHANGED_NS, LID_CMD_EFFECTS = 1, 2, 3, 4, 5
LID_DISCOVERY = 0x70
FID_NUM_QUEUES, FID_ASYNC_EVENT_CONFIG, FID_KATO = 0x07, 0x0B, 0x0F

KNOWN_TOLERANCES = frozenset({"success_with_sqfc", "short_c2h"})


# ---------------------------------------------------------------- errors
class NvmeTcpError(Exception):
    """Transport-level failure: a protocol violation by the peer, a timeout,
    a closed connection, a termination request."""


class NvmeTcpTermReq(NvmeTcpError):
    """The controller sent a C2HTermReq."""

    def __init__(self, fes, fei, data=b""):
        self.fes, self.fei, self.data = fes, fei, data
        super().__init__("C2HTermReq: FES 0x%x (%s), FEI 0x%x"
                         % (fes, _FES_NAMES.get(fes, "reserved"), fei))


_FES_NAMES = {FES_INVALID_HEADER_FIELD: "invalid PDU header field",
              FES_PDU_SEQUENCE_ERROR: "PDU sequence error",
              FES_HDGST_ERROR: "header digest error",
              FES_DATA_OUT_OF_RANGE: "data transfer out of range",
              FES_DATA_LIMIT_EXCEEDED: "data transfer limit exceeded",
              FES_UNSUPPORTED_PARAMETER: "unsupported parameter"}

_SCT_NAMES = {0: "generic", 1: "command specific", 2: "media/data integrity",
              3: "path", 7: "vendor"}
_SC_NAMES = {
    (0, 0x00): "Success", (0, 0x01): "Invalid Command Opcode",
    (0, 0x02): "Invalid Field in Command", (0, 0x03): "Command ID Conflict",
    (0, 0x04): "Data Transfer Error", (0, 0x06): "Internal Error",
    (0, 0x07): "Command Abort Requested", (0, 0x08): "Command Aborted due to SQ Deletion",
    (0, 0x0B): "Invalid Namespace or Format", (0, 0x0C): "Command Sequence Error",
    (0, 0x0D): "Invalid SGL Segment Descriptor", (0, 0x0E): "Invalid Number of SGL Descriptors",
    (0, 0x0F): "Data SGL Length Invalid", (0, 0x11): "SGL Descriptor Type Invalid",
    (0, 0x16): "Invalid SGL Offset", (0, 0x19): "Keep Alive Timer Expired",
    (0, 0x1A): "Keep Alive Timeout Invalid", (0, 0x22): "Transient Transport Error",
    (0, 0x80): "LBA Out of Range", (0, 0x81): "Capacity Exceeded",
    (0, 0x82): "Namespace Not Ready",
    (1, 0x01): "Invalid Queue Identifier", (1, 0x02): "Invalid Queue Size",
    (1, 0x05): "Asynchronous Event Request Limit Exceeded", (1, 0x09): "Invalid Log Page",
    (1, 0x0D): "Feature Identifier Not Saveable", (1, 0x0E): "Feature Not Changeable",
    (1, 0x0F): "Feature Not Namespace Specific",
    (1, 0x80): "Incompatible Format / Conflicting Attributes",
    (1, 0x81): "Controller Busy / Invalid Protection Information",
    (1, 0x82): "Connect Invalid Parameters / Attempted Write to Read Only Range",
    (1, 0x83): "Connect Restart Discovery", (1, 0x84): "Connect Invalid Host",
    (1, 0x85): "Invalid Queue Type", (1, 0x90): "Discover Restart",
    (1, 0x91): "Authentication Required",
    (2, 0x80): "Write Fault", (2, 0x81): "Unrecovered Read Error",
    (2, 0x85): "Compare Failure", (2, 0x86): "Access Denied",
    (2, 0x87): "Deallocated or Unwritten Logical Block",
}


def status_str(status):
    """Human form of a 16-bit status (CQE status field >> 1)."""
    sc, sct = status & 0xFF, (status >> 8) & 0x7
    s = "status 0x%04x (SCT %d %s, SC 0x%02x %s" % (
        status, sct, _SCT_NAMES.get(sct, "reserved"), sc, _SC_NAMES.get((sct, sc), "?"))
    if status & 0x2000:
        s += ", More"
    if status & 0x4000:
        s += ", DNR"
    if (status >> 11) & 0x3:
        s += ", CRD %d" % ((status >> 11) & 0x3)
    return s + ")"


class NvmeStatus(Exception):
    """A command completed with a non-zero status.

    .status is the 16-bit value (CQE status field >> 1); .sc, .sct, .dnr,
    .more, .crd are its fields; .cdw0 the completion's dword 0 (e.g. the
    IATTR/IPO of a Connect Invalid Parameters)."""

    def __init__(self, status, cdw0=0, what="command", cid=None, cpl=None):
        self.status = status & 0x7FFF
        self.cdw0 = cdw0
        self.what = what
        self.cid = cid
        self.cpl = cpl
        super().__init__(str(self))

    sc = property(lambda self: self.status & 0xFF)
    sct = property(lambda self: (self.status >> 8) & 0x7)
    crd = property(lambda self: (self.status >> 11) & 0x3)
    more = property(lambda self: bool(self.status & 0x2000))
    dnr = property(lambda self: bool(self.status & 0x4000))

    def __str__(self):
        return "%s failed: %s, cdw0 0x%08x%s" % (
            self.what, status_str(self.status), self.cdw0,
            "" if self.cid is None else ", cid %d" % self.cid)


# ---------------------------------------------------------------- CRC32C
def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_CRC_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC32C (Castagnoli) of data; pass a previous result as crc to continue."""
    c = crc ^ 0xFFFFFFFF
    t = _CRC_TABLE
    for b in bytes(data):
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def digest(data):
    """The 4 digest bytes NVMe/TCP puts on the wire for data."""
    return struct.pack("<I", crc32c(data))


assert crc32c(b"123456789") == 0xE3069283, "CRC32C self-check failed"


# ---------------------------------------------------------------- SQE / SGL
def sgl_desc(address=0, length=0, type_=SGL_DATA_BLOCK, subtype=SGL_SUBTYPE_ADDRESS):
    """A 16-byte unkeyed SGL descriptor (Base 4.1.2)."""
    return struct.pack("<QI3xB", address, length, (type_ & 0xF) << 4 | (subtype & 0xF))


def sgl_incapsule(length, offset=0):
    """Data in this capsule: Data Block, Offset subtype (TCP 3.3)."""
    return sgl_desc(offset, length, SGL_DATA_BLOCK, SGL_SUBTYPE_OFFSET)


def sgl_transport(length):
    """Data moved by C2HData or R2T/H2CData: Transport Data Block, subtype Ah."""
    return sgl_desc(0, length, SGL_TRANSPORT_DATA_BLOCK, SGL_SUBTYPE_TRANSPORT)


def parse_sgl(b):
    address, length, ident = struct.unpack_from("<QI3xB", b)
    return {"address": address, "length": length, "type": ident >> 4, "subtype": ident & 0xF}


def sqe(opc, nsid=0, cdw10=0, cdw11=0, cdw12=0, cdw13=0, cdw14=0, cdw15=0,
        sgl=None, cid=0, psdt=PSDT_SGL, fuse=0, cdw2=0, cdw3=0, mptr=0):
    """A 64-byte submission queue entry (Base 4.2). sgl: 16 bytes or None
    (submit() fills SGL1 in then). psdt is the CDW0 byte-1 value (default
    01b in bits 7:6)."""
    if sgl is None:
        sgl = bytes(16)
    if len(sgl) != 16:
        raise ValueError("SGL descriptor must be 16 bytes")
    flags = (psdt & 0xC0) | (fuse & 0x3)
    return (struct.pack("<BBHIIIQ", opc, flags, cid, nsid, cdw2, cdw3, mptr) + bytes(sgl)
            + struct.pack("<6I", cdw10, cdw11, cdw12, cdw13, cdw14, cdw15))


def fabrics_sqe(fctype, specific=b"", cid=0, sgl=None):
    """A fabrics command (opcode 7Fh, Base 6.1): FCTYPE at byte 4, bytes
    40-63 command specific."""
    if len(specific) > 24:
        raise ValueError("fabrics specific part is 24 bytes")
    b = bytearray(sqe(OPC_FABRICS, cid=cid, sgl=sgl))
    b[4] = fctype
    b[5:24] = bytes(19)     # reserved in the fabrics layout
    b[40:40 + len(specific)] = specific
    return bytes(b)


def connect_sqe(qid, sqsize, cattr=0, kato_ms=0, recfmt=0):
    """Connect (Base 6.3, Figure 547)."""
    return fabrics_sqe(FCTYPE_CONNECT, struct.pack("<HHHBxI", recfmt, qid, sqsize, cattr, kato_ms))


def connect_data(subnqn, hostnqn, cntlid=0xFFFF, hostid=bytes(16)):
    """Connect data (Base 6.3, Figure 548): 1024 bytes."""
    if len(hostid) != 16:
        raise ValueError("hostid is 16 bytes")
    sub, host = _nqn_bytes(subnqn), _nqn_bytes(hostnqn)
    d = bytearray(1024)
    d[0:16] = hostid
    struct.pack_into("<H", d, 16, cntlid)
    d[256:256 + len(sub)] = sub
    d[512:512 + len(host)] = host
    return bytes(d)


def _nqn_bytes(nqn):
    b = nqn.encode() if isinstance(nqn, str) else bytes(nqn)
    if len(b) > 255:
        raise ValueError("NQN longer than 255 bytes")
    return b


def property_get_sqe(ofst, size8):
    return fabrics_sqe(FCTYPE_PROPERTY_GET, struct.pack("<B3xI", 1 if size8 else 0, ofst))


def property_set_sqe(ofst, value, size8):
    return fabrics_sqe(FCTYPE_PROPERTY_SET, struct.pack("<B3xIQ", 1 if size8 else 0, ofst, value))


def disconnect_sqe(recfmt=0):
    return fabrics_sqe(FCTYPE_DISCONNECT, struct.pack("<H", recfmt))


def sqe_set_cid(cmd, cid):
    return cmd[:2] + struct.pack("<H", cid) + cmd[4:]


def sqe_set_sgl(cmd, sgl):
    return cmd[:24] + bytes(sgl) + cmd[40:]


# ---------------------------------------------------------------- PDUs
def _roundup(n, align):
    return (n + align - 1) // align * align


def build_pdu(ptype, psh, data=b"", hdgst=False, ddgst=False, pda=0, flags=0,
              hlen=None, pdo=None, plen=None, type_=None,
              hdgst_value=None, ddgst_value=None, pad_byte=0):
    """Assemble a PDU: common header + PDU-specific header psh [+ HDGST]
    [+ PAD + DATA [+ DDGST]].

    pda is the receiver's alignment field (CPDA when a host sends): PDO is
    rounded up to (pda + 1) * 4. The digest flags are added from hdgst /
    ddgst (ddgst only when there is data). Overrides for malformed PDUs:
    hlen, pdo, plen, type_ replace the computed header fields *before* the
    header digest is computed; hdgst_value / ddgst_value (4 bytes or int)
    replace the digests."""
    data = bytes(data)
    real_hlen = 8 + len(psh)
    hd = 4 if hdgst else 0
    fl = flags | (FLAG_HDGSTF if hdgst else 0)
    if data:
        if ddgst:
            fl |= FLAG_DDGSTF
        c_pdo = _roundup(real_hlen + hd, (pda + 1) * 4)
        c_plen = c_pdo + len(data) + (4 if ddgst else 0)
    else:
        c_pdo = 0
        c_plen = real_hlen + hd
    ch = struct.pack("<BBBBI", ptype if type_ is None else type_, fl,
                     real_hlen if hlen is None else hlen,
                     c_pdo if pdo is None else pdo, c_plen if plen is None else plen)
    header = ch + bytes(psh)
    out = bytearray(header)
    if hdgst:
        out += _dg(hdgst_value) if hdgst_value is not None else digest(header)
    if data:
        out += bytes([pad_byte]) * (c_pdo - len(out))
        out += data
        if ddgst:
            out += _dg(ddgst_value) if ddgst_value is not None else digest(data)
    return bytes(out)


def _dg(v):
    return struct.pack("<I", v) if isinstance(v, int) else bytes(v)


def pdu_icreq(pfv=0, hpda=0, hdgst=False, ddgst=False, maxr2t=0, **over):
    """ICReq (TCP 3.6.2.2): 128 bytes, no digests, PDO 0."""
    dgst = (DGST_HDR if hdgst else 0) | (DGST_DATA if ddgst else 0)
    return build_pdu(ICREQ, struct.pack("<HBBI112x", pfv, hpda, dgst, maxr2t), **over)


def pdu_icresp(pfv=0, cpda=0, hdgst=False, ddgst=False, maxh2cdata=0x10000, **over):
    """ICResp (TCP 3.6.2.3), for fake controllers in tests."""
    dgst = (DGST_HDR if hdgst else 0) | (DGST_DATA if ddgst else 0)
    return build_pdu(ICRESP, struct.pack("<HBBI112x", pfv, cpda, dgst, maxh2cdata), **over)


def pdu_capsule_cmd(sqe_bytes, data=b"", hdgst=False, ddgst=False, pdo=None, cpda=0, **over):
    """CapsuleCmd (TCP 3.6.2.6): the SQE, then in-capsule data if any. The
    SQE's SGL1 is sent as given (see sgl_incapsule)."""
    if len(sqe_bytes) != 64:
        raise ValueError("SQE must be 64 bytes")
    return build_pdu(CAPSULE_CMD, sqe_bytes, data, hdgst, ddgst, cpda, pdo=pdo, **over)


def pdu_capsule_resp(cqe_bytes, hdgst=False, **over):
    """CapsuleResp (TCP 3.6.2.7), for fake controllers in tests."""
    return build_pdu(CAPSULE_RESP, cqe_bytes, b"", hdgst, False, **over)


def pdu_h2c_data(cccid, ttag, datao, data, last=True, hdgst=False, ddgst=False,
                 cpda=0, pdo=None, datal=None, **over):
    """H2CData (TCP 3.6.2.8). LAST_PDU when last; datal overrides DATAL."""
    psh = struct.pack("<HHII4x", cccid, ttag, datao, len(data) if datal is None else datal)
    return build_pdu(H2C_DATA, psh, data, hdgst, ddgst, cpda,
                     flags=over.pop("flags", 0) | (FLAG_LAST_PDU if last else 0), pdo=pdo, **over)


def pdu_c2h_data(cccid, datao, data, last=True, success=False, hdgst=False, ddgst=False,
                 hpda=0, datal=None, **over):
    """C2HData (TCP 3.6.2.9), for fake controllers in tests."""
    psh = struct.pack("<HHII4x", cccid, 0, datao, len(data) if datal is None else datal)
    fl = over.pop("flags", 0) | (FLAG_LAST_PDU if last else 0) | (FLAG_SUCCESS if success else 0)
    return build_pdu(C2H_DATA, psh, data, hdgst, ddgst, hpda, flags=fl, **over)


def pdu_r2t(cccid, ttag, r2to, r2tl, hdgst=False, **over):
    """R2T (TCP 3.6.2.10), for fake controllers in tests."""
    return build_pdu(R2T, struct.pack("<HHII4x", cccid, ttag, r2to, r2tl), b"", hdgst, **over)


def pdu_term_req(fes, fei=0, data=b"", c2h=False, **over):
    """H2CTermReq (or C2HTermReq with c2h=True), TCP 3.6.2.4-5: FES, FEI,
    then up to 128 bytes of the offending PDU header; no digests, PDO 0."""
    data = bytes(data)[:TERM_REQ_MAX_DATA]
    ptype = C2H_TERM_REQ if c2h else H2C_TERM_REQ
    raw = build_pdu(ptype, struct.pack("<HI10x", fes, fei), **over)
    if data:        # the header copy is not "data" in the PDO sense: PDO stays 0
        raw = raw[:4] + struct.pack("<I", len(raw) + len(data) if "plen" not in over
                                    else over["plen"]) + raw[8:] + data
    return raw


def cqe(cid, status=0, cdw0=0, cdw1=0, sqhd=0, sqid=0, phase=0):
    """A 16-byte completion queue entry; status is the 16-bit value."""
    return struct.pack("<IIHHHH", cdw0, cdw1, sqhd, sqid, cid, (status & 0x7FFF) << 1 | phase)


class Pdu(tuple):
    """A received PDU: (type, flags, hlen, pdo, plen, header, data).

    header is the HLEN header bytes, data the payload (between PDO and the
    data digest; for a termination request, the bytes after the header).
    Extra attributes: raw (the whole PDU), hdgst / ddgst (the received digest
    values or None), hdgst_ok / ddgst_ok (None when absent)."""

    def __new__(cls, type_, flags, hlen, pdo, plen, header, data):
        return tuple.__new__(cls, (type_, flags, hlen, pdo, plen, header, data))

    type = property(lambda s: s[0])
    flags = property(lambda s: s[1])
    hlen = property(lambda s: s[2])
    pdo = property(lambda s: s[3])
    plen = property(lambda s: s[4])
    header = property(lambda s: s[5])
    data = property(lambda s: s[6])

    def __repr__(self):
        return "<%s flags=0x%x hlen=%d pdo=%d plen=%d data=%d>" % (
            PDU_NAMES.get(self.type, "type 0x%x" % self.type), self.flags, self.hlen,
            self.pdo, self.plen, len(self.data))


def _has_digests(ptype):
    return ptype not in (ICREQ, ICRESP, H2C_TERM_REQ, C2H_TERM_REQ)


def parse_pdu(raw):
    """Split a complete PDU (bytes of length PLEN) into a Pdu. The digest
    positions come from the header's own flags and PDO; nothing is judged
    here except what is needed to find the parts (ValueError if they do not
    fit)."""
    raw = bytes(raw)
    if len(raw) < 8:
        raise ValueError("PDU shorter than the common header")
    ptype, flags, hlen, pdo, plen = struct.unpack_from("<BBBBI", raw)
    if plen != len(raw):
        raise ValueError("PLEN %d but %d bytes" % (plen, len(raw)))
    if hlen < 8 or hlen > plen:
        raise ValueError("HLEN %d outside 8..PLEN %d" % (hlen, plen))
    header = raw[:hlen]
    hd = dd = None
    hd_ok = dd_ok = None
    dig = _has_digests(ptype)
    if dig and flags & FLAG_HDGSTF:
        if hlen + 4 > plen:
            raise ValueError("HDGSTF set but no room for the header digest")
        hd = raw[hlen:hlen + 4]
        hd_ok = hd == digest(header)
    if not dig or pdo == 0:
        data = raw[hlen:] if not dig else b""
        if dig and len(raw) != hlen + (4 if hd is not None else 0):
            data = raw[hlen + (4 if hd is not None else 0):]     # unexpected trailing bytes
    else:
        end = plen
        if flags & FLAG_DDGSTF:
            end -= 4
            if end < pdo:
                raise ValueError("DDGSTF set but no room for the data digest")
            dd = raw[end:]
        if pdo > end:
            raise ValueError("PDO %d beyond the data end %d" % (pdo, end))
        data = raw[pdo:end]
        if dd is not None:
            dd_ok = dd == digest(data)
    p = Pdu(ptype, flags, hlen, pdo, plen, header, data)
    p.raw, p.hdgst, p.ddgst, p.hdgst_ok, p.ddgst_ok = raw, hd, dd, hd_ok, dd_ok
    return p


# ---------------------------------------------------------------- completions
class Completion:
    """A completed command: the CQE fields and the data received.

    status is the 16-bit status (CQE field >> 1); sqhd is None when the
    command completed through a C2HData SUCCESS flag (no CQE was sent)."""
    __slots__ = ("cdw0", "cdw1", "sqhd", "sqid", "cid", "status", "data", "via_success", "opc")

    def __init__(self, cdw0=0, cdw1=0, sqhd=None, sqid=0, cid=0, status=0, data=b"",
                 via_success=False, opc=None):
        self.cdw0, self.cdw1, self.sqhd, self.sqid, self.cid = cdw0, cdw1, sqhd, sqid, cid
        self.status, self.data, self.via_success, self.opc = status, data, via_success, opc

    @classmethod
    def from_cqe(cls, b):
        cdw0, cdw1, sqhd, sqid, cid, st = struct.unpack_from("<IIHHHH", b)
        return cls(cdw0, cdw1, sqhd, sqid, cid, st >> 1)

    ok = property(lambda s: s.status & 0x7FF == 0)
    sc = property(lambda s: s.status & 0xFF)
    sct = property(lambda s: (s.status >> 8) & 0x7)
    dnr = property(lambda s: bool(s.status & 0x4000))
    more = property(lambda s: bool(s.status & 0x2000))

    def check(self, what="command"):
        """Raise NvmeStatus unless the status is success; return self."""
        if not self.ok:
            raise NvmeStatus(self.status, self.cdw0, what, self.cid, self)
        return self

    def __repr__(self):
        return "<Completion cid=%d %s cdw0=0x%x sqhd=%s sqid=%d data=%d%s>" % (
            self.cid, "ok" if self.ok else status_str(self.status), self.cdw0,
            self.sqhd, self.sqid, len(self.data), " SUCCESS-flag" if self.via_success else "")


class _Cmd:
    __slots__ = ("cid", "opc", "data_out", "incapsule", "data_in_len", "buf", "received",
                 "r2t_done", "what")

    def __init__(self, cid, opc, data_out, incapsule, data_in_len, what):
        self.cid, self.opc, self.data_out, self.incapsule = cid, opc, data_out, incapsule
        self.data_in_len, self.what = data_in_len, what
        self.buf = bytearray(data_in_len)
        self.received = 0
        self.r2t_done = 0       # bytes sent in answer to R2Ts


# ---------------------------------------------------------------- queue
class Queue:
    """One NVMe/TCP connection: one queue pair (admin when connected with
    qid 0). Construction opens the socket and does ICReq/ICResp unless
    icreq=False (then call initialize() or speak raw)."""

    def __init__(self, addr=None, port=4420, hdgst=False, ddgst=False, timeout=5.0,
                 family=None, hpda=0, maxr2t=0, tolerate=(), sock=None, icreq=True):
        unknown = set(tolerate) - KNOWN_TOLERANCES
        if unknown:
            raise ValueError("unknown tolerance(s): %s" % ", ".join(sorted(unknown)))
        self.tolerate = frozenset(tolerate)
        self.timeout = timeout
        self.want_hdgst, self.want_ddgst = hdgst, ddgst
        self.hpda, self.maxr2t = hpda, maxr2t
        self.hdgst = self.ddgst = False
        self.cpda = 0
        self.maxh2cdata = None
        self.icresp = None
        self.qid = None
        self.cntlid = None
        self.sqsize = None          # 0's based, from connect()
        self.sqfc_disabled = False
        self.icd_max = None         # in-capsule data limit; None: 8 KiB on the admin queue
        self.term_req = None        # (fes, fei, data) once a C2HTermReq arrived
        self.eof = False
        self._rbuf = bytearray()
        self._pending = {}          # cid -> _Cmd
        self._done = {}             # cid -> Completion not yet collected
        self._next_cid = 1
        self._sq_head = 0
        self._sq_tail = 0
        # what went over the wire: PDUs by name, in-capsule data commands
        self.stats = {"CapsuleCmd": 0, "incapsule": 0, "CapsuleResp": 0, "C2HData": 0,
                      "SUCCESS": 0, "R2T": 0, "H2CData": 0}
        if sock is None:
            sock = self._open(addr, port, family, timeout)
        self.sock = sock
        self.sock.settimeout(timeout)
        if icreq:
            self.initialize()

    @staticmethod
    def _open(addr, port, family, timeout):
        infos = socket.getaddrinfo(addr, port, family or 0, socket.SOCK_STREAM)
        err = None
        for fam, st, proto, _, sa in infos:
            s = socket.socket(fam, st, proto)
            s.settimeout(timeout)
            try:
                s.connect(sa)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return s
            except OSError as e:
                err = e
                s.close()
        raise NvmeTcpError("cannot connect to %s port %s: %s" % (addr, port, err))

    # ------------------------------------------------------------ ICReq
    def initialize(self):
        """Send ICReq (PFV 0, HPDA, MAXR2T, requested digests) and check the
        ICResp (TCP 3.6.2.3)."""
        self.send_raw(pdu_icreq(0, self.hpda, self.want_hdgst, self.want_ddgst, self.maxr2t))
        p = self.recv_pdu()
        if p is None:
            raise NvmeTcpError("connection closed instead of ICResp")
        if p.type == C2H_TERM_REQ:
            self._term(p)
        if p.type != ICRESP:
            raise NvmeTcpError("expected ICResp, got %r" % (p,))
        if p.hlen != 128 or p.plen != 128:
            raise NvmeTcpError("ICResp HLEN %d PLEN %d, both must be 128" % (p.hlen, p.plen))
        if p.flags != 0 or p.pdo != 0:
            raise NvmeTcpError("ICResp FLAGS 0x%x PDO %d, both must be 0" % (p.flags, p.pdo))
        pfv, cpda, dgst, maxh2cdata = struct.unpack_from("<HBBI", p.header, 8)
        if pfv != 0:
            raise NvmeTcpError("ICResp PFV %d, expected 0" % pfv)
        if cpda > 31:
            raise NvmeTcpError("ICResp CPDA %d beyond 31" % cpda)
        if dgst & ~(DGST_HDR | DGST_DATA):
            raise NvmeTcpError("ICResp DGST 0x%x has reserved bits" % dgst)
        if (dgst & DGST_HDR and not self.want_hdgst) or (dgst & DGST_DATA and not self.want_ddgst):
            raise NvmeTcpError("ICResp enables digests not requested (DGST 0x%x)" % dgst)
        if maxh2cdata < 4096 or maxh2cdata % 4:
            raise NvmeTcpError("ICResp MAXH2CDATA %d: must be >= 4096 and a multiple of 4"
                               % maxh2cdata)
        self.icresp = p
        self.cpda, self.maxh2cdata = cpda, maxh2cdata
        self.hdgst, self.ddgst = bool(dgst & DGST_HDR), bool(dgst & DGST_DATA)
        return p

    # ------------------------------------------------------------ raw I/O
    def send_raw(self, data):
        try:
            self.sock.sendall(bytes(data))
        except OSError as e:
            raise NvmeTcpError("send failed: %s" % e) from e

    def _fill(self, n, deadline):
        """Read until the buffer holds n bytes; False on EOF."""
        while len(self._rbuf) < n:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise NvmeTcpError("timed out waiting for the controller")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(65536, n - len(self._rbuf)))
            except socket.timeout:
                raise NvmeTcpError("timed out waiting for the controller") from None
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
                chunk = b""
            if not chunk:
                self.eof = True
                return False
            self._rbuf += chunk
        return True

    def _deadline(self, timeout):
        t = self.timeout if timeout is None else timeout
        return None if t is None else time.monotonic() + t

    def recv_pdu(self, timeout=None):
        """The next PDU as a Pdu (type, flags, hlen, pdo, plen, header, data),
        or None on EOF at a PDU boundary. Digests are computed (hdgst_ok,
        ddgst_ok) but not judged."""
        deadline = self._deadline(timeout)
        if not self._fill(8, deadline):
            if self._rbuf:
                raise NvmeTcpError("connection closed inside a PDU header")
            return None
        plen = struct.unpack_from("<I", self._rbuf, 4)[0]
        if plen < 8 or plen > (64 << 20):
            raise NvmeTcpError("PDU with PLEN %d (header %s)" % (plen, bytes(self._rbuf[:8]).hex()))
        if not self._fill(plen, deadline):
            raise NvmeTcpError("connection closed inside a PDU (%d of %d bytes)"
                               % (len(self._rbuf), plen))
        raw = bytes(self._rbuf[:plen])
        del self._rbuf[:plen]
        try:
            return parse_pdu(raw)
        except ValueError as e:
            raise NvmeTcpError("protocol violation: malformed %s PDU: %s (%s)"
                               % (PDU_NAMES.get(raw[0], "?"), e, raw[:24].hex())) from None

    def expect_term_req(self, timeout=None):
        """Wait for a C2HTermReq and/or the connection closing. Returns
        (fes, fei) when a C2HTermReq came (the connection should then close),
        None when the controller closed without one. Other PDUs are skipped.
        Raises NvmeTcpError on timeout."""
        if self.term_req:
            return self.term_req[:2]
        deadline = self._deadline(timeout)
        while True:
            p = self.recv_pdu(None if deadline is None else max(deadline - time.monotonic(), 0.001))
            if p is None:
                return None
            if p.type == C2H_TERM_REQ:
                self._record_term(p)
                return self.term_req[:2]

    def closed(self, timeout=None):
        """True once the controller closed the connection (within timeout),
        False if it is still open then. PDUs received meanwhile are dropped
        (a C2HTermReq is recorded in .term_req)."""
        if self.eof:
            return True
        deadline = self._deadline(timeout)
        try:
            while True:
                p = self.recv_pdu(None if deadline is None else max(deadline - time.monotonic(), 0.001))
                if p is None:
                    return True
                if p.type == C2H_TERM_REQ:
                    self._record_term(p)
        except NvmeTcpError:
            return self.eof

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _record_term(self, p):
        if p.hlen != 24 or not 24 <= p.plen <= 24 + TERM_REQ_MAX_DATA:
            raise NvmeTcpError("C2HTermReq with HLEN %d PLEN %d" % (p.hlen, p.plen))
        fes, fei = struct.unpack_from("<HI", p.header, 8)
        self.term_req = (fes, fei, p.data)

    def _term(self, p):
        self._record_term(p)
        raise NvmeTcpTermReq(*self.term_req)

    # ------------------------------------------------------------ builders bound to this queue
    def pdu_capsule_cmd(self, sqe_bytes, data=b"", **over):
        over.setdefault("hdgst", self.hdgst)
        over.setdefault("ddgst", self.ddgst)
        over.setdefault("cpda", self.cpda)
        return pdu_capsule_cmd(sqe_bytes, data, **over)

    def pdu_h2c_data(self, cccid, ttag, datao, data, last=True, **over):
        over.setdefault("hdgst", self.hdgst)
        over.setdefault("ddgst", self.ddgst)
        over.setdefault("cpda", self.cpda)
        return pdu_h2c_data(cccid, ttag, datao, data, last, **over)

    # ------------------------------------------------------------ command engine
    def alloc_cid(self):
        """A command identifier not in use on this queue (never FFFFh)."""
        for _ in range(0x10000):
            cid = self._next_cid
            self._next_cid = (self._next_cid + 1) & 0xFFFF
            if self._next_cid == 0xFFFF:
                self._next_cid = 0
            if cid != 0xFFFF and cid not in self._pending and cid not in self._done:
                return cid
        raise NvmeTcpError("no free command identifier")

    def icd_limit(self):
        if self.icd_max is not None:
            return self.icd_max
        return ADMIN_ICD_MAX if not self.qid else 0

    def track(self, cid, opc=0, data_in_len=0, data_out=None, incapsule=True, what="raw command"):
        """Register a command sent with send_raw() so its PDUs are accepted
        and wait_completion(cid) works."""
        self._pending[cid] = _Cmd(cid, opc, data_out, incapsule, data_in_len, what)
        self._sq_tail = self._sq_tail + 1

    def submit(self, cmd, data_out=None, data_in_len=0, in_capsule=None, wait=True,
               timeout=None, check=False, cid=None, set_sgl=True, what=None):
        """Send one command; return its Completion (with .data) or, with
        wait=False, its CID (collect it with wait_completion).

        cmd: a 64-byte SQE, or a dict of sqe() arguments. The CID is
        allocated here (or cid=); SGL1 is filled in unless set_sgl=False:
        in-capsule when data_out fits the in-capsule limit (or
        in_capsule=True), else a transport descriptor and the data follows
        R2Ts. check=True raises NvmeStatus on an error status."""
        if isinstance(cmd, dict):
            cmd = sqe(**cmd)
        cmd = bytes(cmd)
        if len(cmd) != 64:
            raise ValueError("SQE must be 64 bytes")
        if data_out is not None and data_in_len:
            raise ValueError("bidirectional transfers are not supported")
        data_out = None if data_out is None else bytes(data_out)
        if data_out is not None and len(data_out) == 0:
            data_out = None
        if cid is None:
            cid = self.alloc_cid()
        elif cid in self._pending:
            raise ValueError("cid %d is outstanding" % cid)
        cmd = sqe_set_cid(cmd, cid)
        opc = cmd[0]
        what = what or _opc_name(cmd)
        if in_capsule is None:
            in_capsule = data_out is not None and len(data_out) <= self.icd_limit()
        if data_out is None:
            in_capsule = False
        if set_sgl:
            if data_out is not None:
                sgl = sgl_incapsule(len(data_out)) if in_capsule else sgl_transport(len(data_out))
            else:
                sgl = sgl_transport(data_in_len)
            cmd = sqe_set_sgl(cmd, sgl)
        deadline = self._deadline(timeout)
        self._wait_sq_slot(deadline)
        pdu = self.pdu_capsule_cmd(cmd, data_out if in_capsule else b"")
        self._pending[cid] = _Cmd(cid, opc, data_out, in_capsule, data_in_len, what)
        self._sq_tail += 1
        self.stats["CapsuleCmd"] += 1
        self.stats["incapsule"] += 1 if in_capsule else 0
        self.send_raw(pdu)
        if not wait:
            return cid
        cpl = self.wait_completion(cid, timeout)
        return cpl.check(what) if check else cpl

    def _sq_full(self):
        if self.sqsize is None or self.sqfc_disabled:
            return False
        return self._sq_tail - self._sq_head >= self.sqsize      # N - 1 entries usable

    def _wait_sq_slot(self, deadline):
        while self._sq_full():
            self._process_one(deadline)

    def wait_completion(self, cid, timeout=None):
        """Process PDUs until the command cid completes; return its
        Completion. Completions of other commands are kept for later."""
        deadline = self._deadline(timeout)
        while cid not in self._done:
            if cid not in self._pending:
                raise ValueError("cid %d is not outstanding" % cid)
            self._process_one(deadline)
        return self._done.pop(cid)

    def poll(self, timeout=0.0):
        """Process PDUs for up to timeout seconds; returns the completions
        that arrived (they stay collectable by wait_completion too)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._process_one(deadline)
        except NvmeTcpError as e:
            if "timed out" not in str(e):
                raise
        return dict(self._done)

    def pending(self):
        return sorted(self._pending)

    def _violation(self, msg, p=None):
        raise NvmeTcpError("protocol violation: %s%s" % (msg, "" if p is None else " in %r" % (p,)))

    def _process_one(self, deadline):
        p = self.recv_pdu(None if deadline is None else max(deadline - time.monotonic(), 0.001))
        if p is None:
            raise NvmeTcpError("controller closed the connection (commands outstanding: %s)"
                               % self.pending())
        if p.type == C2H_TERM_REQ:
            self._term(p)
        if p.type not in (CAPSULE_RESP, C2H_DATA, R2T):
            self._violation("unexpected PDU type 0x%02x" % p.type, p)
        self._check_common(p)
        self.stats[PDU_NAMES[p.type]] += 1
        if p.type == CAPSULE_RESP:
            self._on_resp(p)
        elif p.type == C2H_DATA:
            self._on_c2h(p)
        else:
            self._on_r2t(p)

    def _check_common(self, p):
        want = PDU_HLEN[p.type]
        if p.hlen != want:
            self._violation("HLEN %d, expected %d" % (p.hlen, want), p)
        allowed = FLAG_HDGSTF
        if p.type == C2H_DATA:
            allowed |= FLAG_DDGSTF | FLAG_LAST_PDU | FLAG_SUCCESS
        if p.flags & ~allowed:
            self._violation("reserved FLAGS bits 0x%x" % (p.flags & ~allowed), p)
        if bool(p.flags & FLAG_HDGSTF) != self.hdgst:
            self._violation("HDGSTF %d but header digests %snegotiated"
                            % (p.flags & 1, "" if self.hdgst else "not "), p)
        if p.hdgst_ok is False:
            self._violation("header digest mismatch (got %s, computed %s)"
                            % (p.hdgst.hex(), digest(p.header).hex()), p)
        hd = 4 if self.hdgst else 0
        if p.type == C2H_DATA:
            if bool(p.flags & FLAG_DDGSTF) != self.ddgst:
                self._violation("DDGSTF %d but data digests %snegotiated"
                                % ((p.flags >> 1) & 1, "" if self.ddgst else "not "), p)
            if p.pdo < p.hlen + hd or p.pdo % ((self.hpda + 1) * 4):
                self._violation("PDO %d (HLEN %d + HDGST %d, HPDA %d)"
                                % (p.pdo, p.hlen, hd, self.hpda), p)
            if p.ddgst_ok is False:
                self._violation("data digest mismatch", p)
        else:
            if p.pdo != 0:
                self._violation("PDO %d on a PDU without data" % p.pdo, p)
            if p.plen != p.hlen + hd:
                self._violation("PLEN %d, expected %d" % (p.plen, p.hlen + hd), p)

    def _on_resp(self, p):
        cpl = Completion.from_cqe(p.header[8:24])
        c = self._pending.get(cpl.cid)
        if c is None:
            self._violation("CapsuleResp for cid %d, not outstanding" % cpl.cid, p)
        if self.qid is not None and cpl.sqid != self.qid:
            self._violation("CQE SQID %d on queue %d" % (cpl.sqid, self.qid), p)
        if self.sqsize is not None and cpl.sqhd > self.sqsize:
            self._violation("CQE SQHD %d beyond SQSIZE %d" % (cpl.sqhd, self.sqsize), p)
        if cpl.ok and c.data_in_len and c.received != c.data_in_len and \
                "short_c2h" not in self.tolerate:
            self._violation("cid %d completed with %d of %d data bytes"
                            % (cpl.cid, c.received, c.data_in_len), p)
        if cpl.ok and c.data_out is not None and not c.incapsule and \
                c.r2t_done != len(c.data_out):
            self._violation("cid %d completed successfully after R2Ts for %d of %d bytes"
                            % (cpl.cid, c.r2t_done, len(c.data_out)), p)
        self._advance_head(cpl.sqhd, p)
        self._finish(c, cpl)

    def _advance_head(self, sqhd, p):
        """Follow SQHD. The counters count every SQ entry since the socket
        opened (Connect included, so they match the controller's ring)."""
        if self.sqsize is None:
            self._sq_head = self._sq_tail
            return
        if self.sqfc_disabled:
            return
        n = self.sqsize + 1
        delta = (sqhd - self._sq_head) % n
        if delta > self._sq_tail - self._sq_head:
            self._violation("SQHD %d is past the SQ tail (head %d, tail %d, %d entries)"
                            % (sqhd, self._sq_head % n, self._sq_tail % n, n), p)
        self._sq_head += delta

    def _finish(self, c, cpl):
        del self._pending[c.cid]
        cpl.opc = c.opc
        cpl.data = bytes(c.buf[:c.received])
        self._done[c.cid] = cpl

    def _on_c2h(self, p):
        cccid, _ttag, datao, datal = struct.unpack_from("<HHII", p.header, 8)
        c = self._pending.get(cccid)
        if c is None:
            self._violation("C2HData for cid %d, not outstanding" % cccid, p)
        if not c.data_in_len:
            self._violation("C2HData for cid %d which reads no data" % cccid, p)
        if datal != len(p.data):
            self._violation("DATAL %d but %d data bytes" % (datal, len(p.data)), p)
        if datal == 0:
            self._violation("C2HData with DATAL 0", p)
        if datao != c.received:
            self._violation("DATAO %d, expected %d (contiguous)" % (datao, c.received), p)
        if datao + datal > c.data_in_len:
            self._violation("data %d+%d beyond the %d-byte buffer" % (datao, datal, c.data_in_len), p)
        c.buf[datao:datao + datal] = p.data
        c.received += datal
        last = bool(p.flags & FLAG_LAST_PDU)
        if last and c.received != c.data_in_len and "short_c2h" not in self.tolerate:
            self._violation("LAST_PDU after %d of %d bytes" % (c.received, c.data_in_len), p)
        if not last and c.received == c.data_in_len:
            self._violation("all %d bytes received but LAST_PDU clear" % c.received, p)
        if p.flags & FLAG_SUCCESS:
            if not last:
                self._violation("SUCCESS without LAST_PDU", p)
            if not self.sqfc_disabled and "success_with_sqfc" not in self.tolerate:
                self._violation("SUCCESS flag while SQ flow control is enabled", p)
            self.stats["SUCCESS"] += 1
            self._finish(c, Completion(0, 0, None, self.qid or 0, cccid, 0, via_success=True))

    def _on_r2t(self, p):
        cccid, ttag, r2to, r2tl = struct.unpack_from("<HHII", p.header, 8)
        c = self._pending.get(cccid)
        if c is None:
            self._violation("R2T for cid %d, not outstanding" % cccid, p)
        if c.data_out is None or c.incapsule:
            self._violation("R2T for cid %d which has no data to send outside the capsule"
                            % cccid, p)
        if r2tl == 0:
            self._violation("R2T with R2TL 0", p)
        if r2to + r2tl > len(c.data_out):
            self._violation("R2T %d+%d beyond the %d-byte data" % (r2to, r2tl, len(c.data_out)), p)
        off, end = r2to, r2to + r2tl
        out = bytearray()
        while off < end:
            n = min(end - off, self.maxh2cdata)
            out += self.pdu_h2c_data(cccid, ttag, off, c.data_out[off:off + n], off + n == end)
            self.stats["H2CData"] += 1
            off += n
        self.send_raw(out)
        c.r2t_done += r2tl

    # ------------------------------------------------------------ fabrics
    def connect(self, subnqn, hostnqn, qid=0, sqsize=31, cntlid=0xFFFF, kato_ms=0,
                hostid=bytes(16), cattr=0, in_capsule=None, timeout=None):
        """Fabrics Connect (Base 6.3); returns the CNTLID of the response
        (cdw0 15:0). Raises NvmeStatus (with .cdw0 = IATTR/IPO for Connect
        Invalid Parameters)."""
        if isinstance(hostid, str):
            hostid = _uuid.UUID(hostid).bytes
        self.qid = qid
        if in_capsule is None:
            in_capsule = 1024 <= (ADMIN_ICD_MAX if qid == 0 else
                                  (self.icd_max if self.icd_max is not None else 1024))
        cpl = self.submit(connect_sqe(qid, sqsize, cattr, kato_ms),
                          data_out=connect_data(subnqn, hostnqn, cntlid, hostid),
                          in_capsule=in_capsule, timeout=timeout, what="Connect qid %d" % qid)
        if not cpl.ok:
            self.qid = None
            raise NvmeStatus(cpl.status, cpl.cdw0, "Connect qid %d" % qid, cpl.cid, cpl)
        self.sqsize = sqsize
        self.sqfc_disabled = bool(cattr & 0x4)
        self.cntlid = cpl.cdw0 & 0xFFFF if qid == 0 else cntlid
        self.authreq = cpl.cdw0 >> 16
        return cpl.cdw0 & 0xFFFF

    def prop_get(self, ofst, size8=None, timeout=None):
        """Property Get (Base 6.5): the value (8 bytes for CAP/ASQ/ACQ by default)."""
        if size8 is None:
            size8 = ofst in PROP_8BYTE
        cpl = self.submit(property_get_sqe(ofst, size8), timeout=timeout, check=True,
                          what="Property Get 0x%x" % ofst)
        return cpl.cdw0 | cpl.cdw1 << 32 if size8 else cpl.cdw0

    def prop_set(self, ofst, value, size8=None, timeout=None):
        """Property Set (Base 6.6)."""
        if size8 is None:
            size8 = ofst in PROP_8BYTE
        return self.submit(property_set_sqe(ofst, value, size8), timeout=timeout, check=True,
                           what="Property Set 0x%x" % ofst)

    def enable(self, timeout=None, iosqes=6, iocqes=4, css=0):
        """Read CAP, write CC (EN=1, IOSQES, IOCQES, MPS 0, CSS), wait for
        CSTS.RDY=1 within max(CAP.TO, timeout). Returns CAP."""
        cap = self.prop_get(PROP_CAP, True)
        csts = self.prop_get(PROP_CSTS, False)
        if csts & 1:
            raise NvmeTcpError("CSTS.RDY already 1 before enabling (CSTS 0x%x)" % csts)
        cc = 1 | (css & 7) << 4 | (iosqes & 0xF) << 16 | (iocqes & 0xF) << 20
        self.prop_set(PROP_CC, cc, False)
        limit = max(((cap >> 24) & 0xFF) * 0.5, timeout or self.timeout or 5.0)
        end = time.monotonic() + limit
        while True:
            csts = self.prop_get(PROP_CSTS, False)
            if csts & 2:
                raise NvmeTcpError("CSTS.CFS set while enabling (CSTS 0x%x, CC 0x%x)" % (csts, cc))
            if csts & 1:
                return cap
            if time.monotonic() > end:
                raise NvmeTcpError("CSTS.RDY not 1 within %.1f s of CC.EN=1" % limit)
            time.sleep(0.01)

    def shutdown(self, timeout=None):
        """Normal shutdown: CC.SHN = 01b, wait for CSTS.SHST = 10b."""
        cc = self.prop_get(PROP_CC, False)
        self.prop_set(PROP_CC, (cc & ~(3 << 14)) | 1 << 14, False)
        end = time.monotonic() + (timeout or self.timeout or 5.0)
        while True:
            csts = self.prop_get(PROP_CSTS, False)
            if (csts >> 2) & 3 == 2:
                return csts
            if time.monotonic() > end:
                raise NvmeTcpError("CSTS.SHST not complete (CSTS 0x%x)" % csts)
            time.sleep(0.01)

    def disconnect(self, timeout=None):
        """Fabrics Disconnect (fctype 08h) on this queue."""
        return self.submit(disconnect_sqe(), timeout=timeout, check=True, what="Disconnect")

    # ------------------------------------------------------------ admin
    def identify(self, cns, nsid=0, cntid=0, csi=0, cnssid=0, timeout=None):
        """Identify (4096 bytes)."""
        return self.submit(sqe(OPC_IDENTIFY, nsid, cdw10=(cns & 0xFF) | cntid << 16,
                               cdw11=(cnssid & 0xFFFF) | (csi & 0xFF) << 24),
                           data_in_len=4096, timeout=timeout, check=True,
                           what="Identify CNS 0x%x" % cns).data

    def get_log_page(self, lid, length, offset=0, lsp=0, rae=False, nsid=0xFFFFFFFF,
                     lsi=0, csi=0, uuid_index=0, ot=False, timeout=None):
        """Get Log Page: length bytes (a multiple of 4) from byte offset."""
        if length <= 0 or length % 4 or offset % 4:
            raise ValueError("log page length and offset are whole dwords")
        numd = length // 4 - 1
        return self.submit(sqe(OPC_GET_LOG_PAGE, nsid,
                               cdw10=(lid & 0xFF) | (lsp & 0x7F) << 8 | (1 << 15 if rae else 0)
                               | (numd & 0xFFFF) << 16,
                               cdw11=(numd >> 16) | (lsi & 0xFFFF) << 16,
                               cdw12=offset & 0xFFFFFFFF, cdw13=offset >> 32,
                               cdw14=(uuid_index & 0x7F) | (1 << 23 if ot else 0) | (csi & 0xFF) << 24),
                           data_in_len=length, timeout=timeout, check=True,
                           what="Get Log Page 0x%x" % lid).data

    def set_features(self, fid, cdw11=0, sv=False, nsid=0, cdw12=0, cdw13=0, cdw14=0, cdw15=0,
                     data=None, timeout=None):
        """Set Features; returns the Completion (cdw0)."""
        return self.submit(sqe(OPC_SET_FEATURES, nsid, cdw10=(fid & 0xFF) | (1 << 31 if sv else 0),
                               cdw11=cdw11, cdw12=cdw12, cdw13=cdw13, cdw14=cdw14, cdw15=cdw15),
                           data_out=data, timeout=timeout, check=True,
                           what="Set Features 0x%x" % fid)

    def get_features(self, fid, sel=0, nsid=0, cdw11=0, data_len=0, timeout=None):
        """Get Features; returns the Completion (cdw0, data)."""
        return self.submit(sqe(OPC_GET_FEATURES, nsid, cdw10=(fid & 0xFF) | (sel & 7) << 8,
                               cdw11=cdw11), data_in_len=data_len, timeout=timeout,
                           check=True, what="Get Features 0x%x" % fid)

    def keep_alive(self, timeout=None):
        return self.submit(sqe(OPC_KEEP_ALIVE), timeout=timeout, check=True, what="Keep Alive")

    def aer(self):
        """Submit an Asynchronous Event Request; returns its CID (collect it
        with wait_completion(cid, timeout))."""
        return self.submit(sqe(OPC_AER), wait=False, what="Async Event Request")

    # ------------------------------------------------------------ NVM I/O
    def read(self, nsid, slba, nlb, block_size, cdw12_flags=0, timeout=None):
        """Read nlb blocks (a count, 1-based here) from slba; returns bytes."""
        return self.submit(sqe(OPC_READ, nsid, cdw10=slba & 0xFFFFFFFF, cdw11=slba >> 32,
                               cdw12=((nlb - 1) & 0xFFFF) | cdw12_flags),
                           data_in_len=nlb * block_size, timeout=timeout, check=True,
                           what="Read").data

    def write(self, nsid, slba, data, block_size, in_capsule=None, cdw12_flags=0, timeout=None):
        if len(data) % block_size or not data:
            raise ValueError("write data must be whole blocks")
        nlb = len(data) // block_size
        return self.submit(sqe(OPC_WRITE, nsid, cdw10=slba & 0xFFFFFFFF, cdw11=slba >> 32,
                               cdw12=((nlb - 1) & 0xFFFF) | cdw12_flags),
                           data_out=data, in_capsule=in_capsule, timeout=timeout, check=True,
                           what="Write")

    def compare(self, nsid, slba, data, block_size, in_capsule=None, timeout=None):
        """Compare; a miscompare raises NvmeStatus (SCT 2h, SC 85h)."""
        if len(data) % block_size or not data:
            raise ValueError("compare data must be whole blocks")
        nlb = len(data) // block_size
        return self.submit(sqe(OPC_COMPARE, nsid, cdw10=slba & 0xFFFFFFFF, cdw11=slba >> 32,
                               cdw12=(nlb - 1) & 0xFFFF), data_out=data, in_capsule=in_capsule,
                           timeout=timeout, check=True, what="Compare")

    def flush(self, nsid, timeout=None):
        return self.submit(sqe(OPC_FLUSH, nsid), timeout=timeout, check=True, what="Flush")

    def write_zeroes(self, nsid, slba, nlb, deac=False, timeout=None):
        return self.submit(sqe(OPC_WRITE_ZEROES, nsid, cdw10=slba & 0xFFFFFFFF, cdw11=slba >> 32,
                               cdw12=((nlb - 1) & 0xFFFF) | (1 << 25 if deac else 0)),
                           timeout=timeout, check=True, what="Write Zeroes")

    def dsm_deallocate(self, nsid, ranges, timeout=None):
        """Dataset Management, Deallocate; ranges: [(slba, nlb), ...]."""
        if not 1 <= len(ranges) <= 256:
            raise ValueError("1..256 ranges")
        data = b"".join(struct.pack("<IIQ", 0, nlb, slba) for slba, nlb in ranges)
        return self.submit(sqe(OPC_DSM, nsid, cdw10=len(ranges) - 1, cdw11=0x4),
                           data_out=data, timeout=timeout, check=True,
                           what="Dataset Management")


def _opc_name(cmd):
    opc = cmd[0]
    if opc == OPC_FABRICS:
        return {0: "Property Set", 1: "Connect", 4: "Property Get", 8: "Disconnect"}.get(
            cmd[4], "Fabrics 0x%x" % cmd[4])
    return "opcode 0x%02x" % opc


# ---------------------------------------------------------------- parsers
def _str(b):
    return bytes(b).split(b"\0", 1)[0].decode("ascii", "replace").rstrip(" ")


def parse_id_ctrl(b):
    """Identify Controller (Base Figure 275): the fields the tests use."""
    if len(b) < 4096:
        raise ValueError("Identify Controller is 4096 bytes")
    u8 = lambda o: b[o]
    u16 = lambda o: struct.unpack_from("<H", b, o)[0]
    u32 = lambda o: struct.unpack_from("<I", b, o)[0]
    return {
        "vid": u16(0), "ssvid": u16(2), "sn": _str(b[4:24]), "mn": _str(b[24:64]),
        "fr": _str(b[64:72]), "rab": u8(72), "cmic": u8(76), "mdts": u8(77),
        "cntlid": u16(78), "ver": u32(80), "oaes": u32(92), "ctratt": u32(96),
        "cntrltype": u8(111), "oacs": u16(256), "acl": u8(258), "aerl": u8(259),
        "frmw": u8(260), "lpa": u8(261), "elpe": u8(262), "kas": u16(320),
        "sqes": u8(512), "cqes": u8(513), "maxcmd": u16(514), "nn": u32(516),
        "oncs": u16(520), "fuses": u16(522), "fna": u8(524), "vwc": u8(525),
        "sgls": u32(536), "subnqn": _str(b[768:1024]), "ioccsz": u32(1792),
        "iorcsz": u32(1796), "icdoff": u16(1800), "fcatt": u8(1802), "msdbd": u8(1803),
        "ofcs": u16(1804),
    }


def parse_id_ns(b):
    """Identify Namespace, NVM command set (NVM Figure 97)."""
    if len(b) < 4096:
        raise ValueError("Identify Namespace is 4096 bytes")
    nsze, ncap, nuse = struct.unpack_from("<QQQ", b, 0)
    nsfeat, nlbaf, flbas = b[24], b[25], b[26]
    fmt = flbas & 0xF
    if nlbaf >= 16:
        fmt |= ((flbas >> 5) & 0x3) << 4
    lbafs = [struct.unpack_from("<HBB", b, 128 + 4 * i) for i in range(nlbaf + 1)]
    ms, lbads, _rp = lbafs[fmt] if fmt < len(lbafs) else (0, 0, 0)
    return {
        "nsze": nsze, "ncap": ncap, "nuse": nuse, "nsfeat": nsfeat, "nlbaf": nlbaf,
        "flbas": flbas, "lbaf_index": fmt, "lba_size": (1 << lbads) if lbads else 0,
        "ms": ms, "dlfeat": b[33], "nmic": b[30], "anagrpid": struct.unpack_from("<I", b, 92)[0],
        "nguid": bytes(b[104:120]), "eui64": bytes(b[120:128]),
        "lbafs": [{"ms": m, "lbads": d, "rp": r & 3} for m, d, r in lbafs],
    }


NIDT_NAMES = {1: "eui64", 2: "nguid", 3: "uuid", 4: "csi"}
NIDT_LEN = {1: 8, 2: 16, 3: 16, 4: 1}


def parse_ns_desc_list(b):
    """Namespace Identification Descriptor list (Identify CNS 03h, Base
    Figure 278): [(nidt, nid bytes), ...] up to the first NIDT 0. Raises
    ValueError on a descriptor whose NIDL does not match its type."""
    out = []
    off = 0
    while off + 4 <= len(b):
        nidt, nidl = b[off], b[off + 1]
        if nidt == 0:
            break
        if nidt in NIDT_LEN and nidl != NIDT_LEN[nidt]:
            raise ValueError("NIDT %d with NIDL %d (expected %d)" % (nidt, nidl, NIDT_LEN[nidt]))
        if off + 4 + nidl > len(b):
            raise ValueError("descriptor at %d runs past the end" % off)
        out.append((nidt, bytes(b[off + 4:off + 4 + nidl])))
        off += 4 + nidl
    return out


def parse_disc_entry(e):
    """One 1024-byte discovery log entry (Base Figure 293)."""
    trtype, adrfam, subtype, treq, portid, cntlid, asqsz, eflags = struct.unpack_from("<BBBBHHHH", e)
    return {"trtype": trtype, "adrfam": adrfam, "subtype": subtype, "treq": treq,
            "portid": portid, "cntlid": cntlid, "asqsz": asqsz, "eflags": eflags,
            "trsvcid": _str(e[32:64]), "subnqn": _str(e[256:512]), "traddr": _str(e[512:768]),
            "tsas": bytes(e[768:1024])}


def read_discovery_log(q, retries=10):
    """Read the discovery log on a connected, enabled discovery queue:
    header first, then header + every entry, then the header again; start
    over while the generation counter changes. Returns (genctr, entries)."""
    for _ in range(retries):
        h = q.get_log_page(LID_DISCOVERY, 1024, nsid=0)
        genctr, numrec, recfmt = struct.unpack_from("<QQH", h)
        if recfmt != 0:
            raise NvmeTcpError("discovery log RECFMT %d" % recfmt)
        full = q.get_log_page(LID_DISCOVERY, 1024 * (numrec + 1), nsid=0)
        g2, n2 = struct.unpack_from("<QQ", full)
        h3 = q.get_log_page(LID_DISCOVERY, 1024, nsid=0)
        g3 = struct.unpack_from("<Q", h3)[0]
        if g2 == genctr == g3 and n2 == numrec:
            return genctr, [parse_disc_entry(full[1024 * (i + 1):1024 * (i + 2)])
                            for i in range(numrec)]
    raise NvmeTcpError("discovery log generation counter kept changing")


def discover(addr, port, hostnqn, hdgst=False, ddgst=False, timeout=5.0, kato_ms=0,
             hostid=bytes(16), family=None):
    """Connect to the discovery controller at addr:port, read its log page,
    disconnect; returns a list of entry dicts (trtype, adrfam, subtype, treq,
    portid, cntlid, asqsz, trsvcid, subnqn, traddr, ...)."""
    q = Queue(addr, port, hdgst, ddgst, timeout, family)
    try:
        q.connect(DISCOVERY_NQN, hostnqn, 0, 31, 0xFFFF, kato_ms, hostid)
        q.enable()
        return read_discovery_log(q)[1]
    finally:
        q.close()


def new_hostnqn():
    """A fresh UUID-based host NQN and its host identifier."""
    u = _uuid.uuid4()
    return "nqn.2014-08.org.nvmexpress:uuid:%s" % u, u.bytes


# ---------------------------------------------------------------- controller
class Controller:
    """Admin queue + I/O queues, brought up the usual way: Connect (dynamic
    controller), enable, Identify Controller, Set Features Number of
    Queues, Connect each I/O queue with the CNTLID. Attributes: admin, io
    (list of Queue), cntlid, cap, id (parse_id_ctrl dict), ioccsz, mdts, nn,
    sn, mn, subnqn. io_cattr is the Connect CATTR of the I/O queues (bit 2:
    SQ flow control disabled, allowed when the discovery entry's TREQ bit 2
    says so)."""

    def __init__(self, addr, port, subnqn, hostnqn, nr_io_queues=1, kato_ms=0,
                 hdgst=False, ddgst=False, hostid=bytes(16), timeout=5.0, admin_sqsize=31,
                 io_sqsize=None, tolerate=(), family=None, io_cattr=0):
        self.addr, self.port, self.subnqn_wanted, self.hostnqn = addr, port, subnqn, hostnqn
        self.hostid = hostid
        self.io = []
        self.admin = Queue(addr, port, hdgst, ddgst, timeout, family, tolerate=tolerate)
        try:
            self.cntlid = self.admin.connect(subnqn, hostnqn, 0, admin_sqsize, 0xFFFF,
                                             kato_ms, hostid)
            self.cap = self.admin.enable()
            self.id = parse_id_ctrl(self.admin.identify(1))
            for k in ("ioccsz", "mdts", "nn", "sn", "mn", "subnqn", "oncs", "vwc", "kas"):
                setattr(self, k, self.id[k])
            if self.id["cntlid"] != self.cntlid:
                raise NvmeTcpError("Identify CNTLID %d, Connect gave %d"
                                   % (self.id["cntlid"], self.cntlid))
            if self.id["icdoff"] != 0:
                raise NvmeTcpError("ICDOFF %d: in-capsule data offsets are not supported"
                                   % self.id["icdoff"])
            if nr_io_queues:
                n = nr_io_queues - 1
                cdw0 = self.admin.set_features(FID_NUM_QUEUES, n | n << 16).cdw0
                self.nsqa, self.ncqa = (cdw0 & 0xFFFF) + 1, (cdw0 >> 16) + 1
                if min(self.nsqa, self.ncqa) < nr_io_queues:
                    raise NvmeTcpError("controller allocated %d/%d I/O queues, %d wanted"
                                       % (self.nsqa, self.ncqa, nr_io_queues))
            mqes = self.cap & 0xFFFF
            sqsize = min(io_sqsize if io_sqsize is not None else 31, mqes)
            icd = max(self.ioccsz * 16 - 64, 0)
            for qid in range(1, nr_io_queues + 1):
                q = Queue(addr, port, hdgst, ddgst, timeout, family, tolerate=tolerate)
                q.icd_max = icd
                self.io.append(q)
                q.connect(subnqn, hostnqn, qid, sqsize, self.cntlid, 0, hostid, cattr=io_cattr)
        except BaseException:
            self.close(graceful=False)
            raise

    def close(self, graceful=True):
        """Disconnect the I/O queues (ignoring a controller that does not
        support Disconnect), shut the controller down, close every socket."""
        for q in self.io:
            if graceful and q.qid:
                try:
                    q.disconnect(timeout=2.0)
                except (NvmeStatus, NvmeTcpError):
                    pass
            q.close()
        self.io = []
        if graceful and self.admin.qid == 0:
            try:
                self.admin.shutdown(timeout=5.0)
            except (NvmeStatus, NvmeTcpError):
                pass
        self.admin.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# ================================================================ selftest
class _FakeCtrl:
    """The controller end of a socketpair, scripted by the tests below."""

    def __init__(self, sock, hdgst=False, ddgst=False):
        self.sock, self.hd, self.dd = sock, hdgst, ddgst
        self.q = Queue(sock=sock, icreq=False, timeout=2.0)

    def pdu(self):
        return self.q.recv_pdu(2.0)

    def raw(self, n):
        self.q._fill(n, time.monotonic() + 2.0)
        b = bytes(self.q._rbuf[:n])
        del self.q._rbuf[:n]
        return b

    def send(self, b):
        self.sock.sendall(b)


def selftest():
    import threading
    results = [0, 0]

    def check(name, fn):
        try:
            fn()
            results[0] += 1
            print("PASS", name)
        except Exception as e:      # noqa: BLE001 - report every failure
            results[1] += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))

    def eq(a, b, what=""):
        if a != b:
            raise AssertionError("%s: %r != %r" % (what, a, b))

    def t_crc():
        eq(crc32c(b"123456789"), 0xE3069283, "check value")
        eq(crc32c(b""), 0, "empty")
        eq(crc32c(b"56789", crc32c(b"1234")), 0xE3069283, "continued")
        eq(crc32c(bytes(32)), 0x8A9136AA, "32 zero bytes (RFC 3720 B.4)")
        eq(crc32c(b"\xff" * 32), 0x62A8AB43, "32 FF bytes (RFC 3720 B.4)")
        eq(digest(b"123456789"), bytes.fromhex("839206e3"), "little-endian on the wire")

    def t_sgl():
        s = sgl_incapsule(4096)
        eq(len(s), 16)
        eq(s[15], 0x01, "in-capsule id byte: type 0, subtype 1")
        eq(struct.unpack_from("<QI", s), (0, 4096))
        t = sgl_transport(131072)
        eq(t[15], 0x5A, "transport id byte: type 5, subtype A")
        eq(parse_sgl(t), {"address": 0, "length": 131072, "type": 5, "subtype": 0xA})

    def t_sqe():
        c = sqe(OPC_READ, 1, cdw10=0x11223344, cdw11=0x55, cdw12=7, sgl=sgl_transport(4096), cid=9)
        eq(len(c), 64)
        eq(c[0], OPC_READ)
        eq(c[1], 0x40, "PSDT 01b")
        eq(struct.unpack_from("<H", c, 2)[0], 9)
        eq(struct.unpack_from("<I", c, 4)[0], 1)
        eq(c[24:40], sgl_transport(4096))
        eq(struct.unpack_from("<3I", c, 40), (0x11223344, 0x55, 7))
        k = connect_sqe(2, 127, 4, 15000)
        eq(k[0], 0x7F)
        eq(k[4], FCTYPE_CONNECT)
        eq(struct.unpack_from("<HHHBxI", k, 40), (0, 2, 127, 4, 15000), "connect fields")
        d = connect_data("nqn.sub", "nqn.host", 0x1234, bytes(range(16)))
        eq(len(d), 1024)
        eq(d[:16], bytes(range(16)))
        eq(struct.unpack_from("<H", d, 16)[0], 0x1234)
        eq(d[256:263], b"nqn.sub")
        eq(d[263], 0)
        eq(d[512:520], b"nqn.host")
        p = property_get_sqe(0x1C, False)
        eq((p[4], p[40], struct.unpack_from("<I", p, 44)[0]), (4, 0, 0x1C))
        p = property_set_sqe(0x14, 0x460001, False)
        eq((p[4], struct.unpack_from("<Q", p, 48)[0]), (0, 0x460001))
        eq(disconnect_sqe()[4], FCTYPE_DISCONNECT)

    def t_pdu_roundtrip():
        s = sqe(OPC_WRITE, 1, sgl=sgl_incapsule(10))
        for hd in (False, True):
            for dd in (False, True):
                for cpda in (0, 3):
                    raw = pdu_capsule_cmd(s, b"0123456789", hd, dd, cpda=cpda)
                    p = parse_pdu(raw)
                    eq(p.type, CAPSULE_CMD)
                    eq(p.hlen, 72)
                    eq(p.pdo, _roundup(72 + (4 if hd else 0), (cpda + 1) * 4), "pdo")
                    eq(p.plen, len(raw))
                    eq(p.plen, p.pdo + 10 + (4 if dd else 0))
                    eq(p.flags, (1 if hd else 0) | (2 if dd else 0))
                    eq(p.header[8:], s)
                    eq(p.data, b"0123456789")
                    eq(p.hdgst_ok, True if hd else None)
                    eq(p.ddgst_ok, True if dd else None)
                    eq(raw[p.hlen + (4 if hd else 0):p.pdo], bytes(p.pdo - p.hlen - (4 if hd else 0)),
                       "zero padding")
        # no data: PDO 0, no DDGSTF even with data digests on
        p = parse_pdu(pdu_capsule_cmd(s, b"", True, True))
        eq((p.pdo, p.plen, p.flags), (0, 76, FLAG_HDGSTF))
        # overrides: the header digest covers the overridden header
        raw = pdu_capsule_cmd(s, b"", True, False, hlen=80)
        eq(raw[2], 80)
        eq(raw[72:76], digest(raw[:72]))
        p = parse_pdu(pdu_capsule_cmd(s, b"x" * 8, True, True, hdgst_value=0, ddgst_value=1))
        eq((p.hdgst_ok, p.ddgst_ok), (False, False))
        h = parse_pdu(pdu_h2c_data(5, 7, 4096, b"a" * 100, last=True, hdgst=True, ddgst=True))
        eq(h.type, H2C_DATA)
        eq(h.flags, FLAG_HDGSTF | FLAG_DDGSTF | FLAG_LAST_PDU)
        eq(struct.unpack_from("<HHII", h.header, 8), (5, 7, 4096, 100))
        eq((h.pdo, len(h.data)), (28, 100))
        i = parse_pdu(pdu_icreq(0, 0, True, True, 0))
        eq((i.type, i.hlen, i.pdo, i.plen, i.flags), (ICREQ, 128, 0, 128, 0))
        eq(struct.unpack_from("<HBBI", i.header, 8), (0, 0, 3, 0))
        t = parse_pdu(pdu_term_req(FES_INVALID_HEADER_FIELD, 2, raw[:72], c2h=True))
        eq((t.type, t.hlen, t.pdo, t.plen), (C2H_TERM_REQ, 24, 0, 96))
        eq(struct.unpack_from("<HI", t.header, 8), (1, 2))
        eq(t.data, raw[:72])
        r = parse_pdu(pdu_capsule_resp(cqe(3, 0x4182, 0x10028, sqhd=5, sqid=1), hdgst=True))
        c = Completion.from_cqe(r.header[8:])
        eq((c.cid, c.status, c.sct, c.sc, c.dnr, c.cdw0, c.sqhd, c.sqid),
           (3, 0x4182, 1, 0x82, True, 0x10028, 5, 1))

    def t_status():
        e = NvmeStatus(0x4182, 0x10000 | 44, "Connect")
        eq((e.sc, e.sct, e.dnr, e.cdw0), (0x82, 1, True, 0x1002C))
        if "Connect Invalid Parameters" not in str(e) or "DNR" not in str(e):
            raise AssertionError(str(e))

    def t_parsers():
        b = bytearray(4096)
        b[4:24] = b"SN123".ljust(20)
        b[24:64] = b"Model".ljust(40)
        struct.pack_into("<H", b, 78, 7)
        b[77] = 5
        struct.pack_into("<I", b, 516, 32)
        struct.pack_into("<I", b, 1792, 260)
        b[768:775] = b"nqn.foo"
        d = parse_id_ctrl(bytes(b))
        eq((d["sn"], d["mn"], d["cntlid"], d["mdts"], d["nn"], d["ioccsz"], d["subnqn"]),
           ("SN123", "Model", 7, 5, 32, 260, "nqn.foo"))
        n = bytearray(4096)
        struct.pack_into("<QQQ", n, 0, 1000, 1000, 10)
        n[25], n[26] = 1, 1
        struct.pack_into("<HBB", n, 128, 0, 9, 0)
        struct.pack_into("<HBB", n, 132, 0, 12, 0)
        n[104:120] = bytes(range(16))
        ns = parse_id_ns(bytes(n))
        eq((ns["nsze"], ns["lba_size"], ns["nguid"]), (1000, 4096, bytes(range(16))))
        dl = bytes([2, 16, 0, 0]) + bytes(range(16)) + bytes([4, 1, 0, 0, 0]) + bytes(4000)
        eq(parse_ns_desc_list(dl), [(2, bytes(range(16))), (4, b"\0")])
        e = bytearray(1024)
        struct.pack_into("<BBBBHHH", e, 0, 3, 1, 2, 2, 1, 0xFFFF, 32)
        e[32:36] = b"4420"
        e[256:263] = b"nqn.sub"
        e[512:520] = b"10.0.0.1"
        pe = parse_disc_entry(bytes(e))
        eq((pe["trtype"], pe["subtype"], pe["trsvcid"], pe["subnqn"], pe["traddr"], pe["cntlid"]),
           (3, 2, "4420", "nqn.sub", "10.0.0.1", 0xFFFF))

    def with_fake(script, hdgst=False, ddgst=False, maxh2cdata=8192, cpda=0, tolerate=()):
        a, b = socket.socketpair()
        err = []

        def run():
            f = _FakeCtrl(b, hdgst, ddgst)
            try:
                p = f.pdu()
                assert p.type == ICREQ and p.plen == 128, p
                f.send(pdu_icresp(0, cpda, hdgst, ddgst, maxh2cdata))
                script(f)
            except Exception as e:      # noqa: BLE001
                err.append(e)
            finally:
                b.close()
        th = threading.Thread(target=run, daemon=True)
        th.start()
        q = Queue(sock=a, hdgst=hdgst, ddgst=ddgst, timeout=3.0, tolerate=tolerate)
        return q, th, err

    def finish(q, th, err):
        th.join(5)
        q.close()
        if err:
            raise err[0]

    def t_fake_connect_identify():
        for hd, dd in ((False, False), (True, True)):
            ident = bytes(range(256)) * 16

            def script(f):
                p = f.pdu()
                assert p.type == CAPSULE_CMD and p.hdgst_ok in (None, True), p
                s = p.header[8:]
                assert s[4] == FCTYPE_CONNECT and parse_sgl(s[24:40])["subtype"] == 1, s.hex()
                assert len(p.data) == 1024 and p.data[256:263] == b"nqn.sub", p
                cid = struct.unpack_from("<H", s, 2)[0]
                f.send(pdu_capsule_resp(cqe(cid, 0, 0x21, sqhd=1), hdgst=hd))
                p = f.pdu()
                s = p.header[8:]
                cid = struct.unpack_from("<H", s, 2)[0]
                assert parse_sgl(s[24:40]) == {"address": 0, "length": 4096, "type": 5,
                                               "subtype": 0xA}, s[24:40].hex()
                f.send(pdu_c2h_data(cid, 0, ident[:1000], last=False, hdgst=hd, ddgst=dd))
                f.send(pdu_c2h_data(cid, 1000, ident[1000:], last=True, hdgst=hd, ddgst=dd))
                f.send(pdu_capsule_resp(cqe(cid, 0, sqhd=2), hdgst=hd))
            q, th, err = with_fake(script, hd, dd)
            eq((q.hdgst, q.ddgst), (hd, dd))
            eq(q.connect("nqn.sub", "nqn.host"), 0x21)
            eq(q.identify(1), ident)
            finish(q, th, err)

    def t_fake_r2t():
        data = os.urandom(20480)
        got = bytearray(20480)

        def script(f):
            p = f.pdu()
            s = p.header[8:]
            cid = struct.unpack_from("<H", s, 2)[0]
            assert p.data == b"" and parse_sgl(s[24:40])["type"] == 5, p
            for r2to, r2tl in ((0, 12000), (12000, 8480)):
                f.send(pdu_r2t(cid, 0x33, r2to, r2tl, hdgst=True))
                off = r2to
                while off < r2to + r2tl:
                    h = f.pdu()
                    assert h.type == H2C_DATA and h.hdgst_ok and h.ddgst_ok, h
                    hc, ttag, datao, datal = struct.unpack_from("<HHII", h.header, 8)
                    assert (hc, ttag, datao) == (cid, 0x33, off), (hc, ttag, datao, off)
                    assert datal <= 8192 and h.pdo % 8 == 0, h
                    got[datao:datao + datal] = h.data
                    off += datal
                    assert bool(h.flags & FLAG_LAST_PDU) == (off == r2to + r2tl), h
            f.send(pdu_capsule_resp(cqe(cid, 0, sqhd=1, sqid=1), hdgst=True))
        q, th, err = with_fake(script, True, True, maxh2cdata=8192, cpda=1)
        q.qid, q.icd_max = 1, 0
        q.write(1, 0, data, 512)
        finish(q, th, err)
        eq(bytes(got), data)

    def t_fake_success_flag():
        def script(f):
            for _ in range(2):
                p = f.pdu()
                cid = struct.unpack_from("<H", p.header, 10)[0]
                f.send(pdu_c2h_data(cid, 0, b"z" * 512, last=True, success=True))
        q, th, err = with_fake(script)
        q.qid = 1
        q.sqfc_disabled = True
        cpl = q.submit(sqe(OPC_READ, 1), data_in_len=512)
        eq((cpl.ok, cpl.via_success, cpl.sqhd, cpl.data), (True, True, None, b"z" * 512))
        q.sqfc_disabled = False
        try:
            q.submit(sqe(OPC_READ, 1), data_in_len=512)
            raise AssertionError("SUCCESS with SQ flow control on was accepted")
        except NvmeTcpError as e:
            if "SUCCESS" not in str(e):
                raise
        finish(q, th, err)

    def t_fake_violations():
        cases = [
            ("bad hdgst", lambda cid: pdu_capsule_resp(cqe(cid), hdgst=True, hdgst_value=1), True),
            ("wrong datao", lambda cid: pdu_c2h_data(cid, 8, b"x" * 8), False),
            ("unknown cid", lambda cid: pdu_capsule_resp(cqe(cid + 1)), False),
            ("bad hlen", lambda cid: pdu_capsule_resp(cqe(cid), hlen=32), False),
            ("c2h no last", lambda cid: pdu_c2h_data(cid, 0, b"x" * 16, last=False), False),
        ]
        for name, make, hd in cases:
            def script(f, make=make):
                p = f.pdu()
                f.send(make(struct.unpack_from("<H", p.header, 10)[0]))
            q, th, err = with_fake(script, hdgst=hd)
            try:
                q.submit(sqe(OPC_READ, 1), data_in_len=16)
                raise AssertionError("%s accepted" % name)
            except NvmeTcpError as e:
                if "protocol violation" not in str(e):
                    raise AssertionError("%s: %s" % (name, e))
            finish(q, th, err)

    def t_fake_term_req_and_aer():
        def script(f):
            p = f.pdu()
            aer_cid = struct.unpack_from("<H", p.header, 10)[0]
            p = f.pdu()
            cid = struct.unpack_from("<H", p.header, 10)[0]
            f.send(pdu_capsule_resp(cqe(aer_cid, 0, 0x20002, sqhd=1)))
            f.send(pdu_capsule_resp(cqe(cid, 0, 7, sqhd=2)))
            raw = f.raw(72)
            assert raw[2] == 80, raw[:8].hex()
            f.send(pdu_term_req(FES_INVALID_HEADER_FIELD, 2, raw, c2h=True))
        q, th, err = with_fake(script)
        q.qid = 0
        aer = q.aer()
        eq(q.keep_alive().cdw0, 7, "keep alive after an AER")
        eq(q.wait_completion(aer, 1).cdw0, 0x20002, "AER collected later")
        q.send_raw(pdu_capsule_cmd(sqe(OPC_KEEP_ALIVE, cid=99), hlen=80))
        eq(q.expect_term_req(2), (FES_INVALID_HEADER_FIELD, 2))
        eq(q.closed(2), True)
        finish(q, th, err)

    def t_fake_icresp_checks():
        bad = [pdu_icresp(maxh2cdata=1024), pdu_icresp(maxh2cdata=4098), pdu_icresp(pfv=1),
               pdu_icresp(hdgst=True), pdu_icresp(hlen=100)]
        for resp in bad:
            a, b = socket.socketpair()
            b.sendall(resp)
            try:
                Queue(sock=a, timeout=1.0)
                raise AssertionError("bad ICResp accepted: %s" % resp[:16].hex())
            except NvmeTcpError:
                pass
            finally:
                a.close()
                b.close()

    def t_fake_sq_flow_control():
        def script(f):
            cids = []
            for _ in range(3):
                cids.append(struct.unpack_from("<H", f.pdu().header, 10)[0])
            # the 4th command must wait until a completion frees a slot
            f.sock.settimeout(0.3)
            try:
                extra = f.sock.recv(1)
                assert not extra, "4th command sent into a full SQ"
            except socket.timeout:
                pass
            f.send(pdu_capsule_resp(cqe(cids[0], sqhd=1, sqid=1)))
            cids.append(struct.unpack_from("<H", f.pdu().header, 10)[0])
            for i, c in enumerate(cids[1:]):
                f.send(pdu_capsule_resp(cqe(c, sqhd=(2 + i) % 4, sqid=1)))
        q, th, err = with_fake(script)
        q.qid, q.sqsize = 1, 3
        ids = [q.submit(sqe(OPC_FLUSH, 1), wait=False) for _ in range(4)]
        for i in ids:
            eq(q.wait_completion(i).ok, True)
        finish(q, th, err)

    for name, fn in [("crc32c", t_crc), ("sgl encodings", t_sgl), ("sqe builders", t_sqe),
                     ("pdu round trips", t_pdu_roundtrip), ("status decoding", t_status),
                     ("identify/discovery parsers", t_parsers),
                     ("fake: connect+identify, digests off/on", t_fake_connect_identify),
                     ("fake: write via two R2Ts, maxh2cdata, cpda", t_fake_r2t),
                     ("fake: C2HData SUCCESS flag", t_fake_success_flag),
                     ("fake: protocol violations detected", t_fake_violations),
                     ("fake: AER out of order, C2HTermReq", t_fake_term_req_and_aer),
                     ("fake: ICResp validation", t_fake_icresp_checks),
                     ("fake: SQ flow control", t_fake_sq_flow_control)]:
        check(name, fn)
    print("%d passed, %d failed" % (results[0], results[1]))
    return 1 if results[1] else 0


def _main(argv):
    if len(argv) >= 2 and argv[1] == "selftest":
        return selftest()
    if len(argv) >= 3 and argv[1] == "discover":
        nqn, _ = new_hostnqn()
        for e in discover(argv[2], int(argv[3]) if len(argv) > 3 else 8009, nqn):
            print(e["subtype"], e["trtype"], e["traddr"], e["trsvcid"], e["subnqn"])
        return 0
    print("usage: nvmf_tcp.py selftest | discover ADDR [PORT]   (a library: see its docstring)")
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
