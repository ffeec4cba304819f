/*
 * heal.c — offline heal and scrub (issue 5 parts 2 and 3), and the disk
 * status report behind `tarn disks`.
 *
 * stor_heal walks every version record ("v/") of the index, then every
 * uploaded part of the uploads in progress ("p/"); for each shard set (a
 * plain version's layout, each part and the manifest of a completed
 * multipart version, an uploaded part) it opens the k+m shard files (data/, then
 * tmp/), checks each header against the layout, and reads and verifies
 * every block against the header's CRC32C table. A shard whose file is
 * missing, whose header is bad, or with any bad or short block is rebuilt:
 * every stripe is
 * decoded from k good blocks, the rebuilt blocks and then a header (the
 * fields of a good shard's header, this shard's index and checksums) are
 * written to <disk>/tmp/<data_id>.heal, fdatasynced, renamed to
 * <disk>/data/<id[0:2]>/<data_id>, and the directories fsynced. A crash
 * mid-heal leaves a ".heal" file in tmp/, which the start-up sweep removes
 * (not a data id). Plain blocking I/O on the calling thread: `tarn heal`
 * with the server stopped, or the background healer (heal_bg.c) with a
 * live walk (stor_heal_walk: data ids held and re-checked, rate-limited,
 * headers only for a heal pass).
 */
#include "storage/object_internal.h"

#include "erasure/erasure.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct heal_ctx {
    stor *s;
    stor_heal_stats *st;
    const stor_heal_walk *w; /* NULL: offline, verify everything */
    int stop;                /* the pace hook asked to stop */
    erc_coder *coder;
    int ck, cm;
    const char *bucket, *key; /* for the log */
    size_t key_len;
} heal_ctx;

typedef struct heal_shard {
    int fd;
    int where;                 /* STOR_DIR_DATA / STOR_DIR_TMP, -1: none */
    int hdr_ok, bad;
    unsigned char *hbuf;       /* the header's bytes (h points into it) */
    erc_shard_header h;
} heal_shard;

