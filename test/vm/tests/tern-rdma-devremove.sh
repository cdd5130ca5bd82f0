#!/bin/bash
# tern-tgt over RDMA: its rxe device deleted and added back mid-I/O, 10 times (tern-rdma-faults.sh).
export RF_FAULT=devremove
. "$TERN_VM_TESTS/tern-rdma-faults.sh"
