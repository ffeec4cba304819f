/*
 * rebuild.c — `tarn rebuild-meta`: a new metadata index from the shard
 * headers alone, after the RocksDB folder was lost (docs/durability.md,
 * "Metadata rebuild").
 *
 * Every shard header carries, in its meta blob, the version record the
 * put was about to commit (put.c, headers_build): content headers, user
 * metadata, ETag, checksums and the layout (k, m, block size, data id and
 * which disk holds which shard), plus the time the put finished. So:
 * create an empty index bound to the disks' deployment, read every header
 * under <disk>/data/, group the shards by data id, and for each id with at
 * least k good shards write the records a commit would have written —
 * bucket, version log entry, head and "d/<data_id>" — with a fresh
 * internal version id and the stored time. When several ids claim a key
 * (an overwrite whose older shards GC had not removed yet) the newest
 * wins and the others go to the GC queue. Offline, plain blocking I/O,
 * direct RocksDB batches: nothing else runs on the store.
 *
 * A multipart object's parts know only their upload and number; what
 * makes them one object is the manifest CompleteMultipartUpload wrote
 * (multipart_complete.c): a shard set whose headers say so and whose
 * content is the completed version's record. Its blocks are read and
 * checked against the headers' CRC32C tables, decoded from parity where
 * needed, the record is decoded as untrusted input, and the object is
 * rebuilt when every part it names has k shards. The manifest competes
 * for its key like any object (its put's time); parts no rebuilt
 * manifest names belong to uploads never completed and stay on disk.
 */
#include "storage/object_internal.h"

#include "erasure/erasure.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* One good shard header. */
typedef struct rb_shard {
    char data_id[33];
    uint8_t index;
    int disk;                /* where it was found (cfg->disk_dirs) */
    char *bucket;            /* heap, NUL-terminated */
    char *key;               /* heap, key_len bytes */
    size_t key_len;
    unsigned char *rec;      /* the meta record (heap) */
    size_t rec_len;
    int64_t time_ms;
    uint32_t part;           /* > 0: a multipart part */
    int manifest;            /* a CompleteMultipartUpload's manifest */
    int claimed;             /* a part that a rebuilt manifest names */
} rb_shard;

typedef struct rb_state {
    rb_shard *sh;            /* sorted by data id, then index, once read */
    size_t n, cap;
    stor_rebuild_stats *st;
    const char *const *disks;
} rb_state;

static void shard_free(rb_shard *s)
{
    free(s->bucket);
    free(s->key);
    free(s->rec);
}

/* The extra fields of a meta record (the version fields are decoded later). */
static int rec_extras(rb_shard *s)
{
    stor_rec_reader r;
    stor_rec_field f;
    uint64_t v;
    s->time_ms = 0;
    s->part = 0;
    s->manifest = 0;
    int rc = stor__rec_open(&r, s->rec, s->rec_len);
    while (!rc && (rc = stor__rec_next(&r, &f)) == 1) {
        rc = 0;
        if (f.tag == STOR_SHARD_META_TIME && stor__rec_field_i64(&f, &s->time_ms))
            return TARN_E_CORRUPT;
        if (f.tag == STOR_SHARD_META_PART) {
            if (stor__rec_field_u64(&f, &v) || v == 0 || v > STOR_MP_MAX_PARTS)
                return TARN_E_CORRUPT;
            s->part = (uint32_t)v;
        }
        if (f.tag == STOR_SHARD_META_MANIFEST) {
            if (stor__rec_field_u64(&f, &v))
                return TARN_E_CORRUPT;
            s->manifest = v != 0;
        }
    }
    return rc < 0 || (s->part && s->manifest) ? TARN_E_CORRUPT : 0;
}

/* Read one shard file's header into st->sh. Returns 0 (kept or counted
 * bad) or TARN_E_NOMEM. */
