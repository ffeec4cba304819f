/*
 * http.c — one S3 request through libmicrohttpd: the request object and
 * its arena (created from the URI log callback, which sees the raw request
 * target that SigV4 needs), routing and authentication on the first
 * handler call, the body on the next ones, the operation at the end, and
 * every response with its x-amz-request-id.
 *
 * Answers are queued on a later handler call, never the first, unless the
 * request is refused before its body: queueing on the first call makes
 * MHD 0.9.75 close the connection, which is what we want then (the body
 * is not read; with Expect: 100-continue it is never even sent).
 */
#include "server/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bodies larger than this are not read just to answer an error. */
#define DRAIN_BODY_LIMIT (64 * 1024)
/* S3 refuses request header sections over 8 KiB (RequestHeaderSectionTooLarge). */
#define MAX_HEADER_SECTION 8192

static _Thread_local uint64_t request_counter;

const srv_shared *srv_request_shared(const srv_request *r)
{
    return srv__worker_shared(r->worker);
}

stor_waker *srv_request_waker(const srv_request *r)
{
    return srv__worker_waker(r->worker);
}

stor_ioctx *srv_request_ioctx(const srv_request *r)
{
    return srv__worker_ioctx(r->worker);
}

const char *srv_request_header(srv_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---- Responses ------------------------------------------------------------ */

static void response_common_headers(srv_request *r)
{
    MHD_add_response_header(r->response, "x-amz-request-id", r->id);
    MHD_add_response_header(r->response, "x-amz-id-2", r->id);
    MHD_add_response_header(r->response, "Server", "tarn");
    if (srv__worker_stopping(r->worker))
        MHD_add_response_header(r->response, "Connection", "close");
}


void srv_respond(srv_request *r, unsigned status, const char *content_type, const char *body,
                 size_t len)
{
    if (r->response)
        MHD_destroy_response(r->response);
    int is_head = strcmp(r->method, "HEAD") == 0;
    r->response = MHD_create_response_from_buffer(is_head ? 0 : len, (void *)(body ? body : ""),
                                                  MHD_RESPMEM_MUST_COPY);
    r->status = status;
    if (!r->response)
        return;
    response_common_headers(r);
    if (content_type && len)
        MHD_add_response_header(r->response, "Content-Type", content_type);
}

void srv_respond_stream(srv_request *r, unsigned status, uint64_t len,
                        MHD_ContentReaderCallback reader)
{
    if (r->response)
        MHD_destroy_response(r->response);
    /* 256 KiB: the size MHD asks the reader for at a time. */
    r->response = MHD_create_response_from_callback(len, 256 * 1024, reader, r, NULL);
    r->status = status;
    if (r->response)
        response_common_headers(r);
}

void srv_response_header(srv_request *r, const char *name, const char *value)
{
    if (r->response)
        MHD_add_response_header(r->response, name, value);
}

void srv_respond_error(srv_request *r, int err, const char *detail)
{
    unsigned status = srv_error_status(err);
    if (status >= 500 && err != TARN_E_NOT_IMPLEMENTED)
        TARN_WARN("%s %s %s: %s (%s)", r->id, r->method, r->resource ? r->resource : "",
                  tarn_err_name(err), detail ? detail : "");
    if (status == 304) {
        srv_respond(r, status, NULL, NULL, 0);
        return;
    }
    srv_xml *x = srv_xml_begin("Error", 0);
    srv_xml_elem(x, "Code", tarn_err_code(err));
    srv_xml_elem(x, "Message", detail ? detail : srv_error_message(err));
    if (r->route.bucket && (err == TARN_E_NO_SUCH_BUCKET || err == TARN_E_BUCKET_NOT_EMPTY ||
                            err == TARN_E_BUCKET_ALREADY_OWNED ||
                            err == TARN_E_BUCKET_ALREADY_EXISTS || err == TARN_E_INVALID_BUCKET_NAME))
        srv_xml_elem(x, "BucketName", r->route.bucket);
    if (err == TARN_E_METHOD_NOT_ALLOWED) {
        srv_xml_elem(x, "Method", r->method);
        srv_xml_elem(x, "ResourceType", r->route.key ? "OBJECT" : r->route.bucket ? "BUCKET" : "SERVICE");
    }
    srv_xml_elem(x, "Resource", r->resource ? r->resource : r->raw_path);
    srv_xml_elem(x, "RequestId", r->id);
    srv_xml_elem(x, "HostId", r->id);
    size_t len = 0;
    char *xml = srv_xml_end(x, &len);
    srv_respond(r, status, "application/xml", xml, xml ? len : 0);
    free(xml);
}

static enum MHD_Result answer(srv_request *r)
{
    if (!r->response && r->err)
        srv_respond_error(r, r->err, r->err_detail);
    if (!r->response)
        srv_respond_error(r, TARN_E_INTERNAL, "no response was produced");
    if (!r->response)
        return MHD_NO; /* out of memory: drop the connection */
    enum MHD_Result rc = MHD_queue_response(r->conn, r->status, r->response);
    MHD_destroy_response(r->response);
    r->response = NULL;
    r->state = REQ_ANSWERED;
    return rc;
}

/* A stor_done_fn for operations that answer 204 No Content on success
 * (DeleteBucket, DeleteObject, AbortMultipartUpload): arg is the request. */
void srv_request_done_204(void *arg, int rc)
{
    srv_request *r = arg;
    if (rc)
        srv_respond_error(r, rc, NULL);
    else
        srv_respond(r, 204, NULL, NULL, 0);
    srv_request_resume(r);
}

/* ---- Suspension -------------------------------------------------------------- */

void srv_request_suspend(srv_request *r)
{
    r->suspended = 1;
    MHD_suspend_connection(r->conn);
    srv__worker_suspended_add(r->worker, r);
}

void srv_request_resume(srv_request *r)
{
    if (!r->suspended)
        return;
    r->suspended = 0;
    srv__worker_suspended_remove(r->worker, r);
    MHD_resume_connection(r->conn); /* the worker runs MHD after draining */
}

/* ---- The request's life -------------------------------------------------------- */

void *srv__http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    srv_worker *w = cls;
    tarn_arena *a = tarn_arena_create(8192);
    srv_request *r = a ? tarn_arena_calloc(a, sizeof(*r)) : NULL;
    if (!r) {
        tarn_arena_destroy(a);
        return NULL;
    }
    r->arena = a;
    r->worker = w;
    r->conn = conn;
    /* 16 upper-case hex digits, unique per process: worker, time, counter. */
    snprintf(r->id, sizeof(r->id), "%02X%06" PRIX64 "%08" PRIX64,
             (unsigned)srv__worker_index(w) & 0xff, (tarn_mono_ns() >> 20) & 0xffffff,
             ++request_counter & 0xffffffffu);
    const char *q = strchr(uri, '?');
    r->raw_path = q ? tarn_arena_strndup(a, uri, (size_t)(q - uri)) : tarn_arena_strdup(a, uri);
    r->raw_query = q ? tarn_arena_strdup(a, q + 1) : "";
    return r;
}

