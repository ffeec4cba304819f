/*
 * multipart_list.c — ListMultipartUploads: one ordered scan of
 * "u/<bucket>\0<prefix>", whose bytewise order is S3's (keys ascending,
 * then, for one key, upload ids, which begin with the initiation time, so
 * oldest first as S3 lists them).
 *
 * Markers (S3 API reference, ListMultipartUploads): with key-marker alone,
 * the listing starts with keys after it; with upload-id-marker too, also
 * with that key's uploads after that id. With a delimiter, keys holding it
 * after the prefix roll up into one CommonPrefixes entry each; uploads and
 * prefixes count together against max-uploads.
 */
#include "object_internal.h"

#include <stdlib.h>
#include <string.h>

#define LIST_MAX 1000

typedef struct ulister {
    tarn_arena *a;
    rocksdb_iterator_t *it;
    const stor_upload_list_params *p;
    size_t plen, dlen, max, count;
    char *buf;                /* "u/<bucket>\0" then scratch for seeks */
    size_t blen, cap;
    stor_upload_list *out;
} ulister;

/* buf[0..n) becomes the first key after every key starting with it. */
static size_t succ(unsigned char *buf, size_t n)
{
    while (n > 0 && buf[n - 1] == 0xff)
        n--;
    buf[n - 1]++;
    return n;
}

static void seek_to(ulister *l, const char *a, size_t an, const char *b, size_t bn, int after)
{
    memcpy(l->buf + l->blen, a, an);
    memcpy(l->buf + l->blen + an, b, bn);
    size_t n = l->blen + an + bn;
    rocksdb_iter_seek(l->it, l->buf, after ? succ((unsigned char *)l->buf, n) : n);
}

static void seek_markers(ulister *l);

/* Where the scan begins: the later of the prefix and the markers (a
 * marker that sorts before the prefix would stop the scan at once). */
static void seek_start(ulister *l)
{
    const char *pre = l->p->prefix ? l->p->prefix : "";
    seek_markers(l);
    if (!rocksdb_iter_valid(l->it))
        return;
    size_t klen;
    const char *k = rocksdb_iter_key(l->it, &klen);
    memcpy(l->buf + l->blen, pre, l->plen);
    size_t n = l->blen + l->plen;
    int c = memcmp(k, l->buf, klen < n ? klen : n);
    if (c < 0 || (c == 0 && klen < n))
        rocksdb_iter_seek(l->it, l->buf, n);
}

static void seek_markers(ulister *l)
{
    const stor_upload_list_params *p = l->p;
    const char *pre = p->prefix ? p->prefix : "";
    if (!p->key_marker || !p->key_marker_len ||
        memcmp(p->key_marker, pre, p->key_marker_len < l->plen ? p->key_marker_len : l->plen) < 0) {
        seek_to(l, pre, l->plen, "", 0, 0);
        return;
    }
    const char *id = p->upload_id_marker;
    if (id && *id) { /* that key's uploads after id: "<key>\0<id>" itself is skipped */
        memcpy(l->buf + l->blen, p->key_marker, p->key_marker_len);
        l->buf[l->blen + p->key_marker_len] = 0;
        seek_to(l, l->buf + l->blen, p->key_marker_len + 1, id, strlen(id), 1);
        return;
    }
    /* Keys after key_marker: past "<key_marker>\0..." and no further. */
    memcpy(l->buf + l->blen, p->key_marker, p->key_marker_len);
    l->buf[l->blen + p->key_marker_len] = 1;
    rocksdb_iter_seek(l->it, l->buf, l->blen + p->key_marker_len + 1);
}

/* 1 if max was reached (truncated), 0 if emitted, or an error. */
static int emit_prefix(ulister *l, const char *k, size_t n)
{
    stor_upload_list *o = l->out;
    if (l->count == l->max)
        return o->truncated = 1;
    if (!(o->prefixes[o->n_prefixes] = tarn_arena_strndup(l->a, k, n)))
        return TARN_E_NOMEM;
    o->next_key = o->prefixes[o->n_prefixes++];
    o->next_key_len = n;
    o->next_upload_id = "";
    l->count++;
    return 0;
}

