/*
 * Unit tests for erasure/crc.c: CRC32C (isa-l crc32_iscsi) against its
 * check value and a bit-at-a-time reference written here on random data at
 * every length 0..300 and random offsets, incremental == one-shot, and the
 * block checksum helpers (block and stripe verify). The S3 CRCs moved to
 * auth/ with their tests (tests/unit/auth/test_crc.c).
 * TARN_SEED=<n> repeats a run; the seed is printed first.
 */
#include "erasure/erasure.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tests/unit/check.h"


/* Bit-at-a-time CRC32C: reflected 0x1EDC6F41, init and xorout all ones. */
static uint32_t ref_crc32c(const unsigned char *p, size_t n)
{
    uint32_t poly = 0, r = 0xFFFFFFFFu;
    for (int i = 0; i < 32; i++) /* reflect the textbook polynomial here */
        if (0x1EDC6F41u & (1u << i))
            poly |= 1u << (31 - i);
    for (size_t i = 0; i < n; i++) {
        r ^= p[i];
        for (int b = 0; b < 8; b++)
            r = (r & 1) ? (r >> 1) ^ poly : r >> 1;
    }
    return ~r;
}

static void test_check_values(void)
{
    const char *s = "123456789";
    CHECK(erc_crc32c(0, s, 9) == 0xE3069283u);
    CHECK(ref_crc32c((const unsigned char *)s, 9) == 0xE3069283u);
    CHECK(erc_crc32c(0, "", 0) == 0);
    CHECK(erc_block_checksum(s, 9) == 0xE3069283u);
    CHECK(erc_block_verify(s, 9, 0xE3069283u) == 0);
    CHECK(erc_block_verify(s, 9, 0xE3069282u) == TARN_E_CORRUPT);
}

static void test_against_reference(void)
{
    unsigned char buf[512];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)rng();
    int bad = 0;
    for (size_t n = 0; n <= 300; n++) {
        const unsigned char *p = buf + rng() % (sizeof(buf) - n + 1);
        bad += erc_crc32c(0, p, n) != ref_crc32c(p, n);
        size_t cut = n ? rng() % (n + 1) : 0;
        bad += erc_crc32c(erc_crc32c(0, p, cut), p + cut, n - cut) != ref_crc32c(p, n);
    }
    CHECK(bad == 0);
}

/* Stripe verify clears exactly the bits of bad or missing blocks. */
static void test_stripe_verify(void)
{
    unsigned char b[4][64];
    uint32_t sums[4];
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 64; j++)
            b[i][j] = (unsigned char)rng();
        sums[i] = erc_block_checksum(b[i], 64);
    }
    const unsigned char *blocks[4] = {b[0], b[1], NULL, b[3]};
    b[1][63] ^= 1;
    uint32_t present = 0xF;
    CHECK(erc_stripe_verify(blocks, 4, 64, sums, &present) == 2);
    CHECK(present == 0x9);
    present = 0x1;
    CHECK(erc_stripe_verify(blocks, 4, 64, sums, &present) == 0 && present == 0x1);
}

int main(void)
{
    test_seed("test_crc");
    test_check_values();
    test_against_reference();
    test_stripe_verify();
    TEST_EXIT_SEEDED("test_crc");
}
