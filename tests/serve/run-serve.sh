#!/bin/sh
# run-serve.sh CML CMLC SOURCE_DIR MODE [CLIENT_HELLO] — `cml serve` and
# `cml client` end to end, on models compiled here by CMLC (two linear ones,
# fast; one tree ensemble with bootstraps), each server on a free port
# (--port 0) with a temporary key store:
#   roundtrip  three clients at once on three models, each with its own key
#              directory: their outputs equal `cml predict --simulate`;
#              /metrics counts them; a restarted server still knows the
#              stored keys (no upload); a server with another key store
#              answers 404 and the client uploads again; another build of
#              a served model is refused by the client; two keys through a
#              key cache of one; SIGTERM while a request runs lets it
#              finish (200) and exits 0;
#   errors     every kind of bad request, by curl: unknown model, path, key
#              id, a key id of another model, ciphertexts of another
#              parameter set, truncated, corrupted, empty, a client key as
#              evaluation key, a foreign server key, oversized bodies (from
#              Content-Length and chunked), wrong methods, a full queue
#              (503 + Retry-After) and a client that goes away mid-upload:
#              each gets its status and a JSON error, and /health still
#              answers after each;
#   load       bench/serve_load.sh, small: no failed request;
#   example    the C example of docs/deployment.md (CLIENT_HELLO) against a
#              server: its output equals `cml predict --simulate`'s; and
#              docs/openapi.yaml validates (if openapi_spec_validator is
#              installed).
set -eu
cml=$1 cmlc=$2 src=$3 mode=$4 hello=${5:-}
tmp=$(mktemp -d)
srv_pid=
cleanup() {
    [ -z "$srv_pid" ] || kill -KILL "$srv_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "run-serve: $*" >&2
    if [ -s "$tmp/srv.err" ]; then
        echo "--- server log (last lines):" >&2
        tail -n 20 "$tmp/srv.err" >&2
    fi
    exit 1
}

compile() { "$cmlc" "$1" -o "$tmp/$2.so" || fail "cannot compile $1"; }

# start_server ARGS...: `cml serve ARGS --port 0` in the background; sets
# url and srv_pid once it listens. The log accumulates in srv.err.
start_server() {
    : >"$tmp/srv.out"
    "$cml" serve "$@" --port 0 >"$tmp/srv.out" 2>>"$tmp/srv.err" &
    srv_pid=$!
    i=0
    until grep -q '^listening on http://' "$tmp/srv.out"; do
        kill -0 "$srv_pid" 2>/dev/null || fail "the server exited at startup"
        i=$((i + 1))
        [ $i -lt 200 ] || fail "the server did not start in 20 s"
        sleep 0.1
    done
    url=$(sed -n 's/^listening on //p' "$tmp/srv.out")
}

# stop_server: SIGTERM; the server must exit 0.
stop_server() {
    kill -TERM "$srv_pid"
    set +e
    wait "$srv_pid"
    rc=$?
    set -e
    srv_pid=
    [ "$rc" = 0 ] || fail "the server exited with status $rc after SIGTERM"
    grep -q 'cml serve: stopped' "$tmp/srv.err" || fail "no 'stopped' line in the server log"
}

# alive: the server process runs and /health answers.
alive() {
    kill -0 "$srv_pid" 2>/dev/null || fail "the server died"
    h=$(curl -s "$url/health") || true
    [ "$h" = '{"status":"ok"}' ] || fail "GET /health answered '$h'"
}

