#!/bin/sh
# `bench/rtt-instructions.sh [kinds] [warm-up] [short] [long]` — instructions per 64 B round trip, both ends
# in one process, counted by valgrind (callgrind): for each kind (default raw-ws,meshlink-ws), the ping-pong
# of bench/rtt-pingpong-once.ts is run twice under callgrind, `short` and `long` rounds after the same
# warm-up, and (Ir(long) − Ir(short)) / (long − short) is printed. Instruction counts do not depend on the
# machine's load, so two versions of the code can be compared on a busy machine where time cannot.
# Node runs with --predictable --predictable-gc-schedule (RTT_NODE_FLAGS overrides): V8's compiles and
# collections then happen at the same points whatever the machine's speed. Without them the figure moved
# ±10% between runs of the same code (its GC heuristics go by elapsed time, and valgrind's pace follows
# the load); with them, five commits measured side by side came out in order, ~1k apart. The predictable
# GC collects more often, so the absolute figure is higher than a normal run's: compare like with like.
# RTT_BUNDLE: run that prebuilt bundle of the driver (it must lie in this checkout, to find node_modules)
# instead of bundling this tree's, e.g. to compare commits side by side.
# Which functions V8 optimizes, and when, still differs between a short and a long run: TurboFan's work
# (over a third of a run's instructions) moved the plain figure by ±10k a round trip between runs of the
# same code. Each kind's second figure leaves out the instructions spent under V8's compile entries
# (lazy, optimizing, on-stack replacement), as counted by callgrind_annotate: compare by that one.
# Slow: ~70× native, more on a busy machine; the defaults take ~5 minutes a kind.
set -eu
kinds=${1:-raw-ws,meshlink-ws}
warm=${2:-3000}
short=${3:-1000}
long=${4:-6000}
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
bundle=${RTT_BUNDLE:-$here/bench/.rtt-pingpong-once.$$.mjs}
trap 'rm -rf "$out" "$here/bench/.rtt-pingpong-once.$$.mjs"' EXIT
# A bundle run by plain node: tsx's loader (and its esbuild child) would run under valgrind too.
if [ -z "${RTT_BUNDLE:-}" ]; then
  npx esbuild "$here/bench/rtt-pingpong-once.ts" --bundle --platform=node --format=esm --packages=external \
    --outfile="$bundle" --log-level=warning
fi
instructions() {
  # shellcheck disable=SC2086
  valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$out/cg" \
    node ${RTT_NODE_FLAGS---predictable --predictable-gc-schedule} "$bundle" "$1" "$warm" "$2" >"$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }
  grep -q 'rtt-pingpong-once: .* done' "$out/log" || { cat "$out/log" >&2; exit 1; }
  total=$(sed -n 's/.*Collected : //p' "$out/log")
  compiling=$(callgrind_annotate --inclusive=yes "$out/cg" 2>/dev/null |
    sed -n 's/^ *\([0-9,]*\) .*v8::internal::Runtime_Compile\(Lazy\|Optimized\|OptimizedOSR\)(.*/\1/p' | tr -d , | paste -sd+)
  echo "$total $(( total - (${compiling:-0}) ))"
}
for kind in $(echo "$kinds" | tr ',' ' '); do
  set -- $(instructions "$kind" "$short") $(instructions "$kind" "$long")
  echo "$kind: $(( ($3 - $1) / (long - short) )) instructions per round trip, $(( ($4 - $2) / (long - short) )) without V8's compiles ($short rounds: $1, $2; $long rounds: $3, $4)"
done
