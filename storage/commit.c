/*
 * commit.c — the one thread that writes the metadata index, and the wakers
 * that carry its results back to worker threads.
 *
 * Why one thread: every write is a check-and-write (create if absent,
 * delete if empty, move a head). Running them one after another on one
 * thread makes each check race-free without locks in RocksDB, and lets all
 * operations that queued up during one fsync share the next one (group
 * commit): a batch of N ops costs one synced write, not N.
 *
 * Within a batch, ops see each other's writes: the batch is a RocksDB
 * WriteBatchWithIndex, and reads go through it to the DB. An op that fails
 * has its writes rolled back to a save point taken before it ran.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Ops taken per batch: bounds the latency one huge queue adds to the first
 * op in it, and the size of one write. */
#define BATCH_MAX 1024

struct stor_sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};

struct stor_waker {
    int fd;
    pthread_mutex_t mu;
    stor_op *head, *tail; /* completions, oldest first */
};

/* ---- Wakers ------------------------------------------------------------- */

int stor_waker_create(stor_waker **out)
{
    stor_waker *w = calloc(1, sizeof(*w));
    if (!w)
        return TARN_E_NOMEM;
    w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->fd < 0) {
        free(w);
        return TARN_E_IO;
    }
    pthread_mutex_init(&w->mu, NULL);
    *out = w;
    return 0;
}

static void op_release(stor_op *op)
{
    if (op->release)
        op->release(op);
    else
        free(op);
}

void stor_waker_destroy(stor_waker *w)
{
    if (!w)
        return;
    /* Completions never drained are dropped without calling done: the
     * owner is going away and has nobody left to tell. The lock orders
     * this after the commit thread's last post. */
    pthread_mutex_lock(&w->mu);
    stor_op *head = w->head;
    w->head = w->tail = NULL;
    pthread_mutex_unlock(&w->mu);
    for (stor_op *op = head, *next; op; op = next) {
        next = op->next;
        op_release(op);
    }
    close(w->fd);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int stor_waker_fd(const stor_waker *w) { return w->fd; }

void stor__waker_post(stor_waker *w, stor_op *op)
{
    uint64_t one = 1;
    op->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->tail)
        w->tail->next = op;
    else
        w->head = op;
    w->tail = op;
    /* Under the lock: once a drain has run this op, its owner may destroy
     * the waker, and a write after that would hit a closed (or reused) fd.
     * EAGAIN means the counter is at its limit, i.e. already readable, and
     * the reader finds this op in the list anyway. */
    ssize_t n = write(w->fd, &one, sizeof(one));
    (void)n;
    pthread_mutex_unlock(&w->mu);
}

int stor_waker_drain(stor_waker *w)
{
    pthread_mutex_lock(&w->mu);
    stor_op *op = w->head;
    w->head = w->tail = NULL;
    pthread_mutex_unlock(&w->mu);
    int n = 0;
    while (op) {
        stor_op *next = op->next;
        op->done(op->arg, op->rc);
        op_release(op);
        op = next;
        n++;
    }
    return n;
}

/* ---- The transaction view ------------------------------------------------ */

int stor__txn_get(stor_txn *t, const stor_key *k, char **val, size_t *len)
{
    char *err = NULL;
    *val = rocksdb_writebatch_wi_get_from_batch_and_db(t->wb, t->s->db, t->s->ropts, k->buf,
                                                       k->len, len, &err);
    if (err) {
        TARN_ERROR("storage: read in commit: %s", err);
        rocksdb_free(err);
        return TARN_E_IO;
    }
    return *val ? 0 : TARN_E_NOT_FOUND;
}

