/*
 * sigv2.c — AWS Signature Version 2 for S3: "Authorization: AWS
 * AKID:signature" and the query form (AWSAccessKeyId, Expires, Signature)
 * that boto3's generate_presigned_url and awscli v1's `s3 presign` still
 * produce for custom endpoints (DESIGN.md, "What the real clients send").
 *
 * S3 API reference, "Signing and authenticating REST requests (AWS
 * signature version 2)":
 *   Signature = Base64(HMAC-SHA1(secret, StringToSign))
 *   StringToSign = VERB \n Content-MD5 \n Content-Type \n Date \n
 *                  CanonicalizedAmzHeaders CanonicalizedResource
 * where the query form puts Expires in the Date position.
 *
 * SigV2 leaves room for clients to differ (which sub-resources count,
 * where a Date goes when x-amz-date is also sent), so a request that does
 * not match the canonical reading is tried against the few other readings
 * real clients use before it is refused. Every reading is an HMAC over the
 * method, resource and dates the request carries; none lets a signature
 * for one request pass for another.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define MAX_SKEW_SECONDS (15 * 60)

static const char mismatch[] = "The request signature we calculated does not match the "
                               "signature you provided. Check your key and signing method.";

/* ---- CanonicalizedResource --------------------------------------------- */

/* The sub-resources that go into CanonicalizedResource. AWS's page lists
 * acl, delete, lifecycle, location, logging, notification, partNumber,
 * policy, requestPayment, response-*, torrent, uploadId, uploads,
 * versionId, versioning, versions and website; botocore's HmacV1Auth adds
 * the newer configuration names. `all` is the union (what botocore signs),
 * `core` the documented list, tried second for clients that predate the
 * additions. Byte order, for bsearch. */
static const char *const subres_all[] = {
    "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "encryption",
    "inventory", "legal-hold", "lifecycle", "location", "logging", "metrics", "notification",
    "object-lock", "partNumber", "policy", "replication", "requestPayment",
    "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires", "restore",
    "retention", "select", "select-type", "storageClass", "tagging", "torrent", "uploadId",
    "uploads", "versionId", "versioning", "versions", "website",
};
static const char *const subres_core[] = {
    "acl", "delete", "lifecycle", "location", "logging", "notification", "partNumber",
    "policy", "requestPayment", "response-cache-control", "response-content-disposition",
    "response-content-encoding", "response-content-language", "response-content-type",
    "response-expires", "torrent", "uploadId", "uploads", "versionId", "versioning",
    "versions", "website",
};
#define N_ALL (sizeof(subres_all) / sizeof(subres_all[0]))
#define N_CORE (sizeof(subres_core) / sizeof(subres_core[0]))

typedef struct subres {
    const char *k, *v; /* v decoded; NULL: the parameter had no '=' */
    size_t kn, order;
} subres;

static int key_cmp(const void *key, const void *elt)
{
    const subres *s = key;
    const char *e = *(const char *const *)elt;
    size_t en = strlen(e);
    int r = memcmp(s->k, e, s->kn < en ? s->kn : en);
    return r ? r : (s->kn > en) - (s->kn < en);
}

static int in_list(const subres *s, const char *const *list, size_t n)
{
    return bsearch(s, list, n, sizeof(*list), key_cmp) != NULL;
}

/* Sorted by name (byte order), equal names in arrival order. */
static int subres_cmp(const void *x, const void *y)
{
    const subres *a = x, *b = y;
    int r = memcmp(a->k, b->k, a->kn < b->kn ? a->kn : b->kn);
    if (r || a->kn != b->kn)
        return r ? r : (a->kn > b->kn) - (a->kn < b->kn);
    return (a->order > b->order) - (a->order < b->order);
}

/* The query's sub-resource parameters (of the `all` list), values
 * percent-decoded as AWS requires ("the values ... must not be
 * URL-encoded" in the string to sign), sorted. */
static int subres_collect(tarn_arena *a, const char *q, subres **out, size_t *np)
{
    size_t cap = 1, n = 0;
    for (const char *p = q; p && *p; p++)
        cap += *p == '&';
    subres *v = tarn_arena_alloc(a, cap * sizeof(*v));
    if (!v)
        return TARN_E_NOMEM;
    for (const char *p = q; p && *p;) {
        size_t seg = strcspn(p, "&"), kn = strcspn(p, "=&");
        subres s = {.k = p, .kn = kn, .order = n};
        if (kn && in_list(&s, subres_all, N_ALL)) {
            char *val = NULL;
            int rc = kn < seg ? auth__query_decode(a, p + kn + 1, seg - kn - 1, &val) : 0;
            if (rc)
                return rc;
            s.v = val;
            v[n++] = s;
        }
        p += seg;
        if (*p)
            p++;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), subres_cmp);
    *out = v;
    *np = n;
    return 0;
}