static int write_full(int fd, const void *buf, size_t n, uint64_t off)
{
    size_t put = 0;
    while (put < n) {
        ssize_t r = pwrite(fd, (const char *)buf + put, n - put, (off_t)(off + put));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        put += (size_t)r;
    }
    return 0;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Open shard i and check its header against the layout. */
static void shard_open(heal_ctx *hc, const stor_layout *l, const erc_layout *el, int i,
                       heal_shard *sh)
{
    char rel[36], path[4096];
    sh->fd = -1;
    sh->where = -1;
    if (l->disk[i] >= hc->s->n_disks)
        return;
    const char *d = hc->s->disk_dirs[l->disk[i]];
    stor__data_relpath(l->data_id, rel);
    snprintf(path, sizeof(path), "%s/data/%s", d, rel);
    sh->fd = open(path, O_RDONLY | O_CLOEXEC);
    sh->where = STOR_DIR_DATA;
    if (sh->fd < 0) {
        snprintf(path, sizeof(path), "%s/tmp/%s", d, l->data_id);
        sh->fd = open(path, O_RDONLY | O_CLOEXEC);
        sh->where = sh->fd >= 0 ? STOR_DIR_TMP : -1;
    }
    if (sh->fd < 0 || stor__shard_header_read(sh->fd, &sh->hbuf, &sh->h))
        return;
    sh->hdr_ok = stor__shard_header_fits(&sh->h, l, el, i);
}

static void shard_close(heal_shard *sh)
{
    if (sh->fd >= 0)
        close(sh->fd);
    free(sh->hbuf);
    memset(sh, 0, sizeof(*sh));
    sh->fd = -1;
}

/* Read and verify block s of every shard in mask; returns the good ones. */
static uint32_t stripe_read(const erc_layout *el, heal_shard *sh, uint32_t mask, uint64_t s,
                            unsigned char **blk, heal_ctx *hc)
{
    uint32_t L = erc_layout_block_len(el, s), good = 0;
    for (int i = 0; i < el->k + el->m; i++) {
        if (!((mask >> i) & 1) || !sh[i].hdr_ok)
            continue;
        uint64_t off = erc_layout_block_offset(el, sh[i].h.header_len, s);
        hc->st->blocks_checked++;
        if (stor__read_full(sh[i].fd, blk[i], L, off) ||
            erc_block_verify(blk[i], L, erc_crc_table_get(sh[i].h.crc_table, s)))
            continue;
        good |= 1u << i;
    }
    return good;
}

typedef struct heal_out {
    int fd;
    char tmp[4096], dst[4096], dstdir[4096], olddata[4096];
    unsigned char *crc;
} heal_out;

static int out_open(heal_ctx *hc, const stor_layout *l, int i, heal_out *o, uint64_t stripes)
{
    const char *d = hc->s->disk_dirs[l->disk[i]];
    char rel[36];
    stor__data_relpath(l->data_id, rel);
    snprintf(o->tmp, sizeof(o->tmp), "%s/tmp/%s.heal", d, l->data_id);
    snprintf(o->dst, sizeof(o->dst), "%s/data/%s", d, rel);
    snprintf(o->dstdir, sizeof(o->dstdir), "%s/data/%.2s", d, l->data_id);
    snprintf(o->olddata, sizeof(o->olddata), "%s/tmp/%s", d, l->data_id);
    o->crc = calloc(1, stripes * 4 + 1);
    char tmpdir[4096];
    snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", d);
    if (!o->crc || stor__mkdirs(tmpdir) || stor__mkdirs(o->dstdir))
        return -1;
    o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    return o->fd >= 0 ? 0 : -1;
}

/* Header, fdatasync, rename into data/, fsync the directories. */
static int out_finish(heal_out *o, const erc_shard_header *tmpl, int i, const erc_layout *el)
{
    erc_shard_header h = *tmpl;
    h.index = (uint8_t)i;
    h.crc_table = o->crc;
    uint32_t hlen = erc_shard_header_len(h.bucket_len, h.key_len, h.version_id_len,
                                         h.meta_len, el->stripes);
    unsigned char *buf = hlen ? calloc(1, hlen) : NULL;
    size_t got = 0;
    int rc = buf && hlen == tmpl->header_len &&
                     !erc_shard_header_encode(&h, buf, hlen, &got) &&
                     !write_full(o->fd, buf, got, 0) && !fdatasync(o->fd)
                 ? 0
                 : -1;
    free(buf);
    close(o->fd);
    o->fd = -1;
    if (rc || rename(o->tmp, o->dst))
        return -1;
    /* A stale copy in tmp/ (damaged, or never adopted) goes. */
    unlink(o->olddata);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", o->tmp);
    char *slash = strrchr(dir, '/');
    *slash = 0;
    if (fsync_path(o->dstdir) || fsync_path(dir))
        return -1;
    /* data/ itself, in case data/xx was just created. */
    snprintf(dir, sizeof(dir), "%s", o->dstdir);
    slash = strrchr(dir, '/');
    *slash = 0;
    return fsync_path(dir) ? -1 : 0;
}

static void out_abort(heal_out *o)
{
    if (o->fd >= 0) {
        close(o->fd);
        unlink(o->tmp);
    }
    o->fd = -1;
}

/* Account bytes against the rate limit; 1 when the walk must stop. */
static int pace(heal_ctx *hc, uint64_t bytes)
{
    if (hc->stop)
        return 1;
    if (hc->w && hc->w->pace && bytes && hc->w->pace(hc->w->arg, bytes))
        hc->stop = 1;
    return hc->stop;
}

/* Live store: write to a disk only while it carries this deployment's
 * format file at its position (a folder removed under a running server is
 * not re-created by a heal; the next start formats it). */
static int disk_writable(heal_ctx *hc, int disk)
{
    stor_format f;
    if (!hc->w || !hc->w->live)
        return 1;
    return !stor__format_read(hc->s->disk_dirs[disk], &f) && f.index == disk &&
           !strcmp(f.deployment, hc->s->deployment);
}

static void log_set(heal_ctx *hc, const stor_layout *l, const char *what)
{
    TARN_WARN("heal: %s/%.*s (data %s): %s", hc->bucket, (int)hc->key_len, hc->key, l->data_id,
              what);
}

static int heal_set_run(heal_ctx *hc, const stor_layout *l, const erc_layout *elp);

/* Check one shard set and rebuild what is damaged. A live walk holds the
 * data id (GC leaves held ids alone) and skips it unless it is still
 * referenced, so a heal never resurrects collected data. */
static int heal_set(heal_ctx *hc, const stor_layout *l)
{
    int n = l->k + l->m;
    erc_layout el;
    if (!l->data_id[0] || n < 2 || n > STOR_MAX_SHARDS ||
        erc_layout_init(&el, l->k, l->m, l->block_size, l->size)) {
        if (l->data_id[0] && l->size) {
            hc->st->unrecoverable++;
            log_set(hc, l, "bad layout");
        }
        return 0;
    }
    if (el.stripes == 0)
        return 0;
    if (!hc->w || !hc->w->live)
        return heal_set_run(hc, l, &el);
    stor__data_hold(hc->s, l->data_id);
    int rc = stor__data_referenced(hc->s, l->data_id) == 1 ? heal_set_run(hc, l, &el) : 0;
    stor__data_release(hc->s, l->data_id);
    return rc;
}

static int heal_set_run(heal_ctx *hc, const stor_layout *l, const erc_layout *elp)
{
    int n = l->k + l->m;
    erc_layout el = *elp;
    int verify = !hc->w || hc->w->verify;
    const char *why[STOR_MAX_SHARDS] = {0};
    hc->st->sets++;
    if (!hc->coder || hc->ck != l->k || hc->cm != l->m) {
        erc_coder_destroy(hc->coder);
        hc->coder = NULL;
        if (erc_coder_create(l->k, l->m, &hc->coder))
            return TARN_E_NOMEM;
        hc->ck = l->k;
        hc->cm = l->m;
    }
    heal_shard sh[STOR_MAX_SHARDS];
    heal_out out[STOR_MAX_SHARDS];
    unsigned char *blk[STOR_MAX_SHARDS] = {0};
    memset(sh, 0, sizeof(sh));
    memset(out, 0, sizeof(out));
    int rc = 0, tmpl = -1;
    uint32_t all = (1u << n) - 1, rebuild = 0;
    for (int i = 0; i < n; i++) {
        out[i].fd = -1;
        shard_open(hc, l, &el, i, &sh[i]);
        hc->st->shards_checked++;
        if (!sh[i].hdr_ok) {
            rebuild |= 1u << i;
            why[i] = sh[i].fd < 0 ? "shard missing" : "bad shard header";
        }
        else if (tmpl < 0)
            tmpl = i;
        if (!(blk[i] = malloc(l->block_size))) {
            rc = TARN_E_NOMEM;
            goto done;
        }
    }
    /* Pass 1: verify every block of every shard with a good header (a
     * live heal walk checks headers only; scrub and the offline walk
     * verify). */
    for (uint64_t s = 0; verify && s < el.stripes; s++) {
        uint32_t mask = all & ~rebuild;
        uint32_t good = stripe_read(&el, sh, mask, s, blk, hc);
        uint32_t bad = mask & ~good;
        if (bad) {
            hc->st->blocks_bad += (uint64_t)__builtin_popcount(bad);
            rebuild |= bad;
            for (int i = 0; i < n; i++)
                if ((bad >> i) & 1)
                    why[i] = "block checksum mismatch";
        }
        uint64_t bytes = (uint64_t)erc_layout_block_len(&el, s) * (uint64_t)__builtin_popcount(mask);
        hc->st->bytes_verified += bytes;
        if (pace(hc, bytes))
            goto done;
    }
    if (!rebuild)
        goto done;
    hc->st->shards_bad += (uint64_t)__builtin_popcount(rebuild);
    if (tmpl < 0) {
        hc->st->unrecoverable++;
        log_set(hc, l, "no shard with a good header");
        goto done;
    }
    /* Pass 2: decode every stripe, write the shards to rebuild. */
    uint32_t writing = 0;
    for (int i = 0; i < n; i++)
        if ((rebuild >> i) & 1) {
            if (l->disk[i] >= hc->s->n_disks || !disk_writable(hc, l->disk[i])) {
                hc->st->write_errors++; /* disk offline: a later walk retries */
                continue;
            }
            if (out_open(hc, l, i, &out[i], el.stripes)) {
                TARN_WARN("heal: cannot write %s: %s", out[i].tmp, strerror(errno));
                hc->st->write_errors++;
                out_abort(&out[i]);
            } else
                writing |= 1u << i;
        }
    for (uint64_t s = 0; s < el.stripes && writing; s++) {
        uint32_t L = erc_layout_block_len(&el, s);
        uint32_t good = stripe_read(&el, sh, all, s, blk, hc);
        if (__builtin_popcount(good) < l->k) {
            hc->st->unrecoverable++;
            log_set(hc, l, "fewer than k good blocks in a stripe: cannot rebuild");
            for (int i = 0; i < n; i++)
                out_abort(&out[i]);
            writing = 0;
            break;
        }
        uint32_t want = writing & ~good;
        if (want && erc_decode_some(hc->coder, blk, good, want, L)) {
            hc->st->unrecoverable++;
            log_set(hc, l, "decode failed");
            for (int i = 0; i < n; i++)
                out_abort(&out[i]);
            writing = 0;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (!((writing >> i) & 1))
                continue;
            erc_crc_table_put(out[i].crc, s, erc_block_checksum(blk[i], L));
            if (write_full(out[i].fd, blk[i], L,
                           erc_layout_block_offset(&el, sh[tmpl].h.header_len, s))) {
                TARN_WARN("heal: cannot write %s: %s", out[i].tmp, strerror(errno));
                hc->st->write_errors++;
                out_abort(&out[i]);
                writing &= ~(1u << i);
            }
        }
        if (writing && pace(hc, (uint64_t)L * (uint64_t)__builtin_popcount(writing))) {
            for (int i = 0; i < n; i++)
                out_abort(&out[i]);
            writing = 0;
        }
    }
    /* Live: the id may have been unlinked while it was rebuilt (the hold
     * keeps GC from removing its files meanwhile); then no rename. */
    if (writing && hc->w && hc->w->live && stor__data_referenced(hc->s, l->data_id) != 1) {
        for (int i = 0; i < n; i++)
            out_abort(&out[i]);
        writing = 0;
    }
    for (int i = 0; i < n; i++) {
        if (!((writing >> i) & 1))
            continue;
        if (out_finish(&out[i], &sh[tmpl].h, i, &el)) {
            TARN_WARN("heal: cannot finish %s: %s", out[i].dst, strerror(errno));
            hc->st->write_errors++;
            out_abort(&out[i]);
            continue;
        }
        hc->st->shards_rebuilt++;
        TARN_INFO("heal: healed data %s shard %d on disk %d: %s (%s/%.*s, %s)", l->data_id, i,
                  l->disk[i], why[i] ? why[i] : "damaged", hc->bucket, (int)hc->key_len,
                  hc->key, hc->s->disk_dirs[l->disk[i]]);
    }
done:
    for (int i = 0; i < n; i++) {
        shard_close(&sh[i]);
        free(blk[i]);
        free(out[i].crc);
        if (out[i].fd >= 0)
            out_abort(&out[i]);
    }
    return rc;
}

/* Heal one version record's shard sets (all of them, or only the one
 * named only_id). 0 or TARN_E_NOMEM. */
static int heal_version(heal_ctx *hc, const char *v, size_t vlen, const char *only_id)
{
    stor_layout l;
    if (stor__version_decode(v, vlen, NULL, NULL, &l, NULL)) {
        hc->st->unrecoverable++;
        TARN_WARN("heal: %s/%.*s: unreadable version record", hc->bucket, (int)hc->key_len,
                  hc->key);
        return 0;
    }
    if (!l.data_id[0] || (l.size == 0 && !l.n_parts))
        return 0; /* a delete marker or an empty object: no shards */
    hc->st->objects++;
    if (l.n_parts == 0)
        return only_id && strcmp(only_id, l.data_id) ? 0 : heal_set(hc, &l);
    int rc = 0;
    stor_layout pl;
    for (uint32_t i = 0; i < l.n_parts && !rc && !hc->stop; i++) {
        if (stor__layout_part(&l, i, &pl, NULL)) {
            hc->st->unrecoverable++;
            continue;
        }
        if (!only_id || !strcmp(only_id, pl.data_id))
            rc = heal_set(hc, &pl);
    }
    /* The manifest: versions completed before manifests have none. */
    int mrc = stor__layout_manifest(&l, &pl);
    if (mrc == TARN_E_CORRUPT)
        hc->st->unrecoverable++;
    else if (!mrc && !rc && !hc->stop && (!only_id || !strcmp(only_id, pl.data_id)))
        rc = heal_set(hc, &pl);
    return rc;
}

/* An uploaded part of an upload in progress: one shard set (only_id:
 * only if it is that one). 0 or TARN_E_NOMEM. */
static int heal_part(heal_ctx *hc, const char *v, size_t vlen, const char *only_id)
{
    stor_layout l;
    if (stor__version_decode(v, vlen, NULL, NULL, &l, NULL) || l.n_parts) {
        hc->st->unrecoverable++;
        TARN_WARN("heal: %s/%.*s: unreadable part record", hc->bucket, (int)hc->key_len,
                  hc->key);
        return 0;
    }
    if (!l.data_id[0] || l.size == 0 || (only_id && strcmp(only_id, l.data_id)))
        return 0;
    return heal_set(hc, &l);
}

/* Point hc's log names at the bucket and key of an index key
 * "<fam>/<bucket>\0<key>\0<tail_len bytes>" (v/: the 8-byte seq; p/: the
 * upload id, \0 and the 4-byte part number, tail_len 0: find it). */
static void names_from_key(heal_ctx *hc, char *bucket, const char *k, size_t klen,
                           size_t tail_len)
{
    const char *b = k + 2, *end = k + klen, *bend = memchr(b, 0, klen - 2);
    strcpy(bucket, "?");
    hc->key = "";
    hc->key_len = 0;
    if (bend && (size_t)(bend - b) <= STOR_BUCKET_MAX) {
        memcpy(bucket, b, (size_t)(bend - b));
        bucket[bend - b] = 0;
    }
    if (!bend)
        return;
    hc->key = bend + 1;
    if (tail_len == 0 && end - hc->key >= 5) { /* a part: \0<upload>\0<part 4> */
        const char *up = memrchr(hc->key, 0, (size_t)(end - 5 - hc->key));
        tail_len = up ? (size_t)(end - up) - 1 : 0;
    }
    if ((size_t)(end - hc->key) >= tail_len + 1)
        hc->key_len = (size_t)(end - hc->key) - tail_len - 1;
}

/* Walk every record of one family ("v/" versions or "p/" parts). */
static int walk_family(heal_ctx *hc, rocksdb_iterator_t *it, char fam)
{
    const char prefix[2] = {fam, '/'};
    char bucket[STOR_BUCKET_MAX + 1];
    int rc = 0;
    hc->bucket = bucket;
    for (rocksdb_iter_seek(it, prefix, 2); !rc && !hc->stop && rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen < 2 || memcmp(k, prefix, 2))
            break;
        names_from_key(hc, bucket, k, klen, fam == STOR_FAM_VERSION ? 8 : 0);
        const char *v = rocksdb_iter_value(it, &vlen);
        rc = fam == STOR_FAM_VERSION ? heal_version(hc, v, vlen, NULL)
                                     : heal_part(hc, v, vlen, NULL);
    }
    return rc;
}

