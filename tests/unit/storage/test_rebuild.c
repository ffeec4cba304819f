/*
 * test_rebuild.c — metadata rebuild (storage/rebuild.c): objects of 0 B,
 * 1 B and 5 MiB+3 in two buckets, one key overwritten, and multipart
 * objects (one of four parts with a checksum, a multipart object over a
 * plain one and the reverse, an upload never completed, one manifest shard
 * deleted and one bit-flipped, a manifest with fewer than k shards, one
 * whose part has fewer than k, and one whose content is not a version
 * record); GC removes nothing meanwhile, so replaced
 * versions' shards are still on the disks. The store is closed, its
 * RocksDB folder deleted and stor_rebuild_meta run as `tarn rebuild-meta`
 * would; reopened, every object reads back byte-identical with its ETag,
 * content type, user metadata (and parts count and checksum), the newest
 * version of each key wins, the replaced ones are collected, and heal
 * finds the rebuilt layouts whole. The loop and helpers are ioloop.c's.
 */
#include "testlib.c"

#include "erasure/erasure.h"
#include "storage/object_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>

#include "ioloop.c"
/* ---- Rebuild ---------------------------------------------------------------- */

typedef struct tobj {
    const char *bucket, *key;
    uint64_t seed, size;
    const char *ctype, *mval;
    char etag[80];
    int64_t mtime;
} tobj;

static tobj objs[] = {
    {"alpha", "empty", 11, 0, "text/plain", "zero", "", 0},
    {"alpha", "one", 12, 1, "application/x-one", "uno", "", 0},
    {"alpha", "dir/big", 13, 5 * MiB + 3, "video/mp4", "big one", "", 0},
    {"beta", "over", 14, 1000, "text/old", "old", "", 0},
    {"beta", "small", 15, 4097, "image/png", "pic", "", 0},
};
#define N_OBJ (sizeof(objs) / sizeof(objs[0]))
/* Overwrites objs[3] ("beta/over"). */
static tobj over = {"beta", "over", 16, 2 * MiB + 5, "text/new", "new", "", 0};
/* A plain object under a multipart one, and one over a multipart one. */
static tobj plain_under_mp = {"beta", "mp-over-plain", 18, 3000, "text/p", "p", "", 0};
static tobj plain_over_mp = {"beta", "plain-over-mp", 19, 7000, "text/q", "q", "", 0};

static int t_put_meta(stor_ioctx *io, tobj *o)
{
    stor_put *p;
    int rc = stor_put_begin(io, o->bucket, o->key, strlen(o->key), o->size, &p);
    if (rc)
        return rc;
    t_feed(p, o->seed, o->size, 64 * 1024 + 17);
    stor_meta_pair mp[2] = {{"color", o->mval}, {"x-n", o->key}};
    stor_object meta = {.content_type = o->ctype, .cache_control = "max-age=7", .meta = mp,
                        .n_meta = 2};
    snprintf(meta.etag, sizeof(meta.etag), "%016llx%016llx", (unsigned long long)o->seed,
             (unsigned long long)o->size);
    snprintf(o->etag, sizeof(o->etag), "%s", meta.etag);
    tcb c = {0};
    rc = stor_put_finish(p, &meta, cb_done, &c);
    if (!rc) {
        loop_until(&c.done);
        rc = c.rc;
    }
    if (!rc)
        o->mtime = stor_put_result(p)->mtime_ms;
    stor_put_free(p);
    return rc;
}

/* Read it back whole and check bytes and metadata. 0 or 1. */
static int t_check(stor_ioctx *io, const tobj *o)
{
    static unsigned char got[1 << 20], want[1 << 20];
    tarn_arena *a = tarn_arena_create(0);
    stor_object obj;
    stor_get *g;
    int bad = 0;
    int rc = stor_get_open(io, a, o->bucket, o->key, strlen(o->key), NULL, &obj, &g);
    if (rc) {
        fprintf(stderr, "%s/%s: %s\n", o->bucket, o->key, tarn_err_name(rc));
        tarn_arena_destroy(a);
        return 1;
    }
    bad |= obj.size != o->size;
    bad |= strcmp(obj.etag, o->etag) != 0;
    bad |= !obj.content_type || strcmp(obj.content_type, o->ctype) != 0;
    bad |= !obj.cache_control || strcmp(obj.cache_control, "max-age=7") != 0;
    bad |= obj.n_meta != 2 || strcmp(obj.meta[0].name, "color") ||
           strcmp(obj.meta[0].value, o->mval) || strcmp(obj.meta[1].value, o->key);
    /* The stored time is when the put finished: at most the commit's. */
    bad |= obj.mtime_ms > o->mtime || obj.mtime_ms < o->mtime - 60000;
    bad |= strcmp(obj.version_id, "null") != 0;
    if (bad)
        fprintf(stderr, "%s/%s: metadata differs\n", o->bucket, o->key);
    if (!bad && obj.size && (rc = stor_get_range(g, 0, obj.size - 1)) == 0) {
        uint64_t pos = 0;
        while (!rc && pos < obj.size) {
            tcb r = {0};
            ssize_t k = stor_get_read(g, got, sizeof(got), cb_flag, &r);
            if (k < 0)
                rc = (int)k;
            else if (k == 0)
                loop_until(&r.writable);
            else {
                gen(o->seed, pos, want, (size_t)k);
                if (memcmp(got, want, (size_t)k))
                    rc = 1;
                pos += (uint64_t)k;
            }
        }
        if (rc)
            fprintf(stderr, "%s/%s: bytes differ (%d)\n", o->bucket, o->key, rc);
        bad |= rc != 0;
    }
    stor_get_close(g);
    tarn_arena_destroy(a);
    return bad;
}

