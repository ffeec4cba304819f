/*
 * fuzz_chunked.c — auth_body on hostile request bodies: aws-chunked framing
 * (chunk size lines, extensions, CRLFs, the last chunk, trailers) in every
 * streaming mode, chunk and trailer signatures, trailer checksums, and the
 * plain x-amz-content-sha256 path, fed in pieces of random size through an
 * output buffer of random size (the stop-and-resume path).
 *
 * Input: mode byte, feed-step byte, output-cap byte, then
 *   raw (mode & 4 clear): 2 bytes of x-amz-decoded-content-length, then
 *     the body as sent;
 *   built (mode & 4 set): chunks as [len][len bytes] up to a 0 len; the
 *     harness frames them, signs them with the fixed chain below and
 *     appends the right trailer, then flips one byte (2-byte offset, xor
 *     byte) if the input goes on. Without this the fuzzer would never get
 *     past the first chunk signature.
 * mode & 3: 0 plain body (hex x-amz-content-sha256), 1 STREAMING-UNSIGNED-
 * PAYLOAD-TRAILER, 2 STREAMING-AWS4-HMAC-SHA256-PAYLOAD, 3 ...-TRAILER.
 * (mode >> 3) % 7: the checksum asked for (0 none, 1..5 x-amz-trailer /
 * x-amz-checksum-* CRC32..SHA256, 6 Content-MD5 header).
 */
#include <stdio.h>
#include <stdlib.h>

#include "auth/auth.h"
#include "auth/internal.h"
#include "tests/fuzz/fuzz.h"

#define DATE "20130524T000000Z"
#define SCOPE "20130524/us-east-1/s3/aws4_request"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MAX_CHUNKS 16

static const int stream_of_mode[4] = {AUTH_STREAM_NONE, AUTH_STREAM_UNSIGNED_TRAILER,
                                      AUTH_STREAM_SIGNED, AUTH_STREAM_SIGNED_TRAILER};
static const char *const stream_names[4] = {
    NULL, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"};

/* What auth_request_verify would have set for a signed streaming PUT. */
static void result_init(auth_result *res, int mode)
{
    memset(res, 0, sizeof(*res));
    res->access_key = "AKIAIOSFODNN7EXAMPLE";
    res->payload_mode = mode ? AUTH_PAYLOAD_STREAMING : AUTH_PAYLOAD_SHA256;
    res->streaming_mode = stream_names[mode];
    res->streaming = stream_of_mode[mode];
    if (mode >= 2) {
        res->chain_ready = 1;
        memset(res->seed_signature, 0x5a, 32);
        if (auth__signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524",
                              "us-east-1", 9, "s3", res->signing_key))
            __builtin_trap();
        memcpy(res->amz_date, DATE, sizeof(res->amz_date));
        res->scope = SCOPE;
    }
    /* Plain bodies: the hash of the empty body; any other body mismatches. */
    auth__unhex(EMPTY_SHA, 32, res->payload_sha256);
}

/* The next link of the signature chain (hex in prev, updated in place):
 * HMAC over algo, date, scope, previous signature and the tail. */
static void chain_sign(const auth_result *res, const char *algo, char prev[65],
                       const char *tail)
{
    char sts[512];
    unsigned char mac[32];
    int n = snprintf(sts, sizeof(sts), "%s\n%s\n%s\n%s\n%s", algo, DATE, SCOPE, prev, tail);
    auth__hmac_sha256(res->signing_key, 32, sts, (size_t)n, mac);
    tarn_hex(mac, 32, prev);
}

static void sha_hex(const void *p, size_t n, char out[65])
{
    unsigned char h[32];
    auth_iov v = {p, n};
    auth__sha256v(&v, 1, h);
    tarn_hex(h, 32, out);
}

/* The trailer line "x-amz-checksum-<alg>:<base64>" for the payload, or "". */
static const char *trailer_line(tarn_arena *a, int alg, const tarn_buf *payload)
{
    auth_checksum_spec spec = {.alg = alg};
    auth_checksum *ck;
    if (alg == AUTH_CK_NONE || alg > AUTH_CK_SHA256 || auth_checksum_create(a, &spec, &ck))
        return "";
    auth_checksum_update(ck, payload->data ? payload->data : "", payload->len);
    auth_checksum_finish(ck, NULL);
    return tarn_arena_printf(a, "%s:%s", auth_checksum_alg_header(alg), auth_checksum_value(ck));
}

