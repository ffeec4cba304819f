/*
 * common.h — the few things every tarn module shares: the error enum, the
 * per-request arena, logging and small buffer/URI helpers. Nothing else
 * belongs here (STYLE.md §1). Prefix: tarn_.
 */
#ifndef TARN_COMMON_H
#define TARN_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Errors. Fallible functions return 0 or one of these negative values.
 * The S3 ones map 1:1 to an S3 error Code; the internal ones (after
 * TARN_E_INTERNAL_FIRST) map to InternalError or SlowDown. The only place
 * that turns them into HTTP is server/errors.c.
 * Keep this list and the table in server/errors.c in the same order.
 */
#define TARN_ERRORS(X)                                                   \
    X(ACCESS_DENIED, "AccessDenied")                                     \
    X(AUTH_HEADER_MALFORMED, "AuthorizationHeaderMalformed")             \
    X(AUTH_QUERY_PARAMS, "AuthorizationQueryParametersError")            \
    X(BAD_DIGEST, "BadDigest")                                           \
    X(BUCKET_ALREADY_EXISTS, "BucketAlreadyExists")                      \
    X(BUCKET_ALREADY_OWNED, "BucketAlreadyOwnedByYou")                   \
    X(BUCKET_NOT_EMPTY, "BucketNotEmpty")                                \
    X(ENTITY_TOO_LARGE, "EntityTooLarge")                                \
    X(ENTITY_TOO_SMALL, "EntityTooSmall")                                \
    X(INCOMPLETE_BODY, "IncompleteBody")                                 \
    X(INVALID_ACCESS_KEY_ID, "InvalidAccessKeyId")                       \
    X(INVALID_ARGUMENT, "InvalidArgument")                               \
    X(INVALID_BUCKET_NAME, "InvalidBucketName")                          \
    X(INVALID_DIGEST, "InvalidDigest")                                   \
    X(INVALID_LOCATION_CONSTRAINT, "InvalidLocationConstraint")          \
    X(INVALID_PART, "InvalidPart")                                       \
    X(INVALID_PART_ORDER, "InvalidPartOrder")                            \
    X(INVALID_POLICY_DOCUMENT, "InvalidPolicyDocument")                  \
    X(INVALID_RANGE, "InvalidRange")                                     \
    X(INVALID_REQUEST, "InvalidRequest")                                 \
    X(INVALID_URI, "InvalidURI")                                         \
    X(KEY_TOO_LONG, "KeyTooLongError")                                   \
    X(MALFORMED_XML, "MalformedXML")                                     \
    X(METADATA_TOO_LARGE, "MetadataTooLarge")                            \
    X(METHOD_NOT_ALLOWED, "MethodNotAllowed")                            \
    X(MISSING_CONTENT_LENGTH, "MissingContentLength")                    \
    X(MISSING_SECURITY_HEADER, "MissingSecurityHeader")                  \
    X(NO_SUCH_BUCKET, "NoSuchBucket")                                    \
    X(NO_SUCH_KEY, "NoSuchKey")                                          \
    X(NO_SUCH_UPLOAD, "NoSuchUpload")                                    \
    X(NOT_IMPLEMENTED, "NotImplemented")                                 \
    X(NOT_MODIFIED, "NotModified")                                       \
    X(PRECONDITION_FAILED, "PreconditionFailed")                         \
    X(REQUEST_HEADER_TOO_LARGE, "RequestHeaderSectionTooLarge")          \
    X(REQUEST_TIMEOUT, "RequestTimeout")                                 \
    X(REQUEST_TIME_TOO_SKEWED, "RequestTimeTooSkewed")                   \
    X(SERVICE_UNAVAILABLE, "ServiceUnavailable")                         \
    X(SIGNATURE_DOES_NOT_MATCH, "SignatureDoesNotMatch")                 \
    X(SLOW_DOWN, "SlowDown")                                             \
    X(XAMZ_CONTENT_SHA256_MISMATCH, "XAmzContentSHA256Mismatch")         \
    X(INTERNAL, "InternalError")                                         \
    /* internal errors: never shown as such, mapped to InternalError */  \
    X(NOMEM, "InternalError")                                            \
    X(IO, "InternalError")                                               \
    X(CORRUPT, "InternalError")                                          \
    X(NOT_FOUND, "InternalError")                                        \
    X(EXISTS, "InternalError")                                           \
    X(INVAL, "InternalError")                                            \
    X(BUSY, "SlowDown")

typedef enum tarn_err {
    TARN_OK = 0,
    TARN_E__BASE = -1000, /* values below are -999, -998, ... */
#define TARN_ERR_ENUM(name, code) TARN_E_##name,
    TARN_ERRORS(TARN_ERR_ENUM)
#undef TARN_ERR_ENUM
    TARN_E__END
} tarn_err;

