/*
 * codec.c — the bytes of the metadata index: key builders for the schema in
 * internal.h / docs/metadata.md, and the value record codec (a version byte,
 * then tag-length-value fields with varint integers).
 *
 * Why a tagged binary record and not JSON or fixed structs: values hold
 * arbitrary bytes (user metadata, keys), so a text form would need escaping
 * and a parser on every GET; fixed structs cannot grow. Tagged fields are
 * compact, copy-free to read, and let a newer binary add fields that an
 * older one skips.
 */
#include "internal.h"

#include <string.h>

/* ---- Keys --------------------------------------------------------------- */

static void key_start(stor_key *k, char fam)
{
    k->buf[0] = fam;
    k->buf[1] = '/';
    k->len = 2;
    k->err = 0;
}

static void key_add(stor_key *k, const void *p, size_t n)
{
    if (k->err)
        return;
    if (n > sizeof(k->buf) - k->len) {
        k->err = TARN_E_KEY_TOO_LONG;
        return;
    }
    memcpy(k->buf + k->len, p, n);
    k->len += n;
}

static void key_sep(stor_key *k) { key_add(k, "", 1); }

/* A bucket part: non-empty, at most 63 bytes, no NUL (so the separator
 * after it is unambiguous). Validity of the name itself is the caller's. */
static void key_add_bucket(stor_key *k, const char *bucket)
{
    size_t n = strnlen(bucket, STOR_BUCKET_MAX + 1);
    if (n == 0 || n > STOR_BUCKET_MAX) {
        k->err = k->err ? k->err : TARN_E_INVALID_BUCKET_NAME;
        return;
    }
    key_add(k, bucket, n);
}

static void key_add_objkey(stor_key *k, const char *key, size_t keylen)
{
    if (keylen > STOR_OBJKEY_MAX) {
        k->err = k->err ? k->err : TARN_E_KEY_TOO_LONG;
        return;
    }
    if (memchr(key, 0, keylen)) {
        k->err = k->err ? k->err : TARN_E_INVALID_ARGUMENT;
        return;
    }
    key_add(k, key, keylen);
}

int stor__key_system(stor_key *k, const char *name)
{
    key_start(k, STOR_FAM_SYSTEM);
    key_add(k, name, strlen(name));
    return k->err;
}

int stor__key_bucket(stor_key *k, const char *bucket)
{
    key_start(k, STOR_FAM_BUCKET);
    key_add_bucket(k, bucket);
    return k->err;
}

int stor__key_bucket_prefix(stor_key *k, char fam, const char *bucket)
{
    key_start(k, fam);
    key_add_bucket(k, bucket);
    key_sep(k);
    return k->err;
}

int stor__key_head(stor_key *k, const char *bucket, const char *key, size_t keylen)
{
    stor__key_bucket_prefix(k, STOR_FAM_HEAD, bucket);
    key_add_objkey(k, key, keylen);
    return k->err;
}

int stor__key_version_prefix(stor_key *k, const char *bucket, const char *key,
                             size_t keylen)
{
    stor__key_bucket_prefix(k, STOR_FAM_VERSION, bucket);
    key_add_objkey(k, key, keylen);
    key_sep(k);
    return k->err;
}

int stor__key_version(stor_key *k, const char *bucket, const char *key, size_t keylen,
                      uint64_t seq)
{
    unsigned char be[8];
    stor__key_version_prefix(k, bucket, key, keylen);
    /* Inverted so that a forward scan of the log meets the newest first. */
    stor__be64_put(be, ~seq);
    key_add(k, be, sizeof(be));
    return k->err;
}

static void key_add_uploadid(stor_key *k, const char *uploadid)
{
    size_t n = strnlen(uploadid, STOR_UPLOADID_MAX + 1);
    if (n == 0 || n > STOR_UPLOADID_MAX) {
        k->err = k->err ? k->err : TARN_E_INVALID_ARGUMENT;
        return;
    }
    key_add(k, uploadid, n);
}

int stor__key_upload(stor_key *k, const char *bucket, const char *key, size_t keylen,
                     const char *uploadid)
{
    stor__key_bucket_prefix(k, STOR_FAM_UPLOAD, bucket);
    key_add_objkey(k, key, keylen);
    key_sep(k);
    key_add_uploadid(k, uploadid);
    return k->err;
}

int stor__key_part(stor_key *k, const char *bucket, const char *key, size_t keylen,
                   const char *uploadid, uint32_t part)
{
    unsigned char be[4] = {(unsigned char)(part >> 24), (unsigned char)(part >> 16),
                           (unsigned char)(part >> 8), (unsigned char)part};
    stor__key_bucket_prefix(k, STOR_FAM_PART, bucket);
    key_add_objkey(k, key, keylen);
    key_sep(k);
    key_add_uploadid(k, uploadid);
    key_sep(k);
    key_add(k, be, sizeof(be));
    return k->err;
}

int stor__key_garbage(stor_key *k, uint64_t seq)
{
    unsigned char be[8];
    key_start(k, STOR_FAM_GARBAGE);
    stor__be64_put(be, seq); /* ascending: GC drains oldest first */
    key_add(k, be, sizeof(be));
    return k->err;
}

int stor__key_data(stor_key *k, const char *data_id)
{
    size_t n = strnlen(data_id, 33);
    key_start(k, STOR_FAM_DATA);
    if (n == 0 || n > 32)
        k->err = TARN_E_INVALID_ARGUMENT;
    key_add(k, data_id, n);
    return k->err;
}

