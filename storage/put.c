/*
 * put.c — the write pipeline (docs/storage-io.md). Body bytes are copied
 * once, into a stripe buffer of k data blocks; a full stripe gets its m
 * parity blocks and k+m block checksums, and its k+m blocks go to the k+m
 * shard files <disk>/tmp/<data_id> as one IORING_OP_WRITE each. At most
 * STOR_PUT_STRIPES stripe buffers exist per put, so memory is bounded
 * whatever the size; when all are busy, stor_put_write takes fewer bytes
 * and calls writable() once a stripe's writes have landed.
 *
 * Finish writes each shard's header (with the checksum table) into the
 * space reserved at offset 0 (for a one-stripe object together with the
 * block, in one writev), then fdatasyncs every shard and fsyncs every
 * tmp/ directory through the ring, commits the version (commit thread;
 * an UploadPart commits a part record, a CompleteMultipartUpload's
 * manifest commits the completed version), renames the files into data/
 * and calls done.
 *
 * Everything runs on the worker thread. Every SQE carries a put_op; the
 * put counts what is in flight (SQEs and the commit) and takes its next
 * step only when that count is zero, so a put freed early (abort) lives
 * until its last completion and no buffer an SQE uses is ever freed.
 */
#include "storage/object_internal.h"

#include "erasure/erasure.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum op_kind { OP_OPEN, OP_WRITE, OP_HDR, OP_FSYNC, OP_DIRSYNC, OP_RENAME, OP_MKDIR, OP_UNLINK };
enum shard_state { SH_OPENING, SH_OPEN, SH_FAILED, SH_SKIPPED };
enum slot_state { SL_FREE, SL_FILLING, SL_QUEUED, SL_HELD };
enum phase { PH_WRITE, PH_FINISH, PH_SYNC, PH_COMMIT, PH_RENAME, PH_CLEANUP, PH_DONE };

typedef struct put_op {
    tarn_ioreq r; /* first: the loop hands us this pointer */
    stor_put *p;
    uint8_t kind, shard;
    int8_t slot;
    int niov;
    struct iovec iov[2];
    uint64_t off;
} put_op;

typedef struct put_shard {
    int fd, state, direct, hdr_sub, created;
    put_op ctl;                       /* open, fsync, rename, mkdir, unlink */
    put_op dir;                       /* fsync of tmp/ */
    put_op hdr;                       /* header (+ the block of a 1-stripe object) */
    put_op w[STOR_PUT_STRIPES];       /* block writes, one per stripe slot */
} put_shard;

typedef struct put_slot {
    unsigned char *buf;               /* (k+m)·L: block j at j·L */
    uint64_t stripe, fill, data;      /* index, bytes copied, bytes it holds */
    uint32_t len;                     /* L */
    uint32_t todo, sub;               /* shards still to write / submitted */
    int state, pending;
} put_slot;

struct stor_put {
    stor_ioctx *io;
    stor_layout lay;
    erc_layout el;
    erc_coder *coder;
    int n, phase, err, freed, committed, overflow, hdr_ready, n_failed;
    uint32_t hdr_len;
    size_t buf_bytes;
    uint64_t received, next_stripe;
    int inflight;
    put_slot slot[STOR_PUT_STRIPES];
    int cur;                          /* the filling slot, -1 if none */
    unsigned char *crc;               /* n tables of stripes × 4 bytes */
    unsigned char *hdr;               /* n headers of hdr_len bytes */
    void (*writable)(void *);
    void *warg;
    stor_done_fn done;
    void *darg;
    tarn_arena *arena;                /* copies of meta's strings */
    stor_object meta, result;
    char relpath[36];                 /* "xx/<data_id>" under data/ */
    char subdir[3];                   /* "xx" */
    char bucket[ERC_BUCKET_MAX + 1];
    size_t key_len;
    char *key;
    uint32_t part;                    /* > 0: commits as this part of upload_id */
    char upload_id[STOR_UPLOADID_MAX + 1];
    stor_put_commit_fn commit;        /* set: a Complete's manifest, committed by this */
    void *commit_ctx;
    put_shard sh[STOR_MAX_SHARDS];
};

