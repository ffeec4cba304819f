#!/bin/sh
# tests/bench/multipart.sh — issue 4's benchmark: a 1 GiB multipart upload
# (64 parts of 16 MiB, 4 in flight) and its GET, beside the ceilings of
# issue 3's benchmark measured in the same run; and how long
# CompleteMultipartUpload takes.
#
#   BUILD=build sh tests/bench/multipart.sh        (make bench runs it after objects.sh)
#
# One temporary directory (under $TMPDIR, so on one file system) holds tarn's
# data, nginx's file and the ceiling's folders.
#  1. tarn (--workers 2, 4+2 on six folders), tests/bench/multipart_load over 4
#     keep-alive connections (SigV4, UNSIGNED-PAYLOAD, bodies from one
#     pre-filled buffer): BENCH_MP_REPS times (each a new key) Create, 64 ×
#     UploadPart with 4 in flight, Complete with the returned ETags; the first
#     object is then read back whole and compared byte for byte (not timed);
#     then BENCH_MP_REPS times a GET of the whole object on 1 connection and
#     ranged GETs of 16 MiB on 4 connections (as the SDKs' transfer managers
#     read). Last, a real Complete of 200 parts of 5 MiB (1000 MiB uploaded;
#     100 parts when under 6 GiB are free).
#  2. GET ceiling: nginx (2 workers, sendfile) serving one 1 GiB file from the
#     same file system — the same object size — read the same two ways by the
#     same tool without auth; for comparison only, the same with directio
#     (O_DIRECT reads, as tarn does).
#  3. PUT ceiling: put_ceiling --size 16M --threads 4 (each "put" is one part:
#     4 MiB into a new file in each of six folders, fdatasync + folder fsync)
#     for BENCH_MP_CEIL_SECONDS, buffered and O_DIRECT; the faster is the
#     ceiling.
#  4. The 10,000-part Complete: parts must be >= 5 MiB, so 10,000 real parts
#     would be 50 GB; the figure is the storage unit test's
#     (tests/unit/storage/test_multipart: 10,000 part records listed, the
#     500 KB manifest written and synced through the ring, the completion
#     committed, no HTTP), built here when missing.
#  5. A report on stdout, also written into docs/benchmarks.md between the
#     "multipart-bench" markers (BENCH_DOC=path to write elsewhere, BENCH_DOC=
#     to skip).
# Env: BENCH_MP_REPS (3), BENCH_MP_CEIL_SECONDS (5), BENCH_DOC.
# Each load run is limited to 120 s; after one runs out of time (its stderr
# says which requests were still waiting), the others against that server are
# skipped. Kills only the processes it started. Exit 0 when every phase ran without
# errors, 1 otherwise (figures are still printed and written).

BUILD=${BUILD:-build}
TARN=$BUILD/tarn
LOAD=$BUILD/bench/multipart_load
CEIL=$BUILD/bench/put_ceiling
UNIT=$BUILD/tests/unit/storage/test_multipart
REPS=${BENCH_MP_REPS:-3}
CSECS=${BENCH_MP_CEIL_SECONDS:-5}
DOC=${BENCH_DOC-docs/benchmarks.md}
AK=BENCHACCESSKEY04
SK=bench-secret-key-multipart-04
BUCKET=bench-multipart
SIZE=1G
PART=16M
CONNS=4
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)

for f in "$TARN" "$LOAD" "$CEIL"; do
    [ -x "$f" ] || { echo "multipart bench: $f is not built" >&2; exit 1; }
