/*
 * object_meta.c — the metadata half of objects: the version record codec,
 * committing a version (log entry, head, data reference and the replaced
 * version's garbage in one batch), reading a version, and deleting a key.
 *
 * The data path (put.c, get.c) calls stor__version_commit once every shard
 * is durable and stor__version_get to find what to read. A key's head
 * ("o/") is a full copy of its newest version record, so GET, HEAD and LIST
 * answer from one point read or one scan; the version log ("v/") is read
 * only for a request that names a version. "d/<data_id>" marks which shard
 * files belong to a committed version: GC and the start-up sweep trust it.
 */
#include "object_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- The version record ------------------------------------------------- */

static int put_opt_str(tarn_buf *b, unsigned tag, const char *s)
{
    return s && *s ? stor__rec_str(b, tag, s) : 0;
}

int stor__layout_encode(tarn_buf *b, const stor_layout *l)
{
    if (l->n_parts) { /* multipart: the parts table (and manifest) say it all */
        int rc = stor__rec_u64(b, STOR_VT_L_SIZE, l->size);
        if (!rc)
            rc = stor__rec_bytes(b, STOR_VT_L_PARTS, l->parts,
                                 (size_t)l->n_parts * STOR_PART_ENTRY);
        if (!rc && l->has_manifest)
            rc = stor__rec_bytes(b, STOR_VT_L_MANIFEST, l->manifest, STOR_PART_ENTRY);
        return rc;
    }
    unsigned n = (unsigned)l->k + l->m;
    if (n > STOR_MAX_SHARDS)
        return TARN_E_INVAL;
    int rc = stor__rec_u64(b, STOR_VT_L_K, l->k);
    if (!rc)
        rc = stor__rec_u64(b, STOR_VT_L_M, l->m);
    if (!rc)
        rc = stor__rec_u64(b, STOR_VT_L_BLOCK, l->block_size);
    if (!rc)
        rc = stor__rec_u64(b, STOR_VT_L_SIZE, l->size);
    if (!rc)
        rc = put_opt_str(b, STOR_VT_L_DATA_ID, l->data_id);
    if (!rc && n)
        rc = stor__rec_bytes(b, STOR_VT_L_DISKS, l->disk, n);
    return rc;
}

static int encode_headers(tarn_buf *b, const stor_object *o)
{
    const char *const hdr[] = {o->content_type, o->content_encoding, o->content_disposition,
                               o->content_language, o->cache_control, o->expires};
    int rc = 0;
    for (unsigned i = 0; !rc && i < sizeof(hdr) / sizeof(hdr[0]); i++)
        rc = put_opt_str(b, STOR_VT_CTYPE + i, hdr[i]);
    for (size_t i = 0; !rc && i < o->n_meta; i++) {
        const stor_meta_pair *mp = &o->meta[i];
        rc = stor__rec_pair(b, STOR_VT_META, mp->name, strlen(mp->name), mp->value,
                            strlen(mp->value));
    }
    for (unsigned i = 0; !rc && i < STOR_CK__COUNT; i++)
        rc = put_opt_str(b, STOR_VT_CHECKSUM + i, o->checksum[i]);
    return rc;
}

int stor__version_encode(tarn_buf *b, const stor_object *o, const stor_layout *l)
{
    int rc = stor__rec_begin(b);
    if (!rc)
        rc = stor__rec_u64(b, STOR_VT_SIZE, o->size);
    if (!rc)
        rc = put_opt_str(b, STOR_VT_ETAG, o->etag);
    if (!rc)
        rc = encode_headers(b, o);
    if (!rc && o->delete_marker)
        rc = stor__rec_u64(b, STOR_VT_DELETE_MARKER, 1);
    /* A delete marker has no bytes and so no layout. */
    if (!rc && l && (l->k || l->data_id[0] || l->n_parts))
        rc = stor__layout_encode(b, l);
    return rc;
}