static int shard_read(rb_state *rs, int disk, const char *path, const char *name)
{
    rs->st->files++;
    unsigned char *buf = NULL;
    erc_shard_header h;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int ok = fd >= 0 && !stor__shard_header_read(fd, &buf, &h) && h.meta_len >= 4 &&
             h.version_id_len == 32 && !memcmp(h.version_id, name, 32);
    if (fd >= 0)
        close(fd);
    uint32_t rec_len = 0;
    if (ok) {
        for (int b = 3; b >= 0; b--)
            rec_len = rec_len << 8 | h.meta[b];
        ok = rec_len > 0 && rec_len <= h.meta_len - 4;
    }
    rb_shard s = {0};
    if (ok) {
        memcpy(s.data_id, name, 32);
        s.index = h.index;
        s.disk = disk;
        s.key_len = h.key_len;
        s.rec_len = rec_len;
        s.bucket = strndup(h.bucket, h.bucket_len);
        s.key = malloc(h.key_len);
        s.rec = malloc(rec_len);
        if (!s.bucket || !s.key || !s.rec) {
            shard_free(&s);
            free(buf);
            return TARN_E_NOMEM;
        }
        memcpy(s.key, h.key, h.key_len);
        memcpy(s.rec, h.meta + 4, rec_len);
        ok = !rec_extras(&s) && s.part == h.part_number;
    }
    free(buf);
    if (!ok) {
        shard_free(&s);
        rs->st->bad++;
        TARN_WARN("storage: rebuild: %s: no usable header or metadata record; skipped", path);
        return 0;
    }
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 256;
        rb_shard *n = realloc(rs->sh, cap * sizeof(*n));
        if (!n) {
            shard_free(&s);
            return TARN_E_NOMEM;
        }
        rs->sh = n;
        rs->cap = cap;
    }
    rs->sh[rs->n++] = s;
    rs->st->shards++;
    return 0;
}

/* Every <disk>/data/xx/<id>. */
static int disk_scan(rb_state *rs, int disk)
{
    char dpath[4096], path[4400];
    snprintf(dpath, sizeof(dpath), "%s/data", rs->disks[disk]);
    DIR *d = opendir(dpath);
    if (!d) {
        TARN_WARN("storage: rebuild: cannot read %s: %s", dpath, strerror(errno));
        return 0; /* a lost disk: its shards are missing, the others count */
    }
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (strlen(e->d_name) != 2 || e->d_name[0] == '.')
            continue;
        char sub[4200];
        if (snprintf(sub, sizeof(sub), "%s/%s", dpath, e->d_name) >= (int)sizeof(sub))
            continue; /* cannot be one of ours: names are two hex digits */
        DIR *sd = opendir(sub);
        if (!sd)
            continue;
        struct dirent *f;
        while (!rc && (f = readdir(sd))) {
            if (!stor__is_data_id(f->d_name) || strncmp(f->d_name, e->d_name, 2) != 0)
                continue;
            if (snprintf(path, sizeof(path), "%s/%s", sub, f->d_name) >= (int)sizeof(path))
                continue;
            rc = shard_read(rs, disk, path, f->d_name);
        }
        closedir(sd);
    }
    closedir(d);
    return rc;
}

static int shard_cmp(const void *a, const void *b)
{
    const rb_shard *x = a, *y = b;
    int c = strcmp(x->data_id, y->data_id);
    return c ? c : (int)x->index - (int)y->index;
}

/* A data id with enough shards: its decoded version. */
typedef struct rb_obj {
    rb_shard *s;             /* the representative shard (owns the strings) */
    stor_object o;
    stor_layout l;
} rb_obj;

static int obj_cmp(const void *a, const void *b)
{
    const rb_obj *x = a, *y = b;
    int c = strcmp(x->s->bucket, y->s->bucket);
    if (c)
        return c;
    size_t n = x->s->key_len < y->s->key_len ? x->s->key_len : y->s->key_len;
    c = memcmp(x->s->key, y->s->key, n);
    if (c)
        return c;
    if (x->s->key_len != y->s->key_len)
        return x->s->key_len < y->s->key_len ? -1 : 1;
    if (x->s->time_ms != y->s->time_ms)
        return x->s->time_ms < y->s->time_ms ? -1 : 1;
    return strcmp(x->s->data_id, y->s->data_id);
}

static int same_key(const rb_obj *x, const rb_obj *y)
{
    return !strcmp(x->s->bucket, y->s->bucket) && x->s->key_len == y->s->key_len &&
           !memcmp(x->s->key, y->s->key, x->s->key_len);
}

