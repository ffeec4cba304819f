/*
 * sigv4_parse.c — the lexical side of SigV4 header auth: splitting the
 * Authorization header into credential scope, signed headers and
 * signature, and reading the request dates. Nothing here hashes; sigv4.c
 * does the canonical request and the signature check.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define MALFORMED "The authorization header is malformed; "
#define NEED_THREE                                                           \
    MALFORMED "the authorization header requires three components: "       \
              "Credential, SignedHeaders, and Signature."
#define BAD_CREDENTIAL                                                       \
    MALFORMED "the Credential is mal-formed; expecting "                    \
              "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."

const char *auth__clip(tarn_arena *a, const char *s, size_t n)
{
    enum { CAP = 64 };
    size_t m = n > CAP ? CAP : n;
    char *out = tarn_arena_alloc(a, m + 4);
    if (!out)
        return "";
    for (size_t i = 0; i < m; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    memcpy(out + m, n > CAP ? "..." : "", n > CAP ? 4 : 1);
    return out;
}

static int malformed(const char **detail, const char *msg)
{
    if (detail)
        *detail = msg;
    return TARN_E_AUTH_HEADER_MALFORMED;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Next '/'-separated field of [*p, end): sets *f, *fn, moves *p past '/'. */
static int next_field(const char **p, const char *end, const char **f, size_t *fn)
{
    if (*p > end)
        return -1;
    const char *s = memchr(*p, '/', (size_t)(end - *p));
    const char *e = s ? s : end;
    *f = *p;
    *fn = (size_t)(e - *p);
    *p = e + 1;
    return 0;
}

/* S3 API reference, "Authenticating Requests: Using the Authorization
 * Header": Credential = <akid>/<YYYYMMDD>/<region>/s3/aws4_request. */
int auth__sigv4_credential_parse(tarn_arena *a, const char *v, size_t n, auth_sigv4_hdr *h,
                                 const char **detail)
{
    const char *p = v, *end = v + n, *f[5];
    size_t fn[5];
    for (int i = 0; i < 5; i++)
        if (next_field(&p, end, &f[i], &fn[i]) || fn[i] == 0)
            return malformed(detail, BAD_CREDENTIAL);
    if (p <= end) /* a sixth field */
        return malformed(detail, BAD_CREDENTIAL);
    if (fn[1] != 8 || !all_digits(f[1], 8)) {
        *detail = tarn_arena_printf(a, MALFORMED "Invalid credential date \"%s\".",
                                    auth__clip(a, f[1], fn[1]));
        return TARN_E_AUTH_HEADER_MALFORMED;
    }
    if (fn[3] != 2 || memcmp(f[3], "s3", 2) != 0) {
        *detail = tarn_arena_printf(a, MALFORMED "incorrect service \"%s\". This "
                                    "endpoint belongs to \"s3\".", auth__clip(a, f[3], fn[3]));
        return TARN_E_AUTH_HEADER_MALFORMED;
    }
    if (fn[4] != 12 || memcmp(f[4], "aws4_request", 12) != 0) {
        *detail = tarn_arena_printf(a, MALFORMED "incorrect terminal \"%s\". This "
                                    "endpoint uses \"aws4_request\".", auth__clip(a, f[4], fn[4]));
        return TARN_E_AUTH_HEADER_MALFORMED;
    }
    h->akid = f[0];
    h->akid_len = fn[0];
    h->date8 = f[1];
    h->region = f[2];
    h->region_len = fn[2];
    h->scope = f[1];
    h->scope_len = (size_t)(end - f[1]);
    return 0;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Byte order; a proper prefix sorts first (as "host" < "host2"). */
static int name_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int r = memcmp(a, b, an < bn ? an : bn);
    return r ? r : (an > bn) - (an < bn);
}

/* Lower-case names separated by ';', none empty, "host" among them: the
 * S3 docs require host to be signed ("Signed headers ... host is
 * required"). */
