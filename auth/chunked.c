/*
 * chunked.c — the aws-chunked body decoder (Content-Encoding: aws-chunked).
 *
 * Three framings, chosen by x-amz-content-sha256 (S3 API reference,
 * "Signature Calculations for the Authorization Header: Transferring
 * Payload in Multiple Chunks" and "Signature calculations for trailing
 * headers"):
 *   STREAMING-UNSIGNED-PAYLOAD-TRAILER          hex-size CRLF data CRLF ...
 *                                               0 CRLF trailers CRLF
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD          hex-size;chunk-signature=sig
 *                                               CRLF data CRLF ... 0;...
 *                                               CRLF CRLF
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER  the signed chunks, then
 *                                               trailers ending with
 *                                               x-amz-trailer-signature
 * Each chunk signature is HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\n"
 * date "\n" scope "\n" previous signature "\n" sha256("") "\n"
 * sha256(chunk data)) in hex, the first "previous" being the seed (the
 * Authorization header's signature). The trailer signature is HMAC over
 * "AWS4-HMAC-SHA256-TRAILER\n" date "\n" scope "\n" previous "\n"
 * sha256(the trailers as "name:value\n").
 *
 * The decoder is a byte-at-a-time state machine for framing and a span
 * copier for data, so input may be split anywhere and the caller may stop
 * in front of payload and resume later. It never copies payload itself:
 * auth__chunked_step returns where the payload lies in the caller's input.
 * Lines are collected in a fixed buffer, so nothing the client sends can
 * make it allocate or read outside the input.
 */
#include "internal.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define SIZE_LINE_MAX 128    /* "hex;chunk-signature=<64 hex>" is at most 97 */
#define TRAILER_LINE_MAX 256 /* "x-amz-checksum-crc64nvme:<12 b64>" and the like */
#define TRAILER_VALUE_MAX 88 /* longest valid value is 44 (SHA256 in base64) */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SIG_EXT ";chunk-signature="

#define E_TRUNCATED "The request body terminated unexpectedly"
#define E_LENGTH                                                                    \
    "The chunks of the body do not add up to the x-amz-decoded-content-length "     \
    "header's value."
#define E_MALFORMED_TRAILER                                                         \
    "The request contained trailing data that was not well-formed or did not "      \
    "conform to our published schema."
#define E_SIGNATURE                                                                 \
    "The request signature we calculated does not match the signature you "         \
    "provided. Check your key and signing method."

enum state {
    ST_SIZE,    /* collecting a chunk-size line */
    ST_DATA,    /* chunk data: remaining bytes left */
    ST_DATA_CR, /* the CRLF after chunk data */
    ST_DATA_LF,
    ST_END_CR,  /* signed without trailer: the CRLF after the last chunk */
    ST_END_LF,
    ST_TRAILER, /* collecting trailer lines */
    ST_DONE,
};

struct auth_chunked {
    auth_chunked_cfg cfg;
    int st;
    int err;
    const char *detail;
    char line[TRAILER_LINE_MAX];
    size_t line_len;
    uint64_t remaining; /* bytes of the current chunk still to come */
    uint64_t total;     /* sum of the chunk sizes announced so far */
    int is_signed, has_trailer;
    /* Signature chain. */
    EVP_MD_CTX *sha;          /* hash of the current chunk's data */
    unsigned char given[32];  /* signature on the current chunk's line */
    unsigned char prev[32];   /* the previous signature (seed at first) */
    char *sts;                /* string-to-sign buffer */
    size_t sts_prefix;        /* "\n<date>\n<scope>\n" length, at sts + 25 */
    /* Trailers. */
    int n_trailers, sep_skipped, have_sig, have_ck;
    unsigned char trailer_sig[32];
    char canon[TRAILER_LINE_MAX + 1]; /* "name:value\n" of the checksum */
    size_t canon_len;
    char ck_value[TRAILER_VALUE_MAX + 1];
    size_t ck_len;
};

static int fail(auth_chunked *d, const char *msg, int err)
{
    d->err = err;
    d->detail = msg;
    return err;
}

static void chunked_cleanup(void *p)
{
    EVP_MD_CTX_free(((auth_chunked *)p)->sha);
}

/* The string to sign is "<algorithm>\n<date>\n<scope>\n<prev>\n<rest>":
 * the middle part is fixed per request, so it is built once. The
 * algorithm names ("AWS4-HMAC-SHA256-PAYLOAD", "-TRAILER") are both 24
 * characters. */
