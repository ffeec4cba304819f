/*
 * gc.c — collecting the shard files of versions that are no longer live,
 * and the reader holds that keep GC away from files still being read.
 *
 * An overwrite or delete unlinks the old version and queues its layout
 * under "g/<seq>" in the same batch (object_meta.c), so the queue is
 * exactly the set of unreferenced data ids; nothing is lost by a crash.
 * A background thread drains it: for each entry whose data id no reader
 * holds it removes the files (stor__data_remove), makes the removals
 * durable (one syncfs per disk file system per batch: an unlink the power
 * cut undid would otherwise leave files that no record names), and then
 * deletes the entries through the commit thread. Removal is idempotent, so
 * a crash between the two only repeats it. Workers never wait on an unlink.
 *
 * Why holds are enough: a reader reads the head, holds its data id, then
 * checks that "d/<id>" still exists (stor__data_referenced) before it
 * trusts the files. The batch that queues an id for GC also deletes its
 * d/ key, so either the reader's hold comes before GC looks (GC skips the
 * id and retries later) or the reader sees the id unreferenced and reads
 * the head again.
 */
#include "object_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STOR_HOLD_BUCKETS 256
/* Entries deleted per commit: bounds one GC batch's size. */
#define GC_BATCH 256
/* A held id is retried when its last hold goes, or after this long. */
#define GC_RETRY_SEC 5

struct stor_hold {
    struct stor_hold *next;
    unsigned n;
    char id[33];
};

/* ---- Holds ---------------------------------------------------------------- */

