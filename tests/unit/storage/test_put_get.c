/*
 * test_put_get.c — the object data path (storage/ioctx.c, placement.c,
 * put.c, get.c, sweep.c) on a throwaway store with six disks, 4+2: real
 * puts and gets through a tiny single-threaded loop that does what a
 * worker's loop does (one io_uring, the waker's eventfd read through it,
 * every other completion dispatched to its tarn_ioreq).
 *
 * Object bytes come from a generator (byte = f(seed, offset)), so large
 * objects are checked without holding them in memory.
 * TARN_TEST_BENCH=1 also times a 64 MiB put and get (docs/storage-io.md).
 */
#include "testlib.c"

#include "erasure/erasure.h"
#include "storage/object_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>

#include "ioloop.c"

/* ---- Tests ----------------------------------------------------------------- */

static const uint64_t sizes[] = {0, 1, 4095, 4096, 4097, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1,
                                 5 * MiB + 123};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static void key_of(char *out, size_t i) { sprintf(out, "obj/%zu", i); }

/* Full reads and ranges at 4 KiB, block and stripe boundaries. */
static void test_sizes(stor_ioctx *io)
{
    char key[32];
    for (size_t i = 0; i < N_SIZES; i++) {
        uint64_t z = sizes[i];
        key_of(key, i);
        CHECK_RC(t_put(io, "bkt", key, i + 1, z), 0);
        if (!z) {
            CHECK_RC(t_get(io, "bkt", key, i + 1, 0, 0), 0);
            continue;
        }
        CHECK_RC(t_get(io, "bkt", key, i + 1, 0, z - 1), 0);
        uint64_t B = stor__block_size(z, 4), edges[] = {0, 1, 4095, 4096, B - 1, B,
                                                         4 * B - 1, 4 * B, z / 2, z - 1};
        for (size_t a = 0; a < sizeof(edges) / sizeof(edges[0]); a++) {
            if (edges[a] >= z)
                continue;
            CHECK_RC(t_get(io, "bkt", key, i + 1, edges[a], edges[a]), 0);
            CHECK_RC(t_get(io, "bkt", key, i + 1, edges[a], z - 1), 0);
            uint64_t e = edges[a] + 8191 < z ? edges[a] + 8191 : z - 1;
            CHECK_RC(t_get(io, "bkt", key, i + 1, edges[a], e), 0);
        }
    }
}

/* Hide (move out) every shard file of the test objects on disks a and b. */
static void hide(tdir *t, stor *s, int a, int b, int back)
{
    char key[32], from[400], to[400];
    for (size_t i = 0; i < N_SIZES; i++) {
        key_of(key, i);
        stor_layout l = t_layout(s, "bkt", key);
        for (int sh = 0; sh < 6; sh++) {
            if (l.disk[sh] != a && l.disk[sh] != b)
                continue;
            t_shard_path(t, &l, sh, from, sizeof(from));
            snprintf(to, sizeof(to), "%s/hidden-%s-%d", t->root, l.data_id, sh);
            CHECK(rename(back ? to : from, back ? from : to) == 0);
        }
    }
}

static void test_two_missing(tdir *t, stor *s, stor_ioctx *io)
{
    char key[32];
    for (int a = 0; a < 6; a++)
        for (int b = a + 1; b < 6; b++) {
            hide(t, s, a, b, 0);
            for (size_t i = 0; i < N_SIZES; i++) {
                key_of(key, i);
                uint64_t z = sizes[i];
                CHECK_RC(t_get(io, "bkt", key, i + 1, 0, z ? z - 1 : 0), 0);
                if (z > 10)
                    CHECK_RC(t_get(io, "bkt", key, i + 1, z / 3, z - 2), 0);
            }
            hide(t, s, a, b, 1);
        }
}

