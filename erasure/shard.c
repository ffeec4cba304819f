/*
 * shard.c — the layout math and the shard file header.
 *
 * The header is written once, after all the shard's blocks (their CRCs go
 * in its table), into space reserved at offset 0; every size in it is
 * known before the first block because S3 uploads declare their length.
 * Fields are fixed-width little-endian, read and written byte by byte so
 * the code neither depends on host order nor on alignment. The fixed
 * 64-byte prefix has its own CRC32C so a reader can trust the lengths in
 * it before reading (and allocating for) the rest. Byte layout:
 * docs/erasure.md.
 */
#include "erasure.h"

#include <string.h>

#define CSUM_ALGO_CRC32C 1
#define PART_NUMBER_MAX 10000

/* ---- Layout ---------------------------------------------------------------- */

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

int erc_layout_init(erc_layout *l, int k, int m, uint32_t block_size, uint64_t object_size)
{
    if (!l || !erc_params_valid(k, m) || block_size < ERC_BLOCK_MIN ||
        block_size > ERC_BLOCK_MAX || block_size % ERC_BLOCK_ALIGN != 0)
        return TARN_E_INVAL;
    memset(l, 0, sizeof(*l));
    l->k = k;
    l->m = m;
    l->block_size = block_size;
    l->object_size = object_size;
    l->stripe_size = (uint64_t)k * block_size;
    l->stripes = object_size / l->stripe_size + (object_size % l->stripe_size != 0);
    if (l->stripes == 0)
        return 0;
    l->last_stripe_bytes = object_size - (l->stripes - 1) * l->stripe_size;
    /* Short last stripe: shrink its blocks, but keep them O_DIRECT-sized.
     * ceil(last / k) <= B and B is a multiple of the alignment. */
    uint64_t per_shard = (l->last_stripe_bytes + (uint64_t)k - 1) / (uint64_t)k;
    l->last_block_len = (uint32_t)round_up(per_shard, ERC_BLOCK_ALIGN);
    return 0;
}

uint32_t erc_layout_block_len(const erc_layout *l, uint64_t s)
{
    if (s >= l->stripes)
        return 0;
    return s + 1 == l->stripes ? l->last_block_len : l->block_size;
}

uint64_t erc_layout_stripe_data(const erc_layout *l, uint64_t s)
{
    if (s >= l->stripes)
        return 0;
    return s + 1 == l->stripes ? l->last_stripe_bytes : l->stripe_size;
}

uint64_t erc_layout_block_offset(const erc_layout *l, uint32_t header_len, uint64_t s)
{
    return (uint64_t)header_len + s * l->block_size;
}

uint64_t erc_layout_shard_file_size(const erc_layout *l, uint32_t header_len)
{
    if (l->stripes == 0)
        return header_len;
    return erc_layout_block_offset(l, header_len, l->stripes - 1) + l->last_block_len;
}

int erc_layout_range(const erc_layout *l, uint64_t a, uint64_t b, uint64_t *first,
                     uint64_t *last)
{
    if (a > b || b >= l->object_size)
        return TARN_E_INVAL;
    *first = a / l->stripe_size;
    *last = b / l->stripe_size;
    return 0;
}

int erc_layout_locate(const erc_layout *l, uint64_t off, uint64_t *stripe, int *shard,
                      uint32_t *block_off)
{
    if (off >= l->object_size)
        return TARN_E_INVAL;
    uint64_t s = off / l->stripe_size, r = off % l->stripe_size;
    uint32_t len = erc_layout_block_len(l, s);
    *stripe = s;
    *shard = (int)(r / len);
    *block_off = (uint32_t)(r % len);
    return 0;
}

/* ---- Little-endian fields ------------------------------------------------------ */

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint32_t erc_crc_table_get(const unsigned char *table, uint64_t s)
{
    return (uint32_t)get_le(table + 4 * s, 4);
}

void erc_crc_table_put(unsigned char *table, uint64_t s, uint32_t crc)
{
    put_le(table + 4 * s, crc, 4);
}

/* ---- Header ---------------------------------------------------------------------- */

