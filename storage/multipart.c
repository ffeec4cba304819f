/*
 * multipart.c — multipart uploads in the metadata index (docs/multipart.md):
 * upload records ("u/"), part records ("p/"), committing an uploaded part,
 * reading an upload's parts, abort and the expiry of abandoned uploads, and
 * the packed parts table a completed version's layout carries (and its
 * manifest entry, in the same format).
 *
 * A part is written by the ordinary put pipeline (put.c) into its own
 * shard set; only its commit differs (stor__part_commit: a part record and
 * "d/<data id>" instead of a version). From then on the part's data id is
 * referenced, so the start-up sweep keeps its files and GC leaves them
 * alone, until the part is replaced, aborted, left out of the completion,
 * or its version is replaced in turn. Completion (multipart_complete.c)
 * hands every part's data to the new version in one batch.
 */
#include "object_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- The parts table ------------------------------------------------------ */

static void be32_put(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static uint32_t be32_get(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int stor__part_entry_put(unsigned char *dst, uint32_t number, const stor_layout *pl)
{
    unsigned n = (unsigned)pl->k + pl->m;
    if (n > STOR_MAX_SHARDS || strlen(pl->data_id) != 32)
        return TARN_E_INVAL;
    memset(dst, 0, STOR_PART_ENTRY);
    be32_put(dst, number);
    stor__be64_put(dst + 4, pl->size);
    be32_put(dst + 12, pl->block_size);
    dst[16] = pl->k;
    dst[17] = pl->m;
    for (int i = 0; i < 16; i++) { /* data ids are 32 lower-case hex */
        int hi = tarn_hex_value(pl->data_id[2 * i]), lo = tarn_hex_value(pl->data_id[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return TARN_E_INVAL;
        dst[18 + i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(dst + 34, pl->disk, n);
    return 0;
}

static int entry_decode(const unsigned char *e, stor_layout *out, uint32_t *number)
{
    memset(out, 0, sizeof(*out));
    out->size = stor__be64_get(e + 4);
    out->block_size = be32_get(e + 12);
    out->k = e[16];
    out->m = e[17];
    if (!out->k || out->k + out->m > STOR_MAX_SHARDS)
        return TARN_E_CORRUPT;
    tarn_hex(e + 18, 16, out->data_id);
    memcpy(out->disk, e + 34, (size_t)out->k + out->m);
    if (number)
        *number = be32_get(e);
    return 0;
}

int stor__layout_part(const stor_layout *l, uint32_t i, stor_layout *out, uint32_t *number)
{
    if (i >= l->n_parts)
        return TARN_E_CORRUPT;
    return entry_decode(l->parts + (size_t)i * STOR_PART_ENTRY, out, number);
}

int stor__layout_manifest(const stor_layout *l, stor_layout *out)
{
    if (!l->has_manifest)
        return TARN_E_NOT_FOUND;
    return entry_decode(l->manifest, out, NULL);
}

int stor__layout_manifest_set(stor_layout *l, const stor_layout *ml)
{
    int rc = stor__part_entry_put(l->manifest, 0, ml);
    l->has_manifest = !rc;
    return rc;
}

/* ---- Upload records ---------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int upload_encode(tarn_buf *b, const stor_upload *u)
{
    int rc = stor__version_encode(b, &u->meta, NULL);
    if (!rc)
        rc = stor__rec_i64(b, STOR_UT_INITIATED, u->initiated_ms);
    if (!rc && u->owner[0])
        rc = stor__rec_str(b, STOR_UT_OWNER, u->owner);
    if (!rc && u->checksum_alg >= 0 && u->checksum_alg < STOR_CK__COUNT)
        rc = stor__rec_u64(b, STOR_UT_CK_ALG, (uint64_t)u->checksum_alg + 1);
    if (!rc && u->checksum_full)
        rc = stor__rec_u64(b, STOR_UT_CK_FULL, 1);
    return rc;
}

/* The upload's own tags (the object's are decoded as a version's). */
int stor__upload_tags(const void *val, size_t len, stor_upload *u)
{
    stor_rec_reader r;
    stor_rec_field f;
    uint64_t v;
    int rc = stor__rec_open(&r, val, len);
    while (!rc && (rc = stor__rec_next(&r, &f)) == 1) {
        rc = 0;
        if (f.tag == STOR_UT_INITIATED)
            rc = stor__rec_field_i64(&f, &u->initiated_ms);
        else if (f.tag == STOR_UT_OWNER)
            rc = stor__rec_field_str(&f, u->owner, sizeof(u->owner));
        else if (f.tag == STOR_UT_CK_ALG && !(rc = stor__rec_field_u64(&f, &v)))
            u->checksum_alg = v >= 1 && v <= STOR_CK__COUNT ? (int)v - 1 : -1;
        else if (f.tag == STOR_UT_CK_FULL && !(rc = stor__rec_field_u64(&f, &v)))
            u->checksum_full = v != 0;
    }
    return rc < 0 ? TARN_E_CORRUPT : 0;
}

static int upload_decode(const void *val, size_t len, tarn_arena *a, stor_upload *u)
{
    memset(u, 0, sizeof(*u));
    u->checksum_alg = -1;
    int rc = stor__version_decode(val, len, a, &u->meta, NULL, NULL);
    if (!rc)
        rc = stor__upload_tags(val, len, u);
    if (rc == TARN_E_CORRUPT)
        TARN_ERROR("storage: upload record is corrupt");
    return rc == TARN_E_CORRUPT ? TARN_E_IO : rc;
}

/* Time-ordered, so one key's uploads list in initiation order (S3), then
 * random: 16 hex digits of the time in microseconds and 16 characters of
 * base64url, nothing a URL needs to escape. */
static int upload_id_new(char *out)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char rnd[16];
    struct timespec ts;
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return TARN_E_IO;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    snprintf(out, 17, "%016llx", (unsigned long long)us);
    for (int i = 0; i < 16; i++)
        out[16 + i] = b64[rnd[i] & 63];
    out[STOR_UPLOAD_ID_LEN] = 0;
    return 0;
}

/* ---- Ops' common part: bucket, key and upload id -------------------------------- */

typedef struct up_ref {
    char bucket[STOR_BUCKET_MAX + 1];
    char key[STOR_OBJKEY_MAX];
    size_t keylen;
    char upload_id[STOR_UPLOADID_MAX + 1];
} up_ref;

static int up_ref_set(up_ref *r, const char *bucket, const char *key, size_t keylen,
                      const char *upload_id)
{
    stor_key k;
    int rc = stor__key_upload(&k, "b", key, keylen, upload_id); /* key and id alone */
    if (rc)
        return rc;
    snprintf(r->bucket, sizeof(r->bucket), "%s", strlen(bucket) < sizeof(r->bucket) ? bucket : "");
    memcpy(r->key, key, keylen);
    r->keylen = keylen;
    snprintf(r->upload_id, sizeof(r->upload_id), "%s", upload_id);
    return 0;
}

/* NO_SUCH_UPLOAD unless the upload exists in the transaction's view. */
static int txn_upload_check(stor_txn *t, const up_ref *r, stor_key *uk)
{
    char *val;
    size_t len;
    int rc = stor__key_upload(uk, r->bucket, r->key, r->keylen, r->upload_id);
    if (!rc)
        rc = stor__txn_get(t, uk, &val, &len);
    if (rc)
        return rc == TARN_E_NOT_FOUND || rc == TARN_E_INVALID_ARGUMENT ? TARN_E_NO_SUCH_UPLOAD
                                                                       : rc;
    rocksdb_free(val);
    return 0;
}

/* "p/<bucket>\0<key>\0<upload>\0": the prefix of the upload's parts. */
static int parts_prefix(stor_key *k, const char *bucket, const char *key, size_t keylen,
                        const char *upload_id)
{
    int rc = stor__key_part(k, bucket, key, keylen, upload_id, 0);
    k->len -= 4;
    return rc;
}

/* ---- CreateMultipartUpload ----------------------------------------------------------- */

typedef struct create_op {
    stor_op base;
    up_ref ref;
    tarn_buf rec;
} create_op;

static void create_release(stor_op *op)
{
    tarn_buf_free(&((create_op *)op)->rec);
    free(op);
}

static int create_apply(stor_txn *t, stor_op *op)
{
    create_op *c = (create_op *)op;
    stor_key k;
    int rc = stor__txn_bucket_check(t, c->ref.bucket);
    if (!rc)
        rc = stor__key_upload(&k, c->ref.bucket, c->ref.key, c->ref.keylen, c->ref.upload_id);
    if (!rc)
        stor__txn_put(t, &k, c->rec.data, c->rec.len);
    return rc;
}

int stor_multipart_create(stor *s, stor_waker *w, const char *bucket, const char *key,
                          size_t key_len, const stor_upload *u, stor_upload *u_out,
                          stor_done_fn done, void *arg)
{
    char id[STOR_UPLOAD_ID_LEN + 1];
    stor_upload rec = *u;
    create_op *c = calloc(1, sizeof(*c));
    if (!c)
        return TARN_E_NOMEM;
    c->base.apply = create_apply;
    c->base.release = create_release;
    rec.initiated_ms = now_ms();
    int rc = upload_id_new(id);
    if (!rc)
        rc = up_ref_set(&c->ref, bucket, key, key_len, id);
    if (!rc)
        rc = upload_encode(&c->rec, &rec);
    if (!rc) {
        memcpy(u_out->upload_id, id, sizeof(id));
        u_out->initiated_ms = rec.initiated_ms;
        rc = stor__commit_submit(s, &c->base, w, done, arg);
    }
    if (rc)
        create_release(&c->base);
    return rc;
}

int stor_multipart_get(stor *s, tarn_arena *a, const char *bucket, const char *key,
                       size_t key_len, const char *upload_id, stor_upload *out)
{
    stor_key k;
    stor_bucket b;
    char *val;
    size_t len;
    if (stor__key_bucket(&k, bucket))
        return TARN_E_NO_SUCH_BUCKET;
    int rc = stor__key_upload(&k, bucket, key, key_len, upload_id);
    if (rc)
        return rc == TARN_E_KEY_TOO_LONG ? rc : TARN_E_NO_SUCH_UPLOAD;
    rc = stor__db_get(s, &k, &val, &len);
    if (rc == TARN_E_NOT_FOUND) {
        int brc = stor_bucket_get(s, bucket, &b);
        return brc ? brc : TARN_E_NO_SUCH_UPLOAD;
    }
    if (rc)
        return rc;
    rc = upload_decode(val, len, a, out);
    rocksdb_free(val);
    if (!rc)
        snprintf(out->upload_id, sizeof(out->upload_id), "%s", upload_id);
    return rc;
}

/* ---- UploadPart ------------------------------------------------------------------------ */

int stor_part_begin(stor_ioctx *io, const char *bucket, const char *key, size_t key_len,
                    const char *upload_id, uint32_t part, uint64_t size, stor_put **out)
{
    *out = NULL;
    if (part < 1 || part > STOR_MP_MAX_PARTS)
        return TARN_E_INVALID_ARGUMENT;
    stor_key k;
    char *val;
    size_t len;
    int rc = stor__key_upload(&k, bucket, key, key_len, upload_id);
    if (rc)
        return rc == TARN_E_KEY_TOO_LONG ? rc : TARN_E_NO_SUCH_UPLOAD;
    rc = stor__db_get(stor__io_store(io), &k, &val, &len);
    if (rc)
        return rc == TARN_E_NOT_FOUND ? TARN_E_NO_SUCH_UPLOAD : rc;
    rocksdb_free(val);
    rc = stor_put_begin(io, bucket, key, key_len, size, out);
    if (!rc)
        stor__put_as_part(*out, upload_id, part);
    return rc;
}

typedef struct part_op {
    stor_op base;
    up_ref ref;
    uint32_t part;
    tarn_buf rec;        /* size, etag, checksums, layout; mtime added in apply */
    stor_layout layout;
    stor_object *out;
} part_op;

static void part_release(stor_op *op)
{
    tarn_buf_free(&((part_op *)op)->rec);
    free(op);
}

/* "d/<id>" for a part: which upload and part own the files. */
static int part_data_ref(stor_txn *t, const part_op *c)
{
    stor_key k;
    tarn_buf rec = {0};
    int rc = stor__key_data(&k, c->layout.data_id);
    if (!rc)
        rc = stor__rec_begin(&rec);
    if (!rc)
        rc = stor__rec_str(&rec, STOR_DT_BUCKET, c->ref.bucket);
    if (!rc)
        rc = stor__rec_bytes(&rec, STOR_DT_KEY, c->ref.key, c->ref.keylen);
    if (!rc)
        rc = stor__rec_str(&rec, STOR_DT_UPLOAD, c->ref.upload_id);
    if (!rc)
        rc = stor__rec_u64(&rec, STOR_DT_PART, c->part);
    if (!rc)
        stor__txn_put(t, &k, rec.data, rec.len);
    tarn_buf_free(&rec);
    return rc;
}

/* A part uploaded again: its earlier data is unreferenced and collected. */
static int part_replace(stor_txn *t, const stor_key *pk, const char *keep_id)
{
    char *val;
    size_t len;
    stor_layout old;
    stor_key k;
    int rc = stor__txn_get(t, pk, &val, &len);
    if (rc)
        return rc == TARN_E_NOT_FOUND ? 0 : rc;
    rc = stor__version_decode(val, len, NULL, NULL, &old, NULL);
    rocksdb_free(val);
    if (rc || !old.data_id[0] || strcmp(old.data_id, keep_id) == 0)
        return 0; /* a corrupt record is overwritten; its files leak */
    if ((rc = stor__key_data(&k, old.data_id)) != 0)
        return rc;
    stor__txn_delete(t, &k);
    return stor__garbage_put(t, &old);
}

static int part_apply(stor_txn *t, stor_op *op)
{
    part_op *c = (part_op *)op;
    const up_ref *r = &c->ref;
    stor_key uk, pk;
    int64_t mtime = now_ms();
    int rc = stor__txn_bucket_check(t, r->bucket);
    if (!rc)
        rc = txn_upload_check(t, r, &uk);
    if (!rc)
        rc = stor__key_part(&pk, r->bucket, r->key, r->keylen, r->upload_id, c->part);
    if (!rc)
        rc = part_replace(t, &pk, c->layout.data_id);
    tarn_buf rec = {0};
    if (!rc)
        rc = tarn_buf_append(&rec, c->rec.data, c->rec.len);
    if (!rc)
        rc = stor__rec_i64(&rec, STOR_VT_MTIME, mtime);
    if (!rc)
        stor__txn_put(t, &pk, rec.data, rec.len);
    tarn_buf_free(&rec);
    if (!rc)
        rc = part_data_ref(t, c);
    if (!rc && c->out) {
        c->out->version_id[0] = 0;
        c->out->mtime_ms = mtime;
    }
    return rc;
}

int stor__part_commit(stor *s, stor_waker *w, const char *bucket, const char *key,
                      size_t key_len, const char *upload_id, uint32_t part,
                      const stor_object *meta, const stor_layout *layout, stor_object *out,
                      stor_done_fn done, void *arg)
{
    part_op *c = calloc(1, sizeof(*c));
    if (!c)
        return TARN_E_NOMEM;
    c->base.apply = part_apply;
    c->base.release = part_release;
    c->part = part;
    c->layout = *layout;
    c->out = out;
    /* Only what a part shows (ListParts, Complete): no content headers. */
    stor_object pm = {.size = meta->size};
    memcpy(pm.etag, meta->etag, sizeof(pm.etag));
    memcpy(pm.checksum, meta->checksum, sizeof(pm.checksum));
    int rc = up_ref_set(&c->ref, bucket, key, key_len, upload_id);
    if (!rc)
        rc = stor__version_encode(&c->rec, &pm, layout);
    if (!rc)
        rc = stor__commit_submit(s, &c->base, w, done, arg);
    if (rc)
        part_release(&c->base);
    return rc;
}

/* ---- Reading parts ---------------------------------------------------------------------- */

/* Visit the part records under prefix with numbers > after, ascending.
 * fn returns 0 to go on, 1 to stop, or an error. */
typedef int (*part_fn)(void *ctx, uint32_t number, const char *val, size_t len);

int stor__parts_scan(stor *s, const stor_key *prefix, uint32_t after, part_fn fn, void *ctx)
{
    stor_key start = *prefix;
    unsigned char be[4];
    be32_put(be, after + 1);
    memcpy(start.buf + start.len, be, 4);
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    int rc = 0;
    for (rocksdb_iter_seek(it, start.buf, start.len + 4); !rc && rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen != prefix->len + 4 || memcmp(k, prefix->buf, prefix->len) != 0)
            break;
        const char *v = rocksdb_iter_value(it, &vlen);
        rc = fn(ctx, be32_get((const unsigned char *)k + prefix->len), v, vlen);
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    if (err) {
        TARN_ERROR("storage: part scan: %s", err);
        rocksdb_free(err);
        rc = TARN_E_IO;
    }
    return rc < 0 ? rc : 0;
}

typedef struct list_ctx {
    tarn_arena *a;
    stor_part_list *out;
    size_t max;
} list_ctx;

static int list_one(void *arg, uint32_t number, const char *val, size_t len)
{
    list_ctx *c = arg;
    if (c->out->n == c->max) {
        c->out->truncated = 1;
        return 1;
    }
    stor_part *p = &c->out->parts[c->out->n];
    stor_object o;
    stor_layout l;
    int rc = stor__version_decode(val, len, c->a, &o, &l, NULL);
    if (rc) {
        TARN_ERROR("storage: part record is corrupt");
        return rc == TARN_E_NOMEM ? rc : TARN_E_IO;
    }
    p->number = number;
    p->size = o.size;
    p->mtime_ms = o.mtime_ms;
    memcpy(p->etag, o.etag, sizeof(p->etag));
    memcpy(p->checksum, o.checksum, sizeof(p->checksum));
    memcpy(p->data_id, l.data_id, sizeof(p->data_id));
    c->out->n++;
    return 0;
}

int stor_multipart_parts(stor *s, tarn_arena *a, const char *bucket, const char *key,
                         size_t key_len, const char *upload_id, uint32_t after, int max,
                         stor_part_list *out)
{
    stor_upload u;
    stor_key k;
    memset(out, 0, sizeof(*out));
    list_ctx c = {.a = a, .out = out};
    c.max = max < 0 ? 0 : max > STOR_MP_MAX_PARTS ? STOR_MP_MAX_PARTS : (size_t)max;
    int rc = stor_multipart_get(s, a, bucket, key, key_len, upload_id, &u);
    if (!rc)
        rc = parts_prefix(&k, bucket, key, key_len, upload_id);
    if (!rc && !(out->parts = tarn_arena_alloc(a, (c.max ? c.max : 1) * sizeof(stor_part))))
        rc = TARN_E_NOMEM;
    if (!rc && after < STOR_MP_MAX_PARTS)
        rc = stor__parts_scan(s, &k, after, list_one, &c);
    return rc;
}

/* ---- Every part of an upload, in a transaction (abort, complete) ------------------------- */

int stor__txn_parts(stor_txn *t, const stor_key *prefix, stor_txn_part **out, size_t *n)
{
    rocksdb_iterator_t *base = rocksdb_create_iterator(t->s->db, t->s->ropts);
    rocksdb_iterator_t *it = rocksdb_writebatch_wi_create_iterator_with_base(t->wb, base);
    size_t cap = 0;
    int rc = 0;
    *out = NULL;
    *n = 0;
    /* Collected first: writing to the batch while its iterator is open
     * is not safe (RocksDB WriteBatchWithIndex). */
    for (rocksdb_iter_seek(it, prefix->buf, prefix->len); !rc && rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen != prefix->len + 4 || memcmp(k, prefix->buf, prefix->len) != 0)
            break;
        if (*n == cap) {
            stor_txn_part *grown = realloc(*out, (cap = cap ? 2 * cap : 64) * sizeof(**out));
            if (!grown) {
                rc = TARN_E_NOMEM;
                break;
            }
            *out = grown;
        }
        stor_txn_part *p = &(*out)[*n];
        p->number = be32_get((const unsigned char *)k + prefix->len);
        const char *v = rocksdb_iter_value(it, &vlen);
        if (stor__version_decode(v, vlen, NULL, NULL, &p->layout, NULL)) {
            TARN_ERROR("storage: part record is corrupt; its files are left");
            continue;
        }
        (*n)++;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    if (err) {
        TARN_ERROR("storage: part scan in commit: %s", err);
        rocksdb_free(err);
        rc = TARN_E_IO;
    }
    return rc;
}

/* Delete a part record; with collect, also unreference and queue its data. */
int stor__txn_part_drop(stor_txn *t, const stor_key *prefix, const stor_txn_part *p,
                        int collect)
{
    stor_key k = *prefix;
    be32_put((unsigned char *)k.buf + k.len, p->number);
    k.len += 4;
    stor__txn_delete(t, &k);
    if (!collect || !p->layout.data_id[0])
        return 0;
    int rc = stor__key_data(&k, p->layout.data_id);
    if (rc)
        return rc;
    stor__txn_delete(t, &k);
    return stor__garbage_put(t, &p->layout);
}

/* ---- AbortMultipartUpload and expiry --------------------------------------------------------- */

typedef struct abort_op {
    stor_op base;
    up_ref ref;
} abort_op;

static int abort_apply(stor_txn *t, stor_op *op)
{
    const up_ref *r = &((abort_op *)op)->ref;
    stor_key uk, pk;
    stor_txn_part *parts = NULL;
    size_t n = 0;
    int rc = txn_upload_check(t, r, &uk);
    if (!rc)
        rc = parts_prefix(&pk, r->bucket, r->key, r->keylen, r->upload_id);
    if (!rc)
        rc = stor__txn_parts(t, &pk, &parts, &n);
    for (size_t i = 0; !rc && i < n; i++)
        rc = stor__txn_part_drop(t, &pk, &parts[i], 1);
    if (!rc)
        stor__txn_delete(t, &uk);
    free(parts);
    return rc;
}

int stor_multipart_abort(stor *s, stor_waker *w, const char *bucket, const char *key,
                         size_t key_len, const char *upload_id, stor_done_fn done, void *arg)
{
    abort_op *c = calloc(1, sizeof(*c));
    if (!c)
        return TARN_E_NOMEM;
    c->base.apply = abort_apply;
    int rc = up_ref_set(&c->ref, bucket, key, key_len, upload_id);
    if (rc == TARN_E_INVALID_ARGUMENT)
        rc = TARN_E_NO_SUCH_UPLOAD; /* an id we could never have made */
    if (!rc)
        rc = stor__commit_submit(s, &c->base, w, done, arg);
    if (rc)
        free(c);
    return rc;
}

/* Split "u/<bucket>\0<key>\0<upload id>" into r. 0 or TARN_E_CORRUPT. */
static int upload_key_parse(const char *k, size_t klen, up_ref *r)
{
    const char *b = k + 2, *end = k + klen;
    const char *nul1 = memchr(b, 0, (size_t)(end - b));
    const char *nul2 = nul1 ? memrchr(nul1 + 1, 0, (size_t)(end - nul1 - 1)) : NULL;
    if (!nul2 || (size_t)(nul1 - b) > STOR_BUCKET_MAX ||
        (size_t)(nul2 - nul1 - 1) > STOR_OBJKEY_MAX || (size_t)(end - nul2 - 1) > STOR_UPLOADID_MAX)
        return TARN_E_CORRUPT;
    memset(r, 0, sizeof(*r));
    memcpy(r->bucket, b, (size_t)(nul1 - b));
    r->keylen = (size_t)(nul2 - nul1 - 1);
    memcpy(r->key, nul1 + 1, r->keylen);
    memcpy(r->upload_id, nul2 + 1, (size_t)(end - nul2 - 1));
    return 0;
}

/* Collect (heap array) every upload initiated before cutoff_ms. */
static int expired_collect(stor *s, int64_t cutoff_ms, up_ref **out, size_t *n)
{
    static const char first[] = {STOR_FAM_UPLOAD, '/'}, upper[] = {STOR_FAM_UPLOAD, '/' + 1};
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_upper_bound(ro, upper, sizeof(upper));
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, ro);
    size_t cap = 0;
    int rc = 0;
    for (rocksdb_iter_seek(it, first, sizeof(first)); !rc && rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        stor_upload u = {.initiated_ms = INT64_MAX};
        if (stor__upload_tags(v, vlen, &u) || u.initiated_ms >= cutoff_ms)
            continue;
        if (*n == cap) {
            up_ref *grown = realloc(*out, (cap = cap ? 2 * cap : 16) * sizeof(**out));
            if (!grown) {
                rc = TARN_E_NOMEM;
                break;
            }
            *out = grown;
        }
        if (!upload_key_parse(k, klen, &(*out)[*n]))
            (*n)++;
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    return rc;
}

int stor_multipart_expire(stor *s, int64_t older_than_unix)
{
    up_ref *list = NULL;
    size_t n = 0;
    int done = 0;
    int rc = expired_collect(s, older_than_unix * 1000, &list, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        abort_op op = {.base = {.apply = abort_apply}, .ref = list[i]};
        int arc = stor__commit_wait(s, &op.base);
        if (arc == 0)
            done++;
        else if (arc != TARN_E_NO_SUCH_UPLOAD) /* completed meanwhile: fine */
            rc = arc;
    }
    free(list);
    if (rc)
        TARN_WARN("storage: multipart expiry: %s", tarn_err_name(rc));
    return rc ? rc : done;
}