static void step(stor_put *p);
static void op_done(tarn_ioreq *r, int res);

/* ---- Submitting ---------------------------------------------------------- */

static int dirfd_of(stor_put *p, int i, int which)
{
    return stor__io_dirfd(p->io, p->lay.disk[i], which);
}

/* Queue one SQE for op (prepared by prep). A ring that cannot give an SQE
 * is broken: the whole put fails rather than waiting forever. */
static struct io_uring_sqe *op_sqe(stor_put *p, put_op *op, int kind, int shard)
{
    struct io_uring_sqe *sqe = stor__io_sqe(p->io);
    if (!sqe) {
        if (!p->err)
            p->err = TARN_E_IO;
        return NULL;
    }
    op->r.done = op_done;
    op->p = p;
    op->kind = (uint8_t)kind;
    op->shard = (uint8_t)shard;
    io_uring_sqe_set_data(sqe, op);
    p->inflight++;
    return sqe;
}

static void submit_open(stor_put *p, int i)
{
    put_shard *sh = &p->sh[i];
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (sh->direct ? O_DIRECT : 0);
    struct io_uring_sqe *sqe = op_sqe(p, &sh->ctl, OP_OPEN, i);
    if (sqe)
        io_uring_prep_openat(sqe, dirfd_of(p, i, STOR_DIR_TMP), p->lay.data_id, flags, 0644);
}

/* (Re)submit a write of op's remaining iovecs at op->off. */
static void submit_write(stor_put *p, put_op *op)
{
    struct io_uring_sqe *sqe = op_sqe(p, op, op->kind, op->shard);
    if (!sqe)
        return;
    int fd = p->sh[op->shard].fd;
    if (op->niov == 1)
        io_uring_prep_write(sqe, fd, op->iov[0].iov_base, (unsigned)op->iov[0].iov_len, op->off);
    else
        io_uring_prep_writev(sqe, fd, op->iov, (unsigned)op->niov, op->off);
}

static void submit_block(stor_put *p, int s, int i)
{
    put_slot *sl = &p->slot[s];
    put_op *op = &p->sh[i].w[s];
    op->slot = (int8_t)s;
    op->niov = 1;
    op->iov[0].iov_base = sl->buf + (size_t)i * sl->len;
    op->iov[0].iov_len = sl->len;
    op->off = erc_layout_block_offset(&p->el, p->hdr_len, sl->stripe);
    op->kind = OP_WRITE;
    op->shard = (uint8_t)i;
    sl->sub |= 1u << i;
    sl->pending++;
    submit_write(p, op);
}

static void submit_header(stor_put *p, int i)
{
    put_op *op = &p->sh[i].hdr;
    op->slot = -1;
    op->niov = 1;
    op->iov[0].iov_base = p->hdr + (size_t)i * p->hdr_len;
    op->iov[0].iov_len = p->hdr_len;
    if (p->el.stripes == 1) { /* contiguous with block 0: one write */
        put_slot *sl = &p->slot[0];
        op->iov[1].iov_base = sl->buf + (size_t)i * sl->len;
        op->iov[1].iov_len = sl->len;
        op->niov = 2;
    }
    op->off = 0;
    op->kind = OP_HDR;
    op->shard = (uint8_t)i;
    p->sh[i].hdr_sub = 1;
    submit_write(p, op);
}

/* Submit every write that waits only for its shard's open. */
static void pump(stor_put *p)
{
    for (int i = 0; i < p->n; i++) {
        put_shard *sh = &p->sh[i];
        if (sh->state != SH_OPEN)
            continue;
        for (int s = 0; s < STOR_PUT_STRIPES; s++) {
            put_slot *sl = &p->slot[s];
            if (sl->state == SL_QUEUED && (sl->todo & ~sl->sub & (1u << i)))
                submit_block(p, s, i);
        }
        if (p->hdr_ready && !sh->hdr_sub)
            submit_header(p, i);
    }
}

