/*
 * op_object.c — PutObject, GetObject, HeadObject, DeleteObject (S3 API
 * reference, one section each). Bodies stream: PUT hands the payload that
 * auth_body decodes and verifies to storage's write pipeline, suspending
 * the connection when storage's stripe buffers are full; GET answers with
 * a content-reader callback that suspends until storage's read-ahead has
 * bytes. Nothing of a PUT is visible before auth_body_finish said the body
 * is whole and correct and storage committed the version.
 */
#include "server/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KEY_BYTES 1024               /* S3: keys up to 1024 bytes of UTF-8 */
#define MAX_PUT_SIZE (5ull << 30)        /* S3: a single PUT up to 5 GiB */

/* ---- Shared checks ---------------------------------------------------------- */

static int key_checked(srv_request *r)
{
    if (!stor_bucket_name_valid(r->route.bucket))
        return TARN_E_NO_SUCH_BUCKET; /* no bucket can have that name */
    if (r->route.key_len > MAX_KEY_BYTES)
        return TARN_E_KEY_TOO_LONG;
    return 0;
}

/* ---- PutObject -------------------------------------------------------------- */

/* What to store as Content-Encoding: the client's value without the
 * aws-chunked framing token, which describes only this upload. */
static const char *stored_encoding(srv_request *r)
{
    const char *ce = srv_request_header(r, "Content-Encoding");
    if (!ce)
        return NULL;
    char *copy = tarn_arena_strdup(r->arena, ce), *save = NULL;
    char *out = tarn_arena_calloc(r->arena, strlen(ce) + 1);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (!*t || strcasecmp(t, "aws-chunked") == 0)
            continue;
        if (*out)
            strcat(out, ",");
        strcat(out, t);
    }
    return *out ? out : NULL;
}

static int put_size(srv_request *r, uint64_t *size)
{
    int64_t decoded = auth_body_expected_length(r->body_reader);
    if (decoded >= 0) {
        *size = (uint64_t)decoded;
    } else {
        const char *cl = srv_request_header(r, "Content-Length");
        char *end;
        if (!cl)
            return TARN_E_MISSING_CONTENT_LENGTH;
        *size = strtoull(cl, &end, 10);
        if (!*cl || *end)
            return TARN_E_INVALID_ARGUMENT;
    }
    return *size > MAX_PUT_SIZE ? TARN_E_ENTITY_TOO_LARGE : 0;
}

static int put_begin(srv_request *r)
{
    uint64_t size;
    int rc = key_checked(r);
    if (!rc)
        rc = put_size(r, &size);
    if (rc)
        return rc;
    srv_put_stream *ps = srv_put_stream_create(r);
    if (!ps)
        return TARN_E_NOMEM;
    return stor_put_begin(srv_request_ioctx(r), r->route.bucket, r->route.key, r->route.key_len,
                          size, &ps->put);
}

static int put_meta_fill(srv_request *r, stor_object *meta)
{
    memset(meta, 0, sizeof(*meta));
    snprintf(meta->etag, sizeof(meta->etag), "%s", auth_body_etag(r->body_reader));
    int alg = auth_body_checksum_alg(r->body_reader);
    if (alg != AUTH_CK_NONE) /* auth's enum starts at CRC32 = 1, storage's at 0 */
        meta->checksum[alg - AUTH_CK_CRC32] = auth_body_checksum_value(r->body_reader);
    int rc = srv_content_meta_collect(r, meta);
    meta->content_encoding = stored_encoding(r);
    return rc;
}

static void put_run(srv_request *r)
{
    srv_put_stream *ps = r->op_state;
    stor_object meta;
    int rc = put_meta_fill(r, &meta);
    if (!rc)
        rc = stor_put_finish(ps->put, &meta, srv_put_stream_done_object, r);
    if (rc)
        srv_respond_error(r, rc, NULL);
    else
        srv_request_suspend(r);
}

/* ---- GetObject / HeadObject --------------------------------------------------- */

#define GET_FIRST_BYTES (64 * 1024)

typedef struct get_state {
    stor_get *get;
    stor_object obj;
    uint64_t first, last, len, sent;
    int ranged;         /* 206 with Content-Range */
    char *head;         /* the first bytes, read before the status is chosen */
    size_t head_len, head_off;
    int waiting;
} get_state;

static void get_cleanup(void *arg)
{
    get_state *gs = arg;
    if (gs->get)
        stor_get_close(gs->get);
}

static void get_ready(void *arg)
{
    srv_request *r = arg;
    get_state *gs = r->op_state;
    gs->waiting = 0;
    srv_request_resume(r);
}