int stor__version_stamp(tarn_buf *b, const stor_vinfo *vi, int64_t mtime_ms)
{
    int rc = stor__rec_str(b, STOR_VT_ID, vi->id);
    if (!rc)
        rc = stor__rec_u64(b, STOR_VT_SEQ, vi->seq);
    if (!rc && vi->null_id)
        rc = stor__rec_u64(b, STOR_VT_NULL_ID, 1);
    if (!rc)
        rc = stor__rec_i64(b, STOR_VT_MTIME, mtime_ms);
    return rc;
}

/* What decoding fills; any of o, l, vi may be NULL. */
typedef struct vdec {
    tarn_arena *a;
    stor_object *o;
    stor_layout *l;
    stor_vinfo *vi;
    stor_meta_pair *meta; /* room for every META field (first pass) */
    size_t n_disks;
} vdec;

/* A string field copied into the arena; strings here are C strings, so
 * an embedded NUL means the record is damaged. */
static int field_dup(tarn_arena *a, const stor_rec_field *f, const char **out)
{
    if (memchr(f->p, 0, f->n))
        return TARN_E_CORRUPT;
    char *s = tarn_arena_strndup(a, (const char *)f->p, f->n);
    if (!s)
        return TARN_E_NOMEM;
    *out = s;
    return 0;
}

static int field_small(const stor_rec_field *f, uint64_t max, uint64_t *v)
{
    return stor__rec_field_u64(f, v) || *v > max ? TARN_E_CORRUPT : 0;
}

/* The parts table: copied into the arena, or (no arena) left pointing
 * into the record, which the caller then keeps until it is done. */
static int dec_parts(vdec *d, const stor_rec_field *f)
{
    stor_layout *l = d->l;
    if (!f->n || f->n % STOR_PART_ENTRY || f->n / STOR_PART_ENTRY > UINT32_MAX)
        return TARN_E_CORRUPT;
    unsigned char *copy = NULL;
    if (d->a && !(copy = tarn_arena_alloc(d->a, f->n)))
        return TARN_E_NOMEM;
    if (copy)
        memcpy(copy, f->p, f->n);
    l->parts = copy ? copy : f->p;
    l->n_parts = (uint32_t)(f->n / STOR_PART_ENTRY);
    stor_layout first;
    if (stor__layout_part(l, 0, &first, NULL))
        return TARN_E_CORRUPT;
    memcpy(l->data_id, first.data_id, sizeof(l->data_id)); /* what readers hold */
    return 0;
}

/* The manifest entry: checked as a parts entry is, copied into l. */
static int dec_manifest(stor_layout *l, const stor_rec_field *f)
{
    stor_layout ml;
    if (f->n != STOR_PART_ENTRY)
        return TARN_E_CORRUPT;
    memcpy(l->manifest, f->p, STOR_PART_ENTRY);
    l->has_manifest = 1;
    return stor__layout_manifest(l, &ml);
}

static int dec_layout(vdec *d, const stor_rec_field *f)
{
    stor_layout *l = d->l;
    uint64_t v = 0;
    int rc = 0;
    switch (f->tag) {
    case STOR_VT_L_K:
    case STOR_VT_L_M:
        rc = field_small(f, STOR_MAX_SHARDS, &v);
        *(f->tag == STOR_VT_L_K ? &l->k : &l->m) = (uint8_t)v;
        return rc;
    case STOR_VT_L_BLOCK:
        rc = field_small(f, UINT32_MAX, &v);
        l->block_size = (uint32_t)v;
        return rc;
    case STOR_VT_L_SIZE:
        return stor__rec_field_u64(f, &l->size);
    case STOR_VT_L_DATA_ID:
        return stor__rec_field_str(f, l->data_id, sizeof(l->data_id));
    case STOR_VT_L_DISKS:
        if (f->n > STOR_MAX_SHARDS)
            return TARN_E_CORRUPT;
        memcpy(l->disk, f->p, f->n);
        d->n_disks = f->n;
        return 0;
    case STOR_VT_L_PARTS:
        return dec_parts(d, f);
    case STOR_VT_L_MANIFEST:
        return dec_manifest(l, f);
    }
    return 0;
}