/* ---- Multipart objects --------------------------------------------------------- */

typedef struct tmp {
    tobj o;                  /* the object as t_check sees it */
    uint64_t part[4];        /* part sizes; the bytes are gen(seed, offset) */
    uint32_t n;
    int complete;            /* 0: the upload is left in progress */
    stor_layout lay;         /* after completion */
} tmp;

static tmp mps[] = {
    {{"gamma", "mp/four", 21, 0, "video/x-mp", "four", "", 0},
     {5 * MiB + 1, 5 * MiB + 7, 5 * MiB, 1000}, 4, 1, {0}},
    {{"gamma", "mp/two", 22, 0, "text/x-two", "two", "", 0}, {5 * MiB + 3, 1}, 2, 1, {0}},
    {{"beta", "mp-over-plain", 23, 0, "text/x-mop", "mop", "", 0}, {5 * MiB, 10}, 2, 1, {0}},
    {{"beta", "plain-over-mp", 24, 0, "text/x-pom", "pom", "", 0}, {5 * MiB, 100}, 2, 1, {0}},
    {{"gamma", "mp/lost", 25, 0, "text/x-lost", "lost", "", 0}, {3000}, 1, 1, {0}},
    {{"gamma", "mp/partless", 26, 0, "text/x-pl", "pl", "", 0}, {5 * MiB, 50}, 2, 1, {0}},
    {{"gamma", "mp/pending", 27, 0, "text/x-pend", "pend", "", 0}, {5 * MiB, 70}, 2, 0, {0}},
};
enum { MP_FOUR, MP_TWO, MP_OVER_PLAIN, MP_UNDER_PLAIN, MP_LOST, MP_PARTLESS, MP_PENDING,
       N_MP };
#define MP_CRC32 "AAECAw==-4" /* any value: storage keeps what it is given */

static int t_mp_part(stor_ioctx *io, tmp *m, const char *id, uint32_t num, uint64_t base)
{
    stor_put *p;
    uint64_t size = m->part[num - 1];
    int rc = stor_part_begin(io, m->o.bucket, m->o.key, strlen(m->o.key), id, num, size, &p);
    if (rc)
        return rc;
    t_feed_at(p, m->o.seed, base, size, 1 << 16);
    stor_object meta = {0};
    snprintf(meta.etag, sizeof(meta.etag), "%032x", num);
    return t_finish(p, &meta);
}

/* Upload (content headers and metadata at create), parts, complete. */
static int t_put_mp(stor *s, stor_ioctx *io, tmp *m)
{
    stor_meta_pair mp[2] = {{"color", m->o.mval}, {"x-n", m->o.key}};
    stor_upload u = {.checksum_alg = STOR_CK_CRC32};
    u.meta = (stor_object){.content_type = m->o.ctype, .cache_control = "max-age=7",
                           .meta = mp, .n_meta = 2};
    tcb c = {0};
    const char *key = m->o.key;
    int rc = stor_multipart_create(s, L.w, m->o.bucket, key, strlen(key), &u, &u, cb_done, &c);
    if (!rc)
        loop_until(&c.done);
    rc = rc ? rc : c.rc;
    m->o.size = 0;
    for (uint32_t i = 0; !rc && i < m->n; i++) {
        rc = t_mp_part(io, m, u.upload_id, i + 1, m->o.size);
        m->o.size += m->part[i];
    }
    if (rc || !m->complete)
        return rc;
    tarn_arena *a = tarn_arena_create(0);
    stor_part_list pl;
    rc = stor_multipart_parts(s, a, m->o.bucket, key, strlen(key), u.upload_id, 0, 10, &pl);
    stor_object meta = u.meta, out;
    snprintf(meta.etag, sizeof(meta.etag), "%016llx%016llx-%u", (unsigned long long)m->o.seed,
             (unsigned long long)m->o.size, m->n);
    snprintf(m->o.etag, sizeof(m->o.etag), "%s", meta.etag);
    meta.checksum[STOR_CK_CRC32] = MP_CRC32;
    tcb d = {0};
    if (!rc)
        rc = stor_multipart_complete(io, m->o.bucket, key, strlen(key), u.upload_id, pl.parts,
                                     pl.n, &meta, &out, cb_done, &d);
    if (!rc)
        loop_until(&d.done);
    rc = rc ? rc : d.rc;
    tarn_arena_destroy(a);
    if (!rc) {
        m->o.mtime = out.mtime_ms;
        m->lay = t_layout(s, m->o.bucket, key);
    }
    return rc;
}