/* ---- Manifests: the content of a completed multipart upload ------------------ */

/* A manifest holds one version record: 50 bytes per part plus headers and
 * metadata. Anything much larger is not one of ours. */
#define MANIFEST_MAX ((uint64_t)STOR_MP_MAX_PARTS * STOR_PART_ENTRY + (1u << 20))

/* One shard file of a set being read: its descriptor and checked header. */
typedef struct rb_src {
    int fd;
    unsigned char *hbuf;
    erc_shard_header h;
} rb_src;

static void src_close(rb_src *src)
{
    if (src->fd >= 0)
        close(src->fd);
    free(src->hbuf);
    src->fd = -1;
    src->hbuf = NULL;
}

/* Open sh's file and check its header against the layout (a shard read at
 * scan time may have changed since; the header is read again whole). */
static int src_open(const rb_state *rs, const rb_shard *sh, const stor_layout *l,
                    const erc_layout *el, rb_src *src)
{
    char rel[36], path[4200];
    stor__data_relpath(sh->data_id, rel);
    snprintf(path, sizeof(path), "%s/data/%s", rs->disks[sh->disk], rel);
    src->fd = open(path, O_RDONLY | O_CLOEXEC);
    int ok = src->fd >= 0 && !stor__shard_header_read(src->fd, &src->hbuf, &src->h) &&
             !strcmp(sh->data_id, l->data_id) &&
             stor__shard_header_fits(&src->h, l, el, sh->index);
    if (!ok)
        src_close(src);
    return ok ? 0 : -1;
}

/* Stripe s into out: the data blocks whose CRC32C matches the header's
 * table, the missing ones decoded from parity. 0 or TARN_E_CORRUPT. */
static int stripe_take(rb_src *src, const erc_layout *el, erc_coder *coder, uint64_t s,
                       unsigned char **blk, tarn_buf *out)
{
    int n = el->k + el->m;
    uint32_t L = erc_layout_block_len(el, s), present = 0;
    for (int i = 0; i < n; i++) {
        if (src[i].fd < 0)
            continue;
        uint64_t off = erc_layout_block_offset(el, src[i].h.header_len, s);
        if (!stor__read_full(src[i].fd, blk[i], L, off) &&
            !erc_block_verify(blk[i], L, erc_crc_table_get(src[i].h.crc_table, s)))
            present |= 1u << i;
    }
    uint32_t want = ((1u << el->k) - 1) & ~present;
    if (__builtin_popcount(present) < el->k ||
        (want && erc_decode_some(coder, blk, present, want, L)))
        return TARN_E_CORRUPT;
    uint64_t left = erc_layout_stripe_data(el, s);
    for (int j = 0; j < el->k && left; j++) {
        size_t take = left < L ? (size_t)left : L;
        if (tarn_buf_append(out, blk[j], take))
            return TARN_E_NOMEM;
        left -= take;
    }
    return 0;
}

/* The content of the manifest whose shards are sh[0..n) (one data id). 0,
 * TARN_E_CORRUPT (a stripe without k good blocks, a bad layout),
 * TARN_E_NOMEM. */
static int manifest_read(const rb_state *rs, const rb_shard *sh, size_t n,
                         const stor_layout *ml, tarn_buf *out)
{
    erc_layout el;
    /* put.c never uses blocks over STOR_BLOCK_MAX: a header claiming more
     * would only make us allocate k+m of them. */
    if (ml->size > MANIFEST_MAX || ml->block_size > STOR_BLOCK_MAX ||
        erc_layout_init(&el, ml->k, ml->m, ml->block_size, ml->size))
        return TARN_E_CORRUPT;
    int nsh = ml->k + ml->m, rc = 0;
    rb_src src[STOR_MAX_SHARDS];
    unsigned char *blk[STOR_MAX_SHARDS] = {0};
    erc_coder *coder = NULL;
    for (int i = 0; i < nsh; i++)
        src[i] = (rb_src){.fd = -1};
    for (size_t i = 0; i < n; i++)
        if (sh[i].index < nsh && src[sh[i].index].fd < 0)
            src_open(rs, &sh[i], ml, &el, &src[sh[i].index]);
    if (erc_coder_create(ml->k, ml->m, &coder))
        rc = TARN_E_NOMEM;
    for (int i = 0; !rc && i < nsh; i++)
        if (!(blk[i] = malloc(ml->block_size)))
            rc = TARN_E_NOMEM;
    for (uint64_t s = 0; !rc && s < el.stripes; s++)
        rc = stripe_take(src, &el, coder, s, blk, out);
    for (int i = 0; i < nsh; i++) {
        src_close(&src[i]);
        free(blk[i]);
    }
    erc_coder_destroy(coder);
    return rc;
}