static int dec_identity(vdec *d, const stor_rec_field *f)
{
    uint64_t v;
    switch (f->tag) {
    case STOR_VT_ID:
        return stor__rec_field_str(f, d->vi->id, sizeof(d->vi->id));
    case STOR_VT_SEQ:
        return stor__rec_field_u64(f, &d->vi->seq);
    case STOR_VT_NULL_ID:
        if (stor__rec_field_u64(f, &v))
            return TARN_E_CORRUPT;
        d->vi->null_id = v != 0;
        return 0;
    }
    return 0;
}

static int dec_meta(vdec *d, const stor_rec_field *f)
{
    const unsigned char *name, *value;
    size_t nl, vl;
    stor_meta_pair *mp = &d->meta[d->o->n_meta];
    if (stor__rec_field_pair(f, &name, &nl, &value, &vl) || memchr(name, 0, nl) ||
        memchr(value, 0, vl))
        return TARN_E_CORRUPT;
    mp->name = tarn_arena_strndup(d->a, (const char *)name, nl);
    mp->value = tarn_arena_strndup(d->a, (const char *)value, vl);
    if (!mp->name || !mp->value)
        return TARN_E_NOMEM;
    d->o->n_meta++;
    return 0;
}

static int dec_object(vdec *d, const stor_rec_field *f)
{
    stor_object *o = d->o;
    const char **hdr[] = {&o->content_type, &o->content_encoding, &o->content_disposition,
                          &o->content_language, &o->cache_control, &o->expires};
    uint64_t v;
    if (f->tag >= STOR_VT_CTYPE && f->tag <= STOR_VT_EXPIRES)
        return field_dup(d->a, f, hdr[f->tag - STOR_VT_CTYPE]);
    if (f->tag >= STOR_VT_CHECKSUM && f->tag < STOR_VT_CHECKSUM + STOR_CK__COUNT)
        return field_dup(d->a, f, &o->checksum[f->tag - STOR_VT_CHECKSUM]);
    switch (f->tag) {
    case STOR_VT_SIZE:
        return stor__rec_field_u64(f, &o->size);
    case STOR_VT_MTIME:
        return stor__rec_field_i64(f, &o->mtime_ms);
    case STOR_VT_ETAG:
        return stor__rec_field_str(f, o->etag, sizeof(o->etag));
    case STOR_VT_META:
        return dec_meta(d, f);
    case STOR_VT_DELETE_MARKER:
        if (stor__rec_field_u64(f, &v))
            return TARN_E_CORRUPT;
        o->delete_marker = v != 0;
        return 0;
    }
    return 0;
}

/* First pass: count META fields, so the pairs get one arena array. */
static int count_meta(const void *data, size_t len, size_t *n)
{
    stor_rec_reader r;
    stor_rec_field f;
    int rc = stor__rec_open(&r, data, len);
    *n = 0;
    while (!rc && (rc = stor__rec_next(&r, &f)) == 1) {
        *n += f.tag == STOR_VT_META;
        rc = 0;
    }
    return rc < 0 ? TARN_E_CORRUPT : 0;
}

static int dec_field(vdec *d, const stor_rec_field *f)
{
    if (f->tag >= STOR_VT_L_K && f->tag <= STOR_VT_L_MANIFEST)
        return d->l ? dec_layout(d, f) : 0;
    if (f->tag <= STOR_VT_NULL_ID)
        return d->vi ? dec_identity(d, f) : 0;
    return d->o ? dec_object(d, f) : 0;
}