done
command -v nginx >/dev/null || { echo "multipart bench: nginx is not installed" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tarn-multipart-bench.XXXXXX") || exit 1
chmod 755 "$tmp" # nginx's workers (nobody) read the file below
res=$tmp/results
DEV=$(basename "$(df -P "$tmp" | awk 'NR == 2 { print $1 }')")
grep -q " $DEV " /proc/diskstats || DEV="" # no disk rates when not a plain device
mkdir -p "$res"
tpid=""
npid=""
hung=""
status=0
BENCH_NAME=multipart
BENCH_TITLE="Multipart (issue 4)"
. "$(dirname "$0")/lib.sh"

trap cleanup EXIT
trap 'exit 1' INT TERM

free_gib() { df -Pk "$tmp" | awk 'NR == 2 { print int($4 / 1048576) }'; }
task_waits() { # PID...: "tid ns" per thread, the time it spent runnable but waiting for a core
    for p in "$@"; do
        for t in /proc/"$p"/task/*; do
            w=$(cut -d' ' -f2 "$t/schedstat" 2>/dev/null) && echo "${t##*/} $w"
        done
    done
}
wait_pct() { # BEFORE AFTER SECONDS: the threads' waits summed, % of the elapsed time
    # (threads that ended in between are left out, threads that began count in full)
    printf '%s\n--\n%s\n' "$1" "$2" | awk -v el="$3" '
        $0 == "--" { after = 1; next }
        !after { w0[$1] = $2; next }
        { d += $2 - w0[$1] }
        END { printf "%.0f", (el > 0 ? d / 1e7 / el : 0) }'
}

disk_delta() { # BEFORE AFTER SECONDS: rates as fields
    awk -v a="$1" -v b="$2" -v el="$3" 'BEGIN { n = split(a, x, " "); split(b, y, " ")
        if (n < 6 || el <= 0) exit
        printf " disk_r_mib_s=%.0f disk_w_mib_s=%.0f disk_flush_s=%.0f disk_util=%.0f",
            (y[2] - x[2]) / 2048 / el, (y[4] - x[4]) / 2048 / el, (y[6] - x[6]) / el,
            (y[5] - x[5]) / 10 / el }'
}

# ---- tarn ----

start_tarn() { # DATA_DIR: start tarn there on a free port (tpid, port)
    hung=""
    port=$(free_port)
    "$TARN" server --listen "127.0.0.1:$port" --data "$1" --workers 2 \
        --access-key "$AK" --secret-key "$SK" --log-level warn \
        >"$1.stdout" 2>"$1.stderr" &
    tpid=$!
    i=0
    until grep -q "listening on http://" "$1.stdout" 2>/dev/null; do
        if ! kill -0 "$tpid" 2>/dev/null || [ $i -ge 200 ]; then
            echo "multipart bench: tarn did not start" >&2
            tail -n 20 "$1.stderr" >&2
            exit 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    code=$(curl -sS -o "$tmp/curl.out" -w '%{http_code}' --max-time 60 -X PUT \
        --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
        -H "x-amz-content-sha256: $EMPTY" "http://127.0.0.1:$port/$BUCKET")
    if [ "$code" != 200 ]; then
        echo "multipart bench: CreateBucket answered $code" >&2
        cat "$tmp/curl.out" >&2
        exit 1
    fi
}

stop_tarn() { # DATA_DIR
    if ! stop_pid "$tpid"; then
        echo "multipart bench: tarn exited badly; its stderr:" >&2
        tail -n 20 "$1.stderr" >&2
        status=1
    fi
    tpid=""
    # tarn logs at warn: anything it logged during the run is worth a look
    if [ -s "$1.stderr" ]; then
        grep -c . "$1.stderr" >"$res/tarn-log-lines"
        head -n 5 "$1.stderr" >"$res/tarn-log"
        echo "multipart bench: tarn logged $(cat "$res/tarn-log-lines") line(s) at warn or above; the first:" >&2
        cat "$res/tarn-log" >&2
    fi
}

