/*
 * query.c — reading auth parameters out of a raw query string, for the
 * presigned SigV4 form (X-Amz-*) and the SigV2 query form (AWSAccessKeyId,
 * Expires, Signature). The canonical query that SigV4 signs is built in
 * sigv4.c; this file only finds and decodes single parameters.
 */
#include "internal.h"

#include <string.h>

size_t auth__query_find(const char *q, const char *name, const char **v, size_t *vn)
{
    size_t count = 0, len = strlen(name);
    for (const char *p = q; p && *p;) {
        size_t seg = strcspn(p, "&");
        size_t kn = strcspn(p, "=&");
        if (kn == len && memcmp(p, name, len) == 0 && count++ == 0) {
            const char *val = kn < seg ? p + kn + 1 : p + kn;
            if (v)
                *v = val;
            if (vn)
                *vn = (size_t)(p + seg - val);
        }
        p += seg;
        if (*p)
            p++;
    }
    return count;
}

int auth__query_decode(tarn_arena *a, const char *v, size_t vn, char **out)
{
    for (size_t i = 0; i < vn; i++)
        if (v[i] == '%' && (i + 2 >= vn || tarn_hex_value(v[i + 1]) < 0 ||
                            tarn_hex_value(v[i + 2]) < 0))
            return TARN_E_INVALID_ARGUMENT;
    size_t dn;
    char *d = tarn_uri_decode(a, v, vn, 0, &dn);
    if (!d)
        return TARN_E_NOMEM;
    /* A %00 would cut the C string short of what was signed. */
    if (memchr(d, '\0', dn))
        return TARN_E_INVALID_ARGUMENT;
    *out = d;
    return 0;
}