static struct stor_hold **hold_slot(stor *s, const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a: ids are random hex, any mix will do */
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    struct stor_hold **pp = &s->holds[h % STOR_HOLD_BUCKETS];
    while (*pp && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    return pp;
}

void stor__data_hold(stor *s, const char *data_id)
{
    if (strlen(data_id) >= sizeof(((struct stor_hold *)0)->id))
        return; /* no such id can be queued for GC */
    pthread_mutex_lock(&s->hold_mu);
    struct stor_hold **pp = hold_slot(s, data_id);
    if (*pp) {
        (*pp)->n++;
    } else if ((*pp = calloc(1, sizeof(**pp))) != NULL) {
        (*pp)->n = 1;
        strcpy((*pp)->id, data_id);
    } else {
        /* A hold we cannot record must still protect the reader: while
         * any such hold exists, GC treats every id as held. */
        s->hold_lost++;
    }
    pthread_mutex_unlock(&s->hold_mu);
}

void stor__data_release(stor *s, const char *data_id)
{
    int freed = 0;
    if (strlen(data_id) >= sizeof(((struct stor_hold *)0)->id))
        return;
    pthread_mutex_lock(&s->hold_mu);
    struct stor_hold **pp = hold_slot(s, data_id), *h = *pp;
    if (h && --h->n == 0) {
        *pp = h->next;
        free(h);
        freed = 1;
    } else if (!h && s->hold_lost) {
        s->hold_lost--;
        freed = 1;
    }
    pthread_mutex_unlock(&s->hold_mu);
    if (!freed)
        return;
    /* Only worth a pass if the last one left something behind. */
    pthread_mutex_lock(&s->gc_mu);
    int deferred = s->gc_deferred;
    pthread_mutex_unlock(&s->gc_mu);
    if (deferred)
        stor__gc_kick(s);
}

int stor__data_held(stor *s, const char *data_id)
{
    pthread_mutex_lock(&s->hold_mu);
    int held = s->hold_lost > 0 || *hold_slot(s, data_id) != NULL;
    pthread_mutex_unlock(&s->hold_mu);
    return held;
}

/* ---- One pass ------------------------------------------------------------- */

typedef struct gc_del_op {
    stor_op base;
    uint64_t seq[GC_BATCH];
    size_t n;
    uint64_t disks_touched; /* bit i: files removed from disk i */
} gc_del_op;

static int gc_del_apply(stor_txn *t, stor_op *op)
{
    gc_del_op *d = (gc_del_op *)op;
    for (size_t i = 0; i < d->n; i++) {
        stor_key k;
        stor__key_garbage(&k, d->seq[i]);
        stor__txn_delete(t, &k);
    }
    return 0;
}

static int gc_flush(stor *s, gc_del_op *d)
{
    stor__disks_sync(s, d->disks_touched);
    d->disks_touched = 0;
    int rc = d->n ? stor__commit_wait(s, &d->base) : 0;
    d->n = 0;
    return rc;
}

static void note_disks(gc_del_op *d, const stor_layout *l)
{
    for (int i = 0; i < l->k + l->m && i < STOR_MAX_SHARDS; i++)
        if (l->disk[i] < 64)
            d->disks_touched |= 1ull << l->disk[i];
}

/* Remove the files of one shard set unless its id is live again. 1 done,
 * 0 retry later. */
static int gc_one(stor *s, gc_del_op *d, const stor_layout *l)
{
    int ref = stor__data_referenced(s, l->data_id);
    if (ref < 0)
        return 0;
    if (ref) {
        /* Committed again since it was queued: its files are live. */
        TARN_WARN("storage: GC entry %s is referenced; keeping its files", l->data_id);
        return 1;
    }
    stor__cache_drop(s->rcache, l->data_id); /* its memory back now */
    if (s->gc_remove)
        s->gc_remove(s, l);
    else
        stor__data_remove(s, l);
    note_disks(d, l);
    return 1;
}

/* A replaced multipart version: readers hold part 1's id (any part's
 * counts; a live heal holds the manifest's), and every part and then the
 * manifest (versions completed before manifests have none) is removed on
 * its own. A pass cut short repeats the removals, which tolerate files
 * already gone. */
static int gc_parts(stor *s, gc_del_op *d, const stor_layout *l)
{
    stor_layout pl, ml;
    int has_ml = stor__layout_manifest(l, &ml) == 0;
    for (uint32_t i = 0; i < l->n_parts; i++)
        if (!stor__layout_part(l, i, &pl, NULL) && stor__data_held(s, pl.data_id))
            return 0;
    if (has_ml && stor__data_held(s, ml.data_id))
        return 0;
    for (uint32_t i = 0; i < l->n_parts; i++) {
        if (stor__layout_part(l, i, &pl, NULL))
            continue; /* a damaged entry: nothing to name its files by */
        if (!gc_one(s, d, &pl))
            return 0;
    }
    return has_ml ? gc_one(s, d, &ml) : 1;
}

/* Handle one queue entry. 1: done with it (delete the entry), 0: retry
 * later (held, or the check failed). */
static int gc_entry(stor *s, gc_del_op *d, const char *val, size_t len)
{
    stor_layout l;
    if (stor__version_decode(val, len, NULL, NULL, &l, NULL)) {
        TARN_ERROR("storage: GC entry is corrupt; dropping it");
        return 1;
    }
    if (l.n_parts)
        return gc_parts(s, d, &l); /* l.parts points into val, alive here */
    if (!l.data_id[0])
        return 1; /* no files */
    if (stor__data_held(s, l.data_id))
        return 0;
    return gc_one(s, d, &l);
}

/* Walk the queue oldest first; *left counts entries kept for later. */
static int gc_walk(stor *s, rocksdb_iterator_t *it, gc_del_op *d, int *left)
{
    static const char first[] = {STOR_FAM_GARBAGE, '/'};
    int rc = 0;
    for (rocksdb_iter_seek(it, first, sizeof(first)); !rc && rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const unsigned char *k = (const unsigned char *)rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        if (klen != 10)
            continue; /* not a key we write */
        if (!gc_entry(s, d, v, vlen)) {
            (*left)++;
            continue;
        }
        d->seq[d->n++] = stor__be64_get(k + 2);
        if (d->n == GC_BATCH)
            rc = gc_flush(s, d);
    }
    return rc;
}

int stor__gc_step(stor *s)
{
    /* "g0" is the first key after every "g/..." ('0' follows '/'). */
    static const char upper[] = {STOR_FAM_GARBAGE, '/' + 1};
    gc_del_op *d = calloc(1, sizeof(*d));
    if (!d)
        return TARN_E_NOMEM;
    d->base.apply = gc_del_apply;
    int left = 0;
    pthread_mutex_lock(&s->gc_run_mu);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_upper_bound(ro, upper, sizeof(upper));
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, ro);
    int rc = gc_walk(s, it, d, &left);
    if (!rc)
        rc = gc_flush(s, d);
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err) {
        TARN_ERROR("storage: GC scan: %s", err);
        rocksdb_free(err);
        rc = TARN_E_IO;
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    pthread_mutex_unlock(&s->gc_run_mu);
    free(d);
    return rc ? rc : left;
}

void stor__gc_set_remove(stor *s, void (*fn)(stor *s, const stor_layout *l))
{
    pthread_mutex_lock(&s->gc_run_mu);
    s->gc_remove = fn;
    pthread_mutex_unlock(&s->gc_run_mu);
}

/* ---- The thread ------------------------------------------------------------- */

