#!/bin/sh
# tests/bench/objects.sh — issue 3's benchmark: PutObject / GetObject with
# 4+2 erasure coding on six folders, each beside a ceiling from the same run.
#
#   BUILD=build sh tests/bench/objects.sh          (make bench runs it after run.sh)
#
# One temporary directory (under $TMPDIR, so on the same file system as every
# file below) holds tarn's data, nginx's files and the ceiling's folders.
#  1. tarn (--workers 2): for 4 KiB at 32 connections, 1 MiB at 8, 64 MiB at 2:
#     PUT for BENCH_OBJ_SECONDS (each connection overwrites its own key,
#     UNSIGNED-PAYLOAD), then 4 keys uploaded and GET for as long.
#  2. GET ceiling: nginx (2 workers, sendfile) serving 4 files of each size from
#     the same file system, same load tool with --auth none. Then, for
#     comparison only, the same nginx reading them with O_DIRECT (directio),
#     as tarn does, instead of from the page cache.
#  3. PUT ceiling: put_ceiling, threads = connections, buffered and O_DIRECT,
#     both with fdatasync + folder fsync; the faster is the ceiling.
#  4. Peak RSS (VmHWM) of a fresh tarn while one 64 MiB object uploads, and of
#     another fresh tarn while one 4 GiB object uploads (skipped with a reason
#     when the file system has less than 20 GiB free); the object is deleted.
#  5. A table on stdout, also written into docs/benchmarks.md between the
#     "objects-bench" markers (BENCH_DOC=path to write elsewhere, BENCH_DOC=
#     to skip). Server and client CPU are shares of the machine's cores.
# Env: BENCH_OBJ_SECONDS (10), BENCH_BIG (4G), BENCH_DOC; for a partial run,
# BENCH_CASES (a subset of "4K:32 1M:8 64M:2"), BENCH_PHASES (a subset of
# "tarn nginx ceiling rss") and BENCH_TARN_ARGS (more tarn server flags, e.g.
# "--read-cache-mib 0").
# Kills only the processes it started. Exit 0 when every phase ran without
# errors, 1 otherwise (figures are still printed and written).

BUILD=${BUILD:-build}
TARN=$BUILD/tarn
LOAD=$BUILD/bench/objects_load
CEIL=$BUILD/bench/put_ceiling
SECS=${BENCH_OBJ_SECONDS:-10}
BIG=${BENCH_BIG:-4G}
DOC=${BENCH_DOC-docs/benchmarks.md}
AK=BENCHACCESSKEY03
SK=bench-secret-key-objects-0123
BUCKET=bench-objects
KEYS=4
CASES=${BENCH_CASES:-"4K:32 1M:8 64M:2"}
PHASES=${BENCH_PHASES:-"tarn nginx ceiling rss"}
TARN_ARGS=${BENCH_TARN_ARGS:-}
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)

for f in "$TARN" "$LOAD" "$CEIL"; do
    [ -x "$f" ] || { echo "objects bench: $f is not built" >&2; exit 1; }
done
command -v nginx >/dev/null || { echo "objects bench: nginx is not installed" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tarn-objects-bench.XXXXXX") || exit 1
chmod 755 "$tmp" # nginx's workers (nobody) read the files below
res=$tmp/results
DEV=$(basename "$(df -P "$tmp" | awk 'NR == 2 { print $1 }')")
grep -q " $DEV " /proc/diskstats || DEV="" # no disk rates when not a plain device
mkdir -p "$res"
tpid=""
npid=""
status=0
BENCH_NAME=objects
BENCH_TITLE="Objects (issue 3)"
. "$(dirname "$0")/lib.sh"

trap cleanup EXIT
trap 'exit 1' INT TERM

bytes() { # 4K|1M|64M|4G -> bytes
    echo "$1" | awk '{ n = $0 + 0; u = substr($0, length($0));
        print n * (u == "K" ? 1024 : u == "M" ? 1048576 : u == "G" ? 1073741824 : 1) }'
}
threads() { # PID...: their threads now
    for p in "$@"; do cat "/proc/$p/status" 2>/dev/null; done |
        awk '/^Threads:/ { n += $2 } END { print n + 0 }'
}

