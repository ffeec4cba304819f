/*
 * cache.c — the read cache: small objects' bytes in memory, keyed by data
 * id (docs/storage-io.md "The read cache"). A data id is never reused and
 * its bytes never change, so an entry never needs invalidating: a GET
 * still reads the head and holds the id as before, and only the bytes come
 * from here. GC drops an id when it removes its files, to give the memory
 * back early.
 *
 * STOR_CACHE_SHARDS shards, each with its own mutex, hash chains, LRU list
 * and an equal share of the byte budget, so workers rarely meet on a lock;
 * a lock is held only for the map and list operations, never for a copy
 * of the bytes or a free. Entries are immutable and refcounted: the cache
 * holds one reference while an entry is in it, each reader one more, so an
 * entry evicted or dropped under a reader stays valid until it lets go.
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define STOR_CACHE_SHARDS 16
/* Buckets per shard: one per this many bytes of its budget (power of two). */
#define BYTES_PER_BUCKET 8192u

struct stor_cache_entry {
    atomic_int refs;
    struct stor_cache_entry *chain;      /* next in its hash bucket */
    struct stor_cache_entry *newer, *older; /* LRU list */
    size_t len;
    char id[33];
    unsigned char data[];
};

typedef struct cache_shard {
    pthread_mutex_t mu;
    stor_cache_entry **buckets;
    size_t n_buckets;                /* power of two */
    stor_cache_entry *newest, *oldest;
    size_t used, budget;             /* bytes: entries' data and headers */
} cache_shard;

struct stor_cache {
    cache_shard shard[STOR_CACHE_SHARDS];
};

/* FNV-1a of the id: the low bits pick the shard, the rest the bucket. */
static uint64_t id_hash(const char *id)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 0x100000001b3ull;
    return h;
}

static cache_shard *shard_of(stor_cache *c, uint64_t h)
{
    return &c->shard[h % STOR_CACHE_SHARDS];
}

static stor_cache_entry **bucket_of(cache_shard *sh, uint64_t h)
{
    return &sh->buckets[(h / STOR_CACHE_SHARDS) & (sh->n_buckets - 1)];
}

static size_t entry_cost(size_t len) { return sizeof(stor_cache_entry) + len; }

static int shard_init(cache_shard *sh, size_t budget)
{
    size_t n = 16;
    while (n < budget / BYTES_PER_BUCKET && n < (1u << 20))
        n *= 2;
    sh->buckets = calloc(n, sizeof(*sh->buckets));
    if (!sh->buckets)
        return TARN_E_NOMEM;
    sh->n_buckets = n;
    sh->budget = budget;
    pthread_mutex_init(&sh->mu, NULL);
    return 0;
}

int stor__cache_create(size_t budget, stor_cache **out)
{
    *out = NULL;
    if (budget == 0)
        return 0;
    stor_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return TARN_E_NOMEM;
    for (int i = 0; i < STOR_CACHE_SHARDS; i++) {
        if (shard_init(&c->shard[i], budget / STOR_CACHE_SHARDS)) {
            stor__cache_destroy(c); /* shards not set up have no buckets */
            return TARN_E_NOMEM;
        }
    }
    *out = c;
    return 0;
}

void stor__cache_entry_unref(stor_cache_entry *e)
{
    if (e && atomic_fetch_sub(&e->refs, 1) == 1)
        free(e);
}

void stor__cache_destroy(stor_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < STOR_CACHE_SHARDS; i++) {
        cache_shard *sh = &c->shard[i];
        if (!sh->buckets)
            continue;
        for (stor_cache_entry *e = sh->newest, *next; e; e = next) {
            next = e->older;
            stor__cache_entry_unref(e);
        }
        free(sh->buckets);
        pthread_mutex_destroy(&sh->mu);
    }
    free(c);
}

/* ---- The map and the LRU list (shard lock held) --------------------------- */

static stor_cache_entry **chain_find(cache_shard *sh, uint64_t h, const char *id)
{
    stor_cache_entry **p = bucket_of(sh, h);
    while (*p && strcmp((*p)->id, id) != 0)
        p = &(*p)->chain;
    return p;
}

