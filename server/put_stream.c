/*
 * put_stream.c — a request body on its way into storage's write pipeline,
 * shared by PutObject and UploadPart: raw bytes go through auth_body
 * (aws-chunked, hashes, checksums) into a buffer of decoded payload, which
 * stor_put_write takes as its stripe buffers allow. When they are full the
 * request is suspended with the rest of MHD's data unconsumed, and
 * storage's writable callback resumes it.
 */
#include "server/internal.h"

static void put_stream_cleanup(void *arg)
{
    srv_put_stream *ps = arg;
    if (ps->put)
        stor_put_free(ps->put); /* aborts (removes shards) unless committed */
}

srv_put_stream *srv_put_stream_create(srv_request *r)
{
    srv_put_stream *ps = tarn_arena_calloc(r->arena, sizeof(*ps));
    if (!ps || !(ps->buf = tarn_arena_alloc(r->arena, SRV_PUT_STREAM_BUFFER)) ||
        tarn_arena_cleanup_add(r->arena, put_stream_cleanup, ps))
        return NULL;
    r->op_state = ps;
    return ps;
}

static void put_stream_writable(void *arg)
{
    srv_request *r = arg;
    ((srv_put_stream *)r->op_state)->waiting = 0;
    srv_request_resume(r);
}

/* Hand pending payload to storage: 1 all taken, 0 suspended for room. */
static int put_stream_flush(srv_request *r, srv_put_stream *ps)
{
    while (ps->len) {
        ps->waiting = 1;
        size_t took = stor_put_write(ps->put, ps->buf + ps->off, ps->len, put_stream_writable, r);
        ps->off += took;
        ps->len -= took;
        if (ps->len && ps->waiting) {
            srv_request_suspend(r);
            return 0;
        }
    }
    ps->waiting = 0;
    return 1;
}

size_t srv_put_stream_body(srv_request *r, const char *data, size_t n)
{
    srv_put_stream *ps = r->op_state;
    size_t consumed = 0;
    for (;;) {
        if (!put_stream_flush(r, ps))
            return consumed;
        if (consumed == n)
            return n;
        size_t used = 0, made = 0;
        int rc = auth_body_feed(r->body_reader, data + consumed, n - consumed, &used, ps->buf,
                                SRV_PUT_STREAM_BUFFER, &made);
        consumed += used;
        ps->off = 0;
        ps->len = made;
        if (rc) {
            srv_request_fail(r, rc, auth_body_detail(r->body_reader));
            return n;
        }
    }
}

/* The answer to a committed body: 200 with the ETag and, when a checksum
 * was computed, its header (PutObject also names the checksum type). */
static void put_stream_answer(srv_request *r, int rc, int with_type)
{
    if (rc) {
        srv_respond_error(r, rc, NULL);
    } else {
        srv_respond(r, 200, NULL, NULL, 0);
        srv_response_header(r, "ETag",
                            tarn_arena_printf(r->arena, "\"%s\"", auth_body_etag(r->body_reader)));
        if (auth_body_checksum_alg(r->body_reader) != AUTH_CK_NONE) {
            srv_response_header(r, auth_body_checksum_header(r->body_reader),
                                auth_body_checksum_value(r->body_reader));
            if (with_type)
                srv_response_header(r, "x-amz-checksum-type", "FULL_OBJECT");
        }
    }
    srv_request_resume(r);
}

void srv_put_stream_done_object(void *arg, int rc) { put_stream_answer(arg, rc, 1); }
void srv_put_stream_done_part(void *arg, int rc) { put_stream_answer(arg, rc, 0); }
