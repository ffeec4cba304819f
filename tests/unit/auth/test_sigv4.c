/*
 * Unit tests for auth/: SigV4 header auth against AWS's documented S3
 * examples, the primitives against RFC 4231 and AWS's key-derivation
 * example, then the error paths, credentials and payload hashing.
 *
 * Requests that AWS has no published vector for are signed here by a small
 * independent signer that is handed the canonical URI, query and headers
 * spelled out by hand, so the tests state the canonical form instead of
 * re-deriving it with the code under test.
 */
#include "auth/auth.h"
#include "auth/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/unit/check.h"


#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define T20130524 1369353600 /* 2013-05-24T00:00:00Z */
#define SCOPE AKID "/20130524/us-east-1/s3/aws4_request"
#define HOST "examplebucket.s3.amazonaws.com"

static auth_creds *creds;

/* ---- a request under test ---------------------------------------------- */

typedef struct treq {
    const char *method, *path, *query;
    auth_header h[64];
    size_t n;
    int64_t now;
    char authz[4096];
} treq;

static void treq_init(treq *t, const char *method, const char *path, const char *query)
{
    memset(t, 0, sizeof(*t));
    t->method = method;
    t->path = path;
    t->query = query;
    t->now = T20130524;
}

static void treq_add(treq *t, const char *name, const char *value)
{
    t->h[t->n].name = name;
    t->h[t->n].value = value;
    t->n++;
}

/* Replace the value of the first header called name (exact case). */
static void treq_set(treq *t, const char *name, const char *value)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->h[i].name, name) == 0) {
            t->h[i].value = value;
            return;
        }
    treq_add(t, name, value);
}

static void treq_del(treq *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->h[i].name, name) == 0) {
            memmove(&t->h[i], &t->h[i + 1], (t->n - i - 1) * sizeof(t->h[0]));
            t->n--;
            return;
        }
}

static void treq_authz(treq *t, const char *v)
{
    snprintf(t->authz, sizeof(t->authz), "%s", v);
    treq_set(t, "Authorization", t->authz);
}

static int treq_verify_d(const treq *t, auth_result *res, const char **detail)
{
    static tarn_arena *a;
    tarn_arena_destroy(a); /* keep the previous result's strings until now */
    a = tarn_arena_create(0);
    auth_request r = {t->method, t->path, t->query, t->h, t->n, t->now, NULL};
    return auth_request_verify(a, creds, &r, res, detail);
}

static int treq_verify(const treq *t)
{
    auth_result res;
    return treq_verify_d(t, &res, NULL);
}

/* The independent signer: canonical pieces spelled out by the test. */
static void sign_with(treq *t, const char *akid, const char *secret, const char *ts,
                      const char *canon_uri, const char *canon_query,
                      const char *canon_headers, const char *signed_headers,
                      const char *payload)
{
    char creq[4096], sts[512], hex[65], sig_hex[65];
    unsigned char hash[32], key[32], sig[32];
    snprintf(creq, sizeof(creq), "%s\n%s\n%s\n%s\n%s\n%s", t->method, canon_uri,
             canon_query, canon_headers, signed_headers, payload);
    auth_iov v = {creq, strlen(creq)};
    CHECK(auth__sha256v(&v, 1, hash) == 0);
    tarn_hex(hash, 32, hex);
    snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%.8s/us-east-1/s3/aws4_request\n%s",
             ts, ts, hex);
    char date8[9];
    memcpy(date8, ts, 8);
    date8[8] = 0;
    CHECK(auth__signing_key(secret, date8, "us-east-1", 9, "s3", key) == 0);
    CHECK(auth__hmac_sha256(key, 32, sts, strlen(sts), sig) == 0);
    tarn_hex(sig, 32, sig_hex);
    snprintf(t->authz, sizeof(t->authz),
             "AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/s3/aws4_request, "
             "SignedHeaders=%s, Signature=%s", akid, date8, signed_headers, sig_hex);
    treq_set(t, "Authorization", t->authz);
}

/* A request with the usual three signed headers, signed by the test. */
static void simple_signed(treq *t, const char *method, const char *path, const char *query,
                          const char *canon_uri, const char *canon_query)
{
    treq_init(t, method, path, query);
    treq_add(t, "Host", HOST);
    treq_add(t, "x-amz-content-sha256", EMPTY_SHA);
    treq_add(t, "x-amz-date", "20130524T000000Z");
    sign_with(t, AKID, SECRET, "20130524T000000Z", canon_uri, canon_query,
              "host:" HOST "\nx-amz-content-sha256:" EMPTY_SHA
              "\nx-amz-date:20130524T000000Z\n",
              "host;x-amz-content-sha256;x-amz-date", EMPTY_SHA);
}

/* ---- AWS's documented examples ----------------------------------------- */

/* S3 API reference, "Signature Calculations for the Authorization Header:
 * Transferring Payload in a Single Chunk", example GET Object. */
