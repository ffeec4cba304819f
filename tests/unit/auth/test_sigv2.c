/*
 * Unit tests for auth/sigv2.c: Signature Version 2, header and query
 * forms (S3 API reference, "Signing and authenticating REST requests (AWS
 * signature version 2)"). AWS's documented examples (the johnsmith
 * requests, each signature checked against the page), a presigned URL
 * from boto3 1.43, then sub-resources, virtual-hosted buckets and every
 * refusal. Requests without a published vector are signed here from a
 * StringToSign spelled out by hand, with HMAC-SHA1 checked first against
 * RFC 2202.
 */
#include "auth/auth.h"
#include "auth/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/unit/check.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T_0327_1936 1175024202 /* Tue, 27 Mar 2007 19:36:42 +0000 */

static auth_creds *creds;

typedef struct treq {
    const char *method, *path, *query, *vhost;
    auth_header h[16];
    size_t n;
    int64_t now;
    char authz[256];
} treq;

static void treq_init(treq *t, const char *method, const char *path, const char *query,
                      const char *vhost, int64_t now)
{
    memset(t, 0, sizeof(*t));
    t->method = method;
    t->path = path;
    t->query = query;
    t->vhost = vhost;
    t->now = now;
}

static void treq_add(treq *t, const char *name, const char *value)
{
    t->h[t->n].name = name;
    t->h[t->n].value = value;
    t->n++;
}

static void treq_authz(treq *t, const char *sig)
{
    snprintf(t->authz, sizeof(t->authz), "AWS " AKID ":%s", sig);
    treq_add(t, "Authorization", t->authz);
}

static int verify_d(const treq *t, auth_result *res, const char **detail)
{
    static tarn_arena *a;
    tarn_arena_destroy(a);
    a = tarn_arena_create(0);
    auth_request r = {.method = t->method, .raw_path = t->path, .raw_query = t->query,
                      .headers = t->h, .n_headers = t->n, .now = t->now,
                      .vhost_bucket = t->vhost};
    return auth_request_verify(a, creds, &r, res, detail);
}

static int verify(const treq *t)
{
    auth_result res;
    return verify_d(t, &res, NULL);
}

/* base64(HMAC-SHA1(SECRET, sts)) into out[29]. */
static void sign(const char *sts, char out[29])
{
    unsigned char mac[20];
    CHECK(auth__hmac_sha1(SECRET, strlen(SECRET), sts, strlen(sts), mac) == 0);
    auth__b64_encode(mac, 20, out);
}

/* ---- primitives -------------------------------------------------------- */