static int emit_upload(ulister *l, const char *k, size_t klen, const char *id, size_t idlen,
                       const char *val, size_t vlen)
{
    stor_upload_list *o = l->out;
    if (l->count == l->max)
        return o->truncated = 1;
    stor_upload *u = &o->uploads[o->n];
    memset(u, 0, sizeof(*u));
    u->checksum_alg = -1;
    if (stor__upload_tags(val, vlen, u)) {
        TARN_ERROR("storage: upload record is corrupt");
        return TARN_E_IO;
    }
    if (idlen > STOR_UPLOAD_ID_LEN || !(u->key = tarn_arena_strndup(l->a, k, klen)))
        return idlen > STOR_UPLOAD_ID_LEN ? 0 : TARN_E_NOMEM; /* not an id we made */
    u->key_len = klen;
    memcpy(u->upload_id, id, idlen);
    o->n++;
    o->next_key = u->key;
    o->next_key_len = klen;
    o->next_upload_id = u->upload_id;
    l->count++;
    return 0;
}

/* One entry ("<key>\0<id>" after the bucket part). 1 stop, 0 go on. */
static int step(void *arg, const char *k, size_t klen, const char *val, size_t vlen)
{
    ulister *l = arg;
    const char *nul = memrchr(k, 0, klen);
    if (!nul) {
        rocksdb_iter_next(l->it);
        return 0;
    }
    size_t keylen = (size_t)(nul - k);
    const char *p = l->p->delimiter;
    const char *d = l->dlen && keylen > l->plen ? memmem(k + l->plen, keylen - l->plen, p, l->dlen)
                                                : NULL;
    if (!d) {
        int rc = emit_upload(l, k, keylen, nul + 1, klen - keylen - 1, val, vlen);
        if (!rc)
            rocksdb_iter_next(l->it);
        return rc;
    }
    size_t cplen = (size_t)(d - k) + l->dlen;
    const stor_upload_list_params *pp = l->p;
    /* A key-marker inside this prefix: the prefix was on an earlier page. */
    int seen = pp->key_marker && pp->key_marker_len >= cplen && !memcmp(pp->key_marker, k, cplen);
    int rc = seen ? 0 : emit_prefix(l, k, cplen);
    if (!rc) {
        memcpy(l->buf + l->blen, k, cplen); /* k may point into the iterator */
        rocksdb_iter_seek(l->it, l->buf, succ((unsigned char *)l->buf, l->blen + cplen));
    }
    return rc;
}



static int ulister_init(ulister *l, const char *bucket)
{
    stor_key k;
    const stor_upload_list_params *p = l->p;
    if (stor__key_bucket_prefix(&k, STOR_FAM_UPLOAD, bucket))
        return TARN_E_NO_SUCH_BUCKET;
    l->plen = p->prefix ? strlen(p->prefix) : 0;
    l->dlen = p->delimiter ? strlen(p->delimiter) : 0;
    l->max = p->max_uploads < 0 ? 0 : p->max_uploads > LIST_MAX ? LIST_MAX : (size_t)p->max_uploads;
    l->blen = k.len;
    size_t room = l->plen + (p->key_marker ? p->key_marker_len : 0) +
                  (p->upload_id_marker ? strlen(p->upload_id_marker) : 0);
    l->cap = k.len + room + STOR_KEY_MAX + 2;
    l->buf = tarn_arena_alloc(l->a, l->cap);
    l->out->uploads = tarn_arena_calloc(l->a, (l->max ? l->max : 1) * sizeof(stor_upload));
    l->out->prefixes = tarn_arena_calloc(l->a, (l->max ? l->max : 1) * sizeof(char *));
    if (!l->buf || !l->out->uploads || !l->out->prefixes)
        return TARN_E_NOMEM;
    memcpy(l->buf, k.buf, k.len);
    return 0;
}

int stor_multipart_list(stor *s, tarn_arena *a, const char *bucket,
                        const stor_upload_list_params *p, stor_upload_list *out)
{
    stor_bucket b;
    ulister l = {.a = a, .p = p, .out = out};
    memset(out, 0, sizeof(*out));
    int rc = stor_bucket_get(s, bucket, &b);
    if (!rc)
        rc = ulister_init(&l, bucket);
    if (rc)
        return rc;
    l.it = rocksdb_create_iterator(s->db, s->ropts);
    seek_start(&l);
    rc = stor__iter_scan(l.it, l.buf, l.blen, l.p->prefix ? l.p->prefix : "", l.plen, step,
                         &l, "list uploads");
    rocksdb_iter_destroy(l.it);
    return rc;
}
