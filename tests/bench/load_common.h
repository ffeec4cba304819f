/*
 * load_common.h — what the closed-loop load tools share (headbucket_load.c,
 * objects_load.c, multipart_load.c): command-line tables, SigV4 request
 * heads, non-blocking connections, HTTP/1.1 response-head parsing, latency
 * histograms (also used by put_ceiling.c).
 *
 * Header-only (static inline) so every load tool stays one
 * self-contained binary under the Makefile's bench rule.
 *
 * SigV4 here is header auth with the signed headers
 * host;x-amz-content-sha256;x-amz-date, an empty query (or, with the _q
 * variants, a query the caller gives in canonical form) and a path made only
 * of unreserved characters and '/' (the canonical URI is then the path itself).
 */
#ifndef TARN_BENCH_LOAD_COMMON_H
#define TARN_BENCH_LOAD_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <math.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LC_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- command line: "--name value" pairs described by a table ---- */

enum lc_opt_type { LC_STR, LC_INT, LC_DBL, LC_U64 };

struct lc_opt {
    const char *name; /* with the leading "--" */
    enum lc_opt_type type;
    void *ptr; /* const char **, int *, double * or uint64_t * */
};

/* A size with an optional K/M/G suffix (binary). -1 when malformed. */
static inline int lc_parse_size(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || errno)
        return -1;
    int shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (*end)
        return -1;
    *out = (uint64_t)n << shift;
    return 0;
}

static inline int lc_opt_set(const struct lc_opt *o, const char *v)
{
    switch (o->type) {
    case LC_STR:
        *(const char **)o->ptr = v;
        return 0;
    case LC_INT:
        *(int *)o->ptr = atoi(v);
        return 0;
    case LC_DBL:
        *(double *)o->ptr = atof(v);
        return 0;
    case LC_U64:
        return lc_parse_size(v, (uint64_t *)o->ptr);
    }
    return -1;
}

/* Every argument must be a known "--name value" pair. 0 ok, -1 otherwise. */
static inline int lc_parse_args(int argc, char **argv, const struct lc_opt *opts)
{
    for (int i = 1; i < argc; i += 2) {
        const struct lc_opt *o = opts;
        while (o->name && strcmp(o->name, argv[i]) != 0)
            o++;
        if (!o->name || i + 1 >= argc || lc_opt_set(o, argv[i + 1]) < 0)
            return -1;
    }
    return 0;
}

/* ---- time ---- */

static inline double lc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This process's user + system CPU seconds so far. */
static inline double lc_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- latency histogram: 8 buckets per power of two of microseconds ---- */

#define LC_HIST 256

struct lc_hist {
    uint64_t n[LC_HIST];
};

static inline void lc_hist_add(struct lc_hist *h, double seconds)
{
    double us = seconds * 1e6;
    int i = us <= 1 ? 0 : (int)(log2(us) * 8);
    h->n[i < LC_HIST ? i : LC_HIST - 1]++;
}

static inline void lc_hist_merge(struct lc_hist *into, const struct lc_hist *from)
{
    for (int i = 0; i < LC_HIST; i++)
        into->n[i] += from->n[i];
}

/* The q-quantile in milliseconds (a bucket's upper bound), 0 when empty. */
static inline double lc_hist_ms(const struct lc_hist *h, double q)
{
    uint64_t total = 0, seen = 0;
    for (int i = 0; i < LC_HIST; i++)
        total += h->n[i];
    for (int i = 0; i < LC_HIST && total; i++) {
        seen += h->n[i];
        if ((double)seen >= q * (double)total)
            return pow(2, (i + 1) / 8.0) / 1000;
    }
    return 0;
}

/* ---- SigV4 (AWS SigV4, "Create a signature") ---- */

struct lc_creds {
    const char *ak, *sk, *region;
};

/* What one request head says. creds NULL: no Authorization header. */
struct lc_req {
    const char *method, *path, *host; /* host as sent: "127.0.0.1:9000" */
    const char *payload_hash;         /* x-amz-content-sha256 */
    const char *extra;                /* more header lines, each ending CRLF, or NULL */
    const struct lc_creds *creds;
};

static inline void lc_hex(const unsigned char *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

static inline void lc_hmac256(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int olen = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &olen);
}

/* The signing key for a date (YYYYMMDD) and region. */
static inline void lc_signing_key(const struct lc_creds *c, const char *date, unsigned char k[32])
{
    char ksecret[300];
    unsigned char k1[32], k2[32], k3[32];
    snprintf(ksecret, sizeof ksecret, "AWS4%s", c->sk);
    lc_hmac256(ksecret, strlen(ksecret), date, k1);
    lc_hmac256(k1, 32, c->region, k2);
    lc_hmac256(k2, 32, "s3", k3);
    lc_hmac256(k3, 32, "aws4_request", k);
}

