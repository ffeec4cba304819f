/*
 * checksum.c — what a request body must hash to, apart from the SigV4
 * payload hash: the MD5 that becomes the ETag (and is checked against
 * Content-MD5), and the one x-amz-checksum-* algorithm the client chose
 * (S3 user guide, "Checking object integrity"; S3 API reference,
 * PutObject: Content-MD5, x-amz-checksum-*, x-amz-sdk-checksum-algorithm).
 *
 * The spec is read from the headers once, before the body; the checksum
 * object is fed the payload (the decoded bytes of an aws-chunked body)
 * and compares at the end. MD5/SHA1/SHA256 run on OpenSSL EVP digests
 * fetched once per process; the CRCs are crc.c's. Error texts follow what
 * S3 answers, so SDKs that match on them behave as against AWS.
 */
#include "internal.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* ---- the algorithms ---------------------------------------------------- */

typedef struct alg_info {
    const char *name;     /* x-amz-sdk-checksum-algorithm spelling */
    const char *header;   /* x-amz-checksum-<lower name> */
    size_t size;
    const char *invalid;  /* malformed header value */
    const char *tinvalid; /* malformed trailer value */
    const char *mismatch; /* BadDigest text */
} alg_info;

#define ALG(up, low, sz)                                                             \
    {up, "x-amz-checksum-" low, sz, "Value for x-amz-checksum-" low " header is invalid.", \
     "Value for x-amz-checksum-" low " trailing header is invalid.",                  \
     "The " up " you specified did not match the calculated checksum."}

/* Indexed by enum auth_checksum_alg. The BadDigest text spells the
 * algorithm in capitals as S3 does ("The CRC32 you specified did not match
 * the calculated checksum."), as seen in SDK issue reports. */
static const alg_info algs[] = {
    {NULL, NULL, 0, NULL, NULL, NULL},
    ALG("CRC32", "crc32", 4),
    ALG("CRC32C", "crc32c", 4),
    ALG("CRC64NVME", "crc64nvme", 8),
    ALG("SHA1", "sha1", 20),
    ALG("SHA256", "sha256", 32),
};
#define N_ALGS ((int)(sizeof(algs) / sizeof(algs[0])))

static const alg_info *alg_get(int alg)
{
    return alg > AUTH_CK_NONE && alg < N_ALGS ? &algs[alg] : NULL;
}

const char *auth_checksum_alg_name(int alg)
{
    return alg_get(alg) ? alg_get(alg)->name : NULL;
}

const char *auth_checksum_alg_header(int alg)
{
    return alg_get(alg) ? alg_get(alg)->header : NULL;
}

size_t auth_checksum_alg_size(int alg)
{
    return alg_get(alg) ? alg_get(alg)->size : 0;
}

const char *auth__ck_trailer_invalid(int alg)
{
    return alg_get(alg) ? alg_get(alg)->tinvalid : "The trailing header is invalid.";
}

static int ieq(const char *a, size_t an, const char *b)
{
    return auth__casecmp_n(a, an, b, strlen(b)) == 0;
}

static int alg_by_name(const char *s, size_t n)
{
    for (int i = 1; i < N_ALGS; i++)
        if (ieq(s, n, algs[i].name))
            return i;
    return AUTH_CK_NONE;
}

int auth_checksum_alg_parse(const char *name)
{
    return name ? alg_by_name(name, strlen(name)) : AUTH_CK_NONE;
}

/* ---- small helpers ----------------------------------------------------- */

const char *auth__header_find(const auth_header *h, size_t n, const char *name,
                              size_t *count)
{
    const char *first = NULL;
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (!h[i].name || !ieq(h[i].name, strlen(h[i].name), name))
            continue;
        if (c++ == 0)
            first = h[i].value ? h[i].value : "";
    }
    if (count)
        *count = c;
    return first;
}

const char *auth__trim(const char *s, size_t *n)
{
    size_t len = *n;
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    *n = len;
    return s;
}