# load NAME PIDS_FUNCTION ARGS...: run multipart_load, keep its line plus the
# server's and the client's CPU share and the disk's rates in $res/NAME
# (after one run timed out, the others against the same server are skipped)
load() {
    name=$1 pids=$2
    shift 2
    if [ -n "$hung" ]; then
        echo "  $name: skipped ($hung timed out)"
        echo "$name: skipped ($hung timed out)" >>"$res/failures"
        return
    fi
    t0=$(ticks $($pids)) d0=$(disk) k0=$(task_ticks $($pids)) m0=$(machine) w0=$(task_waits $($pids))
    line=$(timeout 150 "$LOAD" --host 127.0.0.1 --port "$port" --seconds 120 "$@" 2>"$res/$name.err")
    rc=$?
    if [ $rc -eq 124 ] || grep -q "out of time" "$res/$name.err"; then hung=$name; fi
    t1=$(ticks $($pids)) d1=$(disk) k1=$(task_ticks $($pids)) m1=$(machine) w1=$(task_waits $($pids))
    el=$(field "$line" seconds)
    cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v el="$el" -v n="$NCPU" -v c="$(field "$line" cpu_s)" \
        'BEGIN { if (el <= 0) el = 1; split(a, x, " "); split(b, y, " "); f = 100 / hz / el / n
            printf "srv_cpu=%.0f srv_usr=%.0f srv_sys=%.0f cli_cpu=%.0f", (y[1] + y[2] - x[1] - x[2]) * f,
                (y[1] - x[1]) * f, (y[2] - x[2]) * f, c / el / n * 100 }')
    cpu="$cpu srv_top_thread=$(busiest "$k0" "$k1" "$el") machine_cpu=$(busy_pct "$m0" "$m1" "$el")"
    cpu="$cpu srv_wait=$(wait_pct "$w0" "$w1" "$el")"
    echo "$line $cpu$(disk_delta "$d0" "$d1" "$el")" >"$res/$name"
    echo "  $name: $(cat "$res/$name")"
    if [ $rc -ne 0 ] || [ "$(field "$line" errors)" != 0 ] || [ -z "$line" ]; then
        echo "multipart bench: $name failed (exit $rc):" >&2
        cat "$res/$name.err" >&2
        echo "$name: $(head -c 400 "$res/$name.err")" >>"$res/failures"
        status=1
    fi
}


tarn_phase() {
    echo "tarn (--workers 2, 4+2 on six folders): $SIZE as ${PART} parts, $CONNS in flight, $REPS times:"
    start_tarn "$tmp/data"
    for r in $(seq 1 "$REPS"); do
        load "up-$r" tarn_pids --op upload --key "mp-$r" --size $SIZE --part-size $PART \
            --conns $CONNS $(signed)
    done
    load "verify" tarn_pids --op get --key mp-1 --size $SIZE --part-size $PART --conns 1 \
        --verify 1 $(signed) >/dev/null
    echo "  verify: mp-1 read back byte-identical: $(field "$(cat "$res/verify")" verified)"
    for r in $(seq 1 "$REPS"); do
        load "get-$r" tarn_pids --op get --key "mp-$r" --size $SIZE --conns 1 $(signed)
        load "rget-$r" tarn_pids --op get --key "mp-$r" --size $SIZE --range $PART \
            --conns $CONNS $(signed)
    done
    if [ "$(free_gib)" -ge 6 ]; then np=200; else np=100; fi
    load "up-small" tarn_pids --op upload --key mp-small --size "$((np * 5))M" --part-size 5M \
        --conns $CONNS $(signed)
    stop_tarn "$tmp/data"
    rm -rf "$tmp/data"
}

# ---- nginx ----


start_nginx() { # sets port (sendfile from the page cache) and dport (O_DIRECT)
    hung=""
    port=$(free_port)
    dport=$(free_port)
    while [ "$dport" = "$port" ]; do dport=$(free_port); done
    nginx_conf "$port" "$dport"
    nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" &
    npid=$!
    i=0
    until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
        if ! kill -0 "$npid" 2>/dev/null || [ $i -ge 100 ]; then
            echo "multipart bench: nginx did not start" >&2
            cat "$tmp/nginx/logs/error.log" >&2
            exit 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
}