/* Offsets in the fixed prefix. */
enum {
    OFF_MAGIC = 0, OFF_VERSION = 8, OFF_FLAGS = 10, OFF_HEADER_LEN = 12,
    OFF_CONTENT_LEN = 16, OFF_K = 20, OFF_M = 21, OFF_INDEX = 22, OFF_ALGO = 23,
    OFF_BLOCK_SIZE = 24, OFF_PART = 28, OFF_OBJECT_SIZE = 32, OFF_STRIPES = 40,
    OFF_BUCKET_LEN = 48, OFF_KEY_LEN = 50, OFF_VID_LEN = 52, OFF_RESERVED = 54,
    OFF_META_LEN = 56, OFF_PREFIX_CRC = 60,
};

/* Bytes before the padding: prefix, names, meta, CRC table, header CRC.
 * 0 when a length is out of range. */
static uint64_t content_len_of(size_t bucket_len, size_t key_len, size_t vid_len,
                               size_t meta_len, uint64_t stripes)
{
    if (bucket_len < 1 || bucket_len > ERC_BUCKET_MAX || key_len < 1 ||
        key_len > ERC_KEY_MAX || vid_len > ERC_VERSION_ID_MAX || meta_len > ERC_META_MAX ||
        stripes > ERC_HEADER_MAX / 4)
        return 0;
    return ERC_SHARD_FIXED_LEN + bucket_len + key_len + vid_len + meta_len + 4 * stripes + 4;
}

uint32_t erc_shard_header_len(size_t bucket_len, size_t key_len, size_t version_id_len,
                              size_t meta_len, uint64_t stripes)
{
    uint64_t c = content_len_of(bucket_len, key_len, version_id_len, meta_len, stripes);
    if (c == 0 || round_up(c, ERC_BLOCK_ALIGN) > ERC_HEADER_MAX)
        return 0;
    return (uint32_t)round_up(c, ERC_BLOCK_ALIGN);
}

/* The coding and size fields agree with each other (shared by encode and
 * decode, so what one writes the other accepts). */
static int fields_ok(const erc_shard_header *h)
{
    erc_layout l;
    if (erc_layout_init(&l, h->k, h->m, h->block_size, h->object_size) != 0)
        return 0;
    return h->index < h->k + h->m && h->part_number <= PART_NUMBER_MAX &&
           l.stripes == h->stripes &&
           erc_shard_header_len(h->bucket_len, h->key_len, h->version_id_len, h->meta_len,
                                h->stripes) != 0;
}

int erc_shard_header_encode(const erc_shard_header *h, void *buf, size_t cap,
                            size_t *out_len)
{
    if (!h || !buf || !fields_ok(h) || !h->bucket || !h->key ||
        (h->version_id_len && !h->version_id) || (h->meta_len && !h->meta) ||
        (h->stripes && !h->crc_table))
        return TARN_E_INVAL;
    uint32_t hl = erc_shard_header_len(h->bucket_len, h->key_len, h->version_id_len,
                                       h->meta_len, h->stripes);
    uint64_t cl = content_len_of(h->bucket_len, h->key_len, h->version_id_len,
                                 h->meta_len, h->stripes);
    if (cap < hl)
        return TARN_E_INVAL;
    unsigned char *p = buf;
    memset(p, 0, hl);
    memcpy(p + OFF_MAGIC, ERC_SHARD_MAGIC, 8);
    put_le(p + OFF_VERSION, ERC_SHARD_VERSION, 2);
    put_le(p + OFF_HEADER_LEN, hl, 4);
    put_le(p + OFF_CONTENT_LEN, cl, 4);
    p[OFF_K] = h->k;
    p[OFF_M] = h->m;
    p[OFF_INDEX] = h->index;
    p[OFF_ALGO] = CSUM_ALGO_CRC32C;
    put_le(p + OFF_BLOCK_SIZE, h->block_size, 4);
    put_le(p + OFF_PART, h->part_number, 4);
    put_le(p + OFF_OBJECT_SIZE, h->object_size, 8);
    put_le(p + OFF_STRIPES, h->stripes, 8);
    put_le(p + OFF_BUCKET_LEN, h->bucket_len, 2);
    put_le(p + OFF_KEY_LEN, h->key_len, 2);
    put_le(p + OFF_VID_LEN, h->version_id_len, 2);
    put_le(p + OFF_META_LEN, h->meta_len, 4);
    put_le(p + OFF_PREFIX_CRC, erc_crc32c(0, p, OFF_PREFIX_CRC), 4);
    unsigned char *q = p + ERC_SHARD_FIXED_LEN;
    memcpy(q, h->bucket, h->bucket_len);
    q += h->bucket_len;
    memcpy(q, h->key, h->key_len);
    q += h->key_len;
    if (h->version_id_len)
        memcpy(q, h->version_id, h->version_id_len);
    q += h->version_id_len;
    if (h->meta_len)
        memcpy(q, h->meta, h->meta_len);
    q += h->meta_len;
    if (h->stripes)
        memcpy(q, h->crc_table, 4 * h->stripes);
    put_le(p + cl - 4, erc_crc32c(0, p, cl - 4), 4);
    if (out_len)
        *out_len = hl;
    return 0;
}