int stor__version_decode(const void *data, size_t len, tarn_arena *a, stor_object *o,
                         stor_layout *l, stor_vinfo *vi)
{
    stor_vinfo vtmp;
    vdec d = {.a = a, .o = o, .l = l, .vi = vi ? vi : &vtmp};
    size_t n_meta = 0;
    int rc = count_meta(data, len, &n_meta);
    if (rc)
        return rc;
    memset(d.vi, 0, sizeof(*d.vi));
    if (l)
        memset(l, 0, sizeof(*l));
    if (o) {
        memset(o, 0, sizeof(*o));
        if (n_meta && !(d.meta = tarn_arena_calloc(a, n_meta * sizeof(*d.meta))))
            return TARN_E_NOMEM;
        o->meta = d.meta;
    }
    stor_rec_reader r;
    stor_rec_field f;
    stor__rec_open(&r, data, len); /* checked by count_meta */
    while ((rc = stor__rec_next(&r, &f)) == 1)
        if ((rc = dec_field(&d, &f)) != 0)
            return rc == TARN_E_NOMEM ? rc : TARN_E_CORRUPT;
    if (rc < 0)
        return TARN_E_CORRUPT;
    if (l && d.n_disks != (size_t)l->k + l->m)
        return TARN_E_CORRUPT; /* a shard without a disk, or the reverse */
    if (o)
        strcpy(o->version_id, d.vi->null_id ? "null" : d.vi->id);
    return 0;
}

int stor__object_copy(tarn_arena *a, const stor_object *in, stor_object *o)
{
    *o = *in;
    const char **str[] = {&o->content_type, &o->content_encoding, &o->content_disposition,
                          &o->content_language, &o->cache_control, &o->expires};
    for (size_t i = 0; i < sizeof(str) / sizeof(str[0]); i++)
        if (*str[i] && !(*str[i] = tarn_arena_strdup(a, *str[i])))
            return TARN_E_NOMEM;
    for (int i = 0; i < STOR_CK__COUNT; i++)
        if (o->checksum[i] && !(o->checksum[i] = tarn_arena_strdup(a, o->checksum[i])))
            return TARN_E_NOMEM;
    stor_meta_pair *mp = o->n_meta ? tarn_arena_alloc(a, o->n_meta * sizeof(*mp)) : NULL;
    for (size_t i = 0; i < o->n_meta; i++) {
        if (!mp || !(mp[i].name = tarn_arena_strdup(a, in->meta[i].name)) ||
            !(mp[i].value = tarn_arena_strdup(a, in->meta[i].value)))
            return TARN_E_NOMEM;
    }
    o->meta = mp;
    return 0;
}

/* ---- Shared pieces of the commit ops ------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* NO_SUCH_BUCKET unless b/<bucket> exists in the transaction's view. */
int stor__txn_bucket_check(stor_txn *t, const char *bucket)
{
    stor_key k;
    char *val;
    size_t len;
    if (stor__key_bucket(&k, bucket))
        return TARN_E_NO_SUCH_BUCKET;
    int rc = stor__txn_get(t, &k, &val, &len);
    if (rc == TARN_E_NOT_FOUND)
        return TARN_E_NO_SUCH_BUCKET;
    if (!rc)
        rocksdb_free(val);
    return rc;
}

/* The next store-wide sequence number, persisted in the same batch. The
 * counter lives in memory on the commit thread; a failed op or batch only
 * leaves a gap, and gaps are harmless. */
static int seq_next(stor_txn *t, uint64_t *seq)
{
    stor *s = t->s;
    stor_key k;
    unsigned char be[8];
    stor__key_system(&k, STOR_SYS_SEQ);
    if (!s->seq_loaded) {
        char *val;
        size_t len;
        int rc = stor__txn_get(t, &k, &val, &len);
        if (rc && rc != TARN_E_NOT_FOUND)
            return rc;
        if (!rc && len != 8) {
            rocksdb_free(val);
            TARN_ERROR("storage: s/seq is corrupt");
            return TARN_E_IO;
        }
        s->seq = rc ? 0 : stor__be64_get((const unsigned char *)val);
        if (!rc)
            rocksdb_free(val);
        s->seq_loaded = 1;
    }
    *seq = ++s->seq;
    stor__be64_put(be, *seq);
    stor__txn_put(t, &k, be, sizeof(be));
    return 0;
}

/* Queue a version's shards for GC: "g/<seq>" with its layout. */
int stor__garbage_put(stor_txn *t, const stor_layout *l)
{
    uint64_t seq;
    stor_key k;
    tarn_buf rec = {0};
    int rc = seq_next(t, &seq);
    if (!rc)
        rc = stor__key_garbage(&k, seq);
    if (!rc)
        rc = stor__rec_begin(&rec);
    if (!rc)
        rc = stor__layout_encode(&rec, l);
    if (!rc) {
        stor__txn_put(t, &k, rec.data, rec.len);
        t->s->gc_queued = 1;
    }
    tarn_buf_free(&rec);
    return rc;
}