/* ---- Shards and slots ------------------------------------------------------ */

static void slot_release(stor_put *p, put_slot *sl)
{
    stor__io_buf_put(p->io, sl->buf, p->buf_bytes);
    memset(sl, 0, sizeof(*sl));
    sl->state = SL_FREE;
}

static void slot_check(stor_put *p, put_slot *sl)
{
    if (sl->state == SL_QUEUED && sl->pending == 0 && sl->todo == 0)
        slot_release(p, sl);
}

/* A shard's disk failed it: drop the shard; more than m dropped loses the
 * write quorum (k shards), and the put fails with 503. */
static void shard_fail(stor_put *p, int i, const char *what, int err)
{
    put_shard *sh = &p->sh[i];
    if (sh->state == SH_FAILED || sh->state == SH_SKIPPED)
        return;
    sh->state = SH_FAILED;
    p->n_failed++;
    stor__io_disk_failed(p->io, p->lay.disk[i], what, err);
    stor__io_count_dropped(p->io);
    TARN_WARN("storage: put %s: shard %d dropped (%s: %s)", p->lay.data_id, i, what,
              strerror(err));
    for (int s = 0; s < STOR_PUT_STRIPES; s++) {
        p->slot[s].todo &= ~(1u << i);
        slot_check(p, &p->slot[s]);
    }
    if (p->n_failed > p->lay.m && !p->err)
        p->err = TARN_E_SERVICE_UNAVAILABLE;
}

static void shard_close(put_shard *sh)
{
    if (sh->fd >= 0)
        close(sh->fd); /* nothing in flight uses it: callers wait for that */
    sh->fd = -1;
}

static int shard_live(const put_shard *sh) { return sh->state == SH_OPEN; }

/* ---- Completions ------------------------------------------------------------- */

static void on_open(stor_put *p, put_op *op, int res)
{
    put_shard *sh = &p->sh[op->shard];
    if (res == -EINVAL && sh->direct) { /* no O_DIRECT here: buffered */
        sh->created = 1;
        sh->direct = 0;
        submit_open(p, op->shard);
        return;
    }
    if (res < 0) {
        shard_fail(p, op->shard, "open", -res);
        return;
    }
    sh->fd = res;
    sh->created = 1;
    if (sh->state == SH_OPENING && !p->err && !p->freed) {
        sh->state = SH_OPEN;
        return;
    }
    /* Failed or aborted meanwhile: the cleanup unlinks the file. */
    shard_close(sh);
    sh->state = SH_FAILED;
}

/* Short writes continue where they stopped; O_DIRECT keeps them aligned. */
static int write_advance(put_op *op, int res)
{
    size_t left = (size_t)res;
    op->off += left;
    while (op->niov && left >= op->iov[0].iov_len) {
        left -= op->iov[0].iov_len;
        op->iov[0] = op->iov[1];
        op->niov--;
    }
    if (op->niov) {
        op->iov[0].iov_base = (char *)op->iov[0].iov_base + left;
        op->iov[0].iov_len -= left;
    }
    return op->niov > 0;
}

static void on_write(stor_put *p, put_op *op, int res)
{
    if (res == -EAGAIN || res == -EINTR || (res > 0 && write_advance(op, res))) {
        if (p->sh[op->shard].state == SH_OPEN) {
            submit_write(p, op);
            return;
        }
        res = -EIO; /* the shard was dropped meanwhile */
    }
    if (res <= 0)
        shard_fail(p, op->shard, "write", res ? -res : EIO);
    if (op->kind == OP_WRITE) {
        put_slot *sl = &p->slot[op->slot];
        sl->pending--;
        if (res > 0)
            sl->todo &= ~(1u << op->shard);
        slot_check(p, sl);
    }
}

