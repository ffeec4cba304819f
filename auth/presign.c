/*
 * presign.c — SigV4 presigned URLs: the signature and its scope travel in
 * the query (S3 API reference, "Authenticating Requests: Using Query
 * Parameters (AWS Signature Version 4)"). aws-cli v2 `s3 presign`, the JS
 * SDK v3 presigner, minio-js and boto3 with signature_version='s3v4' make
 * these; users paste them into curl and browsers.
 *
 * This file reads and checks the X-Amz-* parameters and the validity
 * window (X-Amz-Date .. X-Amz-Date + X-Amz-Expires); the canonical request
 * and the signature are sigv4.c's (auth__sigv4_finish), with two
 * differences from header auth that AWS spells out: the canonical query
 * holds every parameter except X-Amz-Signature, and the payload line is
 * UNSIGNED-PAYLOAD unless the client signed a payload hash.
 */
#include "internal.h"

#include <string.h>

#define MAX_SKEW_SECONDS (15 * 60)
#define MAX_EXPIRES 604800 /* seven days: "X-Amz-Expires ... Maximum 604800" */

static const char need_all[] =
    "Query-string authentication version 4 requires the X-Amz-Algorithm, "
    "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
    "X-Amz-Expires parameters.";

typedef struct qauth {
    char *algorithm, *credential, *date, *expires, *signed_headers, *signature;
} qauth;

/* The decoded value of the one parameter called name. */
static int param_get(tarn_arena *a, const char *q, const char *name, char **out,
                     const char **d)
{
    const char *v;
    size_t vn, n = auth__query_find(q, name, &v, &vn);
    if (n == 0)
        return auth__fail(d, need_all, AUTH_E_QUERY_PARAMS);
    if (n > 1) {
        *d = tarn_arena_printf(a, "Query-string authentication version 4 allows only one "
                               "%s parameter.", name);
        return AUTH_E_QUERY_PARAMS;
    }
    int rc = auth__query_decode(a, v, vn, out);
    if (rc == TARN_E_INVALID_ARGUMENT)
        *d = "The query string has a malformed percent-escape.";
    return rc;
}

static int params_get(tarn_arena *a, const char *q, qauth *p, const char **d)
{
    int rc = param_get(a, q, "X-Amz-Algorithm", &p->algorithm, d);
    if (!rc)
        rc = param_get(a, q, "X-Amz-Credential", &p->credential, d);
    if (!rc)
        rc = param_get(a, q, "X-Amz-Signature", &p->signature, d);
    if (!rc)
        rc = param_get(a, q, "X-Amz-Date", &p->date, d);
    if (!rc)
        rc = param_get(a, q, "X-Amz-SignedHeaders", &p->signed_headers, d);
    if (!rc)
        rc = param_get(a, q, "X-Amz-Expires", &p->expires, d);
    return rc;
}

/* The header parser words its details for the Authorization header; say
 * which parameter was wrong instead, as AWS does ("Error parsing the
 * X-Amz-Credential parameter; ..."). */
const char *auth__detail_reword(tarn_arena *a, const char *d, const char *param)
{
    static const char hdr[] = "The authorization header is malformed; ";
    if (d && strncmp(d, hdr, sizeof(hdr) - 1) == 0) {
        const char *s = tarn_arena_printf(a, "Error parsing the %s parameter; %s", param,
                                          d + sizeof(hdr) - 1);
        if (s)
            return s;
    }
    return d;
}

