/*
 * objects_load.c — closed-loop PutObject / GetObject load over raw keep-alive
 * sockets (issue 3's benchmark).
 *
 * One thread, one epoll set, one request in flight per connection.
 * Connection i always uses key PREFIX<i mod keys>. A PUT sends Content-Length
 * and x-amz-content-sha256: UNSIGNED-PAYLOAD (the client hashes nothing); its
 * body comes from one pre-filled buffer of min(size, 64 MiB) sent over and
 * over, so a 4 GiB object is streamed, never held. A GET's body is read into
 * a scratch buffer and dropped; an answer counts as good only with the
 * expected status and, for GET, Content-Length = --size and that many bytes
 * received. --auth none sends the same requests without Authorization (for
 * nginx, which serves ROOT/BUCKET/PREFIX<i>). Request heads are re-signed only
 * when the wall-clock second changes (load_common.h).
 *
 *   objects_load --host 127.0.0.1 --port P --op put|get --size 4K|1M|64M|4G
 *                --conns N --keys K --bucket B --prefix obj-4k-
 *                (--seconds S | --count C [--seconds LIMIT])
 *                [--auth signed|none] [--access-key K --secret-key S] [--region R]
 *
 * Prints one line:
 *   op=put auth=signed size=4096 conns=32 seconds=10.00 ops=N ops_s=R mib_s=M
 *   p50_ms=A p99_ms=B errors=E reconnects=C expect=200 cpu_s=T
 * ops counts good answers, errors the others and requests lost with their
 * connection; cpu_s is this process's user+system time. With --count the run
 * ends once C requests were answered (or lost); exceeding the --seconds limit
 * then is a failure. Exit 0 when it ran (even with errors), 2 on bad
 * arguments, 1 on failure.
 */
#include "tests/bench/load_common.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/uio.h>

#define HEAD_MAX 2048
#define RBUF 8192
#define DISCARD (256 * 1024)
#define BODY_BUF_MAX (64ull << 20)
#define MAX_EVENTS 256

enum { C_IDLE, C_SENDING, C_WAITING };

struct opts {
    const char *host, *op, *auth, *bucket, *prefix, *ak, *sk, *region;
    int port, conns, keys;
    double seconds;
    uint64_t size, count;
};

struct conn {
    int fd, idx, state, have_resp;
    char head[HEAD_MAX];
    size_t head_len, head_sent;
    time_t head_sec;
    uint64_t body_sent, body_got;
    char rbuf[RBUF];
    size_t rlen;
    struct lc_resp resp;
    double t_start;
};

struct run {
    struct opts o;
    struct sockaddr_in sa;
    struct lc_creds creds;
    char hosthdr[300];
    int ep, is_put, want, warned;
    struct conn *cs;
    unsigned char *body;
    size_t body_len;
    char *discard;
    double deadline;
    uint64_t started, finished, done, errors, reconnects;
    struct lc_hist hist;
};

/* ---- requests ---- */

static void fill_pattern(unsigned char *p, size_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
    memset(p + (n & ~(size_t)7), 0x5a, n & 7);
}

static int head_build(struct run *rn, struct conn *c, time_t now)
{
    char path[600], extra[64] = "";
    snprintf(path, sizeof path, "/%s/%s%d", rn->o.bucket, rn->o.prefix, c->idx % rn->o.keys);
    if (rn->is_put)
        snprintf(extra, sizeof extra, "Content-Length: %llu\r\n",
                 (unsigned long long)rn->o.size);
    struct lc_req rq = {rn->is_put ? "PUT" : "GET", path, rn->hosthdr,
                        rn->is_put ? "UNSIGNED-PAYLOAD" : LC_EMPTY_SHA256, extra,
                        strcmp(rn->o.auth, "signed") == 0 ? &rn->creds : NULL};
    int n = lc_request_head(c->head, sizeof c->head, &rq, now);
    if (n < 0)
        return -1;
    c->head_len = (size_t)n;
    c->head_sec = now;
    return 0;
}

static int may_start(const struct run *rn)
{
    if (rn->o.count)
        return rn->started < rn->o.count;
    return lc_now() < rn->deadline;
}

