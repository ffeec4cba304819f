# tests/bench/lib.sh — what the object and multipart benchmarks share:
# stopping what they started, free ports, reading fields of the load tools'
# output lines, CPU and disk counters from /proc, nginx's configuration,
# ratios, and writing a figures block into docs/benchmarks.md.
# Sourced by objects.sh and multipart.sh after they set BENCH_NAME (objects,
# multipart: messages and the doc's markers), BENCH_TITLE (the doc section),
# and the globals the functions read: tmp, tpid, npid, DEV, HZ, NCPU, DOC,
# BUCKET, AK, SK.

stop_pid() { # PID: TERM, wait up to 10 s, then KILL; 0 when it exited 0
    kill -0 "$1" 2>/dev/null || return 0
    kill -TERM "$1" 2>/dev/null
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$1" 2>/dev/null; then
        echo "$BENCH_NAME bench: pid $1 did not stop within 10 s of SIGTERM" >&2
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        return 1
    fi
    wait "$1"
}
cleanup() {
    [ -n "$tpid" ] && stop_pid "$tpid"
    [ -n "$npid" ] && stop_pid "$npid"
    rm -rf "$tmp"
}
free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ticks() { # PID...: "user system" clock ticks of those processes, all threads
    for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null; done |
        awk '{ u += $14; s += $15 } END { print u + 0, s + 0 }'
}
task_ticks() { # PID...: "tid ticks" per thread
    for p in "$@"; do cat /proc/"$p"/task/*/stat 2>/dev/null; done | awk '{ print $1, $14 + $15 }'
}
busiest() { # BEFORE AFTER SECONDS: the busiest thread's share of one core, %
    printf '%s\n--\n%s\n' "$1" "$2" | awk -v hz="$HZ" -v el="$3" '
        $0 == "--" { after = 1; next }
        !after { t0[$1] = $2; next }
        { d = $2 - t0[$1]; if (d > m) m = d }
        END { printf "%.0f", (el > 0 ? m / hz / el * 100 : 0) }'
}
machine() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; } # busy ticks, all cores
busy_pct() { # BEFORE AFTER SECONDS: the whole machine's busy share, %
    awk -v a="$1" -v b="$2" -v hz="$HZ" -v el="$3" -v n="$NCPU" \
        'BEGIN { if (el > 0) printf "%.0f", (b - a) / hz / el / n * 100 }'
}
tarn_pids() { echo "$tpid"; }
nginx_pids() { echo "$npid"; ps -o pid= --ppid "$npid"; }
# Disk counters of DEV: reads, sectors read, writes, sectors written, ms busy, flushes
disk() { [ -n "$DEV" ] && awk -v d="$DEV" '$3 == d { print $4, $6, $8, $10, $13, $18 }' /proc/diskstats; }
nginx_conf() { # PORT DIRECTIO_PORT
    n=$tmp/nginx
    mkdir -p "$n/logs" "$n/tmp"
    cat >"$n/nginx.conf" <<EOF
daemon off;
worker_processes 2;
pid $n/nginx.pid;
error_log $n/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    default_type application/octet-stream;
    client_body_temp_path $n/tmp/body;
    proxy_temp_path $n/tmp/proxy;
    fastcgi_temp_path $n/tmp/fastcgi;
    uwsgi_temp_path $n/tmp/uwsgi;
    scgi_temp_path $n/tmp/scgi;
    server {
        listen 127.0.0.1:$1;
        root $tmp/www;
    }
    server {
        listen 127.0.0.1:$2;
        root $tmp/www;
        directio 4k;
        directio_alignment 4k;
        output_buffers 2 1m;
        aio threads;
    }
}
EOF
}
signed() { echo --bucket "$BUCKET" --access-key "$AK" --secret-key "$SK"; }
get() { field "$(cat "$res/$1" 2>/dev/null)" "$2"; }
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
write_doc() { # REPORT_FILE: replace the block between the markers in $DOC
    [ -n "$DOC" ] || return 0
    begin="<!-- $BENCH_NAME-bench:begin (written by tests/bench/$BENCH_NAME.sh) -->"
    end="<!-- $BENCH_NAME-bench:end -->"
    if [ ! -f "$DOC" ]; then
        printf '# Benchmarks\n\n' >"$DOC"
    fi
    if ! grep -q "^<!-- $BENCH_NAME-bench:begin" "$DOC"; then
        printf '\n## %s\n\n%s\n%s\n' "$BENCH_TITLE" "$begin" "$end" >>"$DOC"
    fi
    awk -v f="$1" -v b="$begin" -v m="<!-- $BENCH_NAME-bench:" '
        index($0, m "begin") == 1 { print b; while ((getline l < f) > 0) print l; skip = 1; next }
        index($0, m "end") == 1 { skip = 0 }
        !skip { print }' "$DOC" >"$tmp/doc.new" && cat "$tmp/doc.new" >"$DOC"
    echo "(figures written to $DOC)"
}
