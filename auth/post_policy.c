/*
 * post_policy.c — browser-based uploads: POST Object with a signed policy
 * document (S3 API reference, "Browser-Based Uploads Using POST (AWS
 * Signature Version 4)": "Calculating a Signature", "Creating a POST
 * Policy"; and the Signature Version 2 variant).
 *
 * The server hands over the form fields it parsed. Two things are checked:
 *   1. the signature over the base64 policy exactly as sent:
 *      SigV4 hex(HMAC-SHA256(signing key, policy)) with the key from
 *      x-amz-credential's scope; SigV2 base64(HMAC-SHA1(secret, policy));
 *   2. the decoded policy (JSON, parsed with json-c): not expired, every
 *      condition holds, and every form field is covered by a condition
 *      ("Each form field that you specify in a form (except
 *      x-amz-signature, file, policy, and field names that have an
 *      x-ignore- prefix) must appear in the list of conditions").
 * The signature comes first, so an unsigned form learns nothing about
 * how its policy would be judged.
 */
#include "internal.h"

#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#define POLICY_MAX (64 * 1024) /* base64 characters; AWS's forms are a few KiB */
#define JSON_DEPTH 8           /* object → conditions → condition → value */

static int ieq_n(const char *a, const char *b, size_t bn)
{
    return auth__casecmp_n(a, strlen(a), b, bn) == 0;
}

static int ieq(const char *a, const char *b)
{
    return ieq_n(a, b, strlen(b));
}

/* The form being checked, and which of its fields a condition named. */
typedef struct form {
    tarn_arena *a;
    const auth_form_field *f;
    size_t n;
    const char *bucket;
    unsigned char *covered; /* n flags */
    const char **d;
} form;

/* Value of the field called name[0..len) (case-insensitive), or NULL. */
static const char *field_get_n(const form *fm, const char *name, size_t len)
{
    for (size_t i = 0; i < fm->n; i++)
        if (fm->f[i].name && ieq_n(fm->f[i].name, name, len))
            return fm->f[i].value ? fm->f[i].value : "";
    return NULL;
}

static const char *field_get(const form *fm, const char *name)
{
    return field_get_n(fm, name, strlen(name));
}

static int missing_field(form *fm, const char *name)
{
    *fm->d = tarn_arena_printf(fm->a, "Bucket POST must contain a field named '%s'.  If it "
                               "is specified, please check the order of the fields.", name);
    return TARN_E_INVALID_ARGUMENT;
}

/* A field name given twice could be checked under one value and used
 * under the other: refuse the form. */
static int fields_unique(form *fm)
{
    for (size_t i = 0; i < fm->n; i++)
        for (size_t j = i + 1; j < fm->n && fm->f[i].name; j++)
            if (fm->f[j].name && ieq(fm->f[i].name, fm->f[j].name)) {
                *fm->d = tarn_arena_printf(fm->a, "POST requires exactly one value for "
                                           "field '%s'.", auth__clip(fm->a, fm->f[i].name,
                                                                     strlen(fm->f[i].name)));
                return TARN_E_INVALID_ARGUMENT;
            }
    return 0;
}

/* ---- signatures -------------------------------------------------------- */

static const char mismatch[] = "The request signature we calculated does not match the "
                               "signature you provided. Check your key and signing method.";

static int v4_fields(form *fm, const char **alg, const char **cred, const char **date,
                     const char **sig)
{
    if (!(*alg = field_get(fm, "x-amz-algorithm")))
        return missing_field(fm, "x-amz-algorithm");
    if (!(*cred = field_get(fm, "x-amz-credential")))
        return missing_field(fm, "x-amz-credential");
    if (!(*date = field_get(fm, "x-amz-date")))
        return missing_field(fm, "x-amz-date");
    if (!(*sig = field_get(fm, "x-amz-signature")))
        return missing_field(fm, "x-amz-signature");
    return 0;
}

/* SigV4: "Authenticating Requests: Browser-Based Uploads Using POST",
 * StringToSign = the base64 policy, signed with the scope's key. */