/* X-Amz-Expires: seconds, 1 .. 604800 (AWS's wording for each case). */
static int expires_parse(const char *s, int64_t *out, const char **d)
{
    const char *p = s + (*s == '-');
    if (!*p || strspn(p, "0123456789") != strlen(p))
        return auth__fail(d, "X-Amz-Expires should be a number", AUTH_E_QUERY_PARAMS);
    if (*s == '-')
        return auth__fail(d, "X-Amz-Expires must be non-negative", AUTH_E_QUERY_PARAMS);
    int64_t v = 0;
    for (; *p && v <= MAX_EXPIRES; p++)
        v = v * 10 + (*p - '0');
    if (v > MAX_EXPIRES)
        return auth__fail(d, "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                    AUTH_E_QUERY_PARAMS);
    if (v == 0)
        return auth__fail(d, "X-Amz-Expires must be greater than 0", AUTH_E_QUERY_PARAMS);
    *out = v;
    return 0;
}

/* Everything about the parameters that can be judged without the secret. */
static int params_check(tarn_arena *a, const qauth *p, auth_sigv4_hdr *h, int64_t *t,
                        int64_t *expires, const char **d)
{
    if (strcmp(p->algorithm, "AWS4-HMAC-SHA256") != 0)
        return auth__fail(d, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
                    AUTH_E_QUERY_PARAMS);
    int rc = auth__sigv4_credential_parse(a, p->credential, strlen(p->credential), h, d);
    if (rc) {
        *d = auth__detail_reword(a, *d, "X-Amz-Credential");
        return AUTH_E_QUERY_PARAMS;
    }
    if (auth__time_parse_iso8601(p->date, t))
        return auth__fail(d, "X-Amz-Date must be in the ISO8601 Long Format "
                    "\"yyyyMMdd'T'HHmmss'Z'\"", AUTH_E_QUERY_PARAMS);
    if ((rc = expires_parse(p->expires, expires, d)))
        return rc;
    rc = auth__sigv4_signed_headers_parse(p->signed_headers, strlen(p->signed_headers), h, d);
    if (rc) {
        *d = auth__detail_reword(a, *d, "X-Amz-SignedHeaders");
        return AUTH_E_QUERY_PARAMS;
    }
    if (memcmp(h->date8, p->date, 8) != 0) {
        *d = tarn_arena_printf(a, "Error parsing the X-Amz-Credential parameter; Invalid "
                               "credential date \"%.8s\". This date is not the same as "
                               "X-Amz-Date: \"%.8s\".", h->date8, p->date);
        return AUTH_E_QUERY_PARAMS;
    }
    /* A signature that is not 64 hex digits cannot match: say so as AWS
     * does, not as a malformed request. */
    if (strlen(p->signature) != 64 || auth__unhex(p->signature, 32, h->signature))
        return auth__fail(d, "The request signature we calculated does not match the signature "
                    "you provided. Check your key and signing method.",
                    TARN_E_SIGNATURE_DOES_NOT_MATCH);
    return 0;
}

/* Valid from 15 minutes (the clock skew allowed) before X-Amz-Date until
 * X-Amz-Date + X-Amz-Expires, both ends included. */
static int window_check(int64_t t, int64_t expires, int64_t now, const char **d)
{
    if (t - now > MAX_SKEW_SECONDS)
        return auth__fail(d, "Request is not valid yet", TARN_E_ACCESS_DENIED);
    if (now > t + expires)
        return auth__fail(d, "Request has expired", TARN_E_ACCESS_DENIED);
    return 0;
}

/* The payload line: a hash the client signed, from the header or hoisted
 * into the query (the JS SDK v3 presigner moves x-amz-content-sha256 into
 * X-Amz-Content-Sha256), else UNSIGNED-PAYLOAD. */
static int payload_get(tarn_arena *a, const auth_request *r, const char **out,
                       const char **d)
{
    const char *v = auth__header_find(r->headers, r->n_headers, "x-amz-content-sha256", NULL);
    const char *qv;
    size_t qn;
    if (!v && auth__query_find(r->raw_query, "X-Amz-Content-Sha256", &qv, &qn)) {
        char *dec;
        int rc = auth__query_decode(a, qv, qn, &dec);
        if (rc)
            return rc == TARN_E_INVALID_ARGUMENT
                       ? auth__fail(d, "The query string has a malformed percent-escape.", rc)
                       : rc;
        v = dec;
    }
    *out = v ? v : "UNSIGNED-PAYLOAD";
    return 0;
}

int auth__presign_verify(tarn_arena *a, const auth_creds *c, const auth_request *r,
                         auth_result *out, const char **d)
{
    /* tarn issues no temporary credentials: a session token names a key
     * that cannot exist here. */
    if (auth__query_find(r->raw_query, "X-Amz-Security-Token", NULL, NULL))
        return auth__fail(d, "The provided token is malformed or otherwise invalid.",
                    TARN_E_INVALID_ACCESS_KEY_ID);
    qauth p;
    auth_sigv4_hdr h;
    int64_t t, expires;
    memset(&h, 0, sizeof(h));
    int rc = params_get(a, r->raw_query, &p, d);
    if (rc || (rc = params_check(a, &p, &h, &t, &expires, d)))
        return rc;
    const char *secret = auth__creds_find(c, h.akid, h.akid_len);
    if (!secret)
        return auth__fail(d, "The AWS Access Key Id you provided does not exist in our records.",
                    TARN_E_INVALID_ACCESS_KEY_ID);
    if ((rc = window_check(t, expires, r->now, d)))
        return rc;
    const char *payload;
    if ((rc = payload_get(a, r, &payload, d)) || (rc = auth__payload_parse(payload, out, d)))
        return rc;
    return auth__sigv4_finish(a, c, secret, r, &h, p.date, payload, "X-Amz-Signature", out,
                              d);
}
