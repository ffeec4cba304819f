#!/bin/sh
# tests/bench/run.sh — issue 2's benchmark: the cost of SigV4 on HeadBucket.
#
#   BUILD=build sh tests/bench/run.sh        (make bench)
#
# Starts build/tarn (2 workers) on a free 127.0.0.1 port with a temporary
# data dir, creates a bucket, then runs headbucket_load for 10 s at 32
# keep-alive connections twice: anon (unsigned HEAD of a missing bucket,
# 404) and signed (SigV4 HEAD of the bucket, 200). Prints both lines, the
# ratio signed/anon and the auth cost = 1 - ratio (aim: under 15%).
# Env: BENCH_SECONDS (10), BENCH_CONNS (32). Stops only the server it started.
# Exit 0 when both runs completed without errors, 1 otherwise.

BUILD=${BUILD:-build}
TARN=$BUILD/tarn
LOAD=$BUILD/bench/headbucket_load
SECONDS_=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-32}
AK=BENCHACCESSKEY01
SK=bench-secret-key-0123456789
BUCKET=bench-bucket
AIM=15

for f in "$TARN" "$LOAD"; do
    [ -x "$f" ] || { echo "bench: $f is not built" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tarn-bench.XXXXXX") || exit 1
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$TARN" server --listen "127.0.0.1:$port" --data "$tmp/data" --workers 2 \
    --access-key "$AK" --secret-key "$SK" --log-level warn \
    >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!
i=0
until grep -q "listening on http://" "$tmp/stdout" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || [ $i -ge 200 ]; then
        echo "bench: tarn did not start" >&2
        tail -n 20 "$tmp/stderr" >&2
        exit 1
    fi
    sleep 0.1
    i=$((i + 1))
done

empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
code=$(curl -sS -o "$tmp/create.out" -w '%{http_code}' --max-time 20 -X PUT \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
    -H "x-amz-content-sha256: $empty" "http://127.0.0.1:$port/$BUCKET")
if [ "$code" != 200 ]; then
    echo "bench: CreateBucket answered $code" >&2
    cat "$tmp/create.out" >&2
    exit 1
fi

echo "HeadBucket at $CONNS keep-alive connections, ${SECONDS_} s each, tarn --workers 2:"
anon=$(timeout $((SECONDS_ + 30)) "$LOAD" --host 127.0.0.1 --port "$port" --conns "$CONNS" \
    --seconds "$SECONDS_" --mode anon --bucket "no-such-$BUCKET") || { echo "bench: anon run failed" >&2; exit 1; }
echo "$anon"
signed=$(timeout $((SECONDS_ + 30)) "$LOAD" --host 127.0.0.1 --port "$port" --conns "$CONNS" \
    --seconds "$SECONDS_" --mode signed --bucket "$BUCKET" --access-key "$AK" \
    --secret-key "$SK") || { echo "bench: signed run failed" >&2; exit 1; }
echo "$signed"

field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ra=$(field "$anon" rps); rs=$(field "$signed" rps)
ea=$(field "$anon" errors); es=$(field "$signed" errors)
awk -v a="$ra" -v s="$rs" -v aim="$AIM" 'BEGIN {
    if (a <= 0) { print "ratio signed/anon: n/a (anon rps is 0)"; exit }
    r = s / a; cost = (1 - r) * 100
    printf "ratio signed/anon = %.3f  auth cost = %.1f%%  (aim: < %d%%: %s)\n",
        r, cost, aim, (cost < aim ? "met" : "NOT met")
}'
status=0
if [ "$ea" != 0 ] || [ "$es" != 0 ]; then
    echo "bench: unexpected statuses or lost connections (anon errors=$ea, signed errors=$es)" >&2
    status=1
fi
kill -TERM "$pid" 2>/dev/null
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$pid" 2>/dev/null; then
    echo "bench: tarn did not stop within 10 s of SIGTERM" >&2
    status=1
else
    wait "$pid"
    rc=$?
    [ $rc -eq 0 ] || { echo "bench: tarn exited with status $rc" >&2; status=1; }
fi
pid=""
sh "$(dirname "$0")/objects.sh" || status=1 # issue 3: PUT/GET objects
sh "$(dirname "$0")/multipart.sh" || status=1 # issue 4: multipart upload and its GET
exit $status