static int sigv4_check(form *fm, const auth_creds *c, const char *policy,
                       auth_post_result *out)
{
    const char *alg, *cred, *date, *sig;
    int64_t t;
    auth_sigv4_hdr h;
    memset(&h, 0, sizeof(h));
    int rc = v4_fields(fm, &alg, &cred, &date, &sig);
    if (rc)
        return rc;
    if (strcmp(alg, "AWS4-HMAC-SHA256") != 0)
        return auth__fail(fm->d, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
                    TARN_E_INVALID_ARGUMENT);
    if (auth__sigv4_credential_parse(fm->a, cred, strlen(cred), &h, fm->d)) {
        *fm->d = auth__detail_reword(fm->a, *fm->d, "X-Amz-Credential");
        return TARN_E_INVALID_ARGUMENT;
    }
    if (auth__time_parse_iso8601(date, &t))
        return auth__fail(fm->d, "X-Amz-Date must be in the ISO8601 Long Format "
                    "\"yyyyMMdd'T'HHmmss'Z'\"", TARN_E_INVALID_ARGUMENT);
    const char *secret = auth__creds_find(c, h.akid, h.akid_len);
    if (!secret)
        return auth__fail(fm->d, "The AWS Access Key Id you provided does not exist in our records.",
                    TARN_E_INVALID_ACCESS_KEY_ID);
    unsigned char want[32], key[32], mac[32];
    if (strlen(sig) != 64 || auth__unhex(sig, 32, want))
        return auth__fail(fm->d, mismatch, TARN_E_SIGNATURE_DOES_NOT_MATCH);
    rc = auth__signing_key(secret, h.date8, h.region, h.region_len, "s3", key);
    if (!rc)
        rc = auth__hmac_sha256(key, 32, policy, strlen(policy), mac);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc)
        return rc;
    if (CRYPTO_memcmp(mac, want, 32) != 0)
        return auth__fail(fm->d, mismatch, TARN_E_SIGNATURE_DOES_NOT_MATCH);
    out->access_key = tarn_arena_strndup(fm->a, h.akid, h.akid_len);
    out->region = tarn_arena_strndup(fm->a, h.region, h.region_len);
    return out->access_key && out->region ? 0 : TARN_E_NOMEM;
}

/* SigV2: "Browser-Based Uploads Using POST (AWS Signature Version 2)",
 * signature = base64(HMAC-SHA1(secret, base64 policy)). */
static int sigv2_check(form *fm, const auth_creds *c, const char *policy,
                       auth_post_result *out)
{
    const char *akid = field_get(fm, "AWSAccessKeyId");
    const char *sig = field_get(fm, "signature");
    if (!akid)
        return missing_field(fm, "AWSAccessKeyId");
    if (!sig)
        return missing_field(fm, "Signature");
    const char *secret = auth__creds_find(c, akid, strlen(akid));
    if (!secret)
        return auth__fail(fm->d, "The AWS Access Key Id you provided does not exist in our records.",
                    TARN_E_INVALID_ACCESS_KEY_ID);
    unsigned char want[20], mac[20];
    if (auth_base64_decode_exact(sig, strlen(sig), want, 20))
        return auth__fail(fm->d, mismatch, TARN_E_SIGNATURE_DOES_NOT_MATCH);
    int rc = auth__hmac_sha1(secret, strlen(secret), policy, strlen(policy), mac);
    if (rc)
        return rc;
    if (CRYPTO_memcmp(mac, want, 20) != 0)
        return auth__fail(fm->d, mismatch, TARN_E_SIGNATURE_DOES_NOT_MATCH);
    out->sigv2 = 1;
    out->access_key = tarn_arena_strdup(fm->a, akid);
    return out->access_key ? 0 : TARN_E_NOMEM;
}

/* ---- the policy document ----------------------------------------------- */

/* base64 (RFC 4648 §4) of any length, line breaks allowed (some encoders
 * wrap at 76 columns), padding optional. NUL-terminated arena copy. */
static int b64_decode(tarn_arena *a, const char *s, char **out, size_t *on)
{
    size_t n = strlen(s), o = 0, syms = 0, pads = 0;
    char *buf = tarn_arena_alloc(a, n / 4 * 3 + 4);
    if (!buf)
        return TARN_E_NOMEM;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\r' || ch == '\n' || ch == ' ' || ch == '\t')
            continue;
        int v = auth__b64_value(ch);
        if (ch == '=' && syms % 4 >= 2 && pads < 2) {
            pads++;
            continue;
        }
        if (v < 0 || pads)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        if (++syms % 4 == 0) {
            buf[o++] = (char)(acc >> 16);
            buf[o++] = (char)(acc >> 8);
            buf[o++] = (char)acc;
            acc = 0;
        }
    }
    size_t rem = syms % 4;
    if (rem == 1 || (pads && (rem + pads) % 4 != 0))
        return -1;
    if (rem >= 2)
        buf[o++] = (char)(acc >> (rem == 2 ? 4 : 10));
    if (rem == 3)
        buf[o++] = (char)(acc >> 2);
    buf[o] = '\0';
    *out = buf;
    *on = o;
    return 0;
}

