/*
 * auth.h — request authentication for tarn (the auth/ module's whole API).
 *
 * auth/ knows SigV4 (header auth and presigned query auth), SigV2 (header
 * and query, for boto3/awscli-v1 presigned URLs and s3cmd), browser POST
 * policies (SigV4 and SigV2), request bodies (aws-chunked decoding with chunk signatures and
 * trailers, x-amz-content-sha256, Content-MD5, x-amz-checksum-*), the CRCs
 * of S3's checksums, and credentials. It knows nothing of HTTP servers or
 * disks: the server hands it a plain view of the request (auth_request),
 * gets back who signed it (auth_result), then streams the body through an
 * auth_body, which hands back the payload bytes and, at the end, the
 * verdict, the ETag and the checksum to store. Prefix: auth_.
 */
#ifndef TARN_AUTH_H
#define TARN_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/common.h"

/* ---- Credentials ------------------------------------------------------ */

typedef struct auth_creds auth_creds;

/* Create an empty credential set. Returns 0 or TARN_E_NOMEM. */
int auth_creds_create(auth_creds **out);
/* Add (copy) an access key / secret pair. Access keys are 3..128 chars of
 * [A-Za-z0-9._-]; secrets 8..128 printable chars: else TARN_E_INVAL.
 * Call before the server starts; not thread-safe against readers. */
int auth_creds_add(auth_creds *c, const char *access_key, const char *secret_key);
/* The secret for access_key, or NULL. Pointer valid until destroy.
 * Thread-safe (read-only after start-up). */
const char *auth_creds_secret(const auth_creds *c, const char *access_key);
void auth_creds_destroy(auth_creds *c);

/* ---- The request as auth sees it -------------------------------------- */

typedef struct auth_header {
    const char *name;  /* as received, any case */
    const char *value; /* as received (auth trims for canonical form) */
} auth_header;

typedef struct auth_request {
    const char *method;    /* "GET", "PUT", ... */
    const char *raw_path;  /* path exactly as sent on the request line,
                              still percent-encoded, starting with '/' */
    const char *raw_query; /* query as sent, without '?'; NULL or "" if none */
    const auth_header *headers;
    size_t n_headers;
    int64_t now; /* server's unix time, for the skew check */
    /* Virtual-hosted requests only: the bucket the server took from the
     * Host header (NULL or "" for path-style). SigV2 signs "/bucket/key"
     * whatever the URL looked like, so auth needs it; SigV4 ignores it. */
    const char *vhost_bucket;
} auth_request;

/* How the body must be checked (from x-amz-content-sha256). */
enum auth_payload_mode {
    AUTH_PAYLOAD_UNSIGNED = 0, /* UNSIGNED-PAYLOAD: nothing to verify */
    AUTH_PAYLOAD_SHA256,       /* hex sha256 given: body must hash to it */
    AUTH_PAYLOAD_STREAMING,    /* STREAMING-*: aws-chunked, see auth_body */
};

/* Which aws-chunked form (S3 API reference, "Authenticating Requests:
 * Using the Authorization Header", x-amz-content-sha256 values). */
enum auth_streaming {
    AUTH_STREAM_NONE = 0,
    AUTH_STREAM_UNSIGNED_TRAILER, /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
    AUTH_STREAM_SIGNED,           /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    AUTH_STREAM_SIGNED_TRAILER,   /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER */
    AUTH_STREAM_ECDSA,            /* STREAMING-AWS4-ECDSA-P256-SHA256-*: not supported */
};

typedef struct auth_result {
    int anonymous;          /* 1: the request carried no auth at all */
    const char *access_key; /* who signed (arena), NULL when anonymous */
    const char *region;     /* from the credential scope (arena); NULL for
                               SigV2, which has no scope */
    int payload_mode;       /* enum auth_payload_mode */
    unsigned char payload_sha256[32]; /* when AUTH_PAYLOAD_SHA256 */
    const char *streaming_mode;       /* the STREAMING-* value, arena */
    /* Added for auth_body (aws-chunked). streaming is set for every
     * STREAMING-* value, also on anonymous requests. The rest is set only
     * when a signed request uses AUTH_STREAM_SIGNED or _SIGNED_TRAILER
     * (zero otherwise): the chunk-signature chain starts from the seed
     * signature (the Authorization header's Signature) and signs with the
     * same key, date and scope. signing_key is the derived day/region/s3
     * key, not the secret, but it signs requests for that day: don't log
     * it, and let it die with the request. */
    int streaming;                    /* enum auth_streaming */
    int chain_ready;                  /* 1: the four fields below are set */
    unsigned char seed_signature[32];
    unsigned char signing_key[32];
    char amz_date[17];                /* "20130524T000000Z", NUL-terminated */
    const char *scope;                /* "20130524/us-east-1/s3/aws4_request", arena */
} auth_result;

