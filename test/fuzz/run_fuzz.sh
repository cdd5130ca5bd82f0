#!/bin/sh
# Run one libFuzzer target for a bounded time from its seed corpus copy;
# print a summary line the test runner counts. Usage: run_fuzz.sh BIN SECONDS SEEDS...
bin=$1; secs=$2; shift 2
name=$(basename "$bin")
work=$(mktemp -d "${TMPDIR:-/tmp}/tern-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
for s in "$@"; do cp "$s" "$work/corpus/"; done
if "$bin" -max_total_time="$secs" -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$work/" "$work/corpus" > "$work/log" 2>&1; then
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/log"
    echo "$name: 1 passed, 0 failed"
else
    tail -40 "$work/log"
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
        [ -e "$a" ] && { echo "reproducer (hex):"; od -An -tx1 "$a" | head -20; }
    done
    echo "$name: 0 passed, 1 failed"
    exit 1
fi
