#!/bin/bash
# Kernel nvmet over tcp: discover, connect, 10 s of fio with verify, disconnect.
export KNVMET_TRANSPORT=tcp KNVMET_CUT=0
. "$TERN_VM_TESTS/smoke-knvmet.sh"
