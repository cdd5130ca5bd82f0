#!/bin/bash
# Kernel nvmet over tcp: the link is broken for 5 s mid-I/O. With a 2 s
# keep-alive timeout the host must notice, go through error recovery and
# reconnect; fio (with verify) must complete without error. (With 3 s, a
# keep-alive sent 1-2 s into the cut can still complete just after it: TCP
# retransmits it, and the block layer rounds the timeout up to a second.)
export KNVMET_TRANSPORT=tcp KNVMET_CUT=5 KNVMET_KATO=2 KNVMET_IODEPTH=4 KNVMET_EXPECT_RECONNECT=1
. "$TERN_VM_TESTS/smoke-knvmet.sh"
