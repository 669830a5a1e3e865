#!/bin/sh
# run-harness.sh CML CMLC SOURCE_DIR info|predict — command-line tests of the
# `cml` harness on models compiled here by CMLC (into a temporary directory):
#   info     `cml info` text and --json (parsed by python3 when present),
#            --help, and one-line errors with exit 1 for bad files;
#   predict  `cml predict M.so X.csv --simulate` must print exactly what
#            `cmlc M.cml --simulate --input X.csv` prints, on every example
#            with data and on fixtures covering each post-processing; plus
#            the honest error without --simulate and the file errors.
set -eu
cml=$1 cmlc=$2 src=$3 mode=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "run-harness: $*" >&2; exit 1; }

# expect_error STATUS PATTERN CMD...: CMD exits with STATUS and its stderr,
# one line, matches PATTERN.
expect_error() {
    want=$1 pat=$2
    shift 2
    set +e
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    set -e
    [ "$got" = "$want" ] || fail "$*: exit $got, expected $want ($(cat "$tmp/err"))"
    [ "$(wc -l <"$tmp/err")" = 1 ] || fail "$*: expected one line on stderr, got: $(cat "$tmp/err")"
    grep -q -- "$pat" "$tmp/err" || fail "$*: stderr '$(cat "$tmp/err")' lacks '$pat'"
}

compile() { "$cmlc" "$1" -o "$tmp/$2.so" || fail "cmlc $1 failed"; }

compile "$src/examples/iris_mlp.cml" iris_mlp
echo "not a shared object" >"$tmp/text.so"

case $mode in
info)
    "$cml" info "$tmp/iris_mlp.so" >"$tmp/info.txt"
    for want in "model 'iris_mlp'" "x: \[4\], encrypted, 9-bit signed encoding, range \[0, 15\]" \
        "scale 0.526666667, zero point 0, 4 bits" "out0: \[3\], encrypted" \
        "post-processing: argmax" "polynomial size 32768" "32 PBS per run"; do
        grep -q -- "$want" "$tmp/info.txt" || fail "cml info lacks '$want':
$(cat "$tmp/info.txt")"
    done
    compile "$src/examples/thresholds.cml" thresholds
    "$cml" info "$tmp/thresholds.so" | grep -q "weights: \[3\], encrypted, 4-bit unsigned" ||
        fail "cml info thresholds.so"
    for m in iris_mlp thresholds; do
        "$cml" info "$tmp/$m.so" --json >"$tmp/$m.json"
        grep -q "\"name\": \"$m\"" "$tmp/$m.json" || fail "cml info --json $m: no name"
        if command -v python3 >/dev/null; then
            python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["format"] == 1 and d["inputs"]' \
                "$tmp/$m.json" || fail "cml info --json $m: not valid JSON"
        fi
    done
    "$cml" info --help | grep -q "usage: cml info" || fail "cml info --help"
    expect_error 1 "$tmp/missing.so: cannot open" "$cml" info "$tmp/missing.so"
    expect_error 1 "$tmp/text.so: cannot load as a shared object" "$cml" info "$tmp/text.so"
    set +e
    "$cml" info "$tmp/iris_mlp.so" --bogus >/dev/null 2>"$tmp/err"
    got=$?
    set -e
    [ "$got" = 2 ] && head -n 1 "$tmp/err" | grep -q "unknown option '--bogus'" ||
        fail "cml info --bogus: exit $got, $(cat "$tmp/err")"
    ;;
predict)
    # same_as_cmlc CML_FILE CSV_FILE
    same_as_cmlc() {
        n=$(basename "$1" .cml)
        compile "$1" "$n"
        "$cmlc" "$1" --simulate --input "$2" >"$tmp/$n.want" || fail "cmlc --simulate $n failed"
        "$cml" predict "$tmp/$n.so" "$2" --simulate >"$tmp/$n.got" || fail "cml predict $n failed"
        [ -s "$tmp/$n.want" ] || fail "$n: cmlc printed nothing"
        diff -u "$tmp/$n.want" "$tmp/$n.got" >&2 || fail "$n: cml predict differs from cmlc --simulate"
    }
    same_as_cmlc "$src/examples/iris_mlp.cml" "$src/examples/iris_test.csv"
    same_as_cmlc "$src/examples/logistic_regression.cml" "$src/examples/iris_test.csv"
    same_as_cmlc "$src/examples/linear_regression.cml" "$src/examples/diabetes_test.csv"
    same_as_cmlc "$src/examples/digits_cnn.cml" "$src/examples/digits_test.csv"
    same_as_cmlc "$src/examples/thresholds.cml" "$src/tests/cli/thresholds.csv"
    same_as_cmlc "$src/tests/cli/post_softmax.cml" "$src/tests/cli/post_softmax.csv"
    same_as_cmlc "$src/tests/check/simulate_circuit.cml" "$src/tests/check/simulate_circuit.csv"
    # stdin, as cmlc's --input -
    "$cml" predict "$tmp/iris_mlp.so" - --simulate <"$src/examples/iris_test.csv" >"$tmp/stdin.got"
    cmp -s "$tmp/stdin.got" "$tmp/iris_mlp.got" || fail "cml predict from stdin differs"
    "$cml" predict --help | grep -q "usage: cml predict" || fail "cml predict --help"
    csv=$src/examples/iris_test.csv
    expect_error 1 "needs cml_circuit_run, which this model does not export yet" \
        "$cml" predict "$tmp/iris_mlp.so" "$csv"
    expect_error 1 "$tmp/missing.so: cannot open" "$cml" predict "$tmp/missing.so" "$csv" --simulate
    expect_error 1 "$tmp/text.so: cannot load as a shared object" \
        "$cml" predict "$tmp/text.so" "$csv" --simulate
    expect_error 1 "cannot open '$tmp/missing.csv'" \
        "$cml" predict "$tmp/iris_mlp.so" "$tmp/missing.csv" --simulate
    printf '1,2,3\n' >"$tmp/short.csv"
    expect_error 1 "short.csv: rows need 4 values (x: 4), got 3" \
        "$cml" predict "$tmp/iris_mlp.so" "$tmp/short.csv" --simulate
    printf '40,10,30,1,2,3\n64,10,30,1,2,3\n' >"$tmp/range.csv"
    expect_error 1 "row 2: input 'income'\[0\] = 64 is outside its range \[0, 63\]" \
        "$cml" predict "$tmp/thresholds.so" "$tmp/range.csv" --simulate
    printf '40,10,30,1,2.5,3\n' >"$tmp/frac.csv"
    expect_error 1 "input 'weights'\[1\] needs integers, got 2.5" \
        "$cml" predict "$tmp/thresholds.so" "$tmp/frac.csv" --simulate
    ;;
*) fail "unknown mode '$mode'" ;;
esac
