/*
 * Unit tests for auth/post_policy.c: browser POST uploads (S3 API
 * reference, "Browser-Based Uploads Using POST (AWS Signature Version
 * 4)", its "Example: Browser-Based Upload using HTTP POST", and the
 * Signature Version 2 variant). AWS's example form and botocore 1.43's
 * generate_presigned_post first, then policies signed here that exercise
 * each condition kind and each refusal.
 */
#include "auth/auth.h"
#include "auth/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/unit/check.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T20151229 1451347200 /* 2015-12-29T00:00:00Z */
#define T20130524 1369353600 /* 2013-05-24T00:00:00Z */

static auth_creds *creds;

typedef struct tform {
    auth_form_field f[24];
    size_t n;
    char policy[8192];
    char sig[80];
} tform;

static void add(tform *t, const char *name, const char *value)
{
    t->f[t->n].name = name;
    t->f[t->n].value = value;
    t->n++;
}

/* Point field name at a new value (first match, exact case). */
static void set(tform *t, const char *name, const char *value)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->f[i].name, name) == 0) {
            t->f[i].value = value;
            return;
        }
    add(t, name, value);
}

static void del(tform *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->f[i].name, name) == 0) {
            memmove(&t->f[i], &t->f[i + 1], (t->n - i - 1) * sizeof(t->f[0]));
            t->n--;
            return;
        }
}

static int run(const tform *t, const char *bucket, int64_t now, uint64_t len,
               auth_post_result *res, const char **detail)
{
    static tarn_arena *a;
    tarn_arena_destroy(a);
    a = tarn_arena_create(0);
    return auth_post_policy_verify(a, creds, bucket, t->f, t->n, now, len, res, detail);
}

/* Expect rc, and a detail starting with prefix (when given). */
static void expect(const tform *t, const char *bucket, int64_t now, uint64_t len, int rc,
                   const char *prefix)
{
    auth_post_result res;
    const char *d = NULL;
    CHECK_RC(run(t, bucket, now, len, &res, &d), rc);
    if (prefix && (!d || strncmp(d, prefix, strlen(prefix)) != 0)) {
        fprintf(stderr, "  want detail \"%s...\", got \"%s\"\n", prefix, d ? d : "(null)");
        failures++;
    }
}

/* ---- AWS's example ----------------------------------------------------- */

static const char aws_policy[] =
    "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgI"
    "CB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidX"
    "Nlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmV"
    "kaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBs"
    "b2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAge"
    "yJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3"
    "J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQo"
    "NCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0x"
    "L3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNC"
    "iAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";

/* The example's form, as a browser sends it (the key after ${filename}
 * was replaced by the chosen file's name). */
static void aws_form(tform *t)
{
    memset(t, 0, sizeof(*t));
    add(t, "key", "user/user1/photo.jpg");
    add(t, "acl", "public-read");
    add(t, "success_action_redirect",
        "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html");
    add(t, "Content-Type", "image/jpeg");
    add(t, "x-amz-meta-uuid", "14365123651274");
    add(t, "x-amz-server-side-encryption", "AES256");
    add(t, "X-Amz-Credential", AKID "/20151229/us-east-1/s3/aws4_request");
    add(t, "X-Amz-Algorithm", "AWS4-HMAC-SHA256");
    add(t, "X-Amz-Date", "20151229T000000Z");
    add(t, "x-amz-meta-tag", "");
    add(t, "Policy", aws_policy);
    add(t, "X-Amz-Signature", "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e");
    add(t, "file", "");
}