struct header_collect {
    tarn_arena *arena;
    auth_header *headers;
    size_t n, cap;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct header_collect *hc = cls;
    if (hc->n < hc->cap) {
        hc->headers[hc->n].name = key;
        hc->headers[hc->n].value = value ? value : "";
        hc->n++;
    }
    return MHD_YES;
}

static int authenticate(srv_request *r)
{
    struct header_collect hc = {.arena = r->arena};
    hc.cap = (size_t)MHD_get_connection_values(r->conn, MHD_HEADER_KIND, NULL, NULL);
    hc.headers = tarn_arena_alloc(r->arena, (hc.cap + 1) * sizeof(auth_header));
    if (!hc.headers)
        return TARN_E_NOMEM;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_header, &hc);
    r->headers = hc.headers;
    r->n_headers = hc.n;
    auth_request ar = {.method = r->method,
                       .raw_path = r->raw_path,
                       .raw_query = r->raw_query,
                       .headers = hc.headers,
                       .n_headers = hc.n,
                       .now = tarn_now_unix(),
                       .vhost_bucket = r->route.virtual_host ? r->route.bucket : NULL};
    return auth_request_verify(r->arena, srv_request_shared(r)->creds, &ar, &r->auth,
                               &r->err_detail);
}

void srv_request_fail(srv_request *r, int err, const char *detail)
{
    if (r->err)
        return;
    r->err = err;
    r->err_detail = detail;
}

static int route(srv_request *r)
{
    const srv_config *cfg = srv_request_shared(r)->cfg;
    int rc = srv_route_resolve(r->arena, r->method, srv_request_header(r, "Host"), r->raw_path,
                               r->raw_query, cfg->domain,
                               srv_request_header(r, "x-amz-copy-source") != NULL, &r->route);
    if (r->route.bucket)
        r->resource = r->route.key ? tarn_arena_printf(r->arena, "/%s/%.*s", r->route.bucket,
                                                       (int)r->route.key_len, r->route.key)
                                   : tarn_arena_printf(r->arena, "/%s", r->route.bucket);
    return rc;
}

/* S3 answers anonymous requests on a missing bucket with NoSuchBucket and
 * everything else (without a policy allowing it, and CreateBucket) with
 * AccessDenied. */
static int anonymous_error(srv_request *r)
{
    stor_bucket b;
    if (r->route.bucket && r->route.op != SRV_OP_CREATE_BUCKET &&
        stor_bucket_name_valid(r->route.bucket) &&
        stor_bucket_get(srv_request_shared(r)->store, r->route.bucket, &b) == TARN_E_NO_SUCH_BUCKET)
        return TARN_E_NO_SUCH_BUCKET;
    return TARN_E_ACCESS_DENIED;
}

