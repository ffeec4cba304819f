/*
 * internal.h — helpers shared by the files of auth/ only (STYLE.md §2):
 * SHA-256 / HMAC-SHA256 / HMAC-SHA1 over OpenSSL EVP, SigV4 key
 * derivation, the credential lookup by (pointer, length), the date
 * parsers, query-parameter lookup, and the entry points of the other auth
 * forms (presigned SigV4, SigV2) that auth_request_verify dispatches to.
 * No other folder includes this file.
 */
#ifndef TARN_AUTH_INTERNAL_H
#define TARN_AUTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth.h"

/* ---- crypto.c ---------------------------------------------------------- */

/* One piece of a message hashed in several parts. */
typedef struct auth_iov {
    const void *p;
    size_t n;
} auth_iov;

/* The SHA-256 EVP_MD, fetched once per process (pthread_once). NULL when
 * the provider has no SHA-256. The return type is void * so that this
 * header does not pull in OpenSSL; it is an EVP_MD *. Thread-safe. */
void *auth__sha256_md(void);
/* SHA-256 of the concatenation of v[0..n). Uses a per-thread EVP_MD_CTX.
 * Returns 0 or TARN_E_INTERNAL. Thread-safe. */
int auth__sha256v(const auth_iov *v, size_t n, unsigned char out[32]);
/* HMAC-SHA256(key, msg) built from two digests over ipad/opad (RFC 2104),
 * so no EVP_MAC fetch is needed per call. Returns 0 or TARN_E_INTERNAL. */
int auth__hmac_sha256(const void *key, size_t klen, const void *msg, size_t n,
                      unsigned char out[32]);
/* HMAC-SHA1(key, msg) for SigV2, same construction. 0 or TARN_E_INTERNAL. */
int auth__hmac_sha1(const void *key, size_t klen, const void *msg, size_t n,
                    unsigned char out[20]);
/* The SigV4 signing key: HMAC chain over "AWS4"+secret, date (YYYYMMDD),
 * region, service, "aws4_request". Returns 0 or TARN_E_INTERNAL. */
int auth__signing_key(const char *secret, const char *date8, const char *region,
                      size_t region_len, const char *service, unsigned char out[32]);
/* Decode 2n hex digits (either case) into n bytes. 0, or -1 on a bad digit. */
int auth__unhex(const char *s, size_t n, unsigned char *out);

/* ---- creds.c ----------------------------------------------------------- */

/* The secret for the access key akid[0..len), or NULL. Thread-safe. */
const char *auth__creds_find(const auth_creds *c, const char *akid, size_t len);
/* A number unique to this credential set for the life of the process, so
 * a per-thread cache of signing keys never serves a key derived from a
 * set that has since been destroyed and replaced at the same address. */
uint64_t auth__creds_id(const auth_creds *c);

/* ---- sigv4_parse.c ----------------------------------------------------- */

/* The parts of "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=...". Pointers point into the header value. */
typedef struct auth_sigv4_hdr {
    const char *akid;
    size_t akid_len;
    const char *date8; /* YYYYMMDD from the scope, 8 chars */
    const char *region;
    size_t region_len;
    const char *scope; /* "YYYYMMDD/region/s3/aws4_request" */
    size_t scope_len;
    const char *signed_headers; /* "host;range;x-amz-date" as given */
    size_t signed_headers_len;
    unsigned char signature[32];
} auth_sigv4_hdr;

/* Parse an Authorization value that starts with "AWS4-HMAC-SHA256".
 * 0, or TARN_E_AUTH_HEADER_MALFORMED with an AWS-like *detail (arena or
 * static; detail must not be NULL). SignedHeaders must be lower case,
 * sorted, unique and include host. */
int auth__sigv4_hdr_parse(tarn_arena *a, const char *v, auth_sigv4_hdr *h,
                          const char **detail);
/* Its pieces, for the presigned and POST forms: "<akid>/<date8>/<region>/
 * s3/aws4_request" (sets akid, date8, region, scope) and "host;x-amz-date"
 * (sets signed_headers). Same errors and details as above. */
