/*
 * Unit tests for auth/checksum.c: the algorithm table, strict base64, MD5 /
 * SHA1 / SHA256 / CRC vectors of "123456789" (values computed outside this
 * code, e.g. Python's hashlib and zlib), Content-MD5 good / bad /
 * malformed, each x-amz-checksum-* good / bad / malformed / duplicated,
 * x-amz-sdk-checksum-algorithm alone and disagreeing, x-amz-trailer, and
 * auth_body on plain (not aws-chunked) bodies: partial output, x-amz-
 * content-sha256, idempotent finish.
 */
#include "auth/auth.h"
#include "auth/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/unit/check.h"

#define CHECK_STR(got, want)                                                         \
    do {                                                                             \
        const char *g_ = (got), *w_ = (want);                                        \
        if (!g_ || strcmp(g_, w_) != 0) {                                            \
            fprintf(stderr, "%s:%d: %s = \"%s\", want \"%s\"\n", __FILE__, __LINE__, \
                    #got, g_ ? g_ : "(null)", w_);                                   \
            failures++;                                                              \
        }                                                                            \
    } while (0)

#define DATA "123456789"
#define MD5_HEX "25f9e794323b453885f5181f1b624d0b"
#define MD5_B64 "JfnnlDI7RTiF9RgfG2JNCw=="
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Per algorithm: header name, base64 of the digest of DATA. */
static const struct {
    int alg;
    const char *header, *name, *b64;
} vec[] = {
    {AUTH_CK_CRC32, "x-amz-checksum-crc32", "CRC32", "y/Q5Jg=="},
    {AUTH_CK_CRC32C, "x-amz-checksum-crc32c", "CRC32C", "4waSgw=="},
    {AUTH_CK_CRC64NVME, "x-amz-checksum-crc64nvme", "CRC64NVME", "rosUhgp5mIg="},
    {AUTH_CK_SHA1, "x-amz-checksum-sha1", "SHA1", "98O8HYCOBHMq32eZZczDTKeuNEE="},
    {AUTH_CK_SHA256, "x-amz-checksum-sha256", "SHA256",
     "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="},
};
#define NVEC (sizeof(vec) / sizeof(vec[0]))

/* ---- a plain body through auth_body ----------------------------------- */

typedef struct run {
    int create_rc, feed_rc, finish_rc;
    const char *detail;
    char etag[33], value[64];
    int alg;
} run;

/* Create an auth_body for headers h[0..n), feed data in pieces of `step`
 * bytes through a small output buffer, finish. */
static run body_run(const auth_result *res, const auth_header *h, size_t n, const char *data,
                    size_t len, size_t step)
{
    run out = {0};
    tarn_arena *a = tarn_arena_create(0);
    auth_body *b;
    out.create_rc = auth_body_create(a, res, h, n, &b, &out.detail);
    if (out.create_rc)
        goto done;
    char buf[7];
    size_t got = 0;
    for (size_t off = 0; off < len && !out.feed_rc;) {
        size_t k = len - off < step ? len - off : step, used, made;
        out.feed_rc = auth_body_feed(b, data + off, k, &used, buf, sizeof(buf), &made);
        CHECK(made <= sizeof(buf) && used <= k);
        CHECK(made == 0 || memcmp(buf, data + got, made) == 0);
        got += made;
        off += used;
    }
    CHECK(out.feed_rc || got == len);
    out.finish_rc = out.feed_rc ? out.feed_rc : auth_body_finish(b);
    CHECK_RC(auth_body_finish(b), out.finish_rc); /* idempotent */
    out.detail = auth_body_detail(b);
    if (!out.finish_rc) {
        snprintf(out.etag, sizeof(out.etag), "%s", auth_body_etag(b));
        const char *v = auth_body_checksum_value(b);
        snprintf(out.value, sizeof(out.value), "%s", v ? v : "");
        out.alg = auth_body_checksum_alg(b);
        CHECK(auth_body_length(b) == len);
        CHECK(auth_body_expected_length(b) == -1);
    }
done:
    tarn_arena_destroy(a);
    return out;
}

static run plain(const auth_header *h, size_t n, const char *data)
{
    auth_result res = {0};
    return body_run(&res, h, n, data, strlen(data), 3);
}

/* ---- tests -------------------------------------------------------------- */

static void test_alg_table(void)
{
    for (size_t i = 0; i < NVEC; i++) {
        CHECK_STR(auth_checksum_alg_header(vec[i].alg), vec[i].header);
        CHECK_STR(auth_checksum_alg_name(vec[i].alg), vec[i].name);
        CHECK(auth_checksum_alg_parse(vec[i].name) == vec[i].alg);
    }
    CHECK(auth_checksum_alg_parse("crc64nvme") == AUTH_CK_CRC64NVME);
    CHECK(auth_checksum_alg_parse("md5") == AUTH_CK_NONE);
    CHECK(auth_checksum_alg_parse(NULL) == AUTH_CK_NONE);
    CHECK(auth_checksum_alg_name(AUTH_CK_NONE) == NULL);
    CHECK(auth_checksum_alg_name(99) == NULL);
    CHECK(auth_checksum_alg_size(AUTH_CK_CRC64NVME) == 8);
    CHECK(auth_checksum_alg_size(AUTH_CK_SHA1) == 20);
}

static void test_base64(void)
{
    unsigned char out[32];
    CHECK(auth_base64_decode_exact("y/Q5Jg==", 8, out, 4) == 0);
    CHECK(out[0] == 0xCB && out[1] == 0xF4 && out[2] == 0x39 && out[3] == 0x26);
    CHECK(auth_base64_decode_exact("y/Q5Jg=", 7, out, 4) != 0);   /* short */
    CHECK(auth_base64_decode_exact("y/Q5Jg", 6, out, 4) != 0);    /* unpadded */
    CHECK(auth_base64_decode_exact("y/Q5Jh==", 8, out, 4) != 0);  /* stray bits */
    CHECK(auth_base64_decode_exact("y/Q5J===", 8, out, 4) != 0);  /* too much padding */
    CHECK(auth_base64_decode_exact("y/=5Jg==", 8, out, 4) != 0);  /* '=' inside */
    CHECK(auth_base64_decode_exact("y/Q5Jg==", 8, out, 5) != 0);  /* wrong size */
    CHECK(auth_base64_decode_exact("y-Q5Jg==", 8, out, 4) != 0);  /* url alphabet */
    CHECK(auth_base64_decode_exact("rosUhgp5mIg=", 12, out, 8) == 0 && out[7] == 0x88);
    CHECK(auth_base64_decode_exact("rosUhgp5mIh=", 12, out, 8) != 0);
    char enc[16];
    auth__b64_encode(out, 8, enc);
    CHECK_STR(enc, "rosUhgp5mIg=");
}

/* The checksum object on its own, fed one byte at a time. */
static void test_vectors(void)
{
    for (size_t i = 0; i < NVEC; i++) {
        tarn_arena *a = tarn_arena_create(0);
        auth_checksum_spec spec = {.alg = vec[i].alg};
        auth_checksum *c;
        CHECK(auth_checksum_create(a, &spec, &c) == 0);
        for (int k = 0; k < 9; k++)
            auth_checksum_update(c, DATA + k, 1);
        CHECK(auth_checksum_md5(c) == NULL); /* not before finish */
        CHECK_RC(auth_checksum_finish(c, NULL), 0);
        CHECK_STR(auth_checksum_md5_hex(c), MD5_HEX);
        CHECK_STR(auth_checksum_value(c), vec[i].b64);
        CHECK(auth_checksum_alg(c) == vec[i].alg);
        CHECK(auth_checksum_digest(c) != NULL);
        tarn_arena_destroy(a);
    }
    /* MD5 of nothing; no algorithm: no value. */
    tarn_arena *a = tarn_arena_create(0);
    auth_checksum_spec spec = {0};
    auth_checksum *c;
    CHECK(auth_checksum_create(a, &spec, &c) == 0);
    CHECK_RC(auth_checksum_finish(c, NULL), 0);
    CHECK_STR(auth_checksum_md5_hex(c), "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(auth_checksum_value(c) == NULL && auth_checksum_digest(c) == NULL);
    tarn_arena_destroy(a);
    /* SHA256 of "" through the same path. */
    a = tarn_arena_create(0);
    spec.alg = AUTH_CK_SHA256;
    CHECK(auth_checksum_create(a, &spec, &c) == 0);
    CHECK_RC(auth_checksum_finish(c, NULL), 0);
    char hex[65];
    tarn_hex(auth_checksum_digest(c), 32, hex);
    CHECK_STR(hex, EMPTY_SHA);
    tarn_arena_destroy(a);
}

static void test_content_md5(void)
{
    auth_header h[2] = {{"Content-MD5", MD5_B64}};
    run r = plain(h, 1, DATA);
    CHECK_RC(r.finish_rc, 0);
    CHECK_STR(r.etag, MD5_HEX);
    CHECK(r.alg == AUTH_CK_NONE && r.value[0] == 0);
    h[0].value = "  " MD5_B64 " "; /* blanks around are not part of the value */
    CHECK_RC(plain(h, 1, DATA).finish_rc, 0);
    h[0].value = MD5_B64;
    r = plain(h, 1, "12345678");
    CHECK_RC(r.finish_rc, TARN_E_BAD_DIGEST);
    CHECK_STR(r.detail, "The Content-MD5 you specified did not match what we received.");
    static const char *const bad[] = {"", "JfnnlDI7RTiF9RgfG2JNCw", "JfnnlDI7RTiF9RgfG2JNCw=",
                                      MD5_HEX, "JfnnlDI7RTiF9RgfG2JNCw==AA==", "not base64!"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        h[0].value = bad[i];
        r = plain(h, 1, DATA);
        CHECK_RC(r.create_rc, TARN_E_INVALID_DIGEST);
        CHECK_STR(r.detail, "The Content-MD5 you specified is not valid.");
    }
    h[0].value = MD5_B64;
    h[1] = (auth_header){"content-md5", MD5_B64};
    CHECK_RC(plain(h, 2, DATA).create_rc, TARN_E_INVALID_DIGEST);
}

static void test_checksum_headers(void)
{
    char msg[128];
    for (size_t i = 0; i < NVEC; i++) {
        auth_header h[3] = {{vec[i].header, vec[i].b64}};
        run r = plain(h, 1, DATA);
        CHECK_RC(r.finish_rc, 0);
        CHECK(r.alg == vec[i].alg);
        CHECK_STR(r.value, vec[i].b64);
        CHECK_STR(r.etag, MD5_HEX);
        /* Wrong body: BadDigest in S3's words. */
        r = plain(h, 1, "123456780");
        CHECK_RC(r.finish_rc, TARN_E_BAD_DIGEST);
        snprintf(msg, sizeof(msg), "The %s you specified did not match the calculated "
                 "checksum.", vec[i].name);
        CHECK_STR(r.detail, msg);
        /* Malformed: another algorithm's value, not base64, empty. */
        snprintf(msg, sizeof(msg), "Value for %s header is invalid.", vec[i].header);
        const char *bad[] = {vec[(i + 2) % NVEC].b64, "%%%%", ""};
        for (int k = 0; k < 3; k++) {
            h[0].value = bad[k];
            r = plain(h, 1, DATA);
            CHECK_RC(r.create_rc, TARN_E_INVALID_REQUEST);
            CHECK_STR(r.detail, msg);
        }
        /* The same header twice, or with another algorithm's header. */
        h[0].value = vec[i].b64;
        h[1] = (auth_header){vec[i].header, vec[i].b64};
        r = plain(h, 2, DATA);
        CHECK_RC(r.create_rc, TARN_E_INVALID_REQUEST);
        CHECK_STR(r.detail, "Expecting a single x-amz-checksum- header. Multiple checksum "
                  "Types are not allowed.");
        h[1] = (auth_header){vec[(i + 1) % NVEC].header, vec[(i + 1) % NVEC].b64};
        CHECK_RC(plain(h, 2, DATA).create_rc, TARN_E_INVALID_REQUEST);
        /* With Content-MD5 too: both checked. */
        h[1] = (auth_header){"Content-MD5", MD5_B64};
        CHECK_RC(plain(h, 2, DATA).finish_rc, 0);
        CHECK_RC(plain(h, 2, "x").finish_rc, TARN_E_BAD_DIGEST);
    }
    /* Other x-amz-checksum-* headers are not algorithms. */
    auth_header o[2] = {{"x-amz-checksum-type", "FULL_OBJECT"},
                        {"X-Amz-Checksum-Mode", "ENABLED"}};
    CHECK_RC(plain(o, 2, DATA).finish_rc, 0);
    /* Header names in any case. */
    auth_header u[1] = {{"X-AMZ-CHECKSUM-CRC32", "y/Q5Jg=="}};
    CHECK(plain(u, 1, DATA).alg == AUTH_CK_CRC32);
}

static void test_sdk_algorithm(void)
{
    /* Alone: computed and reported, nothing to compare. */
    for (size_t i = 0; i < NVEC; i++) {
        auth_header h[2] = {{"x-amz-sdk-checksum-algorithm", vec[i].name}};
        run r = plain(h, 1, DATA);
        CHECK_RC(r.finish_rc, 0);
        CHECK(r.alg == vec[i].alg);
        CHECK_STR(r.value, vec[i].b64);
        /* Agreeing with the value header. */
        h[1] = (auth_header){vec[i].header, vec[i].b64};
        CHECK_RC(plain(h, 2, DATA).finish_rc, 0);
        /* Disagreeing. */
        h[1] = (auth_header){vec[(i + 1) % NVEC].header, vec[(i + 1) % NVEC].b64};
        r = plain(h, 2, DATA);
        CHECK_RC(r.create_rc, TARN_E_INVALID_REQUEST);
        CHECK_STR(r.detail, "Value for x-amz-sdk-checksum-algorithm header is invalid.");
    }
    auth_header l[1] = {{"x-amz-sdk-checksum-algorithm", "crc32c"}};
    CHECK(plain(l, 1, DATA).alg == AUTH_CK_CRC32C);
    auth_header m[1] = {{"x-amz-sdk-checksum-algorithm", "MD5"}};
    CHECK_RC(plain(m, 1, DATA).create_rc, TARN_E_INVALID_REQUEST);
}

static void test_trailer_header(void)
{
    auth_checksum_spec spec;
    const char *d = NULL;
    auth_header h[2] = {{"x-amz-trailer", "x-amz-checksum-crc32"}};
    CHECK_RC(auth_checksum_spec_parse(h, 1, 1, &spec, &d), 0);
    CHECK(spec.alg == AUTH_CK_CRC32 && spec.expect == AUTH_CK_EXPECT_TRAILER);
    /* Not allowed on a body that has no trailer. */
    CHECK_RC(auth_checksum_spec_parse(h, 1, 0, &spec, &d), TARN_E_INVALID_REQUEST);
    /* A value header and a trailer. */
    h[1] = (auth_header){"x-amz-checksum-crc32", "y/Q5Jg=="};
    CHECK_RC(auth_checksum_spec_parse(h, 2, 1, &spec, &d), TARN_E_INVALID_REQUEST);
    CHECK_STR(d, "Expecting a single x-amz-checksum- header");
    /* With the SDK header, agreeing and not. */
    h[1] = (auth_header){"x-amz-sdk-checksum-algorithm", "CRC32"};
    CHECK_RC(auth_checksum_spec_parse(h, 2, 1, &spec, &d), 0);
    h[1].value = "SHA256";
    CHECK_RC(auth_checksum_spec_parse(h, 2, 1, &spec, &d), TARN_E_INVALID_REQUEST);
    /* Two names, or something that is not a checksum. */
    h[0].value = "x-amz-checksum-crc32,x-amz-checksum-sha1";
    CHECK_RC(auth_checksum_spec_parse(h, 1, 1, &spec, &d), TARN_E_INVALID_REQUEST);
    h[0].value = "x-amz-meta-foo";
    CHECK_RC(auth_checksum_spec_parse(h, 1, 1, &spec, &d), TARN_E_INVALID_REQUEST);
    /* A trailer value set by hand, good, bad and malformed. */
    h[0].value = "x-amz-checksum-sha1";
    CHECK_RC(auth_checksum_spec_parse(h, 1, 1, &spec, &d), 0);
    for (int k = 0; k < 4; k++) {
        tarn_arena *a = tarn_arena_create(0);
        auth_checksum *c;
        CHECK(auth_checksum_create(a, &spec, &c) == 0);
        auth_checksum_update(c, DATA, 9);
        const char *v = k == 1 ? "98O8HYCOBHMq32eZZczDTKeuNEA=" : vec[3].b64;
        if (k == 2)
            CHECK_RC(auth_checksum_set_trailer(c, "y/Q5Jg==", 8, &d), TARN_E_INVALID_REQUEST);
        else if (k != 3)
            CHECK_RC(auth_checksum_set_trailer(c, v, strlen(v), &d), 0);
        int want = k == 0 ? 0 : k == 1 ? TARN_E_BAD_DIGEST : TARN_E_INVALID_REQUEST;
        CHECK_RC(auth_checksum_finish(c, &d), want);
        tarn_arena_destroy(a);
    }
}

/* auth_body on plain bodies: x-amz-content-sha256, output that fills up,
 * out == NULL, tarn_buf, feeding after finish. */
static void test_plain_body(void)
{
    auth_result res = {0};
    res.payload_mode = AUTH_PAYLOAD_SHA256;
    auth_iov v = {DATA, 9};
    CHECK(auth__sha256v(&v, 1, res.payload_sha256) == 0);
    for (size_t step = 1; step <= 10; step++) {
        run r = body_run(&res, NULL, 0, DATA, 9, step);
        CHECK_RC(r.finish_rc, 0);
        CHECK_STR(r.etag, MD5_HEX);
    }
    run r = body_run(&res, NULL, 0, "12345678", 8, 4);
    CHECK_RC(r.finish_rc, TARN_E_XAMZ_CONTENT_SHA256_MISMATCH);
    CHECK(r.detail != NULL);

    tarn_arena *a = tarn_arena_create(0);
    auth_body *b;
    size_t used, made;
    unsigned char out[4];
    CHECK(auth_body_create(a, &res, NULL, 0, &b, NULL) == 0);
    CHECK(auth_body_feed(b, DATA, 9, &used, out, 4, &made) == 0 && used == 4 && made == 4);
    CHECK(auth_body_feed(b, DATA + 4, 5, &used, out, 0, &made) == 0 && used == 0 && made == 0);
    CHECK(auth_body_feed(b, DATA + 4, 5, &used, NULL, 0, &made) == 0 && used == 5 && made == 0);
    CHECK(auth_body_etag(b) == NULL); /* not before finish */
    CHECK_RC(auth_body_finish(b), 0);
    CHECK_STR(auth_body_etag(b), MD5_HEX);
    CHECK(memcmp(auth_body_md5(b), "\x25\xf9\xe7\x94", 4) == 0);
    CHECK(auth_body_checksum_header(b) == NULL);
    CHECK(auth_body_feed(b, "x", 1, &used, out, 4, &made) != 0 && used == 0);

    tarn_buf buf = {0};
    res.payload_mode = AUTH_PAYLOAD_UNSIGNED;
    auth_header h[1] = {{"x-amz-checksum-crc32c", "4waSgw=="}};
    CHECK(auth_body_create(a, &res, h, 1, &b, NULL) == 0);
    CHECK(auth_body_feed_buf(b, DATA, 4, &buf) == 0 && auth_body_feed_buf(b, DATA + 4, 5, &buf) == 0);
    CHECK(buf.len == 9 && strcmp(buf.data, DATA) == 0);
    CHECK_RC(auth_body_finish(b), 0);
    CHECK_STR(auth_body_checksum_header(b), "x-amz-checksum-crc32c");
    CHECK_STR(auth_body_checksum_value(b), "4waSgw==");
    tarn_buf_free(&buf);
    tarn_arena_destroy(a);
}

int main(void)
{
    test_alg_table();
    test_base64();
    test_vectors();
    test_content_md5();
    test_checksum_headers();
    test_sdk_algorithm();
    test_trailer_header();
    test_plain_body();
    if (failures) {
        fprintf(stderr, "test_checksum: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_checksum: all passed\n");
    return 0;
}
