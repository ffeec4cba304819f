/*
 * sigv4.c — AWS Signature Version 4 header authentication for S3.
 *
 * auth_request_verify() decides which auth form a request uses (presigned
 * SigV4 queries go to presign.c, SigV2 headers and queries to sigv2.c),
 * then for "Authorization: AWS4-HMAC-SHA256 ..." rebuilds the canonical request
 * (S3 API reference, "Signature Calculations for the Authorization Header:
 * Transferring Payload in a Single Chunk"), hashes it, signs the string to
 * sign with the derived key and compares in constant time.
 *
 * Cost per request, the hot path: one SHA-256 of the canonical request and
 * one HMAC of the string to sign. The signing key (four HMACs) is cached
 * per thread, keyed by credential set, access key, date and region, so it
 * is derived about once a day per client. Paths and queries made only of
 * unreserved characters skip the decode/re-encode step.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define MAX_SKEW_SECONDS (15 * 60)
#define LINEAR_HEADERS_MAX 16

/* ---- small helpers ----------------------------------------------------- */

/* The first value of header `name` (lower case), or NULL. */
static const char *header_get(const auth_request *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *h = r->headers[i].name;
        if (h && auth__casecmp_n(h, strlen(h), name, n) == 0)
            return r->headers[i].value ? r->headers[i].value : "";
    }
    return NULL;
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Every '%' followed by two hex digits: tarn_uri_decode's NULL then only
 * means out of memory. */
static int escapes_ok(const char *s, size_t n)
{
    unsigned char tmp;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '%' && (i + 2 >= n || auth__unhex(s + i + 1, 1, &tmp)))
            return 0;
    return 1;
}

/* ---- arena string builder ---------------------------------------------- */

typedef struct sbuf {
    tarn_arena *a;
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static char *sb_room(sbuf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *p = tarn_arena_alloc(b->a, cap);
        if (!p) {
            b->oom = 1;
            return NULL;
        }
        if (b->len)
            memcpy(p, b->p, b->len);
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

static void sb_add(sbuf *b, const void *s, size_t n)
{
    if (n == 0)
        return; /* an empty buffer has no storage yet: NULL + 0 is undefined */
    char *w = sb_room(b, n);
    if (w) {
        memcpy(w, s, n);
        b->len += n;
    }
}

/* A header value in canonical form: "Trimall" in the S3 docs — no
 * leading or trailing blanks, each inner run of blanks one space. */
static void sb_add_trimall(sbuf *b, const char *v)
{
    size_t n = strlen(v);
    char *w = sb_room(b, n);
    if (!w)
        return;
    size_t j = 0;
    int gap = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_space(v[i])) {
            gap = j > 0;
            continue;
        }
        if (gap)
            w[j++] = ' ';
        gap = 0;
        w[j++] = v[i];
    }
    b->len += j;
}

/* ---- canonical URI and query ------------------------------------------ */

/* S3 canonical URI: the path URI-encoded once, '/' kept, never normalized
 * ("Each path segment must be URI-encoded twice ... except for Amazon S3"). */
static int canonical_uri(tarn_arena *a, const char *raw, const char **out, size_t *n,
                         const char **d)
{
    size_t len = raw ? strlen(raw) : 0;
    if (len == 0) {
        *out = "/";
        *n = 1;
        return 0;
    }
    size_t i = 0;
    while (i < len && (raw[i] == '/' || is_unreserved((unsigned char)raw[i])))
        i++;
    if (i == len) { /* already canonical: the common case */
        *out = raw;
        *n = len;
        return 0;
    }
    if (!escapes_ok(raw, len))
        return auth__fail(d, "The request path has a malformed percent-escape.",
                    TARN_E_INVALID_ARGUMENT);
    size_t dn;
    char *dec = tarn_uri_decode(a, raw, len, 0, &dn);
    char *enc = dec ? tarn_uri_encode(a, dec, dn, 1) : NULL;
    if (!enc)
        return TARN_E_NOMEM;
    *out = enc;
    *n = strlen(enc);
    return 0;
}

typedef struct qparam {
    const char *k, *v;
    size_t kn, vn;
} qparam;

