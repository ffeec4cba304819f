/*
 * multipart_load.c — one multipart upload, or one read of a big object, over
 * raw keep-alive sockets (issue 4's benchmark).
 *
 * One thread, one epoll set, at most one request in flight per connection;
 * every idle connection takes the next piece of work.
 *
 *   multipart_load --host H --port P --op upload --bucket B --key K
 *                  --size 1G --part-size 16M --conns 4
 *                  --access-key K --secret-key S [--region R] [--seconds LIMIT]
 *
 *   CreateMultipartUpload (POST ?uploads); then UploadPart (PUT
 *   ?partNumber=N&uploadId=U) for ceil(size / part-size) parts, each body the
 *   same pre-filled part-size buffer (a short last part its first bytes),
 *   Content-Length and x-amz-content-sha256: UNSIGNED-PAYLOAD; then
 *   CompleteMultipartUpload (POST ?uploadId=U) with every part number and the
 *   ETag the server returned for it. Every part's ETag must be the MD5 of its
 *   bytes and the object's S3's "MD5 of the part MD5s, -N". Prints one line:
 *     op=upload size=N part_size=P parts=N conns=C seconds=S mib_s=M
 *     create_ms=A parts_seconds=S parts_mib_s=M part_p50_ms=A part_p99_ms=B
 *     complete_ms=C errors=E reconnects=R cpu_s=T
 *   seconds and mib_s run from sending Create to Complete's answer;
 *   parts_seconds from the first part sent to the last part's answer.
 *
 *   multipart_load --host H --port P --op get --bucket B --key K --size 1G
 *                  --conns C [--range 16M] [--verify 1] [--auth signed|none]
 *                  [--access-key K --secret-key S] [--region R] [--seconds LIMIT]
 *
 *   Without --range: one GET of the whole object (expects 200 with
 *   Content-Length = --size; use --conns 1). With --range R: GETs with
 *   "Range: bytes=a-b" of R bytes each (the last shorter), as the SDKs'
 *   transfer managers read, expecting 206 with the matching Content-Length and
 *   Content-Range. Bodies are read into a scratch buffer; --verify 1 also
 *   compares every byte with what --op upload sent (object byte o =
 *   buffer[o mod part-size], so give the same --part-size). --auth none (for
 *   nginx) sends no Authorization. Prints one line:
 *     op=get auth=signed size=N range=R conns=C requests=N seconds=S mib_s=M
 *     p50_ms=A p99_ms=B errors=E reconnects=R verified=0|1 cpu_s=T
 *
 * Any failed request ends the run: the reason (status, the first bytes of
 * the answer's body) goes to stderr, the line is still printed with
 * errors > 0, exit 1. So does the --seconds limit (default 600), after one
 * stderr line per connection saying what it was doing. Exit 2 on bad
 * arguments.
 */
#include "tests/bench/load_common.h"

#include <openssl/evp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/uio.h>

#define HEAD_MAX 4096
#define RBUF 16384
#define DISCARD (256 * 1024)
#define CAPTURE_MAX (1u << 20)
#define MAX_EVENTS 64
#define MAX_PARTS 10000
#define ID_MAX 256

enum { C_IDLE, C_SENDING, C_WAITING };
enum { T_NONE, T_CREATE, T_PART, T_COMPLETE, T_GET };
enum { P_CREATE, P_PARTS, P_COMPLETE, P_GET };

static const char *const kind_name[] = {"none", "CreateMultipartUpload", "UploadPart",
                                        "CompleteMultipartUpload", "GetObject"};

struct opts {
    const char *host, *op, *auth, *bucket, *key, *ak, *sk, *region;
    int port, conns, verify;
    double seconds;
    uint64_t size, part_size, range;
};

struct task {
    int kind;
    uint64_t id;       /* part number (1-based) or range index */
    uint64_t off, len; /* object offset and bytes (part body, or range) */
};

