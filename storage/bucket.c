/*
 * bucket.c — buckets: S3's naming rules, reads on the caller's thread, and
 * create/delete as commit-thread operations so that "create if absent" and
 * "delete if empty" are decided against everything committed before them,
 * including earlier operations of the same group commit.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- Naming rules ------------------------------------------------------
 * AWS S3 User Guide, "General purpose bucket naming rules". */

static int is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* "Must not be formatted as an IP address": four dot-separated groups of
 * 1-3 digits. Stricter than "a valid IPv4 address" (999.1.1.1 is refused
 * too), which is what clients that route by host name need. */
static int looks_like_ipv4(const char *s)
{
    int groups = 0, digits = 0;
    for (;; s++) {
        if (*s >= '0' && *s <= '9') {
            if (++digits > 3)
                return 0;
        } else if (*s == '.' || *s == 0) {
            if (digits == 0)
                return 0;
            groups++;
            digits = 0;
            if (*s == 0)
                return groups == 4;
        } else {
            return 0;
        }
    }
}

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static int has_suffix(const char *s, size_t n, const char *x)
{
    size_t m = strlen(x);
    return n >= m && memcmp(s + n - m, x, m) == 0;
}

int stor_bucket_name_valid(const char *name)
{
    static const char *const prefixes[] = {"xn--", "sthree-", "amzn-s3-demo-"};
    /* Reserved for access point, Object Lambda, Multi-Region access point,
     * directory bucket and table bucket names. */
    static const char *const suffixes[] = {"-s3alias", "--ol-s3", ".mrap", "--x-s3",
                                           "--table-s3"};
    size_t n = strnlen(name, STOR_BUCKET_MAX + 1);
    if (n < 3 || n > STOR_BUCKET_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(name[i]) && name[i] != '.' && name[i] != '-')
            return 0;
    if (!is_alnum(name[0]) || !is_alnum(name[n - 1]))
        return 0;
    /* ".." is the documented rule; ".-" and "-." also make a label that
     * starts or ends with '-', which no DNS name (virtual-hosted-style
     * addressing) may have. */
    if (strstr(name, "..") || strstr(name, ".-") || strstr(name, "-."))
        return 0;
    if (looks_like_ipv4(name))
        return 0;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (has_prefix(name, prefixes[i]))
            return 0;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
        if (has_suffix(name, n, suffixes[i]))
            return 0;
    return 1;
}

/* ---- Reads ---------------------------------------------------------------- */

int stor_bucket_get(stor *s, const char *name, stor_bucket *out)
{
    stor_key k;
    if (stor__key_bucket(&k, name))
        return TARN_E_NO_SUCH_BUCKET; /* a name that long was never stored */
    char *err = NULL;
    size_t len;
    char *v = rocksdb_get(s->db, s->ropts, k.buf, k.len, &len, &err);
    if (err) {
        TARN_ERROR("storage: get bucket %s: %s", name, err);
        rocksdb_free(err);
        return TARN_E_IO;
    }
    if (!v)
        return TARN_E_NO_SUCH_BUCKET;
    int rc = stor__bucket_decode(v, len, name, out);
    rocksdb_free(v);
    if (rc)
        TARN_ERROR("storage: bucket record %s is corrupt", name);
    return rc ? TARN_E_IO : 0;
}

/* Append the bucket at the iterator to *arr. */
static int list_add(rocksdb_iterator_t *it, stor_bucket **arr, size_t *n, size_t *cap)
{
    size_t klen, vlen;
    const char *key = rocksdb_iter_key(it, &klen);
    const char *val = rocksdb_iter_value(it, &vlen);
    char name[STOR_BUCKET_MAX + 1];
    if (klen < 3 || klen - 2 > STOR_BUCKET_MAX)
        return TARN_E_IO;
    memcpy(name, key + 2, klen - 2);
    name[klen - 2] = 0;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        stor_bucket *p = realloc(*arr, ncap * sizeof(*p));
        if (!p)
            return TARN_E_NOMEM;
        *arr = p;
        *cap = ncap;
    }
    if (stor__bucket_decode(val, vlen, name, &(*arr)[*n])) {
        TARN_ERROR("storage: bucket record %s is corrupt", name);
        return TARN_E_IO;
    }
    (*n)++;
    return 0;
}

int stor_bucket_list(stor *s, stor_bucket **out, size_t *count)
{
    /* "b0" is the first key after every "b/..." ('0' follows '/'). */
    static const char upper[] = {STOR_FAM_BUCKET, '/' + 1};
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_upper_bound(ro, upper, sizeof(upper));
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, ro);
    stor_bucket *arr = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    char *err = NULL;
    static const char first[] = {STOR_FAM_BUCKET, '/'};
    rocksdb_iter_seek(it, first, sizeof(first));
    for (; !rc && rocksdb_iter_valid(it); rocksdb_iter_next(it))
        rc = list_add(it, &arr, &n, &cap);
    rocksdb_iter_get_error(it, &err);
    if (err) {
        TARN_ERROR("storage: list buckets: %s", err);
        rocksdb_free(err);
        rc = TARN_E_IO;
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    if (rc) {
        free(arr);
        return rc;
    }
    *out = arr;
    *count = n;
    return 0;
}

