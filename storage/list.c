/*
 * list.c — ListObjects (v1 and v2) over the key heads: one ordered scan of
 * "o/<bucket>\0<prefix>", in RocksDB's bytewise order, which is S3's
 * (UTF-8 binary order).
 *
 * With a delimiter, keys that contain it after the prefix roll up into a
 * common prefix (S3: prefix + everything up to and including the first
 * delimiter after it). Each common prefix is emitted once and the scan
 * then seeks past every key under it, so a "directory" of a million keys
 * costs one seek, not a million steps. Keys and prefixes count together
 * against max-keys, as in S3.
 *
 * The iterator reads one implicit snapshot, so a page is consistent even
 * while commits land.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define LIST_MAX_KEYS 1000

typedef struct lister {
    tarn_arena *a;
    rocksdb_iterator_t *it;
    const char *prefix, *delim;
    size_t plen, dlen;
    char *base;  /* "o/<bucket>\0" */
    char *buf;   /* a copy of base, then scratch for seek targets */
    size_t blen; /* length of base */
    size_t cap;
    stor_list_result *out;
    size_t max;
} lister;

/* The fields a listing shows, without the rest of the record. */
typedef struct head_sum {
    uint64_t size;
    int64_t mtime_ms;
    const char *etag;
    int delete_marker;
} head_sum;

static int head_summary(tarn_arena *a, const char *val, size_t len, head_sum *h)
{
    stor_rec_reader r;
    stor_rec_field f;
    uint64_t v;
    int rc = stor__rec_open(&r, val, len);
    memset(h, 0, sizeof(*h));
    h->etag = "";
    while (!rc && (rc = stor__rec_next(&r, &f)) == 1) {
        rc = 0;
        if (f.tag == STOR_VT_SIZE)
            rc = stor__rec_field_u64(&f, &h->size);
        else if (f.tag == STOR_VT_MTIME)
            rc = stor__rec_field_i64(&f, &h->mtime_ms);
        else if (f.tag == STOR_VT_DELETE_MARKER && !(rc = stor__rec_field_u64(&f, &v)))
            h->delete_marker = v != 0;
        else if (f.tag == STOR_VT_ETAG &&
                 !(h->etag = tarn_arena_strndup(a, (const char *)f.p, f.n)))
            rc = TARN_E_NOMEM;
    }
    if (rc == TARN_E_CORRUPT)
        TARN_ERROR("storage: object head is corrupt");
    return rc == TARN_E_CORRUPT ? TARN_E_IO : rc < 0 ? rc : 0;
}

/* Turn buf[0..n) into the first key after every key that starts with it
 * (drop trailing 0xff bytes, add one to the last). n never reaches the
 * NUL that ends the bucket part, which becomes at most 0x01. */
static size_t succ(unsigned char *buf, size_t n)
{
    while (n > 0 && buf[n - 1] == 0xff)
        n--;
    buf[n - 1]++;
    return n;
}

/* Seek to the first head after every key starting with p[0..n). */
static void seek_past(lister *l, const char *p, size_t n)
{
    memcpy(l->buf + l->blen, p, n);
    size_t len = succ((unsigned char *)l->buf, l->blen + n);
    rocksdb_iter_seek(l->it, l->buf, len);
}

/* Where the scan begins. S3 start-after/marker is exclusive. An `after`
 * inside a common prefix (often that prefix itself, from the previous
 * page's next_after) skips the whole prefix: it was already returned. */
static void seek_start(lister *l, const char *after, size_t alen)
{
    size_t n = alen < l->plen ? alen : l->plen;
    int c = after ? memcmp(after, l->prefix, n) : -1;
    if (!after || c < 0 || (c == 0 && alen < l->plen)) {
        memcpy(l->buf + l->blen, l->prefix, l->plen);
        rocksdb_iter_seek(l->it, l->buf, l->blen + l->plen);
        return;
    }
    if (l->dlen && c == 0) {
        const char *d = memmem(after + l->plen, alen - l->plen, l->delim, l->dlen);
        if (d) {
            seek_past(l, after, (size_t)(d - after) + l->dlen);
            return;
        }
    }
    /* No key holds a NUL, so the first key after `after` is the first one
     * at or past after + "\0". */
    memcpy(l->buf + l->blen, after, alen);
    l->buf[l->blen + alen] = 0;
    rocksdb_iter_seek(l->it, l->buf, l->blen + alen + 1);
}

/* Append an entry; 1 if max-keys was already reached (truncated). */
static int emit(lister *l, const char *k, size_t klen, int is_prefix, const head_sum *h)
{
    stor_list_result *out = l->out;
    if (out->n == l->max) {
        out->truncated = 1;
        return 1;
    }
    stor_list_entry *e = &out->entries[out->n];
    if (!(e->key = tarn_arena_strndup(l->a, k, klen)))
        return TARN_E_NOMEM;
    e->key_len = klen;
    e->is_prefix = is_prefix;
    if (!is_prefix) {
        e->size = h->size;
        e->mtime_ms = h->mtime_ms;
        e->etag = h->etag;
    }
    out->n++;
    out->next_after = e->key;
    out->next_after_len = klen;
    return 0;
}

