/*
 * fuzz_post.c — browser POST uploads: the multipart/form-data parser of
 * server/op_post.c (boundary, part headers, Content-Disposition
 * parameters, the file part's extent, ${filename}) and
 * auth_post_policy_verify (SigV4 / SigV2 fields, the base64 policy, its
 * JSON: expiration and every condition kind, content-length-range).
 *
 * Input: mode byte, clock byte, 4 bytes of file length (all ones: not yet
 * known), then
 *   mode & 1 clear: NUL-separated bucket, then field name, value, ...
 *   mode & 1 set:   NUL-separated bucket, Content-Type, then the form body.
 * mode & 2: the policy field holds raw JSON: the harness base64-encodes it
 * and signs it into X-Amz-Signature with the example credentials' key for
 * 20151229/us-east-1 (the signature is checked before the JSON is read, so
 * without this the fuzzer would rarely reach the policy checks).
 */
#include "server/op_post.c"

#include "auth/internal.h"
#include "tests/fuzz/fuzz.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define MAX_FIELDS 64

static const int64_t clocks[4] = {1451347200, 1369353600, 1451476801, 0};

static const auth_creds *creds(void)
{
    static auth_creds *c;
    if (!c && (auth_creds_create(&c) || auth_creds_add(c, "AKIAIOSFODNN7EXAMPLE", SECRET)))
        __builtin_trap();
    return c;
}

static auth_form_field *find(auth_form_field *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(f[i].name, name) == 0)
            return &f[i];
    return NULL;
}

/* Policy value = base64(raw JSON), X-Amz-Signature = its SigV4 signature. */
static void resign(tarn_arena *a, auth_form_field *f, size_t n)
{
    auth_form_field *pol = find(f, n, "policy"), *sig = find(f, n, "x-amz-signature");
    if (!pol)
        return;
    size_t len = strlen(pol->value);
    char *b64 = tarn_arena_alloc(a, (len + 2) / 3 * 4 + 1), *hex = tarn_arena_alloc(a, 65);
    unsigned char key[32], mac[32];
    if (!b64 || !hex)
        return;
    auth__b64_encode((const unsigned char *)pol->value, len, b64);
    pol->value = b64;
    if (sig && !auth__signing_key(SECRET, "20151229", "us-east-1", 9, "s3", key) &&
        !auth__hmac_sha256(key, 32, b64, strlen(b64), mac)) {
        tarn_hex(mac, 32, hex);
        sig->value = hex;
    }
}

/* The form body through the server's parser; its fields into *fields. */
static size_t form(fz *f, tarn_arena *a, auth_form_field **fields)
{
    post_form pf;
    const char *detail;
    memset(&pf, 0, sizeof(pf));
    if (form_boundary(a, fz_str(f, a, NULL), &pf, &detail))
        return 0;
    const char *body = (const char *)f->p;
    int rc = form_scan(a, &pf, body, f->n);
    if (rc == 0 && pf.data_start > f->n)
        __builtin_trap(); /* the file starts past the body */
    if (rc == 0 && form_file_end(&pf, body, f->n) == 0) {
        if (pf.data_start + pf.data_len > f->n)
            __builtin_trap();
        form_key_expand(a, &pf);
    }
    for (size_t i = 0; i < pf.n; i++)
        fz_touch_str(pf.fields[i].value);
    *fields = pf.fields;
    return rc < 0 ? 0 : pf.n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    tarn_arena *a = tarn_arena_create(0);
    uint8_t mode = fz_u8(&f);
    int64_t now = clocks[fz_u8(&f) & 3];
    uint64_t len = fz_uint(&f, 4);
    if (len == UINT32_MAX)
        len = AUTH_POST_LENGTH_UNKNOWN;
    const char *bucket = fz_str(&f, a, NULL);
    auth_form_field *fields = NULL, list[MAX_FIELDS];
    size_t n = 0;
    if (mode & 1) {
        n = form(&f, a, &fields);
    } else {
        for (; f.n && n < MAX_FIELDS; n++) {
            list[n].name = fz_str(&f, a, NULL);
            list[n].value = fz_str(&f, a, NULL);
        }
        fields = list;
    }
    if (mode & 2)
        resign(a, fields, n);
    auth_post_result res;
    const char *detail;
    if (auth_post_policy_verify(a, creds(), bucket, fields, n, now, len, &res, &detail) == 0 &&
        !res.anonymous && res.has_length_range && len != AUTH_POST_LENGTH_UNKNOWN &&
        (len < res.length_min || len > res.length_max))
        __builtin_trap(); /* accepted a file outside content-length-range */
    tarn_arena_destroy(a);
    return 0;
}
