/*
 * test_multipart.c — multipart uploads in storage (storage/multipart*.c and
 * the multipart paths of object_meta.c, get.c, gc.c): uploads and parts,
 * replacing a part, completing (reads across part boundaries, every range
 * shape), the manifest Complete writes (its k+m shard files, its content,
 * heal of its shards, GC of it with the version, a version completed
 * before manifests existed, a Complete without a write quorum), what GC
 * collects afterwards (replaced and left-out parts, a replaced multipart
 * version, holds), abort, expiry, ListMultipartUploads, and a 10,000-part
 * completion timed against S3's "under a second".
 *
 * The worker loop and the put/get helpers are test_put_get.c's, included
 * with its main renamed (STYLE.md §8 allows including a .c).
 */
#define main put_get_main
#include "test_put_get.c"
#undef main

#define B "mpb"

/* ---- Helpers ----------------------------------------------------------------- */

static void t_upload(stor *s, const char *key, int alg, char *id_out)
{
    stor_upload u = {.checksum_alg = alg};
    stor_meta_pair mp[] = {{"color", "blue"}};
    u.meta.content_type = "text/x-parts";
    u.meta.meta = mp;
    u.meta.n_meta = 1;
    snprintf(u.owner, sizeof(u.owner), "owner");
    tcb c = {0};
    CHECK_RC(stor_multipart_create(s, L.w, B, key, strlen(key), &u, &u, cb_done, &c), 0);
    loop_until(&c.done);
    CHECK_RC(c.rc, 0);
    CHECK(strlen(u.upload_id) == STOR_UPLOAD_ID_LEN);
    strcpy(id_out, u.upload_id);
}

/* Upload part `num` holding the object's bytes [base, base+size) of seed. */
static int t_part(stor_ioctx *io, const char *key, const char *id, uint32_t num, uint64_t seed,
                  uint64_t base, uint64_t size)
{
    stor_put *p;
    int rc = stor_part_begin(io, B, key, strlen(key), id, num, size, &p);
    if (rc)
        return rc;
    t_feed_at(p, seed, base, size, 1 << 16);
    stor_object meta = {0};
    snprintf(meta.etag, sizeof(meta.etag), "%032llx", (unsigned long long)(num * 1000 + seed));
    return t_finish(p, &meta);
}

static int t_complete(stor_ioctx *io, const char *key, const char *id, const stor_part *parts,
                      size_t n)
{
    stor_object meta = {.content_type = "text/x-parts"}, out;
    snprintf(meta.etag, sizeof(meta.etag), "%032x-%zu", 7, n);
    tcb c = {0};
    int rc = stor_multipart_complete(io, B, key, strlen(key), id, parts, n, &meta, &out,
                                     cb_done, &c);
    if (rc)
        return rc;
    loop_until(&c.done);
    return c.rc;
}

static int t_abort(stor *s, const char *key, const char *id)
{
    tcb c = {0};
    int rc = stor_multipart_abort(s, L.w, B, key, strlen(key), id, cb_done, &c);
    if (rc)
        return rc;
    loop_until(&c.done);
    return c.rc;
}

static int t_parts(stor *s, tarn_arena *a, const char *key, const char *id, uint32_t after,
                   int max, stor_part_list *out)
{
    return stor_multipart_parts(s, a, B, key, strlen(key), id, after, max, out);
}

/* GC until nothing is left to do (the GC thread may run passes too). */
static void t_gc(stor *s)
{
    for (int i = 0; i < 20 && stor__gc_step(s) != 0; i++)
        loop_for_ms(20);
}

/* ---- Parts, completion, reads across parts -------------------------------------- */

#define P1 (5 * MiB + 3)
#define P2 (4 * MiB + 1)
#define P3 1000u