/* Number of error values (for tables indexed by err - TARN_E__BASE - 1). */
#define TARN_ERR_COUNT ((int)(TARN_E__END - TARN_E__BASE - 1))

/* The S3 Code string for err ("InternalError" for unknown values). Static
 * storage; thread-safe. */
const char *tarn_err_code(int err);
/* A short symbolic name for logs, e.g. "NO_SUCH_BUCKET". Static storage. */
const char *tarn_err_name(int err);

/* ---- Arena: one per request (STYLE.md §5) ---------------------------- */

typedef struct tarn_arena tarn_arena;

/* Create an arena whose first block holds block_size bytes (0 = 4 KiB).
 * Returns NULL on allocation failure. Not thread-safe; one owner. */
tarn_arena *tarn_arena_create(size_t block_size);
/* Run the cleanups (newest first) and free every block. NULL is a no-op. */
void tarn_arena_destroy(tarn_arena *a);
/* n bytes aligned to 16, owned by the arena. NULL when out of memory. */
void *tarn_arena_alloc(tarn_arena *a, size_t n);
/* Like alloc, zero-filled. */
void *tarn_arena_calloc(tarn_arena *a, size_t n);
/* Copies of s / of the first n bytes of s, NUL-terminated, in the arena. */
char *tarn_arena_strdup(tarn_arena *a, const char *s);
char *tarn_arena_strndup(tarn_arena *a, const char *s, size_t n);
/* printf into the arena. NULL on failure. */
char *tarn_arena_printf(tarn_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Call fn(data) when the arena is destroyed (e.g. to close an fd).
 * Returns 0 or TARN_E_NOMEM. */
int tarn_arena_cleanup_add(tarn_arena *a, void (*fn)(void *), void *data);

/* ---- Logging --------------------------------------------------------- */

enum tarn_log_level { TARN_LOG_ERROR, TARN_LOG_WARN, TARN_LOG_INFO, TARN_LOG_DEBUG };

/* Messages above this level are dropped. Set once at start-up. */
extern int tarn_log_level;
/* One line to stderr with a timestamp and level. Thread-safe (one write). */
void tarn_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define TARN_ERROR(...) tarn_log(TARN_LOG_ERROR, __VA_ARGS__)
#define TARN_WARN(...) tarn_log(TARN_LOG_WARN, __VA_ARGS__)
#define TARN_INFO(...) tarn_log(TARN_LOG_INFO, __VA_ARGS__)
#define TARN_DEBUG(...)                                                  \
    do {                                                                 \
        if (tarn_log_level >= TARN_LOG_DEBUG)                            \
            tarn_log(TARN_LOG_DEBUG, __VA_ARGS__);                       \
    } while (0)

/* ---- Growable byte buffer (heap, caller owns) ------------------------ */

typedef struct tarn_buf {
    char *data;   /* always NUL-terminated when len > 0 or cap > 0 */
    size_t len;
    size_t cap;
} tarn_buf;

/* Append n bytes. Returns 0 or TARN_E_NOMEM. */
int tarn_buf_append(tarn_buf *b, const void *p, size_t n);
int tarn_buf_appends(tarn_buf *b, const char *s);
int tarn_buf_printf(tarn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tarn_buf_free(tarn_buf *b);

/* ---- URI helpers ------------------------------------------------------ */

/* Percent-decode s[0..n) into the arena. plus_is_space: '+' becomes ' '
 * (form encoding; S3 paths and SigV4 queries use 0). Returns NULL on a
 * malformed escape (%G1, truncated %) or out of memory; *out_len gets the
 * decoded length (the result may hold NUL bytes). */
char *tarn_uri_decode(tarn_arena *a, const char *s, size_t n, int plus_is_space,
                      size_t *out_len);
/* Encode s[0..n) with S3/SigV4 rules: everything except A-Z a-z 0-9 - . _ ~
 * becomes %XX (upper-case hex); '/' is kept when keep_slash. */
char *tarn_uri_encode(tarn_arena *a, const char *s, size_t n, int keep_slash);

/* The value of one hex digit (either case), or -1. */
int tarn_hex_value(char c);

/* Lower-case hex of n bytes into out (2n+1 bytes incl. NUL). */
void tarn_hex(const unsigned char *in, size_t n, char *out);

/* ---- Ring completions ------------------------------------------------ */

/* Anything submitted to a worker's io_uring by any module carries a
 * pointer to one of these as its user_data (values below 4096 are the
 * loop's own tags). The loop calls done(req, cqe->res) on the worker
 * thread. Embed it as the first member of the submitter's own struct. */
typedef struct tarn_ioreq {
    void (*done)(struct tarn_ioreq *req, int res);
} tarn_ioreq;
#define TARN_IOREQ_MIN_PTR 4096u

/* Wall clock in seconds / monotonic clock in nanoseconds. */
int64_t tarn_now_unix(void);
uint64_t tarn_mono_ns(void);

#endif