static void aws_get_object(treq *t)
{
    treq_init(t, "GET", "/test.txt", NULL);
    treq_add(t, "Host", HOST);
    treq_add(t, "Range", "bytes=0-9");
    treq_add(t, "x-amz-content-sha256", EMPTY_SHA);
    treq_add(t, "x-amz-date", "20130524T000000Z");
    treq_authz(t, "AWS4-HMAC-SHA256 Credential=" SCOPE ",SignedHeaders=host;range;"
                  "x-amz-content-sha256;x-amz-date,Signature="
                  "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void test_aws_examples(void)
{
    treq t;
    auth_result res;
    const char *d;
    aws_get_object(&t);
    CHECK_RC(treq_verify_d(&t, &res, &d), 0);
    CHECK(!res.anonymous && res.access_key && strcmp(res.access_key, AKID) == 0);
    CHECK(res.region && strcmp(res.region, "us-east-1") == 0);
    CHECK(res.payload_mode == AUTH_PAYLOAD_SHA256);
    CHECK(res.payload_sha256[0] == 0xe3 && res.payload_sha256[31] == 0x55);

    /* Example PUT Object: '$' in the key, Date and x-amz-date both signed. */
    static const char *const paths[] = {"/test%24file.text", "/test$file.text",
                                        "/test%24file%2Etext"};
    for (int i = 0; i < 3; i++) {
        treq_init(&t, "PUT", paths[i], "");
        treq_add(&t, "Host", HOST);
        treq_add(&t, "Date", "Fri, 24 May 2013 00:00:00 GMT");
        treq_add(&t, "x-amz-date", "20130524T000000Z");
        treq_add(&t, "x-amz-storage-class", "REDUCED_REDUNDANCY");
        treq_add(&t, "x-amz-content-sha256",
                 "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
        treq_authz(&t, "AWS4-HMAC-SHA256 Credential=" SCOPE ",SignedHeaders=date;host;"
                       "x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature="
                       "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
        CHECK_RC(treq_verify_d(&t, &res, &d), 0);
    }
    /* The body of that example hashes to the signed payload hash. */
    auth_payload *p;
    CHECK(auth_payload_create(&res, &p) == 0);
    auth_payload_update(p, "Welcome to ", 11);
    auth_payload_update(p, "Amazon S3.", 10);
    CHECK_RC(auth_payload_finish(p), 0);
    auth_payload_destroy(p);

    /* Example GET Bucket Lifecycle: a parameter without '='. */
    treq_init(&t, "GET", "/", "lifecycle");
    treq_add(&t, "Host", HOST);
    treq_add(&t, "x-amz-date", "20130524T000000Z");
    treq_add(&t, "x-amz-content-sha256", EMPTY_SHA);
    treq_authz(&t, "AWS4-HMAC-SHA256 Credential=" SCOPE ",SignedHeaders=host;"
                   "x-amz-content-sha256;x-amz-date,Signature="
                   "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    CHECK_RC(treq_verify(&t), 0);

    /* Example Get Bucket (List Objects): two parameters, sorted. */
    static const char *const queries[] = {"max-keys=2&prefix=J", "prefix=J&max-keys=2"};
    for (int i = 0; i < 2; i++) {
        treq_init(&t, "GET", "/", queries[i]);
        treq_add(&t, "Host", HOST);
        treq_add(&t, "x-amz-date", "20130524T000000Z");
        treq_add(&t, "x-amz-content-sha256", EMPTY_SHA);
        treq_authz(&t, "AWS4-HMAC-SHA256 Credential=" SCOPE ",SignedHeaders=host;"
                       "x-amz-content-sha256;x-amz-date,Signature="
                       "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
        CHECK_RC(treq_verify(&t), 0);
    }
}

/* ---- primitives --------------------------------------------------------- */

static void check_hex(const unsigned char *b, const char *want)
{
    char hex[65];
    tarn_hex(b, 32, hex);
    if (strcmp(hex, want) != 0) {
        fprintf(stderr, "got %s\nwant %s\n", hex, want);
        failures++;
    }
}

static void test_primitives(void)
{
    unsigned char out[32], key[131];
    /* RFC 4231 test cases 1 and 6 (key longer than a block). */
    memset(key, 0x0b, 20);
    CHECK(auth__hmac_sha256(key, 20, "Hi There", 8, out) == 0);
    check_hex(out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    memset(key, 0xaa, 131);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK(auth__hmac_sha256(key, 131, m6, strlen(m6), out) == 0);
    check_hex(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    /* AWS General Reference, "Examples of how to derive a signing key". */
    const char *s = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    CHECK(auth__signing_key(s, "20150830", "us-east-1", 9, "iam", out) == 0);
    check_hex(out, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    CHECK(auth__signing_key(s, "20120215", "us-east-1", 9, "iam", out) == 0);
    check_hex(out, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    auth_iov v[2] = {{"a", 1}, {"bc", 2}};
    CHECK(auth__sha256v(v, 2, out) == 0);
    check_hex(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_dates(void)
{
    int64_t t;
    char buf[17];
    CHECK(auth__time_parse_iso8601("20130524T000000Z", &t) == 0 && t == T20130524);
    CHECK(auth__time_parse_rfc1123("Fri, 24 May 2013 00:00:00 GMT", &t) == 0 &&
          t == T20130524);
    CHECK(auth__time_parse_iso8601("20240229T235959Z", &t) == 0 && t == 1709251199);
    auth__time_format_iso8601(1709251199, buf);
    CHECK(strcmp(buf, "20240229T235959Z") == 0);
    auth__time_format_iso8601(T20130524, buf);
    CHECK(strcmp(buf, "20130524T000000Z") == 0);
    static const char *const bad_iso[] = {"20230229T000000Z", "20131324T000000Z",
                                          "20130524T240000Z", "20130524T000000",
                                          "20130524 000000Z", "2013-05-24T00:00:00Z", "",
                                          "20130524T000000Z ", "2013052aT000000Z"};
    for (size_t i = 0; i < sizeof(bad_iso) / sizeof(bad_iso[0]); i++)
        CHECK(auth__time_parse_iso8601(bad_iso[i], &t) == -1);
    static const char *const bad_rfc[] = {"Fri, 24 Foo 2013 00:00:00 GMT",
                                          "Fri, 24 May 2013 00:00:00 PST",
                                          "Fri, 31 Jun 2013 00:00:00 GMT",
                                          "Fri, 24 May 2013 00:00:00 GMT junk", "yesterday",
                                          "Fri, 24 ayM 2013 00:00:00 GMT", ""};
    for (size_t i = 0; i < sizeof(bad_rfc) / sizeof(bad_rfc[0]); i++)
        CHECK(auth__time_parse_rfc1123(bad_rfc[i], &t) == -1);
}

/* ---- which auth form ----------------------------------------------------- */

static void test_auth_forms(void)
{
    treq t;
    auth_result res;
    const char *d;
    /* Anonymous: no header, no query signature. */
    treq_init(&t, "GET", "/bucket/key", "list-type=2");
    treq_add(&t, "Host", HOST);
    CHECK_RC(treq_verify_d(&t, &res, &d), 0);
    CHECK(res.anonymous == 1 && res.access_key == NULL);
    CHECK(res.payload_mode == AUTH_PAYLOAD_UNSIGNED);
    /* SigV2 header and the presigned forms go to their own verifiers
     * (test_sigv2.c, test_presign.c): here only that they are not SigV4. */
    treq_authz(&t, "AWS " AKID ":frJIUN8DYpKDtOLCwo//yllqDzg=");
    CHECK_RC(treq_verify(&t), TARN_E_ACCESS_DENIED); /* no Date */
    treq_init(&t, "GET", "/bucket/key",
              "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Signature=00");
    CHECK_RC(treq_verify(&t), TARN_E_AUTH_QUERY_PARAMS); /* parameters missing */
    treq_init(&t, "GET", "/bucket/key", "AWSAccessKeyId=" AKID "&Expires=1&Signature=x");
    CHECK_RC(treq_verify(&t), TARN_E_ACCESS_DENIED); /* expired in 1970 */
    /* Both a header and a query signature. */
    aws_get_object(&t);
    t.query = "X-Amz-Signature=00";
    CHECK_RC(treq_verify(&t), TARN_E_INVALID_ARGUMENT);
    /* Other schemes, and an empty header, are not a malformed SigV4 one. */
    static const char *const other[] = {"Bearer abc", "", "AWS4-HMAC-SHA512 Credential=x",
                                        "AWS4-HMAC-SHA256X Credential=x", "\xff\xfe\x01garbage"};
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        aws_get_object(&t);
        treq_authz(&t, other[i]);
        CHECK_RC(treq_verify(&t), TARN_E_INVALID_ARGUMENT);
    }
    /* A name like Signature inside a value does not count. */
    simple_signed(&t, "GET", "/b", "prefix=Signature", "/b", "prefix=Signature");
    CHECK_RC(treq_verify(&t), 0);
}

/* ---- malformed Authorization -------------------------------------------- */

static void test_malformed(void)
{
    static const char *const bad[] = {
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 ",
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host;range;x-amz-content-"
        "sha256;x-amz-date, Signature=f0e8bd",                          /* truncated */
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host;x-amz-date", /* no sig */
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" EMPTY_SHA,    /* no credential */
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", Signature=" EMPTY_SHA,  /* no signed hdrs */
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host, Signature="
        "g0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41", /* bad hex */
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host, Signature="
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb4", /* 63 */
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host, Signature="
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb411", /* 65 */
        "AWS4-HMAC-SHA256 Credential=" AKID "/20130524/us-east-1/iam/aws4_request, "
        "SignedHeaders=host, Signature=" EMPTY_SHA,                     /* service */
        "AWS4-HMAC-SHA256 Credential=" AKID "/20130524/us-east-1/s3/aws4_reques, "
        "SignedHeaders=host, Signature=" EMPTY_SHA,                     /* terminal */
        "AWS4-HMAC-SHA256 Credential=" AKID "/20130524/us-east-1/s3, "
        "SignedHeaders=host, Signature=" EMPTY_SHA,                     /* short scope */
        "AWS4-HMAC-SHA256 Credential=" AKID "/20130524/us-east-1/s3/aws4_request/x, "
        "SignedHeaders=host, Signature=" EMPTY_SHA,                     /* long scope */
        "AWS4-HMAC-SHA256 Credential=" AKID "/2013052x/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=" EMPTY_SHA,                     /* scope date */
        "AWS4-HMAC-SHA256 Credential=" AKID "//us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=" EMPTY_SHA,                     /* empty date */
        "AWS4-HMAC-SHA256 Credential=" AKID "/20130524//s3/aws4_request, "
        "SignedHeaders=host, Signature=" EMPTY_SHA,                     /* empty region */
        "AWS4-HMAC-SHA256 Credential=" AKID "/20130523/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" EMPTY_SHA,
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=range;x-amz-date, "
        "Signature=" EMPTY_SHA,                                         /* no host */
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=x-amz-date;host, "
        "Signature=" EMPTY_SHA,                                         /* unsorted */
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host;host, "
        "Signature=" EMPTY_SHA,                                         /* duplicate */
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=Host;range, "
        "Signature=" EMPTY_SHA,                                         /* upper case */
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host;;range, "
        "Signature=" EMPTY_SHA,                                         /* empty name */
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host, Signature=" EMPTY_SHA
        ", Foo=bar",                                                    /* unknown */
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", Credential=" SCOPE ", SignedHeaders=host, "
        "Signature=" EMPTY_SHA,                                         /* twice */
        "AWS4-HMAC-SHA256 Credential=" SCOPE ",, SignedHeaders=host, Signature=" EMPTY_SHA,
        "AWS4-HMAC-SHA256 Credential " SCOPE ", SignedHeaders=host, Signature=" EMPTY_SHA,
        "AWS4-HMAC-SHA256 \x01\xff\xfe==,,,",
        "AWS4-HMAC-SHA256 Credential=\x80\x81/\x82/\x83/s3/aws4_request, SignedHeaders=host, "
        "Signature=" EMPTY_SHA,
    };
    treq t;
    auth_result res;
    const char *d;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        aws_get_object(&t);
        treq_authz(&t, bad[i]);
        d = NULL;
        int rc = treq_verify_d(&t, &res, &d);
        if (rc != TARN_E_AUTH_HEADER_MALFORMED)
            fprintf(stderr, "malformed case %zu: %s\n", i, tarn_err_name(rc));
        CHECK_RC(rc, TARN_E_AUTH_HEADER_MALFORMED);
        CHECK(d && strncmp(d, "The authorization header is malformed; ", 39) == 0);
        CHECK(res.access_key == NULL && res.anonymous == 0);
    }
    /* Details never echo control bytes or unbounded client text. */
    aws_get_object(&t);
    treq_authz(&t, "AWS4-HMAC-SHA256 Credential=" AKID "/20130524/us-east-1/\x01\x02"
                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                   "/aws4_request, SignedHeaders=host, Signature=" EMPTY_SHA);
    CHECK_RC(treq_verify_d(&t, &res, &d), TARN_E_AUTH_HEADER_MALFORMED);
    CHECK(d && !strchr(d, '\x01') && strlen(d) < 200 && strstr(d, "incorrect service"));
}

/* Spacing and order of the components do not matter. */
static void test_component_layout(void)
{
    static const char *const ok[] = {
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host;range;x-amz-content-"
        "sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd9103"
        "9c6036bdb41",
        "AWS4-HMAC-SHA256   Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039"
        "c6036bdb41 ,Credential=" SCOPE ",  SignedHeaders=host;range;x-amz-content-sha256;"
        "x-amz-date",
        "  AWS4-HMAC-SHA256 SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Credential=" SCOPE ",Signature=F0E8BDB87C964420E857BD35B5D6ED310BD44F0170ABA48DD91"
        "039C6036BDB41",
    };
    treq t;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        aws_get_object(&t);
        treq_authz(&t, ok[i]);
        CHECK_RC(treq_verify(&t), 0);
    }
}

/* ---- keys, signatures, dates ---------------------------------------------- */

static void test_keys_and_signatures(void)
{
    treq t;
    auth_result res;
    const char *d;
    /* Unknown access key. */
    aws_get_object(&t);
    treq_authz(&t, "AWS4-HMAC-SHA256 Credential=AKIANOTKNOWN/20130524/us-east-1/s3/"
                   "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                   "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    CHECK_RC(treq_verify(&t), TARN_E_INVALID_ACCESS_KEY_ID);
    /* Wrong secret: a second key whose secret differs. */
    CHECK(auth_creds_add(creds, "AKIDOTHER", "not-the-secret-at-all") == 0);
    simple_signed(&t, "GET", "/b/k", NULL, "/b/k", "");
    CHECK_RC(treq_verify(&t), 0);
    treq_init(&t, "GET", "/b/k", NULL);
    treq_add(&t, "Host", HOST);
    treq_add(&t, "x-amz-content-sha256", EMPTY_SHA);
    treq_add(&t, "x-amz-date", "20130524T000000Z");
    sign_with(&t, "AKIDOTHER", SECRET, "20130524T000000Z", "/b/k", "",
              "host:" HOST "\nx-amz-content-sha256:" EMPTY_SHA "\nx-amz-date:20130524T000000Z\n",
              "host;x-amz-content-sha256;x-amz-date", EMPTY_SHA);
    CHECK_RC(treq_verify_d(&t, &res, &d), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    /* The detail is short and leaks no canonical request. */
    CHECK(d && !strstr(d, "x-amz-date") && !strstr(d, HOST) && !strstr(d, "AWS4-HMAC"));
    /* Tampering with anything signed breaks it. */
    aws_get_object(&t);
    t.method = "PUT";
    CHECK_RC(treq_verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    aws_get_object(&t);
    t.query = "x=1";
    CHECK_RC(treq_verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    aws_get_object(&t);
    t.path = "/test.txt2";
    CHECK_RC(treq_verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    aws_get_object(&t);
    treq_set(&t, "Range", "bytes=0-10");
    CHECK_RC(treq_verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    /* Unsigned headers may change; blanks in signed values are canonical. */
    aws_get_object(&t);
    treq_add(&t, "User-Agent", "anything");
    treq_set(&t, "Range", "  bytes=0-9 \t");
    CHECK_RC(treq_verify(&t), 0);
    /* A signed header that the request lacks. */
    aws_get_object(&t);
    treq_del(&t, "Range");
    CHECK_RC(treq_verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    /* Header names match in any case. */
    aws_get_object(&t);
    t.h[0].name = "HOST";
    t.h[1].name = "rAnGe";
    CHECK_RC(treq_verify(&t), 0);
}

static void test_dates_and_skew(void)
{
    treq t;
    auth_result res;
    const char *d;
    static const struct {
        int64_t delta;
        int want;
    } skew[] = {{16 * 60, TARN_E_REQUEST_TIME_TOO_SKEWED},
                {-16 * 60, TARN_E_REQUEST_TIME_TOO_SKEWED},
                {14 * 60, 0}, {-14 * 60, 0}, {15 * 60, 0}, {-15 * 60, 0},
                {15 * 60 + 1, TARN_E_REQUEST_TIME_TOO_SKEWED},
                {-86400 * 365, TARN_E_REQUEST_TIME_TOO_SKEWED}};
    for (size_t i = 0; i < sizeof(skew) / sizeof(skew[0]); i++) {
        aws_get_object(&t);
        t.now = T20130524 + skew[i].delta;
        CHECK_RC(treq_verify(&t), skew[i].want);
    }
    /* No date at all, or an unreadable x-amz-date. */
    aws_get_object(&t);
    treq_del(&t, "x-amz-date");
    CHECK_RC(treq_verify_d(&t, &res, &d), TARN_E_ACCESS_DENIED);
    CHECK(d && strcmp(d, "AWS authentication requires a valid Date or x-amz-date header") == 0);
    aws_get_object(&t);
    treq_set(&t, "x-amz-date", "Fri, 24 May 2013 00:00:00 GMT");
    CHECK_RC(treq_verify(&t), TARN_E_ACCESS_DENIED);
    /* Only Date: it is the request time, and the string to sign carries it
     * in ISO 8601 basic form. */
    treq_init(&t, "GET", "/b/k", NULL);
    treq_add(&t, "Host", HOST);
    treq_add(&t, "Date", "Fri, 24 May 2013 00:05:00 GMT");
    treq_add(&t, "x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    sign_with(&t, AKID, SECRET, "20130524T000500Z", "/b/k", "",
              "date:Fri, 24 May 2013 00:05:00 GMT\nhost:" HOST "\n", "date;host",
              "UNSIGNED-PAYLOAD");
    CHECK_RC(treq_verify_d(&t, &res, &d), 0);
    CHECK(res.payload_mode == AUTH_PAYLOAD_UNSIGNED);
    t.now = T20130524 + 5 * 60 + 16 * 60;
    CHECK_RC(treq_verify(&t), TARN_E_REQUEST_TIME_TOO_SKEWED);
    /* A request dated the day after its credential scope. */
    aws_get_object(&t);
    treq_set(&t, "x-amz-date", "20130525T000000Z");
    t.now = T20130524 + 86400;
    CHECK_RC(treq_verify(&t), TARN_E_AUTH_HEADER_MALFORMED);
}

/* ---- x-amz-content-sha256 ------------------------------------------------- */

static void test_content_sha256(void)
{
    treq t;
    auth_result res;
    const char *d;
    aws_get_object(&t);
    treq_del(&t, "x-amz-content-sha256");
    CHECK_RC(treq_verify_d(&t, &res, &d), TARN_E_INVALID_REQUEST);
    CHECK(d && strcmp(d, "Missing required header for this request: "
                         "x-amz-content-sha256") == 0);
    static const char *const bad[] = {"abc", EMPTY_SHA "0", "UNSIGNED-PAYLOADX",
                                      "unsigned-payload", "STREAMING-AWS4-HMAC-SHA256",
                                      "z3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                      ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        aws_get_object(&t);
        treq_set(&t, "x-amz-content-sha256", bad[i]);
        CHECK_RC(treq_verify(&t), TARN_E_INVALID_ARGUMENT);
    }
    static const char *const streaming[] = {
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"};
    char canon[512];
    for (size_t i = 0; i < sizeof(streaming) / sizeof(streaming[0]); i++) {
        treq_init(&t, "PUT", "/b/k", NULL);
        treq_add(&t, "Host", HOST);
        treq_add(&t, "x-amz-content-sha256", streaming[i]);
        treq_add(&t, "x-amz-date", "20130524T000000Z");
        snprintf(canon, sizeof(canon), "host:%s\nx-amz-content-sha256:%s\n"
                 "x-amz-date:20130524T000000Z\n", HOST, streaming[i]);
        sign_with(&t, AKID, SECRET, "20130524T000000Z", "/b/k", "", canon,
                  "host;x-amz-content-sha256;x-amz-date", streaming[i]);
        CHECK_RC(treq_verify_d(&t, &res, &d), 0);
        CHECK(res.payload_mode == AUTH_PAYLOAD_STREAMING && res.streaming_mode &&
              strcmp(res.streaming_mode, streaming[i]) == 0);
    }
    /* Upper-case hex is accepted and signed as sent. */
    const char *up = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
    treq_init(&t, "GET", "/b/k", NULL);
    treq_add(&t, "Host", HOST);
    treq_add(&t, "X-Amz-Content-Sha256", up);
    treq_add(&t, "X-Amz-Date", "20130524T000000Z");
    snprintf(canon, sizeof(canon), "host:%s\nx-amz-content-sha256:%s\n"
             "x-amz-date:20130524T000000Z\n", HOST, up);
    sign_with(&t, AKID, SECRET, "20130524T000000Z", "/b/k", "", canon,
              "host;x-amz-content-sha256;x-amz-date", up);
    CHECK_RC(treq_verify_d(&t, &res, &d), 0);
    CHECK(res.payload_mode == AUTH_PAYLOAD_SHA256 && res.payload_sha256[0] == 0xe3);
    /* Anonymous requests: the hash is still parsed (and checked later). */
    treq_init(&t, "PUT", "/b/k", NULL);
    treq_add(&t, "x-amz-content-sha256", EMPTY_SHA);
    CHECK_RC(treq_verify_d(&t, &res, &d), 0);
    CHECK(res.anonymous && res.payload_mode == AUTH_PAYLOAD_SHA256);
}

/* ---- canonical URI, query and headers -------------------------------------- */

static void test_paths(void)
{
    treq t;
    /* Key "my file+ü.txt" encoded as the SDKs do. */
    simple_signed(&t, "PUT", "/b/my%20file%2B%C3%BC.txt", NULL, "/b/my%20file%2B%C3%BC.txt",
                  "");
    CHECK_RC(treq_verify(&t), 0);
    /* The same key sent with lower-case escapes and a raw '+': canonical
     * form re-encodes once, '+' in a path is a plus. */
    simple_signed(&t, "PUT", "/b/my%20file+%c3%bc.txt", NULL, "/b/my%20file%2B%C3%BC.txt",
                  "");
    CHECK_RC(treq_verify(&t), 0);
    /* A client that signs its own spelling of the path as sent. */
    simple_signed(&t, "PUT", "/b/a+b(1)", NULL, "/b/a+b(1)", "");
    CHECK_RC(treq_verify(&t), 0);
    simple_signed(&t, "PUT", "/b/a+b(1)", NULL, "/b/a%2Bb%281%29", "");
    CHECK_RC(treq_verify(&t), 0);
    /* No normalization: dot segments and '//' stay. */
    simple_signed(&t, "GET", "/b//a/./c/../d", NULL, "/b//a/./c/../d", "");
    CHECK_RC(treq_verify(&t), 0);
    simple_signed(&t, "GET", "/b//a/./c/../d", NULL, "/b/a/d", "");
    CHECK_RC(treq_verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    /* Empty path is "/". */
    simple_signed(&t, "GET", "", NULL, "/", "");
    CHECK_RC(treq_verify(&t), 0);
    /* An encoded slash is not a slash. */
    simple_signed(&t, "GET", "/b/a%2Fb", NULL, "/b/a%2Fb", "");
    CHECK_RC(treq_verify(&t), 0);
    /* Malformed escapes. */
    static const char *const bad[] = {"/b/a%zz", "/b/a%", "/b/a%4"};
    for (int i = 0; i < 3; i++) {
        simple_signed(&t, "GET", bad[i], NULL, bad[i], "");
        CHECK_RC(treq_verify(&t), TARN_E_INVALID_ARGUMENT);
    }
}

static void test_queries(void)
{
    treq t;
    simple_signed(&t, "GET", "/b", "prefix=a+b&delimiter=%2F&list-type=2",
                  "/b", "delimiter=%2F&list-type=2&prefix=a%20b");
    CHECK_RC(treq_verify(&t), 0);
    /* Same name twice: ordered by value. Empty pieces are ignored. */
    simple_signed(&t, "GET", "/b", "a=2&&a=1&b&", "/b", "a=1&a=2&b=");
    CHECK_RC(treq_verify(&t), 0);
    /* Encoded unreserved characters and lower-case escapes normalise. */
    simple_signed(&t, "GET", "/b", "prefix=%7e%41%2a/x", "/b", "prefix=~A%2A%2Fx");
    CHECK_RC(treq_verify(&t), 0);
    /* Unicode, '=' inside a value, upload ids. */
    simple_signed(&t, "POST", "/b/k", "uploadId=x%3Dy%C3%A9&partNumber=1", "/b/k",
                  "partNumber=1&uploadId=x%3Dy%C3%A9");
    CHECK_RC(treq_verify(&t), 0);
    simple_signed(&t, "GET", "/b", "a=b=c", "/b", "a=b%3Dc");
    CHECK_RC(treq_verify(&t), 0);
    simple_signed(&t, "GET", "/b", "prefix=%G0", "/b", "prefix=%G0");
    CHECK_RC(treq_verify(&t), TARN_E_INVALID_ARGUMENT);
}

static void test_headers(void)
{
    treq t;
    /* Duplicate headers join with ',' in arrival order; inner blanks
     * collapse. */
    treq_init(&t, "PUT", "/b/k", NULL);
    treq_add(&t, "Host", HOST);
    treq_add(&t, "X-Amz-Meta-Tag", "  one   two ");
    treq_add(&t, "x-amz-content-sha256", EMPTY_SHA);
    treq_add(&t, "x-amz-meta-tag", "three");
    treq_add(&t, "x-amz-date", "20130524T000000Z");
    treq_add(&t, "X-AMZ-META-TAG", "");
    sign_with(&t, AKID, SECRET, "20130524T000000Z", "/b/k", "",
              "host:" HOST "\nx-amz-content-sha256:" EMPTY_SHA
              "\nx-amz-date:20130524T000000Z\nx-amz-meta-tag:one two,three,\n",
              "host;x-amz-content-sha256;x-amz-date;x-amz-meta-tag", EMPTY_SHA);
    CHECK_RC(treq_verify(&t), 0);

    /* Many headers (the sorted lookup path), duplicates interleaved. */
    static char names[40][16], vals[40][16];
    treq_init(&t, "PUT", "/b/k", NULL);
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "X-Pad-%02d", 39 - i);
        snprintf(vals[i], sizeof(vals[i]), "v%d", i);
        treq_add(&t, names[i], vals[i]);
        if (i == 10)
            treq_add(&t, "x-amz-meta-a", "first");
        if (i == 30)
            treq_add(&t, "X-Amz-Meta-A", "second");
    }
    treq_add(&t, "host", HOST);
    treq_add(&t, "x-amz-content-sha256", EMPTY_SHA);
    treq_add(&t, "x-amz-date", "20130524T000000Z");
    sign_with(&t, AKID, SECRET, "20130524T000000Z", "/b/k", "",
              "host:" HOST "\nx-amz-content-sha256:" EMPTY_SHA
              "\nx-amz-date:20130524T000000Z\nx-amz-meta-a:first,second\nx-pad-00:v39\n"
              "x-pad-39:v0\n",
              "host;x-amz-content-sha256;x-amz-date;x-amz-meta-a;x-pad-00;x-pad-39",
              EMPTY_SHA);
    CHECK_RC(treq_verify(&t), 0);
    t.h[0].value = "changed";
    CHECK_RC(treq_verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    t.h[0].value = vals[0];
    CHECK_RC(treq_verify(&t), 0);
    treq_del(&t, "X-Amz-Meta-A");
    CHECK_RC(treq_verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
}

/* ---- credentials ----------------------------------------------------------- */

static void test_creds(void)
{
    auth_creds *c;
    CHECK(auth_creds_create(&c) == 0);
    CHECK(auth_creds_secret(c, "AKID1") == NULL);
    CHECK_RC(auth_creds_add(c, "AK", "longenoughsecret"), TARN_E_INVAL);
    CHECK_RC(auth_creds_add(c, "AK/ID", "longenoughsecret"), TARN_E_INVAL);
    CHECK_RC(auth_creds_add(c, "AKID1", "short"), TARN_E_INVAL);
    CHECK_RC(auth_creds_add(c, "AKID1", "bad\nsecret!"), TARN_E_INVAL);
    char longk[130];
    memset(longk, 'A', 129);
    longk[129] = 0;
    CHECK_RC(auth_creds_add(c, longk, "longenoughsecret"), TARN_E_INVAL);
    longk[128] = 0;
    CHECK_RC(auth_creds_add(c, longk, "longenoughsecret"), 0);
    char name[24], secret[32]; /* room for any int: -O1 cannot see i < 100 */
    for (int i = 99; i >= 0; i--) {
        snprintf(name, sizeof(name), "key.%02d_x-y", i);
        snprintf(secret, sizeof(secret), "secret-number-%d", i);
        CHECK_RC(auth_creds_add(c, name, secret), 0);
    }
    CHECK_RC(auth_creds_add(c, "key.42_x-y", "another-secret"), TARN_E_INVAL);
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "key.%02d_x-y", i);
        snprintf(secret, sizeof(secret), "secret-number-%d", i);
        const char *s = auth_creds_secret(c, name);
        CHECK(s && strcmp(s, secret) == 0);
    }
    CHECK(auth_creds_secret(c, "key.42_x") == NULL);
    CHECK(auth_creds_secret(c, "key.42_x-yz") == NULL);
    CHECK(auth_creds_secret(c, longk) != NULL);
    auth_creds_destroy(c);
    auth_creds_destroy(NULL);
}

/* The per-thread key cache must not mix up two credential sets that
 * share an access key but not a secret. */
static void test_key_cache_sets(void)
{
    auth_creds *other;
    CHECK(auth_creds_create(&other) == 0);
    CHECK(auth_creds_add(other, AKID, "a-completely-different-secret") == 0);
    auth_creds *saved = creds;
    treq t;
    for (int i = 0; i < 3; i++) {
        aws_get_object(&t);
        creds = saved;
        CHECK_RC(treq_verify(&t), 0);
        creds = other;
        CHECK_RC(treq_verify(&t), TARN_E_SIGNATURE_DOES_NOT_MATCH);
    }
    creds = saved;
    auth_creds_destroy(other);
    /* More distinct (date, region) scopes than cache slots. */
    for (int day = 0; day < 12; day++) {
        char ts[17], dateh[128];
        auth__time_format_iso8601(T20130524 + day * 86400, ts);
        treq_init(&t, "GET", "/b", NULL);
        t.now = T20130524 + day * 86400;
        treq_add(&t, "Host", HOST);
        treq_add(&t, "x-amz-content-sha256", "UNSIGNED-PAYLOAD");
        treq_add(&t, "x-amz-date", ts);
        snprintf(dateh, sizeof(dateh), "host:" HOST "\nx-amz-date:%s\n", ts);
        sign_with(&t, AKID, SECRET, ts, "/b", "", dateh, "host;x-amz-date",
                  "UNSIGNED-PAYLOAD");
        CHECK_RC(treq_verify(&t), 0);
    }
}

/* Several threads verify at once: per-thread contexts and key caches. */
static void *thread_main(void *arg)
{
    int *bad = arg;
    tarn_arena *a = tarn_arena_create(0);
    treq t;
    aws_get_object(&t);
    auth_request r = {t.method, t.path, t.query, t.h, t.n, t.now, NULL};
    for (int i = 0; i < 300; i++) {
        auth_result res;
        if (auth_request_verify(a, creds, &r, &res, NULL) != 0)
            (*bad)++;
    }
    tarn_arena_destroy(a);
    return NULL;
}

static void test_threads(void)
{
    pthread_t th[4];
    int bad[4] = {0};
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&th[i], NULL, thread_main, &bad[i]) == 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(bad[i] == 0);
    }
}

/* ---- payload hashes -------------------------------------------------------- */

static void test_payload(void)
{
    auth_result res = {0};
    auth_payload *p;
    res.payload_mode = AUTH_PAYLOAD_SHA256;
    CHECK(auth__unhex(EMPTY_SHA, 32, res.payload_sha256) == 0);
    CHECK(auth_payload_create(&res, &p) == 0);
    CHECK_RC(auth_payload_finish(p), 0);
    auth_payload_destroy(p);
    CHECK(auth_payload_create(&res, &p) == 0);
    auth_payload_update(p, "x", 1);
    CHECK_RC(auth_payload_finish(p), TARN_E_XAMZ_CONTENT_SHA256_MISMATCH);
    CHECK_RC(auth_payload_finish(p), TARN_E_XAMZ_CONTENT_SHA256_MISMATCH);
    auth_payload_destroy(p);
    /* A large body fed in uneven pieces. */
    static unsigned char body[100000];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (unsigned char)(i * 7 + 3);
    auth_iov v = {body, sizeof(body)};
    CHECK(auth__sha256v(&v, 1, res.payload_sha256) == 0);
    CHECK(auth_payload_create(&res, &p) == 0);
    for (size_t off = 0, step = 1; off < sizeof(body); off += step, step = step * 3 + 1)
        auth_payload_update(p, body + off,
                            off + step > sizeof(body) ? sizeof(body) - off : step);
    CHECK_RC(auth_payload_finish(p), 0);
    auth_payload_destroy(p);
    /* Unsigned and streaming: nothing checked here. */
    res.payload_mode = AUTH_PAYLOAD_UNSIGNED;
    CHECK(auth_payload_create(&res, &p) == 0);
    auth_payload_update(p, "anything", 8);
    CHECK_RC(auth_payload_finish(p), 0);
    auth_payload_destroy(p);
    res.payload_mode = AUTH_PAYLOAD_STREAMING;
    CHECK(auth_payload_create(&res, &p) == 0);
    auth_payload_update(p, "anything", 8);
    CHECK_RC(auth_payload_finish(p), 0);
    auth_payload_destroy(p);
    auth_payload_destroy(NULL);
}

int main(void)
{
    CHECK(auth_creds_create(&creds) == 0);
    CHECK(auth_creds_add(creds, AKID, SECRET) == 0);
    test_primitives();
    test_dates();
    test_aws_examples();
    test_auth_forms();
    test_malformed();
    test_component_layout();
    test_keys_and_signatures();
    test_dates_and_skew();
    test_content_sha256();
    test_paths();
    test_queries();
    test_headers();
    test_creds();
    test_key_cache_sets();
    test_threads();
    test_payload();
    treq t;
    treq_init(&t, "GET", "/", NULL);
    treq_verify(&t); /* frees the last arena held by treq_verify_d */
    auth_creds_destroy(creds);
    if (failures) {
        fprintf(stderr, "test_sigv4: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_sigv4: all passed\n");
    return 0;
}