static int sts_init(tarn_arena *a, auth_chunked *d)
{
    char *mid = tarn_arena_printf(a, "\n%s\n%s\n", d->cfg.amz_date,
                                  d->cfg.scope ? d->cfg.scope : "");
    if (!mid)
        return TARN_E_NOMEM;
    d->sts_prefix = strlen(mid);
    /* 24 + prefix + 64 + 1 + 64 + 1 + 64 */
    d->sts = tarn_arena_alloc(a, 24 + d->sts_prefix + 200);
    if (!d->sts)
        return TARN_E_NOMEM;
    memcpy(d->sts + 24, mid, d->sts_prefix);
    d->cfg.scope = NULL; /* not kept: the prefix holds it */
    return 0;
}

int auth__chunked_create(tarn_arena *a, const auth_chunked_cfg *cfg, auth_chunked **out)
{
    *out = NULL;
    auth_chunked *d = tarn_arena_calloc(a, sizeof(*d));
    if (!d || tarn_arena_cleanup_add(a, chunked_cleanup, d))
        return TARN_E_NOMEM;
    d->cfg = *cfg;
    d->is_signed = cfg->mode == AUTH_STREAM_SIGNED || cfg->mode == AUTH_STREAM_SIGNED_TRAILER;
    d->has_trailer = cfg->mode == AUTH_STREAM_UNSIGNED_TRAILER ||
                     cfg->mode == AUTH_STREAM_SIGNED_TRAILER;
    if (d->is_signed) {
        memcpy(d->prev, cfg->seed_signature, 32);
        int rc = sts_init(a, d);
        if (rc)
            return rc;
        d->sha = EVP_MD_CTX_new();
        if (!d->sha)
            return TARN_E_NOMEM;
        if (!auth__sha256_md())
            return TARN_E_INTERNAL;
    }
    *out = d;
    return 0;
}

/* ---- signatures -------------------------------------------------------- */

/* HMAC over "<algo><prefix><hex prev>\n<tail>" compared with want. */
static int sig_check(auth_chunked *d, const char *algo, const char *tail, size_t tail_n,
                     const unsigned char want[32])
{
    char *p = d->sts;
    memcpy(p, algo, 24);
    size_t n = 24 + d->sts_prefix;
    tarn_hex(d->prev, 32, p + n);
    n += 64;
    p[n++] = '\n';
    memcpy(p + n, tail, tail_n);
    n += tail_n;
    unsigned char got[32];
    if (auth__hmac_sha256(d->cfg.signing_key, 32, p, n, got))
        return fail(d, NULL, TARN_E_INTERNAL);
    if (CRYPTO_memcmp(got, want, 32) != 0)
        return fail(d, E_SIGNATURE, TARN_E_SIGNATURE_DOES_NOT_MATCH);
    memcpy(d->prev, want, 32);
    return 0;
}

/* Chunk signature: the data hash so far (the chunk's, or of nothing for
 * the final chunk) against the signature on the chunk's line. */
static int chunk_sig_check(auth_chunked *d)
{
    unsigned char h[32];
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(d->sha, h, &len) || len != 32)
        return fail(d, NULL, TARN_E_INTERNAL);
    char tail[65 + 64 + 1];
    memcpy(tail, EMPTY_SHA256 "\n", 65);
    tarn_hex(h, 32, tail + 65);
    return sig_check(d, "AWS4-HMAC-SHA256-PAYLOAD", tail, 129, d->given);
}

static int trailer_sig_check(auth_chunked *d)
{
    /* No trailer but the signature: the canonical form is a lone "\n"
     * (what S3 signs for an empty trailer set). */
    auth_iov v = {d->canon_len ? d->canon : "\n", d->canon_len ? d->canon_len : 1};
    unsigned char h[32];
    char tail[65];
    if (auth__sha256v(&v, 1, h))
        return fail(d, NULL, TARN_E_INTERNAL);
    tarn_hex(h, 32, tail);
    return sig_check(d, "AWS4-HMAC-SHA256-TRAILER", tail, 64, d->trailer_sig);
}

/* ---- chunk-size lines -------------------------------------------------- */

