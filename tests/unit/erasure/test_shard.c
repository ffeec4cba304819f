/*
 * Unit tests for erasure/shard.c: layout helpers at their boundaries, the
 * shard header round trip, and malformed headers: cut at every length,
 * every byte flipped, fields changed with the checksums made valid again,
 * random junk. Each parsed input sits in an exactly-sized allocation so
 * ASan sees any read past it. TARN_SEED=<n> repeats a run.
 */
#include "erasure/erasure.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tests/unit/check.h"


#define KIB 1024ull
#define MIB (1024ull * 1024)

/* ---- Layout -------------------------------------------------------------- */

static void test_layout_sizes(void)
{
    erc_layout l;
    const uint64_t B = MIB, SS = 4 * MIB;
    CHECK(erc_layout_init(&l, 4, 2, (uint32_t)B, 0) == 0);
    CHECK(l.stripes == 0 && l.last_stripe_bytes == 0 && l.last_block_len == 0);
    CHECK(erc_layout_shard_file_size(&l, 4096) == 4096);
    CHECK(erc_layout_block_len(&l, 0) == 0 && erc_layout_stripe_data(&l, 0) == 0);

    CHECK(erc_layout_init(&l, 4, 2, (uint32_t)B, 1) == 0);
    CHECK(l.stripe_size == SS && l.stripes == 1 && l.last_stripe_bytes == 1);
    CHECK(l.last_block_len == 4096);
    CHECK(erc_layout_shard_file_size(&l, 4096) == 8192);

    /* 4 data shards × 4096: exactly 16 KiB fits one aligned unit each. */
    CHECK(erc_layout_init(&l, 4, 2, (uint32_t)B, 16 * KIB) == 0);
    CHECK(l.last_block_len == 4096);
    CHECK(erc_layout_init(&l, 4, 2, (uint32_t)B, 16 * KIB + 1) == 0);
    CHECK(l.last_block_len == 8192);

    CHECK(erc_layout_init(&l, 4, 2, (uint32_t)B, SS - 1) == 0);
    CHECK(l.stripes == 1 && l.last_stripe_bytes == SS - 1 && l.last_block_len == B);
    CHECK(erc_layout_init(&l, 4, 2, (uint32_t)B, SS) == 0);
    CHECK(l.stripes == 1 && l.last_stripe_bytes == SS && l.last_block_len == B);
    CHECK(erc_layout_init(&l, 4, 2, (uint32_t)B, SS + 1) == 0);
    CHECK(l.stripes == 2 && l.last_stripe_bytes == 1 && l.last_block_len == 4096);
    CHECK(erc_layout_block_len(&l, 0) == B && erc_layout_block_len(&l, 1) == 4096);
    CHECK(erc_layout_stripe_data(&l, 0) == SS && erc_layout_stripe_data(&l, 1) == 1);
    CHECK(erc_layout_block_offset(&l, 8192, 0) == 8192);
    CHECK(erc_layout_block_offset(&l, 8192, 1) == 8192 + B);
    CHECK(erc_layout_shard_file_size(&l, 8192) == 8192 + B + 4096);

    /* 5 TiB with 8+4 and 1 MiB blocks: a whole number of stripes; then
     * a few bytes more. */
    uint64_t big = 5 * KIB * KIB * MIB;
    CHECK(erc_layout_init(&l, 8, 4, (uint32_t)B, big) == 0);
    CHECK(l.stripes == big / (8 * B) && l.last_stripe_bytes == 8 * B);
    CHECK(l.last_block_len == B);
    CHECK(erc_layout_init(&l, 8, 4, (uint32_t)B, big + 12345) == 0);
    CHECK(l.stripes == big / (8 * B) + 1 && l.last_stripe_bytes == 12345);
    CHECK(l.last_block_len == 4096);
    CHECK(erc_layout_shard_file_size(&l, 4096) == 4096 + (l.stripes - 1) * B + 4096);

    CHECK(erc_layout_init(&l, 4, 2, 4095, 10) == TARN_E_INVAL);
    CHECK(erc_layout_init(&l, 4, 2, 4096 + 64, 10) == TARN_E_INVAL);
    CHECK(erc_layout_init(&l, 4, 2, ERC_BLOCK_MAX + 4096, 10) == TARN_E_INVAL);
    CHECK(erc_layout_init(&l, 4, 5, 4096, 10) == TARN_E_INVAL);
    CHECK(erc_layout_init(&l, 1, 1, ERC_BLOCK_MAX, 10) == 0);
}

/* Every object byte maps to exactly one (stripe, shard, offset), in order,
 * and locate agrees with range and with the per-stripe sizes. */