nginx_phase() {
    echo "nginx (2 workers, sendfile), one $SIZE file on the same file system, $REPS times:"
    mkdir -p "$tmp/www/$BUCKET"
    head -c 1073741824 /dev/urandom >"$tmp/www/$BUCKET/mp"
    start_nginx
    for r in $(seq 1 "$REPS"); do
        load "nginx-$r" nginx_pids --op get --auth none --key mp --size $SIZE --conns 1 \
            --bucket "$BUCKET"
        load "rnginx-$r" nginx_pids --op get --auth none --key mp --size $SIZE --range $PART \
            --conns $CONNS --bucket "$BUCKET"
    done
    echo "nginx with directio (O_DIRECT reads, aio threads; for comparison, not the ceiling):"
    sport=$port port=$dport
    for r in $(seq 1 "$REPS"); do
        load "ndio-$r" nginx_pids --op get --auth none --key mp --size $SIZE --conns 1 \
            --bucket "$BUCKET"
        load "rndio-$r" nginx_pids --op get --auth none --key mp --size $SIZE --range $PART \
            --conns $CONNS --bucket "$BUCKET"
    done
    port=$sport
    stop_pid "$npid" || status=1
    npid=""
    rm -rf "$tmp/www"
}

# ---- PUT ceiling ----

ceiling_phase() {
    echo "PUT ceiling (put_ceiling --size $PART --threads $CONNS: one part's 1.5x bytes into six folders, fdatasync + folder fsync), ${CSECS} s per mode:"
    for mode in buffered direct; do
        d0=$(disk) m0=$(machine)
        line=$("$CEIL" --dir "$tmp/ceil" --size $PART --threads $CONNS --seconds "$CSECS" \
            --mode "$mode" 2>"$res/ceil.err") ||
            { cat "$res/ceil.err" >&2; echo "ceil-$mode: $(head -c 400 "$res/ceil.err")" >>"$res/failures"; status=1; }
        el=$(field "$line" seconds)
        echo "$line machine_cpu=$(busy_pct "$m0" "$(machine)" "$el")$(disk_delta "$d0" "$(disk)" "$el")" >"$res/ceil-$mode"
        echo "  ceil-$mode: $(cat "$res/ceil-$mode")"
    done
    rm -rf "$tmp/ceil"
}

# ---- the 10,000-part Complete (storage unit test) ----

unit_phase() {
    echo "10,000-part Complete (storage unit test $UNIT):"
    if [ ! -x "$UNIT" ]; then
        make --no-print-directory BUILD="$BUILD" "$UNIT" >"$res/unit.build" 2>&1 ||
            { echo "  not built: $(tail -n 3 "$res/unit.build")" | tee "$res/unit-skip"; return; }
    fi
    timeout 300 "$UNIT" >"$res/unit.out" 2>&1
    rc=$?
    c=$(sed -n 's/^complete of 10000 parts (list + manifest + commit): \([0-9.]*\) ms$/\1/p' "$res/unit.out")
    o=$(sed -n 's/^open of the 10000-part version: \([0-9.]*\) ms$/\1/p' "$res/unit.out")
    echo "complete_ms=${c:-none} open_ms=${o:-none} rc=$rc" >"$res/unit"
    echo "  $(cat "$res/unit")"
    if [ $rc -ne 0 ] || [ -z "$c" ]; then
        echo "multipart bench: $UNIT failed (exit $rc):" >&2
        tail -n 20 "$res/unit.out" >&2
        echo "unit: exit $rc" >>"$res/failures"
        status=1
    fi
}

# ---- report ----

