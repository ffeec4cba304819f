/*
 * op_multipart.c — the multipart upload operations (S3 API reference:
 * CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
 * AbortMultipartUpload; ListParts and ListMultipartUploads are in
 * op_multipart_list.c) and GetObject/HeadObject's partNumber.
 *
 * UploadPart streams its body exactly as PutObject does (auth_body undoes
 * aws-chunked and checks Content-MD5 and x-amz-checksum-*, the stripes go
 * to storage's put pipeline, the request is suspended while storage's
 * buffers are full); only the commit differs, which storage decides. The
 * S3 rules of CompleteMultipartUpload (order, ETags, sizes, checksums) and
 * the values derived from the parts (the "-N" ETag, composite or
 * full-object checksums) are computed here, from the part records storage
 * returns; storage then writes the upload's manifest through the worker's
 * ring and stitches the parts into one version in one batch
 * (docs/multipart.md).
 */
#include "server/internal.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KEY_BYTES 1024
#define MAX_PART_SIZE (5ull << 30)          /* S3: a part is at most 5 GiB */
#define COMPLETE_MAX_BODY (4u << 20)        /* 10,000 Parts with all fields fit */

static const char PART_NUMBER_DETAIL[] =
    "Part number must be an integer between 1 and 10000, inclusive";
static const char INVALID_PART_DETAIL[] =
    "One or more of the specified parts could not be found.  The part may not have been "
    "uploaded, or the specified entity tag may not match the part's entity tag.";

static int key_checked(srv_request *r)
{
    if (!stor_bucket_name_valid(r->route.bucket))
        return TARN_E_NO_SUCH_BUCKET;
    return r->route.key_len > MAX_KEY_BYTES ? TARN_E_KEY_TOO_LONG : 0;
}

static stor *store_of(srv_request *r) { return srv_request_shared(r)->store; }

static const char *upload_id_of(srv_request *r)
{
    const char *id = srv_route_query(&r->route, "uploadId");
    return id ? id : "";
}