/* t_check plus what only a multipart object has: the checksum, the
 * parts count and each part's range. 0 or 1. */
static int t_check_mp(stor_ioctx *io, const tmp *m)
{
    int bad = t_check(io, &m->o);
    tarn_arena *a = tarn_arena_create(0);
    stor_object obj;
    stor_get *g;
    if (stor_get_open(io, a, m->o.bucket, m->o.key, strlen(m->o.key), NULL, &obj, &g)) {
        tarn_arena_destroy(a);
        return 1;
    }
    bad |= !obj.checksum[STOR_CK_CRC32] || strcmp(obj.checksum[STOR_CK_CRC32], MP_CRC32);
    uint64_t base = 0, first, last;
    uint32_t count;
    for (uint32_t i = 0; i < m->n; i++) {
        bad |= stor_get_part(g, i + 1, &first, &last, &count) != 0 || count != m->n ||
               first != base || last != base + m->part[i] - 1;
        base += m->part[i];
    }
    bad |= stor_get_part(g, m->n + 1, &first, &last, &count) != TARN_E_INVALID_RANGE;
    if (bad)
        fprintf(stderr, "%s/%s: multipart details differ\n", m->o.bucket, m->o.key);
    stor_get_close(g);
    tarn_arena_destroy(a);
    return bad;
}

/* Every key as it must read after the rebuild. */
static int check_all(stor_ioctx *io)
{
    int bad = 0;
    for (size_t i = 0; i < N_OBJ; i++)
        bad += t_check(io, i == 3 ? &over : &objs[i]);
    bad += t_check(io, &plain_over_mp);
    for (int i = MP_FOUR; i <= MP_OVER_PLAIN; i++)
        bad += t_check_mp(io, &mps[i]);
    return bad;
}

static int t_absent(stor *s, const char *bucket, const char *key)
{
    tarn_arena *a = tarn_arena_create(0);
    stor_object o;
    int rc = stor_object_get(s, a, bucket, key, strlen(key), NULL, &o);
    tarn_arena_destroy(a);
    return rc == TARN_E_NO_SUCH_KEY;
}

static void no_remove(stor *s, const stor_layout *l) { (void)s, (void)l; }

/* A manifest whose content is not a version record (random bytes with
 * good block checksums): the commit stores it as a plain version, so its
 * files reach data/ like any manifest's. */
static int garbage_commit(void *ctx, const stor_layout *l, stor_done_fn done, void *arg)
{
    stor *s = ctx;
    stor_object meta = {.size = l->size};
    return stor__version_commit(s, L.w, "gamma", "garbage", 7, &meta, l, NULL, done, arg);
}

static void t_put_garbage_manifest(stor *s, stor_ioctx *io)
{
    stor_put *p;
    CHECK_RC(stor_put_begin(io, "gamma", "garbage", 7, 777, &p), 0);
    stor__put_as_manifest(p, garbage_commit, s);
    t_feed(p, 29, 777, 100);
    stor_object meta = {0};
    tcb c = {0};
    CHECK_RC(stor_put_finish(p, &meta, cb_done, &c), 0);
    loop_until(&c.done);
    CHECK_RC(c.rc, 0);
    stor_put_free(p);
}

/* Damage the shards as the test needs: one manifest shard deleted and one
 * bit-flipped (decoded around), a manifest cut to k-1 shards and a part
 * cut to k-1 (both objects skipped). */