static int data_ref_delete(stor_txn *t, const char *id)
{
    stor_key k;
    int rc = stor__key_data(&k, id);
    if (!rc)
        stor__txn_delete(t, &k);
    return rc;
}

/* Drop the "d/" keys of l's data: its one id, or every part's and the
 * manifest's. */
static int data_refs_delete(stor_txn *t, const stor_layout *l)
{
    stor_layout pl;
    if (!l->n_parts)
        return data_ref_delete(t, l->data_id);
    for (uint32_t i = 0; i < l->n_parts; i++) {
        int rc = stor__layout_part(l, i, &pl, NULL);
        if (!rc)
            rc = data_ref_delete(t, pl.data_id);
        if (rc)
            return rc;
    }
    int rc = stor__layout_manifest(l, &pl);
    if (rc == TARN_E_NOT_FOUND) /* completed before manifests */
        return 0;
    return rc ? rc : data_ref_delete(t, pl.data_id);
}

/* Unlink the key's current version, if any: drop its log entry and data
 * reference and queue its shards for GC (unversioned bucket: one live
 * version). keep_id: the data id about to be committed, never collected.
 * The head itself is left to the caller (overwritten or deleted).
 * 1 if there was a version, 0 if none, or an error. */
static int head_unlink(stor_txn *t, const stor_key *hk, const char *bucket, const char *key,
                       size_t keylen, const char *keep_id)
{
    char *val;
    size_t len;
    stor_layout l;
    stor_vinfo vi;
    stor_key k;
    int rc = stor__txn_get(t, hk, &val, &len);
    if (rc)
        return rc == TARN_E_NOT_FOUND ? 0 : rc;
    /* No arena: a parts table points into val, freed at the end. */
    rc = stor__version_decode(val, len, NULL, NULL, &l, &vi);
    if (rc) {
        rocksdb_free(val);
        /* Refusing every later write to the key would be worse than
         * leaking one version's shards. */
        TARN_ERROR("storage: head of %s/%.*s is corrupt; replacing it", bucket, (int)keylen,
                   key);
        return 1;
    }
    rc = stor__key_version(&k, bucket, key, keylen, vi.seq);
    if (!rc)
        stor__txn_delete(t, &k);
    if (!rc && l.data_id[0] && !(keep_id && strcmp(l.data_id, keep_id) == 0)) {
        rc = data_refs_delete(t, &l);
        if (!rc)
            rc = stor__garbage_put(t, &l);
    }
    rocksdb_free(val);
    return rc ? rc : 1;
}

/* Object key and bucket as ops carry them. An over-long bucket name is
 * left empty (apply then answers NoSuchBucket, as S3 does for a name that
 * cannot exist) rather than truncated into another bucket's name. */
typedef struct obj_ref {
    char bucket[STOR_BUCKET_MAX + 1];
    char key[STOR_OBJKEY_MAX];
    size_t keylen;
} obj_ref;

static int obj_ref_set(obj_ref *r, const char *bucket, const char *key, size_t keylen)
{
    stor_key k;
    int rc = stor__key_head(&k, "b", key, keylen); /* checks the key alone */
    if (rc)
        return rc;
    size_t n = strnlen(bucket, sizeof(r->bucket));
    if (n < sizeof(r->bucket))
        memcpy(r->bucket, bucket, n + 1);
    memcpy(r->key, key, keylen);
    r->keylen = keylen;
    return 0;
}

/* ---- Commit a version ----------------------------------------------------- */

typedef struct vcommit_op {
    stor_op base;
    obj_ref ref;
    tarn_buf rec;       /* encoded at submit, stamped in apply */
    stor_layout layout;
    char rnd[17];       /* the random half of the version id */
    stor_object *out;
    stor_commit_hook hook;
    unsigned char *parts; /* the commit's own copy of layout.parts */
} vcommit_op;