/* First handler call: headers are in. Route, authenticate, pick the op. */
static void request_begin(srv_request *r, const char *method)
{
    r->method = method;
    srv__conn_headers_done(r->worker, r->conn);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (ci && ci->header_size > MAX_HEADER_SECTION) {
        srv_request_fail(r, TARN_E_REQUEST_HEADER_TOO_LARGE, NULL);
        return;
    }
    int rc = route(r);
    if (rc) {
        srv_request_fail(r, rc, NULL);
        return;
    }
    if ((rc = authenticate(r))) {
        srv_request_fail(r, rc, r->err_detail);
        return;
    }
    r->op = srv_op_lookup(r->route.op);
    if (!r->op) {
        srv_request_fail(r, TARN_E_NOT_IMPLEMENTED,
                  tarn_arena_printf(r->arena, "%s is not implemented yet", r->route.op_name));
        return;
    }
    if (r->auth.anonymous && !r->op->allow_anonymous) {
        srv_request_fail(r, anonymous_error(r), NULL);
        return;
    }
    const char *detail = NULL;
    rc = auth_body_create(r->arena, &r->auth, r->headers, r->n_headers, &r->body_reader, &detail);
    if (rc) {
        srv_request_fail(r, rc, detail);
        return;
    }
    if (r->op->begin && (rc = r->op->begin(r)))
        srv_request_fail(r, rc, NULL);
}

/* Refuse before reading the body when a body is coming and it is big or
 * the client waits for 100 Continue. */
static int answer_before_body(srv_request *r)
{
    if (!r->err)
        return 0;
    if (srv_request_header(r, "Expect"))
        return 1;
    const char *cl = srv_request_header(r, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > DRAIN_BODY_LIMIT)
        return 1;
    const char *te = srv_request_header(r, "Transfer-Encoding");
    return te != NULL;
}

/* Body bytes: to the op's streaming hook, or verified and buffered up to
 * max_body. Returns the bytes consumed (fewer only when suspended). */
static size_t body_feed(srv_request *r, const char *data, size_t n)
{
    if (r->err)
        return n; /* drained and dropped: the error is answered at the end */
    if (r->op->body)
        return r->op->body(r, data, n);
    int rc;
    if (r->op->max_body) {
        rc = auth_body_feed_buf(r->body_reader, data, n, &r->body);
        if (!rc && r->body.len > r->op->max_body)
            rc = TARN_E_ENTITY_TOO_LARGE;
    } else {
        size_t used, made;
        rc = auth_body_feed(r->body_reader, data, n, &used, NULL, 0, &made);
    }
    if (rc)
        srv_request_fail(r, rc, rc == TARN_E_ENTITY_TOO_LARGE
                                    ? "Your request body is larger than this operation allows."
                                    : auth_body_detail(r->body_reader));
    return n;
}

static void request_run(srv_request *r)
{
    r->state = REQ_RUNNING;
    if (!r->err && r->body_reader) {
        int rc = auth_body_finish(r->body_reader);
        if (rc)
            srv_request_fail(r, rc, auth_body_detail(r->body_reader));
    }
    if (r->err)
        srv_respond_error(r, r->err, r->err_detail);
    else
        r->op->run(r);
}

enum MHD_Result srv__http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    (void)cls, (void)url, (void)version, (void)conn;
    srv_request *r = *con_cls;
    if (!r)
        return MHD_NO; /* no memory for the request: drop the connection */
    if (r->suspended)
        return MHD_YES; /* called again while parked: data stays unconsumed */
    switch (r->state) {
    case REQ_HEADERS:
        r->state = REQ_BODY;
        request_begin(r, method);
        return answer_before_body(r) ? answer(r) : MHD_YES;
    case REQ_BODY:
        if (*upload_data_size) {
            *upload_data_size -= body_feed(r, upload_data, *upload_data_size);
            return MHD_YES;
        }
        if (!r->err && r->op->body && (r->op->body(r, NULL, 0), r->suspended))
            return MHD_YES; /* flushing the last bytes to storage */
        request_run(r);
        break;
    case REQ_ANSWERED:
        *upload_data_size = 0;
        return MHD_YES;
    default:
        break;
    }
    if (r->suspended)
        return MHD_YES; /* data, if any, stays unconsumed until resumed */
    return r->response ? answer(r) : MHD_YES;
}

void srv__http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    srv_worker *w = cls;
    srv_request *r = *con_cls;
    srv__conn_request_done(w, conn);
    if (!r)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        TARN_DEBUG("%s: request ended early (%d)", r->id, (int)toe);
    if (r->suspended)
        srv__worker_suspended_remove(w, r);
    if (r->response)
        MHD_destroy_response(r->response);
    tarn_buf_free(&r->body);
    tarn_arena_destroy(r->arena);
    *con_cls = NULL;
}