int stor__heal_walk(stor *s, const stor_heal_walk *w, stor_heal_stats *st)
{
    memset(st, 0, sizeof(*st));
    heal_ctx hc = {.s = s, .st = st, .w = w};
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    if (!it)
        return TARN_E_NOMEM;
    int rc = walk_family(&hc, it, STOR_FAM_VERSION);
    if (!rc && !hc.stop)
        rc = walk_family(&hc, it, STOR_FAM_PART);
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err) {
        TARN_ERROR("heal: reading the index: %s", err);
        rocksdb_free(err);
        rc = rc ? rc : TARN_E_IO;
    }
    rocksdb_iter_destroy(it);
    erc_coder_destroy(hc.coder);
    return rc;
}

int stor_heal(stor *s, stor_heal_stats *st) { return stor__heal_walk(s, NULL, st); }

/* What a "d/<id>" record names: a version (bucket, key, seq) or an
 * uploaded part of an upload in progress (bucket, key, upload, part). */
typedef struct data_owner {
    char bucket[STOR_BUCKET_MAX + 1];
    const char *key;
    size_t key_len;
    uint64_t seq, part;
    int have_seq, have_part;
    char upload[STOR_UPLOADID_MAX + 1];
} data_owner;

static void owner_read(const char *val, size_t len, data_owner *o)
{
    stor_rec_reader r;
    stor_rec_field f;
    memset(o, 0, sizeof(*o));
    if (stor__rec_open(&r, val, len))
        return;
    while (stor__rec_next(&r, &f) == 1) {
        if (f.tag == STOR_DT_BUCKET && f.n <= STOR_BUCKET_MAX) {
            memcpy(o->bucket, f.p, f.n);
        } else if (f.tag == STOR_DT_KEY) {
            o->key = (const char *)f.p;
            o->key_len = f.n;
        } else if (f.tag == STOR_DT_SEQ && !stor__rec_field_u64(&f, &o->seq)) {
            o->have_seq = 1;
        } else if (f.tag == STOR_DT_UPLOAD && f.n <= STOR_UPLOADID_MAX) {
            memcpy(o->upload, f.p, f.n);
        } else if (f.tag == STOR_DT_PART && !stor__rec_field_u64(&f, &o->part)) {
            o->have_part = o->part >= 1 && o->part <= STOR_MP_MAX_PARTS;
        }
    }
}