/* A flipped byte in a data block, and one in a header: found, read around. */
static void test_bitrot(tdir *t, stor *s, stor_ioctx *io)
{
    char path[400];
    stor_io_stats before, after;
    stor__io_stats(io, &before);
    CHECK_RC(t_put(io, "bkt", "rot", 99, 5 * MiB + 123), 0);
    stor_layout l = t_layout(s, "bkt", "rot");
    uint32_t hlen = erc_shard_header_len(3, 3, 32, 0, 2);
    t_shard_path(t, &l, 1, path, sizeof(path));
    flip_byte(path, hlen + MiB + 777); /* shard 1, stripe 1 */
    t_shard_path(t, &l, 0, path, sizeof(path));
    flip_byte(path, 100); /* shard 0's header */
    CHECK_RC(t_get(io, "bkt", "rot", 99, 0, 5 * MiB + 122), 0);
    CHECK_RC(t_get(io, "bkt", "rot", 99, 4 * MiB + 5, 4 * MiB + 5), 0);
    stor__io_stats(io, &after);
    CHECK(after.heal_events >= before.heal_events + 2);
    /* A third bad shard in stripe 1 is one too many: reported, not wrong. */
    t_shard_path(t, &l, 2, path, sizeof(path));
    flip_byte(path, hlen + MiB + 5);
    t_shard_path(t, &l, 3, path, sizeof(path));
    flip_byte(path, hlen + MiB + 5);
    CHECK_RC(t_get(io, "bkt", "rot", 99, 4 * MiB, 4 * MiB + 10), TARN_E_CORRUPT);
    CHECK_RC(t_get(io, "bkt", "rot", 99, 0, 10), 0); /* stripe 0: still good */
}

/* Aborts at several points leave no files behind. */
static void test_abort(tdir *t, stor_ioctx *io)
{
    int before = t_data_files(t);
    stor_put *p;
    CHECK_RC(stor_put_begin(io, "bkt", "ab1", 3, 10 * MiB, &p), 0);
    stor_put_free(p); /* opens in flight */
    CHECK_RC(stor_put_begin(io, "bkt", "ab2", 3, 10 * MiB, &p), 0);
    t_feed(p, 5, 6 * MiB, 1 << 20);
    stor_put_free(p); /* writes in flight */
    CHECK_RC(stor_put_begin(io, "bkt", "ab3", 3, 100, &p), 0);
    t_feed(p, 5, 50, 50);
    stor_object meta = {0};
    CHECK_RC(stor_put_finish(p, &meta, cb_done, NULL), TARN_E_INCOMPLETE_BODY);
    stor_put_free(p);
    loop_for_ms(300);
    CHECK(t_data_files(t) == before);
    tarn_arena *a = tarn_arena_create(0);
    stor_object o;
    stor_get *g;
    CHECK_RC(stor_get_open(io, a, "bkt", "ab2", 3, NULL, &o, &g), TARN_E_NO_SUCH_KEY);
    tarn_arena_destroy(a);
}

/* Closing a get with reads in flight. */
static void test_get_close_early(stor_ioctx *io)
{
    tarn_arena *a = tarn_arena_create(0);
    stor_object o;
    stor_get *g;
    CHECK_RC(stor_get_open(io, a, "bkt", "obj/8", 5, NULL, &o, &g), 0);
    CHECK_RC(stor_get_range(g, 0, o.size - 1), 0);
    stor_get_close(g);
    loop_for_ms(100);
    tarn_arena_destroy(a);
}

/* The 256 MiB put never holds more than STOR_PUT_STRIPES stripe buffers. */
static void test_memory(stor *s)
{
    stor_ioctx *io;
    CHECK_RC(stor_ioctx_create(s, &L.ring, L.w, &io), 0);
    CHECK_RC(t_put(io, "bkt", "big", 77, 256ull * MiB + 5), 0);
    stor_io_stats st;
    stor__io_stats(io, &st);
    CHECK(st.bufs_peak <= STOR_PUT_STRIPES);
    CHECK_RC(t_get(io, "bkt", "big", 77, 0, 256ull * MiB + 4), 0);
    CHECK_RC(t_get(io, "bkt", "big", 77, 100 * MiB + 3, 101 * MiB), 0);
    stor__io_stats(io, &st);
    CHECK(st.bufs_peak <= STOR_PUT_STRIPES);
    CHECK(st.bufs_used == 0);
    printf("256 MiB put+get: peak %llu stripe buffers\n", (unsigned long long)st.bufs_peak);
    stor_ioctx_destroy(io);
}