int auth__sigv4_signed_headers_parse(const char *v, size_t n, auth_sigv4_hdr *h,
                                     const char **detail)
{
    int has_host = 0;
    const char *p = v, *end = v + n, *prev = NULL;
    size_t prev_n = 0;
    while (p <= end) {
        const char *s = memchr(p, ';', (size_t)(end - p));
        const char *e = s ? s : end;
        size_t len = (size_t)(e - p);
        if (len == 0)
            return malformed(detail, MALFORMED "the SignedHeaders list has an empty name.");
        for (size_t i = 0; i < len; i++)
            if ((p[i] >= 'A' && p[i] <= 'Z') || is_blank(p[i]))
                return malformed(detail, MALFORMED "the SignedHeaders must be lower case.");
        /* The canonical request lists headers sorted (S3 API reference,
         * "Signature Calculations for the Authorization Header"). Requiring
         * strict order also rules out duplicates, which would otherwise let
         * "host;host;host..." repeat a header value once per name. */
        if (prev && name_cmp(prev, prev_n, p, len) >= 0)
            return malformed(detail, MALFORMED "the SignedHeaders must be sorted and unique.");
        if (len == 4 && memcmp(p, "host", 4) == 0)
            has_host = 1;
        prev = p;
        prev_n = len;
        p = e + 1;
    }
    if (!has_host)
        return malformed(detail, MALFORMED "the SignedHeaders must include host.");
    h->signed_headers = v;
    h->signed_headers_len = n;
    return 0;
}

static int parse_signature(const char *v, size_t n, auth_sigv4_hdr *h, const char **detail)
{
    if (n != 64 || auth__unhex(v, 32, h->signature))
        return malformed(detail, MALFORMED "the Signature must be 64 hexadecimal digits.");
    return 0;
}

enum { C_CRED = 1, C_SH = 2, C_SIG = 4 };

/* One "Name=value" component of [p, e). */
static int parse_component(tarn_arena *a, const char *p, const char *e, auth_sigv4_hdr *h,
                           int *seen, const char **detail)
{
    const char *eq = memchr(p, '=', (size_t)(e - p));
    if (!eq)
        return malformed(detail, NEED_THREE);
    size_t kn = (size_t)(eq - p), vn = (size_t)(e - eq - 1);
    int bit = 0, rc;
    if (kn == 10 && memcmp(p, "Credential", 10) == 0) {
        bit = C_CRED;
        rc = auth__sigv4_credential_parse(a, eq + 1, vn, h, detail);
    } else if (kn == 13 && memcmp(p, "SignedHeaders", 13) == 0) {
        bit = C_SH;
        rc = auth__sigv4_signed_headers_parse(eq + 1, vn, h, detail);
    } else if (kn == 9 && memcmp(p, "Signature", 9) == 0) {
        bit = C_SIG;
        rc = parse_signature(eq + 1, vn, h, detail);
    } else {
        return malformed(detail, NEED_THREE);
    }
    if (*seen & bit)
        return malformed(detail, NEED_THREE);
    *seen |= bit;
    return rc;
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...":
 * components in any order, optional blanks around the commas. */
int auth__sigv4_hdr_parse(tarn_arena *a, const char *v, auth_sigv4_hdr *h,
                          const char **detail)
{
    static const char scheme[] = "AWS4-HMAC-SHA256";
    memset(h, 0, sizeof(*h));
    if (strncmp(v, scheme, sizeof(scheme) - 1) != 0)
        return malformed(detail, NEED_THREE);
    const char *p = v + sizeof(scheme) - 1;
    if (!is_blank(*p))
        return malformed(detail, NEED_THREE);
    int seen = 0;
    for (;;) {
        while (is_blank(*p))
            p++;
        const char *e = strchr(p, ',');
        if (!e)
            e = p + strlen(p);
        const char *t = e;
        while (t > p && is_blank(t[-1]))
            t--;
        if (t == p)
            return malformed(detail, NEED_THREE);
        int rc = parse_component(a, p, t, h, &seen, detail);
        if (rc)
            return rc;
        if (!*e)
            break;
        p = e + 1;
    }
    return seen == (C_CRED | C_SH | C_SIG) ? 0 : malformed(detail, NEED_THREE);
}

/* ---- dates ------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (the usual era arithmetic: 400-year eras of 146097 days). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dm[m - 1];
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int make_time(int y, int mo, int d, int h, int mi, int s, int64_t *out)
{
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
        mi > 59 || s > 60)
        return -1;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return 0;
}

int auth__time_parse_iso8601(const char *s, int64_t *out)
{
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z' || !all_digits(s, 8) ||
        !all_digits(s + 9, 6))
        return -1;
    return make_time(num(s, 4), num(s + 4, 2), num(s + 6, 2), num(s + 9, 2),
                     num(s + 11, 2), num(s + 13, 2), out);
}

/* RFC 7231 §7.1.1.1 IMF-fixdate, e.g. "Fri, 24 May 2013 00:00:00 GMT". */
int auth__time_parse_rfc1123(const char *s, int64_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char wd[4], mon[4], tz[4];
    int d, y, h, mi, sec, used = -1;
    if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3s%n", wd, &d, mon, &y,
               &h, &mi, &sec, tz, &used) != 8 || used < 0 || s[used] != '\0')
        return -1;
    if (strcmp(tz, "GMT") != 0 && strcmp(tz, "UTC") != 0)
        return -1;
    const char *m = strlen(mon) == 3 ? strstr(months, mon) : NULL;
    if (!m || (m - months) % 3 || d < 0 || h < 0 || mi < 0 || sec < 0)
        return -1;
    return make_time(y, (int)(m - months) / 3 + 1, d, h, mi, sec, out);
}