/* "/bucket/key?acl&versionId=3": the bucket from the Host (virtual-hosted
 * requests), the path exactly as sent, then the sub-resources that are in
 * list. Heap string in *b. */
static int resource_build(const auth_request *r, const subres *s, size_t n, int core,
                          tarn_buf *b)
{
    int rc = 0;
    if (r->vhost_bucket && *r->vhost_bucket)
        rc = tarn_buf_printf(b, "/%s", r->vhost_bucket);
    const char *path = r->raw_path && *r->raw_path ? r->raw_path : "/";
    if (!rc)
        rc = tarn_buf_appends(b, path);
    char sep = '?';
    for (size_t i = 0; i < n && !rc; i++) {
        if (core && !in_list(&s[i], subres_core, N_CORE))
            continue;
        rc = tarn_buf_printf(b, "%c%.*s%s%s", sep, (int)s[i].kn, s[i].k, s[i].v ? "=" : "",
                             s[i].v ? s[i].v : "");
        sep = '&';
    }
    return rc;
}

/* ---- CanonicalizedAmzHeaders -------------------------------------------- */

typedef struct amzh {
    const auth_header *h;
    size_t order;
} amzh;

static int amzh_cmp(const void *x, const void *y)
{
    const amzh *a = x, *b = y;
    int r = auth__casecmp_n(a->h->name, strlen(a->h->name), b->h->name, strlen(b->h->name));
    return r ? r : (a->order > b->order) - (a->order < b->order);
}

/* One value: trimmed, and a folded line (CR/LF with what follows) one
 * space, as "Constructing the CanonicalizedAmzHeaders Element" says. */
static int amz_value_add(tarn_buf *b, const char *v)
{
    size_t n = strlen(v);
    v = auth__trim(v, &n);
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        if (v[i] != '\r' && v[i] != '\n') {
            size_t run = strcspn(v + i, "\r\n");
            run = run < n - i ? run : n - i;
            rc = tarn_buf_append(b, v + i, run);
            i += run;
            continue;
        }
        while (i < n && (v[i] == '\r' || v[i] == '\n' || v[i] == ' ' || v[i] == '\t'))
            i++;
        rc = tarn_buf_append(b, " ", 1);
    }
    return rc;
}

/* "x-amz-meta-a:v1,v2\n" per x-amz-* name, lower case, sorted; repeated
 * headers joined by ',' in arrival order. skip_date leaves x-amz-date
 * out (one of the readings tried, see auth__sigv2_header_verify). */
static int amz_headers_add(tarn_arena *a, const auth_request *r, int skip_date, tarn_buf *b)
{
    amzh *v = tarn_arena_alloc(a, (r->n_headers + 1) * sizeof(*v));
    if (!v)
        return TARN_E_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *name = r->headers[i].name;
        if (!name || auth__casecmp_n(name, strlen(name) < 6 ? strlen(name) : 6, "x-amz-", 6) ||
            (skip_date && auth__casecmp_n(name, strlen(name), "x-amz-date", 10) == 0))
            continue;
        v[n].h = &r->headers[i];
        v[n].order = i;
        n++;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), amzh_cmp);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *name = v[i].h->name;
        size_t nn = strlen(name);
        int same = i && auth__casecmp_n(v[i - 1].h->name, strlen(v[i - 1].h->name), name, nn) == 0;
        if (same) {
            rc = tarn_buf_append(b, ",", 1);
        } else {
            if (i)
                rc = tarn_buf_append(b, "\n", 1);
            for (size_t k = 0; k < nn && !rc; k++) {
                char ch = (char)auth__lower((unsigned char)name[k]);
                rc = tarn_buf_append(b, &ch, 1);
            }
            if (!rc)
                rc = tarn_buf_append(b, ":", 1);
        }
        if (!rc)
            rc = amz_value_add(b, v[i].h->value ? v[i].h->value : "");
    }
    if (!rc && n)
        rc = tarn_buf_append(b, "\n", 1);
    return rc;
}

/* ---- the signature ------------------------------------------------------ */

/* One reading of the request: what goes in the Date position, whether
 * x-amz-date is among the amz headers, which sub-resource list. */
typedef struct reading {
    const char *date_line;
    int skip_amz_date;
    int core;
} reading;