/* "crc32" etc., as AWS spells algorithms in its messages. */
static const char *alg_lower(srv_request *r, int auth_alg)
{
    const char *n = auth_checksum_alg_name(auth_alg);
    char *s = tarn_arena_strdup(r->arena, n ? n : "null");
    for (char *p = s; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return s ? s : "null";
}

/* 1..10000, or 0 for anything else. */
static uint32_t part_number_parse(const char *s)
{
    char *end;
    long v = s && *s ? strtol(s, &end, 10) : 0;
    return v >= 1 && v <= STOR_MP_MAX_PARTS && !*end ? (uint32_t)v : 0;
}

/* ---- CreateMultipartUpload ------------------------------------------------ */

/* x-amz-checksum-algorithm and x-amz-checksum-type (S3 user guide,
 * "Checking object integrity", multipart uploads): CRC64NVME supports only
 * FULL_OBJECT, SHA1 and SHA256 only COMPOSITE, CRC32 and CRC32C both.
 * Without a type, AWS uses FULL_OBJECT for CRC64NVME and COMPOSITE for the
 * others, and so do we. */
static int create_checksum(srv_request *r, stor_upload *u, const char **detail)
{
    const char *alg = srv_request_header(r, "x-amz-checksum-algorithm");
    const char *type = srv_request_header(r, "x-amz-checksum-type");
    int a = alg ? auth_checksum_alg_parse(alg) : AUTH_CK_NONE;
    u->checksum_alg = a == AUTH_CK_NONE ? -1 : a - AUTH_CK_CRC32;
    if (alg && a == AUTH_CK_NONE) {
        *detail = "Checksum algorithm provided is unsupported. Please try again with any of "
                  "the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]";
        return TARN_E_INVALID_REQUEST;
    }
    u->checksum_full = a == AUTH_CK_CRC64NVME;
    if (!type)
        return 0;
    if (strcasecmp(type, "COMPOSITE") && strcasecmp(type, "FULL_OBJECT")) {
        *detail = "Value for x-amz-checksum-type header is invalid.";
        return TARN_E_INVALID_REQUEST;
    }
    if (!alg) {
        *detail = "The x-amz-checksum-type header can only be used with the "
                  "x-amz-checksum-algorithm header.";
        return TARN_E_INVALID_REQUEST;
    }
    u->checksum_full = strcasecmp(type, "FULL_OBJECT") == 0;
    int ok = u->checksum_full ? a != AUTH_CK_SHA1 && a != AUTH_CK_SHA256 : a != AUTH_CK_CRC64NVME;
    if (!ok)
        *detail = tarn_arena_printf(r->arena, "The %s checksum type cannot be used with the %s "
                                    "checksum algorithm.", u->checksum_full ? "FULL_OBJECT"
                                    : "COMPOSITE", alg_lower(r, a));
    return ok ? 0 : TARN_E_INVALID_REQUEST;
}

static void checksum_headers(srv_request *r, int stor_alg, int full)
{
    if (stor_alg < 0)
        return;
    srv_response_header(r, "x-amz-checksum-algorithm",
                        auth_checksum_alg_name(stor_alg + AUTH_CK_CRC32));
    srv_response_header(r, "x-amz-checksum-type", full ? "FULL_OBJECT" : "COMPOSITE");
}

static void create_done(void *arg, int rc)
{
    srv_request *r = arg;
    const stor_upload *u = r->op_state;
    if (rc) {
        srv_respond_error(r, rc, NULL);
        srv_request_resume(r);
        return;
    }
    srv_xml *x = srv_xml_begin("InitiateMultipartUploadResult", 1);
    srv_xml_elem(x, "Bucket", r->route.bucket);
    srv_xml_elem(x, "Key", tarn_arena_strndup(r->arena, r->route.key, r->route.key_len));
    srv_xml_elem(x, "UploadId", u->upload_id);
    srv_respond_xml(r, 200, x);
    checksum_headers(r, u->checksum_alg, u->checksum_full);
    srv_request_resume(r);
}

static void create_run(srv_request *r)
{
    const char *detail = NULL;
    stor_upload *u = tarn_arena_calloc(r->arena, sizeof(*u));
    int rc = u ? key_checked(r) : TARN_E_NOMEM;
    if (!rc)
        rc = create_checksum(r, u, &detail);
    if (!rc)
        rc = srv_content_meta_collect(r, &u->meta);
    if (!rc) {
        snprintf(u->owner, sizeof(u->owner), "%s", r->auth.access_key ? r->auth.access_key : "");
        r->op_state = u;
        rc = stor_multipart_create(store_of(r), srv_request_waker(r), r->route.bucket,
                                   r->route.key, r->route.key_len, u, u, create_done, r);
    }
    if (rc)
        srv_respond_error(r, rc, detail);
    else
        srv_request_suspend(r);
}

/* ---- UploadPart ------------------------------------------------------------ */

/* A part of an upload created with a checksum algorithm carries that
 * algorithm's checksum (S3: "Checksum Type mismatch" otherwise). One sent
 * by the client is checked by auth_body; without one we compute it, by
 * reading the body as if x-amz-sdk-checksum-algorithm had named it. */
static int part_checksum(srv_request *r, const stor_upload *u, const char **detail)
{
    auth_checksum_spec spec;
    int trailer = r->auth.streaming == AUTH_STREAM_UNSIGNED_TRAILER ||
                  r->auth.streaming == AUTH_STREAM_SIGNED_TRAILER;
    int want = u->checksum_alg + AUTH_CK_CRC32;
    if (u->checksum_alg < 0 || auth_checksum_spec_parse(r->headers, r->n_headers, trailer, &spec,
                                                        NULL))
        return 0; /* nothing asked for, or auth_body_create already refused it */
    if (spec.alg == want)
        return 0;
    if (spec.alg != AUTH_CK_NONE) {
        *detail = tarn_arena_printf(r->arena, "Checksum Type mismatch occurred, expected "
                                    "checksum Type: %s, actual checksum Type: %s",
                                    alg_lower(r, want), alg_lower(r, spec.alg));
        return TARN_E_INVALID_REQUEST;
    }
    auth_header *h = tarn_arena_alloc(r->arena, (r->n_headers + 1) * sizeof(*h));
    if (!h)
        return TARN_E_NOMEM;
    memcpy(h, r->headers, r->n_headers * sizeof(*h));
    h[r->n_headers] = (auth_header){"x-amz-sdk-checksum-algorithm", auth_checksum_alg_name(want)};
    return auth_body_create(r->arena, &r->auth, h, r->n_headers + 1, &r->body_reader, detail);
}

static int part_size(srv_request *r, uint64_t *size)
{
    int64_t decoded = auth_body_expected_length(r->body_reader);
    const char *cl = srv_request_header(r, "Content-Length");
    char *end;
    if (decoded >= 0) {
        *size = (uint64_t)decoded;
    } else {
        if (!cl)
            return TARN_E_MISSING_CONTENT_LENGTH;
        *size = strtoull(cl, &end, 10);
        if (!*cl || *end)
            return TARN_E_INVALID_ARGUMENT;
    }
    return *size > MAX_PART_SIZE ? TARN_E_ENTITY_TOO_LARGE : 0;
}

static int part_setup(srv_request *r, uint32_t num, const char **detail)
{
    stor_upload u;
    uint64_t size;
    int rc = stor_multipart_get(store_of(r), r->arena, r->route.bucket, r->route.key,
                                r->route.key_len, upload_id_of(r), &u);
    if (!rc)
        rc = part_checksum(r, &u, detail);
    if (!rc)
        rc = part_size(r, &size);
    if (rc)
        return rc;
    srv_put_stream *ps = srv_put_stream_create(r);
    if (!ps)
        return TARN_E_NOMEM;
    return stor_part_begin(srv_request_ioctx(r), r->route.bucket, r->route.key,
                           r->route.key_len, upload_id_of(r), num, size, &ps->put);
}

/* Before the body: the part number, the upload, the checksum, the size. */
static int part_begin(srv_request *r)
{
    const char *detail = NULL;
    uint32_t num = part_number_parse(srv_route_query(&r->route, "partNumber"));
    int rc = key_checked(r);
    if (!rc && !num) {
        rc = TARN_E_INVALID_ARGUMENT;
        detail = PART_NUMBER_DETAIL;
    }
    if (!rc)
        rc = part_setup(r, num, &detail);
    if (rc)
        srv_request_fail(r, rc, detail); /* first failure wins: keeps the detail */
    return rc;
}

static void part_run(srv_request *r)
{
    srv_put_stream *ps = r->op_state;
    stor_object meta = {0};
    snprintf(meta.etag, sizeof(meta.etag), "%s", auth_body_etag(r->body_reader));
    int alg = auth_body_checksum_alg(r->body_reader);
    if (alg != AUTH_CK_NONE)
        meta.checksum[alg - AUTH_CK_CRC32] = auth_body_checksum_value(r->body_reader);
    int rc = stor_put_finish(ps->put, &meta, srv_put_stream_done_part, r);
    if (rc)
        srv_respond_error(r, rc, NULL);
    else
        srv_request_suspend(r);
}

/* ---- CompleteMultipartUpload: S3's rules ------------------------------------- */

typedef struct complete_state {
    stor_upload u;
    stor_part *chosen;
    size_t n;
    stor_object meta, out;
} complete_state;

/* ETags compare without their quotes and hex case. */
static int etag_matches(const char *sent, const char *stored)
{
    size_t n = strlen(sent);
    if (n >= 2 && sent[0] == '"' && sent[n - 1] == '"')
        sent++, n -= 2;
    return n == strlen(stored) && strncasecmp(sent, stored, n) == 0;
}

/* The stored part each requested one names (both lists ascending). */
static int complete_match(const srv_complete_part *req, size_t n, const stor_part_list *have,
                          stor_part *chosen)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && req[i].number <= req[i - 1].number)
            return TARN_E_INVALID_PART_ORDER;
    }
    for (size_t i = 0; i < n; i++) {
        while (j < have->n && have->parts[j].number < req[i].number)
            j++;
        if (!req[i].number || j == have->n || have->parts[j].number != req[i].number ||
            !etag_matches(req[i].etag, have->parts[j].etag))
            return TARN_E_INVALID_PART;
        chosen[i] = have->parts[j];
    }
    return 0;
}