/* Frame the chunks described by f as a client would (see the top). */
static void build(fz *f, tarn_arena *a, const auth_result *res, int alg, tarn_buf *body,
                  tarn_buf *payload)
{
    char prev[65], hash[65];
    int sign = res->chain_ready;
    tarn_hex(res->seed_signature, 32, prev);
    for (int c = 0; c < MAX_CHUNKS; c++) {
        size_t n = fz_u8(f);
        n = n < f->n ? n : f->n;
        const uint8_t *chunk = f->p;
        f->p += n, f->n -= n;
        tarn_buf_append(payload, chunk, n);
        tarn_buf_printf(body, "%zx", n);
        if (sign) {
            sha_hex(chunk, n, hash);
            chain_sign(res, "AWS4-HMAC-SHA256-PAYLOAD", prev,
                       tarn_arena_printf(a, "%s\n%s", EMPTY_SHA, hash));
            tarn_buf_printf(body, ";chunk-signature=%s", prev);
        }
        tarn_buf_appends(body, "\r\n");
        tarn_buf_append(body, chunk, n);
        if (n == 0)
            break;
        tarn_buf_appends(body, "\r\n");
    }
    const char *tr = trailer_line(a, alg, payload);
    if (*tr)
        tarn_buf_printf(body, "%s\r\n", tr);
    if (res->streaming == AUTH_STREAM_SIGNED_TRAILER) {
        const char *canon = tarn_arena_printf(a, "%s\n", tr);
        sha_hex(canon, strlen(canon), hash);
        chain_sign(res, "AWS4-HMAC-SHA256-TRAILER", prev, hash);
        tarn_buf_printf(body, "x-amz-trailer-signature:%s\r\n", prev);
    }
    tarn_buf_appends(body, "\r\n");
    size_t off = (size_t)fz_uint(f, 2);
    uint8_t x = fz_u8(f);
    if (body->len)
        body->data[off % body->len] ^= (char)x;
}

/* Feed body in pieces of step bytes through an out buffer of cap bytes,
 * checking the API's promises on the way. */
static int feed(auth_body *b, const tarn_buf *body, size_t step, size_t cap)
{
    unsigned char out[256];
    int rc = 0;
    for (size_t off = 0; off < body->len && !rc;) {
        size_t k = body->len - off < step ? body->len - off : step, used, made;
        rc = auth_body_feed(b, body->data + off, k, &used, cap ? out : NULL, cap, &made);
        if (used > k || made > cap || (!rc && cap && used < k && made == 0))
            __builtin_trap(); /* overrun, or no progress: an endless loop */
        off += used;
    }
    return rc ? rc : auth_body_finish(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    tarn_arena *a = tarn_arena_create(0);
    tarn_buf body = {0}, payload = {0};
    uint8_t mode = fz_u8(&f);
    size_t step = fz_u8(&f), cap = fz_u8(&f);
    int ck = (mode >> 3) % 7, stream = mode & 3;
    auth_result res;
    result_init(&res, stream);
    if (mode & 4)
        build(&f, a, &res, stream == 1 || stream == 3 ? ck : 0, &body, &payload);
    const char *declen = mode & 4 ? tarn_arena_printf(a, "%zu", payload.len)
                                  : tarn_arena_printf(a, "%u", (unsigned)fz_uint(&f, 2));
    if (!(mode & 4))
        tarn_buf_append(&body, f.p, f.n);

    auth_header h[4];
    size_t nh = 0;
    if (stream)
        h[nh++] = (auth_header){"x-amz-decoded-content-length", declen};
    if (ck >= 1 && ck <= 5 && (stream == 1 || stream == 3))
        h[nh++] = (auth_header){"x-amz-trailer", auth_checksum_alg_header(ck)};
    else if (ck >= 1 && ck <= 5)
        h[nh++] = (auth_header){"x-amz-sdk-checksum-algorithm", auth_checksum_alg_name(ck)};
    else if (ck == 6)
        h[nh++] = (auth_header){"Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="};

    auth_body *b;
    if (auth_body_create(a, &res, h, nh, &b, NULL) == 0 &&
        feed(b, &body, step ? step : SIZE_MAX, cap) == 0 && stream &&
        (int64_t)auth_body_length(b) != auth_body_expected_length(b))
        __builtin_trap(); /* verified, yet not the announced length */
    tarn_buf_free(&body);
    tarn_buf_free(&payload);
    tarn_arena_destroy(a);
    return 0;
}