med() { # PREFIX FIELD: the median of FIELD over PREFIX-1..REPS (mean of the middle two when even)
    for r in $(seq 1 "$REPS"); do get "$1-$r" "$2"; done | grep . | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
            else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range_of() { # PREFIX FIELD: "min–max" over the repetitions
    for r in $(seq 1 "$REPS"); do get "$1-$r" "$2"; done | grep . | sort -g |
        awk '{ v[NR] = $1 } END { if (NR > 1) printf "%s–%s", v[1], v[NR]; else if (NR) print v[1] }'
}
best_ceiling() { # "mib_s mode" of the faster mode
    b=$(get ceil-buffered mib_s) d=$(get ceil-direct mib_s)
    awk -v b="${b:-0}" -v d="${d:-0}" 'BEGIN { if (d >= b) print d, "O_DIRECT"; else print b, "buffered" }'
}
CEPH_PUT=310 CEPH_GET=620 # issue 3: Ceph RGW at 64 MiB objects, MiB/s

table_main() {
    set -- $(best_ceiling)
    cl=$1 cm=$2
    up=$(med up mib_s) g=$(med get mib_s) rg=$(med rget mib_s)
    ng=$(med nginx mib_s) rng=$(med rnginx mib_s) nd=$(med ndio mib_s) rnd=$(med rndio mib_s)
    echo "| $SIZE, medians of $REPS | tarn MiB/s (range) | ceiling MiB/s | tarn / ceiling | aim | nginx O_DIRECT MiB/s | tarn / nginx O_DIRECT | Ceph RGW MiB/s ¹ | tarn / RGW |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    echo "| multipart PUT, 64 × 16 MiB, 4 in flight (Create → Complete) | $up ($(range_of up mib_s)) | $cl (put_ceiling $cm; buffered $(get ceil-buffered mib_s), O_DIRECT $(get ceil-direct mib_s)) | $(ratio "$up" "$cl") | ≥ 0.7 | — | — | $CEPH_PUT | $(ratio "$up" $CEPH_PUT)× |"
    echo "| GET whole object, 1 connection | $g ($(range_of get mib_s)) | $ng (nginx) | $(ratio "$g" "$ng") | ≥ 0.8 ² | $nd | $(ratio "$g" "$nd") | $CEPH_GET | $(ratio "$g" $CEPH_GET)× |"
    echo "| GET 64 ranges of 16 MiB, 4 connections | $rg ($(range_of rget mib_s)) | $rng (nginx) | $(ratio "$rg" "$rng") | ≥ 0.8 ² | $rnd | $(ratio "$rg" "$rnd") | $CEPH_GET | $(ratio "$rg" $CEPH_GET)× |"
}

table_complete() {
    np=$(get up-small parts)
    echo "| CompleteMultipartUpload of | answered in | aim |"
    echo "| --- | --- | --- |"
    echo "| 64 parts of 16 MiB, over HTTP (median; range) | $(med up complete_ms) ms ($(range_of up complete_ms)) | < 1 s |"
    echo "| ${np:-?} parts of 5 MiB, over HTTP | $(get up-small complete_ms) ms (upload $(get up-small mib_s) MiB/s) | < 1 s |"
    if [ -f "$res/unit" ]; then
        echo "| 10,000 parts, storage only (\`test_multipart\`: list the parts + write the manifest + commit; no HTTP, no XML) | $(get unit complete_ms) ms (then opening the version: $(get unit open_ms) ms) | < 1 s |"
    else
        echo "| 10,000 parts, storage only | $(cat "$res/unit-skip" 2>/dev/null || echo 'not run') | < 1 s |"
    fi
}

table_runs() {
    echo "| run | MiB/s | p50 / p99 ms ³ | Create / Complete ms | server CPU (user + sys) | server core-seconds per GiB | busiest server thread | server waiting for a core ⁴ | client CPU | whole machine CPU | disk read / write MiB/s | disk flushes/s | disk busy |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    runs="" # in the order they ran
    for r in $(seq 1 "$REPS"); do runs="$runs up-$r"; done
    for r in $(seq 1 "$REPS"); do runs="$runs get-$r rget-$r"; done
    runs="$runs up-small"
    for r in $(seq 1 "$REPS"); do runs="$runs nginx-$r rnginx-$r"; done
    for r in $(seq 1 "$REPS"); do runs="$runs ndio-$r rndio-$r"; done
    runs="$runs ceil-buffered ceil-direct"
    for r in $runs; do
        [ -f "$res/$r" ] || continue
        lat="$(get "$r" p50_ms)$(get "$r" part_p50_ms) / $(get "$r" p99_ms)$(get "$r" part_p99_ms)"
        cc="—"
        case $r in up-*) cc="$(get "$r" create_ms) / $(get "$r" complete_ms)" ;; esac
        srv="$(get "$r" srv_cpu)% ($(get "$r" srv_usr) + $(get "$r" srv_sys))"
        thr="$(get "$r" srv_top_thread)%" cli="$(get "$r" cli_cpu)%" wt="$(get "$r" srv_wait)%"
        cps=$(awk -v c="$(get "$r" srv_cpu)" -v el="$(get "$r" seconds)" -v n="$NCPU" -v m="$(get "$r" mib_s)" \
            'BEGIN { if (m > 0) printf "%.2f", c / 100 * n * 1024 / m }')
        case $r in ceil-*)
            srv=$(awk -v c="$(get "$r" cpu_s)" -v el="$(get "$r" seconds)" -v n="$NCPU" \
                'BEGIN { if (el > 0) printf "%.0f%%", c / el / n * 100 }')
            cps=$(awk -v c="$(get "$r" cpu_s)" -v el="$(get "$r" seconds)" -v m="$(get "$r" mib_s)" \
                'BEGIN { if (m > 0 && el > 0) printf "%.2f", c / (m * el / 1024) }')
            thr="—" cli="—" wt="—" ;;
        esac
        echo "| $r | $(get "$r" mib_s) | $lat | $cc | $srv | $cps | $thr | $wt | $cli | $(get "$r" machine_cpu)% | $(get "$r" disk_r_mib_s) / $(get "$r" disk_w_mib_s) | $(get "$r" disk_flush_s) | $(get "$r" disk_util)% |"
    done
}