static int qparam_cmp(const void *x, const void *y)
{
    const qparam *a = x, *b = y;
    int r = memcmp(a->k, b->k, a->kn < b->kn ? a->kn : b->kn);
    if (r || a->kn != b->kn)
        return r ? r : (a->kn > b->kn) - (a->kn < b->kn);
    r = memcmp(a->v, b->v, a->vn < b->vn ? a->vn : b->vn);
    return r ? r : (a->vn > b->vn) - (a->vn < b->vn);
}

/* One name or value in canonical form: decoded ('+' is a space, as S3
 * reads query strings), then encoded with the SigV4 rules. */
static int query_part(tarn_arena *a, const char *s, size_t n, const char **out,
                      size_t *on, const char **d)
{
    size_t i = 0;
    while (i < n && is_unreserved((unsigned char)s[i]))
        i++;
    if (i == n) {
        *out = s;
        *on = n;
        return 0;
    }
    if (!escapes_ok(s, n))
        return auth__fail(d, "The query string has a malformed percent-escape.",
                    TARN_E_INVALID_ARGUMENT);
    size_t dn;
    char *dec = tarn_uri_decode(a, s, n, 1, &dn);
    char *enc = dec ? tarn_uri_encode(a, dec, dn, 0) : NULL;
    if (!enc)
        return TARN_E_NOMEM;
    *out = enc;
    *on = strlen(enc);
    return 0;
}

/* skip: a parameter name left out (presigned URLs sign everything but
 * X-Amz-Signature), or NULL. */
static int query_split(tarn_arena *a, const char *raw, const char *skip, qparam *v,
                       size_t *np, const char **d)
{
    size_t n = 0;
    for (const char *p = raw; *p;) {
        const char *amp = strchr(p, '&');
        const char *e = amp ? amp : p + strlen(p);
        if (e > p) { /* "a&&b": empty pieces are not parameters */
            const char *eq = memchr(p, '=', (size_t)(e - p));
            const char *ke = eq ? eq : e;
            const char *vs = eq ? eq + 1 : e;
            int rc = query_part(a, p, (size_t)(ke - p), &v[n].k, &v[n].kn, d);
            if (!rc)
                rc = query_part(a, vs, (size_t)(e - vs), &v[n].v, &v[n].vn, d);
            if (rc)
                return rc;
            if (!skip || v[n].kn != strlen(skip) || memcmp(v[n].k, skip, v[n].kn) != 0)
                n++;
        }
        p = amp ? amp + 1 : e;
    }
    *np = n;
    return 0;
}

/* Canonical query: name=value pairs (no '=' → empty value) sorted by
 * encoded name then value, joined by '&'. */
static int canonical_query(tarn_arena *a, const char *raw, const char *skip,
                           const char **out, size_t *on, const char **d)
{
    *out = "";
    *on = 0;
    if (!raw || !*raw)
        return 0;
    size_t cap = 1;
    for (const char *p = raw; *p; p++)
        cap += *p == '&';
    qparam *v = tarn_arena_alloc(a, cap * sizeof(*v));
    if (!v)
        return TARN_E_NOMEM;
    size_t n;
    int rc = query_split(a, raw, skip, v, &n, d);
    if (rc)
        return rc;
    if (n > 1)
        qsort(v, n, sizeof(*v), qparam_cmp);
    sbuf b = {.a = a};
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_add(&b, "&", 1);
        sb_add(&b, v[i].k, v[i].kn);
        sb_add(&b, "=", 1);
        sb_add(&b, v[i].v, v[i].vn);
    }
    if (b.oom)
        return TARN_E_NOMEM;
    *out = b.p ? b.p : "";
    *on = b.len;
    return 0;
}

/* ---- canonical headers ------------------------------------------------- */

/* Request headers in an order where one name's values are adjacent and
 * still in arrival order, so each signed name is found by binary search. */
static int hdr_ptr_cmp(const void *x, const void *y)
{
    const auth_header *a = *(const auth_header *const *)x;
    const auth_header *b = *(const auth_header *const *)y;
    int r = auth__casecmp_n(a->name, strlen(a->name), b->name, strlen(b->name));
    return r ? r : (a > b) - (a < b);
}

typedef struct hdr_index {
    const auth_header **v; /* sorted; NULL: few headers, scan linearly */
    size_t n;
} hdr_index;