/* Hex signature of rq with the canonical query string query ("" for none;
 * otherwise already sorted and URI-encoded, "name=value&...", a name without
 * a value written "name=") at amz_date (YYYYMMDDTHHMMSSZ); scope written out. */
static inline void lc_signature_q(const struct lc_req *rq, const char *query,
                                  const char *amz_date, char *scope, size_t scope_cap,
                                  char sig[65])
{
    char creq[2048], sts[512], creq_hash[65], date[9];
    unsigned char h[32], k[32];
    memcpy(date, amz_date, 8);
    date[8] = 0;
    snprintf(creq, sizeof creq,
             "%s\n%s\n%s\nhost:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n\n"
             "host;x-amz-content-sha256;x-amz-date\n%s",
             rq->method, rq->path, query, rq->host, rq->payload_hash, amz_date,
             rq->payload_hash);
    SHA256((const unsigned char *)creq, strlen(creq), h);
    lc_hex(h, 32, creq_hash);
    snprintf(scope, scope_cap, "%s/%s/s3/aws4_request", date, rq->creds->region);
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, creq_hash);
    lc_signing_key(rq->creds, date, k);
    lc_hmac256(k, 32, sts, h);
    lc_hex(h, 32, sig);
}

/* Hex signature of rq (empty query) at amz_date; scope written out. */
static inline void lc_signature(const struct lc_req *rq, const char *amz_date, char *scope,
                                size_t scope_cap, char sig[65])
{
    lc_signature_q(rq, "", amz_date, scope, scope_cap, sig);
}

/* Write rq's head, its request line "METHOD path?query" (just "path" when
 * query is ""; query as for lc_signature_q), for the wall-clock second now
 * into buf. Its length, or -1 when it does not fit. */
static inline int lc_request_head_q(char *buf, size_t cap, const struct lc_req *rq,
                                    const char *query, time_t now)
{
    struct tm tm;
    char amz_date[32], auth[600] = "";
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    if (rq->creds) {
        char scope[128], sig[65];
        lc_signature_q(rq, query, amz_date, scope, sizeof scope, sig);
        snprintf(auth, sizeof auth,
                 "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, "
                 "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s\r\n",
                 rq->creds->ak, scope, sig);
    }
    int n = snprintf(buf, cap,
                     "%s %s%s%s HTTP/1.1\r\nHost: %s\r\nx-amz-content-sha256: %s\r\n"
                     "x-amz-date: %s\r\n%s%s\r\n",
                     rq->method, rq->path, *query ? "?" : "", query, rq->host,
                     rq->payload_hash, amz_date, auth, rq->extra ? rq->extra : "");
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* Write rq's head (empty query) for the wall-clock second now into buf. Its
 * length, or -1 when it does not fit. */
static inline int lc_request_head(char *buf, size_t cap, const struct lc_req *rq, time_t now)
{
    return lc_request_head_q(buf, cap, rq, "", now);
}

/* ---- connections ---- */

static inline int lc_addr(const char *host, int port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return port > 0 && port <= 65535 && inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* A non-blocking TCP_NODELAY socket with its connect started, or -1. */
static inline int lc_connect(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- responses ---- */

struct lc_resp {
    int status;
    int keep_alive;             /* no "Connection: close" */
    int chunked;                /* Transfer-Encoding: chunked */
    long long content_length;   /* -1 when absent */
    size_t head_len;            /* bytes up to and including the blank line */
};

/* The value of header line p ("Name: value") if its name is name, else NULL. */
static inline const char *lc_header_value(const char *p, const char *name)
{
    size_t n = strlen(name);
    if (strncasecmp(p, name, n) != 0 || p[n] != ':')
        return NULL;
    p += n + 1;
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static inline void lc_resp_header(struct lc_resp *r, const char *line)
{
    const char *v;
    if ((v = lc_header_value(line, "Connection")) && strncasecmp(v, "close", 5) == 0)
        r->keep_alive = 0;
    else if ((v = lc_header_value(line, "Content-Length")))
        r->content_length = strtoll(v, NULL, 10);
    else if ((v = lc_header_value(line, "Transfer-Encoding")) && strncasecmp(v, "chunked", 7) == 0)
        r->chunked = 1;
}

/* Parse the response head at the start of buf[0..len). 1 parsed, 0 not
 * complete yet (and len < cap), -1 garbage or a head longer than cap. */
static inline int lc_parse_head(const char *buf, size_t len, size_t cap, struct lc_resp *r)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return len >= cap ? -1 : 0;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    r->status = atoi(buf + 9);
    r->keep_alive = 1;
    r->chunked = 0;
    r->content_length = -1;
    r->head_len = (size_t)(end - buf) + 4;
    for (const char *p = memchr(buf, '\n', (size_t)(end - buf)); p && p < end;
         p = memchr(p, '\n', (size_t)(end - p))) {
        p++;
        lc_resp_header(r, p);
    }
    return 1;
}

#endif