/*
 * Verify a request's signature, whichever form it takes:
 *   - "Authorization: AWS4-HMAC-SHA256 ..."          SigV4 header auth
 *   - X-Amz-Algorithm / X-Amz-Credential / X-Amz-Signature in the query:
 *     SigV4 presigned URL (payload UNSIGNED-PAYLOAD unless the client
 *     signed x-amz-content-sha256, as a header or X-Amz-Content-Sha256)
 *   - "Authorization: AWS AKID:sig"                   SigV2 header auth
 *   - AWSAccessKeyId / Expires / Signature in the query: SigV2 presigned
 * The query is read from r->raw_query as sent; parameters hoisted from
 * headers (X-Amz-Acl, X-Amz-Meta-*, ...) stay there for the caller to
 * honour. Strings in *out live in the arena. Returns 0 when signed
 * correctly (or anonymous: no Authorization header and no auth query
 * parameter — out->anonymous = 1, the caller decides), else:
 *   TARN_E_AUTH_HEADER_MALFORMED   Authorization unparsable / bad scope;
 *                                  presigned: a missing, repeated or bad
 *                                  X-Amz-* parameter, X-Amz-Expires not in
 *                                  1..604800 (AWS: AuthorizationQuery-
 *                                  ParametersError, *detail has its text)
 *   TARN_E_INVALID_ACCESS_KEY_ID   unknown access key; a session token
 *                                  (X-Amz-Security-Token: tarn has no STS)
 *   TARN_E_SIGNATURE_DOES_NOT_MATCH
 *   TARN_E_REQUEST_TIME_TOO_SKEWED |date - now| > 15 minutes (header forms)
 *   TARN_E_ACCESS_DENIED           no x-amz-date/Date header; presigned
 *                                  "Request has expired" / "Request is not
 *                                  valid yet"; SigV2 query without all of
 *                                  AWSAccessKeyId, Expires, Signature, or
 *                                  with a non-numeric Expires
 *   TARN_E_INVALID_REQUEST         x-amz-content-sha256 missing (SigV4 header)
 *   TARN_E_INVALID_ARGUMENT        x-amz-content-sha256 not a valid value;
 *                                  two auth mechanisms; unknown scheme;
 *                                  malformed SigV2 header; bad %-escape
 *   TARN_E_NOMEM, TARN_E_INTERNAL
 * A textual reason for the error goes to *detail (arena, may be NULL).
 * Thread-safe: the signing-key cache is per thread.
 */
int auth_request_verify(tarn_arena *a, const auth_creds *c, const auth_request *r,
                        auth_result *out, const char **detail);

/* ---- Browser POST uploads (post_policy.c) -----------------------------
 *
 * POST Object with a form: S3 API reference, "Browser-Based Uploads Using
 * POST (AWS Signature Version 4)" and "... (AWS Signature Version 2)". The
 * server parses the multipart/form-data fields up to the file part (AWS
 * requires the file to be the last field) and calls
 * auth_post_policy_verify with them; then, when the file's size is known,
 * auth_post_length_check. */

typedef struct auth_form_field {
    const char *name;  /* as sent; matched ASCII case-insensitively */
    const char *value; /* decoded field value, NUL-terminated, after the
                          ${filename} substitution ("variables are
                          expanded prior to validating the POST policy") */
} auth_form_field;

