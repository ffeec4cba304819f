#!/bin/sh
# tests/fuzz/run.sh — run tarn's libFuzzer targets, each for a bounded
# time, and print one line per target: total execs, execs/s, coverage.
#
#   FUZZ_BUILD=build/fuzz FUZZ_SECONDS=60 sh tests/fuzz/run.sh [target...]
#
# `make fuzz` builds $FUZZ_BUILD/fuzzers/fuzz_<target> and calls this. Each
# target starts from tests/fuzz/corpus/<target>/ (read only) and keeps what
# it finds in $FUZZ_BUILD/corpus/<target>/, so a second run goes on where
# the first stopped. A crash leaves its input in
# $FUZZ_BUILD/crashes/<target>/ and the report in $FUZZ_BUILD/logs/; this
# script prints the report's head. Exit 1 if any target crashed (or did not
# run), else 0. docs/fuzzing.md says what each target covers.

FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
targets=$*
[ -n "$targets" ] || targets=$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')

# Longest input worth trying: a few KiB holds any request head, form or
# record the targets parse; bigger inputs only slow the search down.
max_len() {
    case $1 in
    auth | chunked | post | xml | shard) echo 4096 ;;
    *) echo 1024 ;;
    esac
}

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
printf '%-8s %12s %9s %7s  %s\n' target execs execs/s cov result
for t in $targets; do
    bin=$FUZZ_BUILD/fuzzers/fuzz_$t
    work=$FUZZ_BUILD/corpus/$t
    art=$FUZZ_BUILD/crashes/$t
    log=$FUZZ_BUILD/logs/$t.log
    if [ ! -x "$bin" ]; then
        echo "$t: no fuzzer binary $bin (run make fuzz)"
        failed=1
        continue
    fi
    mkdir -p "$work" "$art" "$FUZZ_BUILD/logs"
    dict=
    [ -f "tests/fuzz/$t.dict" ] && dict=-dict=tests/fuzz/$t.dict
    "$bin" -max_total_time="$FUZZ_SECONDS" -max_len="$(max_len "$t")" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" $dict \
        "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    if [ $rc -eq 0 ]; then
        result=ok
    else
        result="CRASH (exit $rc), see $log"
        failed=1
    fi
    printf '%-8s %12s %9s %7s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$result"
    if [ $rc -ne 0 ]; then
        grep -m 1 -A 30 -e '^==[0-9]*==ERROR' -e 'runtime error' -e 'deadly signal' "$log" |
            sed 's/^/    /'
        ls "$art" | sed "s|^|    artifact: $art/|"
    fi
done
exit $failed