static void on_rename(stor_put *p, put_op *op, int res)
{
    put_shard *sh = &p->sh[op->shard];
    int i = op->shard;
    if (op->kind == OP_RENAME && res == -ENOENT && sh->created == 1) {
        sh->created = 2; /* data/xx/ missing: make it once, then retry */
        struct io_uring_sqe *sqe = op_sqe(p, &sh->ctl, OP_MKDIR, i);
        if (sqe) /* the kernel reads the path at submission: it lives in p */
            io_uring_prep_mkdirat(sqe, dirfd_of(p, i, STOR_DIR_DATA), p->subdir, 0755);
        return;
    }
    if (op->kind == OP_MKDIR && (res == 0 || res == -EEXIST)) {
        struct io_uring_sqe *sqe = op_sqe(p, &sh->ctl, OP_RENAME, i);
        if (sqe)
            io_uring_prep_renameat(sqe, dirfd_of(p, i, STOR_DIR_TMP), p->lay.data_id,
                                   dirfd_of(p, i, STOR_DIR_DATA), p->relpath, 0);
        return;
    }
    /* Not an error: readers fall back to tmp/ and the sweep finishes it. */
    if (res < 0)
        TARN_WARN("storage: put %s: shard %d stays in tmp/ (%s)", p->lay.data_id, i,
                  strerror(-res));
}

static void op_done(tarn_ioreq *r, int res)
{
    put_op *op = (put_op *)r;
    stor_put *p = op->p;
    p->inflight--;
    switch (op->kind) {
    case OP_OPEN: on_open(p, op, res); break;
    case OP_WRITE:
    case OP_HDR: on_write(p, op, res); break;
    case OP_FSYNC:
    case OP_DIRSYNC:
        if (res < 0)
            shard_fail(p, op->shard, op->kind == OP_FSYNC ? "fdatasync" : "fsync tmp/", -res);
        break;
    case OP_RENAME:
    case OP_MKDIR: on_rename(p, op, res); break;
    case OP_UNLINK: break; /* best effort: the sweep removes what is left */
    }
    void (*cb)(void *) = NULL;
    int s_free = 0;
    for (int s = 0; s < STOR_PUT_STRIPES; s++)
        s_free |= p->slot[s].state == SL_FREE;
    if (p->writable && (s_free || p->err) && !p->freed) {
        cb = p->writable;
        p->writable = NULL;
    }
    void *warg = p->warg;
    step(p);
    if (cb) /* last: it may call back into the put */
        cb(warg);
}

/* ---- Phases ---------------------------------------------------------------------- */

static void finish_call(stor_put *p, int rc)
{
    p->phase = PH_DONE;
    if (p->freed) {
        step(p);
        return;
    }
    if (p->done)
        p->done(p->darg, rc); /* may free p: touch nothing after */
}

static void cleanup_start(stor_put *p)
{
    p->phase = PH_CLEANUP;
    for (int i = 0; i < p->n; i++) {
        put_shard *sh = &p->sh[i];
        shard_close(sh);
        if (!sh->created)
            continue;
        struct io_uring_sqe *sqe = op_sqe(p, &sh->ctl, OP_UNLINK, i);
        if (sqe)
            io_uring_prep_unlinkat(sqe, dirfd_of(p, i, STOR_DIR_TMP), p->lay.data_id, 0);
    }
}

static void sync_start(stor_put *p)
{
    p->phase = PH_SYNC;
    for (int s = 0; s < STOR_PUT_STRIPES; s++)
        if (p->slot[s].state != SL_FREE)
            slot_release(p, &p->slot[s]);
    for (int i = 0; i < p->n; i++) {
        put_shard *sh = &p->sh[i];
        if (!shard_live(sh))
            continue;
        struct io_uring_sqe *sqe = op_sqe(p, &sh->ctl, OP_FSYNC, i);
        if (sqe)
            io_uring_prep_fsync(sqe, sh->fd, IORING_FSYNC_DATASYNC);
        /* The directory entry must be durable too, or a crash could lose
         * the file even though its blocks were synced. */
        sqe = op_sqe(p, &sh->dir, OP_DIRSYNC, i);
        if (sqe)
            io_uring_prep_fsync(sqe, dirfd_of(p, i, STOR_DIR_TMP), 0);
    }
}

