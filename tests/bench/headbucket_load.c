/*
 * headbucket_load.c — closed-loop HeadBucket load over raw keep-alive sockets.
 *
 * The issue-2 benchmark: authenticated HeadBucket requests per second at N
 * concurrent keep-alive connections, beside the same request unsigned on a
 * bucket that does not exist (the server answers 404 without auth work), so
 * the cost of SigV4 is a ratio. One thread, one epoll set, one request in
 * flight per connection. The request is rebuilt (and in signed mode
 * re-signed) only when the wall-clock second changes, in both modes, so the
 * client's own cost is tiny and the same for both. Signing, connections and
 * response parsing are in load_common.h (shared with objects_load.c).
 *
 *   headbucket_load --host 127.0.0.1 --port P --conns 32 --seconds 10
 *                   --mode signed|anon --bucket B --access-key K --secret-key S
 *                   [--region us-east-1]
 *
 * Prints one line:
 *   mode=signed conns=32 seconds=10.00 requests=N rps=R errors=E status_ok=200
 * errors counts answers with another status, and connections lost.
 * Exit 0 when it ran (even with errors), 2 on bad arguments, 1 on failure.
 */
#include "tests/bench/load_common.h"

#include <signal.h>
#include <sys/epoll.h>

#define REQ_MAX 2048
#define RBUF 8192

struct opts {
    const char *host, *mode, *bucket, *ak, *sk, *region;
    int port, conns;
    double seconds;
};

struct conn {
    int fd;
    size_t sent; /* bytes of the current request written */
    int busy;    /* a request is in flight */
    char rbuf[RBUF];
    size_t rlen;
};

struct run {
    struct opts o;
    struct sockaddr_in sa;
    int ep, want;
    struct conn *cs;
    uint64_t done, errors, reconnects;
};

static char g_req[REQ_MAX];
static size_t g_req_len;
static time_t g_req_sec = -1;

/* Build the request for this second: HEAD /bucket, x-amz-date, and in signed
 * mode the SigV4 Authorization header. */
static int request_build(const struct opts *o, time_t now)
{
    char host[300], path[80];
    snprintf(host, sizeof host, "%s:%d", o->host, o->port);
    snprintf(path, sizeof path, "/%s", o->bucket);
    struct lc_creds cr = {o->ak, o->sk, o->region};
    struct lc_req rq = {"HEAD", path, host, LC_EMPTY_SHA256, NULL,
                        strcmp(o->mode, "signed") == 0 ? &cr : NULL};
    int n = lc_request_head(g_req, sizeof g_req, &rq, now);
    if (n < 0)
        return -1;
    g_req_len = (size_t)n;
    g_req_sec = now;
    return 0;
}