/* The index key of the record that owns the data: its version, or its
 * part record. TARN_E_NOT_FOUND when the d/ record names neither. */
static int owner_key(const data_owner *o, stor_key *k)
{
    if (!o->bucket[0] || !o->key)
        return TARN_E_NOT_FOUND;
    if (o->have_seq)
        return stor__key_version(k, o->bucket, o->key, o->key_len, o->seq) ? TARN_E_NOT_FOUND
                                                                           : 0;
    if (o->have_part && o->upload[0])
        return stor__key_part(k, o->bucket, o->key, o->key_len, o->upload, (uint32_t)o->part)
                   ? TARN_E_NOT_FOUND
                   : 0;
    return TARN_E_NOT_FOUND;
}

int stor__heal_data(stor *s, const stor_heal_walk *w, const char *data_id, stor_heal_stats *st)
{
    memset(st, 0, sizeof(*st));
    heal_ctx hc = {.s = s, .st = st, .w = w};
    stor_key k;
    char *val = NULL, *rec = NULL;
    size_t len = 0, rlen = 0;
    if (stor__key_data(&k, data_id))
        return TARN_E_NOT_FOUND;
    int rc = stor__db_get(s, &k, &val, &len);
    if (rc)
        return rc;
    data_owner o;
    owner_read(val, len, &o);
    rc = owner_key(&o, &k);
    if (!rc)
        rc = stor__db_get(s, &k, &rec, &rlen);
    if (!rc) {
        hc.bucket = o.bucket;
        hc.key = o.key;
        hc.key_len = o.key_len;
        rc = o.have_seq ? heal_version(&hc, rec, rlen, data_id)
                        : heal_part(&hc, rec, rlen, data_id);
        rocksdb_free(rec);
    }
    rocksdb_free(val);
    erc_coder_destroy(hc.coder);
    return rc;
}