/* One step at the iterator's head. 1: stop (truncated), 0: go on. */
static int step(void *arg, const char *k, size_t klen, const char *val, size_t vlen)
{
    lister *l = arg;
    head_sum h;
    int rc = head_summary(l->a, val, vlen, &h);
    if (rc)
        return rc;
    /* A delete marker is not listed, nor does it make a common prefix. */
    if (h.delete_marker) {
        rocksdb_iter_next(l->it);
        return 0;
    }
    const char *d = l->dlen ? memmem(k + l->plen, klen - l->plen, l->delim, l->dlen) : NULL;
    if (!d) {
        rc = emit(l, k, klen, 0, &h);
        if (!rc)
            rocksdb_iter_next(l->it);
        return rc;
    }
    size_t cplen = (size_t)(d - k) + l->dlen;
    rc = emit(l, k, cplen, 1, NULL);
    if (!rc)
        seek_past(l, k, cplen); /* k may point into the iterator: copied first */
    return rc;
}

int stor__iter_scan(rocksdb_iterator_t *it, const char *base, size_t blen, const char *prefix,
                    size_t plen,
                    int (*visit)(void *ctx, const char *k, size_t klen, const char *v,
                                size_t vlen),
                    void *ctx, const char *what)
{
    int rc = 0;
    while (rc == 0 && rocksdb_iter_valid(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        /* An upper bound may end the scan; this guards the bytes anyway. */
        if (klen < blen + plen || memcmp(k, base, blen) != 0 ||
            memcmp(k + blen, prefix, plen) != 0)
            break;
        const char *val = rocksdb_iter_value(it, &vlen);
        rc = visit(ctx, k + blen, klen - blen, val, vlen);
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err) {
        TARN_ERROR("storage: %s: %s", what, err);
        rocksdb_free(err);
        return TARN_E_IO;
    }
    return rc < 0 ? rc : 0;
}



/* "o/<bucket>\0" in l->buf, with room for any seek target. */
static int lister_init(lister *l, const char *bucket, const stor_list_params *p)
{
    stor_key k;
    if (stor__key_bucket_prefix(&k, STOR_FAM_HEAD, bucket))
        return TARN_E_NO_SUCH_BUCKET;
    l->prefix = p->prefix ? p->prefix : "";
    l->plen = strlen(l->prefix);
    l->delim = p->delimiter ? p->delimiter : "";
    l->dlen = strlen(l->delim);
    l->max = p->max_keys < 0 ? 0 : p->max_keys > LIST_MAX_KEYS ? LIST_MAX_KEYS
                                                                : (size_t)p->max_keys;
    l->blen = k.len;
    /* Seek targets are base + (after, the prefix or a stored key) + 1. */
    size_t room = p->after && p->after_len > l->plen ? p->after_len : l->plen;
    l->cap = k.len + (room > STOR_KEY_MAX ? room : STOR_KEY_MAX) + 1;
    l->buf = tarn_arena_alloc(l->a, l->cap);
    l->base = tarn_arena_strndup(l->a, k.buf, k.len);
    l->out->entries = tarn_arena_calloc(l->a, (l->max ? l->max : 1) * sizeof(stor_list_entry));
    if (!l->buf || !l->base || !l->out->entries)
        return TARN_E_NOMEM;
    memcpy(l->buf, k.buf, k.len);
    return 0;
}

int stor_object_list(stor *s, tarn_arena *a, const char *bucket, const stor_list_params *p,
                     stor_list_result *out)
{
    stor_bucket b;
    lister l = {.a = a, .out = out};
    memset(out, 0, sizeof(*out));
    int rc = stor_bucket_get(s, bucket, &b);
    if (!rc)
        rc = lister_init(&l, bucket, p);
    if (rc)
        return rc;
    /* Bound the iterator to the prefix's keys: RocksDB then stops at the
     * end instead of stepping over what follows (other buckets, tombstones). */
    char *upper = tarn_arena_alloc(a, l.blen + l.plen);
    if (!upper)
        return TARN_E_NOMEM;
    memcpy(upper, l.base, l.blen);
    memcpy(upper + l.blen, l.prefix, l.plen);
    size_t ulen = succ((unsigned char *)upper, l.blen + l.plen);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_upper_bound(ro, upper, ulen);
    l.it = rocksdb_create_iterator(s->db, ro);
    seek_start(&l, p->after, p->after ? p->after_len : 0);
    rc = stor__iter_scan(l.it, l.base, l.blen, l.prefix, l.plen, step, &l, "list");
    rocksdb_iter_destroy(l.it);
    rocksdb_readoptions_destroy(ro);
    return rc;
}