static void check_ranges(stor_ioctx *io, const char *key, uint64_t seed, uint64_t size)
{
    const uint64_t cuts[] = {0, P1 - 1, P1, P1 + 1, P1 + P2 - 1, P1 + P2, size - 1};
    CHECK_RC(t_get(io, B, key, seed, 0, size - 1), 0);
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        uint64_t a = cuts[i], lo = a > 10 ? a - 10 : 0, hi = a + 10 < size ? a + 10 : size - 1;
        CHECK_RC(t_get(io, B, key, seed, a, a), 0);
        CHECK_RC(t_get(io, B, key, seed, lo, hi), 0);    /* across a boundary */
        CHECK_RC(t_get(io, B, key, seed, a, size - 1), 0);
    }
    CHECK_RC(t_get(io, B, key, seed, 100, size - 100), 0); /* all three parts */
}

static void test_complete(tdir *t, stor *s, stor_ioctx *io)
{
    char id[64];
    const char *key = "dir/obj";
    tarn_arena *a = tarn_arena_create(0);
    t_upload(s, key, STOR_CK_CRC32, id);
    stor_upload u;
    CHECK_RC(stor_multipart_get(s, a, B, key, strlen(key), id, &u), 0);
    CHECK(u.checksum_alg == STOR_CK_CRC32 && !strcmp(u.owner, "owner"));
    CHECK(u.meta.n_meta == 1 && !strcmp(u.meta.content_type, "text/x-parts"));
    CHECK_RC(t_part(io, key, id, 2, 99, P1, P2), 0);       /* wrong bytes, replaced below */
    CHECK_RC(t_part(io, key, id, 1, 5, 0, P1), 0);
    CHECK_RC(t_part(io, key, id, 3, 5, P1 + P2, P3), 0);
    CHECK_RC(t_part(io, key, id, 4, 6, 0, 4096), 0);       /* left out of the completion */
    CHECK_RC(t_part(io, key, id, 2, 5, P1, P2), 0);
    t_gc(s);
    CHECK(t_data_files(t) == 4 * 6); /* the first part 2 is collected */

    stor_part_list pl;
    CHECK_RC(t_parts(s, a, key, id, 1, 2, &pl), 0);
    CHECK(pl.n == 2 && pl.truncated && pl.parts[0].number == 2 && pl.parts[1].number == 3);
    CHECK(pl.parts[0].size == P2 && !strcmp(pl.parts[0].etag, "000000000000000000000000000007d5"));
    CHECK_RC(t_parts(s, a, key, id, 0, STOR_MP_MAX_PARTS, &pl), 0);
    CHECK(pl.n == 4 && !pl.truncated && pl.parts[3].number == 4);

    stor_part bad[3] = {pl.parts[0], pl.parts[2], pl.parts[1]};
    CHECK_RC(t_complete(io, key, id, bad, 3), TARN_E_INVALID_PART_ORDER);
    bad[1] = pl.parts[1];
    bad[2] = pl.parts[2];
    bad[2].number = 7;
    CHECK_RC(t_complete(io, key, id, bad, 3), TARN_E_INVALID_PART);
    bad[2] = pl.parts[2];
    strcpy(bad[2].data_id, pl.parts[3].data_id); /* an upload of 3 no longer there */
    CHECK_RC(t_complete(io, key, id, bad, 3), TARN_E_INVALID_PART);
    CHECK_RC(t_complete(io, key, "nope", pl.parts, 3), TARN_E_NO_SUCH_UPLOAD);

    CHECK_RC(t_complete(io, key, id, pl.parts, 3), 0);
    t_gc(s);
    CHECK(t_data_files(t) == 4 * 6); /* part 4 is collected; the manifest's 6 came */
    for (int i = 0; i < 3; i++)
        CHECK(stor__data_referenced(s, pl.parts[i].data_id) == 1);
    CHECK_RC(stor_multipart_get(s, a, B, key, strlen(key), id, &u), TARN_E_NO_SUCH_UPLOAD);
    CHECK_RC(t_parts(s, a, key, id, 0, 10, &pl), TARN_E_NO_SUCH_UPLOAD);
    CHECK_RC(t_abort(s, key, id), TARN_E_NO_SUCH_UPLOAD);

    stor_object o;
    CHECK_RC(stor_object_get(s, a, B, key, strlen(key), NULL, &o), 0);
    CHECK(o.size == P1 + P2 + P3 && !strcmp(o.content_type, "text/x-parts"));
    CHECK(strstr(o.etag, "-3") != NULL);
    check_ranges(io, key, 5, o.size);

    stor_get *g;
    uint64_t f, l;
    uint32_t count;
    CHECK_RC(stor_get_open(io, a, B, key, strlen(key), NULL, &o, &g), 0);
    CHECK_RC(stor_get_part(g, 2, &f, &l, &count), 0);
    CHECK(f == P1 && l == P1 + P2 - 1 && count == 3);
    CHECK_RC(stor_get_part(g, 4, &f, &l, &count), TARN_E_INVALID_RANGE);
    CHECK_RC(stor_get_part(g, 0, &f, &l, &count), TARN_E_INVALID_RANGE);
    stor_get_close(g);
    CHECK_RC(t_put(io, B, "single", 3, 1000), 0);
    CHECK_RC(stor_get_open(io, a, B, "single", 6, NULL, &o, &g), 0);
    CHECK_RC(stor_get_part(g, 1, &f, &l, &count), 0);
    CHECK(f == 0 && l == 999 && count == 0);
    CHECK_RC(stor_get_part(g, 2, &f, &l, &count), TARN_E_INVALID_RANGE);
    stor_get_close(g);
    tarn_arena_destroy(a);
}