report() {
    echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC') on $NCPU cores, $(uname -r); load tool and servers on the same cores; load average at the start: $LOAD0; $FREE0 GiB free."
    echo
    table_main
    echo
    echo "¹ Issue 3's figures for Ceph RGW with 64 MiB objects (PUT 310, GET 620 MiB/s), for scale: not a multipart measurement."
    echo "² Issue 3's aim for GETs of large objects; issue 4 sets none for the GET."
    echo "³ Per request: one part (16 or 5 MiB) for uploads, one range or the whole object for GETs, one put of 16 MiB for the ceiling."
    echo
    table_complete
    echo
    echo "Every run (CPU as a share of all $NCPU cores, put_ceiling's in the server column; core-seconds per GiB = server CPU time per GiB moved; whole machine = every process, other load included; disk = ${DEV:-n/a} from /proc/diskstats):"
    echo
    table_runs
    echo
    echo "⁴ Run-queue delay of the server's threads (/proc/PID/task/*/schedstat), summed over them, as a share of the elapsed time: 100% = on average one server thread ready to run but waiting for a core."
    echo
    echo "Read back: mp-1 compared byte for byte after the uploads: $([ "$(get verify verified)" = 1 ] && echo identical || echo 'NOT verified')."
    if [ -f "$res/failures" ]; then
        echo
        echo "Failures in this run:"
        echo
        sed 's/^/    /' "$res/failures"
    fi
    if [ -f "$res/tarn-log" ]; then
        echo
        echo "tarn logged $(cat "$res/tarn-log-lines") line(s) at warn or above; the first:"
        echo
        sed 's/^/    /' "$res/tarn-log"
    fi
}


LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
FREE0=$(free_gib)
echo "Multipart benchmark: $FREE0 GiB free on $tmp's file system"
if [ "$FREE0" -lt $((2 * REPS + 6)) ]; then
    echo "multipart bench: needs $((2 * REPS + 6)) GiB free on $tmp's file system, has $FREE0" >&2
    exit 1
fi
tarn_phase
nginx_phase
ceiling_phase
unit_phase
echo
report | tee "$tmp/report.md"
write_doc "$tmp/report.md"
exit $status
