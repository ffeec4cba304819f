/*
 * test_cache.c — the read cache (storage/cache.c) on its own: LRU order
 * and the byte budget within a shard, references that keep an evicted or
 * dropped entry readable, drop, the cache off at budget 0, the object size
 * limit, and threads hammering one cache (for the sanitizers).
 * Includes cache.c to pick ids that land in one shard.
 */
#include "tests/unit/check.h"

#include "storage/cache.c"

#include <pthread.h>

/* The n-th id (from start) whose shard is the shard of id want. */
static void id_in_shard(const char *want, unsigned *start, char out[33])
{
    uint64_t target = id_hash(want) % STOR_CACHE_SHARDS;
    do
        snprintf(out, 33, "%032x", (*start)++);
    while (id_hash(out) % STOR_CACHE_SHARDS != target);
}

static void fill(unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed * 31 + i * 7);
}

/* 1 if e holds the bytes fill(len, seed) makes. */
static int entry_is(const stor_cache_entry *e, size_t len, unsigned seed)
{
    unsigned char want[4096];
    size_t got;
    const unsigned char *d = stor__cache_entry_data(e, &got);
    fill(want, len, seed);
    return got == len && memcmp(d, want, len) == 0;
}

/* 1 if id is cached with the bytes fill(len, seed) makes. */
static int cached_as(stor_cache *c, const char *id, size_t len, unsigned seed)
{
    stor_cache_entry *e = stor__cache_get(c, id);
    int ok = e && entry_is(e, len, seed);
    stor__cache_entry_unref(e);
    return ok;
}

static void test_off(void)
{
    stor_cache *c = (stor_cache *)1;
    CHECK_RC(stor__cache_create(0, &c), 0);
    CHECK(c == NULL);
    CHECK_RC(stor__cache_put(c, "00000000000000000000000000000001", "x", 1), TARN_E_INVAL);
    CHECK(stor__cache_get(c, "00000000000000000000000000000001") == NULL);
    stor__cache_drop(c, "00000000000000000000000000000001");
    stor__cache_destroy(c);
}

/* A shard holding three 1000-byte entries: the least recently used goes. */
static void test_lru(void)
{
    const size_t len = 1000, cost = sizeof(stor_cache_entry) + len;
    stor_cache *c;
    CHECK_RC(stor__cache_create(STOR_CACHE_SHARDS * 3 * cost, &c), 0);
    unsigned char b[1000];
    char id[5][33];
    unsigned next = 1;
    snprintf(id[0], 33, "%032x", 0u);
    for (int i = 1; i < 5; i++)
        id_in_shard(id[0], &next, id[i]);
    for (int i = 0; i < 3; i++) {
        fill(b, len, (unsigned)i);
        CHECK_RC(stor__cache_put(c, id[i], b, len), 0);
    }
    cache_shard *sh = shard_of(c, id_hash(id[0]));
    CHECK(sh->used == 3 * cost);
    CHECK(cached_as(c, id[0], len, 0)); /* 0 is now the newest: 1 the oldest */
    fill(b, len, 3);
    CHECK_RC(stor__cache_put(c, id[3], b, len), 0);
    CHECK(!cached_as(c, id[1], len, 1));
    CHECK(cached_as(c, id[2], len, 2)); /* reads in this order leave 2 the oldest */
    CHECK(cached_as(c, id[0], len, 0));
    CHECK(cached_as(c, id[3], len, 3));
    CHECK(sh->used == 3 * cost && sh->used <= sh->budget);
    fill(b, len, 4);
    CHECK_RC(stor__cache_put(c, id[4], b, len), 0);
    CHECK(!cached_as(c, id[2], len, 2));
    CHECK(cached_as(c, id[0], len, 0) && cached_as(c, id[3], len, 3));
    /* The same id again keeps one entry. */
    CHECK_RC(stor__cache_put(c, id[4], b, len), 0);
    CHECK(sh->used == 3 * cost);
    stor__cache_destroy(c);
}