/* Sizes (S3: every part but the last at least 5 MiB) and the checksums
 * sent with each part: those must match what the part was stored with,
 * and a COMPOSITE upload must get one for every part. */
static int complete_check(srv_request *r, const stor_upload *u, const srv_complete_part *req,
                          const stor_part *chosen, size_t n, const char **detail)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (chosen[i].size < STOR_MP_MIN_PART) {
            *detail = "Your proposed upload is smaller than the minimum allowed size";
            return TARN_E_ENTITY_TOO_SMALL;
        }
    for (size_t i = 0; i < n; i++) {
        for (int a = 0; a < STOR_CK__COUNT; a++) {
            const char *sent = req[i].checksum[a], *stored = chosen[i].checksum[a];
            if (sent && (!stored || strcmp(sent, stored) != 0)) {
                *detail = INVALID_PART_DETAIL;
                return TARN_E_INVALID_PART;
            }
        }
        int a = u->checksum_alg;
        if (a >= 0 && !u->checksum_full && !req[i].checksum[a]) {
            *detail = tarn_arena_printf(r->arena, "The upload was created using a %s checksum. "
                                        "The complete request must include the checksum for "
                                        "each part. It was missing for part %u in the request.",
                                        alg_lower(r, a + AUTH_CK_CRC32), req[i].number);
            return TARN_E_INVALID_REQUEST;
        }
    }
    return 0;
}