/* The shards of data id id: *first and the count (0 when none). */
static size_t group_find(const rb_state *rs, const char *id, size_t *first)
{
    size_t lo = 0, hi = rs->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(rs->sh[mid].data_id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < rs->n && !strcmp(rs->sh[end].data_id, id))
        end++;
    *first = lo;
    return end - lo;
}

/* 1 when every part of l has at least k part shards on the disks that no
 * other manifest claimed (a part belongs to one upload, so to one). */
static int parts_present(const rb_state *rs, const stor_layout *l)
{
    for (uint32_t i = 0; i < l->n_parts; i++) {
        stor_layout pl;
        size_t first, n;
        uint32_t seen = 0;
        if (stor__layout_part(l, i, &pl, NULL))
            return 0;
        n = group_find(rs, pl.data_id, &first);
        for (size_t j = first; j < first + n; j++)
            if (rs->sh[j].part && !rs->sh[j].claimed && rs->sh[j].index < pl.k + pl.m)
                seen |= 1u << rs->sh[j].index;
        if (__builtin_popcount(seen) < pl.k)
            return 0;
    }
    return 1;
}

static void parts_claim(rb_state *rs, const stor_layout *l)
{
    for (uint32_t i = 0; i < l->n_parts; i++) {
        stor_layout pl;
        size_t first;
        if (stor__layout_part(l, i, &pl, NULL))
            continue;
        size_t n = group_find(rs, pl.data_id, &first);
        for (size_t j = first; j < first + n; j++)
            rs->sh[j].claimed = 1;
    }
}

/* The version a manifest's content describes: untrusted bytes, so every
 * field a reader relies on is checked. 0 or TARN_E_CORRUPT / NOMEM. */
static int manifest_decode(const tarn_buf *content, tarn_arena *a, stor_object *o,
                           stor_layout *l)
{
    int rc = stor__version_decode(content->data, content->len, a, o, l, NULL);
    if (rc)
        return rc;
    if (!l->n_parts || l->n_parts > STOR_MP_MAX_PARTS || o->delete_marker || o->size != l->size)
        return TARN_E_CORRUPT;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < l->n_parts; i++) {
        stor_layout pl;
        if (stor__layout_part(l, i, &pl, NULL) || pl.size > l->size - sum)
            return TARN_E_CORRUPT;
        sum += pl.size;
    }
    return sum == l->size ? 0 : TARN_E_CORRUPT;
}

/* A manifest set with >= k shards, sh[0..n): read and decode its content
 * into ob (the manifest's own layout, ml, becomes the version's manifest
 * entry). 1 usable, 0 skipped (counted), or TARN_E_NOMEM. */
static int manifest_load(rb_state *rs, rb_shard *sh, size_t n, const stor_layout *ml,
                         tarn_arena *a, rb_obj *ob)
{
    stor_rebuild_stats *st = rs->st;
    tarn_buf content = {0};
    int rc = manifest_read(rs, sh, n, ml, &content);
    if (!rc)
        rc = manifest_decode(&content, a, &ob->o, &ob->l);
    tarn_buf_free(&content);
    if (!rc)
        rc = stor__layout_manifest_set(&ob->l, ml) ? TARN_E_CORRUPT : 0;
    if (rc == TARN_E_NOMEM)
        return rc;
    if (rc) {
        st->bad += n;
        TARN_WARN("storage: rebuild: manifest %s (%s/%.*s): content unreadable or malformed; "
                  "skipped", sh->data_id, sh->bucket, (int)sh->key_len, sh->key);
        return 0;
    }
    if (!parts_present(rs, &ob->l)) {
        st->too_few++;
        TARN_WARN("storage: rebuild: manifest %s (%s/%.*s): a part has fewer than k shards; "
                  "skipped", sh->data_id, sh->bucket, (int)sh->key_len, sh->key);
        return 0;
    }
    parts_claim(rs, &ob->l);
    return 1;
}