static void watch(struct run *rn, struct conn *c, int out)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0),
                             .data.ptr = c};
    epoll_ctl(rn->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write what the socket takes of head + body. 0 ok, -1 connection failed. */
static int conn_send(struct run *rn, struct conn *c)
{
    uint64_t body_total = rn->is_put ? rn->o.size : 0;
    while (c->head_sent < c->head_len || c->body_sent < body_total) {
        size_t off = (size_t)(c->body_sent % rn->body_len);
        uint64_t left = body_total - c->body_sent;
        struct iovec iov[2] = {
            {c->head + c->head_sent, c->head_len - c->head_sent},
            {rn->body + off, (size_t)(left < rn->body_len - off ? left : rn->body_len - off)},
        };
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        size_t h = (size_t)n < iov[0].iov_len ? (size_t)n : iov[0].iov_len;
        c->head_sent += h;
        c->body_sent += (uint64_t)n - h;
    }
    c->state = C_WAITING;
    watch(rn, c, 0);
    return 0;
}

static int conn_start(struct run *rn, struct conn *c)
{
    time_t now = time(NULL);
    if (now != c->head_sec && head_build(rn, c, now) < 0)
        return -1;
    rn->started++;
    c->state = C_SENDING;
    c->have_resp = 0;
    c->head_sent = 0;
    c->body_sent = 0;
    c->body_got = 0;
    c->t_start = lc_now();
    watch(rn, c, 1);
    return conn_send(rn, c);
}

/* ---- connections ---- */

static int conn_open(struct run *rn, struct conn *c)
{
    c->fd = lc_connect(&rn->sa);
    if (c->fd < 0)
        return -1;
    c->state = C_IDLE;
    c->rlen = 0;
    c->head_sec = -1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(rn->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static void conn_close(struct run *rn, struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(rn->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
}

static void warn_once(struct run *rn, const char *what, int status)
{
    if (rn->warned++)
        return;
    fprintf(stderr, "objects_load: first bad answer: %s (status %d)\n", what, status);
}

/* Replace a dead connection; a request in flight is lost. -1 when hopeless. */
static int conn_replace(struct run *rn, struct conn *c)
{
    if (rn->done == 0 && rn->reconnects > 100u * (uint64_t)rn->o.conns) {
        fprintf(stderr, "objects_load: connections keep failing, no answer\n");
        return -1;
    }
    if (c->state != C_IDLE) {
        rn->errors++;
        rn->finished++;
        warn_once(rn, "connection lost mid-request", 0);
    }
    conn_close(rn, c);
    rn->reconnects++;
    if (conn_open(rn, c) < 0) {
        perror("objects_load: reconnect");
        return -1;
    }
    return 0;
}

/* ---- answers ---- */

/* An answer is complete: count it. 1 when the connection must go. */
static int answer_done(struct run *rn, struct conn *c)
{
    const struct lc_resp *r = &c->resp;
    int good = r->status == rn->want &&
               (rn->is_put || (uint64_t)r->content_length == rn->o.size);
    int early = c->state == C_SENDING;
    if (good && !early) {
        rn->done++;
        lc_hist_add(&rn->hist, lc_now() - c->t_start);
    } else {
        rn->errors++;
        warn_once(rn, early ? "answered before the body was sent" : "unexpected answer",
                  r->status);
    }
    rn->finished++;
    c->state = C_IDLE;
    c->have_resp = 0;
    c->rlen = 0;
    if (!r->keep_alive || early)
        return 1;
    return may_start(rn) && conn_start(rn, c) < 0;
}

/* Parse the head in rbuf. 1 parsed, 0 need more, -1 unusable. */
static int take_head(struct run *rn, struct conn *c)
{
    int rc = lc_parse_head(c->rbuf, c->rlen, sizeof c->rbuf, &c->resp);
    if (rc <= 0)
        return rc;
    if (c->resp.chunked || c->resp.content_length < 0) {
        warn_once(rn, "no Content-Length", c->resp.status);
        return -1;
    }
    c->have_resp = 1;
    c->body_got = c->rlen - c->resp.head_len;
    return c->body_got > (uint64_t)c->resp.content_length ? -1 : 1;
}

/* Read and drop body bytes. 1 complete, 0 need more, -1 connection gone. */
static int drain_body(struct run *rn, struct conn *c)
{
    uint64_t cl = (uint64_t)c->resp.content_length;
    while (c->body_got < cl) {
        uint64_t want = cl - c->body_got;
        ssize_t n = recv(c->fd, rn->discard, want < DISCARD ? (size_t)want : DISCARD, 0);
        if (n > 0) {
            c->body_got += (uint64_t)n;
            continue;
        }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
    return 1;
}

/* Read the head's bytes. 1 more may be there, 0 drained, -1 gone. */
static int recv_head(struct conn *c)
{
    ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, 0);
    if (n > 0) {
        c->rlen += (size_t)n;
        return 1;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
}

/* Socket readable. 1 when the connection must go. */
static int on_readable(struct run *rn, struct conn *c)
{
    for (;;) {
        if (!c->have_resp) {
            int rc = recv_head(c);
            if (rc <= 0)
                return rc < 0;
            rc = c->state == C_IDLE ? -1 : take_head(rn, c);
            if (rc <= 0) {
                if (rc < 0)
                    return 1;
                continue;
            }
        }
        int rc = drain_body(rn, c);
        if (rc <= 0)
            return rc < 0;
        if (answer_done(rn, c))
            return 1;
        if (c->state == C_IDLE)
            return 0;
    }
}

static int on_event(struct run *rn, const struct epoll_event *ev)
{
    struct conn *c = ev->data.ptr;
    int dead = 0;
    if (ev->events & EPOLLIN)
        dead = on_readable(rn, c);
    if (!dead && (ev->events & EPOLLOUT)) {
        if (c->state == C_SENDING)
            dead = conn_send(rn, c) < 0;
        else if (c->state == C_IDLE)
            dead = may_start(rn) ? conn_start(rn, c) < 0 : (watch(rn, c, 0), 0);
    }
    if (!dead && (ev->events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) && c->state == C_IDLE)
        dead = 1;
    else if (!dead && (ev->events & (EPOLLERR | EPOLLHUP)))
        dead = 1;
    return dead ? conn_replace(rn, c) : 0;
}

static int finished(const struct run *rn, double now)
{
    if (rn->o.count)
        return rn->finished >= rn->o.count;
    return now >= rn->deadline;
}

static int run_loop(struct run *rn)
{
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        double now = lc_now(), left = rn->deadline - now;
        if (finished(rn, now))
            return 0;
        if (left <= 0) {
            fprintf(stderr, "objects_load: %llu of %llu requests answered within %.0f s\n",
                    (unsigned long long)rn->finished, (unsigned long long)rn->o.count,
                    rn->o.seconds);
            return -1;
        }
        int n = epoll_wait(rn->ep, evs, MAX_EVENTS, (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR) {
            perror("objects_load: epoll_wait");
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (on_event(rn, &evs[i]) < 0)
                return -1;
    }
}

/* ---- set-up and report ---- */

static void usage(void)
{
    fprintf(stderr, "usage: objects_load --host H --port P --op put|get --size N[K|M|G] "
                    "--conns N --keys K --bucket B --prefix P (--seconds S | --count C) "
                    "[--auth signed|none] [--access-key K --secret-key S] [--region R]\n");
}

static int opts_check(const struct opts *o)
{
    int is_signed = !strcmp(o->auth, "signed");
    int op_ok = !strcmp(o->op, "put") || !strcmp(o->op, "get");
    if (!op_ok || (!is_signed && strcmp(o->auth, "none")) || !o->bucket || !o->size)
        return -1;
    if (o->conns <= 0 || o->conns > 10000 || o->keys <= 0 || o->seconds <= 0)
        return -1;
    return is_signed && (!*o->ak || !*o->sk) ? -1 : 0;
}

static int opts_parse(int argc, char **argv, struct opts *o)
{
    const struct lc_opt table[] = {
        {"--host", LC_STR, &o->host},       {"--port", LC_INT, &o->port},
        {"--op", LC_STR, &o->op},           {"--auth", LC_STR, &o->auth},
        {"--size", LC_U64, &o->size},       {"--conns", LC_INT, &o->conns},
        {"--keys", LC_INT, &o->keys},       {"--bucket", LC_STR, &o->bucket},
        {"--prefix", LC_STR, &o->prefix},   {"--seconds", LC_DBL, &o->seconds},
        {"--count", LC_U64, &o->count},     {"--access-key", LC_STR, &o->ak},
        {"--secret-key", LC_STR, &o->sk},   {"--region", LC_STR, &o->region},
        {NULL, LC_STR, NULL},
    };
    o->seconds = 0;
    if (lc_parse_args(argc, argv, table) < 0)
        return -1;
    if (o->seconds == 0)
        o->seconds = o->count ? 3600 : 10;
    return opts_check(o);
}

static int run_open(struct run *rn)
{
    rn->body_len = rn->o.size < BODY_BUF_MAX ? (size_t)rn->o.size : (size_t)BODY_BUF_MAX;
    rn->body = rn->is_put ? malloc(rn->body_len) : NULL;
    rn->discard = malloc(DISCARD);
    rn->cs = calloc((size_t)rn->o.conns, sizeof *rn->cs);
    rn->ep = epoll_create1(EPOLL_CLOEXEC);
    if ((rn->is_put && !rn->body) || !rn->discard || !rn->cs || rn->ep < 0) {
        perror("objects_load");
        return -1;
    }
    if (rn->body)
        fill_pattern(rn->body, rn->body_len);
    for (int i = 0; i < rn->o.conns; i++) {
        rn->cs[i].idx = i;
        if (conn_open(rn, &rn->cs[i]) < 0) {
            perror("objects_load: connect");
            return -1;
        }
    }
    return 0;
}

static void report(const struct run *rn, double el)
{
    double mib = (double)rn->done * (double)rn->o.size / (1024.0 * 1024.0);
    printf("op=%s auth=%s size=%llu conns=%d seconds=%.2f ops=%llu ops_s=%.1f mib_s=%.1f "
           "p50_ms=%.2f p99_ms=%.2f errors=%llu reconnects=%llu expect=%d cpu_s=%.2f\n",
           rn->o.op, rn->o.auth, (unsigned long long)rn->o.size, rn->o.conns, el,
           (unsigned long long)rn->done, (double)rn->done / el, mib / el, lc_hist_ms(&rn->hist, 0.5),
           lc_hist_ms(&rn->hist, 0.99), (unsigned long long)rn->errors,
           (unsigned long long)rn->reconnects, rn->want, lc_cpu_seconds());
}

static void run_free(struct run *rn)
{
    for (int i = 0; i < rn->o.conns; i++)
        conn_close(rn, &rn->cs[i]);
    free(rn->cs);
    free(rn->body);
    free(rn->discard);
    close(rn->ep);
}

int main(int argc, char **argv)
{
    struct run rn = {.o = {.host = "127.0.0.1", .op = "", .auth = "signed", .prefix = "obj-",
                           .ak = "", .sk = "", .region = "us-east-1", .port = 9000,
                           .conns = 1, .keys = 1}};
    if (opts_parse(argc, argv, &rn.o) < 0) {
        usage();
        return 2;
    }
    if (lc_addr(rn.o.host, rn.o.port, &rn.sa) < 0) {
        fprintf(stderr, "objects_load: --host must be an IPv4 address and --port 1..65535\n");
        return 2;
    }
    rn.is_put = !strcmp(rn.o.op, "put");
    rn.want = 200;
    rn.creds = (struct lc_creds){rn.o.ak, rn.o.sk, rn.o.region};
    snprintf(rn.hosthdr, sizeof rn.hosthdr, "%s:%d", rn.o.host, rn.o.port);
    signal(SIGPIPE, SIG_IGN);
    if (run_open(&rn) < 0)
        return 1;
    double t0 = lc_now();
    rn.deadline = t0 + rn.o.seconds;
    int rc = run_loop(&rn);
    report(&rn, lc_now() - t0);
    run_free(&rn);
    return rc < 0 ? 1 : 0;
}
