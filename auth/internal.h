/*
 * internal.h — helpers shared by the files of auth/ only (STYLE.md §2):
 * SHA-256 / HMAC-SHA256 over OpenSSL EVP, SigV4 key derivation, the
 * credential lookup by (pointer, length), and the date parsers. No other
 * folder includes this file.
 */
#ifndef TARN_AUTH_INTERNAL_H
#define TARN_AUTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

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

/* "20130524T000000Z" (exactly 16 chars) to unix seconds. 0 or -1. */
int auth__time_parse_iso8601(const char *s, int64_t *out);
/* "Fri, 24 May 2013 00:00:00 GMT" (RFC 1123) to unix seconds. 0 or -1. */
int auth__time_parse_rfc1123(const char *s, int64_t *out);
/* Format t as "20130524T000000Z" into out[17]. */
void auth__time_format_iso8601(int64_t t, char out[17]);

/* A printable, length-capped copy of client text for error details, so a
 * detail never echoes kilobytes or control bytes into an XML body. */
const char *auth__clip(tarn_arena *a, const char *s, size_t n);

#endif