struct conn {
    int fd, idx, state, have_resp;
    unsigned gen; /* bumped by every (re)connect */
    struct task t;
    char head[HEAD_MAX];
    size_t head_len, head_sent;
    const unsigned char *body;
    uint64_t body_len, body_sent, body_got;
    char rbuf[RBUF];
    size_t rlen;
    struct lc_resp resp;
    char etag[128], crange[128];
    char *cap; /* the answer's body when small (XML) */
    size_t cap_len;
    double t_start;
};

struct run {
    struct opts o;
    struct sockaddr_in sa;
    struct lc_creds creds;
    char hosthdr[300], path[1100];
    int ep, is_upload, phase, failed;
    struct conn *cs;
    unsigned char *buf; /* part-size pattern */
    size_t buf_len;
    char *discard;
    double deadline;
    /* work of the current phase */
    uint64_t todo, next, outstanding;
    /* upload */
    char upload_id[ID_MAX];
    uint64_t nparts;
    char (*etags)[128];
    char md5_full[33], md5_last[33], want_etag[48];
    char *xml;
    size_t xml_len;
    /* get */
    uint64_t bytes_ok;
    uint64_t errors, reconnects;
    struct lc_hist hist;
};

/* ---- the pattern and its digests ---- */

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

static void md5_hex(const void *p, size_t n, char out[33], unsigned char bin[16])
{
    unsigned char d[16];
    unsigned int len = 16;
    EVP_Digest(p, n, d, &len, EVP_md5(), NULL);
    lc_hex(d, 16, out);
    if (bin)
        memcpy(bin, d, 16);
}

static uint64_t part_len(const struct run *rn, uint64_t num)
{
    uint64_t off = (num - 1) * rn->o.part_size;
    return rn->o.size - off < rn->o.part_size ? rn->o.size - off : rn->o.part_size;
}

/* S3's multipart ETag of this upload: MD5 of the binary part MD5s, "-N". */
static int expected_etags(struct run *rn)
{
    unsigned char full[16], last[16];
    md5_hex(rn->buf, rn->buf_len, rn->md5_full, full);
    uint64_t ll = part_len(rn, rn->nparts);
    md5_hex(rn->buf, (size_t)ll, rn->md5_last, last);
    unsigned char *cat = malloc(16 * rn->nparts);
    if (!cat)
        return -1;
    for (uint64_t i = 0; i < rn->nparts; i++)
        memcpy(cat + 16 * i, i + 1 == rn->nparts ? last : full, 16);
    char hex[33];
    md5_hex(cat, 16 * rn->nparts, hex, NULL);
    free(cat);
    snprintf(rn->want_etag, sizeof rn->want_etag, "%s-%llu", hex,
             (unsigned long long)rn->nparts);
    return 0;
}

/* ---- failures ---- */

static void describe(const struct conn *c)
{
    fprintf(stderr, " — %s", kind_name[c->t.kind]);
    if (c->t.kind == T_PART)
        fprintf(stderr, " %llu", (unsigned long long)c->t.id);
    if (c->t.kind == T_GET)
        fprintf(stderr, " bytes %llu-%llu", (unsigned long long)c->t.off,
                (unsigned long long)(c->t.off + c->t.len - 1));
    fprintf(stderr, " on connection %d: status %d, %llu of %llu body bytes sent,"
                    " %llu received, after %.3f s",
            c->idx, c->have_resp ? c->resp.status : 0, (unsigned long long)c->body_sent,
            (unsigned long long)c->body_len, (unsigned long long)c->body_got,
            lc_now() - c->t_start);
    if (c->cap_len)
        fprintf(stderr, "; body: %.*s", (int)(c->cap_len < 600 ? c->cap_len : 600), c->cap);
}

/* The run has failed: say why (the first failure only). */
static void fail(struct run *rn, const struct conn *c, const char *what)
{
    rn->errors++;
    if (rn->failed++)
        return;
    fprintf(stderr, "multipart_load: %s", what);
    if (c)
        describe(c);
    fputc('\n', stderr);
}