# ---- tarn ----

start_tarn() { # DATA_DIR: start tarn there on a free port (tpid, port)
    port=$(free_port)
    "$TARN" server --listen "127.0.0.1:$port" --data "$1" --workers 2 \
        --access-key "$AK" --secret-key "$SK" --log-level warn $TARN_ARGS \
        >"$1.stdout" 2>"$1.stderr" &
    tpid=$!
    i=0
    until grep -q "listening on http://" "$1.stdout" 2>/dev/null; do
        if ! kill -0 "$tpid" 2>/dev/null || [ $i -ge 200 ]; then
            echo "objects bench: tarn did not start" >&2
            tail -n 20 "$1.stderr" >&2
            exit 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    s3 PUT "/$BUCKET" >/dev/null || exit 1
}

stop_tarn() { # DATA_DIR
    if ! stop_pid "$tpid"; then
        echo "objects bench: tarn exited badly; its stderr:" >&2
        tail -n 20 "$1.stderr" >&2
        status=1
    fi
    tpid=""
}

s3() { # METHOD PATH: a signed request with an empty body; prints the status
    code=$(curl -sS -o "$tmp/curl.out" -w '%{http_code}' --max-time 60 -X "$1" \
        --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
        -H "x-amz-content-sha256: $EMPTY" "http://127.0.0.1:$port$2")
    echo "$code"
    case $code in 2*) return 0 ;; esac
    echo "objects bench: $1 $2 answered $code" >&2
    cat "$tmp/curl.out" >&2
    return 1
}

disk_delta() { # BEFORE AFTER SECONDS: rates as fields
    awk -v a="$1" -v b="$2" -v el="$3" 'BEGIN { n = split(a, x, " "); split(b, y, " ")
        if (n < 6 || el <= 0) exit
        printf " disk_r_iops=%.0f disk_r_mib_s=%.0f disk_w_iops=%.0f disk_w_mib_s=%.0f disk_flush_s=%.0f disk_util=%.0f",
            (y[1] - x[1]) / el, (y[2] - x[2]) / 2048 / el, (y[3] - x[3]) / el,
            (y[4] - x[4]) / 2048 / el, (y[6] - x[6]) / el, (y[5] - x[5]) / 10 / el }'
}

# load NAME PIDS_FUNCTION ARGS...: run objects_load, keep its line plus the
# server's and the client's CPU share and the disk's rates in $res/NAME
load() {
    name=$1 pids=$2
    shift 2
    t0=$(ticks $($pids)) d0=$(disk) k0=$(task_ticks $($pids)) m0=$(machine)
    line=$(timeout 900 "$LOAD" --host 127.0.0.1 --port "$port" "$@" 2>"$res/$name.err")
    rc=$?
    t1=$(ticks $($pids)) d1=$(disk) k1=$(task_ticks $($pids)) m1=$(machine)
    el=$(field "$line" seconds)
    cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v el="$el" -v n="$NCPU" -v c="$(field "$line" cpu_s)" \
        'BEGIN { if (el <= 0) el = 1; split(a, x, " "); split(b, y, " "); f = 100 / hz / el / n
            printf "srv_cpu=%.0f srv_usr=%.0f srv_sys=%.0f cli_cpu=%.0f", (y[1] + y[2] - x[1] - x[2]) * f,
                (y[1] - x[1]) * f, (y[2] - x[2]) * f, c / el / n * 100 }')
    cpu="$cpu srv_threads=$(threads $($pids)) srv_top_thread=$(busiest "$k0" "$k1" "$el") machine_cpu=$(busy_pct "$m0" "$m1" "$el")"
    echo "$line $cpu$(disk_delta "$d0" "$d1" "$el")" >"$res/$name"
    echo "  $name: $(cat "$res/$name")"
    if [ $rc -ne 0 ] || [ "$(field "$line" errors)" != 0 ] || [ -z "$line" ]; then
        echo "objects bench: $name failed (exit $rc):" >&2
        cat "$res/$name.err" >&2
        status=1
    fi
}


