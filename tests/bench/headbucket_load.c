/*
 * headbucket_load.c — closed-loop HeadBucket load over raw keep-alive sockets.
 *
 * The issue-2 benchmark: authenticated HeadBucket requests per second at N
 * concurrent keep-alive connections, beside the same request unsigned on a
 * bucket that does not exist (the server answers 404 without auth work), so
 * the cost of SigV4 is a ratio. One thread, one epoll set, one request in
 * flight per connection. The request is rebuilt (and in signed mode
 * re-signed) only when the wall-clock second changes, in both modes, so the
 * client's own cost is tiny and the same for both.
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
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define REQ_MAX 2048
#define RBUF 8192

struct opts {
    const char *host, *mode, *bucket, *ak, *sk, *region;
    int port, conns;
    double seconds;
};

struct conn {
    int fd;
    size_t sent;      /* bytes of the current request written */
    int busy;         /* a request is in flight */
    char rbuf[RBUF];
    size_t rlen;
};

static char g_req[REQ_MAX];
static size_t g_req_len;
static time_t g_req_sec = -1;

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

static void hmac256(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int olen = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &olen);
}

/* Build the request for this second: HEAD /bucket, x-amz-date, and in signed
 * mode the SigV4 Authorization header (AWS SigV4, "Create a signature"). */
static int request_build(const struct opts *o, time_t now)
{
    struct tm tm;
    char amz_date[32], date[16], hosthdr[300];
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    strftime(date, sizeof date, "%Y%m%d", &tm);
    snprintf(hosthdr, sizeof hosthdr, "%s:%d", o->host, o->port);
    int signed_mode = strcmp(o->mode, "signed") == 0;
    int n;
    if (!signed_mode) {
        n = snprintf(g_req, sizeof g_req,
                     "HEAD /%s HTTP/1.1\r\nHost: %s\r\nx-amz-content-sha256: %s\r\n"
                     "x-amz-date: %s\r\n\r\n",
                     o->bucket, hosthdr, EMPTY_SHA256, amz_date);
    } else {
        char creq[1024], sts[512], creq_hash[65], sig[65], scope[128];
        unsigned char h[32], k1[32], k2[32], k3[32], k4[32];
        snprintf(creq, sizeof creq,
                 "HEAD\n/%s\n\nhost:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n\n"
                 "host;x-amz-content-sha256;x-amz-date\n%s",
                 o->bucket, hosthdr, EMPTY_SHA256, amz_date, EMPTY_SHA256);
        SHA256((const unsigned char *)creq, strlen(creq), h);
        hex(h, 32, creq_hash);
        snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", date, o->region);
        snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, creq_hash);
        char ksecret[300];
        snprintf(ksecret, sizeof ksecret, "AWS4%s", o->sk);
        hmac256(ksecret, strlen(ksecret), date, k1);
        hmac256(k1, 32, o->region, k2);
        hmac256(k2, 32, "s3", k3);
        hmac256(k3, 32, "aws4_request", k4);
        hmac256(k4, 32, sts, h);
        hex(h, 32, sig);
        n = snprintf(g_req, sizeof g_req,
                     "HEAD /%s HTTP/1.1\r\nHost: %s\r\nx-amz-content-sha256: %s\r\n"
                     "x-amz-date: %s\r\nAuthorization: AWS4-HMAC-SHA256 Credential=%s/%s, "
                     "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s\r\n\r\n",
                     o->bucket, hosthdr, EMPTY_SHA256, amz_date, o->ak, scope, sig);
    }
    if (n < 0 || (size_t)n >= sizeof g_req)
        return -1;
    g_req_len = (size_t)n;
    g_req_sec = now;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int conn_open(struct conn *c, const struct sockaddr_in *sa, int ep)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (const struct sockaddr *)sa, sizeof *sa) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
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

/* Parse complete responses in rbuf (HEAD: the header section is the whole
 * response). Returns the status of one complete response, 0 if incomplete,
 * -1 on garbage. Consumes it from rbuf. */
static int conn_take_response(struct conn *c, int *keep_alive)
{
    char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!end)
        return c->rlen >= sizeof c->rbuf ? -1 : 0;
    size_t hlen = (size_t)(end - c->rbuf) + 4;
    int status = 0;
    if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.", 7) != 0)
        return -1;
    status = atoi(c->rbuf + 9);
    *keep_alive = 1;
    /* Connection: close ends this connection after the response. */
    for (char *p = c->rbuf; p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
        p++;
        if (strncasecmp(p, "connection:", 11) == 0) {
            char *v = p + 11;
            while (*v == ' ')
                v++;
            if (strncasecmp(v, "close", 5) == 0)
                *keep_alive = 0;
        }
    }
    memmove(c->rbuf, c->rbuf + hlen, c->rlen - hlen);
    c->rlen -= hlen;
    return status;
}

