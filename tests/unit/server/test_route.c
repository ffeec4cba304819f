/* Unit tests for server/route.c and the error table in server/errors.c. */
#include "server/internal.h"

#include <stdio.h>
#include <string.h>
#include "tests/unit/check.h"


static srv_route rt;

static int resolve(const char *method, const char *host, const char *target, const char *domain)
{
    static tarn_arena *a;
    if (a)
        tarn_arena_destroy(a);
    a = tarn_arena_create(0);
    char path[512];
    snprintf(path, sizeof(path), "%s", target);
    char *q = strchr(path, '?');
    if (q)
        *q++ = '\0';
    return srv_route_resolve(a, method, host, path, q ? q : "", domain, 0, &rt);
}

static void expect_op(const char *method, const char *target, srv_op_id op, const char *name)
{
    int rc = resolve(method, "127.0.0.1:9000", target, "");
    if (rc != 0 || rt.op != op || strcmp(rt.op_name, name) != 0) {
        fprintf(stderr, "  %s %s → rc %d op %s (want %s)\n", method, target, rc,
                rc ? "-" : rt.op_name, name);
        failures++;
    }
}

static void test_operations(void)
{
    expect_op("GET", "/", SRV_OP_LIST_BUCKETS, "ListBuckets");
    expect_op("PUT", "/b1", SRV_OP_CREATE_BUCKET, "CreateBucket");
    expect_op("PUT", "/b1/", SRV_OP_CREATE_BUCKET, "CreateBucket");
    expect_op("HEAD", "/b1", SRV_OP_HEAD_BUCKET, "HeadBucket");
    expect_op("DELETE", "/b1", SRV_OP_DELETE_BUCKET, "DeleteBucket");
    expect_op("GET", "/b1?location", SRV_OP_GET_BUCKET_LOCATION, "GetBucketLocation");
    expect_op("GET", "/b1?list-type=2&prefix=a", SRV_OP_LIST_OBJECTS_V2, "ListObjectsV2");
    expect_op("GET", "/b1?prefix=a", SRV_OP_LIST_OBJECTS, "ListObjects");
    expect_op("GET", "/b1?versions", SRV_OP_LIST_OBJECT_VERSIONS, "ListObjectVersions");
    expect_op("GET", "/b1?uploads", SRV_OP_LIST_MULTIPART_UPLOADS, "ListMultipartUploads");
    expect_op("POST", "/b1?delete", SRV_OP_DELETE_OBJECTS, "DeleteObjects");
    expect_op("GET", "/b1?acl", SRV_OP_BUCKET_SUBRESOURCE, "GetBucketAcl");
    expect_op("PUT", "/b1?tagging", SRV_OP_BUCKET_SUBRESOURCE, "PutBucketTagging");
    expect_op("DELETE", "/b1?policy", SRV_OP_BUCKET_SUBRESOURCE, "DeleteBucketPolicy");
    expect_op("GET", "/b1/k", SRV_OP_GET_OBJECT, "GetObject");
    expect_op("PUT", "/b1/k", SRV_OP_PUT_OBJECT, "PutObject");
    expect_op("HEAD", "/b1/k", SRV_OP_HEAD_OBJECT, "HeadObject");
    expect_op("DELETE", "/b1/k", SRV_OP_DELETE_OBJECT, "DeleteObject");
    expect_op("POST", "/b1/k?uploads", SRV_OP_CREATE_MULTIPART_UPLOAD, "CreateMultipartUpload");
    expect_op("PUT", "/b1/k?partNumber=1&uploadId=x", SRV_OP_UPLOAD_PART, "UploadPart");
    expect_op("POST", "/b1/k?uploadId=x", SRV_OP_COMPLETE_MULTIPART_UPLOAD,
              "CompleteMultipartUpload");
    expect_op("DELETE", "/b1/k?uploadId=x", SRV_OP_ABORT_MULTIPART_UPLOAD, "AbortMultipartUpload");
    expect_op("GET", "/b1/k?uploadId=x", SRV_OP_LIST_PARTS, "ListParts");
    expect_op("GET", "/b1/k?tagging", SRV_OP_OBJECT_SUBRESOURCE, "GetObjectTagging");
    expect_op("POST", "/b1/k?restore", SRV_OP_OBJECT_SUBRESOURCE, "RestoreObject");
}

