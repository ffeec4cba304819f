/*
 * crypto.c — SHA-256 and HMAC-SHA256 for SigV4, SHA-1 and HMAC-SHA1 for
 * SigV2 (presigned URLs from boto3 / awscli v1, s3cmd), on OpenSSL 3 EVP.
 *
 * Why not HMAC() or EVP_Q_digest(): the first is deprecated in 3.0, and
 * both fetch the algorithm from the provider on every call, which costs
 * more than hashing a canonical request. Here each EVP_MD is fetched
 * once per process and each thread keeps one EVP_MD_CTX that it re-inits,
 * so a request pays only for the compression rounds. HMAC is RFC 2104 over
 * that digest: H((K^opad) || H((K^ipad) || m)).
 */
#include "internal.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define HMAC_BLOCK 64 /* SHA-1 and SHA-256 both use 64-byte blocks */

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256, *md_sha1;
/* Frees a thread's EVP_MD_CTX when the thread exits. */
static pthread_key_t ctx_key;
static int ctx_key_ok;
static _Thread_local EVP_MD_CTX *tl_ctx;

static void ctx_free(void *p)
{
    EVP_MD_CTX_free(p);
}

static void md_init(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    ctx_key_ok = pthread_key_create(&ctx_key, ctx_free) == 0;
}

void *auth__sha256_md(void)
{
    pthread_once(&md_once, md_init);
    return md_sha256;
}

static EVP_MD_CTX *thread_ctx(void)
{
    if (tl_ctx)
        return tl_ctx;
    if (!auth__sha256_md())
        return NULL;
    tl_ctx = EVP_MD_CTX_new();
    if (tl_ctx && ctx_key_ok)
        pthread_setspecific(ctx_key, tl_ctx);
    return tl_ctx;
}

/* The digest md (of size want) of the concatenation of v[0..n). */
static int digestv(const EVP_MD *md, unsigned want, const auth_iov *v, size_t n,
                   unsigned char *out)
{
    EVP_MD_CTX *ctx = thread_ctx();
    if (!ctx || !md || !EVP_DigestInit_ex2(ctx, md, NULL))
        return TARN_E_INTERNAL;
    for (size_t i = 0; i < n; i++)
        if (v[i].n && !EVP_DigestUpdate(ctx, v[i].p, v[i].n))
            return TARN_E_INTERNAL;
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(ctx, out, &len) || len != want)
        return TARN_E_INTERNAL;
    return 0;
}

int auth__sha256v(const auth_iov *v, size_t n, unsigned char out[32])
{
    return digestv(auth__sha256_md(), 32, v, n, out);
}

/* RFC 2104 HMAC over md (output size dlen <= 32, block HMAC_BLOCK). */
static int hmac_md(const EVP_MD *md, unsigned dlen, const void *key, size_t klen,
                   const void *msg, size_t n, unsigned char *out)
{
    unsigned char k[HMAC_BLOCK] = {0}, pad[HMAC_BLOCK], inner[32];
    int rc = 0;
    /* RFC 2104 §2: a key longer than the block is replaced by its hash. */
    if (klen > HMAC_BLOCK) {
        auth_iov kv = {key, klen};
        if ((rc = digestv(md, dlen, &kv, 1, k)))
            goto out;
    } else {
        memcpy(k, key, klen);
    }
    for (int i = 0; i < HMAC_BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    auth_iov iv[2] = {{pad, HMAC_BLOCK}, {msg, n}};
    if ((rc = digestv(md, dlen, iv, 2, inner)))
        goto out;
    for (int i = 0; i < HMAC_BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    auth_iov ov[2] = {{pad, HMAC_BLOCK}, {inner, dlen}};
    rc = digestv(md, dlen, ov, 2, out);
out:
    /* The padded key is the secret in disguise: don't leave it on the stack. */
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
    return rc;
}

int auth__hmac_sha256(const void *key, size_t klen, const void *msg, size_t n,
                      unsigned char out[32])
{
    return hmac_md(auth__sha256_md(), 32, key, klen, msg, n, out);
}

int auth__hmac_sha1(const void *key, size_t klen, const void *msg, size_t n,
                    unsigned char out[20])
{
    auth__sha256_md(); /* runs the one-time fetch of both digests */
    return hmac_md(md_sha1, 20, key, klen, msg, n, out);
}

/* AWS S3 API reference, "Signature Calculations for the Authorization
 * Header", step "Calculate Signature": DateKey = HMAC("AWS4"+secret, date),
 * DateRegionKey, DateRegionServiceKey, SigningKey = HMAC(..., "aws4_request"). */
int auth__signing_key(const char *secret, const char *date8, const char *region,
                      size_t region_len, const char *service, unsigned char out[32])
{
    char k0[4 + 129];
    size_t slen = strlen(secret);
    if (slen > 128)
        return TARN_E_INVAL;
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, slen);
    unsigned char k1[32], k2[32], k3[32];
    int rc = auth__hmac_sha256(k0, 4 + slen, date8, 8, k1);
    if (!rc)
        rc = auth__hmac_sha256(k1, 32, region, region_len, k2);
    if (!rc)
        rc = auth__hmac_sha256(k2, 32, service, strlen(service), k3);
    if (!rc)
        rc = auth__hmac_sha256(k3, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    OPENSSL_cleanse(k3, sizeof(k3));
    return rc;
}

int auth__unhex(const char *s, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        /* Check the first digit before reading the second: s may end there. */
        int hi = tarn_hex_value(s[2 * i]);
        if (hi < 0)
            return -1;
        int lo = tarn_hex_value(s[2 * i + 1]);
        if (lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