/* ---- Writing the index ----------------------------------------------------- */

typedef struct rb_writer {
    stor *s;
    rocksdb_writebatch_t *wb;
    size_t pending;
    uint64_t seq;
} rb_writer;

static void wb_put(rb_writer *w, const stor_key *k, const void *v, size_t n)
{
    rocksdb_writebatch_put(w->wb, k->buf, k->len, v, n);
    w->pending++;
}

static int wb_flush(rb_writer *w)
{
    unsigned char be[8];
    stor_key k;
    stor__key_system(&k, STOR_SYS_SEQ);
    stor__be64_put(be, w->seq);
    rocksdb_writebatch_put(w->wb, k.buf, k.len, (const char *)be, sizeof(be));
    char *err = NULL;
    rocksdb_write(w->s->db, w->s->wopts_sync, w->wb, &err);
    rocksdb_writebatch_clear(w->wb);
    w->pending = 0;
    if (err) {
        TARN_ERROR("storage: rebuild: write: %s", err);
        rocksdb_free(err);
        return TARN_E_IO;
    }
    return 0;
}

static int bucket_put(rb_writer *w, const char *name, const char *owner, int64_t created_ms)
{
    stor_bucket b = {0};
    stor_key k;
    tarn_buf rec = {0};
    snprintf(b.name, sizeof(b.name), "%s", name);
    snprintf(b.owner, sizeof(b.owner), "%s", owner);
    b.created = created_ms / 1000;
    int rc = stor__key_bucket(&k, name);
    if (!rc)
        rc = stor__bucket_encode(&rec, &b);
    if (!rc)
        wb_put(w, &k, rec.data, rec.len);
    tarn_buf_free(&rec);
    return rc;
}

static void wb_put_kv(void *w, const stor_key *k, const void *val, size_t len)
{
    wb_put(w, k, val, len);
}

/* The version log entry, the head and its "d/" keys, as vcommit_apply. */
static int version_put(rb_writer *w, rb_obj *ob)
{
    const rb_shard *s = ob->s;
    stor_vinfo vi = {.seq = ++w->seq, .null_id = 1};
    unsigned char rnd[8];
    char hex[17];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return TARN_E_IO;
    tarn_hex(rnd, sizeof(rnd), hex);
    snprintf(vi.id, sizeof(vi.id), "%016llx%s", (unsigned long long)vi.seq, hex);
    stor_key hk, vk;
    tarn_buf rec = {0};
    int rc = stor__key_head(&hk, s->bucket, s->key, s->key_len);
    if (!rc)
        rc = stor__key_version(&vk, s->bucket, s->key, s->key_len, vi.seq);
    if (!rc)
        rc = stor__version_encode(&rec, &ob->o, &ob->l);
    if (!rc)
        rc = stor__version_stamp(&rec, &vi, s->time_ms);
    if (!rc) {
        wb_put(w, &vk, rec.data, rec.len);
        wb_put(w, &hk, rec.data, rec.len);
        rc = stor__data_refs_put(ob->s->bucket, ob->s->key, ob->s->key_len, &vi, &ob->l,
                                 wb_put_kv, w);
    }
    tarn_buf_free(&rec);
    return rc;
}

static int garbage_put(rb_writer *w, const stor_layout *l)
{
    stor_key k;
    tarn_buf rec = {0};
    int rc = stor__key_garbage(&k, ++w->seq);
    if (!rc)
        rc = stor__rec_begin(&rec);
    if (!rc)
        rc = stor__layout_encode(&rec, l);
    if (!rc)
        wb_put(w, &k, rec.data, rec.len);
    tarn_buf_free(&rec);
    return rc;
}

/* One data id's shards sh[0..n): its version into ob when usable. A
 * manifest's version is read from its content; parts are left for the
 * manifests that name them. 1 usable, 0 skipped (counted), TARN_E_NOMEM. */
