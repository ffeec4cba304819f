/*
 * op_bucket.c — the bucket operations: ListBuckets, CreateBucket,
 * HeadBucket, DeleteBucket, GetBucketLocation (S3 API reference, one
 * section each). Writes go through storage's commit thread; the request
 * is suspended until the durable result comes back on this worker.
 */
#include "server/internal.h"

#include <stdlib.h>
#include <string.h>

/* Bucket-level requests name a valid bucket or get InvalidBucketName. */
static int bucket_checked(srv_request *r)
{
    if (!stor_bucket_name_valid(r->route.bucket)) {
        srv_respond_error(r, TARN_E_INVALID_BUCKET_NAME, NULL);
        return 0;
    }
    return 1;
}

/* ---- ListBuckets ------------------------------------------------------------ */

static void list_buckets_run(srv_request *r)
{
    stor_bucket *buckets = NULL;
    size_t n = 0;
    int rc = stor_bucket_list(srv_request_shared(r)->store, &buckets, &n);
    if (rc) {
        srv_respond_error(r, rc, NULL);
        return;
    }
    srv_xml *x = srv_xml_begin("ListAllMyBucketsResult", 1);
    srv_xml_open(x, "Owner");
    srv_xml_elem(x, "ID", r->auth.access_key);
    srv_xml_elem(x, "DisplayName", r->auth.access_key);
    srv_xml_close(x);
    srv_xml_open(x, "Buckets");
    for (size_t i = 0; i < n; i++) {
        char when[32];
        srv_xml_time(buckets[i].created, when);
        srv_xml_open(x, "Bucket");
        srv_xml_elem(x, "Name", buckets[i].name);
        srv_xml_elem(x, "CreationDate", when);
        srv_xml_close(x);
    }
    srv_xml_close(x);
    free(buckets);
    srv_respond_xml(r, 200, x);
}

/* ---- CreateBucket --------------------------------------------------------------- */

static void create_bucket_done(void *arg, int rc)
{
    srv_request *r = arg;
    if (rc) {
        srv_respond_error(r, rc, NULL);
    } else {
        srv_respond(r, 200, NULL, NULL, 0);
        srv_response_header(r, "Location", tarn_arena_printf(r->arena, "/%s", r->route.bucket));
    }
    srv_request_resume(r);
}

/* A region name as AWS spells them: lower-case letters, digits, '-'. */
static int location_valid(const char *loc)
{
    size_t n = strlen(loc);
    if (n > 31)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((loc[i] >= 'a' && loc[i] <= 'z') || (loc[i] >= '0' && loc[i] <= '9') ||
              loc[i] == '-'))
            return 0;
    return 1;
}

static void create_bucket_run(srv_request *r)
{
    if (!bucket_checked(r))
        return;
    const char *location = "";
    if (r->body.len) {
        int rc = srv_xml_parse_create_bucket(r->arena, r->body.data, r->body.len, &location);
        if (rc) {
            srv_respond_error(r, rc, NULL);
            return;
        }
        if (!location_valid(location)) {
            srv_respond_error(r, TARN_E_INVALID_LOCATION_CONSTRAINT, NULL);
            return;
        }
    }
    stor_bucket b;
    memset(&b, 0, sizeof(b));
    snprintf(b.name, sizeof(b.name), "%s", r->route.bucket);
    snprintf(b.owner, sizeof(b.owner), "%s", r->auth.access_key);
    snprintf(b.location, sizeof(b.location), "%s", location);
    b.created = tarn_now_unix();
    int rc = stor_bucket_create(srv_request_shared(r)->store, srv_request_waker(r), &b,
                                create_bucket_done, r);
    if (rc)
        srv_respond_error(r, rc, NULL);
    else
        srv_request_suspend(r);
}

/* ---- HeadBucket / GetBucketLocation ---------------------------------------------- */

/* The region a bucket lives in: its LocationConstraint, else ours. */
static const char *bucket_region(srv_request *r, const stor_bucket *b)
{
    return b->location[0] ? tarn_arena_strdup(r->arena, b->location)
                          : srv_request_shared(r)->cfg->region;
}

static int bucket_load(srv_request *r, stor_bucket *b)
{
    if (!bucket_checked(r))
        return -1;
    int rc = stor_bucket_get(srv_request_shared(r)->store, r->route.bucket, b);
    if (rc) {
        srv_respond_error(r, rc, NULL);
        return -1;
    }
    return 0;
}

static void head_bucket_run(srv_request *r)
{
    stor_bucket b;
    if (bucket_load(r, &b))
        return;
    srv_respond(r, 200, NULL, NULL, 0);
    srv_response_header(r, "x-amz-bucket-region", bucket_region(r, &b));
    srv_response_header(r, "x-amz-access-point-alias", "false");
}

static void get_bucket_location_run(srv_request *r)
{
    stor_bucket b;
    if (bucket_load(r, &b))
        return;
    /* S3 answers an empty LocationConstraint for us-east-1. */
    const char *region = bucket_region(r, &b);
    srv_xml *x = srv_xml_begin("LocationConstraint", 1);
    if (strcmp(region, "us-east-1") != 0)
        srv_xml_text(x, region);
    srv_respond_xml(r, 200, x);
}

/* ---- DeleteBucket --------------------------------------------------------------- */

static void delete_bucket_run(srv_request *r)
{
    if (!bucket_checked(r))
        return;
    int rc = stor_bucket_delete(srv_request_shared(r)->store, srv_request_waker(r),
                                r->route.bucket, srv_request_done_204, r);
    if (rc)
        srv_respond_error(r, rc, NULL);
    else
        srv_request_suspend(r);
}

/* ---- Handlers, for ops.c's table ---------------------------------------------- */

const srv_op srv_op_list_buckets = {.run = list_buckets_run};
const srv_op srv_op_create_bucket = {.max_body = 64 * 1024, .run = create_bucket_run};
const srv_op srv_op_head_bucket = {.run = head_bucket_run};
const srv_op srv_op_get_bucket_location = {.run = get_bucket_location_run};
const srv_op srv_op_delete_bucket = {.run = delete_bucket_run};