# expect STATUS PATTERN CURL_ARGS...: the answer has STATUS, its body
# matches PATTERN, an error body is {"error": "..."}; the server lives on.
expect() {
    want=$1 pat=$2
    shift 2
    got=$(curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' "$@") || true
    [ "$got" = "$want" ] ||
        fail "curl $*: HTTP $got, expected $want ($(head -c 300 "$tmp/body"))"
    grep -q -- "$pat" "$tmp/body" || fail "curl $*: body '$(head -c 300 "$tmp/body")' lacks '$pat'"
    if [ "$want" -ge 400 ]; then
        grep -q '^{"error": ".*"}$' "$tmp/body" || fail "curl $*: not a JSON error: $(cat "$tmp/body")"
    fi
    alive
}

# key_id KEYFILE MODEL: uploads a server key with curl, prints its id.
upload() {
    curl -sf --data-binary @"$1" "$url/models/$2/keys" |
        sed -n 's/.*"key_id": *"\([0-9a-f]*\)".*/\1/p'
}

# log_count PATTERN: server log lines matching PATTERN
log_count() { grep -c -- "$1" "$tmp/srv.err" || true; }

# flip_byte FILE OFFSET: complement one byte in place (always a change,
# whatever the byte was: writing a fixed value missed when it was already
# there, 1 run in 256)
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

case $mode in
roundtrip)
    compile "$src/examples/logistic_regression.cml" logreg
    compile "$src/tests/cli/post_softmax.cml" softmax
    compile "$src/tests/e2e/ops/per_feature_tree.cml" tree
    # its server key carries a light bootstrap key (a longer upload)
    compile "$src/tests/e2e/ops/round_light.cml" light
    cp "$src/examples/iris_test.csv" "$tmp/logreg.csv"
    cp "$src/tests/cli/post_softmax.csv" "$tmp/softmax.csv"
    cp "$src/tests/e2e/ops/per_feature.csv" "$tmp/tree.csv"
    printf '1,2,3,4\n7,0,5,6\n7,7,7,7\n' >"$tmp/light.csv"
    for m in logreg softmax tree light; do
        "$cml" predict "$tmp/$m.so" "$tmp/$m.csv" --simulate >"$tmp/$m.expected"
    done
    start_server "$tmp/logreg.so" "$tmp/softmax.so" "$tmp/tree.so" "$tmp/light.so" \
        --key-store "$tmp/store"
    [ "$(curl -s "$url/models")" = '["iris_logistic", "post_softmax", "per_feature_tree", "round_light"]' ] ||
        fail "GET /models: $(curl -s "$url/models")"
    curl -s "$url/models/post_softmax/spec" | grep -q '^name: "post_softmax"' || fail "GET spec"

    # four clients at once, four models, four key directories; three know
    # their model by name only (from the server's spec), one by its .so
    for mn in logreg:iris_logistic softmax:$tmp/softmax.so tree:per_feature_tree light:round_light; do
        m=${mn%%:*} model=${mn#*:}
        "$cml" client "$url" "$model" --keys "$tmp/keys.$m" "$tmp/$m.csv" \
            >"$tmp/$m.out" 2>"$tmp/$m.err" &
        eval "pid_$m=\$!"
    done
    for m in logreg softmax tree light; do
        eval "p=\$pid_$m"
        wait "$p" || fail "cml client on $m failed: $(cat "$tmp/$m.err")"
        cmp -s "$tmp/$m.out" "$tmp/$m.expected" ||
            fail "cml client on $m printed $(head -n 3 "$tmp/$m.out") ... not cml predict --simulate's"
    done
    # each key stored once, under its model, named by the id the client kept
    for mn in logreg:iris_logistic softmax:post_softmax tree:per_feature_tree light:round_light; do
        m=${mn%%:*} n=${mn#*:}
        [ -f "$tmp/store/$n/$(cat "$tmp/keys.$m/key_id").key" ] || fail "$m: key not in store/$n"
        [ "$(ls -A "$tmp/store/$n" | wc -l)" = 1 ] || fail "store/$n: $(ls -A "$tmp/store/$n")"
    done
    [ "$(log_count 'POST /models/[a-z_]*/keys 201')" = 4 ] || fail "expected 4 key uploads"

    # the metrics count what ran: PBS = pbs_count x rows
    pbs=$("$cml" info "$tmp/tree.so" | sed -n 's/.* table lookups, \([0-9]*\) PBS per run/\1/p')
    rows=$(wc -l <"$tmp/tree.csv")
    curl -s "$url/metrics" >"$tmp/metrics"
    grep -q "^cml_pbs_total{model=\"per_feature_tree\"} $((pbs * rows))\$" "$tmp/metrics" ||
        fail "metrics: $(grep pbs_total "$tmp/metrics")"
    grep -q '^cml_http_requests_total{endpoint="predict",status="200"} 4$' "$tmp/metrics" ||
        fail "metrics: $(grep requests_total "$tmp/metrics")"
    grep -q '^cml_predict_latency_seconds{quantile="0.99"} [0-9]' "$tmp/metrics" ||
        fail "metrics: no latency quantile"
    grep -q '^cml_http_requests_in_flight 1$' "$tmp/metrics" || fail "metrics: in flight"

    # a restarted server knows the stored keys: no upload, same answers
    stop_server
    uploads=$(log_count '/keys 20')
    start_server "$tmp/logreg.so" "$tmp/softmax.so" "$tmp/tree.so" "$tmp/light.so" \
        --key-store "$tmp/store"
    for m in tree logreg light; do
        "$cml" client "$url" "$tmp/$m.so" --keys "$tmp/keys.$m" "$tmp/$m.csv" >"$tmp/$m.out" \
            2>"$tmp/$m.err" || fail "cml client on $m after a restart: $(cat "$tmp/$m.err")"
        cmp -s "$tmp/$m.out" "$tmp/$m.expected" || fail "$m after a restart: wrong rows"
    done
    [ "$(log_count '/keys 20')" = "$uploads" ] || fail "a key was uploaded again after a restart"
    # the stored id works for a plain HTTP client too
    "$cml" encrypt "$tmp/tree.so" "$tmp/keys.tree/client.key" "$tmp/tree.csv" -o "$tmp/tree.ct"
    expect 200 '' --data-binary @"$tmp/tree.ct" \
        "$url/models/per_feature_tree/predict?key=$(cat "$tmp/keys.tree/key_id")"
    "$cml" decrypt "$tmp/tree.so" "$tmp/keys.tree/client.key" "$tmp/body" >"$tmp/tree.out"
    cmp -s "$tmp/tree.out" "$tmp/tree.expected" || fail "curl predict: wrong rows"

    # regenerated keys: the stale key_id is not used, the new key goes up
    # (a model with bootstraps: a linear model's server key is empty, the
    # same bytes, and so the same id, for every client)
    cp -r "$tmp/keys.tree" "$tmp/keys.tree.old"
    "$cml" keygen "$tmp/tree.so" -o "$tmp/keys.tree" --force 2>/dev/null
    old=$(cat "$tmp/keys.tree/key_id")
    "$cml" client "$url" "$tmp/tree.so" --keys "$tmp/keys.tree" "$tmp/tree.csv" \
        >"$tmp/tree.out" 2>"$tmp/tree.err" || fail "client after keygen --force"
    cmp -s "$tmp/tree.out" "$tmp/tree.expected" || fail "tree after keygen --force"
    [ "$(cat "$tmp/keys.tree/key_id")" != "$old" ] || fail "key_id not renewed"
    [ "$(ls -A "$tmp/store/per_feature_tree" | wc -l)" = 2 ] || fail "the new key is not stored"
    stop_server

    # a server with another key store: 404 for the id, the client uploads again
    start_server "$tmp/logreg.so" --key-store "$tmp/store2"
    "$cml" client "$url" "$tmp/logreg.so" --keys "$tmp/keys.logreg" "$tmp/logreg.csv" -v \
        >"$tmp/logreg.out" 2>"$tmp/logreg.err" || fail "client on a new store: $(cat "$tmp/logreg.err")"
    cmp -s "$tmp/logreg.out" "$tmp/logreg.expected" || fail "logreg on a new store: wrong rows"
    grep -q 'does not know key' "$tmp/logreg.err" || fail "no re-upload: $(cat "$tmp/logreg.err")"
    [ "$(log_count 'POST /models/iris_logistic/predict 404')" = 1 ] || fail "expected one 404"
    # a model the server does not serve, and a different build of a served one
    "$cml" client "$url" "$tmp/softmax.so" --keys "$tmp/keys.softmax" "$tmp/softmax.csv" \
        >/dev/null 2>"$tmp/err" && fail "client on an unserved model succeeded"
    grep -q "HTTP 404: unknown model 'post_softmax'" "$tmp/err" || fail "unserved: $(cat "$tmp/err")"
    cp "$src/examples/iris_train.csv" "$tmp/"
    sed 's/quantize inputs 8/quantize inputs 7/' "$src/examples/logistic_regression.cml" >"$tmp/other.cml"
    compile "$tmp/other.cml" other
    "$cml" client "$url" "$tmp/other.so" --keys "$tmp/keys.other" "$tmp/logreg.csv" \
        >/dev/null 2>"$tmp/err" && fail "client with another build of the model succeeded"
    grep -q "the server's model 'iris_logistic' is not this model" "$tmp/err" ||
        fail "another build: $(cat "$tmp/err")"
    stop_server

    # two keys of one model through a cache of one: each evicts the other
    # and is loaded again from disk, answers stay right
    start_server "$tmp/tree.so" --key-store "$tmp/store" --key-cache 1
    for k in keys.tree keys.tree.old keys.tree; do
        "$cml" encrypt "$tmp/tree.so" "$tmp/$k/client.key" "$tmp/tree.csv" -o "$tmp/t.ct"
        expect 200 '' --data-binary @"$tmp/t.ct" \
            "$url/models/per_feature_tree/predict?key=$(cat "$tmp/$k/key_id")"
        "$cml" decrypt "$tmp/tree.so" "$tmp/$k/client.key" "$tmp/body" | cmp -s - "$tmp/tree.expected" ||
            fail "$k through a cache of one: wrong rows"
    done
    curl -s "$url/metrics" | grep -q '^cml_keys_cached 1$' || fail "metrics: cml_keys_cached"
    stop_server

    # SIGTERM while a request runs: it finishes with 200, then exit 0
    for i in 1 2 3 4; do cat "$tmp/tree.csv"; done >"$tmp/tree20.csv"
    "$cml" encrypt "$tmp/tree.so" "$tmp/keys.tree/client.key" "$tmp/tree20.csv" -o "$tmp/tree20.ct"
    start_server "$tmp/tree.so" --key-store "$tmp/store" --threads 1
    curl -s -o "$tmp/slow.ct" -w '%{http_code}' --data-binary @"$tmp/tree20.ct" \
        "$url/models/per_feature_tree/predict?key=$(cat "$tmp/keys.tree/key_id")" >"$tmp/slow.code" &
    curl_pid=$!
    i=0
    until curl -s "$url/metrics" | grep -q '^cml_jobs_running 1$'; do
        i=$((i + 1))
        [ $i -lt 300 ] || fail "the slow request never ran"
        sleep 0.05
    done
    stop_server
    wait "$curl_pid" || true
    [ "$(cat "$tmp/slow.code")" = 200 ] || fail "the request in flight at SIGTERM got $(cat "$tmp/slow.code")"
    "$cml" decrypt "$tmp/tree.so" "$tmp/keys.tree/client.key" "$tmp/slow.ct" >"$tmp/slow.out"
    for i in 1 2 3 4; do cat "$tmp/tree.expected"; done | cmp -s - "$tmp/slow.out" ||
        fail "the request in flight at SIGTERM: wrong rows"
    grep -q 'finishing 1 request in flight' "$tmp/srv.err" || fail "no drain line in the log"
    ;;

errors)
    compile "$src/examples/logistic_regression.cml" logreg
    compile "$src/tests/cli/post_softmax.cml" softmax
    head -n 10 "$src/examples/iris_test.csv" >"$tmp/logreg.csv"
    cp "$src/tests/cli/post_softmax.csv" "$tmp/softmax.csv"
    for m in logreg softmax; do
        "$cml" keygen "$tmp/$m.so" -o "$tmp/keys.$m" 2>/dev/null
        "$cml" encrypt "$tmp/$m.so" "$tmp/keys.$m/client.key" "$tmp/$m.csv" -o "$tmp/$m.ct"
    done
    # one job at a time and no queue, so that the 503 below is certain
    start_server "$tmp/logreg.so" "$tmp/softmax.so" --key-store "$tmp/store" --max-body 1M \
        --threads 1 --queue 0
    L=$url/models/iris_logistic S=$url/models/post_softmax
    idl=$(upload "$tmp/keys.logreg/server.key" iris_logistic)
    ids=$(upload "$tmp/keys.softmax/server.key" post_softmax)
    [ ${#idl} = 64 ] && [ ${#ids} = 64 ] || fail "key upload: '$idl' '$ids'"
    [ "$idl" = "$(b2sum -l 256 "$tmp/keys.logreg/server.key" | cut -d' ' -f1)" ] ||
        fail "the key id is not the BLAKE2b-256 of the key"
    expect 200 '' --data-binary @"$tmp/logreg.ct" "$L/predict?key=$idl"
    expect 200 "\"key_id\": \"$idl\"" --data-binary @"$tmp/keys.logreg/server.key" "$L/keys"

    # paths, models, methods
    expect 404 'no such path' "$url/nope"
    expect 404 'no such path' "$url/models/"
    expect 404 'no such path' "$L/bogus"
    expect 404 "unknown model 'nope'" "$url/models/nope/spec"
    expect 404 "unknown model 'nope'" --data-binary @"$tmp/logreg.ct" "$url/models/nope/predict?key=$idl"
    expect 405 'not allowed' "$L/predict?key=$idl"
    grep -qi '^Allow: POST' "$tmp/headers" || fail "405 without Allow: POST"
    expect 405 'not allowed' -X DELETE "$url/health"
    expect 405 'not allowed' --data-binary x "$url/models"
    expect 405 'not allowed' -X PUT --data-binary @"$tmp/logreg.ct" "$L/predict?key=$idl"

    # key ids
    expect 400 'missing ?key' --data-binary @"$tmp/logreg.ct" "$L/predict"
    expect 404 'unknown key id' --data-binary @"$tmp/logreg.ct" \
        "$L/predict?key=0000000000000000000000000000000000000000000000000000000000000000"
    expect 404 'unknown key id' --data-binary @"$tmp/logreg.ct" "$L/predict?key=../../../etc/passwd"
    expect 404 'unknown key id' --data-binary @"$tmp/logreg.ct" "$L/predict?key=%2e%2e%2fx"
    expect 400 'missing ?key' --data-binary @"$tmp/logreg.ct" "$L/predict?key=%00"
    expect 404 'unknown key id' --data-binary @"$tmp/softmax.ct" "$S/predict?key=$idl"

    # ciphertexts: another parameter set, truncated, corrupted, empty, garbage
    expect 400 'other parameters' --data-binary @"$tmp/logreg.ct" "$S/predict?key=$ids"
    size=$(wc -c <"$tmp/logreg.ct")
    head -c $((size - 100)) "$tmp/logreg.ct" >"$tmp/cut.ct"
    expect 400 'truncated' --data-binary @"$tmp/cut.ct" "$L/predict?key=$idl"
    head -c 50 "$tmp/logreg.ct" >"$tmp/short.ct"
    expect 400 'truncated' --data-binary @"$tmp/short.ct" "$L/predict?key=$idl"
    cp "$tmp/logreg.ct" "$tmp/flip.ct"
    flip_byte "$tmp/flip.ct" $((size / 2))
    expect 400 'checksum mismatch' --data-binary @"$tmp/flip.ct" "$L/predict?key=$idl"
    expect 400 'invalid ciphertexts' -H 'Content-Type: application/octet-stream' \
        --data-binary '' "$L/predict?key=$idl"
    expect 400 'not a CML file' --data-binary 'hello' "$L/predict?key=$idl"
    expect 400 'secret keys are never accepted' --data-binary @"$tmp/keys.logreg/client.key" \
        "$L/predict?key=$idl"

    # keys: a client key is refused by name and never stored; foreign,
    # truncated, corrupted and empty keys are refused
    before=$(ls "$tmp/store/iris_logistic" | wc -l)
    expect 400 'secret keys are never accepted' --data-binary @"$tmp/keys.logreg/client.key" "$L/keys"
    [ "$(ls -A "$tmp/store/iris_logistic" | wc -l)" = "$before" ] || fail "something was stored"
    expect 400 'other parameters than model' --data-binary @"$tmp/keys.softmax/server.key" "$L/keys"
    head -c 100 "$tmp/keys.logreg/server.key" >"$tmp/cut.key"
    expect 400 'truncated' --data-binary @"$tmp/cut.key" "$L/keys"
    cp "$tmp/keys.logreg/server.key" "$tmp/flip.key"
    flip_byte "$tmp/flip.key" 100
    expect 400 'checksum mismatch' --data-binary @"$tmp/flip.key" "$L/keys"
    expect 400 'empty body' -H 'Content-Type: application/octet-stream' --data-binary '' "$L/keys"
    expect 400 'ciphertext, not a server key\|expected a server key\|not a valid server key' \
        --data-binary @"$tmp/logreg.ct" "$L/keys"

    # bodies over --max-body (1 MiB): refused from Content-Length, and
    # chunked (no Content-Length) after reading
    head -c 1500000 /dev/zero >"$tmp/big"
    expect 413 'exceeds the limit' --data-binary @"$tmp/big" "$L/predict?key=$idl"
    expect 413 'exceeds the limit' -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big" \
        "$L/predict?key=$idl"
    # a chunked body within the limit is fine
    expect 200 '' -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/logreg.ct" "$L/predict?key=$idl"

    # a full queue: a slow upload holds the only job slot; 503 + Retry-After;
    # then its client goes away, which frees the slot
    head -c 900000 /dev/zero >"$tmp/slow"
    curl -s -o /dev/null --limit-rate 100K --data-binary @"$tmp/slow" "$L/predict?key=$idl" &
    slow_pid=$!
    i=0
    until curl -s "$url/metrics" | grep -q '^cml_jobs_queued 1$'; do
        i=$((i + 1))
        [ $i -lt 200 ] || fail "the slow upload was never admitted"
        sleep 0.05
    done
    expect 503 'busy' --data-binary @"$tmp/logreg.ct" "$L/predict?key=$idl"
    grep -qi '^Retry-After: 1' "$tmp/headers" || fail "503 without Retry-After: 1"
    kill "$slow_pid"
    wait "$slow_pid" 2>/dev/null || true
    i=0
    until curl -s "$url/metrics" | grep -q '^cml_jobs_queued 0$'; do
        i=$((i + 1))
        [ $i -lt 200 ] || fail "the slot of a client that went away was not freed"
        sleep 0.05
    done
    expect 200 '' --data-binary @"$tmp/logreg.ct" "$L/predict?key=$idl"
    "$cml" decrypt "$tmp/logreg.so" "$tmp/keys.logreg/client.key" "$tmp/body" >"$tmp/got"
    "$cml" predict "$tmp/logreg.so" "$tmp/logreg.csv" --simulate | cmp -s - "$tmp/got" ||
        fail "predict after the errors: wrong rows"

    # raw HTTP garbage is the library's to refuse; the server lives on
    printf 'BLAH\r\n\r\n' | curl -s --max-time 2 "telnet://${url#http://}" >/dev/null 2>&1 || true
    alive
    curl -s "$url/metrics" >"$tmp/metrics"
    grep -q '^cml_http_requests_total{endpoint="predict",status="400"} [1-9]' "$tmp/metrics" ||
        fail "metrics: no predict 400"
    grep -q '^cml_http_requests_total{endpoint="predict",status="503"} 1$' "$tmp/metrics" ||
        fail "metrics: no predict 503"
    # one log line per request: method, path, status, bytes, time
    grep -q '^cml serve: POST /models/iris_logistic/keys 400 [0-9]* B [0-9.]* ms$' "$tmp/srv.err" ||
        fail "log lines"
    stop_server
    ;;

load)
    out=$(sh "$src/bench/serve_load.sh" "$(dirname "$(dirname "$cml")")" --requests 80 \
        --clients 4 --rows 3) || fail "serve_load.sh failed: $out"
    echo "$out"
    echo "$out" | grep -q '^serve_load.requests 80 requests$' || fail "not 80 requests"
    echo "$out" | grep -q '^serve_load.failures 0 requests$' || fail "failures"
    echo "$out" | grep -q '^serve_load.latency_p99 [0-9.]* ms$' || fail "no p99"
    ;;

example)
    compile "$src/examples/logistic_regression.cml" logreg
    start_server "$tmp/logreg.so" --key-store "$tmp/store"
    got=$("$hello" "$url" "$tmp/logreg.so" 6.1 2.8 4.7 1.2) || fail "client_hello failed"
    echo "6.1,2.8,4.7,1.2" >"$tmp/x.csv"
    want=$("$cml" predict "$tmp/logreg.so" "$tmp/x.csv" --simulate)
    [ "$got" = "$want" ] || fail "client_hello printed '$got', cml predict --simulate '$want'"
    stop_server
    # the OpenAPI description is valid (when a validator is installed)
    if python3 -c 'import openapi_spec_validator, yaml' 2>/dev/null; then
        python3 -c 'import sys, yaml; from openapi_spec_validator import validate_spec
validate_spec(yaml.safe_load(open(sys.argv[1])))' "$src/docs/openapi.yaml" ||
            fail "docs/openapi.yaml is not valid OpenAPI"
    fi
    ;;

*) fail "unknown mode $mode" ;;
esac
