#!/bin/bash
# tern-tgt over RDMA: the link dead for 10 s mid-I/O, 10 times (tern-rdma-faults.sh).
export RF_FAULT=linkcut
. "$TERN_VM_TESTS/tern-rdma-faults.sh"
