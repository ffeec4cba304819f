/*
 * payload.c — checking a body against x-amz-content-sha256 as it streams.
 *
 * The server feeds the body in the chunks libmicrohttpd hands it; at the
 * end the digest must equal the hash the client signed (S3 answers
 * XAmzContentSHA256Mismatch otherwise). UNSIGNED-PAYLOAD and the STREAMING-*
 * modes are not hashed here: the latter are checked chunk by chunk by the
 * aws-chunked decoder (a later issue).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

struct auth_payload {
    int mode;
    int failed; /* a digest call failed: the body cannot be vouched for */
    int done;
    int result;
    EVP_MD_CTX *ctx; /* AUTH_PAYLOAD_SHA256 only */
    unsigned char expect[32];
};

int auth_payload_create(const auth_result *res, auth_payload **out)
{
    *out = NULL;
    auth_payload *p = calloc(1, sizeof(*p));
    if (!p)
        return TARN_E_NOMEM;
    p->mode = res->payload_mode;
    if (p->mode == AUTH_PAYLOAD_SHA256) {
        memcpy(p->expect, res->payload_sha256, 32);
        EVP_MD *md = auth__sha256_md();
        p->ctx = EVP_MD_CTX_new();
        if (!md || !p->ctx || !EVP_DigestInit_ex2(p->ctx, md, NULL)) {
            int rc = p->ctx ? TARN_E_INTERNAL : TARN_E_NOMEM;
            auth_payload_destroy(p);
            return rc;
        }
    }
    *out = p;
    return 0;
}

void auth_payload_update(auth_payload *p, const void *data, size_t n)
{
    if (!p || p->mode != AUTH_PAYLOAD_SHA256 || p->done || n == 0)
        return;
    if (!EVP_DigestUpdate(p->ctx, data, n))
        p->failed = 1;
}

/* Idempotent: a second call returns the first call's answer. */
int auth_payload_finish(auth_payload *p)
{
    if (!p || p->mode != AUTH_PAYLOAD_SHA256)
        return 0;
    if (p->done)
        return p->result;
    p->done = 1;
    unsigned char got[32];
    unsigned int len = 0;
    if (p->failed || !EVP_DigestFinal_ex(p->ctx, got, &len) || len != 32)
        p->result = TARN_E_INTERNAL;
    else if (CRYPTO_memcmp(got, p->expect, 32) != 0)
        p->result = TARN_E_XAMZ_CONTENT_SHA256_MISMATCH;
    else
        p->result = 0;
    return p->result;
}

void auth_payload_destroy(auth_payload *p)
{
    if (!p)
        return;
    EVP_MD_CTX_free(p->ctx);
    free(p);
}