int stor__txn_prefix_exists(stor_txn *t, const stor_key *prefix)
{
    /* The batch iterator takes over the base iterator. */
    rocksdb_iterator_t *base = rocksdb_create_iterator(t->s->db, t->s->ropts);
    rocksdb_iterator_t *it = rocksdb_writebatch_wi_create_iterator_with_base(t->wb, base);
    rocksdb_iter_seek(it, prefix->buf, prefix->len);
    int found = 0;
    if (rocksdb_iter_valid(it)) {
        size_t klen;
        const char *key = rocksdb_iter_key(it, &klen);
        found = klen >= prefix->len && memcmp(key, prefix->buf, prefix->len) == 0;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    if (err) {
        TARN_ERROR("storage: scan in commit: %s", err);
        rocksdb_free(err);
        return TARN_E_IO;
    }
    return found;
}

void stor__txn_put(stor_txn *t, const stor_key *k, const void *val, size_t len)
{
    rocksdb_writebatch_wi_put(t->wb, k->buf, k->len, val, len);
}

void stor__txn_delete(stor_txn *t, const stor_key *k)
{
    rocksdb_writebatch_wi_delete(t->wb, k->buf, k->len);
}

/* ---- The thread ----------------------------------------------------------- */

/* Run one op's check-and-build; drop its writes if it failed. */
static void batch_apply(stor_txn *t, stor_op *op)
{
    int before = rocksdb_writebatch_wi_count(t->wb);
    rocksdb_writebatch_wi_set_save_point(t->wb);
    op->rc = op->apply(t, op);
    /* Rolling back re-indexes the batch, so only do it when there is
     * something to undo; an unused save point is dropped by the clear. */
    if (op->rc && rocksdb_writebatch_wi_count(t->wb) != before) {
        char *err = NULL;
        rocksdb_writebatch_wi_rollback_to_save_point(t->wb, &err);
        if (err) {
            /* Cannot happen with a save point just set; if it did, the
             * batch holds a failed op's writes and must not be written. */
            TARN_ERROR("storage: rollback: %s", err);
            rocksdb_free(err);
            abort();
        }
    }
}

static void op_complete(stor_op *op)
{
    if (op->waker) {
        stor__waker_post(op->waker, op);
        return;
    }
    struct stor_sync *sy = op->sync;
    pthread_mutex_lock(&sy->mu);
    sy->done = 1;
    pthread_cond_signal(&sy->cv);
    pthread_mutex_unlock(&sy->mu);
}

static void batch_run(stor *s, stor_op *ops)
{
    stor_txn t = {s, s->wb};
    uint64_t n = 0;
    rocksdb_writebatch_wi_clear(s->wb);
    for (stor_op *op = ops; op; op = op->next, n++)
        batch_apply(&t, op);
    if (rocksdb_writebatch_wi_count(s->wb) > 0) {
        char *err = NULL;
        rocksdb_write_writebatch_wi(s->db, s->wopts_sync, s->wb, &err);
        if (err) {
            TARN_ERROR("storage: commit of %llu ops failed: %s", (unsigned long long)n, err);
            rocksdb_free(err);
            for (stor_op *op = ops; op; op = op->next)
                if (op->rc == 0)
                    op->rc = TARN_E_IO;
        }
    }
    pthread_mutex_lock(&s->mu);
    s->n_batches++;
    s->n_ops += n;
    pthread_mutex_unlock(&s->mu);
    /* After the write, so GC finds the entries this batch queued. */
    if (s->gc_queued) {
        s->gc_queued = 0;
        stor__gc_kick(s);
    }
    /* Post only after the write: a reader woken by this sees the data. */
    for (stor_op *op = ops, *next; op; op = next) {
        next = op->next;
        op_complete(op);
    }
}

/* Detach up to BATCH_MAX ops from the queue head. Caller holds s->mu. */
static stor_op *queue_take(stor *s)
{
    stor_op *first = s->q_head, *last = first;
    for (int i = 1; i < BATCH_MAX && last->next; i++)
        last = last->next;
    s->q_head = last->next;
    if (!s->q_head)
        s->q_tail = NULL;
    last->next = NULL;
    return first;
}

static void *commit_main(void *arg)
{
    stor *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->closing && (!s->q_head || s->paused))
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->q_head)
            break; /* closing and drained */
        stor_op *ops = queue_take(s);
        pthread_mutex_unlock(&s->mu);
        batch_run(s, ops);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int stor__commit_start(stor *s)
{
    s->wb = rocksdb_writebatch_wi_create(0, 1 /* overwrite: reads see last put */);
    if (!s->wb)
        return TARN_E_NOMEM;
    if (pthread_create(&s->thread, NULL, commit_main, s) != 0) {
        rocksdb_writebatch_wi_destroy(s->wb);
        s->wb = NULL;
        return TARN_E_NOMEM;
    }
    s->thread_started = 1;
    /* GC commits its deletions through this thread, so it starts after
     * it and stops before it. */
    return stor__gc_start(s);
}

