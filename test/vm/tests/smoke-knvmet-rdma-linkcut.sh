#!/bin/bash
# Kernel nvmet over rdma (rxe): the link is pulled for 5 s mid-I/O. With a 3 s
# keep-alive timeout the host must notice, go through error recovery and
# reconnect; fio (with verify) must complete without error.
export KNVMET_TRANSPORT=rdma KNVMET_CUT=5 KNVMET_KATO=3 KNVMET_IODEPTH=4 KNVMET_EXPECT_RECONNECT=1
. "$TERN_VM_TESTS/smoke-knvmet.sh"