static void test_aws_example(void)
{
    tform t;
    auth_post_result res;
    const char *d = NULL;
    aws_form(&t);
    CHECK_RC(run(&t, "sigv4examplebucket", T20151229, AUTH_POST_LENGTH_UNKNOWN, &res, &d), 0);
    CHECK(!res.anonymous && !res.sigv2 && res.access_key && strcmp(res.access_key, AKID) == 0);
    CHECK(res.region && strcmp(res.region, "us-east-1") == 0);
    CHECK(res.expiration == 1451476800 && !res.has_length_range);
    CHECK_RC(auth_post_length_check(&res, 1u << 30, NULL), 0);
    /* Without the file field too. */
    del(&t, "file");
    expect(&t, "sigv4examplebucket", T20151229, 12345, 0, NULL);
    /* The last second of the policy, then one past it. */
    expect(&t, "sigv4examplebucket", 1451476800, 0, 0, NULL);
    expect(&t, "sigv4examplebucket", 1451476801, 0, TARN_E_ACCESS_DENIED,
           "Invalid according to Policy: Policy expired.");
    /* Each condition of the example, broken in turn. */
    expect(&t, "otherbucket", T20151229, 0, TARN_E_ACCESS_DENIED,
           "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$bucket\", "
           "\"sigv4examplebucket\"]");
    aws_form(&t);
    set(&t, "key", "user/user2/photo.jpg");
    expect(&t, "sigv4examplebucket", T20151229, 0, TARN_E_ACCESS_DENIED,
           "Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$key\", "
           "\"user/user1/\"]");
    aws_form(&t);
    set(&t, "acl", "private");
    expect(&t, "sigv4examplebucket", T20151229, 0, TARN_E_ACCESS_DENIED,
           "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$acl\"");
    aws_form(&t);
    set(&t, "Content-Type", "text/html");
    expect(&t, "sigv4examplebucket", T20151229, 0, TARN_E_ACCESS_DENIED, NULL);
    aws_form(&t);
    del(&t, "x-amz-meta-uuid"); /* a field the policy requires, absent */
    expect(&t, "sigv4examplebucket", T20151229, 0, TARN_E_ACCESS_DENIED, NULL);
    aws_form(&t);
    del(&t, "x-amz-meta-tag"); /* starts-with "" holds for an absent field */
    expect(&t, "sigv4examplebucket", T20151229, 0, 0, NULL);
    /* A field no condition covers. */
    aws_form(&t);
    add(&t, "x-amz-meta-extra", "1");
    expect(&t, "sigv4examplebucket", T20151229, 0, TARN_E_ACCESS_DENIED,
           "Invalid according to Policy: Extra input fields: x-amz-meta-extra");
    /* ... but x-ignore-* need none. */
    aws_form(&t);
    add(&t, "X-Ignore-Submit", "Upload");
    expect(&t, "sigv4examplebucket", T20151229, 0, 0, NULL);
    /* The signature covers the policy. */
    aws_form(&t);
    set(&t, "X-Amz-Signature",
        "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699f");
    expect(&t, "sigv4examplebucket", T20151229, 0, TARN_E_SIGNATURE_DOES_NOT_MATCH, NULL);
    aws_form(&t);
    set(&t, "X-Amz-Credential", AKID "/20151230/us-east-1/s3/aws4_request");
    expect(&t, "sigv4examplebucket", T20151229, 0, TARN_E_SIGNATURE_DOES_NOT_MATCH, NULL);
}

/* boto3 1.43: generate_presigned_post('bkt', 'up/${filename}', Fields
 * {'acl': 'public-read'}, Conditions [{'acl': 'public-read'},
 * ['content-length-range', 1, 1048576], ['starts-with', '$Content-Type',
 * 'image/']], ExpiresIn 3600) at 2013-05-24T00:00:00Z. */
static void boto3_form(tform *t)
{
    memset(t, 0, sizeof(*t));
    add(t, "acl", "public-read");
    add(t, "key", "up/photo.png");
    add(t, "x-amz-algorithm", "AWS4-HMAC-SHA256");
    add(t, "x-amz-credential", AKID "/20130524/us-east-1/s3/aws4_request");
    add(t, "x-amz-date", "20130524T000000Z");
    add(t, "policy",
        "eyJleHBpcmF0aW9uIjogIjIwMTMtMDUtMjRUMDE6MDA6MDBaIiwgImNvbmRpdGlvbnMiOiBbeyJhY2wiOiAicHV"
        "ibGljLXJlYWQifSwgWyJjb250ZW50LWxlbmd0aC1yYW5nZSIsIDEsIDEwNDg1NzZdLCBbInN0YXJ0cy13aXRoIi"
        "wgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sIHsiYnVja2V0IjogImJrdCJ9LCBbInN0YXJ0cy13aXRoIiwgI"
        "iRrZXkiLCAidXAvIl0sIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwgeyJ4LWFtei1j"
        "cmVkZW50aWFsIjogIkFLSUFJT1NGT0ROTjdFWEFNUExFLzIwMTMwNTI0L3VzLWVhc3QtMS9zMy9hd3M0X3JlcXV"
        "lc3QifSwgeyJ4LWFtei1kYXRlIjogIjIwMTMwNTI0VDAwMDAwMFoifV19");
    add(t, "x-amz-signature", "02d00d04be89158bc1f7308429445ae708907157cbfc009c18d41f51aac1dc3c");
    add(t, "Content-Type", "image/png");
}