/* Parse and check the fixed prefix into *h (numbers and lengths only). */
static int parse_prefix(const unsigned char *p, size_t len, erc_shard_header *h)
{
    memset(h, 0, sizeof(*h));
    if (len < ERC_SHARD_FIXED_LEN || memcmp(p + OFF_MAGIC, ERC_SHARD_MAGIC, 8) != 0 ||
        get_le(p + OFF_PREFIX_CRC, 4) != erc_crc32c(0, p, OFF_PREFIX_CRC))
        return TARN_E_CORRUPT;
    if (get_le(p + OFF_VERSION, 2) != ERC_SHARD_VERSION || get_le(p + OFF_FLAGS, 2) != 0 ||
        p[OFF_ALGO] != CSUM_ALGO_CRC32C || get_le(p + OFF_RESERVED, 2) != 0)
        return TARN_E_CORRUPT;
    h->format_version = ERC_SHARD_VERSION;
    h->header_len = (uint32_t)get_le(p + OFF_HEADER_LEN, 4);
    h->content_len = (uint32_t)get_le(p + OFF_CONTENT_LEN, 4);
    h->k = p[OFF_K];
    h->m = p[OFF_M];
    h->index = p[OFF_INDEX];
    h->block_size = (uint32_t)get_le(p + OFF_BLOCK_SIZE, 4);
    h->part_number = (uint32_t)get_le(p + OFF_PART, 4);
    h->object_size = get_le(p + OFF_OBJECT_SIZE, 8);
    h->stripes = get_le(p + OFF_STRIPES, 8);
    h->bucket_len = (size_t)get_le(p + OFF_BUCKET_LEN, 2);
    h->key_len = (size_t)get_le(p + OFF_KEY_LEN, 2);
    h->version_id_len = (size_t)get_le(p + OFF_VID_LEN, 2);
    h->meta_len = (size_t)get_le(p + OFF_META_LEN, 4);
    if (!fields_ok(h) ||
        h->header_len != erc_shard_header_len(h->bucket_len, h->key_len, h->version_id_len,
                                              h->meta_len, h->stripes) ||
        h->content_len != content_len_of(h->bucket_len, h->key_len, h->version_id_len,
                                         h->meta_len, h->stripes))
        return TARN_E_CORRUPT;
    return 0;
}

int erc_shard_header_peek(const void *buf, size_t len, uint32_t *header_len,
                          uint32_t *content_len)
{
    erc_shard_header h;
    if (!buf || parse_prefix(buf, len, &h) != 0)
        return TARN_E_CORRUPT;
    if (header_len)
        *header_len = h.header_len;
    if (content_len)
        *content_len = h.content_len;
    return 0;
}

int erc_shard_header_decode(const void *buf, size_t len, erc_shard_header *h)
{
    const unsigned char *p = buf;
    if (!h)
        return TARN_E_CORRUPT;
    if (!p || parse_prefix(p, len, h) != 0)
        goto corrupt;
    size_t cl = h->content_len; /* >= FIXED_LEN + 6, checked by parse_prefix */
    if (len < cl || get_le(p + cl - 4, 4) != erc_crc32c(0, p, cl - 4))
        goto corrupt;
    const unsigned char *q = p + ERC_SHARD_FIXED_LEN;
    h->bucket = (const char *)q;
    q += h->bucket_len;
    h->key = (const char *)q;
    q += h->key_len;
    h->version_id = (const char *)q;
    q += h->version_id_len;
    h->meta = q;
    q += h->meta_len;
    h->crc_table = q;
    return 0;
corrupt:
    memset(h, 0, sizeof(*h));
    return TARN_E_CORRUPT;
}