static void commit_done(void *arg, int rc)
{
    stor_put *p = arg;
    p->inflight--;
    if (rc)
        p->err = rc;
    else
        p->committed = 1;
    step(p);
}

/* The commit this put makes: a version, a part, or a Complete's. */
static int commit_submit(stor_put *p)
{
    stor *s = stor__io_store(p->io);
    stor_waker *w = stor__io_waker(p->io);
    if (p->commit)
        return p->commit(p->commit_ctx, &p->lay, commit_done, p);
    if (p->part)
        return stor__part_commit(s, w, p->bucket, p->key, p->key_len, p->upload_id, p->part,
                                 &p->meta, &p->lay, &p->result, commit_done, p);
    return stor__version_commit(s, w, p->bucket, p->key, p->key_len, &p->meta, &p->lay,
                                &p->result, commit_done, p);
}

static void commit_start(stor_put *p)
{
    p->phase = PH_COMMIT;
    for (int i = 0; i < p->n; i++) {
        shard_close(&p->sh[i]);
        if (!shard_live(&p->sh[i]))
            stor__io_heal_note(p->io, p->lay.data_id, i, "not written at put");
    }
    p->inflight++;
    int rc = commit_submit(p);
    if (rc) {
        p->inflight--;
        p->err = rc;
        cleanup_start(p);
    }
}

static void rename_start(stor_put *p)
{
    p->phase = PH_RENAME;
    for (int i = 0; i < p->n; i++) {
        put_shard *sh = &p->sh[i];
        if (!shard_live(sh))
            continue;
        struct io_uring_sqe *sqe = op_sqe(p, &sh->ctl, OP_RENAME, i);
        if (sqe)
            io_uring_prep_renameat(sqe, dirfd_of(p, i, STOR_DIR_TMP), p->lay.data_id,
                                   dirfd_of(p, i, STOR_DIR_DATA), p->relpath, 0);
    }
}

static void put_destroy(stor_put *p)
{
    for (int s = 0; s < STOR_PUT_STRIPES; s++)
        if (p->slot[s].state != SL_FREE)
            slot_release(p, &p->slot[s]);
    for (int i = 0; i < p->n; i++)
        shard_close(&p->sh[i]);
    tarn_arena_destroy(p->arena);
    free(p->crc);
    free(p->hdr);
    free(p->key);
    free(p);
}

/* The next step, taken when nothing is in flight. Every path ends either
 * waiting for a completion, in done(), or (freed) in put_destroy. */
static void step(stor_put *p)
{
    if (!p->err && !p->freed && p->phase <= PH_FINISH)
        pump(p);
    if (p->inflight)
        return;
    int quit = p->err || (p->freed && !p->committed);
    switch (p->phase) {
    case PH_WRITE:
        if (p->freed)
            cleanup_start(p);
        break;
    case PH_FINISH: quit ? cleanup_start(p) : sync_start(p); break;
    case PH_SYNC:
        if (!quit && p->n - p->n_failed < p->lay.k)
            p->err = quit = TARN_E_SERVICE_UNAVAILABLE;
        quit ? cleanup_start(p) : commit_start(p);
        break;
    case PH_COMMIT: p->committed ? rename_start(p) : cleanup_start(p); break;
    case PH_RENAME: finish_call(p, 0); return;
    case PH_CLEANUP: finish_call(p, p->err ? p->err : TARN_E_IO); return;
    case PH_DONE:
        if (p->freed)
            put_destroy(p);
        return;
    }
    if (!p->inflight && p->phase != PH_WRITE) /* nothing could be submitted */
        step(p);
}

/* ---- Stripes ------------------------------------------------------------------------ */