static const char *header_value(const auth_request *r, const char *name)
{
    const char *v = auth__header_find(r->headers, r->n_headers, name, NULL);
    return v ? v : "";
}

/* Build the StringToSign for one reading and compare its HMAC-SHA1 with
 * sig (20 bytes). 0 on a match, 1 on a mismatch, or an error. */
static int reading_try(tarn_arena *a, const auth_request *r, const char *secret,
                       const subres *s, size_t ns, const reading *rd,
                       const unsigned char sig[20])
{
    tarn_buf b = {0};
    size_t mn = strlen(header_value(r, "content-md5")), tn;
    const char *md5 = auth__trim(header_value(r, "content-md5"), &mn);
    tn = strlen(header_value(r, "content-type"));
    const char *ctype = auth__trim(header_value(r, "content-type"), &tn);
    int rc = tarn_buf_printf(&b, "%s\n%.*s\n%.*s\n%s\n", r->method ? r->method : "", (int)mn,
                             md5, (int)tn, ctype, rd->date_line);
    if (!rc)
        rc = amz_headers_add(a, r, rd->skip_amz_date, &b);
    if (!rc)
        rc = resource_build(r, s, ns, rd->core, &b);
    unsigned char mac[20];
    if (!rc)
        rc = auth__hmac_sha1(secret, strlen(secret), b.data, b.len, mac);
    if (!rc) {
        TARN_DEBUG("sigv2 string to sign:\n%s", b.data);
        rc = CRYPTO_memcmp(mac, sig, 20) != 0;
    }
    tarn_buf_free(&b);
    return rc;
}

/* Try each reading in rd[0..n), with the full sub-resource list and, when
 * the query has sub-resources only botocore counts, the documented one. */
static int signature_check(tarn_arena *a, const auth_request *r, const char *secret,
                           const char *sig_b64, reading *rd, size_t n, const char **d)
{
    unsigned char sig[20];
    size_t sn = strlen(sig_b64);
    if (auth_base64_decode_exact(sig_b64, sn, sig, 20))
        return auth__fail(d, mismatch, TARN_E_SIGNATURE_DOES_NOT_MATCH);
    subres *s;
    size_t ns, extra = 0;
    int rc = subres_collect(a, r->raw_query, &s, &ns);
    if (rc)
        return rc == TARN_E_INVALID_ARGUMENT
                   ? auth__fail(d, "The query string has a malformed percent-escape.", rc)
                   : rc;
    for (size_t i = 0; i < ns; i++)
        extra += !in_list(&s[i], subres_core, N_CORE);
    for (int core = 0; core <= (extra > 0); core++) {
        for (size_t i = 0; i < n; i++) {
            rd[i].core = core;
            rc = reading_try(a, r, secret, s, ns, &rd[i], sig);
            if (rc <= 0)
                return rc;
        }
    }
    return auth__fail(d, mismatch, TARN_E_SIGNATURE_DOES_NOT_MATCH);
}

/* access_key and the payload fields, once the signature held. SigV2 has
 * no scope: region stays NULL. A payload hash the client sent anyway is
 * honoured, so the body is checked against it. */
static int result_set(tarn_arena *a, const auth_request *r, const char *akid, size_t n,
                      auth_result *out, const char **d)
{
    const char *ph = auth__header_find(r->headers, r->n_headers, "x-amz-content-sha256", NULL);
    int rc = ph ? auth__payload_parse(ph, out, d) : 0;
    if (rc)
        return rc;
    out->access_key = tarn_arena_strndup(a, akid, n);
    return out->access_key ? 0 : TARN_E_NOMEM;
}

/* ---- header form ------------------------------------------------------- */

/* "Time stamp requirement": x-amz-date wins over Date; 15 minutes of skew. */
static int header_time_check(const auth_request *r, const char *xd, const char *date,
                             const char **d)
{
    int64_t t;
    const char *v = xd ? xd : date;
    if (!v || auth__time_parse_http(v, &t))
        return auth__fail(d, "AWS authentication requires a valid Date or x-amz-date header",
                    TARN_E_ACCESS_DENIED);
    int64_t skew = t - r->now;
    if (skew > MAX_SKEW_SECONDS || skew < -MAX_SKEW_SECONDS)
        return auth__fail(d, "The difference between the request time and the current time is "
                    "too large.", TARN_E_REQUEST_TIME_TOO_SKEWED);
    return 0;
}

