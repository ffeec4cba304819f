/*
 * Unit tests for erasure/rs.c: isa-l encoding against a plain-C GF(2^8)
 * reference, every loss pattern of up to m shards for 2+1, 4+2 and 8+4,
 * every (k, m) the coder accepts, odd block lengths with each shard in its
 * own exactly-sized allocation (so ASan sees any overrun), and bitrot
 * found by the block checksums and decoded around.
 * TARN_SEED=<n> repeats a run; the seed is printed first.
 */
#include "erasure/erasure.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tests/unit/check.h"


static void fill_random(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)rng();
}

/* ---- Reference GF(2^8), polynomial x^8+x^4+x^3+x^2+1 (0x11D) ---------- */

static unsigned char ref_mul(unsigned char a, unsigned char b)
{
    unsigned p = 0, x = a;
    for (int i = 0; i < 8; i++) {
        if (b & (1u << i))
            p ^= x;
        x <<= 1;
        if (x & 0x100)
            x ^= 0x11D;
    }
    return (unsigned char)p;
}

static unsigned char ref_inv(unsigned char a)
{
    for (unsigned b = 1; b < 256; b++)
        if (ref_mul(a, (unsigned char)b) == 1)
            return (unsigned char)b;
    return 0;
}

/* Parity row r (0..m-1), column j of the Cauchy code: 1 / ((k + r) ^ j). */
static unsigned char ref_coef(int k, int r, int j)
{
    return ref_inv((unsigned char)((k + r) ^ j));
}

static void ref_encode(int k, int m, unsigned char **data, unsigned char **parity,
                       size_t len)
{
    for (int r = 0; r < m; r++)
        for (size_t b = 0; b < len; b++) {
            unsigned char acc = 0;
            for (int j = 0; j < k; j++)
                acc ^= ref_mul(ref_coef(k, r, j), data[j][b]);
            parity[r][b] = acc;
        }
}

/* ---- A stripe whose shards each sit in an exactly-sized allocation ---- */

typedef struct stripe {
    int n;
    size_t len;
    unsigned char *sh[ERC_MAX_SHARDS];   /* working copy */
    unsigned char *orig[ERC_MAX_SHARDS]; /* encoded originals */
} stripe;

static void stripe_alloc(stripe *s, int n, size_t len)
{
    s->n = n;
    s->len = len;
    for (int i = 0; i < n; i++) {
        s->sh[i] = malloc(len);
        s->orig[i] = malloc(len);
    }
}

static void stripe_free(stripe *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->sh[i]);
        free(s->orig[i]);
    }
}

/* Random data, encoded with the coder, checked against the reference. */
static void stripe_encode(stripe *s, erc_coder *c)
{
    int k = erc_coder_k(c), m = erc_coder_m(c);
    for (int i = 0; i < k; i++)
        fill_random(s->orig[i], s->len);
    CHECK(erc_encode(c, (const unsigned char *const *)s->orig, s->orig + k, s->len) == 0);
    unsigned char *ref[ERC_MAX_SHARDS];
    for (int r = 0; r < m; r++)
        ref[r] = malloc(s->len);
    ref_encode(k, m, s->orig, ref, s->len);
    for (int r = 0; r < m; r++) {
        CHECK(memcmp(ref[r], s->orig[k + r], s->len) == 0);
        free(ref[r]);
    }
}

/* Lose the shards in lost (fill them with junk), decode, compare all. */
static int lose_and_decode(stripe *s, erc_coder *c, uint32_t lost)
{
    for (int i = 0; i < s->n; i++) {
        memcpy(s->sh[i], s->orig[i], s->len);
        if (lost & (1u << i))
            memset(s->sh[i], 0xA5, s->len);
    }
    uint32_t all = (1u << s->n) - 1;
    int rc = erc_decode(c, s->sh, all & ~lost, s->len);
    if (rc != 0)
        return rc;
    for (int i = 0; i < s->n; i++)
        if (memcmp(s->sh[i], s->orig[i], s->len) != 0)
            return -1;
    return 0;
}

/* Every pattern of 1..m lost shards decodes bit-exactly, at each length. */
static void test_all_patterns(int k, int m)
{
    static const size_t lens[] = {1, 2, 15, 16, 31, 63, 64, 65, 127, 4096, 4096 + 65};
    erc_coder *c;
    CHECK(erc_coder_create(k, m, &c) == 0);
    int n = k + m, patterns = 0, bad = 0;
    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        stripe s;
        stripe_alloc(&s, n, lens[li]);
        /* Twice, with new data, so cached decode tables are reused. */
        for (int round = 0; round < 2; round++) {
            stripe_encode(&s, c);
            for (uint32_t lost = 1; lost < (1u << n); lost++) {
                if (__builtin_popcount(lost) > m)
                    continue;
                patterns++;
                if (lose_and_decode(&s, c, lost) != 0) {
                    if (bad++ < 5)
                        fprintf(stderr, "%d+%d len %zu lost 0x%x: bad decode\n", k, m,
                                lens[li], lost);
                }
            }
        }
        stripe_free(&s);
    }
    CHECK(bad == 0);
    printf("  %d+%d: %d loss patterns decoded\n", k, m, patterns);
    erc_coder_destroy(c);
}