void stor__be64_put(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

uint64_t stor__be64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* ---- Records ------------------------------------------------------------ */

static int put_varint(tarn_buf *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    return tarn_buf_append(b, tmp, n);
}

/* 0 and *v, or -1 when the varint runs past end or over 64 bits. */
static int get_varint(const unsigned char **pp, const unsigned char *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pp >= end)
            return -1;
        unsigned char c = *(*pp)++;
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

int stor__rec_begin(tarn_buf *b)
{
    unsigned char v = STOR_REC_VERSION;
    b->len = 0;
    return tarn_buf_append(b, &v, 1);
}

int stor__rec_bytes(tarn_buf *b, unsigned tag, const void *p, size_t n)
{
    int rc = put_varint(b, tag);
    if (!rc)
        rc = put_varint(b, n);
    if (!rc && n)
        rc = tarn_buf_append(b, p, n);
    return rc;
}

int stor__rec_u64(tarn_buf *b, unsigned tag, uint64_t v)
{
    tarn_buf tmp = {0};
    int rc = put_varint(&tmp, v);
    if (!rc)
        rc = stor__rec_bytes(b, tag, tmp.data, tmp.len);
    tarn_buf_free(&tmp);
    return rc;
}

int stor__rec_i64(tarn_buf *b, unsigned tag, int64_t v)
{
    /* Zigzag: small negative numbers stay short. */
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v < 0 ? -1 : 0);
    return stor__rec_u64(b, tag, z);
}

int stor__rec_str(tarn_buf *b, unsigned tag, const char *s)
{
    return stor__rec_bytes(b, tag, s, strlen(s));
}

int stor__rec_pair(tarn_buf *b, unsigned tag, const char *name, size_t nlen,
                   const char *value, size_t vlen)
{
    tarn_buf tmp = {0};
    int rc = put_varint(&tmp, nlen);
    if (!rc)
        rc = tarn_buf_append(&tmp, name, nlen);
    if (!rc)
        rc = tarn_buf_append(&tmp, value, vlen);
    if (!rc)
        rc = stor__rec_bytes(b, tag, tmp.data, tmp.len);
    tarn_buf_free(&tmp);
    return rc;
}

int stor__rec_field_pair(const stor_rec_field *f, const unsigned char **name, size_t *nlen,
                         const unsigned char **value, size_t *vlen)
{
    const unsigned char *p = f->p, *end = f->p + f->n;
    uint64_t n;
    if (get_varint(&p, end, &n) || n > (uint64_t)(end - p))
        return TARN_E_CORRUPT;
    *name = p;
    *nlen = (size_t)n;
    *value = p + n;
    *vlen = (size_t)(end - p) - (size_t)n;
    return 0;
}

int stor__rec_open(stor_rec_reader *r, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len < 1 || p[0] != STOR_REC_VERSION)
        return TARN_E_CORRUPT;
    r->p = p + 1;
    r->end = p + len;
    return 0;
}

int stor__rec_next(stor_rec_reader *r, stor_rec_field *f)
{
    uint64_t tag, n;
    if (r->p == r->end)
        return 0;
    if (get_varint(&r->p, r->end, &tag) || get_varint(&r->p, r->end, &n))
        return TARN_E_CORRUPT;
    if (tag > 0xffffffffu || n > (uint64_t)(r->end - r->p))
        return TARN_E_CORRUPT;
    f->tag = (unsigned)tag;
    f->p = r->p;
    f->n = (size_t)n;
    r->p += n;
    return 1;
}

int stor__rec_field_u64(const stor_rec_field *f, uint64_t *v)
{
    const unsigned char *p = f->p;
    if (get_varint(&p, f->p + f->n, v) || p != f->p + f->n)
        return TARN_E_CORRUPT;
    return 0;
}

int stor__rec_field_i64(const stor_rec_field *f, int64_t *v)
{
    uint64_t z;
    if (stor__rec_field_u64(f, &z))
        return TARN_E_CORRUPT;
    *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    return 0;
}

int stor__rec_field_str(const stor_rec_field *f, char *out, size_t cap)
{
    if (f->n >= cap || memchr(f->p, 0, f->n))
        return TARN_E_CORRUPT;
    memcpy(out, f->p, f->n);
    out[f->n] = 0;
    return 0;
}

/* ---- Bucket record ------------------------------------------------------ */

int stor__bucket_encode(tarn_buf *b, const stor_bucket *bk)
{
    int rc = stor__rec_begin(b);
    if (!rc)
        rc = stor__rec_str(b, STOR_BT_OWNER, bk->owner);
    if (!rc && bk->location[0])
        rc = stor__rec_str(b, STOR_BT_LOCATION, bk->location);
    if (!rc)
        rc = stor__rec_i64(b, STOR_BT_CREATED, bk->created);
    return rc;
}

int stor__bucket_decode(const void *data, size_t len, const char *name, stor_bucket *out)
{
    stor_rec_reader r;
    stor_rec_field f;
    int rc;
    memset(out, 0, sizeof(*out));
    if (strlen(name) >= sizeof(out->name) || stor__rec_open(&r, data, len))
        return TARN_E_CORRUPT;
    strcpy(out->name, name);
    while ((rc = stor__rec_next(&r, &f)) == 1) {
        switch (f.tag) {
        case STOR_BT_OWNER:
            rc = stor__rec_field_str(&f, out->owner, sizeof(out->owner));
            break;
        case STOR_BT_LOCATION:
            rc = stor__rec_field_str(&f, out->location, sizeof(out->location));
            break;
        case STOR_BT_CREATED:
            rc = stor__rec_field_i64(&f, &out->created);
            break;
        default: /* a field from a newer binary */
            rc = 0;
        }
        if (rc)
            return TARN_E_CORRUPT;
    }
    return rc < 0 ? TARN_E_CORRUPT : 0;
}
