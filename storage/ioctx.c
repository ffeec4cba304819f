/*
 * ioctx.c — one worker's data-path context: its io_uring (owned by the
 * worker), its waker, its Reed-Solomon coders, a pool of aligned stripe
 * buffers, cached descriptors of every disk's tmp/ and data/ directories,
 * and the worker's view of which disks are usable. put.c and get.c build on
 * it; nothing here is shared between threads, so nothing is locked. Changes
 * of the disk view and the faults met are reported to the store's shared
 * view (health.c), which the admin interface reads.
 *
 * Why a pool: stripe buffers are megabytes; malloc serves those with
 * mmap/munmap, so every stripe would page-fault afresh. Buffers return to
 * a free list per size and are reused; the pool keeps at most POOL_KEEP per
 * size so an idle worker does not sit on a burst's worth of memory.
 */
#include "storage/object_internal.h"

#include "erasure/erasure.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL_SIZES 8 /* distinct buffer sizes kept */
#define POOL_KEEP 8  /* free buffers kept per size */
#define CODERS 4

typedef struct pool_class {
    size_t bytes;
    int n_free;
    void *free[POOL_KEEP];
} pool_class;

typedef struct disk_state {
    int fd[2];             /* STOR_DIR_TMP, STOR_DIR_DATA; -1 when unusable */
    int bad;               /* a write-side failure was seen */
    uint64_t checked_ns;   /* last failure or re-check */
} disk_state;

struct stor_ioctx {
    stor *s;
    struct io_uring *ring;
    stor_waker *w;
    struct {
        int k, m;
        erc_coder *c;
    } coders[CODERS];
    pool_class pool[POOL_SIZES];
    stor_io_stats st;
    int n_disks;
    disk_state disk[STOR_MAX_DISKS];
};

/* ---- Store accessors (the data path's view of stor_open's config) ------- */

int stor__disk_count(const stor *s) { return s->n_disks; }
const char *stor__disk_path(const stor *s, int index) { return s->disk_dirs[index]; }

void stor__ec(const stor *s, int *k, int *m)
{
    *k = s->k;
    *m = s->m;
}

stor *stor__io_store(const stor_ioctx *io) { return io->s; }
stor_waker *stor__io_waker(const stor_ioctx *io) { return io->w; }

/* ---- Disks ----------------------------------------------------------------- */

static void disk_close(disk_state *d)
{
    for (int i = 0; i < 2; i++) {
        if (d->fd[i] >= 0)
            close(d->fd[i]);
        d->fd[i] = -1;
    }
}

/* Plain open(2): runs at ioctx creation and on a re-check of a bad disk at
 * most every few seconds, never per request. 0, or the errno of the step
 * that failed, which *what names. */
static int disk_open(stor_ioctx *io, int i, const char **what)
{
    static const char *const sub[2] = {"tmp", "data"};
    static const char *const step[2] = {"open tmp/", "open data/"};
    disk_state *d = &io->disk[i];
    disk_close(d);
    int err = 0;
    int dfd = open(io->s->disk_dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        err = errno;
        *what = "open";
    }
    for (int j = 0; !err && j < 2; j++) {
        d->fd[j] = openat(dfd, sub[j], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d->fd[j] < 0) {
            err = errno;
            *what = step[j];
        }
    }
    if (!err && faccessat(dfd, "tmp", W_OK, 0) != 0) {
        err = errno;
        *what = "write to tmp/";
    }
    if (dfd >= 0)
        close(dfd);
    if (err)
        disk_close(d);
    d->bad = err != 0;
    d->checked_ns = tarn_mono_ns();
    return err;
}

int stor__io_disk_usable(stor_ioctx *io, int disk)
{
    disk_state *d = &io->disk[disk];
    if (!d->bad)
        return 1;
    if (tarn_mono_ns() - d->checked_ns < STOR_DISK_RECHECK_NS)
        return 0;
    const char *what;
    if (disk_open(io, disk, &what) == 0) {
        stor__health_disk_up(io->s, disk);
        return 1;
    }
    return 0;
}

/* The store's view (health.c) logs the change once for all workers. */
void stor__io_disk_failed(stor_ioctx *io, int disk, const char *what, int err)
{
    disk_state *d = &io->disk[disk];
    if (!d->bad) {
        char why[128];
        snprintf(why, sizeof(why), "%s failed: %s", what, strerror(err));
        stor__health_disk_down(io->s, disk, why);
    }
    d->bad = 1;
    d->checked_ns = tarn_mono_ns();
}

int stor__io_dirfd(stor_ioctx *io, int disk, int which)
{
    return disk >= 0 && disk < io->n_disks ? io->disk[disk].fd[which] : -1;
}

static void heal_note(stor_ioctx *io, const char *data_id, int shard, const char *why)
{
    io->st.heal_events++;
    TARN_WARN("storage: data %s shard %d: %s (to heal)", data_id, shard, why);
    stor__heal_bg_note(io->s, data_id);
}

