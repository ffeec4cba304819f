/*
 * op_delete_objects.c — DeleteObjects (S3 API reference, "DeleteObjects";
 * POST /bucket?delete). The body lists up to 1000 keys; each is deleted
 * with stor_object_delete, all queued at once so the commit thread takes
 * them in one or a few group commits, and the answer goes out when the
 * last one came back. A key that did not exist counts as deleted, as in
 * S3; a key S3 would refuse gets its own Error entry and the others go on.
 */
#include "server/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KEYS 1000          /* S3: "a list of up to 1000 keys" */
#define MAX_KEY_BYTES 1024
/* 1000 keys of 1024 bytes, each possibly written as 6-byte entities,
 * plus the elements around them. */
#define MAX_DELETE_BODY (8u << 20)

typedef struct del_state {
    srv_delete_key *keys;
    int *result;               /* per key: 0 deleted, else the error */
    size_t n, pending;
    int quiet;
} del_state;

typedef struct del_one {
    srv_request *r;
    size_t index;
} del_one;

/* S3 requires Content-MD5 or an x-amz-checksum-* (header or trailer) on
 * this body ("The Content-MD5 or x-amz-sdk-checksum-algorithm header is
 * required for Multi-Object Delete requests"); auth_body has verified
 * whichever came. */
static int integrity_header_present(srv_request *r)
{
    if (srv_request_header(r, "Content-MD5") || srv_request_header(r, "x-amz-trailer"))
        return 1;
    for (size_t i = 0; i < r->n_headers; i++)
        if (strncasecmp(r->headers[i].name, "x-amz-checksum-", 15) == 0 &&
            auth_checksum_alg_parse(r->headers[i].name + 15) != AUTH_CK_NONE)
            return 1;
    return 0;
}

static void error_entry(srv_xml *x, const srv_delete_key *k, int err)
{
    srv_xml_open(x, "Error");
    srv_xml_elem(x, "Key", k->key);
    if (k->version_id)
        srv_xml_elem(x, "VersionId", k->version_id);
    srv_xml_elem(x, "Code", tarn_err_code(err));
    srv_xml_elem(x, "Message", err == TARN_E_INVALID_ARGUMENT ? "Invalid version id specified"
                                                              : srv_error_message(err));
    srv_xml_close(x);
}

/* DeleteResult: Deleted for each success (not in Quiet mode), Error for
 * each failure, in request order. */
static void del_respond(srv_request *r, del_state *ds)
{
    srv_xml *x = srv_xml_begin("DeleteResult", 1);
    for (size_t i = 0; i < ds->n; i++) {
        const srv_delete_key *k = &ds->keys[i];
        if (ds->result[i]) {
            error_entry(x, k, ds->result[i]);
        } else if (!ds->quiet) {
            srv_xml_open(x, "Deleted");
            srv_xml_elem(x, "Key", k->key);
            if (k->version_id)
                srv_xml_elem(x, "VersionId", k->version_id);
            srv_xml_close(x);
        }
    }
    srv_respond_xml(r, 200, x);
}

static void del_one_done(void *arg, int rc)
{
    del_one *one = arg;
    srv_request *r = one->r;
    del_state *ds = r->op_state;
    ds->result[one->index] = rc;
    if (--ds->pending == 0) {
        del_respond(r, ds);
        srv_request_resume(r);
    }
}

/* Refuse what S3 refuses per key, before asking storage. */
static int key_error(const srv_delete_key *k)
{
    if (k->key_len > MAX_KEY_BYTES)
        return TARN_E_KEY_TOO_LONG;
    if (k->key_len == 0)
        return TARN_E_INVALID_ARGUMENT;
    /* Unversioned buckets: "null" is the one version there is. */
    if (k->version_id && strcmp(k->version_id, "null") != 0)
        return TARN_E_INVALID_ARGUMENT;
    return 0;
}

/* Queue every delete. Returns how many were queued. */
static size_t del_queue(srv_request *r, del_state *ds)
{
    const srv_shared *sh = srv_request_shared(r);
    size_t queued = 0;
    ds->pending = ds->n + 1; /* +1: no answer before every key was tried */
    for (size_t i = 0; i < ds->n; i++) {
        del_one *one = tarn_arena_alloc(r->arena, sizeof(*one));
        int rc = key_error(&ds->keys[i]);
        if (!rc && !one)
            rc = TARN_E_NOMEM;
        if (!rc) {
            *one = (del_one){r, i};
            rc = stor_object_delete(sh->store, srv_request_waker(r), r->route.bucket,
                                    ds->keys[i].key, ds->keys[i].key_len, del_one_done, one);
        }
        ds->result[i] = rc;
        if (rc)
            ds->pending--;
        else
            queued++;
    }
    ds->pending--;
    return queued;
}

static int del_parse(srv_request *r, del_state *ds)
{
    int rc = srv_xml_parse_delete(r->arena, r->body.data, r->body.len, MAX_KEYS, &ds->keys,
                                  &ds->n, &ds->quiet);
    if (!rc && !(ds->result = tarn_arena_calloc(r->arena, ds->n * sizeof(int))))
        rc = TARN_E_NOMEM;
    return rc;
}

static void delete_objects_run(srv_request *r)
{
    stor_bucket b;
    if (!stor_bucket_name_valid(r->route.bucket)) {
        srv_respond_error(r, TARN_E_NO_SUCH_BUCKET, NULL);
        return;
    }
    if (!integrity_header_present(r)) {
        srv_respond_error(r, TARN_E_INVALID_REQUEST,
                          "Missing required header for this request: Content-MD5");
        return;
    }
    del_state *ds = tarn_arena_calloc(r->arena, sizeof(*ds));
    int rc = ds ? stor_bucket_get(srv_request_shared(r)->store, r->route.bucket, &b)
                : TARN_E_NOMEM;
    if (!rc)
        rc = del_parse(r, ds);
    if (rc) {
        srv_respond_error(r, rc, NULL);
        return;
    }
    r->op_state = ds;
    if (del_queue(r, ds) == 0)
        del_respond(r, ds); /* nothing queued: every key was refused */
    else
        srv_request_suspend(r);
}

const srv_op srv_op_delete_objects = {.max_body = MAX_DELETE_BODY, .run = delete_objects_run};
