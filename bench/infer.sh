#!/bin/sh
# bench/infer.sh [BUILD_DIR] [EXAMPLE.cml...] — the encrypted-inference
# benchmark over the examples: per example, the compile time (cmlc to .so,
# median of 3), the .so size, then `cml bench infer` (keygen, key sizes,
# PBS count, latency on 1 and all threads, single PBS, ratio). One
# `name value unit` line per figure.
set -eu
build=${1:-build}
[ $# -gt 0 ] && shift
src=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || set -- "$src"/examples/*.cml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$@"; do
    n=$(basename "$f" .cml)
    times=""
    for i in 1 2 3; do
        t0=$(date +%s%N)
        "$build/tools/cmlc" "$f" -o "$tmp/$n.so"
        t1=$(date +%s%N)
        times="$times $(( (t1 - t0) / 1000 ))"
    done
    ms=$(echo $times | tr ' ' '\n' | sort -n | sed -n 2p)
    echo "compile.$n $(awk -v u="$ms" 'BEGIN { printf "%.1f", u / 1000 }') ms"
    echo "so_size.$n $(wc -c <"$tmp/$n.so") bytes"
    "$build/tools/cml" bench infer "$tmp/$n.so"
done