static int hdr_index_build(tarn_arena *a, const auth_request *r, hdr_index *ix)
{
    ix->v = NULL;
    ix->n = 0;
    if (r->n_headers <= LINEAR_HEADERS_MAX)
        return 0;
    ix->v = tarn_arena_alloc(a, r->n_headers * sizeof(*ix->v));
    if (!ix->v)
        return TARN_E_NOMEM;
    for (size_t i = 0; i < r->n_headers; i++)
        if (r->headers[i].name)
            ix->v[ix->n++] = &r->headers[i];
    qsort(ix->v, ix->n, sizeof(*ix->v), hdr_ptr_cmp);
    return 0;
}

/* Append ",value" for every header called name[0..n); returns the count. */
static size_t hdr_emit_values(sbuf *b, const auth_request *r, const hdr_index *ix,
                              const char *name, size_t n)
{
    size_t found = 0;
    if (!ix->v) {
        for (size_t i = 0; i < r->n_headers; i++) {
            const auth_header *h = &r->headers[i];
            if (!h->name || auth__casecmp_n(h->name, strlen(h->name), name, n) != 0)
                continue;
            if (found++)
                sb_add(b, ",", 1);
            sb_add_trimall(b, h->value ? h->value : "");
        }
        return found;
    }
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = ix->v[mid]->name;
        if (auth__casecmp_n(m, strlen(m), name, n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < ix->n; lo++) {
        const auth_header *h = ix->v[lo];
        if (auth__casecmp_n(h->name, strlen(h->name), name, n) != 0)
            break;
        if (found++)
            sb_add(b, ",", 1);
        sb_add_trimall(b, h->value ? h->value : "");
    }
    return found;
}

/* "name:v1,v2\n" for each signed name, in SignedHeaders order (which the
 * parser checked is sorted). A signed header the request lacks cannot
 * match what the client signed. */
static int canonical_headers(tarn_arena *a, const auth_request *r, const auth_sigv4_hdr *h,
                             const char **out, size_t *on, const char **d)
{
    hdr_index ix;
    if (hdr_index_build(a, r, &ix))
        return TARN_E_NOMEM;
    sbuf b = {.a = a};
    const char *p = h->signed_headers, *end = p + h->signed_headers_len;
    while (p < end) {
        const char *s = memchr(p, ';', (size_t)(end - p));
        const char *e = s ? s : end;
        sb_add(&b, p, (size_t)(e - p));
        sb_add(&b, ":", 1);
        if (hdr_emit_values(&b, r, &ix, p, (size_t)(e - p)) == 0)
            return auth__fail(d, "The request signature we calculated does not match the "
                        "signature you provided. A signed header is missing.",
                        TARN_E_SIGNATURE_DOES_NOT_MATCH);
        sb_add(&b, "\n", 1);
        p = e + 1;
    }
    if (b.oom)
        return TARN_E_NOMEM;
    *out = b.p;
    *on = b.len;
    return 0;
}

/* ---- signing key cache (per thread) ------------------------------------ */

#define KEY_SLOTS 8

typedef struct key_slot {
    uint64_t creds_id; /* 0: empty */
    unsigned char akid_len, region_len;
    char date8[8];
    char akid[128];
    char region[64];
    unsigned char key[32];
} key_slot;

static _Thread_local key_slot key_cache[KEY_SLOTS];
static _Thread_local unsigned key_cache_next;

static int slot_matches(const key_slot *s, uint64_t id, const auth_sigv4_hdr *h)
{
    return s->creds_id == id && s->akid_len == h->akid_len &&
           s->region_len == h->region_len && memcmp(s->date8, h->date8, 8) == 0 &&
           memcmp(s->akid, h->akid, h->akid_len) == 0 &&
           memcmp(s->region, h->region, h->region_len) == 0;
}

static int signing_key_get(const auth_creds *c, const char *secret,
                           const auth_sigv4_hdr *h, unsigned char key[32])
{
    uint64_t id = auth__creds_id(c);
    int cacheable = h->akid_len <= sizeof(((key_slot *)0)->akid) &&
                    h->region_len <= sizeof(((key_slot *)0)->region);
    for (int i = 0; cacheable && i < KEY_SLOTS; i++) {
        if (slot_matches(&key_cache[i], id, h)) {
            memcpy(key, key_cache[i].key, 32);
            return 0;
        }
    }
    int rc = auth__signing_key(secret, h->date8, h->region, h->region_len, "s3", key);
    if (rc || !cacheable)
        return rc;
    /* Round robin: a thread serves few (key, day, region) triples at once. */
    key_slot *s = &key_cache[key_cache_next++ % KEY_SLOTS];
    s->creds_id = id;
    s->akid_len = (unsigned char)h->akid_len;
    s->region_len = (unsigned char)h->region_len;
    memcpy(s->date8, h->date8, 8);
    memcpy(s->akid, h->akid, h->akid_len);
    memcpy(s->region, h->region, h->region_len);
    memcpy(s->key, key, 32);
    return 0;
}

/* ---- the signature ----------------------------------------------------- */

typedef struct canon {
    const char *method;
    const char *query, *headers, *payload;
    size_t query_n, headers_n, payload_n;
    const char *ts; /* "20130524T000000Z" */
    const auth_sigv4_hdr *h;
} canon;

/* HMAC(signing key, string to sign) where the string to sign is
 * "AWS4-HMAC-SHA256\n<ts>\n<scope>\n<hex sha256(canonical request)>". */
static int signature_compute(tarn_arena *a, const canon *cn, const char *uri, size_t urin,
                             const unsigned char key[32], unsigned char sig[32])
{
    const auth_sigv4_hdr *h = cn->h;
    auth_iov v[] = {
        {cn->method, strlen(cn->method)}, {"\n", 1}, {uri, urin}, {"\n", 1},
        {cn->query, cn->query_n}, {"\n", 1}, {cn->headers, cn->headers_n}, {"\n", 1},
        {h->signed_headers, h->signed_headers_len}, {"\n", 1},
        {cn->payload, cn->payload_n},
    };
    unsigned char hash[32];
    int rc = auth__sha256v(v, sizeof(v) / sizeof(v[0]), hash);
    if (rc)
        return rc;
    char *sts = tarn_arena_printf(a, "AWS4-HMAC-SHA256\n%s\n%.*s\n", cn->ts,
                                  (int)h->scope_len, h->scope);
    if (!sts)
        return TARN_E_NOMEM;
    size_t n = strlen(sts);
    char *full = tarn_arena_alloc(a, n + 65);
    if (!full)
        return TARN_E_NOMEM;
    memcpy(full, sts, n);
    tarn_hex(hash, 32, full + n);
    /* For operators chasing a client's signing bug; never in a response. */
    TARN_DEBUG("sigv4 canonical request:\n%s\n%.*s\n%.*s\n%.*s\n%.*s\n%.*s\n"
               "string to sign:\n%s", cn->method, (int)urin, uri, (int)cn->query_n,
               cn->query, (int)cn->headers_n, cn->headers, (int)h->signed_headers_len,
               h->signed_headers, (int)cn->payload_n, cn->payload, full);
    return auth__hmac_sha256(key, 32, full, n + 64, sig);
}

/* Request time: x-amz-date, else Date (S3 API reference, "Authenticating
 * Requests: Using the Authorization Header", x-amz-date / Date). */
static int request_time(const auth_request *r, int64_t *t, char ts[17], const char **d)
{
    static const char no_date[] =
        "AWS authentication requires a valid Date or x-amz-date header";
    const char *xd = header_get(r, "x-amz-date");
    if (xd) {
        if (auth__time_parse_iso8601(xd, t))
            return auth__fail(d, no_date, TARN_E_ACCESS_DENIED);
        memcpy(ts, xd, 17);
        return 0;
    }
    const char *dh = header_get(r, "date");
    if (!dh || auth__time_parse_rfc1123(dh, t))
        return auth__fail(d, no_date, TARN_E_ACCESS_DENIED);
    auth__time_format_iso8601(*t, ts);
    return 0;
}

/* x-amz-content-sha256 (S3 API reference, "Common Request Headers"). */
int auth__payload_parse(const char *v, auth_result *out, const char **d)
{
    static const char *const streaming[] = {
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    };
    if (strlen(v) == 64 && auth__unhex(v, 32, out->payload_sha256) == 0) {
        out->payload_mode = AUTH_PAYLOAD_SHA256;
        return 0;
    }
    if (strcmp(v, "UNSIGNED-PAYLOAD") == 0) {
        out->payload_mode = AUTH_PAYLOAD_UNSIGNED;
        return 0;
    }
    static const int kinds[] = {AUTH_STREAM_UNSIGNED_TRAILER, AUTH_STREAM_SIGNED,
                                AUTH_STREAM_SIGNED_TRAILER, AUTH_STREAM_ECDSA,
                                AUTH_STREAM_ECDSA};
    for (size_t i = 0; i < sizeof(streaming) / sizeof(streaming[0]); i++) {
        if (strcmp(v, streaming[i]) == 0) {
            out->payload_mode = AUTH_PAYLOAD_STREAMING;
            out->streaming_mode = streaming[i]; /* static: outlives the arena */
            out->streaming = kinds[i];
            return 0;
        }
    }
    return auth__fail(d, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
                "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, "
                "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
                TARN_E_INVALID_ARGUMENT);
}

/* Date checks in AWS's order: the scope's day must be the request's day,
 * then the request must be within 15 minutes of the server clock. */
static int time_check(tarn_arena *a, const auth_request *r, const auth_sigv4_hdr *h,
                      char ts[17], const char **d)
{
    int64_t t;
    int rc = request_time(r, &t, ts, d);
    if (rc)
        return rc;
    if (memcmp(h->date8, ts, 8) != 0) {
        *d = tarn_arena_printf(a, "The authorization header is malformed; Invalid "
                               "credential date \"%.8s\". This date is not the same as "
                               "X-Amz-Date: \"%.8s\".", h->date8, ts);
        return TARN_E_AUTH_HEADER_MALFORMED;
    }
    int64_t skew = t - r->now;
    if (skew > MAX_SKEW_SECONDS || skew < -MAX_SKEW_SECONDS)
        return auth__fail(d, "The difference between the request time and the current time "
                    "is too large.", TARN_E_REQUEST_TIME_TOO_SKEWED);
    return 0;
}

static int canon_build(tarn_arena *a, const auth_request *r, const auth_sigv4_hdr *h,
                       const char *skip, canon *cn, const char **d)
{
    int rc = canonical_query(a, r->raw_query, skip, &cn->query, &cn->query_n, d);
    if (!rc)
        rc = canonical_headers(a, r, h, &cn->headers, &cn->headers_n, d);
    return rc;
}

/* Compute with the path encoded once from its decoded form; when that
 * fails and the client's own encoding differs, try it as sent (some
 * clients sign the path exactly as they put it on the request line). */
static int signature_check(tarn_arena *a, const auth_request *r, const canon *cn,
                           const unsigned char key[32], const char **d)
{
    const char *uri;
    size_t urin;
    unsigned char sig[32];
    int rc = canonical_uri(a, r->raw_path, &uri, &urin, d);
    if (!rc)
        rc = signature_compute(a, cn, uri, urin, key, sig);
    if (rc)
        return rc;
    if (CRYPTO_memcmp(sig, cn->h->signature, 32) == 0)
        return 0;
    const char *raw = r->raw_path;
    if (raw && *raw && (strlen(raw) != urin || memcmp(raw, uri, urin) != 0)) {
        if ((rc = signature_compute(a, cn, raw, strlen(raw), key, sig)))
            return rc;
        if (CRYPTO_memcmp(sig, cn->h->signature, 32) == 0)
            return 0;
    }
    return auth__fail(d, "The request signature we calculated does not match the signature "
                "you provided. Check your key and signing method.",
                TARN_E_SIGNATURE_DOES_NOT_MATCH);
}

/* Signed aws-chunked bodies continue the signature chain from this
 * request's signature, with the same key, date and scope ("Transferring
 * Payload in Multiple Chunks", seed signature): hand them to auth_body. */
static int chain_set(tarn_arena *a, const auth_sigv4_hdr *h, const unsigned char key[32],
                     const char ts[17], auth_result *out)
{
    if (out->streaming != AUTH_STREAM_SIGNED && out->streaming != AUTH_STREAM_SIGNED_TRAILER)
        return 0;
    out->scope = tarn_arena_strndup(a, h->scope, h->scope_len);
    if (!out->scope)
        return TARN_E_NOMEM;
    memcpy(out->seed_signature, h->signature, 32);
    memcpy(out->signing_key, key, 32);
    memcpy(out->amz_date, ts, 16);
    out->amz_date[16] = '\0';
    out->chain_ready = 1;
    return 0;
}

int auth__sigv4_finish(tarn_arena *a, const auth_creds *c, const char *secret,
                       const auth_request *r, const auth_sigv4_hdr *h, const char ts[17],
                       const char *payload, const char *skip, auth_result *out,
                       const char **d)
{
    canon cn = {.method = r->method ? r->method : "", .h = h, .ts = ts,
                .payload = payload, .payload_n = strlen(payload)};
    unsigned char key[32];
    int rc = canon_build(a, r, h, skip, &cn, d);
    if (rc || (rc = signing_key_get(c, secret, h, key)))
        return rc;
    rc = signature_check(a, r, &cn, key, d);
    if (!rc)
        rc = chain_set(a, h, key, ts, out);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc)
        return rc;
    out->access_key = tarn_arena_strndup(a, h->akid, h->akid_len);
    out->region = tarn_arena_strndup(a, h->region, h->region_len);
    return out->access_key && out->region ? 0 : TARN_E_NOMEM;
}