tarn_phase() {
    echo "tarn (--workers 2, 4+2 on six folders${TARN_ARGS:+, $TARN_ARGS}), ${SECS} s per run:"
    start_tarn "$tmp/data"
    for c in $CASES; do
        size=${c%:*} conns=${c#*:}
        load "put-$size" tarn_pids --op put --size "$size" --conns "$conns" \
            --keys "$conns" --seconds "$SECS" --prefix "put-$size-" $(signed)
        load "up-$size" tarn_pids --op put --size "$size" --conns $KEYS --keys $KEYS \
            --count $KEYS --seconds 120 --prefix "get-$size-" $(signed) >/dev/null
        sleep 1 # let the overwritten versions' GC finish
        load "get-$size" tarn_pids --op get --size "$size" --conns "$conns" \
            --keys $KEYS --seconds "$SECS" --prefix "get-$size-" $(signed)
    done
    stop_tarn "$tmp/data"
    rm -rf "$tmp/data"
}

# ---- nginx ----


start_nginx() { # sets port (sendfile from the page cache) and dport (O_DIRECT)
    port=$(free_port)
    dport=$(free_port)
    while [ "$dport" = "$port" ]; do dport=$(free_port); done
    nginx_conf "$port" "$dport"
    nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" &
    npid=$!
    i=0
    until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
        if ! kill -0 "$npid" 2>/dev/null || [ $i -ge 100 ]; then
            echo "objects bench: nginx did not start" >&2
            cat "$tmp/nginx/logs/error.log" >&2
            exit 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
}

nginx_phase() {
    echo "nginx (2 workers, sendfile, files on the same file system), ${SECS} s per run:"
    for c in $CASES; do
        size=${c%:*}
        mkdir -p "$tmp/www/$BUCKET"
        for k in $(seq 0 $((KEYS - 1))); do
            head -c "$(bytes "$size")" /dev/urandom >"$tmp/www/$BUCKET/get-$size-$k"
        done
    done
    start_nginx
    for c in $CASES; do
        size=${c%:*} conns=${c#*:}
        load "nginx-$size" nginx_pids --op get --auth none --size "$size" --conns "$conns" \
            --keys $KEYS --seconds "$SECS" --prefix "get-$size-" --bucket "$BUCKET"
    done
    echo "nginx with directio (O_DIRECT reads, aio threads, not the ceiling; for comparison):"
    sport=$port port=$dport
    for c in $CASES; do
        size=${c%:*} conns=${c#*:}
        load "ndio-$size" nginx_pids --op get --auth none --size "$size" --conns "$conns" \
            --keys $KEYS --seconds "$SECS" --prefix "get-$size-" --bucket "$BUCKET"
    done
    port=$sport
    stop_pid "$npid" || status=1
    npid=""
    rm -rf "$tmp/www"
}

# ---- PUT ceiling ----

ceiling_phase() {
    echo "PUT ceiling (put_ceiling: 1.5x the bytes into six folders, fdatasync + folder fsync), ${SECS} s per run:"
    for c in $CASES; do
        size=${c%:*} conns=${c#*:}
        for mode in buffered direct; do
            d0=$(disk) m0=$(machine)
            line=$("$CEIL" --dir "$tmp/ceil" --size "$size" --threads "$conns" \
                --seconds "$SECS" --mode "$mode" 2>"$res/ceil.err") ||
                { cat "$res/ceil.err" >&2; status=1; }
            el=$(field "$line" seconds)
            echo "$line machine_cpu=$(busy_pct "$m0" "$(machine)" "$el")$(disk_delta "$d0" "$(disk)" "$el")" >"$res/ceil-$mode-$size"
            echo "  ceil-$mode-$size: $(cat "$res/ceil-$mode-$size")"
        done
    done
    rm -rf "$tmp/ceil"
}

# ---- peak RSS ----

hwm_kib() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$tpid/status"; }

rss_case() { # NAME SIZE: fresh tarn, one upload, VmHWM before and after (KiB)
    start_tarn "$tmp/rss-$1"
    idle=$(hwm_kib)
    load "rss-$1" tarn_pids --op put --size "$2" --conns 1 --keys 1 --count 1 \
        --seconds 600 --prefix "big-" $(signed) >/dev/null
    peak=$(hwm_kib)
    echo "  rss-$1: idle VmHWM ${idle} KiB, after one $2 upload ${peak} KiB ($(field "$(cat "$res/rss-$1")" mib_s) MiB/s)"
    echo "idle_kib=$idle peak_kib=$peak" >"$res/hwm-$1"
    s3 DELETE "/$BUCKET/big-0" >/dev/null || status=1
    stop_tarn "$tmp/rss-$1"
    rm -rf "$tmp/rss-$1"
}

rss_phase() {
    echo "Peak RSS of tarn while one object uploads (fresh server each):"
    rss_case small 64M
    avail=$(df -Pk "$tmp" | awk 'NR == 2 { print int($4 / 1048576) }')
    if [ "$avail" -lt 20 ]; then
        echo "skipped: only $avail GiB free on $tmp's file system (needs 20)" >"$res/hwm-skip"
        echo "  rss-big: $(cat "$res/hwm-skip")"
        return
    fi
    rss_case big "$BIG"
}

# ---- report ----

best_ceiling() { # SIZE: "mib_s mode" of the faster mode
    b=$(get "ceil-buffered-$1" mib_s) d=$(get "ceil-direct-$1" mib_s)
    awk -v b="${b:-0}" -v d="${d:-0}" 'BEGIN { if (d >= b) print d, "O_DIRECT"; else print b, "buffered" }'
}
ceph() { # SIZE KIND: the issue's Ceph RGW figures (ops/s at 4K, MiB/s otherwise)
    case "$1-$2" in
    4K-put) echo 650 ;; 4K-get) echo 2900 ;; 1M-put) echo 180 ;; 1M-get) echo 580 ;;
    64M-put) echo 310 ;; 64M-get) echo 620 ;;
    esac
}
rate() { # SIZE NAME: ops/s at 4K, MiB/s otherwise (what Ceph's figure is in)
    if [ "$1" = 4K ]; then get "$2" ops_s; else get "$2" mib_s; fi
}

