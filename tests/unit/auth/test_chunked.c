/*
 * Unit tests for auth/chunked.c and auth/body.c: aws-chunked bodies.
 *
 * - AWS's documented signed example (S3 API reference, "Signature
 *   Calculations for the Authorization Header: Transferring Payload in
 *   Multiple Chunks", Example: PUT Object: 66560 bytes of 'a' in 64 KiB
 *   chunks), seed signature taken through auth_request_verify, and the
 *   trailer example of "Signature calculations for trailing headers" (same
 *   payload, CRC32C trailer), each fed in several splits.
 * - Unsigned-trailer bodies built here, fed split at every position, one
 *   byte at a time, and through a tiny output buffer (stop and resume).
 * - Every kind of malformed framing, truncation at every length, decoded-
 *   length mismatches, bad chunk / trailer signatures, bad trailer checksum.
 * Signed bodies that AWS has no example for are signed by a small signer
 * here that spells out the string to sign (the HMAC and SHA-256 primitives
 * are checked against RFC 4231 / AWS in test_sigv4.c).
 */
#include "auth/auth.h"
#include "auth/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/unit/check.h"


#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T20130524 1369353600
#define DATE "20130524T000000Z"
#define SCOPE "20130524/us-east-1/s3/aws4_request"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* From the AWS examples. */
#define SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define SIG1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define SIG2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define SIG3 "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
#define TSEED "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
#define TSIG1 "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"
#define TSIG2 "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"
#define TSIG3 "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"
#define TTRAILER "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"

static auth_creds *creds;

/* ---- building bodies ---------------------------------------------------- */

/* Payloads hold NUL bytes: search bodies with memmem, not strstr. */
static char *find(const tarn_buf *b, const char *s)
{
    return memmem(b->data, b->len, s, strlen(s));
}

static void add(tarn_buf *b, const char *s)
{
    tarn_buf_appends(b, s);
}

static void add_a(tarn_buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tarn_buf_append(b, "a", 1);
}

/* The signing context of the AWS examples. */
static void aws_result(auth_result *res, int mode, const char *seed)
{
    memset(res, 0, sizeof(*res));
    res->payload_mode = AUTH_PAYLOAD_STREAMING;
    res->streaming = mode;
    res->chain_ready = 1;
    CHECK(auth__unhex(seed, 32, res->seed_signature) == 0);
    CHECK(auth__signing_key(SECRET, "20130524", "us-east-1", 9, "s3", res->signing_key) == 0);
    memcpy(res->amz_date, DATE, 17);
    res->scope = SCOPE;
}

/* The test's own signer: hex HMAC over the string to sign spelled out. */
static void sign(const auth_result *res, const char *algo, const char *prev_hex,
                 const char *tail, char out[65])
{
    char sts[512];
    int n = snprintf(sts, sizeof(sts), "%s\n%s\n%s\n%s\n%s", algo, DATE, SCOPE, prev_hex, tail);
    unsigned char mac[32];
    CHECK(auth__hmac_sha256(res->signing_key, 32, sts, (size_t)n, mac) == 0);
    tarn_hex(mac, 32, out);
}

static void sign_chunk(const auth_result *res, char prev[65], const void *data, size_t n)
{
    unsigned char h[32];
    char tail[200], hex[65];
    auth_iov v = {data, n};
    CHECK(auth__sha256v(&v, 1, h) == 0);
    tarn_hex(h, 32, hex);
    snprintf(tail, sizeof(tail), "%s\n%s", EMPTY_SHA, hex);
    sign(res, "AWS4-HMAC-SHA256-PAYLOAD", prev, tail, prev);
}

static void sign_trailer(const auth_result *res, char prev[65], const char *canon)
{
    unsigned char h[32];
    char hex[65];
    auth_iov v = {canon, strlen(canon)};
    CHECK(auth__sha256v(&v, 1, h) == 0);
    tarn_hex(h, 32, hex);
    sign(res, "AWS4-HMAC-SHA256-TRAILER", prev, hex, prev);
}

/* A body of chunks of sizes[0..n) (payload bytes i*7+1), then the last
 * chunk, then the trailer line given (without CRLF, may be NULL), then
 * CRLF. Signed when res is non-NULL; the trailer signature is added when
 * res->streaming is AUTH_STREAM_SIGNED_TRAILER (over "\n" when there is no
 * trailer, as S3 signs an empty trailer set). */