int auth__b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Strict: the exact padded length for want bytes, '=' only at the end,
 * and no stray bits in the last symbol (so each digest has exactly one
 * accepted spelling, as a byte-for-byte comparison by a client expects). */
int auth_base64_decode_exact(const char *s, size_t n, unsigned char *out, size_t want)
{
    if (n != 4 * ((want + 2) / 3))
        return -1;
    size_t pad = (3 - want % 3) % 3, o = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        int v = i >= n - pad ? (s[i] == '=' ? 0 : -1) : auth__b64_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            for (int k = 2; k >= 0; k--, acc >>= 8)
                if (o + (size_t)k < want)
                    out[o + (size_t)k] = (unsigned char)acc;
                else if (acc & 0xff)
                    return -1; /* nonzero bits under the padding */
            o += 3;
            acc = 0;
        }
    }
    return 0;
}

void auth__b64_encode(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* ---- reading the headers ----------------------------------------------- */

#define SINGLE "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
#define SDK_INVALID "Value for x-amz-sdk-checksum-algorithm header is invalid."

static int content_md5_parse(const auth_header *h, size_t n, auth_checksum_spec *out,
                             const char **d)
{
    size_t count;
    const char *v = auth__header_find(h, n, "content-md5", &count);
    if (!v)
        return 0;
    size_t len = strlen(v);
    v = auth__trim(v, &len);
    if (count > 1 || auth_base64_decode_exact(v, len, out->content_md5, 16))
        return auth__fail(d, "The Content-MD5 you specified is not valid.", TARN_E_INVALID_DIGEST);
    out->has_content_md5 = 1;
    return 0;
}

/* x-amz-checksum-<alg> value headers: at most one, well-formed. */
static int value_header_parse(const auth_header *h, size_t n, auth_checksum_spec *out,
                              const char **d)
{
    for (int alg = 1; alg < N_ALGS; alg++) {
        size_t count;
        const char *v = auth__header_find(h, n, algs[alg].header, &count);
        if (!v)
            continue;
        if (out->alg || count > 1)
            return auth__fail(d, SINGLE, TARN_E_INVALID_REQUEST);
        size_t len = strlen(v);
        v = auth__trim(v, &len);
        if (auth_base64_decode_exact(v, len, out->expected, algs[alg].size))
            return auth__fail(d, algs[alg].invalid, TARN_E_INVALID_REQUEST);
        out->alg = alg;
        out->expect = AUTH_CK_EXPECT_HEADER;
    }
    return 0;
}

/* x-amz-trailer (S3 API reference, "Signature calculations for trailing
 * headers"): names the trailer that will follow the body; S3 takes only
 * one x-amz-checksum-* there. */
static int trailer_header_parse(const auth_header *h, size_t n, int trailer_ok,
                                auth_checksum_spec *out, const char **d)
{
    size_t count;
    const char *v = auth__header_find(h, n, "x-amz-trailer", &count);
    if (!v)
        return 0;
    if (!trailer_ok)
        return auth__fail(d, "x-amz-trailer is only allowed with a STREAMING-*-TRAILER "
                    "x-amz-content-sha256.", TARN_E_INVALID_REQUEST);
    size_t len = strlen(v);
    v = auth__trim(v, &len);
    int alg = AUTH_CK_NONE;
    for (int i = 1; i < N_ALGS; i++)
        if (ieq(v, len, algs[i].header))
            alg = i;
    if (count > 1 || memchr(v, ',', len))
        return auth__fail(d, "Expecting a single x-amz-checksum- header", TARN_E_INVALID_REQUEST);
    if (alg == AUTH_CK_NONE)
        return auth__fail(d, "The value specified in the x-amz-trailer header is not supported",
                    TARN_E_INVALID_REQUEST);
    if (out->alg) /* a value header and a trailer: S3's shorter wording */
        return auth__fail(d, "Expecting a single x-amz-checksum- header", TARN_E_INVALID_REQUEST);
    out->alg = alg;
    out->expect = AUTH_CK_EXPECT_TRAILER;
    return 0;
}

/* x-amz-sdk-checksum-algorithm: must agree with the value's algorithm;
 * alone, it asks for that checksum to be computed and stored. */
static int sdk_alg_parse(const auth_header *h, size_t n, auth_checksum_spec *out,
                         const char **d)
{
    size_t count;
    const char *v = auth__header_find(h, n, "x-amz-sdk-checksum-algorithm", &count);
    if (!v)
        return 0;
    size_t len = strlen(v);
    v = auth__trim(v, &len);
    int alg = alg_by_name(v, len);
    if (count > 1 || alg == AUTH_CK_NONE || (out->alg && out->alg != alg))
        return auth__fail(d, SDK_INVALID, TARN_E_INVALID_REQUEST);
    out->alg = alg;
    return 0;
}

int auth_checksum_spec_parse(const auth_header *headers, size_t n, int trailer_ok,
                             auth_checksum_spec *out, const char **detail)
{
    memset(out, 0, sizeof(*out));
    int rc = content_md5_parse(headers, n, out, detail);
    if (!rc)
        rc = value_header_parse(headers, n, out, detail);
    if (!rc)
        rc = trailer_header_parse(headers, n, trailer_ok, out, detail);
    if (!rc)
        rc = sdk_alg_parse(headers, n, out, detail);
    if (rc)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* ---- digests ----------------------------------------------------------- */

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_md5, *md_sha1;

static void md_init(void)
{
    md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
}

static const EVP_MD *md_get(int which)
{
    pthread_once(&md_once, md_init);
    if (which == AUTH_CK_SHA1)
        return md_sha1;
    if (which == AUTH_CK_SHA256)
        return auth__sha256_md();
    return md_md5;
}

struct auth_checksum {
    auth_checksum_spec spec;
    EVP_MD_CTX *md5, *sha; /* sha: SHA1 / SHA256 only */
    uint64_t crc;
    int failed, done, result;
    const char *detail;
    int have_trailer;
    unsigned char md5_out[16], digest[AUTH_CK_MAX_DIGEST];
    char md5_hex[33], b64[AUTH_CK_MAX_BASE64];
};

static void checksum_cleanup(void *p)
{
    auth_checksum *c = p;
    EVP_MD_CTX_free(c->md5);
    EVP_MD_CTX_free(c->sha);
}

static EVP_MD_CTX *ctx_start(const EVP_MD *md, int *rc)
{
    EVP_MD_CTX *ctx = md ? EVP_MD_CTX_new() : NULL;
    if (ctx && EVP_DigestInit_ex2(ctx, md, NULL))
        return ctx;
    *rc = md && !ctx ? TARN_E_NOMEM : TARN_E_INTERNAL;
    EVP_MD_CTX_free(ctx);
    return NULL;
}

int auth_checksum_create(tarn_arena *a, const auth_checksum_spec *spec, auth_checksum **out)
{
    *out = NULL;
    auth_checksum *c = tarn_arena_calloc(a, sizeof(*c));
    if (!c || tarn_arena_cleanup_add(a, checksum_cleanup, c))
        return TARN_E_NOMEM;
    c->spec = *spec;
    if (!alg_get(spec->alg))
        c->spec.alg = AUTH_CK_NONE;
    int rc = 0;
    c->md5 = ctx_start(md_get(0), &rc);
    if (c->md5 && (c->spec.alg == AUTH_CK_SHA1 || c->spec.alg == AUTH_CK_SHA256))
        c->sha = ctx_start(md_get(c->spec.alg), &rc);
    if (rc)
        return rc;
    *out = c;
    return 0;
}

void auth_checksum_update(auth_checksum *c, const void *data, size_t n)
{
    if (!c || c->done || n == 0)
        return;
    if (!EVP_DigestUpdate(c->md5, data, n))
        c->failed = 1;
    switch (c->spec.alg) {
    case AUTH_CK_CRC32:
        c->crc = auth_crc32((uint32_t)c->crc, data, n);
        break;
    case AUTH_CK_CRC32C:
        c->crc = auth_crc32c((uint32_t)c->crc, data, n);
        break;
    case AUTH_CK_CRC64NVME:
        c->crc = auth_crc64nvme(c->crc, data, n);
        break;
    case AUTH_CK_SHA1:
    case AUTH_CK_SHA256:
        if (!EVP_DigestUpdate(c->sha, data, n))
            c->failed = 1;
        break;
    }
}

int auth_checksum_set_trailer(auth_checksum *c, const char *b64, size_t n, const char **detail)
{
    const alg_info *ai = alg_get(c->spec.alg);
    if (!ai || c->spec.expect != AUTH_CK_EXPECT_TRAILER ||
        auth_base64_decode_exact(b64, n, c->spec.expected, ai->size))
        return auth__fail(detail, auth__ck_trailer_invalid(c->spec.alg), TARN_E_INVALID_REQUEST);
    c->have_trailer = 1;
    return 0;
}

/* The computed digest of alg into c->digest, big-endian for the CRCs (the
 * byte order S3's base64 values use). */
static int digest_final(auth_checksum *c)
{
    size_t size = auth_checksum_alg_size(c->spec.alg);
    if (c->sha) {
        unsigned int len = 0;
        return EVP_DigestFinal_ex(c->sha, c->digest, &len) && len == size ? 0 : -1;
    }
    for (size_t i = 0; i < size; i++)
        c->digest[i] = (unsigned char)(c->crc >> (8 * (size - 1 - i)));
    return 0;
}

static int finish(auth_checksum *c)
{
    unsigned int len = 0;
    if (c->failed || !EVP_DigestFinal_ex(c->md5, c->md5_out, &len) || len != 16)
        return TARN_E_INTERNAL;
    tarn_hex(c->md5_out, 16, c->md5_hex);
    if (c->spec.has_content_md5 && CRYPTO_memcmp(c->md5_out, c->spec.content_md5, 16))
        return auth__fail(&c->detail, "The Content-MD5 you specified did not match what we "
                    "received.", TARN_E_BAD_DIGEST);
    const alg_info *ai = alg_get(c->spec.alg);
    if (!ai)
        return 0;
    if (digest_final(c))
        return TARN_E_INTERNAL;
    auth__b64_encode(c->digest, ai->size, c->b64);
    if (c->spec.expect == AUTH_CK_EXPECT_TRAILER && !c->have_trailer)
        return auth__fail(&c->detail, "The x-amz-trailer header announced a checksum trailer "
                    "that the body did not carry.", TARN_E_INVALID_REQUEST);
    if (c->spec.expect != AUTH_CK_EXPECT_NONE &&
        CRYPTO_memcmp(c->digest, c->spec.expected, ai->size))
        return auth__fail(&c->detail, ai->mismatch, TARN_E_BAD_DIGEST);
    return 0;
}

int auth_checksum_finish(auth_checksum *c, const char **detail)
{
    if (!c->done) {
        c->done = 1;
        c->result = finish(c);
    }
    if (detail)
        *detail = c->result ? c->detail : NULL;
    return c->result;
}

static int ok(const auth_checksum *c)
{
    return c && c->done && c->result == 0;
}

const unsigned char *auth_checksum_md5(const auth_checksum *c)
{
    return ok(c) ? c->md5_out : NULL;
}

const char *auth_checksum_md5_hex(const auth_checksum *c)
{
    return ok(c) ? c->md5_hex : NULL;
}

int auth_checksum_alg(const auth_checksum *c)
{
    return c ? c->spec.alg : AUTH_CK_NONE;
}

const char *auth_checksum_value(const auth_checksum *c)
{
    return ok(c) && c->spec.alg ? c->b64 : NULL;
}

const unsigned char *auth_checksum_digest(const auth_checksum *c)
{
    return ok(c) && c->spec.alg ? c->digest : NULL;
}