static int conn_open(struct conn *c, const struct sockaddr_in *sa, int ep)
{
    c->fd = lc_connect(sa);
    if (c->fd < 0)
        return -1;
    c->sent = 0;
    c->busy = 0;
    c->rlen = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static void conn_close(struct conn *c, int ep)
{
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
}

/* Write what is left of the current request. 0 ok (maybe partial), -1 error. */
static int conn_send(struct conn *c, const struct opts *o, int ep)
{
    if (!c->busy) {
        time_t t = time(NULL);
        if (t != g_req_sec && request_build(o, t) < 0)
            return -1;
        c->busy = 1;
        c->sent = 0;
    }
    while (c->sent < g_req_len) {
        ssize_t n = send(c->fd, g_req + c->sent, g_req_len - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1;
        }
        c->sent += (size_t)n;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (c->sent < g_req_len)
        ev.events |= EPOLLOUT;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    return 0;
}

/* Status of one complete response in rbuf (HEAD: the head is the whole
 * response), consumed from rbuf; 0 if incomplete, -1 on garbage. */
static int conn_take_response(struct conn *c, int *keep_alive)
{
    struct lc_resp r;
    int rc = lc_parse_head(c->rbuf, c->rlen, sizeof c->rbuf, &r);
    if (rc <= 0)
        return rc;
    *keep_alive = r.keep_alive;
    memmove(c->rbuf, c->rbuf + r.head_len, c->rlen - r.head_len);
    c->rlen -= r.head_len;
    return r.status;
}

/* Read what is there. 1 when the peer closed or failed, 0 otherwise. */
static int conn_recv(struct conn *c)
{
    for (;;) {
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, 0);
        if (r > 0) {
            c->rlen += (size_t)r;
            if (c->rlen == sizeof c->rbuf)
                return 0;
            continue;
        }
        return r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }
}

/* Count complete responses and send the next requests. 1 when the
 * connection is to be dropped. */
static int conn_answers(struct run *rn, struct conn *c)
{
    int ka = 1, st;
    while (c->busy && (st = conn_take_response(c, &ka)) != 0) {
        if (st < 0)
            return 1;
        c->busy = 0;
        rn->done++;
        if (st != rn->want)
            rn->errors++;
        if (!ka || conn_send(c, &rn->o, rn->ep) < 0)
            return 1;
    }
    return 0;
}

/* Replace a dead connection. -1 when that is hopeless. */
static int conn_replace(struct run *rn, struct conn *c)
{
    if (rn->done == 0 && rn->reconnects > 100u * (uint64_t)rn->o.conns) {
        fprintf(stderr, "headbucket_load: connections keep failing, no answer\n");
        return -1;
    }
    if (c->busy)
        rn->errors++; /* a request lost with its connection */
    conn_close(c, rn->ep);
    rn->reconnects++;
    if (conn_open(c, &rn->sa, rn->ep) < 0) {
        perror("headbucket_load: reconnect");
        return -1;
    }
    return 0;
}

static int on_event(struct run *rn, const struct epoll_event *ev)
{
    struct conn *c = ev->data.ptr;
    int dead = 0;
    if (ev->events & EPOLLIN) {
        dead = conn_recv(c);
        dead |= conn_answers(rn, c);
    }
    if (!dead && (ev->events & EPOLLOUT) && conn_send(c, &rn->o, rn->ep) < 0)
        dead = 1;
    if (!dead && (ev->events & (EPOLLERR | EPOLLHUP)))
        dead = 1;
    return dead ? conn_replace(rn, c) : 0;
}

static int run_loop(struct run *rn, double seconds)
{
    struct epoll_event evs[256];
    double deadline = lc_now() + seconds;
    for (;;) {
        double left = deadline - lc_now();
        if (left <= 0)
            return 0;
        int n = epoll_wait(rn->ep, evs, 256, (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR) {
            perror("headbucket_load: epoll_wait");
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (on_event(rn, &evs[i]) < 0)
                return -1;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: headbucket_load --host H --port P --conns N --seconds S "
                    "--mode signed|anon --bucket B --access-key K --secret-key S "
                    "[--region R]\n");
}

static int opts_parse(int argc, char **argv, struct opts *o)
{
    const struct lc_opt table[] = {
        {"--host", LC_STR, &o->host},         {"--port", LC_INT, &o->port},
        {"--conns", LC_INT, &o->conns},       {"--seconds", LC_DBL, &o->seconds},
        {"--mode", LC_STR, &o->mode},         {"--bucket", LC_STR, &o->bucket},
        {"--access-key", LC_STR, &o->ak},     {"--secret-key", LC_STR, &o->sk},
        {"--region", LC_STR, &o->region},     {NULL, LC_STR, NULL},
    };
    if (lc_parse_args(argc, argv, table) < 0)
        return -1;
    int signed_mode = !strcmp(o->mode, "signed");
    if ((!signed_mode && strcmp(o->mode, "anon")) || !o->bucket || o->conns <= 0 ||
        o->conns > 10000 || o->seconds <= 0 || strlen(o->bucket) > 63 ||
        (signed_mode && (!*o->ak || !*o->sk)))
        return -1;
    return 0;
}

static int run_open(struct run *rn)
{
    rn->ep = epoll_create1(EPOLL_CLOEXEC);
    rn->cs = calloc((size_t)rn->o.conns, sizeof *rn->cs);
    if (rn->ep < 0 || !rn->cs) {
        perror("headbucket_load");
        return -1;
    }
    for (int i = 0; i < rn->o.conns; i++) {
        if (conn_open(&rn->cs[i], &rn->sa, rn->ep) < 0) {
            perror("headbucket_load: connect");
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct run rn = {.o = {.host = "127.0.0.1", .mode = "signed", .bucket = NULL, .ak = "",
                           .sk = "", .region = "us-east-1", .port = 9000, .conns = 32,
                           .seconds = 10}};
    if (opts_parse(argc, argv, &rn.o) < 0) {
        usage();
        return 2;
    }
    rn.want = !strcmp(rn.o.mode, "signed") ? 200 : 404;
    if (lc_addr(rn.o.host, rn.o.port, &rn.sa) < 0) {
        fprintf(stderr, "headbucket_load: --host must be an IPv4 address and --port 1..65535\n");
        return 2;
    }
    if (request_build(&rn.o, time(NULL)) < 0) {
        fprintf(stderr, "headbucket_load: request too long\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (run_open(&rn) < 0)
        return 1;
    double t0 = lc_now();
    if (run_loop(&rn, rn.o.seconds) < 0)
        return 1;
    double el = lc_now() - t0;
    printf("mode=%s conns=%d seconds=%.2f requests=%llu rps=%.1f errors=%llu "
           "reconnects=%llu expect=%d\n",
           rn.o.mode, rn.o.conns, el, (unsigned long long)rn.done, (double)rn.done / el,
           (unsigned long long)rn.errors, (unsigned long long)rn.reconnects, rn.want);
    for (int i = 0; i < rn.o.conns; i++)
        conn_close(&rn.cs[i], rn.ep);
    free(rn.cs);
    close(rn.ep);
    return 0;
}
