# Helpers for guest-side Tern VM test scripts.  Source it:  . "$TERN_VM_LIB"
#
# Synchronisation between the two guests uses marker files on the writable 9p
# share that both guests mount (cache=none, so each sees the other's files at
# once). A marker is <role>.<name> in $TERN_VM_SYNC, a directory private to the
# current test, so markers of one test never satisfy waits of the next.
#
# Every wait is bounded, and gives up early when the peer has already finished
# the current test (or its setup failed): a dead peer must not hang us.

VM_ENV_EXIT=3     # a test exits with this to report ENVIRONMENT, not FAIL

vm_log() { echo "[$TERN_VM_ROLE $(date +%T)] $*"; }

# vm_env_fail MSG: the environment (not the product) is wrong; stop the test.
vm_env_fail() { echo "ENVIRONMENT: $*"; exit "$VM_ENV_EXIT"; }
# vm_fail MSG: product failure; stop the test.
vm_fail() { echo "FAIL: $*"; exit 1; }

# vm_signal NAME [TEXT]: tell the peer we reached NAME (TEXT is stored in it).
vm_signal() {
    local f=$TERN_VM_SYNC/$TERN_VM_ROLE.$1
    printf '%s\n' "${2:-}" > "$f.tmp" && mv -f "$f.tmp" "$f"
}

# vm_peer_gone: true when the peer can no longer signal us.
vm_peer_gone() {
    local s=$TERN_VM_SHARE/.tern/status/$TERN_VM_PEER_ROLE
    [ -e "$s.env" ] || [ -e "$s.finished" ] || { [ -n "${TERN_VM_PEER_DONE:-}" ] && [ -e "$TERN_VM_PEER_DONE" ]; }
}

# vm_wait_file FILE TIMEOUT WHAT: wait for FILE to appear (bounded).
vm_wait_file() {
    local f=$1 t=${2:-300} what=${3:-$1} i
    for ((i = 0; i < t * 5; i++)); do
        [ -e "$f" ] && return 0
        sleep 0.2
    done
    echo "vm_wait: timed out after ${t}s waiting for $what" >&2
    return 1
}

# vm_wait NAME [TIMEOUT=300]: wait until the peer signalled NAME; prints the
# TEXT it stored. Returns 1 on timeout or when the peer is gone.
vm_wait() {
    local f=$TERN_VM_SYNC/$TERN_VM_PEER_ROLE.$1 t=${2:-300} i
    for ((i = 0; i < t * 5; i++)); do
        if [ -e "$f" ]; then cat "$f"; return 0; fi
        if vm_peer_gone; then
            echo "vm_wait: peer $TERN_VM_PEER_ROLE ended before signalling '$1'" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "vm_wait: timed out after ${t}s waiting for peer $TERN_VM_PEER_ROLE to signal '$1'" >&2
    return 1
}

# vm_barrier NAME [TIMEOUT]: both guests meet at NAME.
vm_barrier() { vm_signal "$1" && vm_wait "$1" "${2:-300}" > /dev/null; }

# vm_link ACTION [ARG...]: ask the runner (on the host machine) to break or
# restore the virtual link between the guests (through QEMU's monitor).
#   vm_link cut SECONDS [both|tgt|host]  link dead now, back after SECONDS
#   vm_link down [both|tgt|host]         link dead until `vm_link up`
#   vm_link up   [both|tgt|host]
#   vm_link carrier-down|carrier-up [..] NIC loses/regains carrier (set_link)
# cut/down/up drop every frame both ways at that VM's netdev; the NICs keep
# carrier, so the kernels notice only through their own timeouts (a dead
# cable or switch). One side suffices; "both" is the default. carrier-down is
# the pulled-cable variant, but see test/vm/link.sh for its QEMU 7.2 caveat.
# Returns once the runner has done it (reads its answer), 1 on error/timeout.
vm_link() {
    local dir=$TERN_VM_SHARE/.tern/req id ans i
    id=$TERN_VM_ROLE-$(date +%s%N)
    mkdir -p "$dir"
    echo "$*" > "$dir/$id.tmp" && mv "$dir/$id.tmp" "$dir/$id.req"
    for ((i = 0; i < 150; i++)); do             # bounded: 30 s
        if [ -e "$dir/$id.ack" ]; then
            ans=$(cat "$dir/$id.ack")
            vm_log "link $*: $ans"
            [ "${ans%% *}" = ok ]
            return
        fi
        sleep 0.2
    done
    vm_log "link $*: no answer from the runner within 30 s"
    return 1
}