/* Parity and checksums of a filled stripe; then its writes can go. */
static int stripe_encode(stor_put *p, put_slot *sl)
{
    int k = p->lay.k, n = p->n;
    size_t L = sl->len;
    memset(sl->buf + sl->data, 0, (size_t)k * L - sl->data); /* past the object's end */
    unsigned char *blk[STOR_MAX_SHARDS];
    for (int i = 0; i < n; i++)
        blk[i] = sl->buf + (size_t)i * L;
    int rc = erc_encode(p->coder, (const unsigned char *const *)blk, blk + k, L);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++)
        erc_crc_table_put(p->crc + (size_t)i * p->el.stripes * 4, sl->stripe,
                          erc_block_checksum(blk[i], L));
    return 0;
}

static void stripe_full(stor_put *p, put_slot *sl)
{
    p->cur = -1;
    int rc = stripe_encode(p, sl);
    if (rc) {
        p->err = rc;
        slot_release(p, sl);
        return;
    }
    if (p->el.stripes == 1) { /* written with the header at finish */
        sl->state = SL_HELD;
        return;
    }
    sl->state = SL_QUEUED;
    for (int i = 0; i < p->n; i++)
        if (p->sh[i].state == SH_OPEN || p->sh[i].state == SH_OPENING)
            sl->todo |= 1u << i;
    pump(p);
    slot_check(p, sl);
}

/* The slot to copy into: the filling one, or a free one with a buffer. */
static put_slot *slot_take(stor_put *p)
{
    if (p->cur >= 0)
        return &p->slot[p->cur];
    for (int s = 0; s < STOR_PUT_STRIPES; s++) {
        put_slot *sl = &p->slot[s];
        if (sl->state != SL_FREE)
            continue;
        sl->buf = stor__io_buf_get(p->io, p->buf_bytes);
        if (!sl->buf)
            return NULL; /* out of memory: wait for a slot to come back */
        sl->state = SL_FILLING;
        sl->stripe = p->next_stripe++;
        sl->len = erc_layout_block_len(&p->el, sl->stripe);
        sl->data = erc_layout_stripe_data(&p->el, sl->stripe);
        sl->fill = 0;
        p->cur = s;
        return sl;
    }
    return NULL;
}

size_t stor_put_write(stor_put *p, const void *data, size_t n, void (*writable)(void *arg),
                      void *arg)
{
    if (p->phase != PH_WRITE)
        return n;
    uint64_t left = p->lay.size - p->received;
    size_t want = n, taken = 0;
    if (want > left) { /* refused, and finish will say so */
        p->overflow = 1;
        want = (size_t)left;
    }
    if (p->err) { /* the put will fail: swallow the body quickly */
        p->received += want;
        return n;
    }
    while (taken < want) {
        put_slot *sl = slot_take(p);
        if (!sl) {
            p->writable = writable;
            p->warg = arg;
            return taken;
        }
        size_t c = want - taken;
        if (c > sl->data - sl->fill)
            c = (size_t)(sl->data - sl->fill);
        memcpy(sl->buf + sl->fill, (const char *)data + taken, c);
        sl->fill += c;
        taken += c;
        p->received += c;
        if (sl->fill == sl->data)
            stripe_full(p, sl);
    }
    return want < n ? n : taken;
}

/* ---- Begin, finish, free ------------------------------------------------------------ */

