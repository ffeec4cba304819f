/*
 * fuzz_auth.c — auth_request_verify on hostile requests: the Authorization
 * header (SigV4 and SigV2), presigned query parameters, the canonical
 * request built from the raw path, query and headers, the date and
 * payload-hash headers; then the checksum headers (auth_checksum_spec_parse)
 * and, for a request that verified, auth_body_create on its headers.
 *
 * Input: one flag byte, then NUL-separated strings: method, raw path, raw
 * query, [vhost bucket when flag & 4], then header name, value, name,
 * value... Flag & 3 picks the server clock: the AWS S3 examples' day, the
 * SigV2 example's second, three days later, or 1970. The credentials are
 * AWS's example pair, so the seeds (AWS's signed examples) verify.
 */
#include "auth/auth.h"
#include "tests/fuzz/fuzz.h"

#define MAX_HEADERS 64

static const int64_t clocks[4] = {1369353600, 1175024202, 1369353600 + 3 * 86400, 0};

static const auth_creds *creds(void)
{
    static auth_creds *c;
    if (!c && (auth_creds_create(&c) ||
               auth_creds_add(c, "AKIAIOSFODNN7EXAMPLE",
                              "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")))
        __builtin_trap();
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    tarn_arena *a = tarn_arena_create(0);
    auth_header h[MAX_HEADERS];
    auth_request r = {0};
    uint8_t flags = fz_u8(&f);
    r.now = clocks[flags & 3];
    r.method = fz_str(&f, a, NULL);
    r.raw_path = fz_str(&f, a, NULL);
    r.raw_query = fz_str(&f, a, NULL);
    if (flags & 4)
        r.vhost_bucket = fz_str(&f, a, NULL);
    while (f.n && r.n_headers < MAX_HEADERS) {
        h[r.n_headers].name = fz_str(&f, a, NULL);
        h[r.n_headers].value = fz_str(&f, a, NULL);
        r.n_headers++;
    }
    r.headers = h;

    auth_result res = {0};
    const char *detail = NULL;
    int rc = auth_request_verify(a, creds(), &r, &res, &detail);
    auth_checksum_spec spec;
    auth_checksum_spec_parse(h, r.n_headers, res.streaming != AUTH_STREAM_NONE, &spec, &detail);
    auth_body *b;
    if (rc == 0 && auth_body_create(a, &res, h, r.n_headers, &b, &detail) == 0)
        auth_body_finish(b);
    tarn_arena_destroy(a);
    return 0;
}
