#!/bin/sh
# run-error.sh CMLC FILE.cml — error test driver: the file must fail to
# compile with exit status 1 and every `// ERROR: LINE:COL: message` line of
# the file must appear in stderr as `FILE:LINE:COL: error: message`.
# `// ARGS:` gives extra cmlc arguments (default --emit-ir).
set -eu
cmlc=$1 file=$2
args=$(sed -n 's|^// ARGS: *||p' "$file" | head -n 1)
[ -n "$args" ] || args=--emit-ir
cd "$(dirname "$file")"
name=$(basename "$file")
err=$(mktemp)
trap 'rm -f "$err"' EXIT
status=0
# shellcheck disable=SC2086
"$cmlc" "$name" $args >/dev/null 2>"$err" || status=$?
if [ "$status" -ne 1 ]; then
    echo "run-error: expected exit status 1 from cmlc $name, got $status" >&2
    cat "$err" >&2
    exit 1
fi
n=0
sed -n 's|^.*// ERROR: *||p' "$name" >"$err.want"
while IFS= read -r want; do
    n=$((n + 1))
    loc=${want%%: *}
    msg=${want#*: }
    if ! grep -qF -- "$name:$loc: error: $msg" "$err"; then
        echo "run-error: missing diagnostic '$name:$loc: error: $msg'; got:" >&2
        cat "$err" >&2
        rm -f "$err.want"
        exit 1
    fi
done <"$err.want"
rm -f "$err.want"
if [ "$n" -eq 0 ]; then
    echo "run-error: $name has no // ERROR: line" >&2
    exit 1
fi