typedef struct auth_post_result {
    int anonymous;          /* 1: no policy and no signature fields at all
                               (a public-write bucket's form): caller decides */
    int sigv2;              /* 1: AWSAccessKeyId + signature (HMAC-SHA1) */
    const char *access_key; /* who signed (arena); NULL when anonymous */
    const char *region;     /* SigV4 credential scope region (arena), else NULL */
    int64_t expiration;     /* the policy's, unix seconds */
    int has_length_range;   /* a content-length-range condition was given: */
    uint64_t length_min, length_max; /* ... its bounds, inclusive */
} auth_post_result;

#define AUTH_POST_LENGTH_UNKNOWN UINT64_MAX

/*
 * Check a POST form's signature and policy. bucket: the request's bucket
 * (from the path or the Host), matched by {"bucket": ...} conditions.
 * fields[0..n): every form field before the file (the "file" field itself
 * may be included or not; it is not checked). content_length: the file's
 * size, or AUTH_POST_LENGTH_UNKNOWN to leave content-length-range to
 * auth_post_length_check. Strings in *out live in the arena. Returns 0
 * (or anonymous, see above), else with *detail (AWS's text; arena or
 * static; detail may be NULL):
 *   TARN_E_INVALID_ARGUMENT   a required field missing ("Bucket POST must
 *                             contain a field named 'policy'..."), a
 *                             malformed x-amz-credential / x-amz-date /
 *                             x-amz-algorithm, the policy not base64 or not
 *                             JSON, missing expiration, a malformed
 *                             condition (AWS: InvalidPolicyDocument)
 *   TARN_E_INVALID_ACCESS_KEY_ID  unknown access key; x-amz-security-token
 *   TARN_E_SIGNATURE_DOES_NOT_MATCH
 *   TARN_E_ACCESS_DENIED      "Invalid according to Policy: Policy
 *                             expired.", "... Policy Condition failed:
 *                             [...]", "... Extra input fields: name"
 *   TARN_E_ENTITY_TOO_SMALL / TARN_E_ENTITY_TOO_LARGE  content_length
 *                             outside content-length-range
 *   TARN_E_NOMEM, TARN_E_INTERNAL
 * Thread-safe.
 */
int auth_post_policy_verify(tarn_arena *a, const auth_creds *c, const char *bucket,
                            const auth_form_field *fields, size_t n, int64_t now,
                            uint64_t content_length, auth_post_result *out,
                            const char **detail);

/* The file's size against the policy's content-length-range (no range:
 * always 0). 0, TARN_E_ENTITY_TOO_SMALL or TARN_E_ENTITY_TOO_LARGE with
 * AWS's text in *detail (static, may be NULL). */
int auth_post_length_check(const auth_post_result *res, uint64_t content_length,
                           const char **detail);

/* ---- Payload hash checking -------------------------------------------- */

/* The older, narrower interface: checks x-amz-content-sha256 only, on the
 * raw body. auth_body (below) does this and everything else; new code
 * should use it. */
typedef struct auth_payload auth_payload;

/* Start checking a body against res (heap; caller destroys). For
 * AUTH_PAYLOAD_UNSIGNED it still hashes nothing and always passes. */
int auth_payload_create(const auth_result *res, auth_payload **out);
/* Feed body bytes. */
void auth_payload_update(auth_payload *p, const void *data, size_t n);
/* Finish: 0, or TARN_E_XAMZ_CONTENT_SHA256_MISMATCH. */
int auth_payload_finish(auth_payload *p);
void auth_payload_destroy(auth_payload *p);

/* ---- CRCs of S3's x-amz-checksum-* (crc.c) ------------------------------
 * S3 convention for all three: reflected, init and xorout all ones, so the
 * CRC of "" is 0. Incremental: pass 0 to start, then the value returned
 * so far; crc(A‖B) = f(f(0, A), B). Check values of "123456789": CRC32
 * 0xCBF43926, CRC32C 0xE3069283, CRC64NVME 0xAE8B14860A799888. Pure
 * functions, thread-safe. The S3 header value is base64 of the big-endian
 * bytes of the result. */

uint32_t auth_crc32(uint32_t crc, const void *buf, size_t len);     /* isa-l gzip */
uint32_t auth_crc32c(uint32_t crc, const void *buf, size_t len);    /* isa-l iSCSI */
uint64_t auth_crc64nvme(uint64_t crc, const void *buf, size_t len); /* ours */