/* ---- CompleteMultipartUpload: the derived ETag and checksum --------------------- */

/* A part's stored checksum (base64) as its w digest bytes. */
static int part_checksum_bytes(const stor_part *p, int alg, unsigned char *out, size_t w)
{
    const char *v = p->checksum[alg - AUTH_CK_CRC32];
    return v ? auth_base64_decode_exact(v, strlen(v), out, w) : -1;
}

/* S3's multipart ETag: hex MD5 of the parts' binary MD5s, then "-N". */
static int complete_etag(const stor_part *p, size_t n, char *out, size_t cap)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char md5[16], sum[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    int ok = c && EVP_DigestInit_ex(c, EVP_md5(), NULL);
    for (size_t i = 0; ok && i < n; i++) {
        for (int b = 0; b < 16; b++) {
            int hi = tarn_hex_value(p[i].etag[2 * b]), lo = hi < 0 ? -1 : tarn_hex_value(p[i].etag[2 * b + 1]);
            ok = ok && lo >= 0;
            md5[b] = ok ? (unsigned char)(hi << 4 | lo) : 0;
        }
        ok = ok && EVP_DigestUpdate(c, md5, sizeof(md5));
    }
    ok = ok && EVP_DigestFinal_ex(c, sum, &len);
    EVP_MD_CTX_free(c);
    if (!ok)
        return TARN_E_INTERNAL;
    char hex[33];
    tarn_hex(sum, 16, hex);
    snprintf(out, cap, "%s-%zu", hex, n);
    return 0;
}

/* FULL_OBJECT: the CRC of the whole object, combined from the parts' CRCs
 * and sizes (no data is read). Base64 of the big-endian value. */
static const char *full_crc(srv_request *r, int alg, const stor_part *p, size_t n)
{
    size_t w = alg == AUTH_CK_CRC64NVME ? 8 : 4;
    uint64_t crc = 0;
    unsigned char be[8], b64[16];
    for (size_t i = 0; i < n; i++) {
        if (part_checksum_bytes(&p[i], alg, be, w))
            return NULL;
        uint64_t v = 0;
        for (size_t b = 0; b < w; b++)
            v = v << 8 | be[b];
        crc = i == 0                      ? v
              : alg == AUTH_CK_CRC32      ? auth_crc32_combine((uint32_t)crc, (uint32_t)v, p[i].size)
              : alg == AUTH_CK_CRC32C     ? auth_crc32c_combine((uint32_t)crc, (uint32_t)v, p[i].size)
                                          : auth_crc64nvme_combine(crc, v, p[i].size);
    }
    for (size_t b = 0; b < w; b++)
        be[b] = (unsigned char)(crc >> (8 * (w - 1 - b)));
    EVP_EncodeBlock(b64, be, (int)w);
    return tarn_arena_strdup(r->arena, (const char *)b64);
}