static void vcommit_release(stor_op *op)
{
    vcommit_op *c = (vcommit_op *)op;
    if (c->hook.free)
        c->hook.free(c->hook.ctx);
    tarn_buf_free(&c->rec);
    free(c->parts);
    free(c);
}

/* "d/<data_id>" -> which version owns the shard files. */
static int data_ref_put(const char *bucket, const char *key, size_t keylen,
                        const stor_vinfo *vi, const char *id, stor_put_kv put, void *ctx)
{
    stor_key k;
    tarn_buf rec = {0};
    int rc = stor__key_data(&k, id);
    if (!rc)
        rc = stor__rec_begin(&rec);
    if (!rc)
        rc = stor__rec_str(&rec, STOR_DT_BUCKET, bucket);
    if (!rc)
        rc = stor__rec_bytes(&rec, STOR_DT_KEY, key, keylen);
    if (!rc)
        rc = stor__rec_str(&rec, STOR_DT_ID, vi->id);
    if (!rc)
        rc = stor__rec_u64(&rec, STOR_DT_SEQ, vi->seq);
    if (!rc)
        put(ctx, &k, rec.data, rec.len);
    tarn_buf_free(&rec);
    return rc;
}

int stor__data_refs_put(const char *bucket, const char *key, size_t keylen,
                        const stor_vinfo *vi, const stor_layout *l, stor_put_kv put, void *ctx)
{
    stor_layout pl;
    if (!l->n_parts)
        return data_ref_put(bucket, key, keylen, vi, l->data_id, put, ctx);
    for (uint32_t i = 0; i < l->n_parts; i++) {
        int rc = stor__layout_part(l, i, &pl, NULL);
        if (!rc)
            rc = data_ref_put(bucket, key, keylen, vi, pl.data_id, put, ctx);
        if (rc)
            return rc;
    }
    int rc = stor__layout_manifest(l, &pl);
    if (rc == TARN_E_NOT_FOUND)
        return 0;
    return rc ? rc : data_ref_put(bucket, key, keylen, vi, pl.data_id, put, ctx);
}

static void txn_put_kv(void *t, const stor_key *k, const void *val, size_t len)
{
    stor__txn_put(t, k, val, len);
}

/* Write the stamped record as the log entry and as the head. */
static int version_put(stor_txn *t, vcommit_op *c, const stor_key *hk, const stor_vinfo *vi,
                       int64_t mtime)
{
    stor_key vk;
    tarn_buf rec = {0};
    int rc = stor__key_version(&vk, c->ref.bucket, c->ref.key, c->ref.keylen, vi->seq);
    if (!rc)
        rc = tarn_buf_append(&rec, c->rec.data, c->rec.len);
    if (!rc)
        rc = stor__version_stamp(&rec, vi, mtime);
    if (!rc) {
        stor__txn_put(t, &vk, rec.data, rec.len);
        stor__txn_put(t, hk, rec.data, rec.len);
    }
    tarn_buf_free(&rec);
    return rc;
}

static int vcommit_apply(stor_txn *t, stor_op *op)
{
    vcommit_op *c = (vcommit_op *)op;
    const obj_ref *r = &c->ref;
    stor_vinfo vi = {.null_id = 1}; /* every bucket is unversioned for now */
    stor_key hk;
    int64_t mtime = now_ms();
    int rc = stor__txn_bucket_check(t, r->bucket);
    if (!rc && c->hook.apply)
        rc = c->hook.apply(t, c->hook.ctx);
    if (!rc)
        rc = stor__key_head(&hk, r->bucket, r->key, r->keylen);
    if (!rc)
        rc = seq_next(t, &vi.seq);
    if (rc)
        return rc;
    /* Counter then random: unique in the store even across a restored
     * backup, and unguessable. */
    snprintf(vi.id, sizeof(vi.id), "%016llx%s", (unsigned long long)vi.seq, c->rnd);
    rc = head_unlink(t, &hk, r->bucket, r->key, r->keylen, c->layout.data_id);
    if (rc < 0)
        return rc;
    rc = version_put(t, c, &hk, &vi, mtime);
    if (!rc && c->layout.data_id[0])
        rc = stor__data_refs_put(r->bucket, r->key, r->keylen, &vi, &c->layout, txn_put_kv, t);
    if (!rc && c->out) {
        strcpy(c->out->version_id, "null");
        c->out->mtime_ms = mtime;
    }
    return rc;
}