static void test_boto3(void)
{
    tform t;
    auth_post_result res;
    boto3_form(&t);
    CHECK_RC(run(&t, "bkt", T20130524, AUTH_POST_LENGTH_UNKNOWN, &res, NULL), 0);
    CHECK(res.has_length_range && res.length_min == 1 && res.length_max == 1048576);
    CHECK_RC(auth_post_length_check(&res, 1, NULL), 0);
    CHECK_RC(auth_post_length_check(&res, 1048576, NULL), 0);
    const char *d = NULL;
    CHECK_RC(auth_post_length_check(&res, 0, &d), TARN_E_ENTITY_TOO_SMALL);
    CHECK(d && strcmp(d, "Your proposed upload is smaller than the minimum allowed size") == 0);
    CHECK_RC(auth_post_length_check(&res, 1048577, &d), TARN_E_ENTITY_TOO_LARGE);
    CHECK(d && strcmp(d, "Your proposed upload exceeds the maximum allowed size") == 0);
    /* With the size known up front. */
    expect(&t, "bkt", T20130524, 0, TARN_E_ENTITY_TOO_SMALL, NULL);
    expect(&t, "bkt", T20130524, 2 << 20, TARN_E_ENTITY_TOO_LARGE, NULL);
    expect(&t, "bkt", T20130524, 100, 0, NULL);
    /* Field names are matched in any case; Content-Type values each. */
    set(&t, "Content-Type", "image/png, image/jpeg");
    expect(&t, "bkt", T20130524, 100, 0, NULL);
    set(&t, "Content-Type", "image/png, text/html");
    expect(&t, "bkt", T20130524, 100, TARN_E_ACCESS_DENIED, NULL);
    /* One name given twice could be checked under one value and stored
     * under the other. */
    boto3_form(&t);
    add(&t, "Key", "elsewhere/x");
    expect(&t, "bkt", T20130524, 100, TARN_E_INVALID_ARGUMENT,
           "POST requires exactly one value for field 'key'.");
    /* Required fields. */
    static const char *const need[] = {"x-amz-algorithm", "x-amz-credential", "x-amz-date",
                                       "x-amz-signature", "policy"};
    for (size_t i = 0; i < 5; i++) {
        boto3_form(&t);
        del(&t, need[i]);
        char want[128];
        snprintf(want, sizeof(want), "Bucket POST must contain a field named '%s'.", need[i]);
        expect(&t, "bkt", T20130524, 100, TARN_E_INVALID_ARGUMENT, want);
    }
    boto3_form(&t);
    set(&t, "x-amz-algorithm", "AWS4-HMAC-SHA1");
    expect(&t, "bkt", T20130524, 100, TARN_E_INVALID_ARGUMENT, NULL);
    boto3_form(&t);
    set(&t, "x-amz-credential", AKID "/20130524/us-east-1/s3");
    expect(&t, "bkt", T20130524, 100, TARN_E_INVALID_ARGUMENT,
           "Error parsing the X-Amz-Credential parameter;");
    boto3_form(&t);
    set(&t, "x-amz-credential", "NOSUCHKEY/20130524/us-east-1/s3/aws4_request");
    expect(&t, "bkt", T20130524, 100, TARN_E_INVALID_ACCESS_KEY_ID, NULL);
    boto3_form(&t);
    set(&t, "x-amz-date", "2013-05-24");
    expect(&t, "bkt", T20130524, 100, TARN_E_INVALID_ARGUMENT, "X-Amz-Date must be");
    boto3_form(&t);
    set(&t, "x-amz-signature", "02d0");
    expect(&t, "bkt", T20130524, 100, TARN_E_SIGNATURE_DOES_NOT_MATCH, NULL);
    boto3_form(&t);
    add(&t, "x-amz-security-token", "token");
    expect(&t, "bkt", T20130524, 100, TARN_E_INVALID_ACCESS_KEY_ID, NULL);
}

/* ---- policies signed here ---------------------------------------------- */

/* A form over policy JSON json, signed with SigV4 for 2013-05-24, plus the
 * fields every signed form carries (each listed in the policy by the
 * caller's JSON via COMMON). */