/* RFC 2202 §3, test cases 1, 2 and 6 (a key longer than the block). */
static void test_hmac_sha1(void)
{
    unsigned char key[80], mac[20];
    char hex[41];
    memset(key, 0x0b, 20);
    CHECK(auth__hmac_sha1(key, 20, "Hi There", 8, mac) == 0);
    tarn_hex(mac, 20, hex);
    CHECK(strcmp(hex, "b617318655057264e28bc0b6fb378c8ef146be00") == 0);
    CHECK(auth__hmac_sha1("Jefe", 4, "what do ya want for nothing?", 28, mac) == 0);
    tarn_hex(mac, 20, hex);
    CHECK(strcmp(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79") == 0);
    memset(key, 0xaa, 80);
    const char *m = "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK(auth__hmac_sha1(key, 80, m, strlen(m), mac) == 0);
    tarn_hex(mac, 20, hex);
    CHECK(strcmp(hex, "aa4ae5e15272d00e95705637ce8a3b55ed402112") == 0);
}

static void test_dates(void)
{
    int64_t t;
    CHECK(auth__time_parse_http("Tue, 27 Mar 2007 19:36:42 +0000", &t) == 0 &&
          t == T_0327_1936);
    CHECK(auth__time_parse_http("Tue, 27 Mar 2007 19:36:42 GMT", &t) == 0 && t == T_0327_1936);
    CHECK(auth__time_parse_http("20070327T193642Z", &t) == 0 && t == T_0327_1936);
    CHECK(auth__time_parse_http("Tue, 27 Mar 2007 19:36:42 +0100", &t) == -1);
    CHECK(auth__time_parse_http("+0000", &t) == -1);
    CHECK(auth__time_parse_http("", &t) == -1);
}

/* ---- AWS's examples ("Authentication examples") ------------------------ */

static void test_aws_examples(void)
{
    treq t;
    auth_result res;
    const char *d = NULL;
    /* Object GET, virtual-hosted: the bucket comes from the Host. */
    treq_init(&t, "GET", "/photos/puppy.jpg", NULL, "johnsmith", T_0327_1936);
    treq_add(&t, "Host", "johnsmith.s3.amazonaws.com");
    treq_add(&t, "Date", "Tue, 27 Mar 2007 19:36:42 +0000");
    treq_authz(&t, "bWq2s1WEIj+Ydj0vQ697zp+IXMU=");
    CHECK_RC(verify_d(&t, &res, &d), 0);
    CHECK(!res.anonymous && res.access_key && strcmp(res.access_key, AKID) == 0);
    CHECK(res.region == NULL && res.payload_mode == AUTH_PAYLOAD_UNSIGNED);
    /* Without the bucket the resource is another one. */
    t.vhost = NULL;
    CHECK_RC(verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    /* The same request path-style. */
    t.path = "/johnsmith/photos/puppy.jpg";
    CHECK_RC(verify(&t), 0);

    /* Object PUT: Content-Type is in the string to sign. */
    treq_init(&t, "PUT", "/photos/puppy.jpg", NULL, "johnsmith", 1175030145);
    treq_add(&t, "Content-Type", "image/jpeg");
    treq_add(&t, "Content-Length", "94328");
    treq_add(&t, "Host", "johnsmith.s3.amazonaws.com");
    treq_add(&t, "Date", "Tue, 27 Mar 2007 21:15:45 +0000");
    treq_authz(&t, "MyyxeRY7whkBe+bq8fHCL/2kKUg=");
    CHECK_RC(verify(&t), 0);
    t.h[0].value = "image/png";
    CHECK_RC(verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);

    /* List: prefix, max-keys and marker are not sub-resources. */
    treq_init(&t, "GET", "/", "prefix=photos&max-keys=50&marker=puppy", "johnsmith",
              1175024561);
    treq_add(&t, "User-Agent", "Mozilla/5.0");
    treq_add(&t, "Host", "johnsmith.s3.amazonaws.com");
    treq_add(&t, "Date", "Tue, 27 Mar 2007 19:42:41 +0000");
    treq_authz(&t, "htDYFYduRNen8P9ZfE/s9SuKy0U=");
    CHECK_RC(verify(&t), 0);

    /* Fetch: ?acl is. */
    treq_init(&t, "GET", "/", "acl", "johnsmith", 1175024686);
    treq_add(&t, "Host", "johnsmith.s3.amazonaws.com");
    treq_add(&t, "Date", "Tue, 27 Mar 2007 19:44:46 +0000");
    treq_authz(&t, "c2WLPFtWHVgbEmeEG93a4cG37dM=");
    CHECK_RC(verify(&t), 0);

    /* List all my buckets; and a key with UTF-8, percent-encoded in lower
     * case hex: the resource is the path exactly as sent. */
    treq_init(&t, "GET", "/", NULL, NULL, 1175045399);
    treq_add(&t, "Host", "s3.amazonaws.com");
    treq_add(&t, "Date", "Wed, 28 Mar 2007 01:29:59 +0000");
    treq_authz(&t, "qGdzdERIC03wnaRNKh6OqZehG9s=");
    CHECK_RC(verify(&t), 0);
    treq_init(&t, "GET", "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re", NULL, NULL, 1175046589);
    treq_add(&t, "Host", "s3.amazonaws.com");
    treq_add(&t, "Date", "Wed, 28 Mar 2007 01:49:49 +0000");
    treq_authz(&t, "DNEZGsoieTZ92F3bUfSPQcbGmlM=");
    CHECK_RC(verify(&t), 0);
}

/* Upload: Content-MD5, a CNAME bucket, and x-amz-* headers that are
 * lower-cased, sorted and joined (X-Amz-Meta-ReviewedBy twice). */
static void test_aws_upload(void)
{
    treq t;
    treq_init(&t, "PUT", "/db-backup.dat.gz", NULL, "static.johnsmith.net", 1175029568);
    treq_add(&t, "User-Agent", "curl/7.15.5");
    treq_add(&t, "Host", "static.johnsmith.net:8080");
    treq_add(&t, "Date", "Tue, 27 Mar 2007 21:06:08 +0000");
    treq_add(&t, "x-amz-acl", "public-read");
    treq_add(&t, "content-type", "application/x-download");
    treq_add(&t, "Content-MD5", "4gJE4saaMU4BqNR0kLY+lw==");
    treq_add(&t, "X-Amz-Meta-ReviewedBy", "joe@johnsmith.net");
    treq_add(&t, "X-Amz-Meta-ReviewedBy", "jane@johnsmith.net");
    treq_add(&t, "X-Amz-Meta-FileChecksum", "0x02661779");
    treq_add(&t, "X-Amz-Meta-ChecksumAlgorithm", "crc32");
    treq_add(&t, "Content-Disposition", "attachment; filename=database.dat");
    treq_add(&t, "Content-Encoding", "gzip");
    treq_add(&t, "Content-Length", "5913339");
    treq_authz(&t, "ilyl83RwaSoYIEdixDQcA4OnAnc=");
    CHECK_RC(verify(&t), 0);
    /* The two reviewers in the other order sign something else. */
    t.h[6].value = "jane@johnsmith.net";
    t.h[7].value = "joe@johnsmith.net";
    CHECK_RC(verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    t.h[6].value = "  joe@johnsmith.net ";
    t.h[7].value = "jane@johnsmith.net";
    CHECK_RC(verify(&t), 0); /* values are trimmed */
    t.h[5].value = "4gJE4saaMU4BqNR0kLY+lx==";
    CHECK_RC(verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
}

/* Object DELETE with x-amz-date: AWS's page signs the x-amz-date value in
 * the Date position; the rule text (empty Date line, x-amz-date among the
 * amz headers) gives another signature. Both are accepted, and so is the
 * Date header's value in the Date position. */
static void test_amz_date(void)
{
    treq t;
    treq_init(&t, "DELETE", "/johnsmith/photos/puppy.jpg", NULL, NULL, 1175030426);
    treq_add(&t, "User-Agent", "dotnet");
    treq_add(&t, "Host", "s3.amazonaws.com");
    treq_add(&t, "Date", "Tue, 27 Mar 2007 21:20:27 +0000");
    treq_add(&t, "x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000");
    treq_authz(&t, "lx3byBScXR6KzyMaifNkardMwNk=");
    CHECK_RC(verify(&t), 0);
    t.n--;
    treq_authz(&t, "R4dJ53KECjStyBO5iTBJZ4XVOaI=");
    CHECK_RC(verify(&t), 0);
    char sig[29];
    sign("DELETE\n\n\nTue, 27 Mar 2007 21:20:27 +0000\nx-amz-date:Tue, 27 Mar 2007 21:20:26 "
         "+0000\n/johnsmith/photos/puppy.jpg", sig);
    t.n--;
    treq_authz(&t, sig);
    CHECK_RC(verify(&t), 0);
    /* x-amz-date is the time that counts: Date may be far off. */
    t.h[2].value = "Mon, 01 Jan 2001 00:00:00 GMT";
    t.n--;
    treq_authz(&t, "R4dJ53KECjStyBO5iTBJZ4XVOaI=");
    CHECK_RC(verify(&t), 0);
    t.now += 16 * 60;
    CHECK_RC(verify(&t), TARN_E_REQUEST_TIME_TOO_SKEWED);
}

/* ---- the query form ---------------------------------------------------- */

static void test_query_form(void)
{
    treq t;
    const char *d = NULL;
    auth_result res;
    /* "Query string request authentication alternative", example. */
    const char *q = "AWSAccessKeyId=" AKID "&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"
                    "&Expires=1175139620";
    treq_init(&t, "GET", "/photos/puppy.jpg", q, "johnsmith", 1175139620);
    treq_add(&t, "Host", "johnsmith.s3.amazonaws.com");
    CHECK_RC(verify_d(&t, &res, &d), 0);
    CHECK(res.access_key && strcmp(res.access_key, AKID) == 0);
    t.now++;
    d = NULL;
    CHECK_RC(verify_d(&t, &res, &d), TARN_E_ACCESS_DENIED);
    CHECK(d && strcmp(d, "Request has expired") == 0);
    /* A '+' the client left unencoded still reads as '+'. */
    t.now = 1175000000;
    t.query = "AWSAccessKeyId=" AKID "&Signature=NpgCjnDzrM+WFzoENXmpNDUsSn8=&Expires=1175139620";
    CHECK_RC(verify(&t), 0);
    /* Expires is signed. */
    t.query = "AWSAccessKeyId=" AKID "&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"
              "&Expires=1175139621";
    CHECK_RC(verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);

    /* boto3 1.43 generate_presigned_url('get_object', Bucket 'bkt', Key
     * 'dir/a b+ç.txt', ResponseContentDisposition 'attachment;
     * filename="x y.txt"', VersionId 'v1', ExpiresIn 3600) against
     * http://127.0.0.1:9000 at 1369353600: sub-resources signed decoded. */
    treq_init(&t, "GET", "/bkt/dir/a%20b%2B%C3%A7.txt",
              "response-content-disposition=attachment%3B%20filename%3D%22x%20y.txt%22"
              "&versionId=v1&AWSAccessKeyId=" AKID
              "&Signature=aquLEpA9bhXEZ8Flp%2F3Pb3h0iwQ%3D&Expires=1369357200",
              NULL, 1369353600);
    treq_add(&t, "Host", "127.0.0.1:9000");
    CHECK_RC(verify(&t), 0);
    t.query = "response-content-disposition=attachment%3B%20filename%3D%22x%20z.txt%22"
              "&versionId=v1&AWSAccessKeyId=" AKID
              "&Signature=aquLEpA9bhXEZ8Flp%2F3Pb3h0iwQ%3D&Expires=1369357200";
    CHECK_RC(verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
}

static void test_query_errors(void)
{
    static const char need[] = "Query-string authentication requires the Signature, Expires "
                               "and AWSAccessKeyId parameters";
    static const char *const missing[] = {
        "AWSAccessKeyId=" AKID "&Expires=1175139620",
        "Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620",
        "AWSAccessKeyId=" AKID "&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D",
        "AWSAccessKeyId=" AKID "&AWSAccessKeyId=" AKID
        "&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620",
    };
    treq t;
    const char *d;
    auth_result res;
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        treq_init(&t, "GET", "/photos/puppy.jpg", missing[i], "johnsmith", 1175000000);
        d = NULL;
        CHECK_RC(verify_d(&t, &res, &d), TARN_E_ACCESS_DENIED);
        CHECK(d && strcmp(d, need) == 0);
    }
    treq_init(&t, "GET", "/photos/puppy.jpg",
              "AWSAccessKeyId=" AKID "&Signature=x&Expires=tomorrow", "johnsmith", 1175000000);
    d = NULL;
    CHECK_RC(verify_d(&t, &res, &d), TARN_E_ACCESS_DENIED);
    CHECK(d && strcmp(d, "Invalid date (should be seconds since epoch): tomorrow") == 0);
    t.query = "AWSAccessKeyId=NOSUCHKEY&Signature=x&Expires=1175139620";
    CHECK_RC(verify(&t), TARN_E_INVALID_ACCESS_KEY_ID);
    t.query = "AWSAccessKeyId=" AKID "&Signature=not-base64&Expires=1175139620";
    CHECK_RC(verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    t.query = "AWSAccessKeyId=" AKID "&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"
              "&Expires=1175139620&x-amz-security-token=abc";
    CHECK_RC(verify(&t), TARN_E_INVALID_ACCESS_KEY_ID);
    t.query = "AWSAccessKeyId=" AKID "&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"
              "&Expires=1175139620&versionId=%zz";
    CHECK_RC(verify(&t), TARN_E_INVALID_ARGUMENT);
}

/* ---- CanonicalizedResource sub-resources -------------------------------- */

static void test_subresources(void)
{
    treq t;
    char sig[29];
    /* Sorted by name, values decoded, parameters that are not
     * sub-resources left out, a name without '=' kept bare. */
    treq_init(&t, "GET", "/b/k",
              "versionId=3%2F4&prefix=x&uploads&response-content-type=text%2Fplain&acl=",
              NULL, T_0327_1936);
    treq_add(&t, "Date", "Tue, 27 Mar 2007 19:36:42 GMT");
    sign("GET\n\n\nTue, 27 Mar 2007 19:36:42 GMT\n"
         "/b/k?acl=&response-content-type=text/plain&uploads&versionId=3/4", sig);
    treq_authz(&t, sig);
    CHECK_RC(verify(&t), 0);

    /* Sub-resources only botocore lists (select, tagging...) are signed by
     * it; a client that signs AWS's documented list only is accepted too. */
    treq_init(&t, "POST", "/b/k", "select&select-type=2&partNumber=1", NULL, T_0327_1936);
    treq_add(&t, "Date", "Tue, 27 Mar 2007 19:36:42 GMT");
    treq_add(&t, "Content-Type", "application/xml");
    sign("POST\n\napplication/xml\nTue, 27 Mar 2007 19:36:42 GMT\n"
         "/b/k?partNumber=1&select&select-type=2", sig);
    treq_authz(&t, sig);
    CHECK_RC(verify(&t), 0);
    t.n--;
    sign("POST\n\napplication/xml\nTue, 27 Mar 2007 19:36:42 GMT\n/b/k?partNumber=1", sig);
    treq_authz(&t, sig);
    CHECK_RC(verify(&t), 0);
    /* ... but never with a sub-resource of the documented list dropped. */
    t.n--;
    sign("POST\n\napplication/xml\nTue, 27 Mar 2007 19:36:42 GMT\n/b/k", sig);
    treq_authz(&t, sig);
    CHECK_RC(verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);

    /* Virtual-hosted bucket with a sub-resource on the bucket itself. */
    treq_init(&t, "PUT", "/", "versioning", "mybucket", T_0327_1936);
    treq_add(&t, "Date", "Tue, 27 Mar 2007 19:36:42 GMT");
    sign("PUT\n\n\nTue, 27 Mar 2007 19:36:42 GMT\n/mybucket/?versioning", sig);
    treq_authz(&t, sig);
    CHECK_RC(verify(&t), 0);
    t.vhost = "";
    CHECK_RC(verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
}

/* ---- the header form's refusals ---------------------------------------- */

static void test_header_errors(void)
{
    treq t;
    const char *d = NULL;
    auth_result res;
    static const char *const bad[] = {"AWS " AKID, "AWS :bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
                                      "AWS " AKID ":", "AWS "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        treq_init(&t, "GET", "/photos/puppy.jpg", NULL, "johnsmith", T_0327_1936);
        treq_add(&t, "Date", "Tue, 27 Mar 2007 19:36:42 +0000");
        treq_add(&t, "Authorization", bad[i]);
        CHECK_RC(verify(&t), TARN_E_INVALID_ARGUMENT);
    }
    treq_init(&t, "GET", "/photos/puppy.jpg", NULL, "johnsmith", T_0327_1936);
    treq_add(&t, "Date", "Tue, 27 Mar 2007 19:36:42 +0000");
    treq_add(&t, "Authorization", "AWS NOSUCHKEY:bWq2s1WEIj+Ydj0vQ697zp+IXMU=");
    CHECK_RC(verify(&t), TARN_E_INVALID_ACCESS_KEY_ID);
    /* Time: missing, unreadable, and too far either way. */
    treq_init(&t, "GET", "/photos/puppy.jpg", NULL, "johnsmith", T_0327_1936);
    treq_authz(&t, "bWq2s1WEIj+Ydj0vQ697zp+IXMU=");
    CHECK_RC(verify_d(&t, &res, &d), TARN_E_ACCESS_DENIED);
    CHECK(d && strstr(d, "valid Date or x-amz-date"));
    treq_add(&t, "Date", "yesterday");
    CHECK_RC(verify(&t), TARN_E_ACCESS_DENIED);
    t.h[1].value = "Tue, 27 Mar 2007 19:36:42 +0000";
    CHECK_RC(verify(&t), 0);
    t.now = T_0327_1936 + 15 * 60;
    CHECK_RC(verify(&t), 0);
    t.now = T_0327_1936 + 15 * 60 + 1;
    CHECK_RC(verify(&t), TARN_E_REQUEST_TIME_TOO_SKEWED);
    t.now = T_0327_1936 - 15 * 60 - 1;
    CHECK_RC(verify(&t), TARN_E_REQUEST_TIME_TOO_SKEWED);
    /* Signature: malformed, wrong, or for another method. */
    t.now = T_0327_1936;
    t.h[0].value = "AWS " AKID ":bWq2s1WEIj+Ydj0vQ697zp+IXMU";
    CHECK_RC(verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    t.h[0].value = "AWS " AKID ":bWq2s1WEIj+Ydj0vQ697zp+IXMV=";
    CHECK_RC(verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    t.h[0].value = "AWS " AKID ":bWq2s1WEIj+Ydj0vQ697zp+IXMU=";
    t.method = "HEAD";
    CHECK_RC(verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    /* A header plus query auth: one mechanism only. */
    t.method = "GET";
    t.query = "AWSAccessKeyId=" AKID "&Signature=x&Expires=1";
    CHECK_RC(verify(&t), TARN_E_INVALID_ARGUMENT);
}

/* A payload hash sent beside SigV2 (it is an x-amz header, so signed) is
 * still honoured for the body. */
static void test_payload_hash(void)
{
    static const char empty[] =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    treq t;
    char sig[29];
    auth_result res;
    treq_init(&t, "PUT", "/b/k", NULL, NULL, T_0327_1936);
    treq_add(&t, "Date", "Tue, 27 Mar 2007 19:36:42 GMT");
    treq_add(&t, "x-amz-content-sha256", empty);
    sign("PUT\n\n\nTue, 27 Mar 2007 19:36:42 GMT\nx-amz-content-sha256:e3b0c44298fc1c149afbf4c8"
         "996fb92427ae41e4649b934ca495991b7852b855\n/b/k", sig);
    treq_authz(&t, sig);
    CHECK_RC(verify_d(&t, &res, NULL), 0);
    CHECK(res.payload_mode == AUTH_PAYLOAD_SHA256 && res.payload_sha256[31] == 0x55);
}

int main(void)
{
    if (auth_creds_create(&creds) || auth_creds_add(creds, AKID, SECRET))
        return 1;
    test_hmac_sha1();
    test_dates();
    test_aws_examples();
    test_aws_upload();
    test_amz_date();
    test_query_form();
    test_query_errors();
    test_subresources();
    test_header_errors();
    test_payload_hash();
    auth_creds_destroy(creds);
    TEST_EXIT("test_sigv2");
}