static void test_keys_and_hosts(void)
{
    CHECK(resolve("GET", "h", "/b1/a%20b/c%2Bd//e", "") == 0);
    CHECK(strcmp(rt.bucket, "b1") == 0);
    CHECK(rt.key_len == strlen("a b/c+d//e") && memcmp(rt.key, "a b/c+d//e", rt.key_len) == 0);
    CHECK(!rt.virtual_host);
    /* Virtual-host style with a configured domain, port and case ignored. */
    CHECK(resolve("GET", "photos.S3.Example.test:9000", "/2024/x.jpg", "s3.example.test") == 0);
    CHECK(rt.virtual_host && strcmp(rt.bucket, "photos") == 0);
    CHECK(rt.key_len == 10 && memcmp(rt.key, "2024/x.jpg", 10) == 0);
    CHECK(resolve("PUT", "photos.s3.example.test", "/", "s3.example.test") == 0);
    CHECK(rt.op == SRV_OP_CREATE_BUCKET && rt.key == NULL);
    /* The bare domain is path style; another domain is path style. */
    CHECK(resolve("GET", "s3.example.test", "/b2/k", "s3.example.test") == 0);
    CHECK(!rt.virtual_host && strcmp(rt.bucket, "b2") == 0);
    CHECK(resolve("GET", "x.other.test", "/b3", "s3.example.test") == 0);
    CHECK(!rt.virtual_host && strcmp(rt.bucket, "b3") == 0);
    /* Query values are decoded, '+' as space; names without '=' are empty. */
    CHECK(resolve("GET", "h", "/b1?prefix=a%2Fb+c&delimiter=%2F&fetch-owner", "") == 0);
    CHECK(strcmp(srv_route_query(&rt, "prefix"), "a/b c") == 0);
    CHECK(strcmp(srv_route_query(&rt, "delimiter"), "/") == 0);
    CHECK(strcmp(srv_route_query(&rt, "fetch-owner"), "") == 0);
    CHECK(srv_route_query(&rt, "marker") == NULL);
}

static void test_bad_requests(void)
{
    CHECK(resolve("PATCH", "h", "/b1", "") == TARN_E_METHOD_NOT_ALLOWED);
    CHECK(resolve("BREW", "h", "/", "") == TARN_E_METHOD_NOT_ALLOWED);
    CHECK(resolve("PUT", "h", "/", "") == TARN_E_METHOD_NOT_ALLOWED);
    CHECK(resolve("GET", "h", "/b1/%zz", "") == TARN_E_INVALID_URI);
    CHECK(resolve("GET", "h", "/b1/a%", "") == TARN_E_INVALID_URI);
    CHECK(resolve("GET", "h", "/b1/a%00b", "") == TARN_E_INVALID_URI);
    CHECK(resolve("GET", "h", "b1/k", "") == TARN_E_INVALID_URI);
    CHECK(resolve("GET", "h", "*", "") == TARN_E_INVALID_URI);
    CHECK(resolve("GET", "h", "/b1?prefix=%G0", "") == TARN_E_INVALID_ARGUMENT);
    CHECK(resolve("GET", NULL, "/b1", "example.test") == 0); /* no Host: path style */
}

static void test_error_table(void)
{
    /* Every S3-facing error has a status; internal ones are 500 or 503. */
    for (int e = TARN_E__BASE + 1; e < TARN_E__END; e++) {
        unsigned st = srv_error_status(e);
        CHECK(st >= 300 && st < 600);
        CHECK(srv_error_message(e) != NULL);
    }
    CHECK(srv_error_status(TARN_E_NO_SUCH_BUCKET) == 404);
    CHECK(srv_error_status(TARN_E_SIGNATURE_DOES_NOT_MATCH) == 403);
    CHECK(srv_error_status(TARN_E_BUCKET_NOT_EMPTY) == 409);
    CHECK(srv_error_status(TARN_E_METHOD_NOT_ALLOWED) == 405);
    CHECK(srv_error_status(TARN_E_NOT_IMPLEMENTED) == 501);
    CHECK(srv_error_status(TARN_E_NOMEM) == 500);
    CHECK(srv_error_status(TARN_E_BUSY) == 503);
}

int main(void)
{
    test_operations();
    test_keys_and_hosts();
    test_bad_requests();
    test_error_table();
    if (failures)
        fprintf(stderr, "test_route: %d failure(s)\n", failures);
    return failures ? 1 : 0;
}