static void test_layout_locate(void)
{
    const uint64_t sizes[] = {1, 4095, 4096, 4097, 3 * 4096 - 1, 3 * 4096, 3 * 4096 + 1,
                              7 * 4096 + 5, 9 * 4096 + 1};
    for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
        erc_layout l;
        CHECK(erc_layout_init(&l, 3, 2, 8192, sizes[t]) == 0);
        uint64_t prev_s = 0;
        int prev_j = 0;
        uint32_t prev_o = 0;
        for (uint64_t off = 0; off < sizes[t]; off++) {
            uint64_t s, first, last;
            int j;
            uint32_t o;
            CHECK(erc_layout_locate(&l, off, &s, &j, &o) == 0);
            uint32_t len = erc_layout_block_len(&l, s);
            CHECK(j >= 0 && j < 3 && o < len);
            CHECK(s * l.stripe_size + (uint64_t)j * len + o == off);
            if (off > 0) /* strictly increasing (stripe, shard, offset) */
                CHECK(s > prev_s || (s == prev_s && (j > prev_j || (j == prev_j && o > prev_o))));
            CHECK(erc_layout_range(&l, off, off, &first, &last) == 0 && first == s && last == s);
            prev_s = s, prev_j = j, prev_o = o;
        }
        uint64_t s, first, last;
        int j;
        uint32_t o;
        CHECK(erc_layout_locate(&l, sizes[t], &s, &j, &o) == TARN_E_INVAL);
        CHECK(erc_layout_range(&l, 0, sizes[t] - 1, &first, &last) == 0);
        CHECK(first == 0 && last == l.stripes - 1);
        CHECK(erc_layout_range(&l, 0, sizes[t], &first, &last) == TARN_E_INVAL);
        if (sizes[t] > 1)
            CHECK(erc_layout_range(&l, 1, 0, &first, &last) == TARN_E_INVAL);
        /* The last stripe's blocks hold its bytes, with less than one unit spare. */
        CHECK((uint64_t)l.last_block_len * 3 >= l.last_stripe_bytes);
        CHECK(l.last_block_len % ERC_BLOCK_ALIGN == 0 &&
              ((uint64_t)l.last_block_len - 4096) * 3 < l.last_stripe_bytes);
    }
    erc_layout l;
    uint64_t first, last;
    CHECK(erc_layout_init(&l, 4, 2, (uint32_t)MIB, 10 * MIB) == 0);
    CHECK(erc_layout_range(&l, 4 * MIB - 1, 4 * MIB, &first, &last) == 0);
    CHECK(first == 0 && last == 1);
    CHECK(erc_layout_range(&l, 4 * MIB, 8 * MIB - 1, &first, &last) == 0);
    CHECK(first == 1 && last == 1);
    CHECK(erc_layout_range(&l, 0, 0, &first, &last) == 0 && first == 0 && last == 0);
}

/* ---- Header -------------------------------------------------------------- */

static unsigned char crc_table[4 * 64];

/* A valid header description: 4+2, shard 5, three stripes. */
static erc_shard_header sample(void)
{
    erc_shard_header h;
    memset(&h, 0, sizeof(h));
    h.k = 4, h.m = 2, h.index = 5;
    h.block_size = 4096;
    h.object_size = 2 * 4 * 4096 + 100;
    h.stripes = 3;
    h.part_number = 7;
    h.bucket = "photos", h.bucket_len = 6;
    h.key = "2024/holiday/beach.jpg", h.key_len = strlen(h.key);
    h.version_id = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", h.version_id_len = strlen(h.version_id);
    h.meta = (const unsigned char *)"\x01\x02\x00meta", h.meta_len = 7;
    for (uint64_t s = 0; s < 64; s++)
        erc_crc_table_put(crc_table, s, (uint32_t)rng());
    h.crc_table = crc_table;
    return h;
}

static int same_header(const erc_shard_header *a, const erc_shard_header *b)
{
    return a->k == b->k && a->m == b->m && a->index == b->index &&
           a->block_size == b->block_size && a->object_size == b->object_size &&
           a->stripes == b->stripes && a->part_number == b->part_number &&
           a->bucket_len == b->bucket_len && !memcmp(a->bucket, b->bucket, a->bucket_len) &&
           a->key_len == b->key_len && !memcmp(a->key, b->key, a->key_len) &&
           a->version_id_len == b->version_id_len &&
           !memcmp(a->version_id, b->version_id, a->version_id_len) &&
           a->meta_len == b->meta_len && !memcmp(a->meta, b->meta, a->meta_len) &&
           !memcmp(a->crc_table, b->crc_table, 4 * a->stripes);
}

/* Decode buf[0..len) from an exactly-sized heap copy (for ASan). */
static int decode_copy(const unsigned char *buf, size_t len, erc_shard_header *h,
                       unsigned char **keep)
{
    unsigned char *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    int rc = erc_shard_header_decode(copy, len, h);
    if (keep)
        *keep = copy;
    else
        free(copy);
    return rc;
}

