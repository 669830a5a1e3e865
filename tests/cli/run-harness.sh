#!/bin/sh
# run-harness.sh CML CMLC SOURCE_DIR info|predict|fhe|misuse — command-line
# tests of the `cml` harness on models compiled here by CMLC (into a
# temporary directory):
#   info     `cml info` text and --json (parsed by python3 when present),
#            --help, and one-line errors with exit 1 for bad files;
#   predict  `cml predict M.so X.csv --simulate` must print exactly what
#            `cmlc M.cml --simulate --input X.csv` prints, on every example
#            with data and on fixtures covering each post-processing; plus
#            encrypted predict on a linear model and the file errors;
#   fhe      keygen -> encrypt -> run -> decrypt on the linear examples (no
#            bootstrap: fast) must print exactly `cml predict --simulate`'s
#            text, as must `cml predict` (in one process) and --clear;
#   misuse   keys of another model, truncated or corrupted ciphertexts, a
#            client key given to `run`, missing files, wrong CSV widths,
#            values out of range: one-line errors, exit 1, and no output
#            file left behind.
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

# expect_usage PATTERN CMD...: CMD exits with 2 and its first stderr line
# matches PATTERN (the usage follows it).
expect_usage() {
    pat=$1
    shift
    set +e
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    set -e
    [ "$got" = 2 ] || fail "$*: exit $got, expected 2 ($(cat "$tmp/err"))"
    head -n 1 "$tmp/err" | grep -q -- "$pat" || fail "$*: stderr '$(head -n 1 "$tmp/err")' lacks '$pat'"
}

# no_output FILE...: none of the files exists, nor any temporary file of
# an interrupted atomic save next to them.
no_output() {
    for f in "$@"; do
        [ ! -e "$f" ] || fail "$f was left behind after a failure"
        for t in "$f".tmp.*; do
            [ ! -e "$t" ] || fail "$t was left behind after a failure"
        done
    done
}

compile() { "$cmlc" "$1" -o "$tmp/$2.so" || fail "cmlc $1 failed"; }

echo "not a shared object" >"$tmp/text.so"
case $mode in
info | predict) compile "$src/examples/iris_mlp.cml" iris_mlp ;;
esac