static int put_alloc(stor_ioctx *io, const char *bucket, const char *key, size_t key_len,
                     uint64_t size, stor_put **out)
{
    int k, m;
    stor__ec(stor__io_store(io), &k, &m);
    stor_put *p = calloc(1, sizeof(*p));
    if (!p)
        return TARN_E_NOMEM;
    for (int i = 0; i < STOR_MAX_SHARDS; i++)
        p->sh[i].fd = -1; /* put_destroy may run before placement: never close(0) */
    *out = p;
    p->io = io;
    p->n = k + m;
    p->cur = -1;
    p->lay.k = (uint8_t)k;
    p->lay.m = (uint8_t)m;
    p->lay.size = size;
    p->lay.block_size = stor__block_size(size, k);
    int rc = erc_layout_init(&p->el, k, m, p->lay.block_size, size);
    if (rc)
        return rc;
    p->buf_bytes = (size_t)p->n * p->lay.block_size;
    /* Room for the rebuild record (headers_build fills the padding). */
    p->hdr_len = erc_shard_header_len(strlen(bucket), key_len, 32, STOR_SHARD_META_MIN,
                                      p->el.stripes);
    p->coder = stor__io_coder(io, k, m);
    p->key = malloc(key_len + 1);
    p->crc = calloc((size_t)p->n, p->el.stripes * 4 + 1);
    if (!p->hdr_len || !p->coder || !p->key || !p->crc)
        return p->hdr_len ? TARN_E_NOMEM : TARN_E_INVALID_ARGUMENT;
    memcpy(p->key, key, key_len);
    p->key[key_len] = 0;
    p->key_len = key_len;
    strcpy(p->bucket, bucket);
    return 0;
}

static int data_id_new(char *out)
{
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return TARN_E_IO;
    tarn_hex(rnd, sizeof(rnd), out);
    return 0;
}

int stor_put_begin(stor_ioctx *io, const char *bucket, const char *key, size_t key_len,
                   uint64_t size, stor_put **out)
{
    *out = NULL;
    size_t blen = strlen(bucket);
    if (blen < 1 || blen > ERC_BUCKET_MAX || key_len < 1 || key_len > ERC_KEY_MAX)
        return TARN_E_INVALID_ARGUMENT;
    stor_bucket b;
    int rc = stor_bucket_get(stor__io_store(io), bucket, &b);
    stor_put *p = NULL;
    uint32_t unusable = 0;
    if (!rc)
        rc = put_alloc(io, bucket, key, key_len, size, &p);
    if (!rc)
        rc = stor__place(io, bucket, key, key_len, p->lay.k, p->lay.m, p->lay.disk, &unusable);
    if (!rc)
        rc = data_id_new(p->lay.data_id);
    if (rc) {
        if (p)
            put_destroy(p);
        return rc;
    }
    stor__data_relpath(p->lay.data_id, p->relpath);
    memcpy(p->subdir, p->relpath, 2);
    for (int i = 0; i < p->n; i++) {
        put_shard *sh = &p->sh[i];
        sh->fd = -1;
        sh->direct = 1;
        sh->state = (unusable >> i) & 1 ? SH_SKIPPED : SH_OPENING;
        p->n_failed += sh->state == SH_SKIPPED;
        if (sh->state == SH_OPENING)
            submit_open(p, i);
    }
    *out = p;
    return 0;
}

/* Deep copy of the caller's meta: it is committed only after the fsyncs. */
static int meta_copy(stor_put *p, const stor_object *in)
{
    if (!(p->arena = tarn_arena_create(1024)))
        return TARN_E_NOMEM;
    int rc = stor__object_copy(p->arena, in, &p->meta);
    p->meta.size = p->lay.size; /* storage's to fill: the declared, written size */
    return rc;
}

/* The meta blob of every shard header (storage.h, "Metadata rebuild"):
 * the version record as it will be committed, minus the identity, plus
 * the time and, for a part, its upload and number, for a manifest its
 * mark. It takes all the room the header has before its padding, so
 * header_len stays what the blocks were written after. A record that does
 * not fit is left out. */