/* COMPOSITE: the algorithm over the parts' binary checksums, then "-N". */
static const char *composite(srv_request *r, int alg, const stor_part *p, size_t n)
{
    auth_checksum_spec spec = {.alg = alg};
    auth_checksum *c;
    unsigned char d[AUTH_CK_MAX_DIGEST];
    size_t w = auth_checksum_alg_size(alg);
    if (auth_checksum_create(r->arena, &spec, &c))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (part_checksum_bytes(&p[i], alg, d, w))
            return NULL;
        auth_checksum_update(c, d, w);
    }
    if (auth_checksum_finish(c, NULL))
        return NULL;
    return tarn_arena_printf(r->arena, "%s-%zu", auth_checksum_value(c), n);
}

/* The object's checksum, if the upload has an algorithm and every part was
 * stored with it (parts always are: UploadPart computes it). */
static int complete_checksum(srv_request *r, complete_state *cs)
{
    int a = cs->u.checksum_alg;
    if (a < 0)
        return 0;
    for (size_t i = 0; i < cs->n; i++)
        if (!cs->chosen[i].checksum[a])
            return 0; /* a part from before the algorithm was enforced: no value */
    const char *v = cs->u.checksum_full ? full_crc(r, a + AUTH_CK_CRC32, cs->chosen, cs->n)
                                        : composite(r, a + AUTH_CK_CRC32, cs->chosen, cs->n);
    if (!v)
        return TARN_E_INTERNAL;
    cs->meta.checksum[a] = v;
    return 0;
}

/* ---- CompleteMultipartUpload: the operation ------------------------------------ */

/* x-amz-checksum-<alg> on CompleteMultipartUpload is the whole object's
 * checksum (S3 API reference: for FULL_OBJECT uploads), not the XML
 * body's: the body is read without it, and complete_expected compares it
 * with the derived value. */
static int complete_begin(srv_request *r)
{
    auth_header *h = tarn_arena_alloc(r->arena, (r->n_headers + 1) * sizeof(*h));
    size_t n = 0;
    int found = 0;
    if (!h)
        return TARN_E_NOMEM;
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *name = r->headers[i].name;
        int is_ck = strncasecmp(name, "x-amz-checksum-", 15) == 0 &&
                    auth_checksum_alg_parse(name + 15) != AUTH_CK_NONE;
        found |= is_ck;
        if (!is_ck)
            h[n++] = r->headers[i];
    }
    const char *detail = NULL;
    int rc = found ? auth_body_create(r->arena, &r->auth, h, n, &r->body_reader, &detail) : 0;
    if (rc)
        srv_request_fail(r, rc, detail);
    return rc;
}

static int complete_expected(srv_request *r, const complete_state *cs, const char **detail)
{
    int a = cs->u.checksum_alg;
    const char *sent = a >= 0 ? srv_request_header(r, auth_checksum_alg_header(a + AUTH_CK_CRC32))
                              : NULL;
    if (!sent || !cs->u.checksum_full || (cs->meta.checksum[a] && !strcmp(sent, cs->meta.checksum[a])))
        return 0;
    *detail = tarn_arena_printf(r->arena, "The %s you specified did not match the calculated "
                                "checksum.", auth_checksum_alg_name(a + AUTH_CK_CRC32));
    return TARN_E_BAD_DIGEST;
}

