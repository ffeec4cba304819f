/*
 * test_rebuild.c — metadata rebuild (storage/rebuild.c): objects of 0 B,
 * 1 B and 5 MiB+3 in two buckets, one key overwritten; the store is
 * closed, its RocksDB folder deleted and stor_rebuild_meta run as
 * `tarn rebuild-meta` would; reopened, every object reads back
 * byte-identical with its ETag, content type and user metadata, and the
 * overwritten key holds the newer bytes. The loop and helpers are those of
 * test_heal.c.
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

static int check_all(stor_ioctx *io)
{
    int bad = 0;
    for (size_t i = 0; i < N_OBJ; i++)
        bad += t_check(io, i == 3 ? &over : &objs[i]);
    return bad;
}

static int copy_file(const char *from, const char *to)
{
    static char buf[1 << 16];
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    int rc = in && out ? 0 : -1;
    size_t n;
    while (!rc && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
    if (in)
        fclose(in);
    if (out && fclose(out))
        rc = -1;
    return rc;
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

int main(void)
{
    tdir t;
    tdir_init(&t);
    loop_init();
    stor *s = topen(&t);
    stor_ioctx *io;
    CHECK_RC(stor_ioctx_create(s, &L.ring, L.w, &io), 0);
    CHECK_RC(t_bucket(s, "alpha"), 0);
    CHECK_RC(t_bucket(s, "beta"), 0);
    for (size_t i = 0; i < N_OBJ; i++)
        CHECK_RC(t_put_meta(io, &objs[i]), 0);
    /* Keep a copy of the version about to be replaced. */
    char old_path[6][600], old_copy[6][600];
    stor_layout ol = t_layout(s, "beta", "over");
    for (int i = 0; i < 6; i++) {
        snprintf(old_path[i], sizeof(old_path[i]), "%s/data/%.2s/%s", t.disk[ol.disk[i]],
                 ol.data_id, ol.data_id);
        snprintf(old_copy[i], sizeof(old_copy[i]), "%s/old-%d", t.root, i);
        CHECK(copy_file(old_path[i], old_copy[i]) == 0);
    }
    CHECK_RC(t_put_meta(io, &over), 0);
    CHECK(check_all(io) == 0);
    stor_ioctx_destroy(io);
    stor_close(s);

    /* The replaced version's shards, as if GC had not run yet: the
     * rebuild must pick the newer of the two data ids for the key. */
    for (int i = 0; i < 6; i++)
        CHECK(copy_file(old_copy[i], old_path[i]) == 0);
    rm_rf(t.meta);
    stor_config c = tconfig(&t);
    stor_rebuild_stats st;
    const char *detail = NULL;
    int rc = stor_rebuild_meta(&c, "rebuilt-owner", &st, &detail);
    if (rc)
        fprintf(stderr, "rebuild: %s (%s)\n", tarn_err_name(rc), detail ? detail : "-");
    CHECK_RC(rc, 0);
    fprintf(stderr, "rebuild: %" PRIu64 " files, %" PRIu64 " shards, %" PRIu64 " bad, %" PRIu64
            " sets, %" PRIu64 " buckets, %" PRIu64 " objects, %" PRIu64 " superseded\n",
            st.files, st.shards, st.bad, st.sets, st.buckets, st.objects, st.superseded);
    CHECK(st.buckets == 2);
    CHECK(st.objects == N_OBJ);
    CHECK(st.bad == 0 && st.too_few == 0 && st.parts == 0);
    CHECK(st.superseded == 1);
    CHECK(st.sets == st.objects + st.superseded);

    /* A second rebuild refuses: the meta folder is not empty. */
    CHECK_RC(stor_rebuild_meta(&c, "x", &st, &detail), TARN_E_INVAL);

    s = topen(&t);
    CHECK_RC(stor_ioctx_create(s, &L.ring, L.w, &io), 0);
    stor_bucket b;
    CHECK_RC(stor_bucket_get(s, "alpha", &b), 0);
    CHECK(strcmp(b.owner, "rebuilt-owner") == 0);
    CHECK_RC(stor_bucket_get(s, "beta", &b), 0);
    CHECK(check_all(io) == 0);
    CHECK(list_count(s, "alpha") == 3);
    CHECK(list_count(s, "beta") == 2);
    /* The rebuilt store takes writes: a new version of a rebuilt key. */
    over.seed = 17;
    CHECK_RC(t_put_meta(io, &over), 0);
    CHECK(check_all(io) == 0);
    stor_ioctx_destroy(io);
    stor_close(s);

    io_uring_queue_exit(&L.ring);
    stor_waker_destroy(L.w);
    tdir_free(&t);
    if (failures)
        fprintf(stderr, "%d failures\n", failures);
    return failures ? 1 : 0;
}