static unsigned char *meta_blob(stor_put *p, size_t *len)
{
    size_t fixed = ERC_SHARD_FIXED_LEN + strlen(p->bucket) + p->key_len + 32 +
                   4 * (size_t)p->el.stripes + 4;
    size_t room = p->hdr_len > fixed ? p->hdr_len - fixed : 0;
    if (room > ERC_META_MAX)
        room = ERC_META_MAX;
    unsigned char *blob = room >= 4 ? calloc(1, room) : NULL;
    if (!blob)
        return NULL;
    tarn_buf rec = {0};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int rc = stor__version_encode(&rec, &p->meta, &p->lay);
    if (!rc)
        rc = stor__rec_i64(&rec, STOR_SHARD_META_TIME, ms);
    if (!rc && p->part)
        rc = stor__rec_str(&rec, STOR_SHARD_META_UPLOAD, p->upload_id);
    if (!rc && p->part)
        rc = stor__rec_u64(&rec, STOR_SHARD_META_PART, p->part);
    if (!rc && p->commit)
        rc = stor__rec_u64(&rec, STOR_SHARD_META_MANIFEST, 1);
    if (!rc && rec.len + 4 <= room) {
        uint32_t n = (uint32_t)rec.len;
        for (int b = 0; b < 4; b++)
            blob[b] = (unsigned char)(n >> (8 * b));
        memcpy(blob + 4, rec.data, rec.len);
    } else {
        TARN_WARN("storage: put %s: metadata record (%zu bytes) does not fit the shard "
                  "header (%zu): this object cannot be rebuilt by rebuild-meta",
                  p->lay.data_id, rec.len, room);
    }
    tarn_buf_free(&rec);
    *len = room;
    return blob;
}

/* Every shard's header, now that every block's checksum is known. */
static int headers_build(stor_put *p)
{
    if (posix_memalign((void **)&p->hdr, ERC_BLOCK_ALIGN, (size_t)p->n * p->hdr_len))
        return TARN_E_NOMEM;
    size_t meta_len = 0;
    unsigned char *meta = meta_blob(p, &meta_len);
    if (!meta)
        return TARN_E_NOMEM;
    for (int i = 0; i < p->n; i++) {
        erc_shard_header h = {
            .k = p->lay.k, .m = p->lay.m, .index = (uint8_t)i,
            .block_size = p->lay.block_size, .object_size = p->lay.size,
            .stripes = p->el.stripes, .bucket = p->bucket, .bucket_len = strlen(p->bucket),
            .key = p->key, .key_len = p->key_len, .version_id = p->lay.data_id,
            .version_id_len = 32, .meta = meta, .meta_len = meta_len,
            .part_number = p->part, .crc_table = p->crc + (size_t)i * p->el.stripes * 4};
        int rc = erc_shard_header_encode(&h, p->hdr + (size_t)i * p->hdr_len, p->hdr_len, NULL);
        if (rc) {
            free(meta);
            return rc;
        }
    }
    free(meta);
    return 0;
}

int stor_put_finish(stor_put *p, const stor_object *meta, stor_done_fn done, void *arg)
{
    if (p->phase != PH_WRITE)
        return TARN_E_INVALID_ARGUMENT;
    if (p->overflow)
        return TARN_E_INVALID_ARGUMENT;
    if (p->received < p->lay.size)
        return TARN_E_INCOMPLETE_BODY;
    /* Failures known now are returned, not passed to done: done is only
     * ever called from a completion, never from inside this call. */
    if (p->err)
        return p->err;
    int rc = meta_copy(p, meta);
    if (!rc)
        rc = headers_build(p);
    if (rc)
        return rc;
    p->done = done;
    p->darg = arg;
    p->writable = NULL;
    p->phase = PH_FINISH;
    p->hdr_ready = 1;
    step(p);
    return 0;
}

const stor_object *stor_put_result(const stor_put *p) { return &p->result; }

void stor__put_as_part(stor_put *p, const char *upload_id, uint32_t part)
{
    snprintf(p->upload_id, sizeof(p->upload_id), "%s", upload_id);
    p->part = part;
}

void stor__put_as_manifest(stor_put *p, stor_put_commit_fn commit, void *ctx)
{
    p->commit = commit;
    p->commit_ctx = ctx;
}

void stor_put_free(stor_put *p)
{
    if (!p)
        return;
    p->freed = 1;
    p->writable = NULL;
    /* Before done: an abort. In-flight SQEs still point into p and its
     * buffers, so step() waits for the last of them, unlinks the files
     * (unless the commit already happened) and only then destroys. */
    step(p);
}