void stor__gc_kick(stor *s)
{
    pthread_mutex_lock(&s->gc_mu);
    s->gc_kick = 1;
    pthread_cond_signal(&s->gc_cv);
    pthread_mutex_unlock(&s->gc_mu);
}

/* Abandoned multipart uploads: how old one may get (stor_config), and how
 * often the GC thread looks (a tenth of that, between 1 s and an hour). */
#define MP_EXPIRY_DEFAULT_SEC (7 * 24 * 3600)
static int64_t mp_expiry(const stor *s)
{
    return s->mp_expiry_sec > 0 ? s->mp_expiry_sec : MP_EXPIRY_DEFAULT_SEC;
}

static uint64_t mp_period_ns(const stor *s)
{
    int64_t p = mp_expiry(s) / 10;
    p = p < 1 ? 1 : p > 3600 ? 3600 : p;
    return (uint64_t)p * 1000000000ull;
}

/* Run the expiry sweep when it is due (GC thread, gc_mu not held). */
static void mp_expire_due(stor *s)
{
    uint64_t now = tarn_mono_ns();
    if (now < s->mp_next_expire_ns)
        return;
    s->mp_next_expire_ns = now + mp_period_ns(s);
    int rc = stor_multipart_expire(s, tarn_now_unix() - mp_expiry(s));
    if (rc > 0)
        TARN_INFO("storage: aborted %d abandoned multipart upload(s)", rc);
}

/* Wait for a kick, the expiry sweep's time, or (entries left behind)
 * the retry period. Caller holds gc_mu. */
static void gc_wait(stor *s)
{
    while (!s->gc_stop && !s->gc_kick) {
        uint64_t due = s->mp_next_expire_ns, now = tarn_mono_ns();
        if (s->gc_deferred && now + GC_RETRY_SEC * 1000000000ull < due)
            due = now + GC_RETRY_SEC * 1000000000ull;
        if (due <= now)
            return;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (due - now);
        ts.tv_sec += (time_t)(ns / 1000000000ull);
        ts.tv_nsec = (long)(ns % 1000000000ull);
        if (pthread_cond_timedwait(&s->gc_cv, &s->gc_mu, &ts) == ETIMEDOUT)
            return;
    }
}

static void *gc_main(void *arg)
{
    stor *s = arg;
    pthread_mutex_lock(&s->gc_mu);
    for (;;) {
        gc_wait(s);
        if (s->gc_stop)
            break;
        s->gc_kick = 0;
        pthread_mutex_unlock(&s->gc_mu);
        mp_expire_due(s);
        int left = stor__gc_step(s);
        pthread_mutex_lock(&s->gc_mu);
        s->gc_deferred = left != 0; /* held ids, or an error: try again */
    }
    pthread_mutex_unlock(&s->gc_mu);
    return NULL;
}

int stor__gc_start(stor *s)
{
    pthread_condattr_t ca;
    s->holds = calloc(STOR_HOLD_BUCKETS, sizeof(*s->holds));
    if (!s->holds)
        return TARN_E_NOMEM;
    pthread_mutex_init(&s->hold_mu, NULL);
    pthread_mutex_init(&s->gc_mu, NULL);
    pthread_mutex_init(&s->gc_run_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->gc_cv, &ca);
    pthread_condattr_destroy(&ca);
    s->gc_inited = 1;
    s->gc_kick = 1; /* entries left by a previous run */
    /* The first expiry sweep a little after start, not during it. */
    s->mp_next_expire_ns = tarn_mono_ns() + mp_period_ns(s);
    if (pthread_create(&s->gc_thread, NULL, gc_main, s) != 0)
        return TARN_E_NOMEM;
    s->gc_started = 1;
    return 0;
}

void stor__gc_stop(stor *s)
{
    if (!s->gc_inited)
        return;
    pthread_mutex_lock(&s->gc_mu);
    s->gc_stop = 1;
    pthread_cond_signal(&s->gc_cv);
    pthread_mutex_unlock(&s->gc_mu);
    if (s->gc_started)
        pthread_join(s->gc_thread, NULL);
    s->gc_started = 0;
    for (int i = 0; i < STOR_HOLD_BUCKETS; i++)
        for (struct stor_hold *h = s->holds[i], *next; h; h = next) {
            next = h->next;
            free(h);
        }
    free(s->holds);
    s->holds = NULL;
    pthread_cond_destroy(&s->gc_cv);
    pthread_mutex_destroy(&s->gc_run_mu);
    pthread_mutex_destroy(&s->gc_mu);
    pthread_mutex_destroy(&s->hold_mu);
    s->gc_inited = 0;
}
