/*
 * test_heal.c — offline heal and scrub (storage/heal.c) on a throwaway
 * store with six disks, 4+2. Objects are written through the real put
 * pipeline (the loop and helpers below are those of test_put_get.c); then
 * shard files are removed, truncated and bit-flipped, the store is closed
 * and stor_heal run as `tarn heal` would, and after two more disks are
 * lost every object must still read back byte-identical.
 */
#include "testlib.c"

#include "erasure/erasure.h"
#include "storage/object_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>

#include "ioloop.c"

/* ---- Heal ------------------------------------------------------------------- */

static const uint64_t sizes[] = {1, 5000, 70000, MiB + 3, 4 * MiB + 1, 9 * MiB + 7};
#define N_OBJ (sizeof(sizes) / sizeof(sizes[0]))

static void key_of(int i, char *out) { sprintf(out, "obj-%d", i); }

static void put_all(stor_ioctx *io)
{
    char key[32];
    for (size_t i = 0; i < N_OBJ; i++) {
        key_of((int)i, key);
        CHECK_RC(t_put(io, "bkt", key, 100 + i, sizes[i]), 0);
    }
}

static int get_all(stor_ioctx *io)
{
    char key[32];
    int bad = 0;
    for (size_t i = 0; i < N_OBJ; i++) {
        key_of((int)i, key);
        int rc = t_get(io, "bkt", key, 100 + i, 0, sizes[i] - 1);
        if (rc) {
            fprintf(stderr, "get %s: %s\n", key, rc == 1 ? "wrong bytes" : tarn_err_name(rc));
            bad++;
        }
    }
    return bad;
}

static uint32_t header_len_of(const char *path)
{
    unsigned char fixed[ERC_SHARD_FIXED_LEN];
    uint32_t hlen = 0;
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK(pread(fd, fixed, sizeof(fixed), 0) == (ssize_t)sizeof(fixed));
    CHECK_RC(erc_shard_header_peek(fixed, sizeof(fixed), &hlen, NULL), 0);
    close(fd);
    return hlen;
}

/* Close and open the store again, as a stop and start would. */
static stor *reopen(tdir *t, stor *s, stor_ioctx **io)
{
    stor_ioctx_destroy(*io);
    stor_close(s);
    s = topen(t);
    CHECK_RC(stor_ioctx_create(s, &L.ring, L.w, io), 0);
    return s;
}

static stor_heal_stats heal(stor *s)
{
    stor_heal_stats st;
    CHECK_RC(stor_heal(s, &st), 0);
    fprintf(stderr, "heal: %" PRIu64 " objects, %" PRIu64 " shards, %" PRIu64
            " blocks checked; %" PRIu64 " bad blocks, %" PRIu64 " bad shards, %" PRIu64
            " rebuilt, %" PRIu64 " unrecoverable, %" PRIu64 " write errors\n",
            st.objects, st.shards_checked, st.blocks_checked, st.blocks_bad, st.shards_bad,
            st.shards_rebuilt, st.unrecoverable, st.write_errors);
    return st;
}

/* The disk holding shard i of obj-j. */
static int disk_of(stor *s, int j, int i)
{
    char key[32];
    key_of(j, key);
    return t_layout(s, "bkt", key).disk[i];
}

/* Scrub: a flipped byte in one block is found and that shard rebuilt. */
static void test_scrub(tdir *t, stor **s, stor_ioctx **io)
{
    stor_heal_stats st = heal(*s);
    CHECK(st.objects == N_OBJ);
    CHECK(st.shards_bad == 0 && st.shards_rebuilt == 0 && st.unrecoverable == 0);
    stor_layout l = t_layout(*s, "bkt", "obj-5"); /* 9 MiB: several stripes */
    char path[600];
    t_shard_path(t, &l, 2, path, sizeof(path));
    uint32_t hlen = header_len_of(path);
    flip_byte(path, hlen + (uint64_t)l.block_size + 12345); /* stripe 1 */
    *s = reopen(t, *s, io);
    st = heal(*s);
    CHECK(st.blocks_bad == 1);
    CHECK(st.shards_bad == 1);
    CHECK(st.shards_rebuilt == 1);
    CHECK(st.unrecoverable == 0 && st.write_errors == 0);
    st = heal(*s);
    CHECK(st.blocks_bad == 0 && st.shards_bad == 0 && st.shards_rebuilt == 0);
    CHECK(get_all(*io) == 0);
}

