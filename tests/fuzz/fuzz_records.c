/*
 * fuzz_records.c — storage's value records as read back from RocksDB,
 * where a bug, a crash mid-upgrade or a damaged disk may leave anything:
 * version records (stor__version_decode, with the layout, the
 * multipart parts table and manifest entry, stor__layout_part and
 * stor__layout_manifest), upload records
 * (stor__upload_tags) and bucket records (stor__bucket_decode). A decode
 * must fail cleanly or hand back a consistent object; a version record
 * that decodes must also survive encode + decode with the same fields.
 *
 * Input: one byte picks the decoder (% 3), the rest is the value.
 */
#include <stdlib.h>

#include "storage/object_internal.h"
#include "tests/fuzz/fuzz.h"

static void object_touch(const stor_object *o)
{
    const char *s[] = {o->content_type, o->content_encoding, o->content_disposition,
                       o->content_language, o->cache_control, o->expires};
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        fz_touch_str(s[i]);
    for (size_t i = 0; i < o->n_meta; i++) {
        fz_touch_str(o->meta[i].name);
        fz_touch_str(o->meta[i].value);
    }
    for (int i = 0; i < STOR_CK__COUNT; i++)
        fz_touch_str(o->checksum[i]);
    if (strnlen(o->etag, sizeof(o->etag)) == sizeof(o->etag) ||
        strnlen(o->version_id, sizeof(o->version_id)) == sizeof(o->version_id))
        __builtin_trap(); /* a fixed-size string without its NUL */
}

static void layout_check(const stor_layout *l)
{
    stor_layout part;
    if (l->n_parts)
        fz_touch(l->parts, (size_t)l->n_parts * STOR_PART_ENTRY);
    for (uint32_t i = 0; i < l->n_parts; i++)
        if (stor__layout_part(l, i, &part, NULL) == 0 &&
            (part.k == 0 || part.k + part.m > STOR_MAX_SHARDS))
            __builtin_trap();
    /* A decoded manifest entry is always a valid one (checked at decode). */
    if (l->has_manifest && stor__layout_manifest(l, &part) != 0)
        __builtin_trap();
}

/* encode(decode(v)) decodes to the same version. The encoder writes a
 * layout only when it names something (k, a data id or parts), and for a
 * multipart one only its size, parts and manifest: the
 * decoder is lenient about the rest (readers check the layout before use:
 * get.c's erc_layout_init), so only what is written is compared. */
static void version_roundtrip(tarn_arena *a, const stor_object *o, const stor_layout *l,
                              const stor_vinfo *vi)
{
    tarn_buf b = {0};
    stor_object o2;
    stor_layout l2, want = {0};
    stor_vinfo vi2;
    if (l->n_parts) {
        want.size = l->size;
        want.n_parts = l->n_parts;
        want.has_manifest = l->has_manifest;
        memcpy(want.manifest, l->manifest, sizeof(want.manifest));
    } else if (l->k || l->data_id[0]) {
        want = *l;
    }
    if (stor__version_encode(&b, o, l) || stor__version_stamp(&b, vi, o->mtime_ms))
        goto out;
    if (stor__version_decode(b.data, b.len, a, &o2, &l2, &vi2) != 0 || o2.size != o->size ||
        o2.mtime_ms != o->mtime_ms || strcmp(o2.etag, o->etag) ||
        strcmp(o2.version_id, o->version_id) || o2.n_meta != o->n_meta ||
        o2.delete_marker != o->delete_marker || l2.size != want.size ||
        l2.n_parts != want.n_parts || l2.has_manifest != want.has_manifest ||
        (want.has_manifest && memcmp(l2.manifest, want.manifest, sizeof(want.manifest))) ||
        (!want.n_parts && (l2.k != want.k || l2.m != want.m || strcmp(l2.data_id, want.data_id))))
        __builtin_trap();
out:
    tarn_buf_free(&b);
}

static void version(tarn_arena *a, const uint8_t *v, size_t n)
{
    stor_object o;
    stor_layout l;
    stor_vinfo vi;
    if (stor__version_decode(v, n, a, &o, &l, &vi) != 0)
        return;
    object_touch(&o);
    layout_check(&l);
    version_roundtrip(a, &o, &l, &vi);
}

static void upload(tarn_arena *a, const uint8_t *v, size_t n)
{
    stor_upload u;
    memset(&u, 0, sizeof(u));
    if (stor__version_decode(v, n, a, &u.meta, NULL, NULL) == 0)
        object_touch(&u.meta);
    if (stor__upload_tags(v, n, &u) == 0 &&
        (strnlen(u.owner, sizeof(u.owner)) == sizeof(u.owner) || u.checksum_alg >= STOR_CK__COUNT))
        __builtin_trap();
}

static void bucket(tarn_arena *a, const uint8_t *v, size_t n)
{
    stor_bucket b;
    (void)a;
    if (stor__bucket_decode(v, n, "fuzz-bucket", &b) == 0 &&
        (strnlen(b.owner, sizeof(b.owner)) == sizeof(b.owner) ||
         strnlen(b.location, sizeof(b.location)) == sizeof(b.location)))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void (*const decoders[])(tarn_arena *, const uint8_t *, size_t) = {version, upload,
                                                                              bucket};
    fz f = {data, size};
    tarn_arena *a = tarn_arena_create(0);
    uint8_t which = fz_u8(&f) % 3;
    /* An exact-size copy, so ASan catches a read one past the value. */
    uint8_t *v = malloc(f.n ? f.n : 1);
    if (v) {
        memcpy(v, f.p, f.n);
        decoders[which](a, v, f.n);
    }
    free(v);
    tarn_arena_destroy(a);
    return 0;
}