static void build(tarn_buf *b, tarn_buf *payload, const size_t *sizes, size_t n,
                  const auth_result *res, const char *trailer)
{
    char prev[65], line[128];
    if (res)
        tarn_hex(res->seed_signature, 32, prev);
    for (size_t c = 0; c <= n; c++) {
        size_t sz = c < n ? sizes[c] : 0, start = payload->len;
        for (size_t i = 0; i < sz; i++) {
            char ch = (char)((payload->len * 7 + 1) & 0xff);
            tarn_buf_append(payload, &ch, 1);
        }
        if (res) {
            sign_chunk(res, prev, payload->data ? payload->data + start : "", sz);
            snprintf(line, sizeof(line), "%zx;chunk-signature=%s\r\n", sz, prev);
        } else {
            snprintf(line, sizeof(line), "%zx\r\n", sz);
        }
        add(b, line);
        tarn_buf_append(b, payload->data ? payload->data + start : "", sz);
        if (c < n)
            add(b, "\r\n");
    }
    if (trailer) {
        add(b, trailer);
        add(b, "\r\n");
    }
    if (res && res->streaming == AUTH_STREAM_SIGNED_TRAILER) {
        char canon[256];
        snprintf(canon, sizeof(canon), "%s\n", trailer ? trailer : "");
        sign_trailer(res, prev, canon);
        add(b, "x-amz-trailer-signature:");
        add(b, prev);
        add(b, "\r\n");
    }
    add(b, "\r\n");
}

/* ---- feeding ----------------------------------------------------------- */

typedef struct outcome {
    int create_rc, rc;
    const char *detail;
    tarn_buf out;
    char value[64], etag[33];
    int alg;
} outcome;

/* Feed body[0..n) in pieces: cut[] are split positions (ascending, may be
 * NULL), every piece further cut into `step`-byte feeds; output goes
 * through a buffer of cap bytes, resuming whenever it fills. */
static outcome feed(const auth_result *res, const auth_header *h, size_t nh, const char *body,
                    size_t n, size_t step, size_t cap)
{
    outcome o = {0};
    tarn_arena *a = tarn_arena_create(0);
    auth_body *b;
    o.create_rc = auth_body_create(a, res, h, nh, &b, &o.detail);
    if (o.create_rc)
        goto done;
    char *out = malloc(cap ? cap : 1);
    for (size_t off = 0; off < n && !o.rc;) {
        size_t k = n - off < step ? n - off : step, used, made;
        o.rc = auth_body_feed(b, body + off, k, &used, out, cap, &made);
        CHECK(used <= k && made <= cap);
        tarn_buf_append(&o.out, out, made);
        off += used;
        if (!o.rc && used < k && made == 0 && cap > 0) {
            CHECK(!"no progress");
            break;
        }
    }
    free(out);
    if (!o.rc)
        o.rc = auth_body_finish(b);
    o.detail = auth_body_detail(b);
    if (!o.rc) {
        const char *v = auth_body_checksum_value(b);
        snprintf(o.value, sizeof(o.value), "%s", v ? v : "");
        snprintf(o.etag, sizeof(o.etag), "%s", auth_body_etag(b));
        o.alg = auth_body_checksum_alg(b);
        CHECK(auth_body_length(b) == o.out.len);
        CHECK((uint64_t)auth_body_expected_length(b) == o.out.len);
    }
done:
    tarn_arena_destroy(a);
    return o;
}

static void outcome_free(outcome *o)
{
    tarn_buf_free(&o->out);
}

/* feed() for its result code only. */
static int feed_rc(const auth_result *res, const auth_header *h, size_t nh, const char *body,
                   size_t n, size_t step, size_t cap)
{
    outcome o = feed(res, h, nh, body, n, step, cap);
    outcome_free(&o);
    return o.create_rc ? o.create_rc : o.rc;
}