static int sigv4_verify(tarn_arena *a, const auth_creds *c, const auth_request *r,
                        const char *authz, auth_result *out, const char **d)
{
    auth_sigv4_hdr h;
    int rc = auth__sigv4_hdr_parse(a, authz, &h, d);
    if (rc)
        return rc;
    const char *secret = auth__creds_find(c, h.akid, h.akid_len);
    if (!secret)
        return auth__fail(d, "The AWS Access Key Id you provided does not exist in our records.",
                    TARN_E_INVALID_ACCESS_KEY_ID);
    char ts[17];
    if ((rc = time_check(a, r, &h, ts, d)))
        return rc;
    /* AWS requires the header on every SigV4 header-auth request. */
    const char *ph = header_get(r, "x-amz-content-sha256");
    if (!ph)
        return auth__fail(d, "Missing required header for this request: x-amz-content-sha256",
                    TARN_E_INVALID_REQUEST);
    if ((rc = auth__payload_parse(ph, out, d)))
        return rc;
    return auth__sigv4_finish(a, c, secret, r, &h, ts, ph, NULL, out, d);
}

/* ---- which auth form --------------------------------------------------- */

/* Does the query carry presigned-URL auth? 4: SigV4 (any X-Amz-Algorithm,
 * X-Amz-Credential or X-Amz-Signature), 2: SigV2 (AWSAccessKeyId or
 * Signature), 0: neither. Only names are looked at. */
