#!/usr/bin/env bash
# Compile-time cost of redlua's Lua analysis.
#
#     tools/compile_cost/run.sh            # 3 measured runs of each
#     RUNS=5 tools/compile_cost/run.sh     # more runs on a noisy machine
#
# Generates target/compile-cost/cost, a crate (outside this workspace) with
# 100 scripts of ~300 lines (tools/compile_cost/gen.py) and one
# #[redis_script] per script, builds its dependencies once, then times
# `touch src/lib.rs && cargo check` RUNS times with the Lua analysis and
# RUNS times with REDLUA_SKIP_LUA_CHECK=1 (interleaved, so load from other
# builds hits both alike) and prints the medians and the per-script
# difference. Touching lib.rs makes cargo re-expand every macro in every run
# (toggling REDLUA_SKIP_LUA_CHECK alone would too, since the macro's output
# tracks it, but two runs in a row with the same setting would not).
#
# Wall time on a shared 2-core VM varies by +-20% between runs; for a stable
# comparison count rustc's instructions instead (valgrind --tool=callgrind on
# the `rustc --crate-name cost` command `cargo check -v` prints, with
# CARGO_MANIFEST_DIR set to the crate).
#
# Large inputs (5,000 locals, 2,000 unused %key lines, a 200 KB expression,
# thousands of errors on one line, ...) are timed one build each by
# tools/compile_cost/large.py.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$root/target/compile-cost
crate=$out/cost
runs=${RUNS:-3}
scripts=100
export CARGO_TARGET_DIR=$out/target

python3 "$root/tools/compile_cost/gen.py" "$crate" "$root" "$scripts"
# Same dependency versions as the workspace (cargo drops unused entries).
if [[ ! -f $crate/Cargo.lock ]]; then
    cp "$root/Cargo.lock" "$crate/Cargo.lock"
fi
cd "$crate"

# Warm-up: builds redlua-macros, full_moon (opt-level 3), redis, ... once.
# The scripts must pass the analysis without a warning (warnings come out
# as deprecation warnings), or the runs would measure diagnostics too.
echo "warm-up: cargo check (builds dependencies into $CARGO_TARGET_DIR)"
touch src/lib.rs
if ! cargo check --color never >"$out/warmup.log" 2>&1; then
    cat "$out/warmup.log"
    echo "warm-up failed" >&2
    exit 1
fi
if grep -q '^warning' "$out/warmup.log"; then
    cat "$out/warmup.log"
    echo "the generated scripts produce warnings" >&2
    exit 1
fi

# Wall time of one `touch src/lib.rs && cargo check`, in ms.
time_check() {
    local start end
    touch src/lib.rs
    start=$(date +%s%N)
    if ! cargo check --color never >"$out/run.log" 2>&1; then
        cat "$out/run.log"
        echo "cargo check failed" >&2
        exit 1
    fi
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}

median() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

with=()
without=()
for ((i = 1; i <= runs; i++)); do
    w=$(time_check)
    wo=$(REDLUA_SKIP_LUA_CHECK=1 time_check)
    with+=("$w")
    without+=("$wo")
    echo "run $i: with analysis ${w} ms, without ${wo} ms"
done

mw=$(median "${with[@]}")
mwo=$(median "${without[@]}")
echo "cargo check of $scripts scripts ($(cat lua/*.lua | wc -l) lines of Lua), median of $runs:"
echo "  with Lua analysis:                         ${mw} ms"
echo "  without (REDLUA_SKIP_LUA_CHECK=1):         ${mwo} ms"
awk -v a="$mw" -v b="$mwo" -v n="$scripts" \
    'BEGIN { printf "  analysis cost per script ((with - without) / %d): %.2f ms\n", n, (a - b) / n }'
