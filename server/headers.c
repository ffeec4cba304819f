/*
 * headers.c — the HTTP header rules of S3's object operations, kept apart
 * from the handlers so they can be tested alone: Range (RFC 9110 §14 as S3
 * applies it: one range only), the conditional headers with S3's
 * precedence (GetObject "Conditional requests"), HTTP dates, and user
 * metadata (x-amz-meta-*, at most 2 KiB).
 */
#include "server/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 19)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Range: "bytes=a-b", "bytes=a-", "bytes=-n". S3 answers a syntactically
 * invalid or multi-range header by ignoring it (the whole object, 200);
 * a valid range that starts past the end is 416 InvalidRange. */
int srv_range_parse(const char *header, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (!header)
        return SRV_RANGE_NONE;
    while (*header == ' ')
        header++;
    if (strncasecmp(header, "bytes=", 6) != 0 || strchr(header, ','))
        return SRV_RANGE_NONE;
    const char *spec = header + 6, *dash = strchr(spec, '-');
    if (!dash)
        return SRV_RANGE_NONE;
    const char *end = spec + strlen(spec);
    while (end > dash + 1 && end[-1] == ' ')
        end--;
    uint64_t a = 0, b = 0;
    int has_a = dash > spec, has_b = end > dash + 1;
    if ((has_a && parse_u64(spec, (size_t)(dash - spec), &a)) ||
        (has_b && parse_u64(dash + 1, (size_t)(end - dash - 1), &b)) || (!has_a && !has_b))
        return SRV_RANGE_NONE;
    if (!has_a) { /* suffix: the last b bytes */
        if (b == 0)
            return SRV_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size ? size - 1 : 0;
        return size ? SRV_RANGE_OK : SRV_RANGE_UNSATISFIABLE;
    }
    if (has_b && b < a)
        return SRV_RANGE_NONE;
    if (a >= size)
        return SRV_RANGE_UNSATISFIABLE;
    *first = a;
    *last = has_b && b < size ? b : size - 1;
    return SRV_RANGE_OK;
}

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void srv_http_date(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), and the two obsolete
 * forms HTTP still requires recipients to accept (RFC 9110 §5.6.7). */
int srv_http_date_parse(const char *s, int64_t *out)
{
    static const char *const formats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                          "%a %b %e %H:%M:%S %Y"};
    if (!s)
        return -1;
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        const char *end = strptime(s, formats[i], &tm);
        if (end && *end == '\0') {
            *out = (int64_t)timegm(&tm);
            return 0;
        }
    }
    return -1;
}

/* Does an If-Match / If-None-Match list name this ETag? "*" matches any. */
static int etag_list_matches(const char *list, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && end[-1] == ' ')
            end--;
        if (end - start >= 2 && start[0] == 'W' && start[1] == '/')
            start += 2; /* weak comparison for these headers */
        if (end - start >= 2 && *start == '"' && end[-1] == '"')
            start++, end--;
        if ((end - start == 1 && *start == '*') ||
            ((size_t)(end - start) == elen && memcmp(start, etag, elen) == 0))
            return 1;
    }
    return 0;
}

/* S3's precedence: If-Match true + If-Unmodified-Since false → 200 (the
 * date is ignored); If-None-Match false + If-Modified-Since true → 304.
 * Returns 0, TARN_E_PRECONDITION_FAILED or TARN_E_NOT_MODIFIED. */
int srv_conditions_check(const srv_conditions *c, const char *etag, int64_t mtime)
{
    int64_t t;
    if (c->if_match) {
        if (!etag_list_matches(c->if_match, etag))
            return TARN_E_PRECONDITION_FAILED;
    } else if (c->if_unmodified_since && srv_http_date_parse(c->if_unmodified_since, &t) == 0 &&
               mtime > t) {
        return TARN_E_PRECONDITION_FAILED;
    }
    if (c->if_none_match) {
        if (etag_list_matches(c->if_none_match, etag))
            return c->is_read ? TARN_E_NOT_MODIFIED : TARN_E_PRECONDITION_FAILED;
    } else if (c->is_read && c->if_modified_since &&
               srv_http_date_parse(c->if_modified_since, &t) == 0 && mtime <= t) {
        return TARN_E_NOT_MODIFIED;
    }
    return 0;
}

struct meta_collect {
    tarn_arena *arena;
    stor_meta_pair *pairs;
    size_t n, cap, bytes;
    int err;
};

static enum MHD_Result collect_meta(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    struct meta_collect *mc = cls;
    if (strncasecmp(key, "x-amz-meta-", 11) != 0 || mc->err)
        return MHD_YES;
    const char *name = key + 11;
    value = value ? value : "";
    /* AWS counts the UTF-8 bytes of each name (without the prefix) and value. */
    mc->bytes += strlen(name) + strlen(value);
    if (mc->bytes > SRV_MAX_USER_META) {
        mc->err = TARN_E_METADATA_TOO_LARGE;
        return MHD_NO;
    }
    if (mc->n == mc->cap) {
        size_t cap = mc->cap ? mc->cap * 2 : 8;
        stor_meta_pair *p = tarn_arena_alloc(mc->arena, cap * sizeof(*p));
        if (!p) {
            mc->err = TARN_E_NOMEM;
            return MHD_NO;
        }
        if (mc->n)
            memcpy(p, mc->pairs, mc->n * sizeof(*p));
        mc->pairs = p;
        mc->cap = cap;
    }
    char *lower = tarn_arena_strdup(mc->arena, name);
    for (char *q = lower; q && *q; q++)
        *q = (char)tolower((unsigned char)*q);
    mc->pairs[mc->n].name = lower;
    mc->pairs[mc->n].value = value;
    mc->n++;
    return MHD_YES;
}

int srv_user_meta_collect(tarn_arena *a, struct MHD_Connection *conn, const stor_meta_pair **out,
                          size_t *n)
{
    struct meta_collect mc = {.arena = a};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_meta, &mc);
    *out = mc.pairs;
    *n = mc.n;
    return mc.err;
}

int srv_content_meta_collect(srv_request *r, stor_object *m)
{
    const char *ct = srv_request_header(r, "Content-Type");
    m->content_type = ct ? ct : "binary/octet-stream";
    m->content_encoding = srv_request_header(r, "Content-Encoding");
    m->content_disposition = srv_request_header(r, "Content-Disposition");
    m->content_language = srv_request_header(r, "Content-Language");
    m->cache_control = srv_request_header(r, "Cache-Control");
    m->expires = srv_request_header(r, "Expires");
    return srv_user_meta_collect(r->arena, r->conn, &m->meta, &m->n_meta);
}