/* ISO 8601 extended, as POST policies write "expiration" (S3 API
 * reference, "Creating a POST Policy", Expiration): "2015-12-30T12:00:00Z"
 * with optional fractional seconds ("...:00.000Z"), UTC only. */
int auth__time_parse_iso8601_ext(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[n - 1] != 'Z' || !all_digits(s, 4) || !all_digits(s + 5, 2) ||
        !all_digits(s + 8, 2) || !all_digits(s + 11, 2) || !all_digits(s + 14, 2) ||
        !all_digits(s + 17, 2))
        return -1;
    if (n > 20 && (s[19] != '.' || n == 21 || !all_digits(s + 20, n - 21)))
        return -1;
    return make_time(num(s, 4), num(s + 5, 2), num(s + 8, 2), num(s + 11, 2),
                     num(s + 14, 2), num(s + 17, 2), out);
}

/* The dates SigV2 clients put in Date / x-amz-date: RFC 1123 with "GMT",
 * or with the numeric zone "+0000" that AWS's own SigV2 examples and
 * s3cmd use, or (rarely) the ISO 8601 basic form. */
int auth__time_parse_http(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (auth__time_parse_rfc1123(s, out) == 0 || auth__time_parse_iso8601(s, out) == 0)
        return 0;
    if (n < 6 || n > 40 || strcmp(s + n - 6, " +0000") != 0)
        return -1;
    char tmp[48];
    memcpy(tmp, s, n - 5);
    memcpy(tmp + n - 5, "GMT", 4);
    return auth__time_parse_rfc1123(tmp, out);
}

void auth__time_format_iso8601(int64_t t, char out[17])
{
    if (t < 0) /* parsers never produce these; keep the output well formed */
        t = 0;
    int64_t days = t / 86400, rem = t % 86400;
    /* Inverse of days_from_civil. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int y = (int)(yoe + era * 400 + (m <= 2));
    int f[] = {y / 100 % 100, y % 100, m, d, -1, (int)(rem / 3600), (int)(rem / 60 % 60),
               (int)(rem % 60)};
    char *w = out;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i] < 0) {
            *w++ = 'T';
            continue;
        }
        *w++ = (char)('0' + f[i] / 10);
        *w++ = (char)('0' + f[i] % 10);
    }
    *w++ = 'Z';
    *w = '\0';
}
