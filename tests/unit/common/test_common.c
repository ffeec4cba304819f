/* Unit tests for common/: arena, buffer, URI coding, error table. */
#include "common/common.h"

#include <stdio.h>
#include <string.h>
#include "tests/unit/check.h"


static int cleanup_calls;
static void count_cleanup(void *p) { cleanup_calls += *(int *)p; }

static void test_arena(void)
{
    tarn_arena *a = tarn_arena_create(256);
    CHECK(a != NULL);
    char *s = tarn_arena_strdup(a, "hello");
    CHECK(strcmp(s, "hello") == 0);
    /* Many small and one big allocation: all usable, all 16-aligned. */
    for (int i = 0; i < 1000; i++) {
        char *p = tarn_arena_alloc(a, (size_t)(i % 40) + 1);
        CHECK(p && ((uintptr_t)p & 15) == 0);
        memset(p, 'x', (size_t)(i % 40) + 1);
    }
    char *big = tarn_arena_alloc(a, 100000);
    CHECK(big != NULL);
    memset(big, 1, 100000);
    CHECK(strcmp(s, "hello") == 0);
    char *f = tarn_arena_printf(a, "%d-%s", 42, "x");
    CHECK(strcmp(f, "42-x") == 0);
    CHECK(tarn_arena_alloc(a, SIZE_MAX - 3) == NULL);
    static int one = 1;
    CHECK(tarn_arena_cleanup_add(a, count_cleanup, &one) == 0);
    CHECK(tarn_arena_cleanup_add(a, count_cleanup, &one) == 0);
    tarn_arena_destroy(a);
    CHECK(cleanup_calls == 2);
}

static void test_uri(void)
{
    tarn_arena *a = tarn_arena_create(0);
    size_t n;
    char *d = tarn_uri_decode(a, "a%20b+c%2Fd", 11, 0, &n);
    CHECK(d && strcmp(d, "a b+c/d") == 0 && n == 7);
    d = tarn_uri_decode(a, "a%20b+c", 7, 1, &n);
    CHECK(d && strcmp(d, "a b c") == 0);
    CHECK(tarn_uri_decode(a, "abc%", 4, 0, &n) == NULL);
    CHECK(tarn_uri_decode(a, "abc%4", 5, 0, &n) == NULL);
    CHECK(tarn_uri_decode(a, "%zz", 3, 0, &n) == NULL);
    /* The length bound is honoured: "%41" cut at 2 bytes is malformed. */
    CHECK(tarn_uri_decode(a, "%41", 2, 0, &n) == NULL);
    d = tarn_uri_decode(a, "%00x", 4, 0, &n);
    CHECK(d && n == 2 && d[0] == 0 && d[1] == 'x');
    char *e = tarn_uri_encode(a, "a b/c~d+é", strlen("a b/c~d+é"), 1);
    CHECK(strcmp(e, "a%20b/c~d%2B%C3%A9") == 0);
    e = tarn_uri_encode(a, "a/b", 3, 0);
    CHECK(strcmp(e, "a%2Fb") == 0);
    tarn_arena_destroy(a);
}

static void test_buf_and_errors(void)
{
    tarn_buf b = {0};
    for (int i = 0; i < 100; i++)
        CHECK(tarn_buf_printf(&b, "%03d", i) == 0);
    CHECK(b.len == 300 && memcmp(b.data + 297, "099", 3) == 0);
    tarn_buf_free(&b);
    CHECK(strcmp(tarn_err_code(TARN_E_NO_SUCH_BUCKET), "NoSuchBucket") == 0);
    CHECK(strcmp(tarn_err_code(TARN_E_NOMEM), "InternalError") == 0);
    CHECK(strcmp(tarn_err_code(TARN_E_BUSY), "SlowDown") == 0);
    CHECK(strcmp(tarn_err_code(12345), "InternalError") == 0);
    CHECK(strcmp(tarn_err_name(TARN_E_ACCESS_DENIED), "ACCESS_DENIED") == 0);
    unsigned char raw[3] = {0x00, 0xab, 0xff};
    char hex[7];
    tarn_hex(raw, 3, hex);
    CHECK(strcmp(hex, "00abff") == 0);
}

int main(void)
{
    test_arena();
    test_uri();
    test_buf_and_errors();
    if (failures)
        fprintf(stderr, "test_common: %d failure(s)\n", failures);
    return failures ? 1 : 0;
}