static void usage(void)
{
    fprintf(stderr, "usage: headbucket_load --host H --port P --conns N --seconds S "
                    "--mode signed|anon --bucket B --access-key K --secret-key S "
                    "[--region R]\n");
}

int main(int argc, char **argv)
{
    struct opts o = {.host = "127.0.0.1", .mode = "signed", .bucket = NULL, .ak = "",
                     .sk = "", .region = "us-east-1", .port = 9000, .conns = 32,
                     .seconds = 10};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            usage();
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--host")) o.host = v;
        else if (!strcmp(a, "--port")) o.port = atoi(v);
        else if (!strcmp(a, "--conns")) o.conns = atoi(v);
        else if (!strcmp(a, "--seconds")) o.seconds = atof(v);
        else if (!strcmp(a, "--mode")) o.mode = v;
        else if (!strcmp(a, "--bucket")) o.bucket = v;
        else if (!strcmp(a, "--access-key")) o.ak = v;
        else if (!strcmp(a, "--secret-key")) o.sk = v;
        else if (!strcmp(a, "--region")) o.region = v;
        else {
            usage();
            return 2;
        }
    }
    int signed_mode = !strcmp(o.mode, "signed");
    if ((!signed_mode && strcmp(o.mode, "anon")) || !o.bucket || o.port <= 0 ||
        o.port > 65535 || o.conns <= 0 || o.conns > 10000 || o.seconds <= 0 ||
        strlen(o.bucket) > 63 || (signed_mode && (!*o.ak || !*o.sk))) {
        usage();
        return 2;
    }
    int want = signed_mode ? 200 : 404;

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    if (inet_pton(AF_INET, o.host, &sa.sin_addr) != 1) {
        fprintf(stderr, "headbucket_load: --host must be an IPv4 address\n");
        return 2;
    }
    if (request_build(&o, time(NULL)) < 0) {
        fprintf(stderr, "headbucket_load: request too long\n");
        return 2;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct conn *cs = calloc((size_t)o.conns, sizeof *cs);
    struct epoll_event *evs = calloc((size_t)o.conns, sizeof *evs);
    if (ep < 0 || !cs || !evs) {
        perror("headbucket_load");
        return 1;
    }
    for (int i = 0; i < o.conns; i++) {
        if (conn_open(&cs[i], &sa, ep) < 0) {
            perror("headbucket_load: connect");
            return 1;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    uint64_t done = 0, errors = 0, reconnects = 0;
    double t0 = now_s(), deadline = t0 + o.seconds;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0)
            break;
        int n = epoll_wait(ep, evs, o.conns, (int)(left * 1000) + 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("headbucket_load: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            int dead = 0;
            if (evs[i].events & EPOLLIN) {
                for (;;) {
                    ssize_t r = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, 0);
                    if (r > 0) {
                        c->rlen += (size_t)r;
                        if (c->rlen == sizeof c->rbuf)
                            break;
                        continue;
                    }
                    if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                        dead = 1;
                    break;
                }
                int ka = 1, st;
                while (c->busy && (st = conn_take_response(c, &ka)) != 0) {
                    if (st < 0) {
                        dead = 1;
                        break;
                    }
                    c->busy = 0;
                    done++;
                    if (st != want)
                        errors++;
                    if (!ka) {
                        dead = 1;
                        break;
                    }
                    if (conn_send(c, &o, ep) < 0)
                        dead = 1;
                }
            }
            if (!dead && (evs[i].events & EPOLLOUT) && conn_send(c, &o, ep) < 0)
                dead = 1;
            if (!dead && (evs[i].events & (EPOLLERR | EPOLLHUP)))
                dead = 1;
            if (dead) {
                if (done == 0 && reconnects > 100u * (uint64_t)o.conns) {
                    fprintf(stderr, "headbucket_load: connections keep failing, no answer\n");
                    return 1;
                }
                if (c->busy)
                    errors++; /* a request lost with its connection */
                conn_close(c, ep);
                reconnects++;
                if (conn_open(c, &sa, ep) < 0) {
                    perror("headbucket_load: reconnect");
                    return 1;
                }
            }
        }
    }
    double el = now_s() - t0;
    printf("mode=%s conns=%d seconds=%.2f requests=%llu rps=%.1f errors=%llu "
           "reconnects=%llu expect=%d\n",
           o.mode, o.conns, el, (unsigned long long)done, (double)done / el,
           (unsigned long long)errors, (unsigned long long)reconnects, want);
    for (int i = 0; i < o.conns; i++)
        conn_close(&cs[i], ep);
    free(cs);
    free(evs);
    close(ep);
    return 0;
}