static ssize_t get_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    srv_request *r = cls;
    get_state *gs = r->op_state;
    (void)pos;
    if (gs->sent >= gs->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (max > gs->len - gs->sent)
        max = (size_t)(gs->len - gs->sent);
    if (gs->head_off < gs->head_len) {
        size_t c = gs->head_len - gs->head_off < max ? gs->head_len - gs->head_off : max;
        memcpy(buf, gs->head + gs->head_off, c);
        gs->head_off += c;
        gs->sent += c;
        return (ssize_t)c;
    }
    for (;;) {
        gs->waiting = 1;
        ssize_t n = stor_get_read(gs->get, buf, max, get_ready, r);
        if (n > 0) {
            gs->waiting = 0;
            gs->sent += (uint64_t)n;
            return n;
        }
        if (n < 0) {
            TARN_ERROR("%s: read of %s failed after %llu bytes: %s", r->id, r->resource,
                       (unsigned long long)gs->sent, tarn_err_name((int)n));
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (gs->waiting) {
            srv_request_suspend(r);
            return 0;
        }
    }
}

static const char *query_override(srv_request *r, const char *param, const char *stored)
{
    const char *v = srv_route_query(&r->route, param);
    return v ? v : stored;
}

static void header_if(srv_request *r, const char *name, const char *value)
{
    if (value && *value)
        srv_response_header(r, name, value);
}

static void object_headers(srv_request *r, const stor_object *o, int whole)
{
    char date[32];
    srv_http_date(o->mtime_ms / 1000, date);
    srv_response_header(r, "ETag", tarn_arena_printf(r->arena, "\"%s\"", o->etag));
    srv_response_header(r, "Last-Modified", date);
    srv_response_header(r, "Accept-Ranges", "bytes");
    header_if(r, "Content-Type", query_override(r, "response-content-type", o->content_type));
    header_if(r, "Content-Encoding",
              query_override(r, "response-content-encoding", o->content_encoding));
    header_if(r, "Content-Disposition",
              query_override(r, "response-content-disposition", o->content_disposition));
    header_if(r, "Content-Language",
              query_override(r, "response-content-language", o->content_language));
    header_if(r, "Cache-Control", query_override(r, "response-cache-control", o->cache_control));
    header_if(r, "Expires", query_override(r, "response-expires", o->expires));
    for (size_t i = 0; i < o->n_meta; i++)
        srv_response_header(r, tarn_arena_printf(r->arena, "x-amz-meta-%s", o->meta[i].name),
                            o->meta[i].value);
    const char *mode = srv_request_header(r, "x-amz-checksum-mode");
    if (!whole || !mode || strcasecmp(mode, "ENABLED") != 0)
        return;
    for (int alg = AUTH_CK_CRC32; alg <= AUTH_CK_SHA256; alg++) {
        const char *v = o->checksum[alg - AUTH_CK_CRC32];
        if (v && *v) {
            srv_response_header(r, auth_checksum_alg_header(alg), v);
            /* A multipart composite checksum ends in "-<parts>". */
            srv_response_header(r, "x-amz-checksum-type",
                                strchr(v, '-') ? "COMPOSITE" : "FULL_OBJECT");
        }
    }
}

static int get_conditions(srv_request *r, const stor_object *o)
{
    srv_conditions c = {.if_match = srv_request_header(r, "If-Match"),
                        .if_none_match = srv_request_header(r, "If-None-Match"),
                        .if_modified_since = srv_request_header(r, "If-Modified-Since"),
                        .if_unmodified_since = srv_request_header(r, "If-Unmodified-Since"),
                        .is_read = 1};
    return srv_conditions_check(&c, o->etag, o->mtime_ms / 1000);
}

static int get_open(srv_request *r, get_state **out)
{
    int rc = key_checked(r);
    if (rc)
        return rc == TARN_E_NO_SUCH_BUCKET ? TARN_E_NO_SUCH_BUCKET : rc;
    get_state *gs = tarn_arena_calloc(r->arena, sizeof(*gs));
    if (!gs || tarn_arena_cleanup_add(r->arena, get_cleanup, gs))
        return TARN_E_NOMEM;
    r->op_state = gs;
    const char *vid = srv_route_query(&r->route, "versionId");
    if (vid && strcmp(vid, "null") == 0)
        vid = NULL; /* unversioned buckets: "null" is the only version */
    *out = gs;
    return stor_get_open(srv_request_ioctx(r), r->arena, r->route.bucket, r->route.key,
                         r->route.key_len, vid, &gs->obj, &gs->get);
}

/* 304 carries the validators, as S3 does; other errors are plain. */
static void get_refuse(srv_request *r, int rc, const stor_object *o)
{
    srv_respond_error(r, rc, NULL);
    if (rc == TARN_E_NOT_MODIFIED) {
        char date[32];
        srv_http_date(o->mtime_ms / 1000, date);
        srv_response_header(r, "ETag", tarn_arena_printf(r->arena, "\"%s\"", o->etag));
        srv_response_header(r, "Last-Modified", date);
    }
}

static void get_respond(srv_request *r, get_state *gs)
{
    srv_respond_stream(r, gs->ranged ? 206 : 200, gs->len, get_reader);
    if (gs->ranged)
        srv_response_header(r, "Content-Range",
                            tarn_arena_printf(r->arena, "bytes %llu-%llu/%llu",
                                              (unsigned long long)gs->first,
                                              (unsigned long long)gs->last,
                                              (unsigned long long)gs->obj.size));
    object_headers(r, &gs->obj, !gs->ranged);
    srv__get_part_headers(r, gs->get); /* ?partNumber: x-amz-mp-parts-count */
}

static void get_first_ready(void *arg);

/* The status goes out with the first bytes: read them first, so a stripe
 * that cannot be read or decoded is a 5xx, not a 200 cut short. */
static int get_first_bytes(srv_request *r, get_state *gs)
{
    size_t want = gs->len < GET_FIRST_BYTES ? (size_t)gs->len : GET_FIRST_BYTES;
    gs->waiting = 1;
    ssize_t n = stor_get_read(gs->get, gs->head, want, get_first_ready, r);
    if (n > 0) {
        gs->waiting = 0;
        gs->head_len = (size_t)n;
        get_respond(r, gs);
        return 1;
    }
    if (n < 0) {
        gs->waiting = 0;
        srv_respond_error(r, (int)n, "The object could not be read from enough disks.");
        return 1;
    }
    return 0; /* get_ready comes later */
}

static void get_first_ready(void *arg)
{
    srv_request *r = arg;
    if (get_first_bytes(r, r->op_state))
        srv_request_resume(r);
}

static void get_run(srv_request *r)
{
    get_state *gs = NULL;
    int rc = get_open(r, &gs);
    if (!rc)
        rc = get_conditions(r, &gs->obj);
    if (rc) {
        get_refuse(r, rc, gs ? &gs->obj : NULL);
        return;
    }
    uint64_t size = gs->obj.size, first = 0, last = size ? size - 1 : 0;
    int part = srv__get_part_range(r, gs->get, &first, &last); /* ?partNumber=N */
    if (part < 0)
        return; /* answered */
    int range = part ? SRV_RANGE_OK : srv_range_parse(srv_request_header(r, "Range"), size,
                                                      &first, &last);
    if (range == SRV_RANGE_UNSATISFIABLE) {
        srv_respond_error(r, TARN_E_INVALID_RANGE, NULL);
        srv_response_header(r, "Content-Range",
                            tarn_arena_printf(r->arena, "bytes */%llu", (unsigned long long)size));
        return;
    }
    gs->first = first;
    gs->last = last;
    gs->ranged = range == SRV_RANGE_OK;
    gs->len = size ? last - first + 1 : 0;
    if (strcmp(r->method, "HEAD") == 0 || gs->len == 0) {
        get_respond(r, gs);
        return;
    }
    if ((rc = stor_get_range(gs->get, first, last)) ||
        !(gs->head = tarn_arena_alloc(r->arena, GET_FIRST_BYTES))) {
        srv_respond_error(r, rc ? rc : TARN_E_NOMEM, NULL);
        return;
    }
    if (!get_first_bytes(r, gs))
        srv_request_suspend(r);
}

/* ---- DeleteObject ------------------------------------------------------------------ */

static void delete_run(srv_request *r)
{
    int rc = key_checked(r);
    if (!rc)
        rc = stor_object_delete(srv_request_shared(r)->store, srv_request_waker(r),
                                r->route.bucket, r->route.key, r->route.key_len, srv_request_done_204, r);
    if (rc)
        srv_respond_error(r, rc, NULL);
    else
        srv_request_suspend(r);
}

const srv_op srv_op_put_object = {.begin = put_begin, .body = srv_put_stream_body,
                                  .run = put_run};
const srv_op srv_op_get_object = {.run = get_run};
const srv_op srv_op_head_object = {.run = get_run};
const srv_op srv_op_delete_object = {.run = delete_run};