/* Combine: from crc_a = crc(A), crc_b = crc(B) and len_b = |B|, return
 * crc(A‖B) without the data (multipart full-object checksums). About
 * 3 µs for len_b = 5 GiB. */
uint32_t auth_crc32_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
uint32_t auth_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
uint64_t auth_crc64nvme_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

/* Strict base64 (RFC 4648 §4, padded, no whitespace, no stray bits) of
 * exactly want bytes, as S3 writes checksum values: 0 and out[0..want)
 * filled, or -1. Reads only s[0..n). Thread-safe. */
int auth_base64_decode_exact(const char *s, size_t n, unsigned char *out, size_t want);

/* ---- Checksum algorithms (checksum.c) ---------------------------------- */

/* S3's x-amz-checksum-* algorithms (S3 user guide, "Checking object
 * integrity"). */
enum auth_checksum_alg {
    AUTH_CK_NONE = 0,
    AUTH_CK_CRC32,
    AUTH_CK_CRC32C,
    AUTH_CK_CRC64NVME,
    AUTH_CK_SHA1,
    AUTH_CK_SHA256,
};
#define AUTH_CK_MAX_DIGEST 32   /* bytes, SHA256 */
#define AUTH_CK_MAX_BASE64 45   /* base64 of 32 bytes, with its NUL */

/* "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256" (the
 * x-amz-sdk-checksum-algorithm / ChecksumAlgorithm spelling); NULL for
 * AUTH_CK_NONE or an unknown value. Static storage. */
const char *auth_checksum_alg_name(int alg);
/* "x-amz-checksum-crc32" etc.: the request and response header (and
 * trailer) name. NULL for AUTH_CK_NONE / unknown. Static storage. */
const char *auth_checksum_alg_header(int alg);
/* Digest length in bytes (4, 4, 8, 20, 32), 0 for none/unknown. */
size_t auth_checksum_alg_size(int alg);
/* The algorithm called name (ASCII case-insensitive "crc32", "CRC64NVME",
 * ...), or AUTH_CK_NONE. */
int auth_checksum_alg_parse(const char *name);

/* ---- Body checksums: MD5 / ETag, Content-MD5, x-amz-checksum-* ---------
 *
 * What a body is checked against, read from the request headers (or filled
 * in by hand). MD5 is always computed: it is the ETag. */
typedef struct auth_checksum_spec {
    int alg;            /* enum auth_checksum_alg to compute; NONE: MD5 only */
    int expect;         /* AUTH_CK_EXPECT_*: where the expected value comes from */
    unsigned char expected[AUTH_CK_MAX_DIGEST]; /* EXPECT_HEADER: the digest */
    int has_content_md5;
    unsigned char content_md5[16];
} auth_checksum_spec;

enum {
    AUTH_CK_EXPECT_NONE = 0, /* compute alg and report it, check nothing
                                (x-amz-sdk-checksum-algorithm alone) */
    AUTH_CK_EXPECT_HEADER,   /* expected[] from x-amz-checksum-<alg> */
    AUTH_CK_EXPECT_TRAILER,  /* the value arrives in the aws-chunked trailer
                                named by x-amz-trailer */
};

/*
 * Read Content-MD5, x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256},
 * x-amz-sdk-checksum-algorithm and x-amz-trailer from headers[0..n) (names
 * any case, values trimmed) into *out. trailer_ok: the body is an
 * aws-chunked form with trailers, so x-amz-trailer may name a checksum.
 * Returns 0, or (with an AWS-worded *detail, static storage; detail may
 * be NULL):
 *   TARN_E_INVALID_DIGEST   Content-MD5 not base64 of 16 bytes
 *   TARN_E_INVALID_REQUEST  two checksum headers (or header + trailer):
 *                           "Expecting a single x-amz-checksum- header...";
 *                           a value that is not base64 of the digest size:
 *                           "Value for x-amz-checksum-crc32 header is
 *                           invalid."; x-amz-sdk-checksum-algorithm unknown
 *                           or naming another algorithm than the value's;
 *                           x-amz-trailer naming something else than one
 *                           checksum, or sent without a trailer body
 * Never allocates. Thread-safe.
 */
int auth_checksum_spec_parse(const auth_header *headers, size_t n, int trailer_ok,
                             auth_checksum_spec *out, const char **detail);