/* "hex-size" or "hex-size;chunk-signature=<64 hex>" (signed modes only). */
static int size_line_parse(auth_chunked *d, const char *s, size_t n, uint64_t *size)
{
    size_t i = 0;
    uint64_t v = 0;
    for (; i < n && tarn_hex_value(s[i]) >= 0; i++) {
        v = v << 4 | (uint64_t)tarn_hex_value(s[i]);
        if (v > AUTH_CHUNK_MAX) /* also keeps v from overflowing */
            return fail(d, "An aws-chunked chunk is larger than this server accepts "
                        "(16 MiB).", TARN_E_INVALID_REQUEST);
    }
    if (i == 0)
        return fail(d, "An aws-chunked chunk size is not a hexadecimal number.",
                    TARN_E_INVALID_REQUEST);
    size_t ext = sizeof(SIG_EXT) - 1;
    if (!d->is_signed ? i != n
                      : n - i != ext + 64 || memcmp(s + i, SIG_EXT, ext) != 0 ||
                            auth__unhex(s + i + ext, 32, d->given) != 0)
        return fail(d, d->is_signed ? "An aws-chunked chunk header lacks a valid "
                                      "chunk-signature."
                                    : "An aws-chunked chunk header is malformed.",
                    TARN_E_INVALID_REQUEST);
    *size = v;
    return 0;
}

static int size_line_done(auth_chunked *d, const char *s, size_t n)
{
    uint64_t size;
    int rc = size_line_parse(d, s, n, &size);
    if (rc)
        return rc;
    /* x-amz-decoded-content-length is the payload's exact size: a chunk
     * that would pass it can only be wrong (S3 answers IncompleteBody). */
    if (size > d->cfg.decoded_length - d->total ||
        (size == 0 && d->total != d->cfg.decoded_length))
        return fail(d, E_LENGTH, TARN_E_INCOMPLETE_BODY);
    d->total += size;
    if (d->is_signed && !EVP_DigestInit_ex2(d->sha, auth__sha256_md(), NULL))
        return fail(d, NULL, TARN_E_INTERNAL);
    if (size > 0) {
        d->remaining = size;
        d->st = ST_DATA;
        return 0;
    }
    if (d->is_signed && (rc = chunk_sig_check(d)))
        return rc;
    d->st = d->has_trailer ? ST_TRAILER : ST_END_CR;
    return 0;
}

/* ---- trailers ---------------------------------------------------------- */