#define COMMON                                                                          \
    "{\"x-amz-algorithm\": \"AWS4-HMAC-SHA256\"}, {\"x-amz-credential\": \"" AKID       \
    "/20130524/us-east-1/s3/aws4_request\"}, {\"x-amz-date\": \"20130524T000000Z\"}"
static void v4_form(tform *t, const char *json)
{
    memset(t, 0, sizeof(*t));
    auth__b64_encode((const unsigned char *)json, strlen(json), t->policy);
    unsigned char key[32], mac[32];
    CHECK(auth__signing_key(SECRET, "20130524", "us-east-1", 9, "s3", key) == 0);
    CHECK(auth__hmac_sha256(key, 32, t->policy, strlen(t->policy), mac) == 0);
    tarn_hex(mac, 32, t->sig);
    add(t, "x-amz-algorithm", "AWS4-HMAC-SHA256");
    add(t, "x-amz-credential", AKID "/20130524/us-east-1/s3/aws4_request");
    add(t, "x-amz-date", "20130524T000000Z");
    add(t, "policy", t->policy);
    add(t, "x-amz-signature", t->sig);
}

/* The same signed with SigV2 (AWSAccessKeyId, Signature = base64
 * HMAC-SHA1 of the base64 policy). */
static void v2_form(tform *t, const char *json)
{
    memset(t, 0, sizeof(*t));
    auth__b64_encode((const unsigned char *)json, strlen(json), t->policy);
    unsigned char mac[20];
    CHECK(auth__hmac_sha1(SECRET, strlen(SECRET), t->policy, strlen(t->policy), mac) == 0);
    auth__b64_encode(mac, 20, t->sig);
    add(t, "AWSAccessKeyId", AKID);
    add(t, "policy", t->policy);
    add(t, "signature", t->sig);
}

#define EXP "{\"expiration\": \"2013-05-24T01:00:00Z\", \"conditions\": ["

static void test_condition_kinds(void)
{
    tform t;
    /* eq (array, operator in any case), starts-with, exact object, and a
     * bucket condition in array form. */
    v4_form(&t, EXP COMMON ", [\"EQ\", \"$key\", \"a/b.txt\"], [\"starts-with\", "
                "\"$x-amz-meta-owner\", \"team-\"], {\"success_action_status\": \"201\"}, "
                "[\"eq\", \"$bucket\", \"bkt\"]]}");
    add(&t, "key", "a/b.txt");
    add(&t, "X-Amz-Meta-Owner", "team-storage");
    add(&t, "success_action_status", "201");
    expect(&t, "bkt", T20130524, 5, 0, NULL);
    set(&t, "key", "a/b.txT");
    expect(&t, "bkt", T20130524, 5, TARN_E_ACCESS_DENIED,
           "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$key\", "
           "\"a/b.txt\"]");
    set(&t, "key", "a/b.txt");
    set(&t, "X-Amz-Meta-Owner", "tea");
    expect(&t, "bkt", T20130524, 5, TARN_E_ACCESS_DENIED,
           "Invalid according to Policy: Policy Condition failed: [\"starts-with\", "
           "\"$x-amz-meta-owner\", \"team-\"]");
    set(&t, "X-Amz-Meta-Owner", "team-");
    set(&t, "success_action_status", "200");
    expect(&t, "bkt", T20130524, 5, TARN_E_ACCESS_DENIED, NULL);
    set(&t, "success_action_status", "201");
    expect(&t, "bkx", T20130524, 5, TARN_E_ACCESS_DENIED, NULL);
    /* A bucket field in the form must name the request's bucket too. */
    add(&t, "bucket", "bkt");
    expect(&t, "bkt", T20130524, 5, 0, NULL);
    set(&t, "bucket", "other");
    expect(&t, "bkt", T20130524, 5, TARN_E_ACCESS_DENIED, NULL);
    /* The signed fields themselves must be covered by the policy. */
    v4_form(&t, EXP "{\"x-amz-algorithm\": \"AWS4-HMAC-SHA256\"}]}");
    expect(&t, "bkt", T20130524, 5, TARN_E_ACCESS_DENIED,
           "Invalid according to Policy: Extra input fields: x-amz-credential");
}