/* The sweep: an uncommitted tmp file goes, a committed one moves to data/. */
static stor *test_sweep(tdir *t, stor *s, stor_ioctx **io)
{
    stor_layout l = t_layout(s, "bkt", "obj/6");
    char from[400], to[400], junk[400];
    t_shard_path(t, &l, 2, from, sizeof(from));
    snprintf(to, sizeof(to), "%s/tmp/%s", t->disk[l.disk[2]], l.data_id);
    CHECK(rename(from, to) == 0);
    snprintf(junk, sizeof(junk), "%s/tmp/0123456789abcdef0123456789abcdef", t->disk[3]);
    int fd = open(junk, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    close(fd);
    stor_ioctx_destroy(*io);
    stor_close(s);
    s = topen(t);
    CHECK(access(junk, F_OK) != 0);
    CHECK(access(to, F_OK) != 0);
    CHECK(access(from, F_OK) == 0);
    CHECK_RC(stor_ioctx_create(s, &L.ring, L.w, io), 0);
    CHECK_RC(t_get(*io, "bkt", "obj/6", 7, 0, sizes[6] - 1), 0);
    return s;
}

/* Two disks gone (rm -rf): reads decode, puts still succeed. Three gone:
 * 503 and nothing left behind. */
static void test_disks_gone(tdir *t, stor *s, stor_ioctx *io)
{
    rm_rf(t->disk[0]);
    rm_rf(t->disk[4]);
    char key[32];
    for (size_t i = 0; i < N_SIZES; i++) {
        key_of(key, i);
        CHECK_RC(t_get(io, "bkt", key, i + 1, 0, sizes[i] ? sizes[i] - 1 : 0), 0);
    }
    CHECK_RC(t_put(io, "bkt", "degraded", 11, 5 * MiB + 1), 0);
    CHECK_RC(t_put(io, "bkt", "degraded", 11, 5 * MiB + 1), 0); /* health known now */
    CHECK_RC(t_get(io, "bkt", "degraded", 11, 0, 5 * MiB), 0);
    rm_rf(t->disk[2]);
    int before = t_data_files(t);
    /* The first put finds out through its opens, the next at begin. */
    CHECK_RC(t_put(io, "bkt", "lost", 12, 3 * MiB), TARN_E_SERVICE_UNAVAILABLE);
    loop_for_ms(200);
    CHECK(t_data_files(t) == before);
    CHECK_RC(t_put(io, "bkt", "lost", 12, 3 * MiB), TARN_E_SERVICE_UNAVAILABLE);
    stor_ioctx *io2;
    CHECK_RC(stor_ioctx_create(s, &L.ring, L.w, &io2), 0);
    CHECK_RC(t_put(io2, "bkt", "lost", 12, 100), TARN_E_SERVICE_UNAVAILABLE);
    stor_ioctx_destroy(io2);
    CHECK(t_data_files(t) == before);
}

/* Pure pipeline throughput: the same 1 MiB fed again and again, reads not
 * compared (the checks above do that). Printed, never asserted. */
/* ---- The read cache ------------------------------------------------------- */

/* Unlink every shard file of l (data/ and tmp/). */
static void t_remove_set(tdir *t, const stor_layout *l)
{
    char p[600];
    for (int i = 0; i < l->k + l->m; i++) {
        t_shard_path(t, l, i, p, sizeof(p));
        unlink(p);
        snprintf(p, sizeof(p), "%s/tmp/%s", t->disk[l->disk[i]], l->data_id);
        unlink(p);
    }
    CHECK(t_set_files(t, l) == 0);
}

static int t_cached(stor *s, const char *data_id)
{
    stor_cache_entry *e = stor__cache_get(s->rcache, data_id);
    stor__cache_entry_unref(e);
    return e != NULL;
}

/* Read once (a range: the whole object is read and cached), then served
 * with every shard file gone, whole and in ranges. */
static void cache_small(tdir *t, stor *s, stor_ioctx *io, const char *key, uint64_t seed,
                        uint64_t z)
{
    CHECK_RC(t_put(io, "cache", key, seed, z), 0);
    stor_layout l = t_layout(s, "cache", key);
    CHECK(!t_cached(s, l.data_id)); /* puts do not fill */
    CHECK_RC(t_get(io, "cache", key, seed, z / 2, z / 2), 0);
    CHECK(t_cached(s, l.data_id));
    t_remove_set(t, &l);
    CHECK_RC(t_get(io, "cache", key, seed, 0, z - 1), 0);
    CHECK_RC(t_get(io, "cache", key, seed, z - 1, z - 1), 0);
    if (z > 3)
        CHECK_RC(t_get(io, "cache", key, seed, 1, z / 3), 0);
}

/* Over the limit: read, its files removed, and the read fails. */
static void cache_not_large(tdir *t, stor *s, stor_ioctx *io, const char *key, uint64_t z)
{
    CHECK_RC(t_put(io, "cache", key, 3, z), 0);
    CHECK_RC(t_get(io, "cache", key, 3, 0, z - 1), 0);
    stor_layout l = t_layout(s, "cache", key);
    CHECK(!t_cached(s, l.data_id));
    t_remove_set(t, &l);
    CHECK_RC(t_get(io, "cache", key, 3, 0, z - 1), TARN_E_CORRUPT);
}

static void gc_all(stor *s)
{
    for (int i = 0; i < 50 && stor__gc_step(s) != 0; i++)
        loop_for_ms(20);
}

/* An overwrite reads its new bytes; delete and GC drop the old ids. */
static void cache_replaced(tdir *t, stor *s, stor_ioctx *io)
{
    (void)t;
    CHECK_RC(t_put(io, "cache", "ow", 10, 5000), 0);
    CHECK_RC(t_get(io, "cache", "ow", 10, 0, 4999), 0);
    stor_layout old = t_layout(s, "cache", "ow");
    CHECK(t_cached(s, old.data_id));
    CHECK_RC(t_put(io, "cache", "ow", 11, 6000), 0);
    CHECK_RC(t_get(io, "cache", "ow", 11, 0, 5999), 0);
    CHECK_RC(t_get(io, "cache", "ow", 11, 100, 200), 0);
    stor_layout now = t_layout(s, "cache", "ow");
    CHECK(t_cached(s, now.data_id));
    gc_all(s);
    CHECK(!t_cached(s, old.data_id));
    tcb c = {0};
    CHECK_RC(stor_object_delete(s, L.w, "cache", "ow", 2, cb_done, &c), 0);
    loop_until(&c.done);
    CHECK_RC(t_get(io, "cache", "ow", 11, 0, 5999), TARN_E_NO_SUCH_KEY);
    gc_all(s);
    CHECK(!t_cached(s, now.data_id));
}

/* A block read around (bitrot) is decoded before the bytes are cached. */
static void cache_decoded(tdir *t, stor *s, stor_ioctx *io)
{
    char path[600];
    CHECK_RC(t_put(io, "cache", "rot", 12, 100000), 0);
    stor_layout l = t_layout(s, "cache", "rot");
    t_shard_path(t, &l, 0, path, sizeof(path));
    flip_byte(path, erc_shard_header_len(5, 3, 32, 0, 1) + 5);
    CHECK_RC(t_get(io, "cache", "rot", 12, 0, 10), 0);
    t_remove_set(t, &l);
    CHECK_RC(t_get(io, "cache", "rot", 12, 0, 99999), 0);
}

static void test_read_cache(void)
{
    tdir t;
    tdir_init(&t);
    stor_config c = tconfig(&t);
    c.read_cache_bytes = 16 * MiB;
    stor *s = NULL;
    CHECK_RC(stor_open(&c, &s, NULL), 0);
    stor_ioctx *io;
    CHECK_RC(stor_ioctx_create(s, &L.ring, L.w, &io), 0);
    CHECK_RC(t_bucket(s, "cache"), 0);
    cache_small(&t, s, io, "one", 1, 1);
    cache_small(&t, s, io, "4k", 2, 4096);
    cache_small(&t, s, io, "max", 4, STOR_CACHE_OBJECT_MAX);
    cache_not_large(&t, s, io, "over", STOR_CACHE_OBJECT_MAX + 1);
    cache_not_large(&t, s, io, "big", 5 * MiB);
    CHECK_RC(t_put(io, "cache", "empty", 1, 0), 0);
    CHECK_RC(t_get(io, "cache", "empty", 1, 0, 0), 0);
    cache_replaced(&t, s, io);
    cache_decoded(&t, s, io);
    stor_ioctx_destroy(io);
    stor_close(s);
    tdir_free(&t);
}

static void bench(stor_ioctx *io)
{
    const uint64_t z = 64ull * MiB;
    static unsigned char buf[1 << 20];
    gen(5, 0, buf, sizeof(buf));
    for (int r = 0; r < 3; r++) {
        uint64_t t0 = tarn_mono_ns();
        stor_put *p;
        CHECK_RC(stor_put_begin(io, "bkt", "bench", 5, z, &p), 0);
        for (uint64_t off = 0; off < z;) {
            tcb w = {0};
            size_t n = stor_put_write(p, buf, sizeof(buf), cb_flag, &w);
            off += n;
            if (n < sizeof(buf)) {
                loop_until(&w.writable);
                off += stor_put_write(p, buf + n, sizeof(buf) - n, cb_flag, &w);
            }
        }
        stor_object meta = {0};
        tcb c = {0};
        CHECK_RC(stor_put_finish(p, &meta, cb_done, &c), 0);
        loop_until(&c.done);
        stor_put_free(p);
        uint64_t t1 = tarn_mono_ns();
        tarn_arena *a = tarn_arena_create(0);
        stor_object o;
        stor_get *g;
        CHECK_RC(stor_get_open(io, a, "bkt", "bench", 5, NULL, &o, &g), 0);
        CHECK_RC(stor_get_range(g, 0, z - 1), 0);
        for (uint64_t got = 0; got < z;) {
            tcb rd = {0};
            ssize_t k = stor_get_read(g, buf, sizeof(buf), cb_flag, &rd);
            if (k == 0)
                loop_until(&rd.writable);
            got += k > 0 ? (uint64_t)k : 0;
        }
        stor_get_close(g);
        tarn_arena_destroy(a);
        uint64_t t2 = tarn_mono_ns();
        printf("64 MiB: put %.0f MB/s, get %.0f MB/s\n", z / ((t1 - t0) / 1e3),
               z / ((t2 - t1) / 1e3));
    }
}

int main(void)
{
    tdir t;
    stor_ioctx *io;
    stor *s = t_start(&t, &io, "bkt");
    CHECK_RC(t_put(io, "nobkt", "k", 1, 10), TARN_E_NO_SUCH_BUCKET);
    if (getenv("TARN_TEST_BENCH"))
        bench(io);
    test_sizes(io);
    test_two_missing(&t, s, io);
    test_bitrot(&t, s, io);
    test_abort(&t, io);
    test_get_close_early(io);
    test_memory(s);
    s = test_sweep(&t, s, &io);
    test_disks_gone(&t, s, io);
    test_read_cache();
    stor_ioctx_destroy(io);
    stor_close(s);
    t_end(&t);
    if (failures)
        fprintf(stderr, "%d failures\n", failures);
    return failures ? 1 : 0;
}