static int set_load(rb_state *rs, rb_shard *sh, size_t n, tarn_arena *a, rb_obj *ob)
{
    stor_rebuild_stats *st = rs->st;
    uint32_t seen = 0;
    for (size_t j = 0; j < n; j++)
        if (sh[j].index < 32)
            seen |= 1u << sh[j].index;
    if (sh->part)
        return 0;
    int rc = stor__version_decode(sh->rec, sh->rec_len, a, &ob->o, &ob->l, NULL);
    if (rc == TARN_E_NOMEM)
        return rc;
    if (rc || ob->l.n_parts || strcmp(ob->l.data_id, sh->data_id) || ob->o.delete_marker ||
        !ob->l.k) {
        st->bad += n;
        TARN_WARN("storage: rebuild: data id %s: metadata record unusable", sh->data_id);
        return 0;
    }
    if (__builtin_popcount(seen) < ob->l.k) {
        st->too_few++;
        TARN_WARN("storage: rebuild: data id %s (%s/%.*s): %d of %d shards, fewer than k=%d; "
                  "skipped", sh->data_id, sh->bucket, (int)sh->key_len, sh->key,
                  __builtin_popcount(seen), ob->l.k + ob->l.m, ob->l.k);
        return 0;
    }
    ob->s = sh;
    if (!sh->manifest)
        return 1;
    stor_layout ml = ob->l;
    st->manifests++;
    return manifest_load(rs, sh, n, &ml, a, ob);
}

/* Part data ids no rebuilt manifest names: uploads never completed. */
static void parts_unclaimed_count(rb_state *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        if (rs->sh[i].part && !rs->sh[i].claimed &&
            (i == 0 || strcmp(rs->sh[i].data_id, rs->sh[i - 1].data_id))) {
            rs->st->parts_uncompleted++;
            TARN_WARN("storage: rebuild: data id %s (%s/%.*s): part %u of an upload that was "
                      "not completed; left on disk, not rebuilt", rs->sh[i].data_id,
                      rs->sh[i].bucket, (int)rs->sh[i].key_len, rs->sh[i].key, rs->sh[i].part);
        }
}

/* Write buckets, heads (the newest data id of each key) and GC entries
 * for the older ones. obs is sorted by bucket, key, time. */
static int objects_write(stor *s, stor_rebuild_stats *st, rb_obj *obs, size_t nobs,
                         const char *owner)
{
    rb_writer w = {.s = s, .wb = rocksdb_writebatch_create()};
    int rc = 0;
    for (size_t i = 0; !rc && i < nobs; i++) {
        /* A new bucket: created at its oldest object's time. */
        if (i == 0 || strcmp(obs[i].s->bucket, obs[i - 1].s->bucket)) {
            int64_t oldest = obs[i].s->time_ms;
            for (size_t j = i; j < nobs && !strcmp(obs[j].s->bucket, obs[i].s->bucket); j++)
                oldest = obs[j].s->time_ms < oldest ? obs[j].s->time_ms : oldest;
            if (!(rc = bucket_put(&w, obs[i].s->bucket, owner, oldest)))
                st->buckets++;
        }
        int newest = i + 1 == nobs || !same_key(&obs[i], &obs[i + 1]);
        if (!rc && newest) {
            rc = version_put(&w, &obs[i]);
            st->objects += !rc;
            st->multipart += !rc && obs[i].l.n_parts;
        } else if (!rc) {
            rc = garbage_put(&w, &obs[i].l);
            st->superseded += !rc;
        }
        if (!rc && w.pending >= 4096)
            rc = wb_flush(&w);
    }
    if (!rc)
        rc = wb_flush(&w);
    rocksdb_writebatch_destroy(w.wb);
    return rc;
}

/* Group the shards, load one version per usable data id, and write. */
static int index_write(stor *s, rb_state *rs, const char *owner, tarn_arena *a)
{
    qsort(rs->sh, rs->n, sizeof(*rs->sh), shard_cmp);
    rb_obj *obs = calloc(rs->n ? rs->n : 1, sizeof(*obs));
    size_t nobs = 0;
    if (!obs)
        return TARN_E_NOMEM;
    int rc = 0;
    for (size_t i = 0, j; rc >= 0 && i < rs->n; i = j) {
        for (j = i; j < rs->n && !strcmp(rs->sh[j].data_id, rs->sh[i].data_id); j++)
            ;
        rs->st->sets++;
        rc = set_load(rs, &rs->sh[i], j - i, a, &obs[nobs]);
        nobs += rc == 1;
    }
    if (rc >= 0) {
        parts_unclaimed_count(rs);
        qsort(obs, nobs, sizeof(*obs), obj_cmp);
        rc = objects_write(s, rs->st, obs, nobs, owner);
    }
    free(obs);
    return rc;
}