static void test_content_length_range(void)
{
    tform t;
    auth_post_result res;
    /* Two ranges narrow each other; bounds may be strings of digits. */
    v4_form(&t, EXP COMMON ", [\"content-length-range\", 10, 100], "
                "[\"content-length-range\", \"20\", 1000]]}");
    CHECK_RC(run(&t, "b", T20130524, AUTH_POST_LENGTH_UNKNOWN, &res, NULL), 0);
    CHECK(res.has_length_range && res.length_min == 20 && res.length_max == 100);
    expect(&t, "b", T20130524, 19, TARN_E_ENTITY_TOO_SMALL, NULL);
    expect(&t, "b", T20130524, 20, 0, NULL);
    expect(&t, "b", T20130524, 100, 0, NULL);
    expect(&t, "b", T20130524, 101, TARN_E_ENTITY_TOO_LARGE, NULL);
    static const char *const bad[] = {
        "[\"content-length-range\", 10]", "[\"content-length-range\", -1, 10]",
        "[\"content-length-range\", 10, 5]", "[\"content-length-range\", 1.5, 10]",
        "[\"content-length-range\", \"x\", 10]", "[\"content-length-range\", 1, 2, 3]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char json[512];
        snprintf(json, sizeof(json), EXP COMMON ", %s]}", bad[i]);
        v4_form(&t, json);
        expect(&t, "b", T20130524, 5, TARN_E_INVALID_ARGUMENT,
               "Invalid Policy: Invalid Condition: ");
    }
}

static void test_bad_policies(void)
{
    static const struct {
        const char *json, *detail;
    } cases[] = {
        {"not json", "Invalid Policy: Invalid JSON."},
        {"{\"expiration\": \"2013-05-24T01:00:00Z\", \"conditions\": [", "Invalid Policy: "
                                                                        "Invalid JSON."},
        {"{\"expiration\": \"2013-05-24T01:00:00Z\", \"conditions\": []} x",
         "Invalid Policy: Invalid JSON."},
        {"{\"expiration\": \"2013-05-24T01:00:00Z\", \"conditions\": [],}",
         "Invalid Policy: Invalid JSON."},
        {"{expiration: 1}", "Invalid Policy: Invalid JSON."},
        {"[1, 2]", "Invalid Policy: Invalid JSON."},
        {"{\"conditions\": []}", "Invalid Policy: Policy missing expiration."},
        {"{\"expiration\": \"tomorrow\", \"conditions\": []}",
         "Invalid Policy: Invalid 'expiration' value: 'tomorrow'"},
        {"{\"expiration\": 1369357200, \"conditions\": []}",
         "Invalid Policy: Invalid 'expiration' value"},
        {"{\"expiration\": \"2013-05-24T01:00:00Z\"}",
         "Invalid Policy: Policy missing conditions."},
        {EXP "[\"in\", \"$key\", \"a\"]]}", "Invalid Policy: Invalid Condition: "},
        {EXP "[\"eq\", \"key\", \"a\"]]}", "Invalid Policy: Invalid Condition: "},
        {EXP "[\"eq\", \"$key\"]]}", "Invalid Policy: Invalid Condition: "},
        {EXP "[\"eq\", \"$key\", 5]]}", "Invalid Policy: Invalid Condition: "},
        {EXP "{\"acl\": 5}]}", "Invalid Policy: Invalid Condition: "},
        {EXP "\"acl\"]}", "Invalid Policy: Invalid Condition: "},
        {EXP "[]]}", "Invalid Policy: Invalid Condition: "},
    };
    tform t;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        v4_form(&t, cases[i].json);
        expect(&t, "b", T20130524, 5, TARN_E_INVALID_ARGUMENT, cases[i].detail);
    }
    /* An expired policy beats its other faults. */
    v4_form(&t, "{\"expiration\": \"2013-05-23T23:59:59.999Z\", \"conditions\": []}");
    add(&t, "extra", "1");
    expect(&t, "b", T20130524, 5, TARN_E_ACCESS_DENIED,
           "Invalid according to Policy: Policy expired.");

    /* A policy field that is not base64: signed as sent, refused decoded. */
    v4_form(&t, EXP COMMON "]}");
    static const char *const bad_b64[] = {"e30*", "e", "e30==", "=e30", "e3=0"};
    for (size_t i = 0; i < sizeof(bad_b64) / sizeof(bad_b64[0]); i++) {
        unsigned char key[32], mac[32];
        CHECK(auth__signing_key(SECRET, "20130524", "us-east-1", 9, "s3", key) == 0);
        CHECK(auth__hmac_sha256(key, 32, bad_b64[i], strlen(bad_b64[i]), mac) == 0);
        tarn_hex(mac, 32, t.sig);
        set(&t, "policy", bad_b64[i]);
        expect(&t, "b", T20130524, 5, TARN_E_INVALID_ARGUMENT,
               "Invalid Policy: Invalid Base64 encoding.");
    }
    /* Line-wrapped or unpadded base64 is still base64. */
    v4_form(&t, EXP COMMON "]}");
    size_t pn = strlen(t.policy);
    memmove(t.policy + 42, t.policy + 40, pn - 40 + 1);
    memcpy(t.policy + 40, "\r\n", 2);
    unsigned char key[32], mac[32];
    CHECK(auth__signing_key(SECRET, "20130524", "us-east-1", 9, "s3", key) == 0);
    CHECK(auth__hmac_sha256(key, 32, t.policy, strlen(t.policy), mac) == 0);
    tarn_hex(mac, 32, t.sig);
    expect(&t, "b", T20130524, 5, 0, NULL);
}