static void json_put(void *p)
{
    json_object_put(p);
}

/* The decoded policy as a JSON object owned by the arena. */
static int policy_parse(form *fm, const char *b64, json_object **out)
{
    static const char bad_json[] = "Invalid Policy: Invalid JSON.";
    char *txt;
    size_t n;
    if (strlen(b64) > POLICY_MAX)
        return auth__fail(fm->d, "Invalid Policy: Policy document too large.",
                    TARN_E_INVALID_ARGUMENT);
    int rc = b64_decode(fm->a, b64, &txt, &n);
    if (rc)
        return rc == TARN_E_NOMEM ? rc
                                  : auth__fail(fm->d, "Invalid Policy: Invalid Base64 encoding.",
                                         TARN_E_INVALID_ARGUMENT);
    while (n && (txt[n - 1] == ' ' || txt[n - 1] == '\t' || txt[n - 1] == '\r' ||
                 txt[n - 1] == '\n'))
        n--;
    json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    if (!tok)
        return TARN_E_NOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *j = json_tokener_parse_ex(tok, txt, (int)n);
    int ok = j && json_tokener_get_error(tok) == json_tokener_success &&
             json_tokener_get_parse_end(tok) == n;
    json_tokener_free(tok);
    if (j && tarn_arena_cleanup_add(fm->a, json_put, j)) {
        json_object_put(j);
        return TARN_E_NOMEM;
    }
    if (!ok || !json_object_is_type(j, json_type_object))
        return auth__fail(fm->d, bad_json, TARN_E_INVALID_ARGUMENT);
    *out = j;
    return 0;
}

/* "expiration": ISO 8601 in UTC; the policy is void after it. */
static int expiration_check(form *fm, json_object *pol, int64_t now, auth_post_result *out)
{
    json_object *e;
    if (!json_object_object_get_ex(pol, "expiration", &e))
        return auth__fail(fm->d, "Invalid Policy: Policy missing expiration.",
                    TARN_E_INVALID_ARGUMENT);
    if (!json_object_is_type(e, json_type_string) ||
        auth__time_parse_iso8601_ext(json_object_get_string(e), &out->expiration)) {
        const char *s = json_object_get_string(e);
        *fm->d = tarn_arena_printf(fm->a, "Invalid Policy: Invalid 'expiration' value: '%s'",
                                   auth__clip(fm->a, s ? s : "", s ? strlen(s) : 0));
        return TARN_E_INVALID_ARGUMENT;
    }
    if (now > out->expiration)
        return auth__fail(fm->d, "Invalid according to Policy: Policy expired.",
                    TARN_E_ACCESS_DENIED);
    return 0;
}

/* ---- conditions -------------------------------------------------------- */

enum { OP_EQ, OP_PREFIX };

/* One "eq" / "starts-with" condition on field name (without '$'). */
typedef struct cond {
    int op;
    const char *name;
    const char *value;
    size_t value_len;
} cond;

static int cond_failed(form *fm, const cond *c)
{
    *fm->d = tarn_arena_printf(fm->a, "Invalid according to Policy: Policy Condition failed: "
                               "[\"%s\", \"$%s\", \"%s\"]", c->op == OP_EQ ? "eq" : "starts-with",
                               auth__clip(fm->a, c->name, strlen(c->name)),
                               auth__clip(fm->a, c->value, c->value_len));
    return TARN_E_ACCESS_DENIED;
}

static int value_matches(const cond *c, const char *v, size_t vn)
{
    if (c->op == OP_EQ)
        return vn == c->value_len && memcmp(v, c->value, vn) == 0;
    return vn >= c->value_len && memcmp(v, c->value, c->value_len) == 0;
}

/* starts-with on Content-Type holds for each of a comma-separated list
 * ("Creating a POST Policy", Condition Matching). */
static int content_types_match(const cond *c, const char *v)
{
    for (;;) {
        size_t n = strcspn(v, ",");
        const char *t = auth__trim(v, &n);
        if (!value_matches(c, t, n))
            return 0;
        v += strcspn(v, ",");
        if (!*v)
            return 1;
        v++;
    }
}