static void complete_done(void *arg, int rc)
{
    srv_request *r = arg;
    complete_state *cs = r->op_state;
    if (rc) {
        srv_respond_error(r, rc, rc == TARN_E_INVALID_PART ? INVALID_PART_DETAIL : NULL);
        srv_request_resume(r);
        return;
    }
    const char *host = srv_request_header(r, "Host");
    const char *k = tarn_uri_encode(r->arena, r->route.key, r->route.key_len, 1);
    srv_xml *x = srv_xml_begin("CompleteMultipartUploadResult", 1);
    srv_xml_elem(x, "Location", tarn_arena_printf(r->arena, "http://%s/%s/%s", host ? host : "",
                                                  r->route.bucket, k ? k : ""));
    srv_xml_elem(x, "Bucket", r->route.bucket);
    srv_xml_elem(x, "Key", tarn_arena_strndup(r->arena, r->route.key, r->route.key_len));
    srv_xml_elem(x, "ETag", tarn_arena_printf(r->arena, "\"%s\"", cs->meta.etag));
    int a = cs->u.checksum_alg;
    if (a >= 0 && cs->meta.checksum[a]) {
        srv_xml_elem(x, tarn_arena_printf(r->arena, "Checksum%s",
                                          auth_checksum_alg_name(a + AUTH_CK_CRC32)),
                     cs->meta.checksum[a]);
        srv_xml_elem(x, "ChecksumType", cs->u.checksum_full ? "FULL_OBJECT" : "COMPOSITE");
    }
    srv_respond_xml(r, 200, x);
    srv_request_resume(r);
}

/* Read the upload and its parts, apply S3's rules, derive the values. */
static int complete_prepare(srv_request *r, complete_state *cs, const char **detail)
{
    srv_complete_part *req;
    stor_part_list have;
    int rc = srv_xml_parse_complete(r->arena, r->body.data ? r->body.data : "", r->body.len,
                                    &req, &cs->n);
    if (!rc)
        rc = stor_multipart_get(store_of(r), r->arena, r->route.bucket, r->route.key,
                                r->route.key_len, upload_id_of(r), &cs->u);
    if (!rc)
        rc = stor_multipart_parts(store_of(r), r->arena, r->route.bucket, r->route.key,
                                  r->route.key_len, upload_id_of(r), 0, STOR_MP_MAX_PARTS, &have);
    if (!rc && !(cs->chosen = tarn_arena_calloc(r->arena, cs->n * sizeof(stor_part))))
        rc = TARN_E_NOMEM;
    if (!rc && (rc = complete_match(req, cs->n, &have, cs->chosen)) == TARN_E_INVALID_PART)
        *detail = INVALID_PART_DETAIL;
    if (!rc)
        rc = complete_check(r, &cs->u, req, cs->chosen, cs->n, detail);
    if (!rc)
        rc = complete_etag(cs->chosen, cs->n, cs->meta.etag, sizeof(cs->meta.etag));
    if (!rc)
        rc = complete_checksum(r, cs);
    if (!rc)
        rc = complete_expected(r, cs, detail);
    return rc;
}

static void complete_run(srv_request *r)
{
    const char *detail = NULL;
    complete_state *cs = tarn_arena_calloc(r->arena, sizeof(*cs));
    int rc = cs ? key_checked(r) : TARN_E_NOMEM;
    if (!rc)
        rc = complete_prepare(r, cs, &detail);
    if (!rc) {
        const stor_object *um = &cs->u.meta;
        cs->meta.content_type = um->content_type;
        cs->meta.content_encoding = um->content_encoding;
        cs->meta.content_disposition = um->content_disposition;
        cs->meta.content_language = um->content_language;
        cs->meta.cache_control = um->cache_control;
        cs->meta.expires = um->expires;
        cs->meta.meta = um->meta;
        cs->meta.n_meta = um->n_meta;
        r->op_state = cs;
        rc = stor_multipart_complete(srv_request_ioctx(r), r->route.bucket, r->route.key,
                                     r->route.key_len, upload_id_of(r), cs->chosen, cs->n,
                                     &cs->meta, &cs->out, complete_done, r);
    }
    if (rc)
        srv_respond_error(r, rc, detail ? detail : rc == TARN_E_INVALID_PART ? INVALID_PART_DETAIL
                                                                               : NULL);
    else
        srv_request_suspend(r);
}

/* ---- AbortMultipartUpload ------------------------------------------------------- */

