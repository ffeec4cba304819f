/*
 * Unit tests for auth/crc.c (moved here from erasure/ with the CRCs): the
 * check values of CRC32, CRC32C and CRC64NVME; each against a
 * bit-at-a-time reference written here on random data at odd lengths and
 * alignments; incremental == one-shot; combine == concatenation for random
 * splits (and long zero runs).
 * TARN_SEED=<n> repeats a run; the seed is printed first.
 */
#include "auth/auth.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tests/unit/check.h"


/* Bit-at-a-time reflected CRC, init and xorout all ones, from the
 * textbook (normal-form) polynomial: reflect it here so the reference
 * shares no constant with crc.c. */
static uint64_t reflect(uint64_t v, int width)
{
    uint64_t r = 0;
    for (int i = 0; i < width; i++)
        if (v & (1ull << i))
            r |= 1ull << (width - 1 - i);
    return r;
}

static uint64_t ref_crc(uint64_t normal_poly, int width, const unsigned char *p, size_t n)
{
    uint64_t poly = reflect(normal_poly, width);
    uint64_t mask = width == 64 ? ~0ull : (1ull << width) - 1;
    uint64_t r = mask;
    for (size_t i = 0; i < n; i++) {
        r ^= p[i];
        for (int b = 0; b < 8; b++)
            r = (r & 1) ? (r >> 1) ^ poly : r >> 1;
    }
    return ~r & mask;
}

#define P32 0x04C11DB7ull
#define P32C 0x1EDC6F41ull
#define P64 0xAD93D23594C93659ull

static void test_check_values(void)
{
    const char *s = "123456789";
    CHECK(auth_crc32(0, s, 9) == 0xCBF43926u);
    CHECK(auth_crc32c(0, s, 9) == 0xE3069283u);
    CHECK(auth_crc64nvme(0, s, 9) == 0xAE8B14860A799888ull);
    CHECK(ref_crc(P32, 32, (const unsigned char *)s, 9) == 0xCBF43926u);
    CHECK(ref_crc(P32C, 32, (const unsigned char *)s, 9) == 0xE3069283u);
    CHECK(ref_crc(P64, 64, (const unsigned char *)s, 9) == 0xAE8B14860A799888ull);
    CHECK(auth_crc32(0, "", 0) == 0 && auth_crc32c(0, "", 0) == 0 &&
          auth_crc64nvme(0, "", 0) == 0);
}

/* Against the reference, at every length 0..300 and random offsets. */
static void test_against_reference(void)
{
    unsigned char buf[512];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)rng();
    int bad = 0;
    for (size_t n = 0; n <= 300; n++) {
        const unsigned char *p = buf + rng() % (sizeof(buf) - n + 1);
        bad += auth_crc32(0, p, n) != ref_crc(P32, 32, p, n);
        bad += auth_crc32c(0, p, n) != ref_crc(P32C, 32, p, n);
        bad += auth_crc64nvme(0, p, n) != ref_crc(P64, 64, p, n);
    }
    CHECK(bad == 0);
}

/* Incremental over random pieces == one shot; combine == concatenation. */
static void test_incremental_and_combine(void)
{
    size_t n = 200000;
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)rng();
    uint32_t w32 = auth_crc32(0, buf, n), w32c = auth_crc32c(0, buf, n);
    uint64_t w64 = auth_crc64nvme(0, buf, n);
    for (int t = 0; t < 200; t++) {
        size_t cut = t == 0 ? 0 : t == 1 ? n : rng() % (n + 1);
        const unsigned char *b = buf + cut;
        size_t nb = n - cut;
        uint32_t a32 = auth_crc32(0, buf, cut), a32c = auth_crc32c(0, buf, cut);
        uint64_t a64 = auth_crc64nvme(0, buf, cut);
        CHECK(auth_crc32(a32, b, nb) == w32);
        CHECK(auth_crc32c(a32c, b, nb) == w32c);
        CHECK(auth_crc64nvme(a64, b, nb) == w64);
        CHECK(auth_crc32_combine(a32, auth_crc32(0, b, nb), nb) == w32);
        CHECK(auth_crc32c_combine(a32c, auth_crc32c(0, b, nb), nb) == w32c);
        CHECK(auth_crc64nvme_combine(a64, auth_crc64nvme(0, b, nb), nb) == w64);
    }
    /* Many small pieces, as a multipart upload of ten parts would. */
    uint32_t c32 = 0, c32c = 0;
    uint64_t c64 = 0;
    for (size_t off = 0, i = 0; off < n; i++) {
        size_t len = i == 9 ? n - off : rng() % (n / 8);
        if (off + len > n)
            len = n - off;
        c32 = auth_crc32_combine(c32, auth_crc32(0, buf + off, len), len);
        c32c = auth_crc32c_combine(c32c, auth_crc32c(0, buf + off, len), len);
        c64 = auth_crc64nvme_combine(c64, auth_crc64nvme(0, buf + off, len), len);
        off += len;
    }
    CHECK(c32 == w32 && c32c == w32c && c64 == w64);
    free(buf);
}

/* Combine over a long B (16 MiB of zeros) exercises high powers of x. */
static void test_combine_long(void)
{
    size_t n = 16u << 20;
    unsigned char *z = calloc(1, n);
    const char *a = "tarn";
    uint32_t a32 = auth_crc32(0, a, 4), a32c = auth_crc32c(0, a, 4);
    uint64_t a64 = auth_crc64nvme(0, a, 4);
    CHECK(auth_crc32_combine(a32, auth_crc32(0, z, n), n) == auth_crc32(a32, z, n));
    CHECK(auth_crc32c_combine(a32c, auth_crc32c(0, z, n), n) == auth_crc32c(a32c, z, n));
    CHECK(auth_crc64nvme_combine(a64, auth_crc64nvme(0, z, n), n) == auth_crc64nvme(a64, z, n));
    free(z);
}

int main(void)
{
    test_seed("test_crc");
    test_check_values();
    test_against_reference();
    test_incremental_and_combine();
    test_combine_long();
    TEST_EXIT_SEEDED("test_crc");
}