/* ---- requests ---- */

static void watch(struct run *rn, struct conn *c, int out)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0),
                             .data.ptr = c};
    epoll_ctl(rn->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* The next piece of this phase's work, if any. */
static int next_task(struct run *rn, struct task *t)
{
    if (rn->next >= rn->todo)
        return 0;
    uint64_t i = rn->next++;
    memset(t, 0, sizeof *t);
    switch (rn->phase) {
    case P_CREATE:
        t->kind = T_CREATE;
        break;
    case P_COMPLETE:
        t->kind = T_COMPLETE;
        break;
    case P_PARTS:
        t->kind = T_PART;
        t->id = i + 1;
        t->off = i * rn->o.part_size;
        t->len = part_len(rn, t->id);
        break;
    case P_GET:
        t->kind = T_GET;
        t->id = i;
        t->off = rn->o.range ? i * rn->o.range : 0;
        t->len = rn->o.range && rn->o.size - t->off > rn->o.range ? rn->o.range
                                                                   : rn->o.size - t->off;
        break;
    }
    return 1;
}

static int head_build(struct run *rn, struct conn *c)
{
    char query[ID_MAX + 64] = "", extra[256];
    const char *method = "GET", *hash = LC_EMPTY_SHA256;
    c->body = NULL;
    c->body_len = 0;
    switch (c->t.kind) {
    case T_CREATE:
        method = "POST";
        snprintf(query, sizeof query, "uploads=");
        snprintf(extra, sizeof extra, "Content-Length: 0\r\n");
        break;
    case T_PART:
        method = "PUT";
        hash = "UNSIGNED-PAYLOAD";
        snprintf(query, sizeof query, "partNumber=%llu&uploadId=%s",
                 (unsigned long long)c->t.id, rn->upload_id);
        c->body = rn->buf;
        c->body_len = c->t.len;
        snprintf(extra, sizeof extra, "Content-Length: %llu\r\n", (unsigned long long)c->t.len);
        break;
    case T_COMPLETE:
        method = "POST";
        hash = "UNSIGNED-PAYLOAD";
        snprintf(query, sizeof query, "uploadId=%s", rn->upload_id);
        c->body = (const unsigned char *)rn->xml;
        c->body_len = rn->xml_len;
        snprintf(extra, sizeof extra, "Content-Type: application/xml\r\nContent-Length: %zu\r\n",
                 rn->xml_len);
        break;
    default:
        if (rn->o.range)
            snprintf(extra, sizeof extra, "Range: bytes=%llu-%llu\r\n",
                     (unsigned long long)c->t.off, (unsigned long long)(c->t.off + c->t.len - 1));
        else
            extra[0] = 0;
    }
    struct lc_req rq = {method, rn->path, rn->hosthdr, hash, extra,
                        strcmp(rn->o.auth, "signed") == 0 ? &rn->creds : NULL};
    int n = lc_request_head_q(c->head, sizeof c->head, &rq, query, time(NULL));
    if (n < 0)
        return -1;
    c->head_len = (size_t)n;
    return 0;
}

/* Give an idle connection the next piece of work. 0 ok (or none left), -1 failed. */
static int conn_assign(struct run *rn, struct conn *c)
{
    if (rn->failed || c->fd < 0 || c->state != C_IDLE || !next_task(rn, &c->t))
        return 0;
    if (head_build(rn, c) < 0) {
        fail(rn, c, "request head too long");
        return -1;
    }
    rn->outstanding++;
    c->state = C_SENDING;
    c->have_resp = 0;
    c->head_sent = 0;
    c->body_sent = 0;
    c->body_got = 0;
    c->cap_len = 0;
    c->etag[0] = c->crange[0] = 0;
    c->t_start = lc_now();
    watch(rn, c, 1);
    return 0;
}

/* Write what the socket takes of head + body. 0 ok, -1 connection failed. */
static int conn_send(struct run *rn, struct conn *c)
{
    while (c->head_sent < c->head_len || c->body_sent < c->body_len) {
        struct iovec iov[2] = {
            {c->head + c->head_sent, c->head_len - c->head_sent},
            {(void *)(c->body + c->body_sent), (size_t)(c->body_len - c->body_sent)},
        };
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = c->body_len ? 2 : 1};
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

/* ---- connections ---- */

static int conn_open(struct run *rn, struct conn *c)
{
    c->fd = lc_connect(&rn->sa);
    if (c->fd < 0)
        return -1;
    c->gen++;
    c->state = C_IDLE;
    c->rlen = 0;
    c->have_resp = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
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

/* An idle connection the server closed: open another. */
static int conn_reopen(struct run *rn, struct conn *c)
{
    conn_close(rn, c);
    rn->reconnects++;
    if (conn_open(rn, c) < 0) {
        fail(rn, NULL, "cannot reconnect");
        return -1;
    }
    return conn_assign(rn, c);
}

/* ---- answers ---- */

static void head_strings(struct conn *c)
{
    const char *end = memmem(c->rbuf, c->resp.head_len, "\r\n\r\n", 4);
    for (const char *p = memchr(c->rbuf, '\n', c->resp.head_len); p && p < end;
         p = memchr(p, '\n', (size_t)(end - p))) {
        p++;
        const char *v;
        char *dst = NULL;
        if ((v = lc_header_value(p, "ETag")))
            dst = c->etag;
        else if ((v = lc_header_value(p, "Content-Range")))
            dst = c->crange;
        if (!dst)
            continue;
        size_t n = strcspn(v, "\r\n");
        if (n > 127)
            n = 127;
        memcpy(dst, v, n);
        dst[n] = 0;
    }
}

/* Compare received body bytes at object offset off with the pattern. */
static int verify_bytes(const struct run *rn, uint64_t off, const char *p, size_t n)
{
    while (n) {
        size_t at = (size_t)(off % rn->buf_len), k = rn->buf_len - at < n ? rn->buf_len - at : n;
        if (memcmp(p, rn->buf + at, k))
            return -1;
        off += k;
        p += k;
        n -= k;
    }
    return 0;
}

/* Body bytes p[0..n) arrived: keep them (XML, errors) or check them (GET). */
static int body_bytes(struct run *rn, struct conn *c, const char *p, size_t n)
{
    if (c->t.kind != T_GET || c->resp.status / 100 != 2) {
        size_t k = c->cap_len + n <= CAPTURE_MAX ? n : CAPTURE_MAX - c->cap_len;
        memcpy(c->cap + c->cap_len, p, k);
        c->cap_len += k;
        return 0;
    }
    if (rn->o.verify && verify_bytes(rn, c->t.off + c->body_got, p, n) < 0) {
        fail(rn, c, "GET body differs from the uploaded bytes");
        return -1;
    }
    return 0;
}

/* The text of <name> in xml[0..len), NUL-terminated into out, or -1. */
static int xml_text(const char *xml, size_t len, const char *name, char *out, size_t cap)
{
    char open[64], close_[64];
    snprintf(open, sizeof open, "<%s>", name);
    snprintf(close_, sizeof close_, "</%s>", name);
    const char *a = memmem(xml, len, open, strlen(open));
    if (!a)
        return -1;
    a += strlen(open);
    const char *b = memmem(a, len - (size_t)(a - xml), close_, strlen(close_));
    if (!b || (size_t)(b - a) >= cap)
        return -1;
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = 0;
    return 0;
}

static int id_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.' || *s == '~'))
            return 0;
    return 1;
}

/* The answer to c's request is complete: check it and take its result. */
static int answer_check(struct run *rn, struct conn *c)
{
    const struct lc_resp *r = &c->resp;
    char want[128];
    switch (c->t.kind) {
    case T_CREATE:
        if (r->status != 200 || xml_text(c->cap, c->cap_len, "UploadId", rn->upload_id,
                                         sizeof rn->upload_id) < 0)
            return fail(rn, c, "CreateMultipartUpload failed"), -1;
        if (!*rn->upload_id || !id_ok(rn->upload_id))
            return fail(rn, c, "upload id needs URL escaping (not supported here)"), -1;
        return 0;
    case T_PART:
        snprintf(want, sizeof want, "\"%s\"", c->t.id == rn->nparts ? rn->md5_last : rn->md5_full);
        if (r->status != 200)
            return fail(rn, c, "UploadPart failed"), -1;
        if (strcasecmp(c->etag, want))
            return fail(rn, c, "UploadPart's ETag is not the part's MD5"), -1;
        snprintf(rn->etags[c->t.id - 1], sizeof rn->etags[0], "%s", c->etag);
        return 0;
    case T_COMPLETE:
        if (r->status != 200 || !memmem(c->cap, c->cap_len, "<CompleteMultipartUploadResult", 30))
            return fail(rn, c, "CompleteMultipartUpload failed"), -1;
        if (!memmem(c->cap, c->cap_len, rn->want_etag, strlen(rn->want_etag)))
            return fail(rn, c, "CompleteMultipartUpload's ETag is not MD5-of-MD5s-N"), -1;
        return 0;
    default:
        if (r->status != (rn->o.range ? 206 : 200) || (uint64_t)r->content_length != c->t.len)
            return fail(rn, c, "GET answered unexpectedly"), -1;
        if (rn->o.range) {
            snprintf(want, sizeof want, "bytes %llu-%llu/%llu", (unsigned long long)c->t.off,
                     (unsigned long long)(c->t.off + c->t.len - 1),
                     (unsigned long long)rn->o.size);
            if (strcmp(want, c->crange))
                return fail(rn, c, "GET's Content-Range is not the range asked for"), -1;
        }
        rn->bytes_ok += c->t.len;
        return 0;
    }
}

/* An answer is complete. 0 ok, -1 the run has failed. */
static int answer_done(struct run *rn, struct conn *c)
{
    if (c->state == C_SENDING) {
        fail(rn, c, "answered before the body was sent");
        return -1;
    }
    if (answer_check(rn, c) < 0)
        return -1;
    if (c->t.kind == T_PART || c->t.kind == T_GET)
        lc_hist_add(&rn->hist, lc_now() - c->t_start);
    rn->outstanding--;
    c->state = C_IDLE;
    c->have_resp = 0;
    c->rlen = 0;
    c->t.kind = T_NONE;
    if (!c->resp.keep_alive)
        return conn_reopen(rn, c);
    return conn_assign(rn, c);
}

/* Parse the head in rbuf. 1 parsed, 0 need more, -1 failed. */
static int take_head(struct run *rn, struct conn *c)
{
    int rc = lc_parse_head(c->rbuf, c->rlen, sizeof c->rbuf, &c->resp);
    if (rc == 0)
        return 0;
    if (rc < 0)
        return fail(rn, c, "unparsable answer head"), -1;
    c->have_resp = 1;
    if (c->resp.chunked || c->resp.content_length < 0)
        return fail(rn, c, "answer without Content-Length"), -1;
    head_strings(c);
    size_t extra = c->rlen - c->resp.head_len;
    if (extra > (uint64_t)c->resp.content_length)
        return fail(rn, c, "more bytes than Content-Length"), -1;
    if (body_bytes(rn, c, c->rbuf + c->resp.head_len, extra) < 0)
        return -1;
    c->body_got = extra;
    return 1;
}

/* Read body bytes. 1 complete, 0 need more, -1 failed. */
static int read_body(struct run *rn, struct conn *c)
{
    uint64_t cl = (uint64_t)c->resp.content_length;
    while (c->body_got < cl) {
        uint64_t want = cl - c->body_got;
        ssize_t n = recv(c->fd, rn->discard, want < DISCARD ? (size_t)want : DISCARD, 0);
        if (n > 0) {
            if (body_bytes(rn, c, rn->discard, (size_t)n) < 0)
                return -1;
            c->body_got += (uint64_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return fail(rn, c, n ? "recv failed" : "connection closed mid-answer"), -1;
    }
    return 1;
}

/* Socket readable. 0 ok, -1 the run has failed. */
static int on_readable(struct run *rn, struct conn *c)
{
    for (;;) {
        if (!c->have_resp) {
            ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, 0);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return 0;
            if (n <= 0) {
                if (c->state == C_IDLE) /* the server closed an idle keep-alive */
                    return conn_reopen(rn, c);
                return fail(rn, c, n ? "recv failed" : "connection closed"), -1;
            }
            if (c->state == C_IDLE)
                return fail(rn, c, "bytes on an idle connection"), -1;
            c->rlen += (size_t)n;
            int rc = take_head(rn, c);
            if (rc <= 0)
                return rc;
        }
        int rc = read_body(rn, c);
        if (rc <= 0)
            return rc;
        unsigned gen = c->gen;
        if (answer_done(rn, c) < 0)
            return -1;
        if (c->state == C_IDLE || c->gen != gen)
            return 0;
    }
}

static int on_event(struct run *rn, const struct epoll_event *ev)
{
    struct conn *c = ev->data.ptr;
    if (ev->events & EPOLLIN) {
        unsigned gen = c->gen;
        if (on_readable(rn, c) < 0)
            return -1;
        if (c->gen != gen)
            return 0; /* reopened: the rest of this event was the old socket's */
    }
    if ((ev->events & EPOLLOUT) && c->state == C_SENDING && conn_send(rn, c) < 0)
        return fail(rn, c, "send failed (connection lost)"), -1;
    if (ev->events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
        if (c->state == C_IDLE)
            return conn_reopen(rn, c);
        if (!(ev->events & EPOLLIN) || (ev->events & (EPOLLERR | EPOLLHUP)))
            return fail(rn, c, "connection lost mid-request"), -1;
    }
    return 0;
}

/* Run one phase to its end. 0 ok, -1 failed or out of time. */
static int run_phase(struct run *rn, int phase, uint64_t todo)
{
    struct epoll_event evs[MAX_EVENTS];
    rn->phase = phase;
    rn->todo = todo;
    rn->next = 0;
    for (int i = 0; i < rn->o.conns; i++)
        if (conn_assign(rn, &rn->cs[i]) < 0)
            return -1;
    while (rn->outstanding || rn->next < rn->todo) {
        double left = rn->deadline - lc_now();
        if (left <= 0) {
            fprintf(stderr, "multipart_load: out of time (--seconds %.0f), %llu of %llu "
                            "requests of this phase answered\n", rn->o.seconds,
                    (unsigned long long)(rn->next - rn->outstanding), (unsigned long long)rn->todo);
            for (int i = 0; i < rn->o.conns; i++)
                if (rn->cs[i].state != C_IDLE) {
                    fprintf(stderr, "multipart_load:   still waiting");
                    describe(&rn->cs[i]);
                    fputc('\n', stderr);
                }
            rn->errors++;
            rn->failed++;
            return -1;
        }
        int n = epoll_wait(rn->ep, evs, MAX_EVENTS, (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR) {
            perror("multipart_load: epoll_wait");
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (on_event(rn, &evs[i]) < 0 || rn->failed)
                return -1;
    }
    return rn->failed ? -1 : 0;
}

/* ---- the two operations ---- */

static int complete_xml(struct run *rn)
{
    size_t cap = 128 + rn->nparts * 200, n = 0;
    rn->xml = malloc(cap);
    if (!rn->xml)
        return -1;
    n += (size_t)snprintf(rn->xml + n, cap - n, "<CompleteMultipartUpload "
                                                "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (uint64_t i = 0; i < rn->nparts; i++)
        n += (size_t)snprintf(rn->xml + n, cap - n,
                              "<Part><ETag>%s</ETag><PartNumber>%llu</PartNumber></Part>",
                              rn->etags[i], (unsigned long long)(i + 1));
    n += (size_t)snprintf(rn->xml + n, cap - n, "</CompleteMultipartUpload>");
    rn->xml_len = n;
    return n < cap ? 0 : -1;
}

static int do_upload(struct run *rn)
{
    rn->nparts = (rn->o.size + rn->o.part_size - 1) / rn->o.part_size;
    rn->etags = calloc(rn->nparts, sizeof *rn->etags);
    if (!rn->etags || expected_etags(rn) < 0)
        return -1;
    double t0 = lc_now();
    int rc = run_phase(rn, P_CREATE, 1);
    double t1 = lc_now();
    if (!rc)
        rc = run_phase(rn, P_PARTS, rn->nparts);
    double t2 = lc_now();
    if (!rc)
        rc = complete_xml(rn) < 0 ? -1 : 0;
    double t3 = lc_now();
    if (!rc)
        rc = run_phase(rn, P_COMPLETE, 1);
    double t4 = lc_now(), el = t4 - t0;
    double mib = (double)rn->o.size / 1048576.0;
    printf("op=upload size=%llu part_size=%llu parts=%llu conns=%d seconds=%.3f mib_s=%.1f "
           "create_ms=%.1f parts_seconds=%.3f parts_mib_s=%.1f part_p50_ms=%.1f part_p99_ms=%.1f "
           "complete_ms=%.1f errors=%llu reconnects=%llu cpu_s=%.2f\n",
           (unsigned long long)rn->o.size, (unsigned long long)rn->o.part_size,
           (unsigned long long)rn->nparts, rn->o.conns, el, rc ? 0 : mib / el,
           (t1 - t0) * 1000, t2 - t1, rc ? 0 : mib / (t2 - t1), lc_hist_ms(&rn->hist, 0.5),
           lc_hist_ms(&rn->hist, 0.99), rc ? 0 : (t4 - t3) * 1000,
           (unsigned long long)rn->errors, (unsigned long long)rn->reconnects, lc_cpu_seconds());
    return rc;
}

static int do_get(struct run *rn)
{
    uint64_t n = rn->o.range ? (rn->o.size + rn->o.range - 1) / rn->o.range : 1;
    double t0 = lc_now();
    int rc = run_phase(rn, P_GET, n);
    double el = lc_now() - t0;
    printf("op=get auth=%s size=%llu range=%llu conns=%d requests=%llu seconds=%.3f mib_s=%.1f "
           "p50_ms=%.1f p99_ms=%.1f errors=%llu reconnects=%llu verified=%d cpu_s=%.2f\n",
           rn->o.auth, (unsigned long long)rn->o.size, (unsigned long long)rn->o.range,
           rn->o.conns, (unsigned long long)n, el, (double)rn->bytes_ok / 1048576.0 / el,
           lc_hist_ms(&rn->hist, 0.5), lc_hist_ms(&rn->hist, 0.99),
           (unsigned long long)rn->errors, (unsigned long long)rn->reconnects,
           !rc && rn->o.verify, lc_cpu_seconds());
    return rc;
}

/* ---- set-up ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: multipart_load --host H --port P --op upload|get --bucket B --key K\n"
            "         --size N[K|M|G] --conns C [--part-size 16M] [--range R] [--verify 1]\n"
            "         [--auth signed|none] [--access-key K --secret-key S] [--region R]\n"
            "         [--seconds LIMIT]\n");
}

static int name_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.' || *s == '~' || *s == '/'))
            return 0;
    return 1;
}

static int opts_parse(int argc, char **argv, struct opts *o)
{
    const struct lc_opt table[] = {
        {"--host", LC_STR, &o->host},         {"--port", LC_INT, &o->port},
        {"--op", LC_STR, &o->op},             {"--auth", LC_STR, &o->auth},
        {"--bucket", LC_STR, &o->bucket},     {"--key", LC_STR, &o->key},
        {"--size", LC_U64, &o->size},         {"--part-size", LC_U64, &o->part_size},
        {"--range", LC_U64, &o->range},       {"--conns", LC_INT, &o->conns},
        {"--verify", LC_INT, &o->verify},     {"--seconds", LC_DBL, &o->seconds},
        {"--access-key", LC_STR, &o->ak},     {"--secret-key", LC_STR, &o->sk},
        {"--region", LC_STR, &o->region},     {NULL, LC_STR, NULL},
    };
    if (lc_parse_args(argc, argv, table) < 0)
        return -1;
    int up = !strcmp(o->op, "upload"), is_signed = !strcmp(o->auth, "signed");
    if ((!up && strcmp(o->op, "get")) || (!is_signed && strcmp(o->auth, "none")))
        return -1;
    if (!name_ok(o->bucket) || !name_ok(o->key) || !o->size || !o->part_size)
        return -1;
    if (o->conns <= 0 || o->conns > 256 || o->seconds <= 0)
        return -1;
    if (up && (!is_signed || (o->size + o->part_size - 1) / o->part_size > MAX_PARTS))
        return -1;
    return is_signed && (!*o->ak || !*o->sk) ? -1 : 0;
}

static int run_open(struct run *rn)
{
    rn->buf_len = (size_t)rn->o.part_size;
    rn->buf = rn->is_upload || rn->o.verify ? malloc(rn->buf_len) : NULL;
    rn->discard = malloc(DISCARD);
    rn->cs = calloc((size_t)rn->o.conns, sizeof *rn->cs);
    rn->ep = epoll_create1(EPOLL_CLOEXEC);
    if ((!rn->buf && (rn->is_upload || rn->o.verify)) || !rn->discard || !rn->cs || rn->ep < 0) {
        perror("multipart_load");
        return -1;
    }
    if (rn->buf)
        fill_pattern(rn->buf, rn->buf_len);
    for (int i = 0; i < rn->o.conns; i++) {
        struct conn *c = &rn->cs[i];
        c->idx = i;
        c->fd = -1;
        if (!(c->cap = malloc(CAPTURE_MAX)) || conn_open(rn, c) < 0) {
            perror("multipart_load: connect");
            return -1;
        }
    }
    return 0;
}

static void run_free(struct run *rn)
{
    for (int i = 0; rn->cs && i < rn->o.conns; i++) {
        conn_close(rn, &rn->cs[i]);
        free(rn->cs[i].cap);
    }
    free(rn->cs);
    free(rn->buf);
    free(rn->discard);
    free(rn->etags);
    free(rn->xml);
    if (rn->ep >= 0)
        close(rn->ep);
}

int main(int argc, char **argv)
{
    static struct run rn;
    rn.o = (struct opts){.host = "127.0.0.1", .op = "", .auth = "signed", .ak = "", .sk = "",
                         .region = "us-east-1", .port = 9000, .conns = 1, .seconds = 600,
                         .part_size = 16ull << 20};
    rn.ep = -1;
    if (opts_parse(argc, argv, &rn.o) < 0) {
        usage();
        return 2;
    }
    if (lc_addr(rn.o.host, rn.o.port, &rn.sa) < 0) {
        fprintf(stderr, "multipart_load: --host must be an IPv4 address and --port 1..65535\n");
        return 2;
    }
    rn.is_upload = !strcmp(rn.o.op, "upload");
    rn.creds = (struct lc_creds){rn.o.ak, rn.o.sk, rn.o.region};
    snprintf(rn.hosthdr, sizeof rn.hosthdr, "%s:%d", rn.o.host, rn.o.port);
    snprintf(rn.path, sizeof rn.path, "/%s/%s", rn.o.bucket, rn.o.key);
    signal(SIGPIPE, SIG_IGN);
    int rc = run_open(&rn);
    if (!rc) {
        rn.deadline = lc_now() + rn.o.seconds;
        rc = rn.is_upload ? do_upload(&rn) : do_get(&rn);
    }
    run_free(&rn);
    return rc < 0 ? 1 : 0;
}
