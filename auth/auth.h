/*
 * auth.h — request authentication for tarn (the auth/ module's whole API).
 *
 * auth/ knows SigV4 (header auth now; presigned query auth, SigV2 and
 * aws-chunked payloads later), payload hashes and credentials. It knows
 * nothing of HTTP servers or disks: the server hands it a plain view of the
 * request (auth_request) and gets back who signed it and what the payload
 * must hash to. Prefix: auth_.
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
} auth_request;

/* How the body must be checked (from x-amz-content-sha256). */
enum auth_payload_mode {
    AUTH_PAYLOAD_UNSIGNED = 0, /* UNSIGNED-PAYLOAD: nothing to verify */
    AUTH_PAYLOAD_SHA256,       /* hex sha256 given: body must hash to it */
    AUTH_PAYLOAD_STREAMING,    /* STREAMING-*: aws-chunked (not yet supported) */
};

typedef struct auth_result {
    int anonymous;          /* 1: the request carried no auth at all */
    const char *access_key; /* who signed (arena), NULL when anonymous */
    const char *region;     /* from the credential scope (arena) */
    int payload_mode;       /* enum auth_payload_mode */
    unsigned char payload_sha256[32]; /* when AUTH_PAYLOAD_SHA256 */
    const char *streaming_mode;       /* the STREAMING-* value, arena */
} auth_result;

/*
 * Verify a request's SigV4 Authorization header. Strings in *out live in
 * the arena. Returns 0 when signed correctly (or anonymous: no
 * Authorization header and no X-Amz-Signature query — out->anonymous = 1,
 * the caller decides), else:
 *   TARN_E_AUTH_HEADER_MALFORMED   Authorization unparsable / bad scope
 *   TARN_E_INVALID_ACCESS_KEY_ID   unknown access key
 *   TARN_E_SIGNATURE_DOES_NOT_MATCH
 *   TARN_E_REQUEST_TIME_TOO_SKEWED |date - now| > 15 minutes
 *   TARN_E_ACCESS_DENIED           no x-amz-date/Date header
 *   TARN_E_INVALID_REQUEST         x-amz-content-sha256 missing
 *   TARN_E_INVALID_ARGUMENT        x-amz-content-sha256 not a valid value
 *   TARN_E_NOT_IMPLEMENTED         presigned / SigV2 forms (later issues)
 *   TARN_E_NOMEM
 * A textual reason for the error goes to *detail (arena, may be NULL).
 * Thread-safe: the signing-key cache is per thread.
 */
int auth_request_verify(tarn_arena *a, const auth_creds *c, const auth_request *r,
                        auth_result *out, const char **detail);

/* ---- Payload hash checking -------------------------------------------- */

typedef struct auth_payload auth_payload;

/* Start checking a body against res (heap; caller destroys). For
 * AUTH_PAYLOAD_UNSIGNED it still hashes nothing and always passes. */
int auth_payload_create(const auth_result *res, auth_payload **out);
/* Feed body bytes. */
void auth_payload_update(auth_payload *p, const void *data, size_t n);
/* Finish: 0, or TARN_E_XAMZ_CONTENT_SHA256_MISMATCH. */
int auth_payload_finish(auth_payload *p);
void auth_payload_destroy(auth_payload *p);

#endif