/* ---- The manifest ------------------------------------------------------------------ */

static stor_layout t_manifest(stor *s, const char *key)
{
    stor_layout l = t_layout(s, B, key), ml;
    memset(&ml, 0, sizeof(ml));
    CHECK_RC(stor__layout_manifest(&l, &ml), 0);
    return ml;
}

/* Every byte of one shard set, through a reader of its layout. */
static int t_read_set(stor_ioctx *io, const char *key, const stor_layout *l, tarn_buf *out)
{
    static unsigned char buf[1 << 16];
    stor_get *g;
    int rc = stor__get_open_layout(io, B, strlen(key), l, &g);
    if (!rc)
        rc = stor_get_range(g, 0, l->size - 1);
    while (!rc && out->len < l->size) {
        tcb r = {0};
        ssize_t k = stor_get_read(g, buf, sizeof(buf), cb_flag, &r);
        if (k < 0)
            rc = (int)k;
        else if (k == 0)
            loop_until(&r.writable);
        else
            rc = tarn_buf_append(out, buf, (size_t)k);
    }
    if (g)
        stor_get_close(g);
    return rc;
}

/* The manifest's content is the version's record (without identity and
 * without the manifest entry itself). */
static void check_manifest_content(stor *s, stor_ioctx *io, const char *key)
{
    stor_layout ml = t_manifest(s, key), head = t_layout(s, B, key), l;
    tarn_arena *a = tarn_arena_create(0);
    tarn_buf b = {0};
    stor_object o;
    CHECK_RC(t_read_set(io, key, &ml, &b), 0);
    CHECK(b.len == ml.size);
    CHECK_RC(stor__version_decode(b.data, b.len, a, &o, &l, NULL), 0);
    CHECK(o.size == head.size && l.size == head.size && l.n_parts == head.n_parts);
    CHECK(!memcmp(l.parts, head.parts, (size_t)l.n_parts * STOR_PART_ENTRY));
    CHECK(!l.has_manifest && !strcmp(l.data_id, head.data_id));
    CHECK(o.content_type && !strcmp(o.content_type, "text/x-parts"));
    char want[80];
    snprintf(want, sizeof(want), "%032x-%u", 7, l.n_parts);
    CHECK(!strcmp(o.etag, want));
    tarn_buf_free(&b);
    tarn_arena_destroy(a);
}

/* Flip a byte in block 0 of a shard file (ioloop.c's flip_byte). */
static void flip_block_byte(const char *path, off_t off)
{
    unsigned char fixed[ERC_SHARD_FIXED_LEN];
    uint32_t hlen = 0;
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && pread(fd, fixed, sizeof(fixed), 0) == (ssize_t)sizeof(fixed));
    CHECK_RC(erc_shard_header_peek(fixed, sizeof(fixed), &hlen, NULL), 0);
    close(fd);
    flip_byte(path, hlen + off);
}