/* ---- Disk status --------------------------------------------------------- */

/* Writable: create and remove a probe in tmp/ (no dot: a probe left
 * behind by a crash is removed by the start-up sweep). 0 or -1 with why. */
static int tmp_probe(const char *dir, stor_disk_status *out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tmp/probe-%ld", dir, (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(out->why, sizeof(out->why), "tmp/ not writable (%s)", strerror(errno));
        return -1;
    }
    close(fd);
    unlink(path);
    return 0;
}

/* The same without writing anything: permission bits, read-only mounts
 * and the immutable flag (access(2) checks all three, for root too). */
static int tmp_access(const char *dir, stor_disk_status *out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tmp", dir);
    if (access(path, R_OK | W_OK | X_OK) == 0)
        return 0;
    snprintf(out->why, sizeof(out->why), "tmp/ not writable (%s)", strerror(errno));
    return -1;
}

void stor__disk_check(const char *dir, int index, const char *deployment, int write_probe,
                      stor_disk_status *out)
{
    struct stat stt;
    out->online = 0;
    if (stat(dir, &stt)) {
        snprintf(out->why, sizeof(out->why), "missing (%s)", strerror(errno));
        return;
    }
    if (!S_ISDIR(stt.st_mode)) {
        snprintf(out->why, sizeof(out->why), "not a directory");
        return;
    }
    stor_format f;
    int rc = stor__format_read(dir, &f);
    if (rc) {
        snprintf(out->why, sizeof(out->why), "%s",
                 rc == TARN_E_NOT_FOUND ? "not formatted (no .tarn-format)"
                                        : "unreadable format file");
        return;
    }
    if (f.index != index || (deployment && strcmp(f.deployment, deployment))) {
        snprintf(out->why, sizeof(out->why), "wrong format (disk %d of %d, deployment %s)",
                 f.index, f.disks, f.deployment);
        return;
    }
    char path[4096];
    if (write_probe ? tmp_probe(dir, out) : tmp_access(dir, out))
        return;
    snprintf(path, sizeof(path), "%s/data", dir);
    if (stat(path, &stt) || !S_ISDIR(stt.st_mode) || access(path, R_OK | W_OK | X_OK)) {
        snprintf(out->why, sizeof(out->why), "data/ unusable");
        return;
    }
    out->online = 1;
    snprintf(out->why, sizeof(out->why), "ok");
}

int stor_disks_status(const char *const *dirs, int n, stor_disk_status *out)
{
    /* The deployment most format files name is the deployment. */
    char dep[STOR_MAX_DISKS][33];
    int best = -1, best_n = 0;
    for (int i = 0; i < n && i < STOR_MAX_DISKS; i++) {
        stor_format f;
        dep[i][0] = 0;
        if (!stor__format_read(dirs[i], &f))
            memcpy(dep[i], f.deployment, 33);
    }
    for (int i = 0; i < n && i < STOR_MAX_DISKS; i++) {
        int c = 0;
        for (int j = 0; j < n && j < STOR_MAX_DISKS; j++)
            c += dep[i][0] && !strcmp(dep[i], dep[j]);
        if (c > best_n) {
            best_n = c;
            best = i;
        }
    }
    int online = 0;
    for (int i = 0; i < n; i++) {
        stor__disk_check(dirs[i], i, best >= 0 ? dep[best] : NULL, 1, &out[i]);
        online += out[i].online;
    }
    return online;
}
