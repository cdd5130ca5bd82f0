#!/usr/bin/env python3
# Writes the seed inputs of fuzz_nvmf_cmd (layout: fuzz_nvmf_cmd.c's header).
# Usage: gen_nvmf_cmd_seeds.py OUTDIR
import os
import struct
import sys

VALID, ICD, IOQ = 4, 2, 1


def sqe(opc, nsid=0, cdw10=0, cdw11=0, cdw12=0, cdw13=0, fctype=None):
    b = bytearray(64)
    b[0] = opc
    struct.pack_into("<I", b, 4, nsid)
    struct.pack_into("<IIII", b, 40, cdw10, cdw11, cdw12, cdw13)
    if fctype is not None:
        b[4] = fctype
    return bytes(b)


def rec(flags, cmd, data=b"", dlen=None):
    n = len(data) if dlen is None else dlen
    return bytes([flags]) + cmd + struct.pack("<H", n) + data


def prop_set(ofst, value):
    b = bytearray(sqe(0x7F, fctype=0x00))
    struct.pack_into("<IIQ", b, 40, 0, ofst, value)     # ATTRIB 4 bytes, OFST, VALUE
    return bytes(b)


def prop_get(ofst, size8=False):
    b = bytearray(sqe(0x7F, fctype=0x04))
    struct.pack_into("<II", b, 40, 1 if size8 else 0, ofst)
    return bytes(b)


def get_log(lid, nbytes, nsid=0xFFFFFFFF):
    numd = nbytes // 4 - 1
    return sqe(0x02, nsid=nsid, cdw10=(numd & 0xFFFF) << 16 | lid, cdw11=numd >> 16)


def enable():
    return [rec(VALID, prop_get(0x00, True), dlen=0),    # CAP
            rec(VALID, prop_set(0x14, 0x460001), dlen=0),  # CC: EN, IOSQES 6, IOCQES 4
            rec(VALID, prop_get(0x1C), dlen=0)]           # CSTS


def admin():
    r = enable()
    r += [rec(VALID, sqe(0x06, cdw10=1), dlen=4096),                 # Identify controller
          rec(VALID, sqe(0x06, nsid=1, cdw10=0), dlen=4096),         # namespace
          rec(VALID, sqe(0x06, cdw10=2), dlen=4096),                 # active ns list
          rec(VALID, sqe(0x06, nsid=1, cdw10=3), dlen=4096),         # ns id descriptors
          rec(VALID, get_log(0x01, 64 * 16), dlen=64 * 16),          # error
          rec(VALID, get_log(0x02, 512), dlen=512),                  # SMART
          rec(VALID, get_log(0x03, 512), dlen=512),                  # firmware slot
          rec(VALID, get_log(0x04, 4096), dlen=4096),                # changed ns
          rec(VALID, get_log(0x05, 4096), dlen=4096),                # effects
          rec(VALID, sqe(0x0A, cdw10=0x07), dlen=0),                 # Get Features: queues
          rec(VALID, sqe(0x09, cdw10=0x07, cdw11=0x00030003), dlen=0),
          rec(VALID, sqe(0x09, cdw10=0x0B, cdw11=0x900), dlen=0),    # AEC
          rec(VALID, sqe(0x09, cdw10=0x0F, cdw11=5000), dlen=0),     # KATO
          rec(VALID | ICD, sqe(0x09, cdw10=0x81), data=bytes(range(16))),  # host id
          rec(VALID, sqe(0x0A, cdw10=0x81, cdw11=1), dlen=16),
          rec(VALID, sqe(0x0C), dlen=0),                             # AER
          rec(VALID, sqe(0x0C), dlen=0),
          rec(VALID, sqe(0x18), dlen=0),                             # Keep Alive
          rec(VALID, sqe(0x08, cdw10=0), dlen=0),                    # Abort
          rec(VALID, sqe(0x80), dlen=0)]                             # unknown opcode
    return bytes([10 << 2]) + b"".join(r)


def io():
    pattern = bytes((i * 7) & 0xFF for i in range(4096))
    r = enable()
    r += [rec(VALID | ICD | IOQ, sqe(0x01, nsid=1, cdw10=0, cdw12=7), data=pattern),
          rec(VALID | IOQ, sqe(0x02, nsid=1, cdw10=0, cdw12=7), dlen=4096),
          rec(VALID | ICD | IOQ, sqe(0x05, nsid=1, cdw10=0, cdw12=7), data=pattern),
          rec(VALID | IOQ, sqe(0x01, nsid=1, cdw10=64, cdw12=63 | 1 << 30), data=pattern * 8),
          rec(VALID | IOQ, sqe(0x02, nsid=1, cdw10=64, cdw12=63), dlen=32768),
          rec(VALID | IOQ, sqe(0x00, nsid=1), dlen=0),               # Flush
          rec(VALID | IOQ, sqe(0x08, nsid=1, cdw10=8, cdw12=15), dlen=0),  # Write Zeroes
          rec(VALID | ICD | IOQ, sqe(0x09, nsid=1, cdw10=1, cdw11=4),     # DSM deallocate
              data=struct.pack("<IIQ", 0, 8, 16) + struct.pack("<IIQ", 0, 8, 100)),
          rec(VALID | IOQ, sqe(0x02, nsid=1, cdw10=2040, cdw12=15), dlen=8192),  # past the end
          rec(VALID | IOQ, sqe(0x02, nsid=2, cdw12=0), dlen=512),    # no such namespace
          rec(IOQ, sqe(0x02, nsid=1, cdw12=0), dlen=512)]            # PRP: refused
    return bytes([2]) + b"".join(r)


def discovery():
    r = enable()
    r += [rec(VALID, sqe(0x06, cdw10=1), dlen=4096),
          rec(VALID, get_log(0x70, 1024, nsid=0), dlen=1024),        # discovery log
          rec(VALID, sqe(0x0C), dlen=0),
          rec(VALID, sqe(0x18), dlen=0)]
    return bytes([1]) + b"".join(r)


out = sys.argv[1]
for name, data in (("nvmf_cmd_admin", admin()), ("nvmf_cmd_io", io()),
                   ("nvmf_cmd_discovery", discovery())):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