/* Complete wrote k+m manifest files; heal and scrub check and rebuild
 * them like any shard set, found by the walk or through "d/<id>". */
static void test_manifest(tdir *t, stor *s, stor_ioctx *io)
{
    const char *key = "dir/obj";
    stor_layout ml = t_manifest(s, key);
    char path[600];
    CHECK(ml.k == 4 && ml.m == 2 && t_set_files(t, &ml) == 6);
    CHECK(stor__data_referenced(s, ml.data_id) == 1);
    check_manifest_content(s, io, key);
    t_shard_path(t, &ml, 1, path, sizeof(path));
    CHECK(unlink(path) == 0);
    t_shard_path(t, &ml, 4, path, sizeof(path));
    flip_block_byte(path, 10);
    stor_heal_stats st;
    CHECK_RC(stor_heal(s, &st), 0);
    CHECK(st.shards_rebuilt == 2 && st.unrecoverable == 0 && st.blocks_bad == 1);
    CHECK(st.sets == 3 + 1 + 1); /* dir/obj's parts and manifest, "single" */
    CHECK(t_set_files(t, &ml) == 6);
    t_shard_path(t, &ml, 0, path, sizeof(path));
    CHECK(unlink(path) == 0);
    CHECK_RC(stor__heal_data(s, NULL, ml.data_id, &st), 0);
    CHECK(st.sets == 1 && st.shards_rebuilt == 1);
    CHECK_RC(stor_heal(s, &st), 0);
    CHECK(st.shards_bad == 0);
    check_manifest_content(s, io, key);
    check_ranges(io, key, 5, P1 + P2 + P3);
}

/* The layout of part num of an upload in progress, from its part record. */
static stor_layout t_part_layout(stor *s, const char *key, const char *id, uint32_t num)
{
    stor_key k;
    char *val = NULL;
    size_t len = 0;
    stor_layout l;
    memset(&l, 0, sizeof(l));
    CHECK_RC(stor__key_part(&k, B, key, strlen(key), id, num), 0);
    CHECK_RC(stor__db_get(s, &k, &val, &len), 0);
    if (val)
        CHECK_RC(stor__version_decode(val, len, NULL, NULL, &l, NULL), 0);
    rocksdb_free(val);
    return l;
}

/* The parts of an upload in progress are healed too: by the walk (a
 * missing and a bit-flipped shard) and through "d/<id>" (a heal noted by
 * a read or put); the upload then completes and reads back. */
static void test_heal_uploading(tdir *t, stor *s, stor_ioctx *io)
{
    const char *key = "uploading";
    char id[64], path[600];
    int before = t_data_files(t);
    t_upload(s, key, -1, id);
    CHECK_RC(t_part(io, key, id, 1, 21, 0, P1), 0);
    CHECK_RC(t_part(io, key, id, 2, 21, P1, P2), 0);
    stor_layout l1 = t_part_layout(s, key, id, 1), l2 = t_part_layout(s, key, id, 2);
    CHECK(t_set_files(t, &l1) == 6 && t_set_files(t, &l2) == 6);
    t_shard_path(t, &l1, 3, path, sizeof(path));
    CHECK(unlink(path) == 0);
    t_shard_path(t, &l2, 0, path, sizeof(path));
    flip_block_byte(path, 99);
    stor_heal_stats st;
    CHECK_RC(stor_heal(s, &st), 0);
    CHECK(st.shards_rebuilt == 2 && st.blocks_bad == 1 && st.unrecoverable == 0);
    CHECK(t_set_files(t, &l1) == 6);
    t_shard_path(t, &l2, 5, path, sizeof(path));
    CHECK(unlink(path) == 0);
    CHECK_RC(stor__heal_data(s, NULL, l2.data_id, &st), 0);
    CHECK(st.sets == 1 && st.shards_rebuilt == 1);
    CHECK_RC(stor_heal(s, &st), 0);
    CHECK(st.shards_bad == 0);
    tarn_arena *a = tarn_arena_create(0);
    stor_part_list pl;
    CHECK_RC(t_parts(s, a, key, id, 0, 10, &pl), 0);
    CHECK(pl.n == 2);
    CHECK_RC(t_complete(io, key, id, pl.parts, pl.n), 0);
    CHECK_RC(t_get(io, B, key, 21, 0, P1 + P2 - 1), 0);
    tarn_arena_destroy(a);
    tcb c = {0};
    CHECK_RC(stor_object_delete(s, L.w, B, key, strlen(key), cb_done, &c), 0);
    loop_until(&c.done);
    CHECK_RC(c.rc, 0);
    t_gc(s);
    CHECK(t_data_files(t) == before);
}