/* Feed in two pieces split at `cut`, output unlimited. */
static int feed_split(const auth_result *res, const auth_header *h, size_t nh, const char *body,
                      size_t n, size_t cut, const tarn_buf *want)
{
    tarn_arena *a = tarn_arena_create(0);
    auth_body *b;
    tarn_buf got = {0};
    int rc = auth_body_create(a, res, h, nh, &b, NULL);
    if (!rc)
        rc = auth_body_feed_buf(b, body, cut, &got);
    if (!rc)
        rc = auth_body_feed_buf(b, body + cut, n - cut, &got);
    if (!rc)
        rc = auth_body_finish(b);
    if (!rc && (got.len != want->len || memcmp(got.data, want->data, got.len) != 0))
        rc = TARN_E_INTERNAL;
    tarn_buf_free(&got);
    tarn_arena_destroy(a);
    return rc;
}

/* ---- AWS's examples ----------------------------------------------------- */

static void aws_body(tarn_buf *b, const char *s1, const char *s2, const char *s3)
{
    add(b, "10000;chunk-signature=");
    add(b, s1);
    add(b, "\r\n");
    add_a(b, 65536);
    add(b, "\r\n400;chunk-signature=");
    add(b, s2);
    add(b, "\r\n");
    add_a(b, 1024);
    add(b, "\r\n0;chunk-signature=");
    add(b, s3);
    add(b, "\r\n");
}