static void test_header_roundtrip(void)
{
    erc_shard_header h = sample(), d;
    uint32_t hl = erc_shard_header_len(h.bucket_len, h.key_len, h.version_id_len,
                                       h.meta_len, h.stripes);
    CHECK(hl == 4096);
    unsigned char *buf = malloc(hl);
    size_t n = 0;
    CHECK(erc_shard_header_encode(&h, buf, hl, &n) == 0 && n == hl);
    CHECK(memcmp(buf, "TARNSHRD", 8) == 0);
    uint32_t peek_hl, peek_cl;
    CHECK(erc_shard_header_peek(buf, ERC_SHARD_FIXED_LEN, &peek_hl, &peek_cl) == 0);
    CHECK(peek_hl == hl && peek_cl == 64 + 6 + h.key_len + h.version_id_len + 7 + 12 + 4);
    CHECK(erc_shard_header_decode(buf, peek_cl, &d) == 0); /* padding not needed */
    CHECK(same_header(&h, &d) && d.header_len == hl && d.content_len == peek_cl);
    CHECK(d.format_version == ERC_SHARD_VERSION);
    CHECK(erc_crc_table_get(d.crc_table, 2) == erc_crc_table_get(crc_table, 2));
    for (uint32_t i = peek_cl; i < hl; i++)
        CHECK(buf[i] == 0);
    CHECK(erc_shard_header_encode(&h, buf, hl - 1, &n) == TARN_E_INVAL);
    free(buf);

    /* Extremes: 1-byte bucket, 1024-byte key, no version id, no meta,
     * zero stripes; then one that spills past 4096. */
    static char key[ERC_KEY_MAX];
    memset(key, 'k', sizeof(key));
    h.bucket_len = 1, h.key = key, h.key_len = ERC_KEY_MAX;
    h.version_id = NULL, h.version_id_len = 0, h.meta = NULL, h.meta_len = 0;
    h.object_size = 0, h.stripes = 0, h.crc_table = NULL, h.index = 0;
    unsigned char big[3 * 4096];
    CHECK(erc_shard_header_encode(&h, big, sizeof(big), &n) == 0 && n == 4096);
    CHECK(decode_copy(big, n, &d, NULL) == 0);
    static unsigned char meta[4096];
    h.meta = meta, h.meta_len = sizeof(meta);
    h.version_id = key, h.version_id_len = 255;
    h.object_size = 64 * 4 * 4096, h.stripes = 64, h.crc_table = crc_table;
    CHECK(erc_shard_header_encode(&h, big, sizeof(big), &n) == 0 && n == 8192);
    unsigned char *kept;
    CHECK(decode_copy(big, n, &d, &kept) == 0 && same_header(&h, &d));
    free(kept);
}

/* Fields out of range or inconsistent are refused by encode. */
static void test_header_encode_invalid(void)
{
    unsigned char buf[8192];
    erc_shard_header h;
#define BAD(stmt)                                                    \
    do {                                                             \
        h = sample();                                                \
        stmt;                                                        \
        CHECK(erc_shard_header_encode(&h, buf, sizeof(buf), NULL) == TARN_E_INVAL); \
    } while (0)
    BAD(h.k = 0);
    BAD(h.m = 0);
    BAD(h.m = 5);
    BAD((h.k = 12, h.m = 5));
    BAD(h.index = 6);
    BAD(h.block_size = 1000);
    BAD(h.stripes = 4);
    BAD(h.object_size = 4 * 4096 * 3 + 1);
    BAD(h.bucket_len = 0);
    BAD(h.bucket_len = 64);
    BAD(h.key_len = 0);
    BAD(h.key_len = 1025);
    BAD(h.version_id_len = 256);
    BAD(h.meta_len = ERC_META_MAX + 1);
    BAD(h.part_number = 10001);
    BAD(h.bucket = NULL);
    BAD(h.crc_table = NULL);
#undef BAD
    h = sample();
    CHECK(erc_shard_header_encode(&h, buf, sizeof(buf), NULL) == 0);
    /* 1 + 1 coding over 4 KiB blocks: a 5 TiB object needs too big a table. */
    CHECK(erc_shard_header_len(1, 1, 0, 0, ERC_HEADER_MAX / 4) == 0);
}