typedef struct auth_checksum auth_checksum;

/* Start computing MD5 and spec->alg. The object lives in the arena (its
 * OpenSSL contexts are freed by an arena cleanup): nothing to destroy.
 * Returns 0, TARN_E_NOMEM or TARN_E_INTERNAL (digest unavailable). */
int auth_checksum_create(tarn_arena *a, const auth_checksum_spec *spec, auth_checksum **out);
/* Feed payload bytes (decoded bytes, for aws-chunked bodies). */
void auth_checksum_update(auth_checksum *c, const void *data, size_t n);
/* The expected value that arrived in a trailer: b64[0..n) base64 of the
 * digest. 0, or TARN_E_INVALID_REQUEST ("Value for x-amz-checksum-crc32
 * trailing header is invalid.", *detail static) when malformed. */
int auth_checksum_set_trailer(auth_checksum *c, const char *b64, size_t n,
                              const char **detail);
/* Finish and compare. Idempotent (a second call returns the first call's
 * answer). 0, or with *detail (static storage, may be NULL):
 *   TARN_E_BAD_DIGEST  Content-MD5 mismatch ("The Content-MD5 you specified
 *                      did not match what we received.") or checksum
 *                      mismatch ("The CRC32 you specified did not match the
 *                      calculated checksum.", AWS's wording)
 *   TARN_E_INVALID_REQUEST  EXPECT_TRAILER but no trailer value was set
 *   TARN_E_INTERNAL    a digest call failed */
int auth_checksum_finish(auth_checksum *c, const char **detail);
/* After a finish that returned 0 (NULL / 0 before): */
const unsigned char *auth_checksum_md5(const auth_checksum *c);  /* 16 bytes */
const char *auth_checksum_md5_hex(const auth_checksum *c);       /* 32 hex: the ETag */
int auth_checksum_alg(const auth_checksum *c);                    /* spec->alg */
/* base64 of the computed digest (the value to store and to send back in
 * the x-amz-checksum-* response header), NULL when alg is NONE. */
const char *auth_checksum_value(const auth_checksum *c);
/* Raw computed digest (auth_checksum_alg_size bytes), NULL when NONE. */
const unsigned char *auth_checksum_digest(const auth_checksum *c);

/* ---- Request bodies: the one object the server streams a body through --
 *
 * auth_body ties it together: it undoes aws-chunked framing (checking
 * chunk signatures, x-amz-decoded-content-length and trailers), checks the
 * raw body against a hex x-amz-content-sha256, and feeds the payload to an
 * auth_checksum (MD5/ETag, Content-MD5, x-amz-checksum-*), whatever the
 * framing. Server usage, per request with a body (anonymous ones too):
 *
 *   auth_body *b;
 *   rc = auth_body_create(r->arena, &r->auth, headers, n_headers, &b, &detail);
 *   // rc != 0: answer the error now (before reading the body).
 *   // For each piece MHD hands over (upload_data, upload_data_size):
 *   size_t used, made;
 *   rc = auth_body_feed(b, in, n, &used, out, cap, &made);
 *   // out[0..made) is payload: append it to the stripe buffer (or the
 *   // request's XML buffer). used < n means out filled up: keep
 *   // in + used .. n (tell MHD only `used` bytes were processed, e.g.
 *   // *upload_data_size -= used), suspend until storage has room, and
 *   // call again with the rest. No input byte is ever lost or repeated.
 *   // rc != 0: stop; the error is sticky (auth_body_detail for text).
 *   // When MHD signals the end of the body (*upload_data_size == 0 on
 *   // the final call):
 *   rc = auth_body_finish(b);
 *   // 0: body complete and verified. Only now commit the object; then
 *   // auth_body_etag(b) is the ETag (no quotes) and, when
 *   // auth_body_checksum_alg(b) != AUTH_CK_NONE, store
 *   // auth_body_checksum_value(b) and send it back as the
 *   // auth_body_checksum_header(b) response header.
 *
 * Payload bytes are handed out before the whole body is verified (a chunk
 * signature is checked when its chunk ends, checksums at the end):
 * nothing may become visible before auth_body_finish returns 0.
 * Error codes from feed/finish (detail via auth_body_detail):
 *   TARN_E_INVALID_REQUEST   malformed aws-chunked framing (bad hex size,
 *                            chunk size line too long, CR/LF missing,
 *                            chunk over AUTH_CHUNK_MAX, data after the end,
 *                            malformed or unannounced trailer), malformed
 *                            trailer checksum value, announced trailer missing
 *   TARN_E_INCOMPLETE_BODY   body ended early, or the chunks carry more or
 *                            fewer bytes than x-amz-decoded-content-length
 *   TARN_E_SIGNATURE_DOES_NOT_MATCH  a chunk or trailer signature is wrong
 *   TARN_E_XAMZ_CONTENT_SHA256_MISMATCH  hex x-amz-content-sha256 differs
 *   TARN_E_BAD_DIGEST        Content-MD5 or x-amz-checksum-* differs
 *   TARN_E_INTERNAL          a digest call failed
 * One thread at a time per object; different objects are independent.
 */