static void abort_run(srv_request *r)
{
    stor_bucket b;
    int rc = key_checked(r);
    if (!rc) /* an unknown bucket is NoSuchBucket, not NoSuchUpload */
        rc = stor_bucket_get(store_of(r), r->route.bucket, &b);
    if (!rc)
        rc = stor_multipart_abort(store_of(r), srv_request_waker(r), r->route.bucket,
                                  r->route.key, r->route.key_len, upload_id_of(r), srv_request_done_204, r);
    if (rc)
        srv_respond_error(r, rc, NULL);
    else
        srv_request_suspend(r);
}

/* ---- GetObject / HeadObject ?partNumber ------------------------------------------ */

int srv__get_part_range(srv_request *r, stor_get *g, uint64_t *first, uint64_t *last)
{
    const char *pn = srv_route_query(&r->route, "partNumber");
    uint32_t count, num = part_number_parse(pn);
    if (!pn)
        return 0;
    if (!num) {
        srv_respond_error(r, TARN_E_INVALID_ARGUMENT, PART_NUMBER_DETAIL);
        return TARN_E_INVALID_ARGUMENT;
    }
    if (srv_request_header(r, "Range")) {
        srv_respond_error(r, TARN_E_INVALID_REQUEST,
                          "Cannot specify both Range header and partNumber query parameter");
        return TARN_E_INVALID_REQUEST;
    }
    /* AWS answers 416 InvalidPartNumber; tarn's error table has no such
     * code, so this is 416 InvalidRange with AWS's message. */
    int rc = stor_get_part(g, num, first, last, &count);
    if (rc)
        srv_respond_error(r, rc, "The requested partnumber is not satisfiable");
    return rc ? rc : 1;
}

void srv__get_part_headers(srv_request *r, stor_get *g)
{
    uint64_t first, last;
    uint32_t count;
    uint32_t num = part_number_parse(srv_route_query(&r->route, "partNumber"));
    if (num && stor_get_part(g, num, &first, &last, &count) == 0 && count)
        srv_response_header(r, "x-amz-mp-parts-count", tarn_arena_printf(r->arena, "%u", count));
}

const srv_op srv_op_create_multipart_upload = {.run = create_run};
const srv_op srv_op_upload_part = {.begin = part_begin, .body = srv_put_stream_body,
                                  .run = part_run};
const srv_op srv_op_complete_multipart_upload = {.max_body = COMPLETE_MAX_BODY,
                                                 .begin = complete_begin, .run = complete_run};
const srv_op srv_op_abort_multipart_upload = {.run = abort_run};

/* ---- UploadPartCopy ------------------------------------------------------------
 * A part whose bytes come from an existing object (S3 API reference,
 * "UploadPartCopy"): x-amz-copy-source and its -if-* conditions as for
 * CopyObject (srv_copy_source_open), x-amz-copy-source-range "bytes=a-b"
 * (both ends required, within the source), pumped through srv_copy into a
 * part put, then committed like UploadPart. */

typedef struct part_copy_state {
    srv_copy_source src;
    stor_put *put;
    srv_copy *copy;
    int alg;
} part_copy_state;

static void part_copy_cleanup(void *arg)
{
    part_copy_state *cs = arg;
    if (cs->put)
        stor_put_free(cs->put);
}

static int copy_range_parse(srv_request *r, uint64_t size, uint64_t *first, uint64_t *len)
{
    const char *h = srv_request_header(r, "x-amz-copy-source-range");
    unsigned long long a, b;
    int used = 0;
    if (!h) {
        *first = 0;
        *len = size;
        return 0;
    }
    if (sscanf(h, "bytes=%llu-%llu%n", &a, &b, &used) != 2 || h[used] || a > b) {
        srv_request_fail(r, TARN_E_INVALID_ARGUMENT,
                         "The x-amz-copy-source-range value must be of the form bytes=first-last "
                         "where first and last are the zero-based offsets of the first and last "
                         "bytes to copy");
        return TARN_E_INVALID_ARGUMENT;
    }
    if (b >= size) {
        srv_request_fail(r, TARN_E_INVALID_ARGUMENT,
                         tarn_arena_printf(r->arena, "Range specified is not valid for source "
                                                     "object of size: %llu",
                                           (unsigned long long)size));
        return TARN_E_INVALID_ARGUMENT;
    }
    *first = a;
    *len = b - a + 1;
    return 0;
}