case $mode in
info)
    "$cml" info "$tmp/iris_mlp.so" >"$tmp/info.txt"
    for want in "model 'iris_mlp'" "x: \[4\], encrypted, 6-bit signed encoding, range \[0, 7\]" \
        "scale 1.12857143, zero point 0, 3 bits" "out0: \[3\], encrypted" \
        "post-processing: argmax" "polynomial size 8192" "16 PBS per run"; do
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
    # inputs quantized per feature: the runtime's quantizer and cmlc's agree
    same_as_cmlc "$src/tests/e2e/ops/per_feature_dense.cml" "$src/tests/e2e/ops/per_feature.csv"
    same_as_cmlc "$src/tests/e2e/ops/per_feature_tree.cml" "$src/tests/e2e/ops/per_feature.csv"
    same_as_cmlc "$src/tests/e2e/ops/tree_bins.cml" "$src/tests/e2e/ops/tree_bins.csv"
    same_as_cmlc "$src/tests/check/model_glm.cml" "$src/tests/check/model_glm.csv"
    # stdin, as cmlc's --input -
    "$cml" predict "$tmp/iris_mlp.so" - --simulate <"$src/examples/iris_test.csv" >"$tmp/stdin.got"
    cmp -s "$tmp/stdin.got" "$tmp/iris_mlp.got" || fail "cml predict from stdin differs"
    "$cml" predict --help | grep -q "usage: cml predict" || fail "cml predict --help"
    csv=$src/examples/iris_test.csv
    # without --simulate: encrypted, on the linear model (fast); a module
    # compiled without cml_circuit_run is refused before any keygen
    set +e
    "$cml" predict "$tmp/logistic_regression.so" "$csv" >"$tmp/fhe.got" 2>"$tmp/err"
    got=$?
    set -e
    if [ "$got" = 0 ]; then
        cmp -s "$tmp/fhe.got" "$tmp/logistic_regression.got" ||
            fail "cml predict (encrypted) differs from --simulate"
    else
        [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "logistic_regression.so: compiled without encrypted execution (recompile with this cmlc); --simulate runs its clear twin" "$tmp/err" ||
            fail "cml predict without --simulate: exit $got, $(cat "$tmp/err")"
    fi
    expect_usage "--simulate and --clear exclude each other" \
        "$cml" predict "$tmp/iris_mlp.so" "$csv" --simulate --clear
    expect_error 1 "$tmp/missing.so: cannot open" "$cml" predict "$tmp/missing.so" "$csv" --simulate
    expect_error 1 "$tmp/text.so: cannot load as a shared object" \
        "$cml" predict "$tmp/text.so" "$csv" --simulate
    expect_error 1 "cannot open '$tmp/missing.csv'" \
        "$cml" predict "$tmp/iris_mlp.so" "$tmp/missing.csv" --simulate
    printf '1,2,3\n' >"$tmp/short.csv"
    expect_error 1 "short.csv: rows need 4 values (x: 4), got 3" \
        "$cml" predict "$tmp/iris_mlp.so" "$tmp/short.csv" --simulate
    printf '10,3,30,1,2,3\n16,3,30,1,2,3\n' >"$tmp/range.csv"
    expect_error 1 "row 2: input 'income'\[0\] = 16 is outside its range \[0, 15\]" \
        "$cml" predict "$tmp/thresholds.so" "$tmp/range.csv" --simulate
    printf '10,3,30,1,2.5,3\n' >"$tmp/frac.csv"
    expect_error 1 "input 'weights'\[1\] needs integers, got 2.5" \
        "$cml" predict "$tmp/thresholds.so" "$tmp/frac.csv" --simulate
    ;;
fhe)
    # `cml` must hold no copy of the runtime: models call back into
    # libcmlrt.so, and a second copy would split cml_last_error's state
    if command -v nm >/dev/null; then
        if nm --defined-only "$cml" | grep -Eq ' [TtDdBb] (cml_last_error|cml_circuit_load|cml_encrypt)$'; then
            fail "$cml defines runtime symbols: it must link libcmlrt.so only"
        fi
    fi
    # round_trip NAME CML_FILE CSV_FILE
    round_trip() {
        n=$1
        compile "$2" "$n"
        m=$tmp/$n.so k=$tmp/$n.keys
        "$cml" predict "$m" "$3" --simulate >"$tmp/$n.want" || fail "$n: cml predict --simulate failed"
        [ -s "$tmp/$n.want" ] || fail "$n: cml predict --simulate printed nothing"
        "$cml" keygen "$m" -o "$k" 2>"$tmp/$n.keygen" || fail "$n: cml keygen failed: $(cat "$tmp/$n.keygen")"
        grep -q "client.key" "$tmp/$n.keygen" || fail "$n: cml keygen did not report its keys"
        [ -s "$k/client.key" ] && [ -s "$k/server.key" ] || fail "$n: keygen wrote no keys"
        [ "$(stat -c %a "$k/client.key")" = 600 ] || fail "$n: client.key is not mode 0600"
        "$cml" encrypt "$m" "$k/client.key" "$3" -o "$tmp/$n.x.ct" || fail "$n: cml encrypt failed"
        "$cml" run "$m" "$k/server.key" "$tmp/$n.x.ct" -o "$tmp/$n.y.ct" || fail "$n: cml run failed"
        "$cml" decrypt "$m" "$k/client.key" "$tmp/$n.y.ct" >"$tmp/$n.got" || fail "$n: cml decrypt failed"
        diff -u "$tmp/$n.want" "$tmp/$n.got" >&2 || fail "$n: decrypted outputs differ from --simulate"
        # stdin for the samples, as cml predict reads them
        "$cml" encrypt "$m" "$k/client.key" - -o "$tmp/$n.x2.ct" <"$3" || fail "$n: encrypt from stdin"
        "$cml" run "$m" "$k/server.key" "$tmp/$n.x2.ct" -o "$tmp/$n.y2.ct" || fail "$n: run (stdin)"
        "$cml" decrypt "$m" "$k/client.key" "$tmp/$n.y2.ct" | cmp -s - "$tmp/$n.want" ||
            fail "$n: round trip from stdin differs"
        # all of it in one process
        "$cml" predict "$m" "$3" >"$tmp/$n.one" || fail "$n: cml predict (encrypted) failed"
        diff -u "$tmp/$n.want" "$tmp/$n.one" >&2 || fail "$n: cml predict (encrypted) differs from --simulate"
        "$cml" predict "$m" "$3" --clear >"$tmp/$n.both" 2>"$tmp/$n.err" ||
            fail "$n: cml predict --clear failed: $(cat "$tmp/$n.err")"
        rows=$(wc -l <"$tmp/$n.want")
        grep -qx "$rows/$rows rows equal" "$tmp/$n.err" || fail "$n: --clear summary: $(cat "$tmp/$n.err")"
        sed 's/^\(.*\)$/fhe: \1 | clear: \1/' "$tmp/$n.want" | cmp -s - "$tmp/$n.both" ||
            fail "$n: --clear rows differ from 'fhe: ROW | clear: ROW'"
    }
    round_trip logistic_regression "$src/examples/logistic_regression.cml" "$src/examples/iris_test.csv"
    round_trip linear_regression "$src/examples/linear_regression.cml" "$src/examples/diabetes_test.csv"
    # an unsigned circuit output with its top bit set (60 of u6) decrypts as itself
    printf '0,0,0,0\n15,15,15,15\n8,8,8,8\n1,2,3,4\n' >"$tmp/total.csv"
    round_trip params_linear "$src/tests/check/params_linear.cml" "$tmp/total.csv"
    grep -qx 60 "$tmp/params_linear.got" || fail "params_linear: 15+15+15+15 did not decrypt to 60"
    for c in keygen encrypt run decrypt; do
        "$cml" "$c" --help | grep -q "usage: cml $c" || fail "cml $c --help"
    done
    "$cml" --help | grep -q "keygen" || fail "cml --help does not list keygen"
    ;;