typedef struct auth_body auth_body;

#define AUTH_CHUNK_MAX (16u << 20) /* largest aws-chunked chunk accepted */

/*
 * Prepare to read the body of the request that auth_request_verify filled
 * res for; headers[0..n) are that request's headers. Allocated in arena a
 * (freed with it, OpenSSL contexts by an arena cleanup); res and headers
 * are copied from, not kept. Returns 0 or, with *detail (static or arena;
 * detail may be NULL):
 *   everything auth_checksum_spec_parse returns
 *   TARN_E_MISSING_CONTENT_LENGTH  STREAMING-* without
 *                                  x-amz-decoded-content-length
 *   TARN_E_INVALID_REQUEST   x-amz-decoded-content-length not a number
 *   TARN_E_ACCESS_DENIED     signed streaming mode on an unsigned request
 *   TARN_E_NOT_IMPLEMENTED   STREAMING-AWS4-ECDSA-P256-SHA256-*
 *   TARN_E_NOMEM, TARN_E_INTERNAL
 */
int auth_body_create(tarn_arena *a, const auth_result *res, const auth_header *headers,
                     size_t n, auth_body **out, const char **detail);

/*
 * Consume raw body bytes in[0..n) (any split: one byte at a time works) and
 * write payload bytes to out[0..cap). Stops when all input is consumed or
 * when out is full and the next input byte is payload. *consumed gets the
 * input bytes used, *produced the payload bytes written (both always set).
 * out may be NULL: payload is then checked and dropped (cap ignored).
 * Returns 0 or a sticky error (see above); on error *consumed counts the
 * bytes up to the bad one. After auth_body_finish: TARN_E_INVAL (or the
 * sticky error).
 */
int auth_body_feed(auth_body *b, const void *in, size_t n, size_t *consumed, void *out,
                   size_t cap, size_t *produced);
/* auth_body_feed of all of in[0..n) appending payload to *out (heap,
 * caller's). 0, TARN_E_NOMEM, or a feed error. For small buffered bodies
 * (XML requests). */
int auth_body_feed_buf(auth_body *b, const void *in, size_t n, tarn_buf *out);
/* The end of the raw body: checks completeness, signatures, length,
 * x-amz-content-sha256, Content-MD5 and the checksum. Idempotent. */
int auth_body_finish(auth_body *b);
/* Text for the last error (static or arena), NULL if none. */
const char *auth_body_detail(const auth_body *b);
/* x-amz-decoded-content-length for aws-chunked bodies (known before the
 * first byte), -1 for plain bodies (use Content-Length). */
int64_t auth_body_expected_length(const auth_body *b);
/* Payload bytes produced so far. */
uint64_t auth_body_length(const auth_body *b);
/* After auth_body_finish returned 0 (NULL / AUTH_CK_NONE before): */
const char *auth_body_etag(const auth_body *b);            /* 32 hex MD5, no quotes */
const unsigned char *auth_body_md5(const auth_body *b);    /* 16 bytes */
int auth_body_checksum_alg(const auth_body *b);            /* enum auth_checksum_alg */
const char *auth_body_checksum_value(const auth_body *b);  /* base64, or NULL */
const char *auth_body_checksum_header(const auth_body *b); /* "x-amz-checksum-crc32" */

#endif