/* Every valid (k, m): reference encode, and a random loss of m shards. */
static void test_every_coding(void)
{
    int codings = 0;
    for (int k = 1; k < ERC_MAX_SHARDS; k++)
        for (int m = 1; m <= k && k + m <= ERC_MAX_SHARDS; m++) {
            erc_coder *c;
            CHECK(erc_coder_create(k, m, &c) == 0);
            stripe s;
            stripe_alloc(&s, k + m, 1 + rng() % 300);
            stripe_encode(&s, c);
            for (int t = 0; t < 20; t++) {
                uint32_t lost = 0;
                while (__builtin_popcount(lost) < m)
                    lost |= 1u << (rng() % (uint64_t)(k + m));
                CHECK(lose_and_decode(&s, c, lost) == 0);
            }
            stripe_free(&s);
            erc_coder_destroy(c);
            codings++;
        }
    printf("  %d codings checked\n", codings);
}

static void test_decode_some_and_errors(void)
{
    erc_coder *c;
    CHECK(erc_coder_create(4, 2, &c) == 0);
    stripe s;
    stripe_alloc(&s, 6, 65);
    stripe_encode(&s, c);
    /* Lose data 1 and parity 0; rebuild only data 1 (parity 0 stays NULL). */
    for (int i = 0; i < 6; i++)
        memcpy(s.sh[i], s.orig[i], 65);
    memset(s.sh[1], 0, 65);
    unsigned char *v[6];
    memcpy(v, s.sh, sizeof(v));
    v[4] = NULL;
    CHECK(erc_decode_some(c, v, 0x2D, 0x02, 65) == 0);
    CHECK(memcmp(s.sh[1], s.orig[1], 65) == 0);
    CHECK(erc_decode_some(c, v, 0x2D, 0x00, 65) == 0);
    /* A wanted or source shard that is NULL, overlapping masks, bad bits. */
    CHECK(erc_decode_some(c, v, 0x2D, 0x10, 65) == TARN_E_INVAL);
    CHECK(erc_decode_some(c, s.sh, 0x2D, 0x03, 65) == TARN_E_INVAL);
    CHECK(erc_decode_some(c, s.sh, 0x40 | 0x2D, 0x02, 65) == TARN_E_INVAL);
    CHECK(erc_decode(c, s.sh, 0x3F, 0) == TARN_E_INVAL);
    /* Three lost of 4+2: too few left. */
    CHECK(erc_decode(c, s.sh, 0x38, 65) == TARN_E_CORRUPT);
    CHECK(erc_decode(c, s.sh, 0x3F, 65) == 0); /* nothing to do */
    CHECK(erc_encode(c, NULL, s.sh + 4, 65) == TARN_E_INVAL);
    CHECK(erc_encode(c, (const unsigned char *const *)s.sh, s.sh + 4, 0) == TARN_E_INVAL);
    stripe_free(&s);
    erc_coder_destroy(c);

    erc_coder *bad = (erc_coder *)1;
    CHECK(erc_coder_create(0, 0, &bad) == TARN_E_INVAL && bad == NULL);
    CHECK(erc_coder_create(2, 3, &bad) == TARN_E_INVAL);  /* m > k */
    CHECK(erc_coder_create(12, 5, &bad) == TARN_E_INVAL); /* k + m > 16 */
    CHECK(erc_coder_create(4, 0, &bad) == TARN_E_INVAL);
    CHECK(erc_params_valid(8, 8) && erc_params_valid(15, 1) && !erc_params_valid(9, 8));
    erc_coder_destroy(NULL);
}

/* A flipped byte in any block of any shard is caught by its checksum, and
 * the stripe decodes around it. */
static void test_bitrot(void)
{
    const size_t len = 4096;
    erc_coder *c;
    CHECK(erc_coder_create(4, 2, &c) == 0);
    stripe s;
    stripe_alloc(&s, 6, len);
    stripe_encode(&s, c);
    uint32_t sums[6];
    for (int i = 0; i < 6; i++)
        sums[i] = erc_block_checksum(s.orig[i], len);
    for (int bad = 0; bad < 6; bad++) {
        for (int i = 0; i < 6; i++)
            memcpy(s.sh[i], s.orig[i], len);
        size_t at = rng() % len;
        s.sh[bad][at] ^= (unsigned char)(1u << (rng() % 8));
        CHECK(erc_block_verify(s.sh[bad], len, sums[bad]) == TARN_E_CORRUPT);
        uint32_t present = 0x3F;
        CHECK(erc_stripe_verify((const unsigned char *const *)s.sh, 6, len, sums,
                                &present) == 1);
        CHECK(present == (0x3Fu & ~(1u << bad)));
        CHECK(erc_decode(c, s.sh, present, len) == 0);
        for (int i = 0; i < 6; i++)
            CHECK(memcmp(s.sh[i], s.orig[i], len) == 0);
        CHECK(erc_block_verify(s.sh[bad], len, sums[bad]) == 0);
    }
    /* A NULL block counts as bad; blocks already absent are left alone. */
    const unsigned char *blocks[6];
    for (int i = 0; i < 6; i++)
        blocks[i] = s.orig[i];
    blocks[2] = NULL;
    uint32_t present = 0x3E;
    CHECK(erc_stripe_verify(blocks, 6, len, sums, &present) == 1 && present == 0x3A);
    stripe_free(&s);
    erc_coder_destroy(c);
}

int main(void)
{
    test_seed("test_rs");
    test_all_patterns(2, 1);
    test_all_patterns(4, 2);
    test_all_patterns(8, 4);
    test_every_coding();
    test_decode_some_and_errors();
    test_bitrot();
    TEST_EXIT_SEEDED("test_rs");
}