static void test_aws_signed_example(void)
{
    /* The seed comes out of auth_request_verify for the documented request. */
    auth_header h[] = {
        {"Host", "s3.amazonaws.com"},
        {"x-amz-date", DATE},
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"Authorization", "AWS4-HMAC-SHA256 Credential=" AKID "/" SCOPE ",SignedHeaders="
                          "content-encoding;content-length;host;x-amz-content-sha256;"
                          "x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"
                          "Signature=" SEED},
        {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
        {"Content-Encoding", "aws-chunked"},
        {"x-amz-decoded-content-length", "66560"},
        {"Content-Length", "66824"},
    };
    size_t nh = sizeof(h) / sizeof(h[0]);
    tarn_arena *a = tarn_arena_create(0);
    auth_request r = {"PUT", "/examplebucket/chunkObject.txt", NULL, h, nh, T20130524, NULL};
    auth_result res;
    const char *d = NULL;
    CHECK_RC(auth_request_verify(a, creds, &r, &res, &d), 0);
    CHECK(res.streaming == AUTH_STREAM_SIGNED && res.chain_ready);
    char hex[65];
    tarn_hex(res.seed_signature, 32, hex);
    CHECK(strcmp(hex, SEED) == 0);
    CHECK(strcmp(res.amz_date, DATE) == 0 && strcmp(res.scope, SCOPE) == 0);

    /* Our signer reproduces the documented chunk signatures. */
    char prev[65] = SEED;
    tarn_buf pay = {0};
    add_a(&pay, 65536);
    sign_chunk(&res, prev, pay.data, 65536);
    CHECK(strcmp(prev, SIG1) == 0);
    sign_chunk(&res, prev, pay.data, 1024);
    CHECK(strcmp(prev, SIG2) == 0);
    sign_chunk(&res, prev, "", 0);
    CHECK(strcmp(prev, SIG3) == 0);
    tarn_buf_free(&pay);

    tarn_buf body = {0}, want = {0};
    aws_body(&body, SIG1, SIG2, SIG3);
    add(&body, "\r\n");
    CHECK(body.len == 66824);
    add_a(&want, 66560);
    static const size_t cuts[] = {0, 1, 85, 86, 87, 88, 5000, 65623, 65624, 65625, 65626,
                                  65700, 66700, 66822, 66823, 66824};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
        CHECK_RC(feed_split(&res, h, nh, body.data, body.len, cuts[i], &want), 0);
    outcome o = feed(&res, h, nh, body.data, body.len, 1000, 4096);
    CHECK_RC(o.rc, 0);
    CHECK(o.out.len == 66560 && memcmp(o.out.data, want.data, 66560) == 0);
    CHECK(o.alg == AUTH_CK_NONE && strlen(o.etag) == 32);
    outcome_free(&o);

    /* One wrong byte in the second chunk: its signature fails. */
    body.data[88 + 65536 + 2 + 86 + 10] = 'b';
    o = feed(&res, h, nh, body.data, body.len, 70000, 70000);
    CHECK_RC(o.rc, TARN_E_SIGNATURE_DOES_NOT_MATCH);
    outcome_free(&o);
    body.data[88 + 65536 + 2 + 86 + 10] = 'a';
    /* A wrong signature on the last chunk. */
    body.data[body.len - 5] ^= 1;
    CHECK_RC(feed_rc(&res, h, nh, body.data, body.len, 7, 100), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    body.data[body.len - 5] ^= 1;
    /* The chain is ordered: the first two signatures swapped fail. */
    tarn_buf sw = {0};
    aws_body(&sw, SIG2, SIG1, SIG3);
    add(&sw, "\r\n");
    o = feed(&res, h, nh, sw.data, sw.len, 100000, 100000);
    CHECK_RC(o.rc, TARN_E_SIGNATURE_DOES_NOT_MATCH);
    CHECK(o.out.len == 65536); /* the first chunk was handed out, then refused */
    outcome_free(&o);
    tarn_buf_free(&sw);
    /* Anonymous, or without the chain: refused before the body. */
    auth_result anon = res;
    anon.anonymous = 1;
    CHECK_RC(feed_rc(&anon, h, nh, body.data, body.len, 1, 1), TARN_E_ACCESS_DENIED);
    tarn_buf_free(&body);
    tarn_buf_free(&want);
    tarn_arena_destroy(a);
}

static void test_aws_trailer_example(void)
{
    auth_result res;
    aws_result(&res, AUTH_STREAM_SIGNED_TRAILER, TSEED);
    auth_header h[] = {{"x-amz-decoded-content-length", "66560"},
                       {"x-amz-trailer", "x-amz-checksum-crc32c"}};
    tarn_buf body = {0}, want = {0};
    aws_body(&body, TSIG1, TSIG2, TSIG3);
    add(&body, "x-amz-checksum-crc32c:sOO8/Q==\r\n");
    add(&body, "x-amz-trailer-signature:" TTRAILER "\r\n\r\n");
    add_a(&want, 66560);
    for (size_t step = 1; step <= 70001; step = step * 4 + 3) {
        outcome o = feed(&res, h, 2, body.data, body.len, step, step % 5000 + 1);
        CHECK_RC(o.rc, 0);
        CHECK(o.out.len == 66560 && memcmp(o.out.data, want.data, 66560) == 0);
        CHECK(o.alg == AUTH_CK_CRC32C && strcmp(o.value, "sOO8/Q==") == 0);
        outcome_free(&o);
    }
    for (size_t cut = body.len - 140; cut <= body.len; cut++)
        CHECK_RC(feed_split(&res, h, 2, body.data, body.len, cut, &want), 0);
    /* The trailer signature is checked. */
    char *p = find(&body, "x-amz-trailer-signature:") + 30;
    *p ^= 1;
    CHECK_RC(feed_rc(&res, h, 2, body.data, body.len, 9999, 9999),
             TARN_E_SIGNATURE_DOES_NOT_MATCH);
    *p ^= 1;
    /* So is the checksum, which the signature also covers. */
    p = find(&body, "sOO8");
    p[0] = 'A';
    CHECK_RC(feed_rc(&res, h, 2, body.data, body.len, 9999, 9999),
             TARN_E_SIGNATURE_DOES_NOT_MATCH);
    p[0] = 's';
    tarn_buf_free(&body);
    tarn_buf_free(&want);
}

/* ---- unsigned trailer bodies ------------------------------------------- */

static void test_unsigned_trailer(void)
{
    auth_result res = {.payload_mode = AUTH_PAYLOAD_STREAMING,
                       .streaming = AUTH_STREAM_UNSIGNED_TRAILER, .anonymous = 1};
    static const size_t sizes[] = {17, 1, 300, 16};
    tarn_buf body = {0}, pay = {0};
    build(&body, &pay, sizes, 4, NULL, "x-amz-checksum-crc32:PLACEHOLDR==");
    /* Fill in the real CRC32 of the payload (same length as the dummy). */
    char b64[16], *p = find(&body, "PLACEHOLDR==");
    uint32_t crc = auth_crc32(0, pay.data, pay.len);
    unsigned char be[4] = {crc >> 24, crc >> 16, crc >> 8, crc};
    auth__b64_encode(be, 4, b64);
    memcpy(p, b64, 8);
    memmove(p + 8, p + 12, (size_t)(body.data + body.len - (p + 12)) + 1);
    body.len -= 4;
    char len[16];
    snprintf(len, sizeof(len), "%zu", pay.len);
    auth_header h[] = {{"x-amz-decoded-content-length", len},
                       {"x-amz-trailer", "x-amz-checksum-crc32"},
                       {"x-amz-sdk-checksum-algorithm", "CRC32"}};
    int bad = 0;
    for (size_t cut = 0; cut <= body.len; cut++)
        bad += feed_split(&res, h, 3, body.data, body.len, cut, &pay) != 0;
    CHECK(bad == 0);
    for (size_t cap = 1; cap <= 5; cap++) {
        outcome o = feed(&res, h, 3, body.data, body.len, 1, cap);
        CHECK_RC(o.rc, 0);
        CHECK(o.out.len == pay.len && memcmp(o.out.data, pay.data, pay.len) == 0);
        CHECK(o.alg == AUTH_CK_CRC32 && strcmp(o.value, b64) == 0);
        outcome_free(&o);
    }
    /* Truncated anywhere: IncompleteBody, except right after the complete
     * trailer line (the final blank line is forgiven). */
    bad = 0;
    for (size_t n = 0; n < body.len; n++) {
        outcome o = feed(&res, h, 3, body.data, n, 5, 64);
        bad += o.rc != (n == body.len - 2 ? 0 : TARN_E_INCOMPLETE_BODY);
        outcome_free(&o);
    }
    CHECK(bad == 0);
    /* Wrong trailer checksum: BadDigest; malformed: InvalidRequest. */
    p = find(&body, b64);
    p[0] ^= 1;
    outcome o = feed(&res, h, 3, body.data, body.len, 64, 64);
    CHECK_RC(o.rc, TARN_E_BAD_DIGEST);
    CHECK(o.detail && strcmp(o.detail, "The CRC32 you specified did not match the calculated "
                             "checksum.") == 0);
    outcome_free(&o);
    p[0] ^= 1;
    p[7] = 'x'; /* "....==" → "....=x": not base64 */
    o = feed(&res, h, 3, body.data, body.len, 64, 64);
    CHECK_RC(o.rc, TARN_E_INVALID_REQUEST);
    CHECK(o.detail && strstr(o.detail, "trailing header is invalid"));
    outcome_free(&o);
    tarn_buf_free(&body);
    tarn_buf_free(&pay);
}

/* Framing variants that are fine: no trailer at all, a blank line before
 * the trailers, a header checksum with an unsigned-trailer body, an empty
 * payload. */
static void test_framing_ok(void)
{
    auth_result res = {.payload_mode = AUTH_PAYLOAD_STREAMING,
                       .streaming = AUTH_STREAM_UNSIGNED_TRAILER};
    auth_header h3[] = {{"x-amz-decoded-content-length", "3"},
                        {"x-amz-checksum-crc32c", "SWIuGA=="}};
    const char *ok3[] = {"3\r\nabc\r\n0\r\n\r\n", "003\r\nabc\r\n0\r\n\r\n",
                         "1\r\na\r\n2\r\nbc\r\n0\r\n\r\n"};
    unsigned char c[4];
    uint32_t crc = auth_crc32c(0, "abc", 3);
    c[0] = crc >> 24, c[1] = crc >> 16, c[2] = crc >> 8, c[3] = (unsigned char)crc;
    char b64[16];
    auth__b64_encode(c, 4, b64);
    h3[1].value = b64;
    for (size_t i = 0; i < 3; i++) {
        outcome o = feed(&res, h3, 2, ok3[i], strlen(ok3[i]), 1, 2);
        CHECK_RC(o.rc, 0);
        CHECK(o.out.len == 3 && memcmp(o.out.data, "abc", 3) == 0 && o.alg == AUTH_CK_CRC32C);
        outcome_free(&o);
    }
    auth_header h0[] = {{"x-amz-decoded-content-length", "0"},
                        {"x-amz-trailer", "x-amz-checksum-sha256"}};
    const char *empty = "0\r\n\r\nx-amz-checksum-sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
                        "\r\n\r\n";
    outcome o = feed(&res, h0, 2, empty, strlen(empty), 3, 3);
    CHECK_RC(o.rc, 0);
    CHECK(o.out.len == 0 && strcmp(o.etag, "d41d8cd98f00b204e9800998ecf8427e") == 0);
    outcome_free(&o);
}

typedef struct bad_case {
    const char *body;
    int rc;
} bad_case;

static void test_framing_bad(void)
{
    auth_result res = {.payload_mode = AUTH_PAYLOAD_STREAMING,
                       .streaming = AUTH_STREAM_UNSIGNED_TRAILER};
    auth_header h[] = {{"x-amz-decoded-content-length", "3"},
                       {"x-amz-trailer", "x-amz-checksum-crc32"}};
    static char longline[300], longtrailer[400];
    memset(longline, '0', 200);
    strcpy(longline + 200, "3\r\nabc\r\n0\r\n\r\n");
    strcpy(longtrailer, "3\r\nabc\r\n0\r\nx-amz-checksum-crc32:");
    memset(longtrailer + strlen(longtrailer), 'A', 250);
    static const char *const big = "1000001\r\n";
    const bad_case cases[] = {
        {"z\r\nabc\r\n0\r\n\r\n", TARN_E_INVALID_REQUEST},          /* not hex */
        {"\r\nabc\r\n0\r\n\r\n", TARN_E_INVALID_REQUEST},           /* empty size */
        {"3 \r\nabc\r\n0\r\n\r\n", TARN_E_INVALID_REQUEST},         /* blank after */
        {"-3\r\nabc\r\n0\r\n\r\n", TARN_E_INVALID_REQUEST},         /* sign */
        {"3;x=y\r\nabc\r\n0\r\n\r\n", TARN_E_INVALID_REQUEST},      /* extension */
        {"3;chunk-signature=" EMPTY_SHA "\r\nabc\r\n0\r\n\r\n", TARN_E_INVALID_REQUEST},
        {"3\nabc\r\n0\r\n\r\n", TARN_E_INVALID_REQUEST},            /* bare LF */
        {"3\r\nabcX\r\n0\r\n\r\n", TARN_E_INVALID_REQUEST},         /* data too long */
        {"3\r\nabc\r\r0\r\n\r\n", TARN_E_INVALID_REQUEST},          /* CR CR */
        {"3\r\nabc\n0\r\n\r\n", TARN_E_INVALID_REQUEST},            /* LF only */
        {longline, TARN_E_INVALID_REQUEST},                        /* line too long */
        {big, TARN_E_INVALID_REQUEST},                             /* > 16 MiB */
        {"ffffffffffffffffff\r\n", TARN_E_INVALID_REQUEST},         /* overflow */
        {"4\r\nabcd\r\n0\r\n\r\n", TARN_E_INCOMPLETE_BODY},         /* more than declared */
        {"2\r\nab\r\n0\r\n\r\n", TARN_E_INCOMPLETE_BODY},           /* fewer */
        {"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\nX", TARN_E_INVALID_REQUEST},
        {"3\r\nabc\r\n0\r\nx-amz-meta-a:b\r\n\r\n", TARN_E_INVALID_REQUEST},  /* unannounced */
        {"3\r\nabc\r\n0\r\nx-amz-checksum-crc32c:NSRBwg==\r\n\r\n", TARN_E_INVALID_REQUEST},
        {"3\r\nabc\r\n0\r\nx-amz-checksum-crc32\r\n\r\n", TARN_E_INVALID_REQUEST}, /* no ':' */
        {"3\r\nabc\r\n0\r\n:NSRBwg==\r\n\r\n", TARN_E_INVALID_REQUEST},       /* no name */
        {"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n",
         TARN_E_INVALID_REQUEST},                                             /* twice */
        {"3\r\nabc\r\n0\r\nx-amz-trailer-signature:" EMPTY_SHA "\r\n\r\n",
         TARN_E_INVALID_REQUEST},                                 /* unsigned: no signature */
        {longtrailer, TARN_E_INVALID_REQUEST},                    /* trailer line too long */
        {"3\r\nabc\r\n0\r\n\r\n\r\n", TARN_E_INVALID_REQUEST},   /* announced, not sent */
        {"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg=\r\n\r\n", TARN_E_INVALID_REQUEST},
        {"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", TARN_E_BAD_DIGEST},
        {"3\r\nabc\r\n", TARN_E_INCOMPLETE_BODY},                 /* no last chunk */
        {"3\r\nab", TARN_E_INCOMPLETE_BODY},                      /* mid-data */
        {"", TARN_E_INCOMPLETE_BODY},                             /* nothing at all */
    };
    /* Sanity: the good body with this CRC32 passes. */
    const char *good = "3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n";
    outcome o = feed(&res, h, 2, good, strlen(good), 100, 100);
    CHECK_RC(o.rc, 0);
    outcome_free(&o);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].body);
        for (size_t step = 1; step <= n + 1; step += step < 4 ? 1 : n) {
            o = feed(&res, h, 2, cases[i].body, n, step, step);
            if (o.rc != cases[i].rc)
                fprintf(stderr, "case %zu (step %zu): %s, want %s (%s)\n", i, step,
                        tarn_err_name(o.rc), tarn_err_name(cases[i].rc),
                        o.detail ? o.detail : "");
            CHECK(o.rc == cases[i].rc);
            CHECK(o.detail != NULL);
            outcome_free(&o);
        }
    }
    /* Errors are sticky and nothing is consumed after them. */
    tarn_arena *a = tarn_arena_create(0);
    auth_body *b;
    size_t used, made;
    char out[8];
    CHECK(auth_body_create(a, &res, h, 2, &b, NULL) == 0);
    CHECK_RC(auth_body_feed(b, "3\r\nabz\r", 7, &used, out, 8, &made), 0);
    CHECK_RC(auth_body_feed(b, "X0\r\n", 4, &used, out, 8, &made), TARN_E_INVALID_REQUEST);
    CHECK(used == 0);
    CHECK_RC(auth_body_feed(b, "\n", 1, &used, out, 8, &made), TARN_E_INVALID_REQUEST);
    CHECK_RC(auth_body_finish(b), TARN_E_INVALID_REQUEST);
    tarn_arena_destroy(a);
}

