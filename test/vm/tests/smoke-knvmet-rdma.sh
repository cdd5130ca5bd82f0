#!/bin/bash
# Kernel nvmet over rdma: discover, connect, 10 s of fio with verify, disconnect.
export KNVMET_TRANSPORT=rdma KNVMET_CUT=0
. "$TERN_VM_TESTS/smoke-knvmet.sh"