static void part_copy_committed(void *arg, int rc)
{
    srv_request *r = arg;
    part_copy_state *cs = r->op_state;
    if (rc) {
        srv_respond_error(r, rc, NULL);
    } else {
        char when[32];
        srv_xml_time(tarn_now_unix(), when);
        srv_xml *x = srv_xml_begin("CopyPartResult", 1);
        srv_xml_elem(x, "LastModified", when);
        srv_xml_elem(x, "ETag", tarn_arena_printf(r->arena, "\"%s\"", srv_copy_etag(cs->copy)));
        if (cs->alg != AUTH_CK_NONE)
            srv_xml_elem(x, tarn_arena_printf(r->arena, "Checksum%s",
                                              auth_checksum_alg_name(cs->alg)),
                         srv_copy_checksum(cs->copy));
        srv_respond_xml(r, 200, x);
    }
    srv_request_resume(r);
}

/* The bytes are all in the put: commit the part like UploadPart does. */
static void part_copy_copied(srv_request *r, int rc)
{
    part_copy_state *cs = r->op_state;
    stor_object meta = {0};
    if (!rc) {
        snprintf(meta.etag, sizeof(meta.etag), "%s", srv_copy_etag(cs->copy));
        if (cs->alg != AUTH_CK_NONE)
            meta.checksum[cs->alg - AUTH_CK_CRC32] = srv_copy_checksum(cs->copy);
        rc = stor_put_finish(cs->put, &meta, part_copy_committed, r);
    }
    if (rc) {
        srv_respond_error(r, rc, NULL);
        srv_request_resume(r);
    } else if (!r->suspended) {
        srv_request_suspend(r);
    }
}

static int part_copy_setup(srv_request *r, part_copy_state *cs, const char **detail)
{
    stor_upload u;
    uint64_t first, len;
    uint32_t num = part_number_parse(srv_route_query(&r->route, "partNumber"));
    if (!num) {
        *detail = PART_NUMBER_DETAIL;
        return TARN_E_INVALID_ARGUMENT;
    }
    int rc = stor_multipart_get(store_of(r), r->arena, r->route.bucket, r->route.key,
                                r->route.key_len, upload_id_of(r), &u);
    if (!rc)
        rc = srv_copy_source_open(r, &cs->src, detail);
    if (!rc)
        rc = copy_range_parse(r, cs->src.obj.size, &first, &len);
    if (!rc)
        rc = stor_part_begin(srv_request_ioctx(r), r->route.bucket, r->route.key,
                             r->route.key_len, upload_id_of(r), num, len, &cs->put);
    if (rc)
        return rc;
    cs->alg = u.checksum_alg < 0 ? AUTH_CK_NONE : u.checksum_alg + AUTH_CK_CRC32;
    rc = srv_copy_start(r, cs->src.get, cs->put, first, len, cs->alg, part_copy_copied,
                        &cs->copy);
    if (rc == 1)
        part_copy_copied(r, 0);
    else if (rc == 0)
        srv_request_suspend(r);
    return rc < 0 ? rc : 0;
}

static void part_copy_run(srv_request *r)
{
    const char *detail = NULL;
    part_copy_state *cs = tarn_arena_calloc(r->arena, sizeof(*cs));
    int rc = key_checked(r);
    if (!rc && (!cs || tarn_arena_cleanup_add(r->arena, part_copy_cleanup, cs)))
        rc = TARN_E_NOMEM;
    if (!rc) {
        r->op_state = cs;
        rc = part_copy_setup(r, cs, &detail);
    }
    if (rc && !r->response)
        srv_respond_error(r, r->err ? r->err : rc, r->err ? r->err_detail : detail);
}

const srv_op srv_op_upload_part_copy = {.run = part_copy_run};