/* Cut at every length, every byte flipped: refused or (padding) identical. */
static void test_header_truncate_flip(void)
{
    erc_shard_header h = sample(), d;
    unsigned char buf[4096];
    size_t n;
    CHECK(erc_shard_header_encode(&h, buf, sizeof(buf), &n) == 0);
    uint32_t cl;
    CHECK(erc_shard_header_peek(buf, n, NULL, &cl) == 0);
    int bad = 0;
    for (size_t len = 0; len < n; len++) {
        int rc = decode_copy(buf, len, &d, NULL);
        bad += len < cl ? rc != TARN_E_CORRUPT : rc != 0;
        unsigned char *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        rc = erc_shard_header_peek(copy, len, NULL, NULL);
        bad += len < ERC_SHARD_FIXED_LEN ? rc != TARN_E_CORRUPT : rc != 0;
        free(copy);
    }
    static const unsigned char flips[] = {0x01, 0x80, 0xFF, 0x10};
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < sizeof(flips); f++) {
            buf[i] ^= flips[f];
            unsigned char *kept;
            int rc = decode_copy(buf, n, &d, &kept);
            if (i < cl)
                bad += rc != TARN_E_CORRUPT;
            else
                bad += rc != 0 || !same_header(&h, &d);
            free(kept);
            buf[i] ^= flips[f];
        }
    CHECK(bad == 0);
    CHECK(erc_shard_header_decode(NULL, 100, &d) == TARN_E_CORRUPT);
    CHECK(erc_shard_header_peek(NULL, 100, NULL, NULL) == TARN_E_CORRUPT);
}

/* Rewrite the prefix checksum and the header checksum after a change, so
 * the semantic checks (not the CRCs) must refuse it. */
static void reseal(unsigned char *buf, size_t cl)
{
    uint32_t c = erc_crc32c(0, buf, 60);
    for (int i = 0; i < 4; i++)
        buf[60 + i] = (unsigned char)(c >> (8 * i));
    if (cl >= 68 && cl <= 4096) {
        c = erc_crc32c(0, buf, cl - 4);
        for (int i = 0; i < 4; i++)
            buf[cl - 4 + i] = (unsigned char)(c >> (8 * i));
    }
}

static void put(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static void test_header_semantic(void)
{
    erc_shard_header h = sample(), d;
    unsigned char good[4096], buf[4096];
    size_t n;
    CHECK(erc_shard_header_encode(&h, good, sizeof(good), &n) == 0);
    uint32_t cl;
    CHECK(erc_shard_header_peek(good, n, NULL, &cl) == 0);
    memcpy(buf, good, n);
    reseal(buf, cl);
    CHECK(memcmp(buf, good, n) == 0 && decode_copy(buf, n, &d, NULL) == 0);
    /* {offset, width, value}: each must be refused. */
    static const struct { int off, w; uint64_t v; } cases[] = {
        {8, 2, 2},          {10, 2, 1},       {12, 4, 8192},    {16, 4, 4000},
        {20, 1, 0},         {21, 1, 0},       {21, 1, 5},       {20, 1, 15},
        {22, 1, 6},         {22, 1, 255},     {23, 1, 2},       {24, 4, 1000},
        {24, 4, 0},         {24, 4, 1u << 30}, {28, 4, 10001},  {32, 8, 3 * 16384 + 1},
        {32, 8, 0},         {32, 8, ~0ull},   {40, 8, 2},       {40, 8, ~0ull},
        {40, 8, 1ull << 40}, {48, 2, 0},      {48, 2, 64},      {48, 2, 7},
        {50, 2, 0},         {50, 2, 1025},    {52, 2, 256},     {52, 2, 0},
        {54, 2, 1},         {56, 4, 65537},   {56, 4, 0},       {56, 4, ~0u},
    };
    int bad = 0;
    for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
        memcpy(buf, good, n);
        put(buf + cases[t].off, cases[t].v, cases[t].w);
        reseal(buf, cl);
        if (decode_copy(buf, n, &d, NULL) != TARN_E_CORRUPT) {
            fprintf(stderr, "case %zu (off %d) accepted\n", t, cases[t].off);
            bad++;
        }
    }
    CHECK(bad == 0);
}

/* Random junk, with a valid magic and resealed prefix half of the time:
 * never a crash, never an accepted header whose fields break the rules. */
static void test_header_junk(void)
{
    unsigned char buf[4096];
    int accepted = 0;
    for (int t = 0; t < 20000; t++) {
        size_t len = rng() % sizeof(buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)rng();
        if ((t & 1) && len >= 64) {
            memcpy(buf, "TARNSHRD", 8);
            reseal(buf, 0);
        }
        erc_shard_header d;
        if (decode_copy(buf, len, &d, NULL) == 0) {
            accepted++;
            CHECK(erc_params_valid(d.k, d.m) && d.index < d.k + d.m);
        }
    }
    CHECK(accepted == 0); /* a random 32-bit header CRC never matches here */
}

int main(void)
{
    test_seed("test_shard");
    test_layout_sizes();
    test_layout_locate();
    test_header_roundtrip();
    test_header_encode_invalid();
    test_header_truncate_flip();
    test_header_semantic();
    test_header_junk();
    TEST_EXIT_SEEDED("test_shard");
}