table_put() {
    echo "| PUT | conns | tarn ops/s | tarn MiB/s | p50 / p99 ms | ceiling MiB/s: buffered / O_DIRECT | tarn / ceiling | aim | Ceph RGW | tarn / RGW |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for c in $CASES; do
        s=${c%:*} n=${c#*:}
        set -- $(best_ceiling "$s")
        aim=$([ "$s" = 64M ] && echo "≥ 0.7" || echo "—")
        unit=$([ "$s" = 4K ] && echo "PUT/s" || echo "MiB/s")
        echo "| $s | $n | $(get "put-$s" ops_s) | $(get "put-$s" mib_s) | $(get "put-$s" p50_ms) / $(get "put-$s" p99_ms) | $(get "ceil-buffered-$s" mib_s) / $(get "ceil-direct-$s" mib_s) | $(ratio "$(get "put-$s" mib_s)" "$1") | $aim | $(ceph "$s" put) $unit | $(ratio "$(rate "$s" "put-$s")" "$(ceph "$s" put)")× |"
    done
}

table_get() {
    echo "| GET | conns | tarn ops/s | tarn MiB/s | p50 / p99 ms | nginx ops/s | nginx MiB/s | tarn / nginx | aim | nginx O_DIRECT MiB/s | tarn / nginx O_DIRECT | Ceph RGW | tarn / RGW |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for c in $CASES; do
        s=${c%:*} n=${c#*:}
        aim=$([ "$s" = 4K ] && echo "≥ 0.5" || echo "≥ 0.8")
        unit=$([ "$s" = 4K ] && echo "GET/s" || echo "MiB/s")
        note=$([ "$s" = 4K ] && echo " ¹")
        echo "| $s | $n | $(get "get-$s" ops_s) | $(get "get-$s" mib_s) | $(get "get-$s" p50_ms) / $(get "get-$s" p99_ms) | $(get "nginx-$s" ops_s) | $(get "nginx-$s" mib_s) | $(ratio "$(get "get-$s" mib_s)" "$(get "nginx-$s" mib_s)") | $aim | $(get "ndio-$s" mib_s)$note | $(ratio "$(get "get-$s" mib_s)" "$(get "ndio-$s" mib_s)") | $(ceph "$s" get) $unit | $(ratio "$(rate "$s" "get-$s")" "$(ceph "$s" get)")× |"
    done
}

table_resources() {
    echo "| run | ops/s | MiB/s | server CPU (user + sys) | server threads (busiest, % of a core) | client CPU | whole machine CPU | disk read MiB/s (IOPS) | disk write MiB/s (IOPS) | disk flushes/s | disk busy |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for r in put-4K ceil-buffered-4K ceil-direct-4K put-1M ceil-buffered-1M ceil-direct-1M \
        put-64M ceil-buffered-64M ceil-direct-64M get-4K nginx-4K ndio-4K get-1M nginx-1M \
        ndio-1M get-64M nginx-64M ndio-64M; do
        [ -f "$res/$r" ] || continue
        srv="$(get "$r" srv_cpu)% ($(get "$r" srv_usr) + $(get "$r" srv_sys))"
        cli="$(get "$r" cli_cpu)%" thr="$(get "$r" srv_threads) ($(get "$r" srv_top_thread)%)"
        case $r in ceil-*) srv=$(awk -v c="$(get "$r" cpu_s)" -v el="$(get "$r" seconds)" -v n="$NCPU" \
            'BEGIN { if (el > 0) printf "%.0f%%", c / el / n * 100 }') cli="—" thr=$(get "$r" threads) ;; esac
        echo "| $r | $(get "$r" ops_s) | $(get "$r" mib_s) | $srv | $thr | $cli | $(get "$r" machine_cpu)% | $(get "$r" disk_r_mib_s) ($(get "$r" disk_r_iops)) | $(get "$r" disk_w_mib_s) ($(get "$r" disk_w_iops)) | $(get "$r" disk_flush_s) | $(get "$r" disk_util)% |"
    done
}

table_rss() {
    echo "| one upload, fresh server | tarn VmHWM idle | VmHWM after the upload | upload MiB/s |"
    echo "| --- | --- | --- | --- |"
    for k in small big; do
        if [ ! -f "$res/hwm-$k" ]; then
            [ $k = big ] && echo "| $BIG | $(cat "$res/hwm-skip" 2>/dev/null || echo 'not run') | | |"
            continue
        fi
        sz=$([ $k = small ] && echo 64M || echo "$BIG")
        l=$(cat "$res/hwm-$k")
        echo "| $sz | $(( $(field "$l" idle_kib) / 1024 )) MiB | $(( $(field "$l" peak_kib) / 1024 )) MiB | $(get "rss-$k" mib_s) |"
    done
    s=$(field "$(cat "$res/hwm-small" 2>/dev/null)" peak_kib) b=$(field "$(cat "$res/hwm-big" 2>/dev/null)" peak_kib)
    awk -v s="${s:-0}" -v b="${b:-0}" 'BEGIN { if (s > 0 && b > 0)
        printf "\nPeak %s / 64 MiB peak = %.2f (aim: < 128 MiB and within ±10%%: %s)\n", "'"$BIG"'", b / s,
            (b < 131072 && b / s <= 1.1 && b / s >= 0.9) ? "met" : "NOT met" }'
}

report() {
    echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores, $(uname -r), ${SECS} s per phase, load tool and servers on the same cores; load average at the start: $LOAD0."
    echo
    table_put
    echo
    table_get
    echo
    echo "¹ nginx turns O_DIRECT off for a file that fits in one output buffer, so at 4 KiB its \"O_DIRECT\" run reads the page cache too."
    echo
    table_rss
    echo
    echo "Where the time goes (CPU as a share of all $NCPU cores; put_ceiling's CPU in the server column; whole machine = every process, so whole − server − client = other load on the machine; disk = $DEV from /proc/diskstats):"
    echo
    table_resources
}


LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "Objects benchmark: $(df -h --output=avail "$tmp" | tail -1 | tr -d ' ') free on $tmp's file system"
for phase in $PHASES; do
    ${phase}_phase
done
echo
report | tee "$tmp/report.md"
write_doc "$tmp/report.md"
exit $status