int auth__sigv4_credential_parse(tarn_arena *a, const char *v, size_t n, auth_sigv4_hdr *h,
                                 const char **detail);
int auth__sigv4_signed_headers_parse(const char *v, size_t n, auth_sigv4_hdr *h,
                                     const char **detail);

/* "20130524T000000Z" (exactly 16 chars) to unix seconds. 0 or -1. */
int auth__time_parse_iso8601(const char *s, int64_t *out);
/* "Fri, 24 May 2013 00:00:00 GMT" (RFC 1123) to unix seconds. 0 or -1. */
int auth__time_parse_rfc1123(const char *s, int64_t *out);
/* "2015-12-30T12:00:00.000Z" (fraction optional) to unix seconds. 0 or -1. */
int auth__time_parse_iso8601_ext(const char *s, int64_t *out);
/* RFC 1123 with "GMT" or "+0000", or ISO 8601 basic. 0 or -1. */
int auth__time_parse_http(const char *s, int64_t *out);
/* Format t as "20130524T000000Z" into out[17]. */
void auth__time_format_iso8601(int64_t t, char out[17]);

/* A printable, length-capped copy of client text for error details, so a
 * detail never echoes kilobytes or control bytes into an XML body. */
const char *auth__clip(tarn_arena *a, const char *s, size_t n);

/* ---- sigv4.c ----------------------------------------------------------- */

/* x-amz-content-sha256 value v into out's payload fields. 0, or
 * TARN_E_INVALID_ARGUMENT (static *d). */
int auth__payload_parse(const char *v, auth_result *out, const char **d);
/* The SigV4 check shared by header and presigned auth, once the form's own
 * fields are parsed and its time checked: rebuild the canonical request
 * (query without the parameter named skip, if any; payload line payload),
 * sign with secret's key for h's scope, compare with h->signature, then
 * fill out's access_key, region and chain fields. 0, or
 * TARN_E_SIGNATURE_DOES_NOT_MATCH / TARN_E_INVALID_ARGUMENT / TARN_E_NOMEM
 * / TARN_E_INTERNAL with *d. */
int auth__sigv4_finish(tarn_arena *a, const auth_creds *c, const char *secret,
                       const auth_request *r, const auth_sigv4_hdr *h, const char ts[17],
                       const char *payload, const char *skip, auth_result *out,
                       const char **d);

/* ---- presign.c, sigv2.c: the other forms auth_request_verify hands on -- */

/* Same contract as auth_request_verify (out zeroed by the caller). */
int auth__presign_verify(tarn_arena *a, const auth_creds *c, const auth_request *r,
                         auth_result *out, const char **d);
int auth__sigv2_query_verify(tarn_arena *a, const auth_creds *c, const auth_request *r,
                             auth_result *out, const char **d);
/* v: the Authorization value after "AWS ". */
int auth__sigv2_header_verify(tarn_arena *a, const auth_creds *c, const auth_request *r,
                              const char *v, auth_result *out, const char **d);

/* A detail from auth__sigv4_*_parse ("The authorization header is
 * malformed; ...") reworded for the query or form parameter param. */
const char *auth__detail_reword(tarn_arena *a, const char *d, const char *param);

/* AWS answers a malformed presigned query with AuthorizationQueryParametersError
 * (400), which common.h has no value for yet: until it does, the nearest
 * 400 auth error carries AWS's text. One place to change. */
#define AUTH_E_QUERY_PARAMS TARN_E_AUTH_QUERY_PARAMS

/* ---- query.c: raw query strings ---------------------------------------- */

/* How many parameters of the raw query q are named exactly name (names
 * are compared as sent); *v / *vn (may be NULL) get the first one's raw
 * value ("" for a name without '='). */
size_t auth__query_find(const char *q, const char *name, const char **v, size_t *vn);
/* Percent-decode a raw query value (a '+' stays a '+': base64 signatures
 * carry them) into a NUL-terminated arena string. 0, TARN_E_INVALID_ARGUMENT
 * (bad escape or a NUL byte) or TARN_E_NOMEM. */
