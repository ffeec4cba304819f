/*
 * creds.c — the credential set: access key → secret. Filled at start-up,
 * read-only afterwards, so lookups need no lock. Kept as an array sorted
 * by access key (binary search): sets are small and adds are rare.
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct cred {
    char *akid;
    size_t akid_len;
    char *secret;
};

struct auth_creds {
    uint64_t id;
    struct cred *v;
    size_t n, cap;
};

static atomic_uint_fast64_t next_id = 1;

int auth_creds_create(auth_creds **out)
{
    auth_creds *c = calloc(1, sizeof(*c));
    if (!c)
        return TARN_E_NOMEM;
    c->id = atomic_fetch_add(&next_id, 1);
    *out = c;
    return 0;
}

static int valid_akid(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                 (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

static int valid_secret(const char *s)
{
    size_t n = strlen(s);
    if (n < 8 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* Byte order of (s, n) against a stored key; shorter sorts first. */
static int key_cmp(const char *s, size_t n, const struct cred *e)
{
    size_t m = n < e->akid_len ? n : e->akid_len;
    int r = memcmp(s, e->akid, m);
    if (r)
        return r;
    return n < e->akid_len ? -1 : n > e->akid_len;
}

/* Index of the first entry >= (s, n). */
static size_t lower_bound(const auth_creds *c, const char *s, size_t n)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(s, n, &c->v[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int grow(auth_creds *c)
{
    if (c->n < c->cap)
        return 0;
    size_t cap = c->cap ? c->cap * 2 : 8;
    struct cred *v = realloc(c->v, cap * sizeof(*v));
    if (!v)
        return TARN_E_NOMEM;
    c->v = v;
    c->cap = cap;
    return 0;
}

/* A duplicate access key is refused (TARN_E_INVAL) rather than replaced:
 * two secrets for one key in a config file is a mistake worth reporting. */
int auth_creds_add(auth_creds *c, const char *access_key, const char *secret_key)
{
    if (!c || !access_key || !secret_key || !valid_akid(access_key) ||
        !valid_secret(secret_key))
        return TARN_E_INVAL;
    size_t n = strlen(access_key);
    size_t at = lower_bound(c, access_key, n);
    if (at < c->n && key_cmp(access_key, n, &c->v[at]) == 0)
        return TARN_E_INVAL;
    if (grow(c))
        return TARN_E_NOMEM;
    struct cred e = {strdup(access_key), n, strdup(secret_key)};
    if (!e.akid || !e.secret) {
        free(e.akid);
        free(e.secret);
        return TARN_E_NOMEM;
    }
    memmove(&c->v[at + 1], &c->v[at], (c->n - at) * sizeof(*c->v));
    c->v[at] = e;
    c->n++;
    return 0;
}

const char *auth__creds_find(const auth_creds *c, const char *akid, size_t len)
{
    if (!c || !c->n)
        return NULL;
    size_t at = lower_bound(c, akid, len);
    if (at < c->n && key_cmp(akid, len, &c->v[at]) == 0)
        return c->v[at].secret;
    return NULL;
}

const char *auth_creds_secret(const auth_creds *c, const char *access_key)
{
    return access_key ? auth__creds_find(c, access_key, strlen(access_key)) : NULL;
}

uint64_t auth__creds_id(const auth_creds *c)
{
    return c->id;
}

void auth_creds_destroy(auth_creds *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        OPENSSL_cleanse(c->v[i].secret, strlen(c->v[i].secret));
        free(c->v[i].secret);
        free(c->v[i].akid);
    }
    free(c->v);
    free(c);
}