/* ---- Create ----------------------------------------------------------------- */

typedef struct create_op {
    stor_op base;
    stor_bucket b;
} create_op;

static int create_apply(stor_txn *t, stor_op *op)
{
    create_op *c = (create_op *)op;
    stor_key k;
    char *val;
    size_t len;
    int rc = stor__key_bucket(&k, c->b.name);
    if (!rc)
        rc = stor__txn_get(t, &k, &val, &len);
    if (rc == 0) {
        stor_bucket old;
        rc = stor__bucket_decode(val, len, c->b.name, &old);
        rocksdb_free(val);
        if (rc)
            return TARN_E_IO;
        /* S3 CreateBucket: the owner re-creating gets BucketAlreadyOwnedByYou,
         * anyone else BucketAlreadyExists. */
        return strcmp(old.owner, c->b.owner) == 0 ? TARN_E_BUCKET_ALREADY_OWNED
                                                   : TARN_E_BUCKET_ALREADY_EXISTS;
    }
    if (rc != TARN_E_NOT_FOUND)
        return rc;
    tarn_buf rec = {0};
    rc = stor__bucket_encode(&rec, &c->b);
    if (!rc)
        stor__txn_put(t, &k, rec.data, rec.len);
    tarn_buf_free(&rec);
    return rc;
}

int stor_bucket_create(stor *s, stor_waker *w, const stor_bucket *b, stor_done_fn done,
                       void *arg)
{
    /* Contract violations, refused before they reach the index. */
    if (!stor_bucket_name_valid(b->name))
        return TARN_E_INVALID_BUCKET_NAME;
    if (strnlen(b->owner, sizeof(b->owner)) == sizeof(b->owner) ||
        strnlen(b->location, sizeof(b->location)) == sizeof(b->location))
        return TARN_E_INVALID_ARGUMENT;
    create_op *c = calloc(1, sizeof(*c));
    if (!c)
        return TARN_E_NOMEM;
    c->base.apply = create_apply;
    c->b = *b;
    if (c->b.created == 0)
        c->b.created = tarn_now_unix();
    int rc = stor__commit_submit(s, &c->base, w, done, arg);
    if (rc)
        free(c);
    return rc;
}

/* ---- Delete ----------------------------------------------------------------- */

typedef struct delete_op {
    stor_op base;
    char name[STOR_BUCKET_MAX + 1];
} delete_op;

/* 1 if the bucket holds an object head, a version or an upload. Versions
 * count on their own: in a versioned bucket a key whose versions are all
 * delete markers still keeps the bucket non-empty (S3 DeleteBucket). */
static int bucket_has_entries(stor_txn *t, const char *name)
{
    static const char fams[] = {STOR_FAM_HEAD, STOR_FAM_VERSION, STOR_FAM_UPLOAD};
    for (size_t i = 0; i < sizeof(fams); i++) {
        stor_key p;
        stor__key_bucket_prefix(&p, fams[i], name);
        int rc = stor__txn_prefix_exists(t, &p);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int delete_apply(stor_txn *t, stor_op *op)
{
    delete_op *d = (delete_op *)op;
    stor_key k;
    char *val;
    size_t len;
    if (stor__key_bucket(&k, d->name))
        return TARN_E_NO_SUCH_BUCKET; /* too long to have been created */
    int rc = stor__txn_get(t, &k, &val, &len);
    if (rc == TARN_E_NOT_FOUND)
        return TARN_E_NO_SUCH_BUCKET;
    if (rc)
        return rc;
    rocksdb_free(val);
    rc = bucket_has_entries(t, d->name);
    if (rc < 0)
        return rc;
    if (rc > 0)
        return TARN_E_BUCKET_NOT_EMPTY;
    stor__txn_delete(t, &k);
    return 0;
}

int stor_bucket_delete(stor *s, stor_waker *w, const char *name, stor_done_fn done,
                       void *arg)
{
    delete_op *d = calloc(1, sizeof(*d));
    if (!d)
        return TARN_E_NOMEM;
    d->base.apply = delete_apply;
    /* An over-long name is left empty rather than truncated (which could
     * name another bucket): apply answers NoSuchBucket, as S3 does for a
     * name that cannot exist. */
    size_t n = strnlen(name, sizeof(d->name));
    if (n < sizeof(d->name))
        memcpy(d->name, name, n + 1);
    int rc = stor__commit_submit(s, &d->base, w, done, arg);
    if (rc)
        free(d);
    return rc;
}
