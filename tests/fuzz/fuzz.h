/*
 * fuzz.h — what every tarn fuzz target shares: a reader that carves the
 * fuzzer's bytes into the pieces a target needs (flag bytes, integers,
 * NUL-separated strings). Each target defines LLVMFuzzerTestOneInput and
 * builds two ways: with libFuzzer (make fuzz, tests/fuzz/run.sh) and as a
 * plain program replaying its seed corpus (tests/unit/fuzz/, make test).
 * Reading past the end yields zeros and empty strings, never an error, so
 * every input is a valid test case.
 */
#ifndef TARN_TESTS_FUZZ_H
#define TARN_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz {
    const uint8_t *p;
    size_t n; /* bytes left */
} fz;

static inline uint8_t fz_u8(fz *f)
{
    if (!f->n)
        return 0;
    f->n--;
    return *f->p++;
}

/* Little-endian, from up to `bytes` bytes. */
static inline uint64_t fz_uint(fz *f, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)fz_u8(f) << (8 * i);
    return v;
}

/* The bytes up to the next NUL (or the end), as an arena string; the NUL
 * is consumed. *len (may be NULL) gets the length. NULL only when the
 * arena is out of memory. */
static inline char *fz_str(fz *f, tarn_arena *a, size_t *len)
{
    const uint8_t *z = f->n ? memchr(f->p, 0, f->n) : NULL;
    size_t n = z ? (size_t)(z - f->p) : f->n;
    char *s = tarn_arena_strndup(a, n ? (const char *)f->p : "", n);
    f->p += n + (z != NULL);
    f->n -= n + (z != NULL);
    if (len)
        *len = n;
    return s;
}

/* Read every byte of s (NULL is fine), so ASan checks the pointer and the
 * compiler cannot drop the read. */
static volatile size_t fz_sink;
static inline void fz_touch(const void *s, size_t n)
{
    const volatile unsigned char *p = s;
    for (size_t i = 0; p && i < n; i++)
        fz_sink += p[i];
}

static inline void fz_touch_str(const char *s)
{
    if (s)
        fz_touch(s, strlen(s) + 1);
}

#endif