static void damage(tdir *t)
{
    char path[600];
    stor_layout ml, pl;
    CHECK_RC(stor__layout_manifest(&mps[MP_FOUR].lay, &ml), 0);
    t_shard_path(t, &ml, 0, path, sizeof(path));
    CHECK(unlink(path) == 0);
    CHECK_RC(stor__layout_manifest(&mps[MP_TWO].lay, &ml), 0);
    t_shard_path(t, &ml, 0, path, sizeof(path)); /* the one holding the bytes */
    unsigned char fixed[ERC_SHARD_FIXED_LEN], c;
    uint32_t hlen = 0;
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0 && pread(fd, fixed, sizeof(fixed), 0) == (ssize_t)sizeof(fixed));
    CHECK_RC(erc_shard_header_peek(fixed, sizeof(fixed), &hlen, NULL), 0);
    CHECK(pread(fd, &c, 1, hlen + 5) == 1);
    c ^= 0x20;
    CHECK(pwrite(fd, &c, 1, hlen + 5) == 1);
    close(fd);
    CHECK_RC(stor__layout_manifest(&mps[MP_LOST].lay, &ml), 0);
    CHECK_RC(stor__layout_part(&mps[MP_PARTLESS].lay, 1, &pl, NULL), 0);
    for (int i = 0; i < 3; i++) {
        t_shard_path(t, &ml, i + 2, path, sizeof(path));
        CHECK(unlink(path) == 0);
        t_shard_path(t, &pl, i, path, sizeof(path));
        CHECK(unlink(path) == 0);
    }
}

/* How many keys LIST shows in a bucket. */
static size_t list_count(stor *s, const char *bucket)
{
    tarn_arena *a = tarn_arena_create(0);
    stor_list_params lp = {.max_keys = 1000};
    stor_list_result lr;
    size_t n = 0;
    if (stor_object_list(s, a, bucket, &lp, &lr) == 0)
        n = lr.n;
    tarn_arena_destroy(a);
    return n;
}

/* Everything the rebuild is to find, written with GC removing nothing, so
 * the replaced versions' shards stay on the disks as if GC had not run.
 * The layouts of the replaced versions go to *replaced. */
static void write_all(stor *s, stor_ioctx *io, stor_layout *replaced)
{
    stor__gc_set_remove(s, no_remove);
    CHECK_RC(t_bucket(s, "alpha"), 0);
    CHECK_RC(t_bucket(s, "beta"), 0);
    CHECK_RC(t_bucket(s, "gamma"), 0);
    for (size_t i = 0; i < N_OBJ; i++)
        CHECK_RC(t_put_meta(io, &objs[i]), 0);
    replaced[0] = t_layout(s, "beta", "over");
    CHECK_RC(t_put_meta(io, &over), 0);
    CHECK_RC(t_put_meta(io, &plain_under_mp), 0);
    replaced[1] = t_layout(s, "beta", "mp-over-plain");
    for (int i = 0; i < N_MP; i++)
        CHECK_RC(t_put_mp(s, io, &mps[i]), 0);
    replaced[2] = mps[MP_UNDER_PLAIN].lay;
    loop_for_ms(5); /* "newest" is by the millisecond */
    CHECK_RC(t_put_meta(io, &plain_over_mp), 0);
    t_put_garbage_manifest(s, io);
    CHECK(check_all(io) == 0);
}

static int rebuild(tdir *t, stor_rebuild_stats *st)
{
    stor_config c = tconfig(t);
    const char *detail = NULL;
    int rc = stor_rebuild_meta(&c, "rebuilt-owner", st, &detail);
    if (rc)
        fprintf(stderr, "rebuild: %s (%s)\n", tarn_err_name(rc), detail ? detail : "-");
    fprintf(stderr, "rebuild: %" PRIu64 " files, %" PRIu64 " shards, %" PRIu64 " bad, %" PRIu64
            " sets, %" PRIu64 " buckets, %" PRIu64 " objects (%" PRIu64 " multipart of %" PRIu64
            " manifests), %" PRIu64 " superseded, %" PRIu64 " too few, %" PRIu64
            " uncompleted parts\n", st->files, st->shards, st->bad, st->sets, st->buckets,
            st->objects, st->multipart, st->manifests, st->superseded, st->too_few,
            st->parts_uncompleted);
    return rc;
}

/* The rebuilt store: every key reads as before; the damaged multipart
 * objects are gone; the replaced versions are collected; heal finds the
 * rebuilt layouts (manifests included) and repairs the damaged manifests. */