/* A multipart version committed before manifests existed (its records
 * without one) still reads, heals and is collected whole. */
static void test_no_manifest(tdir *t, stor *s, stor_ioctx *io)
{
    const char *key = "legacy";
    char id[64], path[600];
    int before = t_data_files(t);
    tarn_arena *a = tarn_arena_create(0);
    t_upload(s, key, -1, id);
    CHECK_RC(t_part(io, key, id, 1, 21, 0, P1), 0);
    CHECK_RC(t_part(io, key, id, 2, 21, P1, P3), 0);
    stor_part_list pl;
    CHECK_RC(t_parts(s, a, key, id, 0, 10, &pl), 0);
    CHECK_RC(t_complete(io, key, id, pl.parts, 2), 0);
    /* Rewrite head and log entry without the manifest; drop it. */
    stor_key hk, vk;
    char *val;
    size_t len;
    stor_object o;
    stor_layout l, ml;
    stor_vinfo vi;
    tarn_buf rec = {0};
    CHECK_RC(stor__key_head(&hk, B, key, strlen(key)), 0);
    CHECK_RC(stor__db_get(s, &hk, &val, &len), 0);
    CHECK_RC(stor__version_decode(val, len, a, &o, &l, &vi), 0);
    rocksdb_free(val);
    CHECK_RC(stor__layout_manifest(&l, &ml), 0);
    l.has_manifest = 0;
    CHECK_RC(stor__version_encode(&rec, &o, &l), 0);
    CHECK_RC(stor__version_stamp(&rec, &vi, o.mtime_ms), 0);
    CHECK_RC(stor__key_version(&vk, B, key, strlen(key), vi.seq), 0);
    CHECK_RC(stor__raw_put(s, &hk, rec.data, rec.len), 0);
    CHECK_RC(stor__raw_put(s, &vk, rec.data, rec.len), 0);
    CHECK_RC(stor__key_data(&hk, ml.data_id), 0);
    CHECK_RC(stor__raw_delete(s, &hk), 0);
    stor__data_remove(s, &ml);
    tarn_buf_free(&rec);
    CHECK(t_data_files(t) == before + 2 * 6);
    CHECK_RC(stor__layout_manifest(&(stor_layout){0}, &ml), TARN_E_NOT_FOUND);
    CHECK(!t_layout(s, B, key).has_manifest);
    CHECK_RC(t_get(io, B, key, 21, 0, P1 + P3 - 1), 0);
    stor_layout p2;
    l = t_layout(s, B, key);
    CHECK_RC(stor__layout_part(&l, 1, &p2, NULL), 0);
    t_shard_path(t, &p2, 2, path, sizeof(path));
    CHECK(unlink(path) == 0);
    stor_heal_stats st;
    CHECK_RC(stor_heal(s, &st), 0);
    CHECK(st.shards_rebuilt == 1 && st.unrecoverable == 0);
    tcb c = {0};
    CHECK_RC(stor_object_delete(s, L.w, B, key, strlen(key), cb_done, &c), 0);
    loop_until(&c.done);
    t_gc(s);
    CHECK(t_data_files(t) == before);
    tarn_arena_destroy(a);
}

/* More than m disks gone: Complete answers 503 and changes nothing (the
 * upload and its parts stay, no manifest file is left). Run last: it
 * removes three disk folders. */