static void test_sigv2_post(void)
{
    tform t;
    auth_post_result res;
    v2_form(&t, EXP "{\"bucket\": \"b\"}, [\"starts-with\", \"$key\", \"\"]]}");
    add(&t, "key", "anything");
    add(&t, "file", "");
    CHECK_RC(run(&t, "b", T20130524, 5, &res, NULL), 0);
    CHECK(res.sigv2 && res.access_key && strcmp(res.access_key, AKID) == 0 && !res.region);
    set(&t, "signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    expect(&t, "b", T20130524, 5, TARN_E_SIGNATURE_DOES_NOT_MATCH, NULL);
    set(&t, "signature", "short");
    expect(&t, "b", T20130524, 5, TARN_E_SIGNATURE_DOES_NOT_MATCH, NULL);
    v2_form(&t, EXP "{\"bucket\": \"b\"}]}");
    set(&t, "AWSAccessKeyId", "NOSUCHKEY");
    expect(&t, "b", T20130524, 5, TARN_E_INVALID_ACCESS_KEY_ID, NULL);
    v2_form(&t, EXP "{\"bucket\": \"b\"}]}");
    del(&t, "signature");
    expect(&t, "b", T20130524, 5, TARN_E_INVALID_ARGUMENT,
           "Bucket POST must contain a field named 'Signature'.");
    v2_form(&t, EXP "{\"bucket\": \"b\"}]}");
    del(&t, "AWSAccessKeyId");
    expect(&t, "b", T20130524, 5, TARN_E_INVALID_ARGUMENT,
           "Bucket POST must contain a field named 'AWSAccessKeyId'.");
    /* x-amz-signature is not exempt in a SigV2 form. */
    v2_form(&t, EXP "{\"bucket\": \"b\"}]}");
    add(&t, "key", "k");
    expect(&t, "b", T20130524, 5, TARN_E_ACCESS_DENIED, "Invalid according to Policy: Extra "
                                                        "input fields: key");
}

static void test_anonymous(void)
{
    tform t;
    auth_post_result res;
    memset(&t, 0, sizeof(t));
    add(&t, "key", "k");
    add(&t, "Content-Type", "text/plain");
    add(&t, "file", "");
    CHECK_RC(run(&t, "b", T20130524, 5, &res, NULL), 0);
    CHECK(res.anonymous && !res.access_key && !res.has_length_range);
    /* A policy without any signature is not anonymous. */
    add(&t, "policy", "e30=");
    expect(&t, "b", T20130524, 5, TARN_E_INVALID_ARGUMENT,
           "Bucket POST must contain a field named 'x-amz-algorithm'.");
    CHECK_RC(run(&t, "b", T20130524, 5, &res, NULL), TARN_E_INVALID_ARGUMENT);
    CHECK(!res.anonymous && !res.access_key);
}

int main(void)
{
    if (auth_creds_create(&creds) || auth_creds_add(creds, AKID, SECRET))
        return 1;
    test_aws_example();
    test_boto3();
    test_condition_kinds();
    test_content_length_range();
    test_bad_policies();
    test_sigv2_post();
    test_anonymous();
    auth_creds_destroy(creds);
    TEST_EXIT("test_post_policy");
}
