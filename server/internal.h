/*
 * internal.h — what the files of server/ share with each other and nobody
 * else: the request object, the worker, routing results, the response
 * helpers the operation handlers call, and the XML helpers.
 */
#ifndef TARN_SERVER_INTERNAL_H
#define TARN_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <stdint.h>

#include "auth/auth.h"
#include "common/common.h"
#include "server/server.h"
#include "storage/storage.h"

/* ---- Shared by all workers (read-only after start) ---------------------- */

typedef struct srv_shared {
    const srv_config *cfg;
    auth_creds *creds;
    stor *store;
} srv_shared;

/* ---- Routing -------------------------------------------------------------- */

/* Every S3 operation the router can name. Handlers exist for some; the
 * rest answer 501 NotImplemented. Keep in step with route.c's name table. */
#define SRV_OPS(X)                                                          \
    X(LIST_BUCKETS, "ListBuckets")                                          \
    X(CREATE_BUCKET, "CreateBucket")                                        \
    X(HEAD_BUCKET, "HeadBucket")                                            \
    X(DELETE_BUCKET, "DeleteBucket")                                        \
    X(GET_BUCKET_LOCATION, "GetBucketLocation")                             \
    X(LIST_OBJECTS, "ListObjects")                                          \
    X(LIST_OBJECTS_V2, "ListObjectsV2")                                     \
    X(LIST_OBJECT_VERSIONS, "ListObjectVersions")                           \
    X(LIST_MULTIPART_UPLOADS, "ListMultipartUploads")                       \
    X(DELETE_OBJECTS, "DeleteObjects")                                      \
    X(POST_OBJECT, "PostObject")                                            \
    X(BUCKET_SUBRESOURCE, "BucketSubresource")                              \
    X(PUT_OBJECT, "PutObject")                                              \
    X(COPY_OBJECT, "CopyObject")                                            \
    X(GET_OBJECT, "GetObject")                                              \
    X(HEAD_OBJECT, "HeadObject")                                            \
    X(DELETE_OBJECT, "DeleteObject")                                        \
    X(CREATE_MULTIPART_UPLOAD, "CreateMultipartUpload")                     \
    X(UPLOAD_PART, "UploadPart")                                            \
    X(UPLOAD_PART_COPY, "UploadPartCopy")                                   \
    X(COMPLETE_MULTIPART_UPLOAD, "CompleteMultipartUpload")                 \
    X(ABORT_MULTIPART_UPLOAD, "AbortMultipartUpload")                       \
    X(LIST_PARTS, "ListParts")                                              \
    X(OBJECT_SUBRESOURCE, "ObjectSubresource")                              \
    X(OPTIONS_PREFLIGHT, "OptionsPreflight")

typedef enum srv_op_id {
#define SRV_OP_ENUM(id, name) SRV_OP_##id,
    SRV_OPS(SRV_OP_ENUM)
#undef SRV_OP_ENUM
    SRV_OP__COUNT
} srv_op_id;

typedef struct srv_query_param {
    const char *name;  /* decoded */
    const char *value; /* decoded, "" when the parameter had no '=' */
} srv_query_param;

typedef struct srv_route {
    srv_op_id op;
    const char *op_name;     /* "GetBucketAcl" etc., also for subresources */
    const char *bucket;      /* decoded; NULL at service level */
    const char *key;         /* decoded; NULL at bucket level */
    size_t key_len;
    int virtual_host;        /* bucket came from the Host header */
    srv_query_param *query;  /* decoded parameters, arena */
    size_t n_query;
} srv_route;

/* Resolve method + Host + raw path/query to an operation. Returns 0 or
 * TARN_E_METHOD_NOT_ALLOWED, TARN_E_INVALID_URI, TARN_E_NOMEM. Bucket
 * names are checked by the handlers, not here. Strings live in the arena.
 * Thread-safe. */
int srv_route_resolve(tarn_arena *a, const char *method, const char *host,
                      const char *raw_path, const char *raw_query, const char *domain,
                      int has_copy_source, srv_route *out);
/* The value of query parameter name (decoded), or NULL when absent. */
const char *srv_route_query(const srv_route *r, const char *name);
/* max-keys / max-parts / max-uploads: absent → SRV_LIST_MAX; a
 * non-negative integer, capped at SRV_LIST_MAX (S3's page size); else
 * TARN_E_INVALID_ARGUMENT. */
#define SRV_LIST_MAX 1000
int srv_route_query_limit(const srv_route *r, const char *name, int *out);

/* ---- Requests ------------------------------------------------------------- */

struct srv_worker;
struct srv_request;