/* Mark the fields the condition names as covered and check their value.
 * "bucket" is the request's bucket (a form may carry it as a field too;
 * then both must hold). A field the form lacks counts as empty. */
static int cond_apply(form *fm, const cond *c)
{
    int is_bucket = ieq(c->name, "bucket");
    for (size_t i = 0; i < fm->n; i++)
        if (fm->f[i].name && ieq(fm->f[i].name, c->name))
            fm->covered[i] = 1;
    if (is_bucket && !value_matches(c, fm->bucket ? fm->bucket : "",
                                    fm->bucket ? strlen(fm->bucket) : 0))
        return cond_failed(fm, c);
    const char *v = field_get(fm, c->name);
    if (is_bucket && !v)
        return 0;
    v = v ? v : "";
    int ok = c->op == OP_PREFIX && ieq(c->name, "content-type") ? content_types_match(c, v)
                                                                 : value_matches(c, v, strlen(v));
    return ok ? 0 : cond_failed(fm, c);
}

static int bad_condition(form *fm, json_object *j)
{
    const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    *fm->d = tarn_arena_printf(fm->a, "Invalid Policy: Invalid Condition: %s",
                               auth__clip(fm->a, s ? s : "", s ? strlen(s) : 0));
    return TARN_E_INVALID_ARGUMENT;
}

/* {"acl": "public-read"}: an exact match per member. */
static int cond_object(form *fm, json_object *o)
{
    json_object_object_foreach(o, k, v)
    {
        if (!json_object_is_type(v, json_type_string))
            return bad_condition(fm, o);
        cond c = {OP_EQ, k, json_object_get_string(v), (size_t)json_object_get_string_len(v)};
        int rc = cond_apply(fm, &c);
        if (rc)
            return rc;
    }
    return 0;
}

/* A content-length-range bound: a non-negative integer (or a string of
 * digits, which some policy builders write). */
static int bound_get(json_object *j, uint64_t *out)
{
    if (json_object_is_type(j, json_type_int)) {
        int64_t v = json_object_get_int64(j);
        if (v < 0)
            return -1;
        *out = (uint64_t)v;
        return 0;
    }
    const char *s = json_object_is_type(j, json_type_string) ? json_object_get_string(j) : NULL;
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 19 || strspn(s, "0123456789") != n)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    *out = v;
    return 0;
}

/* ["content-length-range", min, max]; several narrow each other. */
static int cond_length(form *fm, json_object *arr, auth_post_result *out)
{
    uint64_t lo, hi;
    if (json_object_array_length(arr) != 3 ||
        bound_get(json_object_array_get_idx(arr, 1), &lo) ||
        bound_get(json_object_array_get_idx(arr, 2), &hi) || lo > hi)
        return bad_condition(fm, arr);
    if (!out->has_length_range || lo > out->length_min)
        out->length_min = lo;
    if (!out->has_length_range || hi < out->length_max)
        out->length_max = hi;
    out->has_length_range = 1;
    return 0;
}

/* ["eq" | "starts-with", "$name", "value"]; the operator any case. */
static int cond_array(form *fm, json_object *arr, auth_post_result *out)
{
    json_object *op = json_object_array_get_idx(arr, 0);
    const char *ops = json_object_is_type(op, json_type_string) ? json_object_get_string(op)
                                                                 : "";
    if (ieq(ops, "content-length-range"))
        return cond_length(fm, arr, out);
    json_object *f = json_object_array_get_idx(arr, 1), *v = json_object_array_get_idx(arr, 2);
    int kind = ieq(ops, "eq") ? OP_EQ : ieq(ops, "starts-with") ? OP_PREFIX : -1;
    if (kind < 0 || json_object_array_length(arr) != 3 ||
        !json_object_is_type(f, json_type_string) || !json_object_is_type(v, json_type_string))
        return bad_condition(fm, arr);
    const char *name = json_object_get_string(f);
    if (name[0] != '$' || !name[1])
        return bad_condition(fm, arr);
    cond c = {kind, name + 1, json_object_get_string(v), (size_t)json_object_get_string_len(v)};
    return cond_apply(fm, &c);
}

static int conditions_check(form *fm, json_object *pol, auth_post_result *out)
{
    json_object *cs;
    if (!json_object_object_get_ex(pol, "conditions", &cs) ||
        !json_object_is_type(cs, json_type_array))
        return auth__fail(fm->d, "Invalid Policy: Policy missing conditions.",
                    TARN_E_INVALID_ARGUMENT);
    size_t n = json_object_array_length(cs);
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(cs, i);
        int rc = json_object_is_type(c, json_type_object)  ? cond_object(fm, c)
                 : json_object_is_type(c, json_type_array) ? cond_array(fm, c, out)
                                                           : bad_condition(fm, c);
        if (rc)
            return rc;
    }
    return 0;
}

