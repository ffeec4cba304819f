/*
 * text.c — ASCII case-insensitive comparison for the auth/ files (header
 * names are ASCII; the C library's functions depend on the locale).
 */
#include "auth/internal.h"

int auth__casecmp_n(const char *a, size_t an, const char *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    for (size_t i = 0; i < m; i++) {
        int d = auth__lower((unsigned char)a[i]) - auth__lower((unsigned char)b[i]);
        if (d)
            return d;
    }
    return (an > bn) - (an < bn);
}