typedef struct srv_op {
    /* Largest body the operation buffers in r->body (bytes); 0 = the body
     * is verified (hashes, checksums) and dropped. Ignored with .body. */
    size_t max_body;
    /* Anonymous requests allowed (none yet). */
    int allow_anonymous;
    /* Optional: after routing and auth, before the body. 0, or an error
     * answered at once (before the body is read when it is large). */
    int (*begin)(struct srv_request *r);
    /* Optional: take the raw body as it streams (through r->body_reader).
     * Returns the bytes consumed; fewer than n only after calling
     * srv_request_suspend (they are handed again after the resume). Called
     * with n == 0 once at the end of the body, to flush. */
    size_t (*body)(struct srv_request *r, const char *data, size_t n);
    /* Called once the body is complete and verified (auth_body_finish).
     * Must either set a response (srv_respond_*) or start asynchronous
     * work with srv_request_suspend and set the response on completion. */
    void (*run)(struct srv_request *r);
} srv_op;

/* The handler for an operation, or NULL when not implemented (ops.c). */
const srv_op *srv_op_lookup(srv_op_id op);

/* Handlers (op_bucket.c). */
extern const srv_op srv_op_list_buckets, srv_op_create_bucket, srv_op_head_bucket,
    srv_op_get_bucket_location, srv_op_delete_bucket;
/* Handlers (op_object.c). */
extern const srv_op srv_op_put_object, srv_op_get_object, srv_op_head_object,
    srv_op_delete_object;
/* Handlers (op_multipart.c). */
extern const srv_op srv_op_create_multipart_upload, srv_op_upload_part,
    srv_op_complete_multipart_upload, srv_op_abort_multipart_upload, srv_op_list_parts,
    srv_op_list_multipart_uploads;
/* GetObject/HeadObject ?partNumber=N (op_multipart.c), called by
 * op_object.c's get: 0 when the request names no part; 1 with
 * *first..*last the part's bytes; or, having answered the request with
 * the error itself, a negative error. */
int srv__get_part_range(struct srv_request *r, stor_get *g, uint64_t *first, uint64_t *last);
/* Add x-amz-mp-parts-count to a part's response (after srv_respond_stream). */
void srv__get_part_headers(struct srv_request *r, stor_get *g);
/* Handlers (op_list.c). */
extern const srv_op srv_op_list_objects_v2, srv_op_list_objects;

enum srv_request_state {
    REQ_HEADERS,  /* first handler call not yet made */
    REQ_BODY,     /* receiving the body */
    REQ_RUNNING,  /* op running (maybe suspended) */
    REQ_ANSWERED, /* response queued */
};

typedef struct srv_request {
    tarn_arena *arena;
    struct srv_worker *worker;
    struct MHD_Connection *conn;
    char id[17];                 /* x-amz-request-id */
    const char *method;
    const char *raw_path;        /* as sent */
    const char *raw_query;       /* as sent, "" if none */
    const char *resource;        /* decoded path, for error XML */
    srv_route route;
    const srv_op *op;
    auth_result auth;
    auth_header *headers;        /* all request headers, arena */
    size_t n_headers;
    auth_body *body_reader;      /* undoes aws-chunked, checks hashes */
    void *op_state;              /* the operation's own state, arena */
    int state;
    int err;                     /* first error seen; answered at the end */
    const char *err_detail;
    tarn_buf body;               /* up to op->max_body bytes */
    uint64_t body_received;
    struct MHD_Response *response;
    unsigned status;
    int suspended;
    uint64_t suspend_deadline_ns;
    struct srv_request *next_suspended, *prev_suspended;
} srv_request;

/* Response helpers for operation handlers; each builds r->response.
 * xml may be NULL for an empty body. The buffer is copied. */
void srv_respond(srv_request *r, unsigned status, const char *content_type, const char *body,
                 size_t len);
void srv_respond_error(srv_request *r, int err, const char *detail);
/* Add a header to the response built by the last srv_respond call. */
void srv_response_header(srv_request *r, const char *name, const char *value);

/* Completion for asynchronous operations that answer 204 on success (arg
 * is the suspended request): sets the response and resumes. */
void srv_request_done_204(void *arg, int rc);

/* Record an error to answer with (the first one wins). */
void srv_request_fail(srv_request *r, int err, const char *detail);
/* The worker's storage I/O context (for object pipelines). */
stor_ioctx *srv_request_ioctx(const srv_request *r);
/* Respond with a body produced by reader (MHD content-reader callback,
 * cls = r) of exactly len bytes; HEAD sends the length and no body. */
