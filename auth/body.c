/*
 * body.c — auth_body: one object per request body that the server streams
 * through, whatever the framing. It joins the three checks a body can
 * carry: the SigV4 payload hash (payload.c, on the raw bytes), the
 * aws-chunked framing with its signatures and trailer (chunked.c), and
 * MD5 / Content-MD5 / x-amz-checksum-* on the payload (checksum.c).
 *
 * The caller owns the output buffer, so the payload can go straight into
 * a stripe buffer; when that is full the caller stops, and resumes later
 * with the input it has not handed over yet (auth.h shows the loop).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct auth_body {
    auth_chunked *dec;     /* aws-chunked bodies only */
    auth_payload *payload; /* hex x-amz-content-sha256 only */
    auth_checksum *ck;
    int trailer_expected;  /* the checksum value comes in the trailer */
    int64_t expected_len;
    uint64_t length;
    int err, done;
    const char *detail;
};

/* res->streaming, or derived from the mode string for a result filled by
 * hand (the field came after streaming_mode). */
static int streaming_of(const auth_result *res)
{
    if (res->streaming || !res->streaming_mode)
        return res->streaming;
    const char *m = res->streaming_mode;
    if (strcmp(m, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") == 0)
        return AUTH_STREAM_UNSIGNED_TRAILER;
    if (strcmp(m, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") == 0)
        return AUTH_STREAM_SIGNED;
    if (strcmp(m, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER") == 0)
        return AUTH_STREAM_SIGNED_TRAILER;
    return AUTH_STREAM_ECDSA;
}

/* x-amz-decoded-content-length: required with every STREAMING-* body
 * ("Transferring Payload in Multiple Chunks": "For all requests, you must
 * include the x-amz-decoded-content-length header"). */
static int decoded_length(const auth_header *h, size_t n, int64_t *out, const char **d)
{
    size_t count;
    const char *v = auth__header_find(h, n, "x-amz-decoded-content-length", &count);
    if (!v)
        return auth__fail(d, "You must provide the x-amz-decoded-content-length HTTP header "
                    "with an aws-chunked body.", TARN_E_MISSING_CONTENT_LENGTH);
    size_t len = strlen(v);
    v = auth__trim(v, &len);
    uint64_t x = 0;
    /* 18 digits cannot overflow; no object is anywhere near that. */
    int okay = count == 1 && len > 0 && len <= 18;
    for (size_t i = 0; okay && i < len; i++) {
        okay = v[i] >= '0' && v[i] <= '9';
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (!okay)
        return auth__fail(d, "The x-amz-decoded-content-length header is not a valid number.",
                    TARN_E_INVALID_REQUEST);
    *out = (int64_t)x;
    return 0;
}

static void payload_cleanup(void *p)
{
    auth_payload_destroy(p);
}

static int decoder_setup(tarn_arena *a, const auth_result *res, int mode,
                         const auth_checksum_spec *spec, int64_t len, auth_body *b,
                         const char **d)
{
    auth_chunked_cfg cfg = {.mode = mode, .decoded_length = (uint64_t)len};
    if (spec->expect == AUTH_CK_EXPECT_TRAILER)
        cfg.trailer_alg = spec->alg;
    if (mode == AUTH_STREAM_SIGNED || mode == AUTH_STREAM_SIGNED_TRAILER) {
        if (res->anonymous || !res->chain_ready)
            return auth__fail(d, "A signed aws-chunked body needs a signed request.",
                        TARN_E_ACCESS_DENIED);
        memcpy(cfg.seed_signature, res->seed_signature, 32);
        memcpy(cfg.signing_key, res->signing_key, 32);
        memcpy(cfg.amz_date, res->amz_date, sizeof(cfg.amz_date));
        cfg.scope = res->scope;
    }
    int rc = auth__chunked_create(a, &cfg, &b->dec);
    memset(cfg.signing_key, 0, sizeof(cfg.signing_key));
    return rc;
}

int auth_body_create(tarn_arena *a, const auth_result *res, const auth_header *headers,
                     size_t n, auth_body **out, const char **detail)
{
    *out = NULL;
    auth_body *b = tarn_arena_calloc(a, sizeof(*b));
    if (!b)
        return TARN_E_NOMEM;
    b->expected_len = -1;
    int mode = res->payload_mode == AUTH_PAYLOAD_STREAMING ? streaming_of(res) : 0;
    if (mode == AUTH_STREAM_ECDSA)
        return auth__fail(detail, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD (SigV4a) is not "
                    "implemented.", TARN_E_NOT_IMPLEMENTED);
    int trailer_ok = mode == AUTH_STREAM_UNSIGNED_TRAILER || mode == AUTH_STREAM_SIGNED_TRAILER;
    auth_checksum_spec spec;
    int rc = auth_checksum_spec_parse(headers, n, trailer_ok, &spec, detail);
    if (!rc && mode)
        rc = decoded_length(headers, n, &b->expected_len, detail);
    if (!rc && mode)
        rc = decoder_setup(a, res, mode, &spec, b->expected_len, b, detail);
    if (!rc)
        rc = auth_checksum_create(a, &spec, &b->ck);
    if (!rc && res->payload_mode == AUTH_PAYLOAD_SHA256) {
        if ((rc = auth_payload_create(res, &b->payload)) == 0 &&
            tarn_arena_cleanup_add(a, payload_cleanup, b->payload)) {
            auth_payload_destroy(b->payload);
            rc = TARN_E_NOMEM;
        }
    }
    if (rc)
        return rc;
    b->trailer_expected = spec.expect == AUTH_CK_EXPECT_TRAILER;
    *out = b;
    return 0;
}

static void payload_out(auth_body *b, const unsigned char *p, size_t k, unsigned char *out,
                        size_t *made)
{
    if (out) {
        memcpy(out + *made, p, k);
        *made += k;
    }
    auth_checksum_update(b->ck, p, k);
    b->length += k;
}

/* aws-chunked: alternate framing and payload spans until the input is
 * used up or out is full in front of payload. */
static int feed_chunked(auth_body *b, const unsigned char *in, size_t n, size_t *consumed,
                        unsigned char *out, size_t cap, size_t *made)
{
    size_t i = 0;
    int rc = 0;
    while (i < n) {
        size_t room = out ? cap - *made : SIZE_MAX, used, off, len;
        rc = auth__chunked_step(b->dec, in + i, n - i, room, &used, &off, &len);
        if (len)
            payload_out(b, in + i + off, len, out, made);
        i += used;
        if (rc || used == 0)
            break;
    }
    *consumed = i;
    if (rc) {
        b->err = rc;
        b->detail = auth__chunked_detail(b->dec);
    }
    return rc;
}

int auth_body_feed(auth_body *b, const void *in, size_t n, size_t *consumed, void *out,
                   size_t cap, size_t *produced)
{
    *consumed = *produced = 0;
    if (b->err || b->done)
        return b->err ? b->err : TARN_E_INVAL;
    if (b->dec)
        return feed_chunked(b, in, n, consumed, out, cap, produced);
    size_t k = out && cap < n ? cap : n;
    auth_payload_update(b->payload, in, k);
    payload_out(b, in, k, out, produced);
    *consumed = k;
    return 0;
}

int auth_body_feed_buf(auth_body *b, const void *in, size_t n, tarn_buf *out)
{
    const unsigned char *p = in;
    while (n > 0) {
        /* Payload is never longer than its input: n bytes of room suffice. */
        if (out->len + n + 1 > out->cap) {
            size_t cap = out->cap ? out->cap : 256;
            while (cap < out->len + n + 1)
                cap *= 2;
            char *d = realloc(out->data, cap);
            if (!d)
                return TARN_E_NOMEM;
            out->data = d;
            out->cap = cap;
        }
        size_t used, made;
        int rc = auth_body_feed(b, p, n, &used, out->data + out->len, n, &made);
        out->len += made;
        out->data[out->len] = '\0';
        if (rc)
            return rc;
        p += used;
        n -= used;
    }
    return 0;
}

static int finish(auth_body *b)
{
    int rc;
    if (b->dec && (rc = auth__chunked_finish(b->dec)))
        return auth__fail(&b->detail, auth__chunked_detail(b->dec), rc);
    size_t tn;
    const char *tv = b->dec ? auth__chunked_trailer(b->dec, &tn) : NULL;
    if (b->trailer_expected && tv && (rc = auth_checksum_set_trailer(b->ck, tv, tn, &b->detail)))
        return rc;
    if (b->payload && (rc = auth_payload_finish(b->payload)))
        return auth__fail(&b->detail, rc == TARN_E_XAMZ_CONTENT_SHA256_MISMATCH
                    ? "The provided 'x-amz-content-sha256' header does not match what "
                      "was computed." : NULL, rc);
    return auth_checksum_finish(b->ck, &b->detail);
}

int auth_body_finish(auth_body *b)
{
    if (!b->done) {
        b->done = 1;
        if (!b->err)
            b->err = finish(b);
    }
    return b->err;
}

const char *auth_body_detail(const auth_body *b)
{
    return b->err ? b->detail : NULL;
}

int64_t auth_body_expected_length(const auth_body *b)
{
    return b->expected_len;
}

uint64_t auth_body_length(const auth_body *b)
{
    return b->length;
}

static int ok(const auth_body *b)
{
    return b->done && !b->err;
}

const char *auth_body_etag(const auth_body *b)
{
    return ok(b) ? auth_checksum_md5_hex(b->ck) : NULL;
}

const unsigned char *auth_body_md5(const auth_body *b)
{
    return ok(b) ? auth_checksum_md5(b->ck) : NULL;
}

int auth_body_checksum_alg(const auth_body *b)
{
    return ok(b) ? auth_checksum_alg(b->ck) : AUTH_CK_NONE;
}

const char *auth_body_checksum_value(const auth_body *b)
{
    return ok(b) ? auth_checksum_value(b->ck) : NULL;
}

const char *auth_body_checksum_header(const auth_body *b)
{
    return auth_checksum_alg_header(auth_body_checksum_alg(b));
}
