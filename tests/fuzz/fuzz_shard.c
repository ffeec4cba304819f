/*
 * fuzz_shard.c — the shard file header (erasure/shard.c), read back from
 * disk where bit rot or a truncated write may have mangled it:
 * erc_shard_header_peek and erc_shard_header_decode. On success the
 * decoded names, meta and CRC table must lie inside the buffer, and
 * encoding the result must give back the very bytes read (a decode that
 * accepts what encode would never write is a bug).
 *
 * Input: flag byte, then the header bytes. Both CRCs make random bytes
 * fail before the fields are looked at, so with flag & 1 the harness
 * first rewrites them (docs/erasure.md: CRC32C of bytes 0..59 at 60, and
 * of the content but its last 4 bytes at content_len - 4): the fuzzer then
 * reaches the range and consistency checks behind them.
 */
#include <stdlib.h>

#include "erasure/erasure.h"
#include "tests/fuzz/fuzz.h"

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void crcs_fix(unsigned char *p, size_t n)
{
    if (n < ERC_SHARD_FIXED_LEN)
        return;
    uint32_t cl = get_le32(p + 16);
    if (cl >= ERC_SHARD_FIXED_LEN + 4 && cl <= n)
        put_le32(p + cl - 4, erc_crc32c(0, p, cl - 4));
    put_le32(p + 60, erc_crc32c(0, p, 60));
}

static int inside(const void *p, size_t n, const unsigned char *buf, size_t len)
{
    const unsigned char *q = p;
    return q >= buf && q <= buf + len && n <= (size_t)(buf + len - q);
}

static void check(const unsigned char *buf, size_t len, const erc_shard_header *h)
{
    if (h->content_len > len || h->header_len < h->content_len || h->header_len % 4096 ||
        h->k == 0 || h->k + h->m > ERC_MAX_SHARDS || h->index >= h->k + h->m ||
        !inside(h->bucket, h->bucket_len, buf, len) || !inside(h->key, h->key_len, buf, len) ||
        !inside(h->version_id, h->version_id_len, buf, len) ||
        !inside(h->meta, h->meta_len, buf, len) ||
        !inside(h->crc_table, 4 * h->stripes, buf, len))
        __builtin_trap(); /* decode accepted an impossible header */
    for (uint64_t s = 0; s < h->stripes; s++)
        fz_sink += erc_crc_table_get(h->crc_table, s);
    unsigned char *again = malloc(h->header_len);
    size_t n;
    if (!again || erc_shard_header_encode(h, again, h->header_len, &n) != 0 ||
        n != h->header_len || memcmp(again, buf, h->content_len) != 0)
        __builtin_trap(); /* decoded, but encode writes something else */
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    uint8_t flag = fz_u8(&f);
    unsigned char *buf = malloc(f.n ? f.n : 1); /* exact size: ASan sees overreads */
    if (!buf)
        return 0;
    memcpy(buf, f.p, f.n);
    if (flag & 1)
        crcs_fix(buf, f.n);
    uint32_t hl, cl;
    erc_shard_header h;
    int peek = erc_shard_header_peek(buf, f.n, &hl, &cl);
    if (erc_shard_header_decode(buf, f.n, &h) == 0) {
        if (peek != 0 || hl != h.header_len || cl != h.content_len)
            __builtin_trap(); /* peek and decode disagree */
        check(buf, f.n, &h);
    }
    free(buf);
    return 0;
}