void srv_respond_stream(srv_request *r, unsigned status, uint64_t len,
                        MHD_ContentReaderCallback reader);

/* A request header's value (case-insensitive name) or NULL. */
const char *srv_request_header(srv_request *r, const char *name);

/* Park the request while asynchronous work runs; srv_request_resume (on
 * the worker thread, after setting a response) wakes it. */
void srv_request_suspend(srv_request *r);
void srv_request_resume(srv_request *r);

/* The shared state reachable from a request. */
const srv_shared *srv_request_shared(const srv_request *r);
stor_waker *srv_request_waker(const srv_request *r);

/* ---- Streaming a body into storage (put_stream.c) ------------------------- */

#define SRV_PUT_STREAM_BUFFER (256 * 1024) /* decoded payload waiting for storage */

/* PutObject's and UploadPart's op_state: set put after stor_put_begin /
 * stor_part_begin. Freed (and an uncommitted put aborted) with the arena. */
typedef struct srv_put_stream {
    stor_put *put;
    char *buf;
    size_t off, len;
    int waiting;
} srv_put_stream;

/* Allocate the stream in r's arena and make it r->op_state. NULL: no memory. */
srv_put_stream *srv_put_stream_create(srv_request *r);
/* An srv_op.body hook: decode through r->body_reader into the put,
 * suspending r while storage is full (see srv_op.body). */
size_t srv_put_stream_body(srv_request *r, const char *data, size_t n);
/* stor_done_fn for stor_put_finish (arg = the request): 200 with the ETag
 * and checksum header (object: also x-amz-checksum-type), or the error;
 * then resume. */
void srv_put_stream_done_object(void *arg, int rc);
void srv_put_stream_done_part(void *arg, int rc);

/* ---- Errors ---------------------------------------------------------------- */

/* HTTP status and default message for a tarn_err. */
unsigned srv_error_status(int err);
const char *srv_error_message(int err);

/* ---- XML ------------------------------------------------------------------- */

typedef struct srv_xml srv_xml;
/* A writer building one XML document into heap memory. */
srv_xml *srv_xml_begin(const char *root, int s3_namespace);
void srv_xml_open(srv_xml *x, const char *name);
void srv_xml_close(srv_xml *x);
void srv_xml_elem(srv_xml *x, const char *name, const char *text);
/* Text content (escaped) inside the element open now. */
void srv_xml_text(srv_xml *x, const char *text);
/* Finish: the document (heap, caller frees) and its length; NULL on error. */
char *srv_xml_end(srv_xml *x, size_t *len);
/* Finish x and respond with it (status, application/xml), or with
 * InternalError when the document could not be built. Consumes x. */
void srv_respond_xml(struct srv_request *r, unsigned status, srv_xml *x);
/* Format a unix time as S3's ISO 8601 form 2006-02-03T16:45:09.000Z. */
void srv_xml_time(int64_t t, char out[32]);

/* Parse CreateBucketConfiguration; *location gets LocationConstraint
 * (arena) or "" when absent. 0 or TARN_E_MALFORMED_XML. */
int srv_xml_parse_create_bucket(tarn_arena *a, const char *body, size_t len,
                                const char **location);

/* One Part of a CompleteMultipartUpload body (strings in the arena). */
typedef struct srv_complete_part {
    uint32_t number;            /* 0: not an integer in 1..10000 */
    int has_number;
    const char *etag;           /* as sent (quotes optional) */
    const char *checksum[5];    /* ChecksumCRC32 .. ChecksumSHA256, NULL if absent */
} srv_complete_part;
/* Parse a CompleteMultipartUpload body. 0, TARN_E_MALFORMED_XML (not XML,
 * wrong root, no Part or more than 10000, a Part without PartNumber or
 * ETag), TARN_E_NOMEM. */
int srv_xml_parse_complete(tarn_arena *a, const char *body, size_t len,
                           srv_complete_part **parts, size_t *n);

/* ---- Object header rules (headers.c) --------------------------------------- */

enum { SRV_RANGE_NONE = 0, SRV_RANGE_OK = 1, SRV_RANGE_UNSATISFIABLE = 2 };
/* Parse a Range header against an object of size bytes: SRV_RANGE_NONE
 * (absent, invalid or several ranges: S3 then sends the whole object),
 * SRV_RANGE_OK with *first..*last inclusive, or SRV_RANGE_UNSATISFIABLE. */
int srv_range_parse(const char *header, uint64_t size, uint64_t *first, uint64_t *last);

/* HTTP dates (IMF-fixdate out; the three RFC 9110 forms in). */
void srv_http_date(int64_t t, char out[32]);
int srv_http_date_parse(const char *s, int64_t *out);

