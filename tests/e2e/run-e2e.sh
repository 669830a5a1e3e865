#!/bin/sh
# run-e2e.sh CMLC FHE_CHECK SOURCE.cml ROWS — compiles SOURCE.cml into a
# temporary model.so and checks ROWS random encrypted runs against the clear
# twin (fhe_check.c). ROWS is scaled by $CML_TEST_SCALE (at least 1).
set -eu
cmlc=$1 check=$2 src=$3 rows=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows=$(awk -v r="$rows" -v s="${CML_TEST_SCALE:-1}" 'BEGIN { n = int(r * s); print n < 1 ? 1 : n }')
# models read their calibration files relative to the source
"$cmlc" "$src" -o "$tmp/model.so"
"$check" "$tmp/model.so" "$rows"