int stor__version_commit(stor *s, stor_waker *w, const char *bucket, const char *key,
                         size_t key_len, const stor_object *meta, const stor_layout *layout,
                         stor_object *out, stor_done_fn done, void *arg)
{
    return stor__version_commit_ex(s, w, bucket, key, key_len, meta, layout, NULL, out, done,
                                   arg);
}

int stor__version_commit_ex(stor *s, stor_waker *w, const char *bucket, const char *key,
                            size_t key_len, const stor_object *meta, const stor_layout *layout,
                            const stor_commit_hook *hook, stor_object *out, stor_done_fn done,
                            void *arg)
{
    unsigned char rnd[8];
    vcommit_op *c = calloc(1, sizeof(*c));
    if (!c) {
        if (hook && hook->free)
            hook->free(hook->ctx);
        return TARN_E_NOMEM;
    }
    c->base.apply = vcommit_apply;
    c->base.release = vcommit_release;
    c->out = out;
    if (hook)
        c->hook = *hook;
    int rc = 0;
    if (layout)
        c->layout = *layout;
    if (layout && layout->n_parts) { /* apply reads it after the caller may be gone */
        size_t n = (size_t)layout->n_parts * STOR_PART_ENTRY;
        if (!(c->parts = malloc(n)))
            rc = TARN_E_NOMEM;
        else
            c->layout.parts = memcpy(c->parts, layout->parts, n);
    }
    if (!rc)
        rc = obj_ref_set(&c->ref, bucket, key, key_len);
    if (!rc && getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rc = TARN_E_IO;
    if (!rc) {
        tarn_hex(rnd, sizeof(rnd), c->rnd);
        /* Encoded here, on the caller's thread: meta's strings may go
         * away once this returns, and the commit thread stays short. */
        rc = stor__version_encode(&c->rec, meta, layout);
    }
    if (!rc)
        rc = stor__commit_submit(s, &c->base, w, done, arg);
    if (rc)
        vcommit_release(&c->base);
    return rc;
}

/* ---- Delete ----------------------------------------------------------------- */

typedef struct odelete_op {
    stor_op base;
    obj_ref ref;
} odelete_op;

static int odelete_apply(stor_txn *t, stor_op *op)
{
    const obj_ref *r = &((odelete_op *)op)->ref;
    stor_key hk;
    int rc = stor__txn_bucket_check(t, r->bucket);
    if (!rc)
        rc = stor__key_head(&hk, r->bucket, r->key, r->keylen);
    if (!rc)
        rc = head_unlink(t, &hk, r->bucket, r->key, r->keylen, NULL);
    if (rc == 1)
        stor__txn_delete(t, &hk);
    return rc < 0 ? rc : 0; /* S3 DeleteObject: 204 also for no such key */
}

int stor_object_delete(stor *s, stor_waker *w, const char *bucket, const char *key,
                       size_t key_len, stor_done_fn done, void *arg)
{
    odelete_op *d = calloc(1, sizeof(*d));
    if (!d)
        return TARN_E_NOMEM;
    d->base.apply = odelete_apply;
    int rc = obj_ref_set(&d->ref, bucket, key, key_len);
    if (!rc)
        rc = stor__commit_submit(s, &d->base, w, done, arg);
    if (rc)
        free(d);
    return rc;
}

/* ---- Reads --------------------------------------------------------------------- */

/* Point read of a raw value. 0 with *val (rocksdb_free), NOT_FOUND, IO. */
int stor__db_get(stor *s, const stor_key *k, char **val, size_t *len)
{
    char *err = NULL;
    *val = rocksdb_get(s->db, s->ropts, k->buf, k->len, len, &err);
    if (err) {
        TARN_ERROR("storage: read: %s", err);
        rocksdb_free(err);
        return TARN_E_IO;
    }
    return *val ? 0 : TARN_E_NOT_FOUND;
}

static int decode_logged(const char *val, size_t len, tarn_arena *a, stor_object *o,
                         stor_layout *l, stor_vinfo *vi)
{
    int rc = stor__version_decode(val, len, a, o, l, vi);
    if (rc == TARN_E_CORRUPT)
        TARN_ERROR("storage: version record is corrupt");
    return rc == TARN_E_CORRUPT ? TARN_E_IO : rc;
}

static int head_read(stor *s, tarn_arena *a, const stor_key *hk, stor_object *o,
                     stor_layout *l)
{
    char *val;
    size_t len;
    int rc = stor__db_get(s, hk, &val, &len);
    if (rc)
        return rc == TARN_E_NOT_FOUND ? TARN_E_NO_SUCH_KEY : rc;
    rc = decode_logged(val, len, a, o, l, NULL);
    rocksdb_free(val);
    if (!rc && o->delete_marker)
        rc = TARN_E_NO_SUCH_KEY;
    return rc;
}

/* Scan the key's log for a version whose S3 id ("null" or the id) or
 * internal id is vid. Each entry's identity is decoded first, so only the
 * match's strings reach the arena. */
static int log_find(stor *s, tarn_arena *a, const stor_key *prefix, const char *vid,
                    stor_object *o, stor_layout *l)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    int rc = TARN_E_NO_SUCH_KEY;
    for (rocksdb_iter_seek(it, prefix->buf, prefix->len); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen < prefix->len || memcmp(k, prefix->buf, prefix->len) != 0)
            break;
        const char *v = rocksdb_iter_value(it, &vlen);
        stor_vinfo vi;
        if ((rc = decode_logged(v, vlen, NULL, NULL, NULL, &vi)) != 0)
            break;
        rc = TARN_E_NO_SUCH_KEY;
        if (strcmp(vid, vi.id) == 0 || (vi.null_id && strcmp(vid, "null") == 0)) {
            rc = decode_logged(v, vlen, a, o, l, NULL);
            break;
        }
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    if (err) {
        TARN_ERROR("storage: version log scan: %s", err);
        rocksdb_free(err);
        rc = TARN_E_IO;
    }
    return rc;
}