void stor__commit_stop(stor *s)
{
    stor__gc_stop(s);
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    s->thread_started = 0;
    if (s->wb)
        rocksdb_writebatch_wi_destroy(s->wb);
    s->wb = NULL;
}

void stor__commit_pause(stor *s, int paused)
{
    pthread_mutex_lock(&s->mu);
    s->paused = paused;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void stor__commit_stats(stor *s, uint64_t *batches, uint64_t *ops)
{
    pthread_mutex_lock(&s->mu);
    *batches = s->n_batches;
    *ops = s->n_ops;
    pthread_mutex_unlock(&s->mu);
}

/* ---- Submitting ------------------------------------------------------------ */

static int queue_push(stor *s, stor_op *op)
{
    pthread_mutex_lock(&s->mu);
    if (s->closing) {
        pthread_mutex_unlock(&s->mu);
        return TARN_E_SERVICE_UNAVAILABLE;
    }
    op->next = NULL;
    if (s->q_tail)
        s->q_tail->next = op;
    else
        s->q_head = op;
    s->q_tail = op;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int stor__commit_submit(stor *s, stor_op *op, stor_waker *w, stor_done_fn done, void *arg)
{
    if (!w || !done)
        return TARN_E_INVAL; /* nowhere to deliver the result */
    op->waker = w;
    op->done = done;
    op->arg = arg;
    op->sync = NULL;
    op->rc = 0;
    return queue_push(s, op);
}

int stor__commit_wait(stor *s, stor_op *op)
{
    struct stor_sync sy = {.done = 0};
    pthread_mutex_init(&sy.mu, NULL);
    pthread_cond_init(&sy.cv, NULL);
    op->waker = NULL;
    op->sync = &sy;
    op->rc = 0;
    int rc = queue_push(s, op);
    if (rc == 0) {
        pthread_mutex_lock(&sy.mu);
        while (!sy.done)
            pthread_cond_wait(&sy.cv, &sy.mu);
        pthread_mutex_unlock(&sy.mu);
        rc = op->rc;
    }
    pthread_cond_destroy(&sy.cv);
    pthread_mutex_destroy(&sy.mu);
    return rc;
}

/* ---- Raw writes -------------------------------------------------------------- */

typedef struct raw_op {
    stor_op base;
    const stor_key *key;
    const void *val; /* NULL: delete */
    size_t len;
} raw_op;

static int raw_apply(stor_txn *t, stor_op *op)
{
    raw_op *r = (raw_op *)op;
    if (r->val)
        stor__txn_put(t, r->key, r->val, r->len);
    else
        stor__txn_delete(t, r->key);
    return 0;
}

int stor__raw_put(stor *s, const stor_key *k, const void *val, size_t len)
{
    raw_op r = {.base = {.apply = raw_apply}, .key = k, .val = val ? val : "", .len = len};
    return stor__commit_wait(s, &r.base);
}

int stor__raw_delete(stor *s, const stor_key *k)
{
    raw_op r = {.base = {.apply = raw_apply}, .key = k, .val = NULL};
    return stor__commit_wait(s, &r.base);
}

int stor__object_head_put_raw(stor *s, const char *bucket, const char *key, size_t keylen,
                              const void *val, size_t len)
{
    stor_key k;
    int rc = stor__key_head(&k, bucket, key, keylen);
    return rc ? rc : stor__raw_put(s, &k, val, len);
}

int stor__upload_put_raw(stor *s, const char *bucket, const char *key, size_t keylen,
                         const char *uploadid)
{
    stor_key k;
    int rc = stor__key_upload(&k, bucket, key, keylen, uploadid);
    return rc ? rc : stor__raw_put(s, &k, "\1", 1);
}