void stor__io_heal_note(stor_ioctx *io, const char *data_id, int shard, const char *why)
{
    stor__health_count_put_dropped(io->s);
    heal_note(io, data_id, shard, why);
}

void stor__io_read_bad(stor_ioctx *io, const char *data_id, int shard, const char *why)
{
    stor__health_count_read_bad(io->s);
    heal_note(io, data_id, shard, why);
}

void stor__io_count_dropped(stor_ioctx *io) { io->st.shards_dropped++; }

void stor__io_stats(const stor_ioctx *io, stor_io_stats *out) { *out = io->st; }

void stor__io_stats_reset_peak(stor_ioctx *io)
{
    io->st.bufs_peak = io->st.bufs_live;
    io->st.bufs_used_peak = io->st.bufs_used;
}

/* ---- Ring, coders, buffers -------------------------------------------------- */

struct io_uring_sqe *stor__io_sqe(stor_ioctx *io)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(io->ring);
    /* A full submission queue: hand what is queued to the kernel (it
     * copies the SQEs), then there is room. */
    for (int i = 0; !sqe && i < 8; i++) {
        if (io_uring_submit(io->ring) < 0)
            return NULL;
        sqe = io_uring_get_sqe(io->ring);
    }
    return sqe;
}

erc_coder *stor__io_coder(stor_ioctx *io, int k, int m)
{
    int i;
    for (i = 0; i < CODERS && io->coders[i].c; i++)
        if (io->coders[i].k == k && io->coders[i].m == m)
            return io->coders[i].c;
    if (i == CODERS) { /* layouts of older configurations: evict the last */
        i = CODERS - 1;
        erc_coder_destroy(io->coders[i].c);
        io->coders[i].c = NULL;
    }
    if (erc_coder_create(k, m, &io->coders[i].c))
        return NULL;
    io->coders[i].k = k;
    io->coders[i].m = m;
    return io->coders[i].c;
}

static pool_class *pool_find(stor_ioctx *io, size_t bytes)
{
    pool_class *empty = NULL;
    for (int i = 0; i < POOL_SIZES; i++) {
        if (io->pool[i].bytes == bytes)
            return &io->pool[i];
        if (!empty && io->pool[i].n_free == 0)
            empty = &io->pool[i];
    }
    if (empty)
        empty->bytes = bytes; /* reuse a class with nothing pooled */
    return empty;
}

void *stor__io_buf_get(stor_ioctx *io, size_t bytes)
{
    pool_class *pc = pool_find(io, bytes);
    void *b = NULL;
    if (pc && pc->n_free)
        b = pc->free[--pc->n_free];
    else if (posix_memalign(&b, ERC_BLOCK_ALIGN, bytes) == 0) {
        if (++io->st.bufs_live > io->st.bufs_peak)
            io->st.bufs_peak = io->st.bufs_live;
    } else
        return NULL;
    if (++io->st.bufs_used > io->st.bufs_used_peak)
        io->st.bufs_used_peak = io->st.bufs_used;
    return b;
}

void stor__io_buf_put(stor_ioctx *io, void *buf, size_t bytes)
{
    if (!buf)
        return;
    io->st.bufs_used--;
    pool_class *pc = pool_find(io, bytes);
    if (pc && pc->n_free < POOL_KEEP) {
        pc->free[pc->n_free++] = buf;
        return;
    }
    io->st.bufs_live--;
    free(buf);
}

/* ---- Lifetime ----------------------------------------------------------------- */

int stor_ioctx_create(stor *s, struct io_uring *ring, stor_waker *w, stor_ioctx **out)
{
    stor_ioctx *io = calloc(1, sizeof(*io));
    if (!io)
        return TARN_E_NOMEM;
    io->s = s;
    io->ring = ring;
    io->w = w;
    io->n_disks = s->n_disks;
    for (int i = 0; i < io->n_disks; i++) {
        io->disk[i].fd[0] = io->disk[i].fd[1] = -1;
        const char *what;
        int err = disk_open(io, i, &what);
        if (err) {
            char why[128];
            snprintf(why, sizeof(why), "not usable at start (%s: %s)", what, strerror(err));
            stor__health_disk_down(s, i, why);
        } else {
            stor__health_disk_up(s, i); /* a store that outlived an older ioctx */
        }
    }
    if (!stor__io_coder(io, s->k, s->m)) {
        stor_ioctx_destroy(io);
        return TARN_E_NOMEM;
    }
    *out = io;
    return 0;
}

void stor_ioctx_destroy(stor_ioctx *io)
{
    if (!io)
        return;
    for (int i = 0; i < io->n_disks; i++)
        disk_close(&io->disk[i]);
    for (int i = 0; i < CODERS; i++)
        erc_coder_destroy(io->coders[i].c);
    for (int i = 0; i < POOL_SIZES; i++)
        for (int j = 0; j < io->pool[i].n_free; j++)
            free(io->pool[i].free[j]);
    free(io);
}