int stor__version_get(stor *s, tarn_arena *a, const char *bucket, const char *key,
                      size_t key_len, const char *version_id, stor_object *obj,
                      stor_layout *layout)
{
    stor_key k;
    stor_object tmp;
    stor_bucket b;
    if (stor__key_bucket(&k, bucket))
        return TARN_E_NO_SUCH_BUCKET;
    obj = obj ? obj : &tmp;
    int rc;
    if (!version_id) {
        rc = stor__key_head(&k, bucket, key, key_len);
        if (!rc)
            rc = head_read(s, a, &k, obj, layout);
    } else {
        rc = stor__key_version_prefix(&k, bucket, key, key_len);
        if (!rc)
            rc = log_find(s, a, &k, version_id, obj, layout);
    }
    /* The bucket is looked at only on a miss: a hit proves it exists
     * (DeleteBucket refuses while any head is left). */
    if (rc == TARN_E_NO_SUCH_KEY) {
        int brc = stor_bucket_get(s, bucket, &b);
        rc = brc == 0 ? rc : brc;
    }
    return rc;
}

int stor_object_get(stor *s, tarn_arena *a, const char *bucket, const char *key,
                    size_t key_len, const char *version_id, stor_object *out)
{
    return stor__version_get(s, a, bucket, key, key_len, version_id, out, NULL);
}

int stor__data_referenced(stor *s, const char *data_id)
{
    stor_key k;
    char *val;
    size_t len;
    if (stor__key_data(&k, data_id))
        return 0; /* not a data id we could have written */
    int rc = stor__db_get(s, &k, &val, &len);
    if (rc == 0)
        rocksdb_free(val);
    return rc == 0 ? 1 : rc == TARN_E_NOT_FOUND ? 0 : rc;
}
