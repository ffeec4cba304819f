/*
 * test_health.c — the store's runtime view of its disks and its fault
 * counters (storage/health.c), as the data path reports them: a disk
 * unusable when a worker starts, a disk removed under a running put, its
 * return (the re-check, at most every STOR_DISK_RECHECK_NS), reads that
 * decode around a bad block, and several workers reporting one disk.
 */
#include "testlib.c"

#include "erasure/erasure.h"
#include "storage/object_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>

#include "ioloop.c"

static int disk_online(stor *s, int i, stor_disk_status *st)
{
    CHECK_RC(stor_disk_runtime(s, i, st), 0);
    return st->online;
}

static void all_online(stor *s)
{
    stor_disk_status st;
    for (int i = 0; i < T_DISKS; i++) {
        CHECK(disk_online(s, i, &st));
        CHECK(!strcmp(st.why, "ok") && st.since > 0);
    }
}

static void make_disk_dirs(tdir *t, int d)
{
    char p[200];
    snprintf(p, sizeof(p), "%s/tmp", t->disk[d]);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof(p), "%s/data", t->disk[d]);
    CHECK(mkdir(p, 0755) == 0);
}

/* A disk removed while running: the put that meets it marks it offline
 * (why names the step and errno), counts the dropped shard; back in place,
 * the next put after the re-check delay brings it online. */
static void test_lost_and_back(tdir *t, stor *s, stor_ioctx *io)
{
    stor_disk_status st;
    stor_counters c0, c;
    all_online(s);
    stor_counters_get(s, &c0);
    int d = t_layout(s, "bkt", "first").disk[0];
    rm_rf(t->disk[d]);
    CHECK_RC(t_put(io, "bkt", "second", 2, 70000), 0);
    CHECK(!disk_online(s, d, &st));
    CHECK(strstr(st.why, "failed") && strstr(st.why, "No such file or directory"));
    stor_counters_get(s, &c);
    CHECK(c.put_dropped == c0.put_dropped + 1 && c.read_bad == c0.read_bad);
    CHECK_RC(t_put(io, "bkt", "third", 3, 5000), 0); /* skips the disk: dropped too */
    stor_counters_get(s, &c);
    CHECK(c.put_dropped == c0.put_dropped + 2);
    for (int i = 0; i < T_DISKS; i++)
        CHECK(i == d || disk_online(s, i, &st));

    CHECK(mkdir(t->disk[d], 0755) == 0);
    make_disk_dirs(t, d);
    usleep((useconds_t)(STOR_DISK_RECHECK_NS / 1000) + 100000);
    CHECK_RC(t_put(io, "bkt", "fourth", 4, 5000), 0);
    CHECK(disk_online(s, d, &st) && !strcmp(st.why, "ok"));
    stor_counters_get(s, &c);
    CHECK(c.put_dropped == c0.put_dropped + 2);
}

/* A flipped byte in one block: the read decodes around it and counts it. */
static void test_read_bad(tdir *t, stor *s, stor_ioctx *io)
{
    stor_layout l = t_layout(s, "bkt", "first");
    char path[600];
    t_shard_path(t, &l, 0, path, sizeof(path));
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    struct stat sb;
    CHECK(fstat(fd, &sb) == 0);
    unsigned char byte = 0;
    CHECK(pread(fd, &byte, 1, sb.st_size - 10) == 1);
    byte ^= 0xff;
    CHECK(pwrite(fd, &byte, 1, sb.st_size - 10) == 1);
    close(fd);
    stor_counters c0, c;
    stor_counters_get(s, &c0);
    CHECK_RC(t_get(io, "bkt", "first", 1, 0, 70000 - 1), 0);
    stor_counters_get(s, &c);
    CHECK(c.read_bad == c0.read_bad + 1 && c.put_dropped == c0.put_dropped);
}

/* Unusable when a worker starts (a file in its place): offline at once;
 * a second worker that finds it usable again brings it back. */
static void test_at_start(tdir *t, stor *s)
{
    stor_ioctx *io2;
    rm_rf(t->disk[4]);
    FILE *f = fopen(t->disk[4], "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK_RC(stor_ioctx_create(s, &L.ring, L.w, &io2), 0);
    stor_disk_status st;
    CHECK(!disk_online(s, 4, &st) && strstr(st.why, "not usable at start"));
    CHECK(strstr(st.why, "Not a directory") != NULL);
    stor_ioctx_destroy(io2);
    CHECK(unlink(t->disk[4]) == 0 && mkdir(t->disk[4], 0755) == 0);
    make_disk_dirs(t, 4);
    CHECK_RC(stor_ioctx_create(s, &L.ring, L.w, &io2), 0);
    CHECK(disk_online(s, 4, &st));
    stor_ioctx_destroy(io2);
    CHECK_RC(stor_disk_runtime(s, T_DISKS, &st), TARN_E_INVAL);
}

/* Poll disk i's runtime state for up to 4 s until it is `online`. */
static int wait_state(stor *s, int i, int online, stor_disk_status *st)
{
    for (int n = 0; n < 80; n++) {
        if (disk_online(s, i, st) == online)
            return 1;
        usleep(50 * 1000);
    }
    return 0;
}

static void moved(tdir *t, int d, int away)
{
    char p[300];
    snprintf(p, sizeof(p), "%s.away", t->disk[d]);
    CHECK(rename(away ? t->disk[d] : p, away ? p : t->disk[d]) == 0);
}

/* The disk watch (disk_watch_sec 1) with no I/O at all: a folder moved away
 * goes offline and comes back; it never brings back a disk the data path
 * took offline, and the data path's reason replaces the watch's. */
static void test_watch(void)
{
    tdir td, *t = &td;
    tdir_init(t);
    stor_config c = tconfig(t);
    c.disk_watch_sec = 1;
    stor *s = NULL;
    const char *detail = NULL;
    CHECK_RC(stor_open(&c, &s, &detail), 0);
    if (!s)
        return;
    stor_disk_status st;
    all_online(s);
    moved(t, 2, 1);
    CHECK(wait_state(s, 2, 0, &st) && strstr(st.why, "missing"));
    moved(t, 2, 0);
    CHECK(wait_state(s, 2, 1, &st));
    stor__health_disk_down(s, 3, "write failed: Input/output error");
    usleep(2500 * 1000); /* two watch rounds find the folder fine */
    CHECK(!disk_online(s, 3, &st) && strstr(st.why, "Input/output error"));
    stor__health_disk_up(s, 3);
    moved(t, 1, 1);
    CHECK(wait_state(s, 1, 0, &st));
    stor__health_disk_down(s, 1, "open failed: No such file or directory");
    CHECK(!disk_online(s, 1, &st) && strstr(st.why, "open failed"));
    moved(t, 1, 0);
    usleep(2500 * 1000);
    CHECK(!disk_online(s, 1, &st));
    stor__health_disk_up(s, 1);
    all_online(s);
    stor_close(s);
    tdir_free(t);
}

int main(void)
{
    tdir t;
    stor_ioctx *io;
    stor *s = t_start(&t, &io, "bkt");
    CHECK_RC(t_put(io, "bkt", "first", 1, 70000), 0);
    test_read_bad(&t, s, io);
    test_lost_and_back(&t, s, io);
    test_at_start(&t, s);
    stor_ioctx_destroy(io);
    stor_close(s);
    test_watch();
    t_end(&t);
    TEST_EXIT("test_health");
}
