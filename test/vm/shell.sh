#!/bin/bash
# Interactive shell in the Tern target VM, with the host VM running beside it
# (same environment checks as the tests: rxe link up, ping, rping, vfio).
#   test/vm/shell.sh [--logs DIR]
# The target's console is this terminal; leave with `exit` (or Ctrl-D), which
# powers off both VMs. Ctrl-C goes to the guest. See doc/testing.md.
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" --shell "$@"
