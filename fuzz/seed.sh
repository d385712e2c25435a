#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/
# from the project's own files (nothing generated here is committed):
#
#   lua_check        every .lua file of the repository (lua/, including the
#                    trybuild fixtures in lua/ui/, and the crates' own)
#   header_assembly  the same files as top-level file, each behind every
#                    include shape byte, and a few multi-file trees
#   error_parse      every recorded error reply of every tested server
#                    (runtime/tests/fixtures/replies/*.txt)
#   reply_decode     a few byte strings (the builder reads any bytes)
#
#     fuzz/seed.sh && cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run lua_check
set -euo pipefail

fuzz=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$fuzz")
corpus=$fuzz/corpus
mkdir -p "$corpus"/{lua_check,header_assembly,error_parse,reply_decode}

mapfile -t scripts < <(cd "$root" && git ls-files '*.lua' | sort)
i=0
for s in "${scripts[@]}"; do
    cp "$root/$s" "$corpus/lua_check/$(printf '%03d' $i)"
    # Shape bytes: no extra includes, a ring, a chain, a diamond; the last
    # two also hang a 68-file chain (deeper than the limit) below.
    for shape in 0 1 2 3 $((17 * 8 + 2)) $((17 * 8 + 7)); do
        { printf "\\x$(printf '%02x' $shape)"; cat "$root/$s"; } \
            >"$corpus/header_assembly/$(printf '%03d-%d' $i $shape)"
    done
    i=$((i + 1))
done
# Multi-file trees: file texts separated by NUL (see header_assembly.rs).
printf '\x01%%key k\n%%arg n int\n%%return int\nreturn 1\0%%pragma once\n%%key j\n\0%%include "f0.lua"\n' \
    >"$corpus/header_assembly/tree-ring"
printf '\x03%%key k\n%%return str?[]\nreturn {}\0%%arg a str\n\0%%pragma once\n%%arg b int\n\0\0' \
    >"$corpus/header_assembly/tree-diamond"
printf '\x00%%include "sub/f2.lua"\n%%keys rest\nreturn 1\0\0%%include "../f0.lua"\n%%args all\n' \
    >"$corpus/header_assembly/tree-cycle"

n=0
for f in "$root"/runtime/tests/fixtures/replies/*.txt; do
    while IFS=$'\t' read -r _ reply; do
        [[ $reply == -* ]] || continue
        printf '%s' "$reply" >"$corpus/error_parse/$(printf '%03d' $n)"
        n=$((n + 1))
    done < <(grep -v '^#' "$f")
done

printf '\x08\x03\x01\x05\x00\x00\x00\x00\x00\x00\x00\x03\x04[1]' >"$corpus/reply_decode/array"
printf '\x0a\x02\x02\x01a\x01\x07\x00\x00\x00\x00\x00\x00\x00' >"$corpus/reply_decode/map"
printf '\x0e\x0dMYERR boom xx' >"$corpus/reply_decode/error"
printf '\x03\x02\x00' >"$corpus/reply_decode/inf"
echo "seeds: $(ls "$corpus/lua_check" | wc -l) lua_check, $(ls "$corpus/header_assembly" | wc -l) header_assembly, $n error_parse, $(ls "$corpus/reply_decode" | wc -l) reply_decode"