/* A reader's reference outlives eviction and drop. */
static void test_refs(void)
{
    const size_t len = 4000, cost = sizeof(stor_cache_entry) + len;
    stor_cache *c;
    CHECK_RC(stor__cache_create(STOR_CACHE_SHARDS * cost, &c), 0); /* one per shard */
    unsigned char b[4000], want[4000];
    char a[33], other[33];
    unsigned next = 1;
    snprintf(a, 33, "%032x", 0u);
    id_in_shard(a, &next, other);
    fill(b, len, 7);
    CHECK_RC(stor__cache_put(c, a, b, len), 0);
    stor_cache_entry *e = stor__cache_get(c, a);
    CHECK(e != NULL);
    fill(b, len, 8);
    CHECK_RC(stor__cache_put(c, other, b, len), 0); /* evicts a */
    CHECK(stor__cache_get(c, a) == NULL);
    size_t got;
    const unsigned char *d = stor__cache_entry_data(e, &got);
    fill(want, len, 7);
    CHECK(got == len && memcmp(d, want, len) == 0);
    stor__cache_entry_unref(e);

    e = stor__cache_get(c, other);
    stor__cache_drop(c, other);
    CHECK(stor__cache_get(c, other) == NULL);
    CHECK(shard_of(c, id_hash(other))->used == 0);
    d = stor__cache_entry_data(e, &got);
    fill(want, len, 8);
    CHECK(got == len && memcmp(d, want, len) == 0);
    stor__cache_entry_unref(e);
    stor__cache_drop(c, other); /* not there: nothing */
    stor__cache_destroy(c);
}

static void test_limits(void)
{
    stor_cache *c;
    CHECK_RC(stor__cache_create(64u << 20, &c), 0);
    size_t big = STOR_CACHE_OBJECT_MAX + 1;
    unsigned char *b = calloc(1, big);
    const char *id = "0123456789abcdef0123456789abcdef";
    CHECK_RC(stor__cache_put(c, id, b, big), TARN_E_INVAL);
    CHECK(stor__cache_get(c, id) == NULL);
    CHECK_RC(stor__cache_put(c, id, b, 0), TARN_E_INVAL);
    CHECK_RC(stor__cache_put(c, id, b, STOR_CACHE_OBJECT_MAX), 0);
    stor_cache_entry *e = stor__cache_get(c, id);
    CHECK(e != NULL);
    stor__cache_entry_unref(e);
    stor__cache_destroy(c);
    /* An entry over a shard's share of the budget is refused too. */
    CHECK_RC(stor__cache_create(STOR_CACHE_SHARDS * 4096, &c), 0);
    CHECK_RC(stor__cache_put(c, id, b, 4096), TARN_E_INVAL);
    CHECK_RC(stor__cache_put(c, id, b, 100), 0);
    stor__cache_destroy(c);
    free(b);
}

/* Threads putting, reading and dropping 64 ids in a small cache. */
static stor_cache *shared;

static atomic_int hammer_bad;

static void *hammer(void *arg)
{
    unsigned r = (unsigned)(uintptr_t)arg;
    unsigned char b[3000];
    char id[33];
    for (int i = 0; i < 20000; i++) {
        r = r * 1103515245u + 12345u;
        unsigned n = (r >> 8) % 64;
        snprintf(id, sizeof(id), "%032x", n);
        switch ((r >> 20) % 4) {
        case 0: fill(b, 100 + n * 40, n); stor__cache_put(shared, id, b, 100 + n * 40); break;
        case 1: stor__cache_drop(shared, id); break;
        default: {
            stor_cache_entry *e = stor__cache_get(shared, id); /* an id's bytes never change */
            if (e && !entry_is(e, 100 + n * 40, n))
                atomic_fetch_add(&hammer_bad, 1);
            stor__cache_entry_unref(e);
            break;
        }
        }
    }
    return NULL;
}

/* Every entry the hammer left must hold its id's bytes. */
static void test_threads(void)
{
    CHECK_RC(stor__cache_create(STOR_CACHE_SHARDS * 8192, &shared), 0);
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, (void *)(i + 1));
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&hammer_bad) == 0);
    char id[33];
    for (unsigned n = 0; n < 64; n++) {
        snprintf(id, sizeof(id), "%032x", n);
        stor_cache_entry *e = stor__cache_get(shared, id);
        CHECK(!e || entry_is(e, 100 + n * 40, n));
        stor__cache_entry_unref(e);
    }
    for (int i = 0; i < STOR_CACHE_SHARDS; i++)
        CHECK(shared->shard[i].used <= shared->shard[i].budget);
    stor__cache_destroy(shared);
}

int main(void)
{
    test_off();
    test_lru();
    test_refs();
    test_limits();
    test_threads();
    if (failures)
        fprintf(stderr, "%d failures\n", failures);
    return failures ? 1 : 0;
}