/* The readings of the Date position, most standard first: AWS says that
 * with x-amz-date the Date line is empty and x-amz-date is an amz header;
 * clients that send both often sign the Date header's value there
 * (MinIO's reading); AWS's own Object DELETE example puts the x-amz-date
 * value in the Date position and leaves it out of the amz headers. */
static size_t header_readings(const char *xd, const char *date, reading rd[3])
{
    size_t n = 0;
    if (!xd) {
        rd[n++] = (reading){.date_line = date ? date : ""};
        return n;
    }
    rd[n++] = (reading){.date_line = ""};
    if (date)
        rd[n++] = (reading){.date_line = date};
    rd[n++] = (reading){.date_line = xd, .skip_amz_date = 1};
    return n;
}

int auth__sigv2_header_verify(tarn_arena *a, const auth_creds *c, const auth_request *r,
                              const char *v, auth_result *out, const char **d)
{
    while (*v == ' ')
        v++;
    const char *colon = strchr(v, ':');
    size_t sn = colon ? strlen(colon + 1) : 0;
    const char *sig = colon ? auth__trim(colon + 1, &sn) : NULL;
    if (!colon || colon == v || sn == 0)
        return auth__fail(d, "AWS authorization header is invalid.  Expected "
                    "AwsAccessKeyId:signature", TARN_E_INVALID_ARGUMENT);
    const char *secret = auth__creds_find(c, v, (size_t)(colon - v));
    if (!secret)
        return auth__fail(d, "The AWS Access Key Id you provided does not exist in our records.",
                    TARN_E_INVALID_ACCESS_KEY_ID);
    const char *xd = auth__header_find(r->headers, r->n_headers, "x-amz-date", NULL);
    const char *date = auth__header_find(r->headers, r->n_headers, "date", NULL);
    int rc = header_time_check(r, xd, date, d);
    if (rc)
        return rc;
    char *sigz = tarn_arena_strndup(a, sig, sn);
    if (!sigz)
        return TARN_E_NOMEM;
    reading rd[3];
    size_t n = header_readings(xd, date, rd);
    if ((rc = signature_check(a, r, secret, sigz, rd, n, d)))
        return rc;
    return result_set(a, r, v, (size_t)(colon - v), out, d);
}

/* ---- query form -------------------------------------------------------- */

static int qparam(tarn_arena *a, const auth_request *r, const char *name, char **out,
                  const char **d)
{
    const char *v;
    size_t vn;
    if (auth__query_find(r->raw_query, name, &v, &vn) != 1)
        return auth__fail(d, "Query-string authentication requires the Signature, Expires and "
                    "AWSAccessKeyId parameters", TARN_E_ACCESS_DENIED);
    int rc = auth__query_decode(a, v, vn, out);
    if (rc == TARN_E_INVALID_ARGUMENT)
        *d = "The query string has a malformed percent-escape.";
    return rc;
}

/* Expires: unix seconds ("Query string request authentication
 * alternative"). */
static int expires_parse(tarn_arena *a, const char *s, int64_t *out, const char **d)
{
    int64_t v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n) {
        *d = tarn_arena_printf(a, "Invalid date (should be seconds since epoch): %s",
                               auth__clip(a, s, n));
        return TARN_E_ACCESS_DENIED;
    }
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    *out = v;
    return 0;
}

int auth__sigv2_query_verify(tarn_arena *a, const auth_creds *c, const auth_request *r,
                             auth_result *out, const char **d)
{
    if (auth__query_find(r->raw_query, "x-amz-security-token", NULL, NULL))
        return auth__fail(d, "The provided token is malformed or otherwise invalid.",
                    TARN_E_INVALID_ACCESS_KEY_ID);
    char *akid, *expires, *sig;
    int64_t exp;
    int rc = qparam(a, r, "AWSAccessKeyId", &akid, d);
    if (!rc)
        rc = qparam(a, r, "Expires", &expires, d);
    if (!rc)
        rc = qparam(a, r, "Signature", &sig, d);
    if (rc || (rc = expires_parse(a, expires, &exp, d)))
        return rc;
    const char *secret = auth__creds_find(c, akid, strlen(akid));
    if (!secret)
        return auth__fail(d, "The AWS Access Key Id you provided does not exist in our records.",
                    TARN_E_INVALID_ACCESS_KEY_ID);
    if (r->now > exp)
        return auth__fail(d, "Request has expired", TARN_E_ACCESS_DENIED);
    reading rd = {.date_line = expires};
    if ((rc = signature_check(a, r, secret, sig, &rd, 1, d)))
        return rc;
    return result_set(a, r, akid, strlen(akid), out, d);
}