/* Heal: one disk emptied, a block corrupted and a shard truncated on two
 * other disks; heal; then two more disks lose everything. */
static void test_heal(tdir *t, stor **s, stor_ioctx **io)
{
    int emptied = disk_of(*s, 0, 0);
    /* Corrupt: obj-4's shard on a disk other than emptied; truncate obj-3's
     * shard on a third disk. */
    stor_layout l4 = t_layout(*s, "bkt", "obj-4"), l3 = t_layout(*s, "bkt", "obj-3");
    int ci = 0, ti = 0;
    while (l4.disk[ci] == emptied)
        ci++;
    while (l3.disk[ti] == emptied || l3.disk[ti] == l4.disk[ci])
        ti++;
    char path[600];
    t_shard_path(t, &l4, ci, path, sizeof(path));
    flip_byte(path, header_len_of(path) + 7);
    t_shard_path(t, &l3, ti, path, sizeof(path));
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK(truncate(path, sb.st_size / 2) == 0);
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/data", t->disk[emptied]);
    rm_rf(dir);
    snprintf(dir, sizeof(dir), "%s/tmp", t->disk[emptied]);
    rm_rf(dir);
    *s = reopen(t, *s, io);
    stor_heal_stats st = heal(*s);
    CHECK(st.objects == N_OBJ);
    CHECK(st.shards_bad == N_OBJ + 2);    /* every object's shard on the emptied disk */
    CHECK(st.shards_rebuilt == N_OBJ + 2);
    CHECK(st.unrecoverable == 0 && st.write_errors == 0);
    CHECK(t_data_files(t) == (int)N_OBJ * T_DISKS);
    st = heal(*s);
    CHECK(st.shards_bad == 0 && st.shards_rebuilt == 0);
    /* Lose the two disks that hold neither healed shard. */
    int lost = 0;
    for (int d = 0; d < T_DISKS && lost < 2; d++) {
        if (d == emptied || d == l4.disk[ci] || d == l3.disk[ti])
            continue;
        snprintf(dir, sizeof(dir), "%s/data", t->disk[d]);
        rm_rf(dir);
        lost++;
    }
    CHECK(lost == 2);
    *s = reopen(t, *s, io);
    CHECK(get_all(*io) == 0);
    /* With three disks gone heal reports what it cannot rebuild. */
    for (int d = 0; d < T_DISKS; d++)
        if (d != emptied && d != l4.disk[ci] && d != l3.disk[ti]) {
            snprintf(dir, sizeof(dir), "%s/data", t->disk[d]);
            rm_rf(dir);
        }
    snprintf(dir, sizeof(dir), "%s/data", t->disk[emptied]);
    rm_rf(dir);
    *s = reopen(t, *s, io);
    st = heal(*s);
    CHECK(st.unrecoverable == N_OBJ);
    CHECK(st.shards_rebuilt == 0);
}

/* Disk status: removed, replaced by a file, foreign format. */
static void test_disks_status(tdir *t)
{
    stor_disk_status ds[T_DISKS];
    CHECK(stor_disks_status(t->disks, T_DISKS, ds) == T_DISKS);
    rm_rf(t->disk[1]);
    rm_rf(t->disk[3]);
    FILE *f = fopen(t->disk[3], "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK(stor_disks_status(t->disks, T_DISKS, ds) == T_DISKS - 2);
    CHECK(!ds[1].online && strstr(ds[1].why, "missing"));
    CHECK(!ds[3].online && strstr(ds[3].why, "not a directory"));
    CHECK(ds[0].online && ds[2].online && ds[4].online && ds[5].online);
}

int main(void)
{
    tdir t;
    stor_ioctx *io;
    stor *s = t_start(&t, &io, "bkt");
    put_all(io);
    CHECK(get_all(io) == 0);
    test_scrub(&t, &s, &io);
    test_heal(&t, &s, &io);
    stor_ioctx_destroy(io);
    stor_close(s);
    test_disks_status(&t);
    t_end(&t);
    if (failures)
        fprintf(stderr, "%d failures\n", failures);
    return failures ? 1 : 0;
}