int auth__query_decode(tarn_arena *a, const char *v, size_t vn, char **out);

/* ---- checksum.c -------------------------------------------------------- */

/* The first value of header name (ASCII case-insensitive) in h[0..n), or
 * NULL; *count (may be NULL) gets how many headers carry that name. */
const char *auth__header_find(const auth_header *h, size_t n, const char *name,
                              size_t *count);
/* ASCII lower-casing (no locale: header names are ASCII). */
static inline int auth__lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}
/* The usual error return: sets *detail (when detail is not NULL) to msg
 * and returns err. Inline, so callers' flow analysis sees err != 0. */
static inline int auth__fail(const char **detail, const char *msg, int err)
{
    if (detail)
        *detail = msg;
    return err;
}
/* How a verifier returns: a failure leaves no half-filled result behind
 * (out, size bytes, zeroed) and no detail for running out of memory;
 * *detail (when detail is not NULL) gets d. Returns rc. */
static inline int auth__verdict(int rc, void *out, size_t size, const char *d,
                                const char **detail)
{
    if (rc) {
        memset(out, 0, size);
        if (rc == TARN_E_NOMEM)
            d = NULL;
    }
    if (detail)
        *detail = d;
    return rc;
}
/* text.c: ASCII case-insensitive order of (a, an) and (b, bn). */
int auth__casecmp_n(const char *a, size_t an, const char *b, size_t bn);

/* The value of one base64 symbol (RFC 4648 §4 alphabet), or -1. */
int auth__b64_value(unsigned char c);
/* base64 of in[0..n) into out (4·ceil(n/3) + 1 bytes, NUL-terminated). */
void auth__b64_encode(const unsigned char *in, size_t n, char *out);
/* s[0..*n) without leading/trailing blanks (space, tab): returns the new
 * start and updates *n. */
const char *auth__trim(const char *s, size_t *n);
/* The "Value for x-amz-checksum-crc32 trailing header is invalid." style
 * detail for alg (static). */
const char *auth__ck_trailer_invalid(int alg);

/* ---- chunked.c: the aws-chunked decoder -------------------------------- */

/* What the decoder checks against (copied at create). */
typedef struct auth_chunked_cfg {
    int mode;                /* enum auth_streaming: UNSIGNED_TRAILER, SIGNED,
                                SIGNED_TRAILER */
    uint64_t decoded_length; /* x-amz-decoded-content-length */
    int trailer_alg;         /* the checksum x-amz-trailer announced, or NONE */
    /* SIGNED*: the signature chain (auth_result's chain fields). */
    unsigned char seed_signature[32];
    unsigned char signing_key[32];
    char amz_date[17];
    const char *scope;       /* copied into the arena */
} auth_chunked_cfg;

typedef struct auth_chunked auth_chunked;

/* Arena-owned decoder; its hash context is freed by an arena cleanup.
 * Returns 0, TARN_E_NOMEM or TARN_E_INTERNAL. */
int auth__chunked_create(tarn_arena *a, const auth_chunked_cfg *cfg, auth_chunked **out);
/*
 * Consume framing from in[0..n) until payload is reached, then at most
 * max_payload payload bytes: those are in[*off .. *off + *len) (in the
 * input: nothing is copied). *used counts every byte consumed, payload
 * included. Returns 0 or a sticky error (auth__chunked_detail). With
 * max_payload == 0 it stops in front of payload.
 */
int auth__chunked_step(auth_chunked *d, const unsigned char *in, size_t n, size_t max_payload,
                       size_t *used, size_t *off, size_t *len);
/* The raw body ended: 0 when it was complete and every signature held. */
int auth__chunked_finish(auth_chunked *d);
const char *auth__chunked_detail(const auth_chunked *d);
/* The announced checksum trailer's value (trimmed), or NULL if none came. */
const char *auth__chunked_trailer(const auth_chunked *d, size_t *len);

#endif