static void test_complete_no_quorum(tdir *t, stor *s, stor_ioctx *io)
{
    const char *key = "no-quorum";
    char id[64];
    tarn_arena *a = tarn_arena_create(0);
    t_upload(s, key, -1, id);
    CHECK_RC(t_part(io, key, id, 1, 31, 0, P3), 0);
    stor_part_list pl;
    CHECK_RC(t_parts(s, a, key, id, 0, 10, &pl), 0);
    rm_rf(t->disk[1]);
    rm_rf(t->disk[3]);
    rm_rf(t->disk[5]);
    int before = t_data_files(t);
    /* The first finds out through its opens, the next at begin. */
    for (int i = 0; i < 2; i++) {
        CHECK_RC(t_complete(io, key, id, pl.parts, 1), TARN_E_SERVICE_UNAVAILABLE);
        loop_for_ms(100);
        CHECK(t_data_files(t) == before);
    }
    stor_upload u;
    CHECK_RC(stor_multipart_get(s, a, B, key, strlen(key), id, &u), 0);
    CHECK_RC(t_parts(s, a, key, id, 0, 10, &pl), 0);
    CHECK(pl.n == 1);
    stor_object o;
    CHECK_RC(stor_object_get(s, a, B, key, strlen(key), NULL, &o), TARN_E_NO_SUCH_KEY);
    tarn_arena_destroy(a);
}

/* A reader holds the multipart version; overwriting it defers GC of every
 * part until the reader closes. */
static void test_replace_held(tdir *t, stor *s, stor_ioctx *io)
{
    const char *key = "dir/obj";
    tarn_arena *a = tarn_arena_create(0);
    stor_object o;
    stor_get *g;
    int before = t_data_files(t);
    CHECK_RC(stor_get_open(io, a, B, key, strlen(key), NULL, &o, &g), 0);
    CHECK_RC(t_put(io, B, key, 8, 5000), 0);
    CHECK(stor__gc_step(s) > 0); /* held */
    CHECK(t_data_files(t) == before + 6);
    CHECK_RC(stor_get_range(g, P1 - 5, P1 + 5), 0); /* still readable */
    unsigned char buf[11], want[11];
    ssize_t n = 0;
    while (n == 0) {
        tcb r = {0};
        n = stor_get_read(g, buf, sizeof(buf), cb_flag, &r);
        if (n == 0)
            loop_until(&r.writable);
    }
    gen(5, P1 - 5, want, (size_t)n);
    CHECK(n > 0 && !memcmp(buf, want, (size_t)n));
    stor_get_close(g);
    loop_for_ms(50);
    t_gc(s);
    CHECK(t_data_files(t) == before + 6 - 4 * 6); /* the parts and the manifest */
    CHECK_RC(t_get(io, B, key, 8, 0, 4999), 0);
    tarn_arena_destroy(a);
}

/* ---- Errors, abort, expiry ------------------------------------------------------------ */