misuse)
    compile "$src/examples/logistic_regression.cml" logreg
    compile "$src/tests/cli/post_softmax.cml" other   # another linear set (N 1024, 9 bits)
    compile "$src/tests/check/params_linear.cml" total
    m=$tmp/logreg.so k=$tmp/keys o=$tmp/outdir
    csv=$src/examples/iris_test.csv
    mkdir "$o"
    "$cml" keygen "$m" -o "$k" 2>/dev/null || fail "keygen logreg"
    "$cml" keygen "$tmp/other.so" -o "$tmp/okeys" 2>/dev/null || fail "keygen post_softmax"
    "$cml" encrypt "$m" "$k/client.key" "$csv" -o "$tmp/x.ct" || fail "encrypt"
    # Note: linear_regression.so has exactly logreg's parameter set (k 1,
    # N 2048, 18 bits), so its keys work with logreg.so: keys belong to a
    # parameter set, not to a model. post_softmax.so's do not.
    expect_error 1 "okeys/client.key: a client key for other parameters than $m's (another model?)" \
        "$cml" encrypt "$m" "$tmp/okeys/client.key" "$csv" -o "$o/x.ct"
    no_output "$o/x.ct"
    "$cml" encrypt "$tmp/other.so" "$tmp/okeys/client.key" "$src/tests/cli/post_softmax.csv" \
        -o "$tmp/other.ct" || fail "encrypt post_softmax"
    if "$cml" run "$m" "$k/server.key" "$tmp/x.ct" -o "$tmp/y.ct" 2>"$tmp/err"; then
        expect_error 1 "okeys/server.key: a server key for other parameters than $m's" \
            "$cml" run "$m" "$tmp/okeys/server.key" "$tmp/x.ct" -o "$o/y.ct"
        no_output "$o/y.ct"
        expect_error 1 "other.ct: ciphertexts for other parameters than $m's (another model?)" \
            "$cml" run "$m" "$k/server.key" "$tmp/other.ct" -o "$o/y.ct"
        no_output "$o/y.ct"
        # the secret key where the evaluation keys belong
        expect_error 1 "keys/client.key: this is a client (secret) key, not a server key" \
            "$cml" run "$m" "$k/client.key" "$tmp/x.ct" -o "$o/y.ct"
        no_output "$o/y.ct"
        # truncated and corrupted ciphertexts
        head -c 100 "$tmp/x.ct" >"$tmp/short.ct"
        expect_error 1 "short.ct: truncated" "$cml" run "$m" "$k/server.key" "$tmp/short.ct" -o "$o/y.ct"
        no_output "$o/y.ct"
        head -c 5000 "$tmp/x.ct" >"$tmp/cut.ct"
        expect_error 1 "cut.ct: truncated: 5000 bytes, the header announces" \
            "$cml" run "$m" "$k/server.key" "$tmp/cut.ct" -o "$o/y.ct"
        no_output "$o/y.ct"
        cp "$tmp/x.ct" "$tmp/flip.ct"
        # the byte's complement: writing a fixed byte left the file unchanged
        # whenever the (random) ciphertext already held it there, 1 run in 256
        byte=$(od -An -tu1 -j4000 -N1 "$tmp/x.ct" | tr -d ' ')
        printf "\\$(printf '%03o' $((255 - byte)))" |
            dd of="$tmp/flip.ct" bs=1 seek=4000 conv=notrunc 2>/dev/null
        cmp -s "$tmp/x.ct" "$tmp/flip.ct" && fail "flip.ct is unchanged"
        expect_error 1 "flip.ct: checksum mismatch: file corrupted" \
            "$cml" run "$m" "$k/server.key" "$tmp/flip.ct" -o "$o/y.ct"
        no_output "$o/y.ct"
        # a key file given as the ciphertexts
        expect_error 1 "server.key: this is a server key, expected a ciphertext" \
            "$cml" run "$m" "$k/server.key" "$k/server.key" -o "$o/y.ct"
        no_output "$o/y.ct"
        expect_error 1 "missing.ct: cannot open: No such file or directory" \
            "$cml" run "$m" "$k/server.key" "$tmp/missing.ct" -o "$o/y.ct"
        expect_error 1 "missing.key: cannot open: No such file or directory" \
            "$cml" run "$m" "$tmp/missing.key" "$tmp/x.ct" -o "$o/y.ct"
        no_output "$o/y.ct"
        # decrypt: another model's key, truncated outputs
        expect_error 1 "okeys/client.key: a client key for other parameters than $m's" \
            "$cml" decrypt "$m" "$tmp/okeys/client.key" "$tmp/y.ct"
        [ ! -s "$tmp/out" ] || fail "decrypt with another model's key printed rows"
        expect_error 1 "short.ct: truncated" "$cml" decrypt "$m" "$k/client.key" "$tmp/short.ct"
    else
        grep -q "compiled without encrypted execution" "$tmp/err" ||
            fail "cml run: $(cat "$tmp/err")"
        echo "run-harness: $m has no cml_circuit_run yet: run/decrypt misuse not checked" >&2
    fi
    # encrypt: the CSV and the keys
    printf '1,2,3\n' >"$tmp/short.csv"
    expect_error 1 "short.csv: rows need 4 values (x: 4), got 3" \
        "$cml" encrypt "$m" "$k/client.key" "$tmp/short.csv" -o "$o/x.ct"
    no_output "$o/x.ct"
    expect_error 1 "cannot open '$tmp/missing.csv'" \
        "$cml" encrypt "$m" "$k/client.key" "$tmp/missing.csv" -o "$o/x.ct"
    expect_error 1 "missing.key: cannot open: No such file or directory" \
        "$cml" encrypt "$m" "$tmp/missing.key" "$csv" -o "$o/x.ct"
    expect_error 1 "keys/server.key: this is a server key, expected a client key" \
        "$cml" encrypt "$m" "$k/server.key" "$csv" -o "$o/x.ct"
    expect_error 1 "$tmp/missing.so: cannot open" \
        "$cml" encrypt "$tmp/missing.so" "$k/client.key" "$csv" -o "$o/x.ct"
    expect_error 1 "text.so: cannot load as a shared object" \
        "$cml" encrypt "$tmp/text.so" "$k/client.key" "$csv" -o "$o/x.ct"
    no_output "$o/x.ct"
    # a circuit input out of its range (u4: 0..15), named by row and element
    "$cml" keygen "$tmp/total.so" -o "$tmp/tkeys" 2>/dev/null || fail "keygen total"
    printf '1,2,3,4\n1,16,3,4\n' >"$tmp/range.csv"
    expect_error 1 "range.csv: row 2: input 'x'\[1\] = 16 is outside its range \[0, 15\]" \
        "$cml" encrypt "$tmp/total.so" "$tmp/tkeys/client.key" "$tmp/range.csv" -o "$o/x.ct"
    no_output "$o/x.ct"
    # keygen: existing keys are kept without --force; a file in the way of DIR
    cp "$k/client.key" "$tmp/old.key"
    expect_error 1 "keys exist already (--force replaces them" "$cml" keygen "$m" -o "$k"
    cmp -s "$k/client.key" "$tmp/old.key" || fail "keygen without --force touched the old key"
    "$cml" keygen "$m" -o "$k" --force 2>/dev/null || fail "keygen --force"
    ! cmp -s "$k/client.key" "$tmp/old.key" || fail "keygen --force did not replace the key"
    : >"$tmp/afile"
    expect_error 1 "afile: cannot create the directory" "$cml" keygen "$m" -o "$tmp/afile"
    no_output "$tmp/afile/client.key"
    # usage errors: exit 2, the usage follows
    expect_usage "missing -o FILE" "$cml" encrypt "$m" "$k/client.key" "$csv"
    expect_usage "expected 3 arguments, got 2" "$cml" run "$m" "$k/server.key" -o "$o/y.ct"
    expect_usage "unknown option '--bogus'" "$cml" decrypt "$m" "$k/client.key" "$tmp/x.ct" --bogus
    expect_usage "missing -o FILE" "$cml" keygen "$m"
    no_output "$o/x.ct" "$o/y.ct"
    [ -z "$(ls -A "$o")" ] || fail "files left in $o: $(ls -A "$o")"
    ;;
*) fail "unknown mode '$mode'" ;;
esac