/* Signed bodies built here: bad signatures, missing ones, trailers. */
static void test_signed_built(void)
{
    auth_result res;
    aws_result(&res, AUTH_STREAM_SIGNED_TRAILER, SEED);
    static const size_t sizes[] = {8192, 100};
    tarn_buf body = {0}, pay = {0};
    build(&body, &pay, sizes, 2, &res, NULL); /* signed trailer without a checksum */
    auth_header h[] = {{"x-amz-decoded-content-length", "8292"},
                       {"x-amz-trailer", "x-amz-checksum-sha256"}};
    outcome o = feed(&res, h, 1, body.data, body.len, 333, 1000);
    CHECK_RC(o.rc, 0);
    CHECK(o.out.len == 8292 && memcmp(o.out.data, pay.data, 8292) == 0);
    outcome_free(&o);
    /* The same without its trailer signature: incomplete. */
    char *sig = find(&body, "x-amz-trailer-signature");
    CHECK_RC(feed_rc(&res, h, 1, body.data, (size_t)(sig - body.data), 50, 50),
             TARN_E_INCOMPLETE_BODY);
    tarn_buf_free(&body);
    tarn_buf_free(&pay);

    /* With an SHA256 trailer: good, then a wrong value correctly signed. */
    unsigned char d[32];
    char b64[64], line[128];
    pay = (tarn_buf){0};
    for (int i = 0; i < 8292; i++) {
        char ch = (char)((i * 7 + 1) & 0xff);
        tarn_buf_append(&pay, &ch, 1);
    }
    auth_iov v = {pay.data, pay.len};
    CHECK(auth__sha256v(&v, 1, d) == 0);
    auth__b64_encode(d, 32, b64);
    for (int wrong = 0; wrong < 2; wrong++) {
        if (wrong)
            b64[0] = b64[0] == 'A' ? 'B' : 'A';
        snprintf(line, sizeof(line), "x-amz-checksum-sha256:%s", b64);
        tarn_buf p2 = {0};
        body = (tarn_buf){0};
        build(&body, &p2, sizes, 2, &res, line);
        o = feed(&res, h, 2, body.data, body.len, 4096, 4096);
        CHECK_RC(o.rc, wrong ? TARN_E_BAD_DIGEST : 0);
        CHECK(wrong || (o.alg == AUTH_CK_SHA256 && strcmp(o.value, b64) == 0));
        outcome_free(&o);
        /* A trailer after the signature is malformed. */
        body.len -= 2;
        add(&body, "x-amz-meta-late:1\r\n\r\n");
        CHECK_RC(feed_rc(&res, h, 2, body.data, body.len, 4096, 4096), TARN_E_INVALID_REQUEST);
        tarn_buf_free(&body);
        tarn_buf_free(&p2);
    }
    tarn_buf_free(&pay);

    /* Signed without trailer: missing or malformed chunk signatures. */
    aws_result(&res, AUTH_STREAM_SIGNED, SEED);
    auth_header h3[] = {{"x-amz-decoded-content-length", "3"}};
    const bad_case cases[] = {
        {"3\r\nabc\r\n0\r\n\r\n", TARN_E_INVALID_REQUEST},
        {"3;chunk-signature=12\r\nabc\r\n", TARN_E_INVALID_REQUEST},
        {"3;chunk-signature=" EMPTY_SHA "x\r\nabc\r\n", TARN_E_INVALID_REQUEST},
        {"3;chunk-signaturX=" EMPTY_SHA "\r\nabc\r\n", TARN_E_INVALID_REQUEST},
        {"3;chunk-signature=" EMPTY_SHA "\r\nabc\r\n", TARN_E_SIGNATURE_DOES_NOT_MATCH},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        o = feed(&res, h3, 1, cases[i].body, strlen(cases[i].body), 1, 1);
        CHECK_RC(o.rc, cases[i].rc);
        outcome_free(&o);
    }
    /* A good one, then with the final CRLF missing, then with extra data. */
    static const size_t three[] = {3};
    body = (tarn_buf){0};
    pay = (tarn_buf){0};
    build(&body, &pay, three, 1, &res, NULL);
    CHECK_RC(feed_rc(&res, h3, 1, body.data, body.len, 1, 1), 0);
    CHECK_RC(feed_rc(&res, h3, 1, body.data, body.len - 2, 1, 1), TARN_E_INCOMPLETE_BODY);
    add(&body, "0");
    CHECK_RC(feed_rc(&res, h3, 1, body.data, body.len, 1, 1), TARN_E_INVALID_REQUEST);
    tarn_buf_free(&body);
    tarn_buf_free(&pay);
}