typedef struct srv_conditions {
    const char *if_match, *if_none_match, *if_modified_since, *if_unmodified_since;
    int is_read; /* GET/HEAD: If-None-Match / If-Modified-Since give 304 */
} srv_conditions;
/* 0, TARN_E_PRECONDITION_FAILED or TARN_E_NOT_MODIFIED (S3's precedence). */
int srv_conditions_check(const srv_conditions *c, const char *etag, int64_t mtime);

/* x-amz-meta-* headers (names lower-cased, prefix removed) into the arena.
 * 0, TARN_E_METADATA_TOO_LARGE (over 2 KiB as AWS counts), TARN_E_NOMEM. */
#define SRV_MAX_USER_META 2048
int srv_user_meta_collect(tarn_arena *a, struct MHD_Connection *conn, const stor_meta_pair **out,
                          size_t *n);
/* The request's content headers (Content-Type, default
 * binary/octet-stream; Content-Encoding, -Disposition, -Language,
 * Cache-Control, Expires) and user metadata into m, as PutObject,
 * CreateMultipartUpload and CopyObject (REPLACE) store them. 0 or as
 * srv_user_meta_collect. */
int srv_content_meta_collect(srv_request *r, stor_object *m);

/* ---- The admin interface (admin_sock.c, admin_report.c) -------------------
 * `tarn disks|status|heal|scrub` against a running server. The server
 * listens on a Unix stream socket (cfg->admin_socket, mode 0600); one
 * thread, never a worker, accepts connections one at a time. Protocol: the
 * client sends one command line (at most SRV_ADMIN_LINE_MAX bytes with its
 * newline, within SRV_ADMIN_READ_TIMEOUT_MS); the server answers with text
 * lines, the last one "exit N" (the command's exit status), and closes.
 * Lines starting with "error: " are for stderr. Unknown or malformed
 * commands get an error line and "exit 2". heal and scrub wait for a pass
 * of the healer (stor_heal_bg_run) on a thread of their own, so disks and
 * status keep answering meanwhile. */

#define SRV_ADMIN_LINE_MAX 256
#define SRV_ADMIN_READ_TIMEOUT_MS 3000

typedef struct srv_admin srv_admin;
/* Listen on cfg->admin_socket and start the admin thread; cfg and s must
 * outlive it. A socket file left by a killed server (nothing answers) is
 * replaced; a live server answering on it, or a path that is not a socket,
 * refuses the start. With cfg->admin_socket "" there is no socket (*out
 * NULL; a warning logged). 0, or -1 with the reason logged. */
int srv__admin_start(const srv_config *cfg, stor *s, srv_admin **out);
/* Stop accepting, make heal and scrub requests waiting for a pass return
 * (stor_heal_bg_interrupt), join every admin thread, remove the socket
 * file, free a. Call before stor_close. a may be NULL. */
void srv__admin_stop(srv_admin *a);

/* The reports (admin_report.c), for the socket and the offline commands
 * alike: each appends lines to out and returns the exit status. */
/* Each disk folder's check (stor_disks_status); with s, the running store's
 * view of it too (a disk is online when both say so); then the quorum
 * line. 0 while at most m disks are offline, else 1. */
int srv__report_disks(tarn_buf *out, const srv_config *cfg, stor *s);
/* The summary line of a heal or scrub (cmd) with the walk's result rc; an
 * "error: " line when rc != 0. 0 when everything is whole or was rebuilt,
 * 1 when something could not be rebuilt or written, 2 when rc != 0. */
int srv__report_heal(tarn_buf *out, const char *cmd, int rc, const stor_heal_stats *st);
/* The server (pid, start time), the disks report and the counters
 * (stor_counters_get) of the running store s. Exit status as disks. */
int srv__report_status(tarn_buf *out, const srv_config *cfg, stor *s, int64_t started);

/* ---- Credentials (credentials.c) ------------------------------------------ */

/* Fill cfg's keys from the data dir (or generate and store them there)
 * when no pair was configured. 0 or -1 with a line in err. */
int srv__credentials_resolve(srv_config *cfg, char *err, size_t err_len);

/* The store cfg names (meta folder, disks, erasure coding, multipart
 * expiry), with no background healer, disk watch or read cache: as the
 * offline admin commands open it; the server adds those (config.c). */
stor_config srv__stor_config(const srv_config *cfg);

/* ---- Workers (loop.c) ------------------------------------------------------ */