static void test_abort_expire(tdir *t, stor *s, stor_ioctx *io)
{
    char id[64], id2[64];
    int before = t_data_files(t);
    stor_put *p;
    CHECK_RC(stor_part_begin(io, B, "k", 1, "no-such-upload", 1, 10, &p), TARN_E_NO_SUCH_UPLOAD);
    t_upload(s, "k", -1, id);
    CHECK_RC(stor_part_begin(io, B, "k", 1, id, 0, 10, &p), TARN_E_INVALID_ARGUMENT);
    CHECK_RC(stor_part_begin(io, B, "k", 1, id, 10001, 10, &p), TARN_E_INVALID_ARGUMENT);
    CHECK_RC(t_part(io, "k", id, 1, 1, 0, 6000), 0);
    CHECK_RC(t_part(io, "k", id, 9, 1, 0, 100), 0);
    tcb del = {0};
    CHECK_RC(stor_bucket_delete(s, L.w, B, cb_done, &del), 0);
    loop_until(&del.done);
    CHECK_RC(del.rc, TARN_E_BUCKET_NOT_EMPTY); /* an upload is in it */
    CHECK_RC(t_abort(s, "k", id), 0);
    CHECK_RC(t_abort(s, "k", id), TARN_E_NO_SUCH_UPLOAD);
    CHECK_RC(t_part(io, "k", id, 2, 1, 0, 100), TARN_E_NO_SUCH_UPLOAD);
    t_gc(s);
    CHECK(t_data_files(t) == before);

    t_upload(s, "old", -1, id);
    CHECK_RC(t_part(io, "old", id, 3, 1, 0, 7000), 0);
    CHECK(stor_multipart_expire(s, tarn_now_unix() - 3600) == 0); /* too young */
    t_upload(s, "young", -1, id2);
    CHECK(stor_multipart_expire(s, tarn_now_unix() + 10) == 2);
    tarn_arena *a = tarn_arena_create(0);
    stor_upload u;
    CHECK_RC(stor_multipart_get(s, a, B, "old", 3, id, &u), TARN_E_NO_SUCH_UPLOAD);
    tarn_arena_destroy(a);
    t_gc(s);
    CHECK(t_data_files(t) == before);
}

/* ---- ListMultipartUploads ----------------------------------------------------------------- */

static void test_list(stor *s)
{
    const char *keys[] = {"a", "a", "b/x", "b/y", "c"};
    char ids[5][64];
    for (int i = 0; i < 5; i++)
        t_upload(s, keys[i], -1, ids[i]);
    tarn_arena *a = tarn_arena_create(0);
    stor_upload_list out;
    stor_upload_list_params p = {.max_uploads = 1000};
    CHECK_RC(stor_multipart_list(s, a, B, &p, &out), 0);
    CHECK(out.n == 5 && !out.truncated);
    CHECK(out.n == 5 && !strcmp(out.uploads[0].upload_id, ids[0]) &&
          !strcmp(out.uploads[1].upload_id, ids[1]) && !strcmp(out.uploads[4].key, "c"));
    p.max_uploads = 1;
    CHECK_RC(stor_multipart_list(s, a, B, &p, &out), 0);
    CHECK(out.n == 1 && out.truncated && !strcmp(out.next_upload_id, ids[0]));
    p.key_marker = out.next_key;
    p.key_marker_len = out.next_key_len;
    p.upload_id_marker = out.next_upload_id;
    p.max_uploads = 2;
    CHECK_RC(stor_multipart_list(s, a, B, &p, &out), 0);
    CHECK(out.n == 2 && out.truncated && !strcmp(out.uploads[0].upload_id, ids[1]) &&
          !strcmp(out.uploads[1].key, "b/x"));
    p = (stor_upload_list_params){.max_uploads = 1000, .key_marker = "a", .key_marker_len = 1};
    CHECK_RC(stor_multipart_list(s, a, B, &p, &out), 0);
    CHECK(out.n == 3 && !strcmp(out.uploads[0].key, "b/x"));
    p = (stor_upload_list_params){.max_uploads = 1000, .delimiter = "/"};
    CHECK_RC(stor_multipart_list(s, a, B, &p, &out), 0);
    CHECK(out.n == 3 && out.n_prefixes == 1 && !strcmp(out.prefixes[0], "b/"));
    p = (stor_upload_list_params){.max_uploads = 1000, .prefix = "b/"};
    CHECK_RC(stor_multipart_list(s, a, B, &p, &out), 0);
    CHECK(out.n == 2 && !strcmp(out.uploads[1].key, "b/y"));
    for (int i = 0; i < 5; i++)
        CHECK_RC(t_abort(s, keys[i], ids[i]), 0);
    CHECK_RC(stor_multipart_list(s, a, B, &p, &out), 0);
    CHECK(out.n == 0);
    tarn_arena_destroy(a);
}

/* ---- 10,000 parts -------------------------------------------------------------------------- */

typedef struct fake_parts_op {
    stor_op base;
    const char *key, *id;
    int n;
} fake_parts_op;

/* Part records with layouts of files that do not exist (GC tolerates that),
 * all in one batch: the cost measured below is the completion's alone. */
