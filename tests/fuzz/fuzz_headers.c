/*
 * fuzz_headers.c — the object header rules of server/headers.c and the
 * copy-source header: Range (srv_range_parse), HTTP dates
 * (srv_http_date_parse, checked to round-trip through srv_http_date), the
 * conditional headers (srv_conditions_check) and x-amz-copy-source
 * (srv_copy_source_parse). Input: one byte picks the parser (% 4), then
 *   0 Range:      8 bytes of object size, the header
 *   1 date:       the header
 *   2 conditions: is_read byte, 8 bytes of mtime, then NUL-separated
 *                 If-Match, If-None-Match, If-Modified-Since,
 *                 If-Unmodified-Since, ETag ("" means absent)
 *   3 copy source: the header
 */
#include "server/internal.h"
#include "tests/fuzz/fuzz.h"

static const char *opt(const char *s)
{
    return s && *s ? s : NULL;
}

static void range(fz *f, tarn_arena *a)
{
    uint64_t size = fz_uint(f, 8), first, last;
    if (srv_range_parse(fz_str(f, a, NULL), size, &first, &last) == SRV_RANGE_OK &&
        (first > last || last >= size))
        __builtin_trap(); /* a satisfiable range outside the object */
}

static void date(fz *f, tarn_arena *a)
{
    int64_t t, back;
    char s[32];
    if (srv_http_date_parse(fz_str(f, a, NULL), &t) != 0)
        return;
    srv_http_date(t, s);
    if (srv_http_date_parse(s, &back) != 0 || back != t)
        __builtin_trap(); /* what we send must read back as the same second */
}

static void conditions(fz *f, tarn_arena *a)
{
    srv_conditions c = {.is_read = fz_u8(f) & 1};
    int64_t mtime = (int64_t)fz_uint(f, 8);
    c.if_match = opt(fz_str(f, a, NULL));
    c.if_none_match = opt(fz_str(f, a, NULL));
    c.if_modified_since = opt(fz_str(f, a, NULL));
    c.if_unmodified_since = opt(fz_str(f, a, NULL));
    srv_conditions_check(&c, fz_str(f, a, NULL), mtime);
}

static void copy_source(fz *f, tarn_arena *a)
{
    srv_copy_source src;
    const char *detail;
    memset(&src, 0, sizeof(src));
    if (srv_copy_source_parse(a, fz_str(f, a, NULL), &src, &detail) != 0)
        return;
    if (!*src.bucket || !src.key_len)
        __builtin_trap(); /* accepted without a bucket or a key */
    fz_touch_str(src.bucket);
    fz_touch(src.key, src.key_len);
    fz_touch_str(src.version_id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void (*const parsers[])(fz *, tarn_arena *) = {range, date, conditions, copy_source};
    fz f = {data, size};
    tarn_arena *a = tarn_arena_create(0);
    parsers[fz_u8(&f) % 4](&f, a);
    tarn_arena_destroy(a);
    return 0;
}
