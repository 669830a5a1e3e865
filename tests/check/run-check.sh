#!/bin/sh
# run-check.sh CMLC FILECHECK FILE.cml — FileCheck test driver: runs
# `cmlc FILE <args>` with the arguments on the file's `// ARGS:` line
# (default --emit-ir) and checks stdout against its `// CHECK` lines.
set -eu
cmlc=$1 filecheck=$2 file=$3
args=$(sed -n 's|^// ARGS: *||p' "$file" | head -n 1)
[ -n "$args" ] || args=--emit-ir
cd "$(dirname "$file")"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# shellcheck disable=SC2086  # args is a word list on purpose
if ! "$cmlc" "$(basename "$file")" $args >"$out"; then
    echo "run-check: cmlc $(basename "$file") $args failed" >&2
    exit 1
fi
"$filecheck" --input-file="$out" "$(basename "$file")"