typedef struct srv_worker srv_worker;
/* Access handler and friends, given to each MHD daemon (http.c). */
enum MHD_Result srv__http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls);
void *srv__http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn);
void srv__http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe);
/* Connection start/close bookkeeping (loop.c) for header deadlines. */
void srv__conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe);
/* Mark the connection carrying r as having finished its header phase. */
void srv__conn_headers_done(srv_worker *w, struct MHD_Connection *conn);
void srv__conn_request_done(srv_worker *w, struct MHD_Connection *conn);

/* Worker accessors used by http.c. */
const srv_shared *srv__worker_shared(const srv_worker *w);
stor_waker *srv__worker_waker(const srv_worker *w);
stor_ioctx *srv__worker_ioctx(const srv_worker *w);
int srv__worker_index(const srv_worker *w);
int srv__worker_stopping(const srv_worker *w);
void srv__worker_suspended_add(srv_worker *w, srv_request *r);
void srv__worker_suspended_remove(srv_worker *w, srv_request *r);

/* ---- Copy, batch delete, browser POST (issue 4) ---------------------------- */

/* Handlers (op_copy.c, op_delete_objects.c, op_post.c). */
extern const srv_op srv_op_upload_part_copy; /* op_multipart.c */
extern const srv_op srv_op_copy_object, srv_op_delete_objects, srv_op_post_object;

/* The source of a CopyObject / UploadPartCopy (x-amz-copy-source). */
typedef struct srv_copy_source {
    const char *bucket;       /* decoded, arena */
    const char *key;          /* decoded, arena; key_len bytes */
    size_t key_len;
    const char *version_id;   /* ?versionId=, or NULL */
    stor_object obj;          /* the source version (strings in the arena) */
    stor_get *get;            /* open on it; closed by an arena cleanup */
} srv_copy_source;

/* Parse an x-amz-copy-source value ("bucket/key" or "/bucket/key",
 * percent-encoded, optional "?versionId=V") into src's names. 0 or
 * TARN_E_INVALID_ARGUMENT with AWS's text in *detail (static). */
int srv_copy_source_parse(tarn_arena *a, const char *header, srv_copy_source *src,
                          const char **detail);
/* Parse r's x-amz-copy-source, open the source version for reading and
 * check x-amz-copy-source-if-match / -if-none-match / -if-modified-since /
 * -if-unmodified-since. 0, or TARN_E_INVALID_ARGUMENT, TARN_E_NO_SUCH_BUCKET,
 * TARN_E_NO_SUCH_KEY, TARN_E_PRECONDITION_FAILED, TARN_E_IO, TARN_E_NOMEM
 * (*detail: AWS's text or NULL). src->get (when set) is closed with the
 * request's arena. Worker thread only. */
int srv_copy_source_open(srv_request *r, srv_copy_source *src, const char **detail);

/* The pump: bytes [first, first+len) of an open get into a begun put
 * (stor_put_begin or stor_part_begin, sized len), through one 256 KiB
 * buffer, on r's worker, computing the MD5 and checksum algorithm alg
 * (enum auth_checksum_alg; AUTH_CK_NONE: MD5 only) of those bytes.
 * Returns 1 when everything was copied at once (len 0; done is then not
 * called), 0 when under way (suspend r: done(r, rc) runs later on the
 * worker, rc 0 once every byte was given to the put, or the read error
 * TARN_E_IO / TARN_E_CORRUPT), or a negative error (TARN_E_NOMEM, a
 * stor_get_range error). Committing (stor_put_finish) is the caller's.
 * The state lives in r's arena. */
typedef struct srv_copy srv_copy;
typedef void (*srv_copy_done_fn)(srv_request *r, int rc);
int srv_copy_start(srv_request *r, stor_get *g, stor_put *p, uint64_t first, uint64_t len,
                   int alg, srv_copy_done_fn done, srv_copy **out);
/* After completion with rc 0: 32 hex MD5 of the bytes (the ETag), and the
 * base64 checksum (NULL for AUTH_CK_NONE). Arena strings. */
const char *srv_copy_etag(const srv_copy *c);
const char *srv_copy_checksum(const srv_copy *c);

/* One Object of a DeleteObjects body (strings in the arena). */
typedef struct srv_delete_key {
    const char *key;
    size_t key_len;
    const char *version_id;   /* NULL when absent */
} srv_delete_key;
/* Parse a DeleteObjects body: Delete{Quiet?, Object{Key, VersionId?}*}.
 * 0, TARN_E_MALFORMED_XML (not XML, wrong root, no Object or more than
 * max, an Object without Key), TARN_E_NOMEM. */
int srv_xml_parse_delete(tarn_arena *a, const char *body, size_t len, size_t max,
                         srv_delete_key **keys, size_t *n, int *quiet);

#endif