/* Fields that need no condition: the signature's own, the file, and
 * x-ignore-* ("Creating a POST Policy", Conditions). */
static int field_exempt(const char *name, int sigv2)
{
    static const char *const v4[] = {"x-amz-signature", "file", "policy"};
    static const char *const v2[] = {"awsaccesskeyid", "signature", "file", "policy"};
    const char *const *l = sigv2 ? v2 : v4;
    size_t n = sigv2 ? 4 : 3;
    for (size_t i = 0; i < n; i++)
        if (ieq(name, l[i]))
            return 1;
    return strlen(name) >= 9 && ieq_n("x-ignore-", name, 9);
}

static int extra_fields_check(form *fm, int sigv2)
{
    for (size_t i = 0; i < fm->n; i++) {
        const char *name = fm->f[i].name;
        if (!name || fm->covered[i] || field_exempt(name, sigv2))
            continue;
        *fm->d = tarn_arena_printf(fm->a, "Invalid according to Policy: Extra input fields: "
                                   "%s", auth__clip(fm->a, name, strlen(name)));
        return TARN_E_ACCESS_DENIED;
    }
    return 0;
}

/* ---- entry points ------------------------------------------------------- */

int auth_post_length_check(const auth_post_result *res, uint64_t len, const char **detail)
{
    const char *d = NULL;
    int rc = 0;
    if (res->has_length_range && len < res->length_min)
        rc = auth__fail(&d, "Your proposed upload is smaller than the minimum allowed size",
                  TARN_E_ENTITY_TOO_SMALL);
    else if (res->has_length_range && len > res->length_max)
        rc = auth__fail(&d, "Your proposed upload exceeds the maximum allowed size",
                  TARN_E_ENTITY_TOO_LARGE);
    if (detail)
        *detail = d;
    return rc;
}

/* Which signature the form carries: 4, 2, or 0 for none at all. */
static int form_version(const form *fm)
{
    static const char *const v4[] = {"x-amz-signature", "x-amz-credential", "x-amz-algorithm"};
    for (size_t i = 0; i < 3; i++)
        if (field_get(fm, v4[i]))
            return 4;
    if (field_get(fm, "AWSAccessKeyId") || field_get(fm, "signature"))
        return 2;
    return field_get(fm, "policy") ? 4 : 0;
}

static int verify(form *fm, const auth_creds *c, int64_t now, uint64_t len,
                  auth_post_result *out)
{
    int rc = fields_unique(fm);
    if (rc)
        return rc;
    if (field_get(fm, "x-amz-security-token"))
        return auth__fail(fm->d, "The provided token is malformed or otherwise invalid.",
                    TARN_E_INVALID_ACCESS_KEY_ID);
    int version = form_version(fm);
    if (version == 0) {
        out->anonymous = 1;
        return 0;
    }
    const char *policy = field_get(fm, "policy");
    if (!policy)
        return missing_field(fm, "policy");
    rc = version == 4 ? sigv4_check(fm, c, policy, out) : sigv2_check(fm, c, policy, out);
    json_object *pol;
    if (rc || (rc = policy_parse(fm, policy, &pol)) ||
        (rc = expiration_check(fm, pol, now, out)) || (rc = conditions_check(fm, pol, out)) ||
        (rc = extra_fields_check(fm, version == 2)))
        return rc;
    return len == AUTH_POST_LENGTH_UNKNOWN ? 0 : auth_post_length_check(out, len, fm->d);
}

int auth_post_policy_verify(tarn_arena *a, const auth_creds *c, const char *bucket,
                            const auth_form_field *fields, size_t n, int64_t now,
                            uint64_t content_length, auth_post_result *out,
                            const char **detail)
{
    const char *d = NULL;
    memset(out, 0, sizeof(*out));
    form fm = {.a = a, .f = fields, .n = n, .bucket = bucket, .d = &d};
    fm.covered = tarn_arena_calloc(a, n + 1);
    int rc = fm.covered ? verify(&fm, c, now, content_length, out) : TARN_E_NOMEM;
    return auth__verdict(rc, out, sizeof(*out), d, detail);
}