static void test_create_errors(void)
{
    auth_result res = {.payload_mode = AUTH_PAYLOAD_STREAMING,
                       .streaming_mode = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"};
    const char *d;
    tarn_arena *a = tarn_arena_create(0);
    auth_body *b;
    CHECK_RC(auth_body_create(a, &res, NULL, 0, &b, &d), TARN_E_MISSING_CONTENT_LENGTH);
    static const char *const bad[] = {"", "-1", "1x", "0x10", "1234567890123456789"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        auth_header h[1] = {{"X-Amz-Decoded-Content-Length", bad[i]}};
        CHECK_RC(auth_body_create(a, &res, h, 1, &b, &d), TARN_E_INVALID_REQUEST);
    }
    auth_header h[1] = {{"X-Amz-Decoded-Content-Length", " 12 "}};
    CHECK_RC(auth_body_create(a, &res, h, 1, &b, &d), 0); /* mode from the string */
    CHECK(auth_body_expected_length(b) == 12);
    res.streaming_mode = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD";
    CHECK_RC(auth_body_create(a, &res, h, 1, &b, &d), TARN_E_NOT_IMPLEMENTED);
    res.streaming = AUTH_STREAM_SIGNED; /* no chain */
    CHECK_RC(auth_body_create(a, &res, h, 1, &b, &d), TARN_E_ACCESS_DENIED);
    tarn_arena_destroy(a);
}

/* auth_request_verify fills the streaming fields. */
static void test_verify_fields(void)
{
    tarn_arena *a = tarn_arena_create(0);
    auth_header h[] = {{"x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}};
    auth_request r = {"PUT", "/b/k", NULL, h, 1, T20130524, NULL};
    auth_result res;
    CHECK_RC(auth_request_verify(a, creds, &r, &res, NULL), 0);
    CHECK(res.anonymous && res.streaming == AUTH_STREAM_UNSIGNED_TRAILER && !res.chain_ready);
    tarn_arena_destroy(a);
}

int main(void)
{
    CHECK(auth_creds_create(&creds) == 0);
    CHECK(auth_creds_add(creds, AKID, SECRET) == 0);
    test_aws_signed_example();
    test_aws_trailer_example();
    test_unsigned_trailer();
    test_framing_ok();
    test_framing_bad();
    test_signed_built();
    test_create_errors();
    test_verify_fields();
    auth_creds_destroy(creds);
    if (failures) {
        fprintf(stderr, "test_chunked: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_chunked: all passed\n");
    return 0;
}