static void lru_unlink(cache_shard *sh, stor_cache_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        sh->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        sh->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(cache_shard *sh, stor_cache_entry *e)
{
    e->older = sh->newest;
    e->newer = NULL;
    if (sh->newest)
        sh->newest->newer = e;
    else
        sh->oldest = e;
    sh->newest = e;
}

/* Take e out of the map and the list; its cache reference passes to the
 * caller, who drops it after unlocking. */
static void shard_remove(cache_shard *sh, stor_cache_entry **link)
{
    stor_cache_entry *e = *link;
    *link = e->chain;
    e->chain = NULL;
    lru_unlink(sh, e);
    sh->used -= entry_cost(e->len);
}

/* ---- API ------------------------------------------------------------------ */

stor_cache_entry *stor__cache_get(stor_cache *c, const char *data_id)
{
    if (!c)
        return NULL;
    uint64_t h = id_hash(data_id);
    cache_shard *sh = shard_of(c, h);
    pthread_mutex_lock(&sh->mu);
    stor_cache_entry *e = *chain_find(sh, h, data_id);
    if (e) {
        atomic_fetch_add(&e->refs, 1);
        lru_unlink(sh, e);
        lru_push(sh, e);
    }
    pthread_mutex_unlock(&sh->mu);
    return e;
}

/* Evict from the old end until cost more bytes fit; the evicted go on
 * *out (linked through chain) to be released after unlocking. */
static void shard_make_room(cache_shard *sh, size_t cost, stor_cache_entry **out)
{
    while (sh->oldest && sh->used + cost > sh->budget) {
        stor_cache_entry *e = sh->oldest;
        shard_remove(sh, chain_find(sh, id_hash(e->id), e->id));
        e->chain = *out;
        *out = e;
    }
}

int stor__cache_put(stor_cache *c, const char *data_id, const void *bytes, size_t len)
{
    if (!c || len == 0 || len > STOR_CACHE_OBJECT_MAX || strlen(data_id) > 32)
        return TARN_E_INVAL;
    uint64_t h = id_hash(data_id);
    cache_shard *sh = shard_of(c, h);
    if (entry_cost(len) > sh->budget)
        return TARN_E_INVAL;
    stor_cache_entry *e = malloc(entry_cost(len)); /* copy before locking */
    if (!e)
        return TARN_E_NOMEM;
    memset(e, 0, sizeof(*e));
    atomic_init(&e->refs, 1);
    e->len = len;
    strcpy(e->id, data_id);
    memcpy(e->data, bytes, len);
    stor_cache_entry *evicted = NULL;
    pthread_mutex_lock(&sh->mu);
    if (!*chain_find(sh, h, data_id)) { /* else another reader cached them first */
        shard_make_room(sh, entry_cost(len), &evicted);
        stor_cache_entry **head = bucket_of(sh, h); /* evictions may change the chain */
        e->chain = *head;
        *head = e;
        lru_push(sh, e);
        sh->used += entry_cost(len);
        e = NULL;
    }
    pthread_mutex_unlock(&sh->mu);
    free(e);
    while (evicted) {
        stor_cache_entry *next = evicted->chain;
        stor__cache_entry_unref(evicted);
        evicted = next;
    }
    return 0;
}

void stor__cache_drop(stor_cache *c, const char *data_id)
{
    if (!c)
        return;
    uint64_t h = id_hash(data_id);
    cache_shard *sh = shard_of(c, h);
    stor_cache_entry *gone = NULL;
    pthread_mutex_lock(&sh->mu);
    stor_cache_entry **link = chain_find(sh, h, data_id);
    if (*link) {
        gone = *link;
        shard_remove(sh, link);
    }
    pthread_mutex_unlock(&sh->mu);
    stor__cache_entry_unref(gone);
}

const unsigned char *stor__cache_entry_data(const stor_cache_entry *e, size_t *len)
{
    *len = e->len;
    return e->data;
}
