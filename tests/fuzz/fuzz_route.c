/*
 * fuzz_route.c — request targets: srv_route_resolve (method, Host, raw
 * path and query, virtual-host domain: bucket and key extraction, the
 * query parser, subresource dispatch) and the URI helpers tarn_uri_decode
 * and tarn_uri_encode, checked to round-trip: decode(encode(s)) == s, and
 * encode emits only unreserved characters and %XX.
 *
 * Input: one flag byte. flag & 1: URI mode, the rest is s; flag & 2 then
 * selects plus_is_space / keep_slash. Otherwise route mode: flag & 2 sets
 * has_copy_source, and NUL-separated method, Host, raw path, raw query,
 * domain follow ("" Host or domain means none).
 */
#include <ctype.h>

#include "server/internal.h"
#include "tests/fuzz/fuzz.h"

static void route(fz *f, tarn_arena *a, int copy_source)
{
    const char *method = fz_str(f, a, NULL), *host = fz_str(f, a, NULL);
    const char *path = fz_str(f, a, NULL), *query = fz_str(f, a, NULL);
    const char *domain = fz_str(f, a, NULL);
    srv_route r;
    if (srv_route_resolve(a, method, *host ? host : NULL, path, query, domain, copy_source,
                          &r) != 0)
        return;
    if ((unsigned)r.op >= SRV_OP__COUNT || !r.op_name || (r.key && !r.bucket))
        __builtin_trap();
    fz_touch_str(r.op_name);
    fz_touch_str(r.bucket);
    fz_touch(r.key, r.key_len);
    for (size_t i = 0; i < r.n_query; i++) {
        fz_touch_str(r.query[i].name);
        fz_touch_str(r.query[i].value);
    }
}

static void uri(fz *f, tarn_arena *a, int flag)
{
    const char *s = (const char *)f->p;
    size_t n = f->n, dn = 0, en;
    fz_touch(tarn_uri_decode(a, s, n, flag, &dn), dn);
    const char *e = tarn_uri_encode(a, s, n, flag);
    if (!e)
        return;
    en = strlen(e);
    for (size_t i = 0; i < en; i++)
        if (!isalnum((unsigned char)e[i]) && !strchr("-._~%", e[i]) && !(flag && e[i] == '/'))
            __builtin_trap(); /* a character that needed escaping */
    const char *back = tarn_uri_decode(a, e, en, 0, &dn);
    if (!back || dn != n || memcmp(back, s, n) != 0)
        __builtin_trap(); /* encode and decode disagree */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    tarn_arena *a = tarn_arena_create(0);
    uint8_t flag = fz_u8(&f);
    if (flag & 1)
        uri(&f, a, (flag >> 1) & 1);
    else
        route(&f, a, (flag >> 1) & 1);
    tarn_arena_destroy(a);
    return 0;
}
