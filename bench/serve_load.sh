#!/bin/sh
# bench/serve_load.sh [BUILD_DIR] [options] — a bounded load test of
# `cml serve` (docs/deployment.md): compiles a model, starts the server on a
# free port with a temporary key store, makes keys and uploads the server
# key, encrypts ROWS samples once, then sends REQUESTS predict requests of
# those ciphertexts from CLIENTS concurrent client processes (curl, one
# request at a time each), and stops. Prints one `name value unit` line per
# figure: requests, failures (any answer but 200, and 503 after retries),
# 503s (the server's full queue; retried after Retry-After), latency
# percentiles of the successful requests (curl's time_total: connection,
# upload, queueing, evaluation, download), requests and rows per second over
# the whole run, and the server's own predict latency quantiles (/metrics).
# Each client's first and last answers are decrypted and checked against
# `cml predict --simulate`. Exit status 1 if any request failed.
#
#   --requests N   predict requests in all (default 300)
#   --clients C    concurrent client processes (default 4)
#   --rows R       samples per request (default 5)
#   --model F.cml  the model (default examples/logistic_regression.cml)
#   --input F.csv  its samples (default examples/iris_test.csv)
#   --threads T    the server's --threads (default 2)
#   --queue Q      the server's --queue (default 16; small values provoke 503s)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=build
case ${1:-} in -*|"") ;; *) build=$1; shift ;; esac
requests=300 clients=4 rows=5 threads=2 queue=16
model=$src/examples/logistic_regression.cml input=$src/examples/iris_test.csv
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { echo "serve_load: $1 needs a value" >&2; exit 2; }
    case $1 in
    --requests) requests=$2 ;;
    --clients) clients=$2 ;;
    --rows) rows=$2 ;;
    --model) model=$2 ;;
    --input) input=$2 ;;
    --threads) threads=$2 ;;
    --queue) queue=$2 ;;
    *) echo "serve_load: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
cml=$build/tools/cml cmlc=$build/tools/cmlc
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "serve_load: $*" >&2; exit 1; }

"$cmlc" "$model" -o "$tmp/m.so"
name=$("$cml" info "$tmp/m.so" | sed -n "s/.*: [a-z]* '\([^']*\)'.*/\1/p" | head -n 1)
head -n "$rows" "$input" >"$tmp/x.csv"
"$cml" keygen "$tmp/m.so" -o "$tmp/keys" 2>/dev/null
"$cml" encrypt "$tmp/m.so" "$tmp/keys/client.key" "$tmp/x.csv" -o "$tmp/x.ct"
"$cml" predict "$tmp/m.so" "$tmp/x.csv" --simulate >"$tmp/expected"

"$cml" serve "$tmp/m.so" --key-store "$tmp/store" --port 0 --threads "$threads" \
    --queue "$queue" >"$tmp/srv.out" 2>"$tmp/srv.err" &
pid=$!
i=0
until grep -q '^listening on ' "$tmp/srv.out"; do
    kill -0 "$pid" 2>/dev/null || die "the server did not start: $(cat "$tmp/srv.err")"
    i=$((i + 1))
    [ $i -lt 200 ] || die "the server did not start in 20 s"
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$tmp/srv.out")
id=$(curl -sf --data-binary @"$tmp/keys/server.key" "$url/models/$name/keys" |
     sed -n 's/.*"key_id": *"\([0-9a-f]*\)".*/\1/p')
[ -n "$id" ] || die "key upload failed"

# one client process: its share of the requests, one line per answer
# ("CODE SECONDS") in log.K; a 503 waits Retry-After (1 s) and tries again
client() {
    n=$1 k=$2
    j=0
    : >"$tmp/log.$k"
    while [ "$j" -lt "$n" ]; do
        r=$(curl -s -o "$tmp/body.$k" -w '%{http_code} %{time_total}' --data-binary @"$tmp/x.ct" \
            "$url/models/$name/predict?key=$id") || r="000 0"
        echo "$r" >>"$tmp/log.$k"
        case $r in
        503*) sleep 1; continue ;;
        200*) [ -s "$tmp/first.$k" ] || cp "$tmp/body.$k" "$tmp/first.$k" ;;
        esac
        j=$((j + 1))
    done
}

t0=$(date +%s%N)
k=0 clients_pids=
while [ "$k" -lt "$clients" ]; do
    share=$((requests / clients + (k < requests % clients ? 1 : 0)))
    client "$share" "$k" &
    clients_pids="$clients_pids $!"
    k=$((k + 1))
done
for p in $clients_pids; do wait "$p"; done
t1=$(date +%s%N)

# every client's first and last answers decrypt to the clear twin's rows
for f in "$tmp"/first.* "$tmp"/body.*; do
    "$cml" decrypt "$tmp/m.so" "$tmp/keys/client.key" "$f" >"$tmp/got" ||
        die "an answer does not decrypt"
    cmp -s "$tmp/got" "$tmp/expected" || die "decrypted answers differ from cml predict --simulate"
done

metrics=$(curl -s "$url/metrics")
kill -TERM "$pid"
wait "$pid" || die "the server exited with status $? after SIGTERM"
pid=

cat "$tmp"/log.* >"$tmp/all"
ok=$(grep -c '^200 ' "$tmp/all" || true)
busy=$(grep -c '^503 ' "$tmp/all" || true)
failed=$(grep -vc -e '^200 ' -e '^503 ' "$tmp/all" || true)
grep '^200 ' "$tmp/all" | awk '{ printf "%.3f\n", $2 * 1000 }' | sort -n >"$tmp/lat"
pct() { awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
        k = int(p * NR + 0.999999); if (k < 1) k = 1; printf "%.1f", v[k] }' "$tmp/lat"; }
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
echo "serve_load.requests $ok requests"
echo "serve_load.failures $failed requests"
echo "serve_load.busy_503 $busy answers"
echo "serve_load.clients $clients processes"
echo "serve_load.rows_per_request $rows rows"
echo "serve_load.latency_p50 $(pct 0.5) ms"
echo "serve_load.latency_p90 $(pct 0.9) ms"
echo "serve_load.latency_p99 $(pct 0.99) ms"
echo "serve_load.wall $secs s"
echo "serve_load.throughput $(awk -v n="$ok" -v s="$secs" 'BEGIN { printf "%.1f", n / s }') requests/s"
echo "serve_load.rows_per_second $(awk -v n="$ok" -v r="$rows" -v s="$secs" 'BEGIN { printf "%.1f", n * r / s }') rows/s"
for q in 0.5 0.9 0.99; do
    v=$(echo "$metrics" | sed -n "s/^cml_predict_latency_seconds{quantile=\"$q\"} //p")
    echo "serve_load.server_latency_q$q $(awk -v v="$v" 'BEGIN { printf "%.1f", v * 1000 }') ms"
done
[ "$failed" = 0 ] && [ "$ok" = "$requests" ] || die "$failed failed requests"