static int query_has_auth(const char *q)
{
    static const char *const names[] = {"X-Amz-Algorithm", "X-Amz-Signature",
                                        "X-Amz-Credential", "AWSAccessKeyId", "Signature"};
    int found = 0;
    for (const char *p = q; p && *p;) {
        size_t n = strcspn(p, "=&");
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strlen(names[i]) == n && memcmp(p, names[i], n) == 0)
                found = i < 3 ? 4 : found ? found : 2;
        p += strcspn(p, "&");
        if (*p)
            p++;
    }
    return found;
}

static int verify(tarn_arena *a, const auth_creds *c, const auth_request *r,
                  auth_result *out, const char **d)
{
    const char *authz = header_get(r, "authorization");
    int qauth = query_has_auth(r->raw_query);
    if (authz && qauth)
        return auth__fail(d, "Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                    "parameter, Signature query string parameter or the Authorization "
                    "header should be specified", TARN_E_INVALID_ARGUMENT);
    if (qauth == 4)
        return auth__presign_verify(a, c, r, out, d);
    if (qauth == 2)
        return auth__sigv2_query_verify(a, c, r, out, d);
    if (!authz) {
        /* Anonymous: the caller decides. A payload hash the client sent is
         * still honoured, so the body is checked against it. */
        out->anonymous = 1;
        const char *ph = header_get(r, "x-amz-content-sha256");
        return ph ? auth__payload_parse(ph, out, d) : 0;
    }
    while (*authz == ' ' || *authz == '\t')
        authz++;
    if (strncmp(authz, "AWS4-HMAC-SHA256", 16) == 0 &&
        (authz[16] == '\0' || authz[16] == ' ' || authz[16] == '\t'))
        return sigv4_verify(a, c, r, authz, out, d);
    if (strncmp(authz, "AWS ", 4) == 0)
        return auth__sigv2_header_verify(a, c, r, authz + 4, out, d);
    return auth__fail(d, "Unsupported Authorization Type", TARN_E_INVALID_ARGUMENT);
}

int auth_request_verify(tarn_arena *a, const auth_creds *c, const auth_request *r,
                        auth_result *out, const char **detail)
{
    const char *d = NULL;
    memset(out, 0, sizeof(*out));
    int rc = verify(a, c, r, out, &d);
    return auth__verdict(rc, out, sizeof(*out), d, detail);
}