static int name_is(const char *s, size_t n, const char *name)
{
    if (!name || strlen(name) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (auth__lower((unsigned char)s[i]) != name[i])
            return 0;
    return 1;
}

static int trailers_end(auth_chunked *d)
{
    d->st = ST_DONE;
    if (d->cfg.mode != AUTH_STREAM_SIGNED_TRAILER)
        return 0;
    if (!d->have_sig)
        return fail(d, E_TRUNCATED, TARN_E_INCOMPLETE_BODY);
    return trailer_sig_check(d);
}

/* The announced checksum: kept for auth_checksum, and in canonical form
 * ("name:value\n", name lower case, value trimmed) for the signature. */
static int trailer_checksum(auth_chunked *d, const char *v, size_t vn)
{
    const char *name = auth_checksum_alg_header(d->cfg.trailer_alg);
    if (d->have_ck)
        return fail(d, E_MALFORMED_TRAILER, TARN_E_INVALID_REQUEST);
    if (vn > TRAILER_VALUE_MAX)
        return fail(d, auth__ck_trailer_invalid(d->cfg.trailer_alg), TARN_E_INVALID_REQUEST);
    d->have_ck = 1;
    memcpy(d->ck_value, v, vn);
    d->ck_value[vn] = '\0';
    d->ck_len = vn;
    size_t nn = strlen(name);
    memcpy(d->canon, name, nn);
    d->canon[nn] = ':';
    memcpy(d->canon + nn + 1, v, vn);
    d->canon[nn + 1 + vn] = '\n';
    d->canon_len = nn + vn + 2;
    return 0;
}

/* One "name:value" line. Only the trailer x-amz-trailer announced and,
 * when signed, x-amz-trailer-signature (last) are allowed: anything else
 * is S3's MalformedTrailerError (reported as InvalidRequest here). */
static int trailer_line(auth_chunked *d, const char *s, size_t n)
{
    if (n == 0) {
        int want = d->cfg.trailer_alg != AUTH_CK_NONE || d->cfg.mode == AUTH_STREAM_SIGNED_TRAILER;
        /* Some encoders put a blank line between the last chunk and the
         * trailers; one such line before any trailer is skipped. */
        if (want && d->n_trailers == 0 && !d->sep_skipped) {
            d->sep_skipped = 1;
            return 0;
        }
        return trailers_end(d);
    }
    const char *colon = memchr(s, ':', n);
    if (!colon || colon == s || d->have_sig)
        return fail(d, E_MALFORMED_TRAILER, TARN_E_INVALID_REQUEST);
    size_t nn = (size_t)(colon - s), vn = n - nn - 1;
    const char *v = auth__trim(colon + 1, &vn);
    d->n_trailers++;
    if (d->cfg.mode == AUTH_STREAM_SIGNED_TRAILER && name_is(s, nn, "x-amz-trailer-signature")) {
        if (vn != 64 || auth__unhex(v, 32, d->trailer_sig) != 0)
            return fail(d, E_SIGNATURE, TARN_E_SIGNATURE_DOES_NOT_MATCH);
        d->have_sig = 1;
        return 0;
    }
    if (name_is(s, nn, auth_checksum_alg_header(d->cfg.trailer_alg)))
        return trailer_checksum(d, v, vn);
    return fail(d, E_MALFORMED_TRAILER, TARN_E_INVALID_REQUEST);
}

/* ---- the state machine ------------------------------------------------- */

/* Collect one CRLF-terminated line; on its end hand it (without CRLF) to
 * done(). A bare LF, or a line longer than max, is malformed framing. */
static int line_byte(auth_chunked *d, unsigned char c, size_t max,
                     int (*done)(auth_chunked *, const char *, size_t))
{
    if (c == '\n') {
        if (d->line_len == 0 || d->line[d->line_len - 1] != '\r')
            return fail(d, "An aws-chunked line does not end in CRLF.", TARN_E_INVALID_REQUEST);
        size_t n = d->line_len - 1;
        d->line_len = 0;
        return done(d, d->line, n);
    }
    if (d->line_len >= max)
        return fail(d, d->st == ST_SIZE ? "An aws-chunked chunk header is too long."
                                        : E_MALFORMED_TRAILER,
                    TARN_E_INVALID_REQUEST);
    d->line[d->line_len++] = (char)c;
    return 0;
}

static int expect_byte(auth_chunked *d, unsigned char c, unsigned char want, int next)
{
    if (c != want)
        return fail(d, "An aws-chunked chunk is not followed by CRLF.", TARN_E_INVALID_REQUEST);
    d->st = next;
    return 0;
}

static int frame_byte(auth_chunked *d, unsigned char c)
{
    switch (d->st) {
    case ST_SIZE:
        return line_byte(d, c, SIZE_LINE_MAX, size_line_done);
    case ST_DATA_CR:
        return expect_byte(d, c, '\r', ST_DATA_LF);
    case ST_DATA_LF:
        if (expect_byte(d, c, '\n', ST_SIZE))
            return d->err;
        return d->is_signed ? chunk_sig_check(d) : 0;
    case ST_END_CR:
        return expect_byte(d, c, '\r', ST_END_LF);
    case ST_END_LF:
        return expect_byte(d, c, '\n', ST_DONE);
    case ST_TRAILER:
        return line_byte(d, c, TRAILER_LINE_MAX, trailer_line);
    default: /* ST_DONE */
        return fail(d, "The request body continues after the end of its aws-chunked "
                    "encoding.", TARN_E_INVALID_REQUEST);
    }
}

/* Payload: as much of the current chunk as the input and max allow. */
static size_t data_span(auth_chunked *d, const unsigned char *in, size_t n, size_t max)
{
    size_t k = n < max ? n : max;
    if (k > d->remaining)
        k = (size_t)d->remaining;
    if (d->is_signed && !EVP_DigestUpdate(d->sha, in, k)) {
        fail(d, NULL, TARN_E_INTERNAL);
        return 0;
    }
    d->remaining -= k;
    if (d->remaining == 0)
        d->st = ST_DATA_CR;
    return k;
}

int auth__chunked_step(auth_chunked *d, const unsigned char *in, size_t n, size_t max_payload,
                       size_t *used, size_t *off, size_t *len)
{
    size_t i = 0;
    *off = *len = 0;
    while (!d->err && i < n) {
        if (d->st == ST_DATA) {
            if (max_payload == 0)
                break;
            size_t k = data_span(d, in + i, n - i, max_payload);
            if (!d->err) {
                *off = i;
                *len = k;
                i += k;
            }
            break;
        }
        if (frame_byte(d, in[i]) == 0)
            i++;
    }
    *used = i;
    return d->err;
}

int auth__chunked_finish(auth_chunked *d)
{
    if (d->err || d->st == ST_DONE)
        return d->err;
    /* Trailers that end without the final blank line: every line was
     * complete, so nothing is missing but the terminator. */
    if (d->st == ST_TRAILER && d->line_len == 0 && (d->n_trailers > 0 || d->sep_skipped))
        return trailers_end(d);
    return fail(d, E_TRUNCATED, TARN_E_INCOMPLETE_BODY);
}

const char *auth__chunked_detail(const auth_chunked *d)
{
    return d->detail;
}

const char *auth__chunked_trailer(const auth_chunked *d, size_t *len)
{
    *len = d->ck_len;
    return d->have_ck ? d->ck_value : NULL;
}