static int fake_parts_apply(stor_txn *t, stor_op *op)
{
    fake_parts_op *f = (fake_parts_op *)op;
    for (int i = 1; i <= f->n; i++) {
        stor_layout l = {.k = 4, .m = 2, .block_size = 1 << 20, .size = 5 * MiB,
                         .disk = {0, 1, 2, 3, 4, 5}};
        snprintf(l.data_id, sizeof(l.data_id), "%016llx%016x", 0xfeedull, i);
        stor_object o = {.size = l.size, .mtime_ms = 1};
        snprintf(o.etag, sizeof(o.etag), "%032x", i);
        tarn_buf rec = {0};
        stor_key k;
        int rc = stor__version_encode(&rec, &o, &l);
        if (!rc)
            rc = stor__key_part(&k, B, f->key, strlen(f->key), f->id, (uint32_t)i);
        if (!rc)
            stor__txn_put(t, &k, rec.data, rec.len);
        if (!rc && !(rc = stor__key_data(&k, l.data_id)))
            stor__txn_put(t, &k, "\1", 1);
        tarn_buf_free(&rec);
        if (rc)
            return rc;
    }
    return 0;
}

static void test_10000(tdir *t, stor *s, stor_ioctx *io)
{
    char id[64];
    const char *key = "huge";
    t_upload(s, key, -1, id);
    fake_parts_op f = {.base = {.apply = fake_parts_apply}, .key = key, .id = id, .n = 10000};
    CHECK_RC(stor__commit_wait(s, &f.base), 0);
    tarn_arena *a = tarn_arena_create(0);
    uint64_t t0 = tarn_mono_ns();
    stor_part_list pl;
    CHECK_RC(t_parts(s, a, key, id, 0, STOR_MP_MAX_PARTS, &pl), 0);
    CHECK(pl.n == 10000);
    CHECK_RC(t_complete(io, key, id, pl.parts, pl.n), 0);
    double ms = (double)(tarn_mono_ns() - t0) / 1e6;
    printf("complete of 10000 parts (list + manifest + commit): %.1f ms\n", ms);
    CHECK(ms < 1000);
    stor_layout ml = t_manifest(s, key);
    CHECK(t_set_files(t, &ml) == 6 && ml.size > 10000 * STOR_PART_ENTRY);
    stor_object o;
    stor_get *g;
    uint64_t fst, lst;
    uint32_t count;
    t0 = tarn_mono_ns();
    CHECK_RC(stor_get_open(io, a, B, key, strlen(key), NULL, &o, &g), 0);
    CHECK(o.size == 10000ull * 5 * MiB);
    CHECK_RC(stor_get_part(g, 10000, &fst, &lst, &count), 0);
    CHECK(count == 10000 && fst == 9999ull * 5 * MiB && lst == o.size - 1);
    stor_get_close(g);
    printf("open of the 10000-part version: %.1f ms\n", (double)(tarn_mono_ns() - t0) / 1e6);
    tcb c = {0};
    CHECK_RC(stor_object_delete(s, L.w, B, key, strlen(key), cb_done, &c), 0);
    loop_until(&c.done);
    t_gc(s);
    CHECK(stor__data_referenced(s, pl.parts[9999].data_id) == 0);
    CHECK(stor__data_referenced(s, ml.data_id) == 0 && t_set_files(t, &ml) == 0);
    tarn_arena_destroy(a);
}

int main(void)
{
    tdir t;
    stor_ioctx *io;
    stor *s = t_start(&t, &io, B);
    test_complete(&t, s, io);
    test_manifest(&t, s, io);
    test_heal_uploading(&t, s, io);
    test_replace_held(&t, s, io);
    test_no_manifest(&t, s, io);
    test_abort_expire(&t, s, io);
    test_list(s);
    test_10000(&t, s, io);
    test_complete_no_quorum(&t, s, io);
    stor_ioctx_destroy(io);
    stor_close(s);
    t_end(&t);
    TEST_EXIT("test_multipart");
}