/* ---- The empty index ------------------------------------------------------- */

static int dir_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 1 : -1;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)))
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty;
}

/* The deployment of the disks' format files (all that have one agree). */
static int deployment_find(const stor_config *cfg, char *out, const char **detail)
{
    out[0] = 0;
    for (int i = 0; i < cfg->n_disks; i++) {
        stor_format f;
        if (stor__format_read(cfg->disk_dirs[i], &f))
            continue;
        if (out[0] && strcmp(out, f.deployment)) {
            *detail = stor__detail("disks belong to two deployments (%s and %s)", out,
                                   f.deployment);
            return TARN_E_INVAL;
        }
        snprintf(out, 33, "%s", f.deployment);
    }
    if (!out[0]) {
        *detail = "no disk has a format file: nothing to rebuild from";
        return TARN_E_INVAL;
    }
    return 0;
}

/* A fresh RocksDB holding only the schema version and the deployment id,
 * so stor_open accepts the disks as this store's. */
static int index_create(const char *dir, const char *deployment, const char **detail)
{
    if (stor__mkdirs(dir)) {
        *detail = stor__detail("cannot create %s: %s", dir, strerror(errno));
        return TARN_E_IO;
    }
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_error_if_exists(o, 1);
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, dir, &err);
    rocksdb_options_destroy(o);
    if (err) {
        *detail = stor__detail("metadata %s: %s", dir, err);
        rocksdb_free(err);
        return TARN_E_IO;
    }
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(wo, 1);
    char schema[16];
    snprintf(schema, sizeof(schema), "%d", STOR_SCHEMA_VERSION);
    stor_key k;
    stor__key_system(&k, STOR_SYS_SCHEMA);
    rocksdb_put(db, wo, k.buf, k.len, schema, strlen(schema), &err);
    if (!err) {
        stor__key_system(&k, STOR_SYS_DEPLOYMENT);
        rocksdb_put(db, wo, k.buf, k.len, deployment, 32, &err);
    }
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
    if (err) {
        *detail = stor__detail("metadata %s: %s", dir, err);
        rocksdb_free(err);
        return TARN_E_IO;
    }
    return 0;
}

int stor_rebuild_meta(const stor_config *cfg, const char *owner, stor_rebuild_stats *st,
                      const char **detail)
{
    const char *dummy;
    detail = detail ? detail : &dummy;
    *detail = NULL;
    memset(st, 0, sizeof(*st));
    int e = dir_empty(cfg->meta_dir);
    if (e != 1) {
        *detail = e < 0 ? stor__detail("cannot read %s: %s", cfg->meta_dir, strerror(errno))
                        : stor__detail("%s is not empty: move it aside first", cfg->meta_dir);
        return e < 0 ? TARN_E_IO : TARN_E_INVAL;
    }
    char dep[33];
    int rc = deployment_find(cfg, dep, detail);
    if (!rc)
        rc = index_create(cfg->meta_dir, dep, detail);
    stor *s = NULL;
    if (!rc)
        rc = stor_open(cfg, &s, detail);
    if (rc)
        return rc;
    rb_state rs = {.st = st};
    rs.disks = cfg->disk_dirs;
    for (int i = 0; !rc && i < cfg->n_disks; i++)
        rc = disk_scan(&rs, i);
    tarn_arena *a = tarn_arena_create(64 * 1024);
    if (!rc && !a)
        rc = TARN_E_NOMEM;
    if (!rc)
        rc = index_write(s, &rs, owner, a);
    tarn_arena_destroy(a);
    for (size_t i = 0; i < rs.n; i++)
        shard_free(&rs.sh[i]);
    free(rs.sh);
    stor_close(s);
    if (rc && !*detail)
        *detail = tarn_err_name(rc);
    return rc;
}