static void check_rebuilt(tdir *t, stor *s, stor_ioctx *io, const stor_layout *replaced)
{
    stor_bucket b;
    CHECK_RC(stor_bucket_get(s, "alpha", &b), 0);
    CHECK(strcmp(b.owner, "rebuilt-owner") == 0);
    CHECK_RC(stor_bucket_get(s, "beta", &b), 0);
    CHECK(check_all(io) == 0);
    CHECK(list_count(s, "alpha") == 3);
    CHECK(list_count(s, "beta") == 4);
    CHECK(list_count(s, "gamma") == 2);
    CHECK(t_absent(s, "gamma", "mp/lost") && t_absent(s, "gamma", "mp/partless") &&
          t_absent(s, "gamma", "mp/pending") && t_absent(s, "gamma", "garbage"));
    stor_layout ml, pl;
    stor_layout l = t_layout(s, "gamma", "mp/four");
    CHECK_RC(stor__layout_manifest(&l, &ml), 0);
    CHECK(stor__data_referenced(s, ml.data_id) == 1);
    CHECK(l.n_parts == 4 && !memcmp(l.parts, mps[MP_FOUR].lay.parts, 4 * STOR_PART_ENTRY));
    CHECK(!memcmp(l.manifest, mps[MP_FOUR].lay.manifest, STOR_PART_ENTRY));
    CHECK_RC(stor__layout_part(&l, 3, &pl, NULL), 0);
    CHECK(stor__data_referenced(s, pl.data_id) == 1);
    /* The replaced versions (and the replaced multipart's manifest). */
    for (int i = 0; i < 5 && stor__gc_step(s) != 0; i++)
        loop_for_ms(20);
    CHECK(t_set_files(t, &replaced[0]) == 0 && t_set_files(t, &replaced[1]) == 0);
    CHECK_RC(stor__layout_manifest(&replaced[2], &ml), 0);
    CHECK_RC(stor__layout_part(&replaced[2], 0, &pl, NULL), 0);
    CHECK(t_set_files(t, &ml) == 0 && t_set_files(t, &pl) == 0);
    stor_heal_stats hs;
    CHECK_RC(stor_heal(s, &hs), 0);
    CHECK(hs.shards_rebuilt == 2 && hs.unrecoverable == 0);
    CHECK_RC(stor_heal(s, &hs), 0);
    CHECK(hs.shards_bad == 0);
}

int main(void)
{
    tdir t;
    stor_ioctx *io;
    stor *s = t_start(&t, &io, NULL);
    stor_layout replaced[3];
    write_all(s, io, replaced);
    stor_ioctx_destroy(io);
    stor_close(s);

    damage(&t);
    rm_rf(t.meta);
    stor_rebuild_stats st;
    CHECK_RC(rebuild(&t, &st), 0);
    CHECK(st.buckets == 3);
    CHECK(st.objects == N_OBJ + 4 && st.multipart == 3);
    CHECK(st.manifests == 6); /* mp/lost's has k-1 shards */
    CHECK(st.bad == 6 && st.too_few == 2); /* the garbage manifest's shards */
    CHECK(st.parts_uncompleted == 1 + 2 + 2); /* mp/lost, mp/partless, mp/pending */
    CHECK(st.superseded == 3);
    CHECK(st.sets == 8 + 7 + 15); /* plain, manifests, parts */

    /* A second rebuild refuses: the meta folder is not empty. */
    stor_config c = tconfig(&t);
    const char *detail;
    CHECK_RC(stor_rebuild_meta(&c, "x", &st, &detail), TARN_E_INVAL);

    s = topen(&t);
    CHECK_RC(stor_ioctx_create(s, &L.ring, L.w, &io), 0);
    check_rebuilt(&t, s, io, replaced);
    /* The rebuilt store takes writes: a new version of a rebuilt key, and
     * of a rebuilt multipart one, whose parts and manifest GC removes. */
    over.seed = 17;
    CHECK_RC(t_put_meta(io, &over), 0);
    stor_layout two = t_layout(s, "gamma", "mp/two"), ml;
    CHECK_RC(stor__layout_manifest(&two, &ml), 0);
    CHECK(t_set_files(&t, &ml) == 6);
    tobj plain_two = {"gamma", "mp/two", 28, 100, "text/r", "r", "", 0};
    CHECK_RC(t_put_meta(io, &plain_two), 0);
    for (int i = 0; i < 5 && stor__gc_step(s) != 0; i++)
        loop_for_ms(20);
    CHECK(t_set_files(&t, &ml) == 0);
    CHECK(t_check(io, &over) == 0 && t_check(io, &plain_two) == 0);
    stor_ioctx_destroy(io);
    stor_close(s);

    t_end(&t);
    if (failures)
        fprintf(stderr, "%d failures\n", failures);
    return failures ? 1 : 0;
}
