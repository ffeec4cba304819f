/*
 * erasure.h — tarn's erasure module: Reed-Solomon k+m coding of stripes
 * (isa-l), per-block checksums against bitrot, the shard file format and
 * its layout math. Prefix: erc_. (The CRCs of S3's x-amz-checksum-* are
 * auth/'s: auth_crc32 and friends in auth.h.)
 *
 * Everything here is pure computation on caller-owned buffers: no I/O,
 * nothing of buckets or HTTP, and no allocation except when a coder is
 * created. Functions return 0 or a negative tarn_err (common.h).
 * The format and the reasons behind it are in docs/erasure.md.
 */
#ifndef TARN_ERASURE_H
#define TARN_ERASURE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"

/* ---- Limits ------------------------------------------------------------ */

#define ERC_MAX_SHARDS 16            /* k + m <= 16; 1 <= m <= k */
#define ERC_BLOCK_ALIGN 4096u        /* block sizes and tail blocks are multiples */
#define ERC_BLOCK_MIN ERC_BLOCK_ALIGN
#define ERC_BLOCK_MAX (64u << 20)
#define ERC_BLOCK_DEFAULT (1u << 20) /* 1 MiB */
#define ERC_BUCKET_MAX 63            /* S3 bucket names: 3..63 (we accept 1..63) */
#define ERC_KEY_MAX 1024             /* S3 keys: 1..1024 bytes */
#define ERC_VERSION_ID_MAX 255       /* 0 = no version id */
#define ERC_META_MAX 65536           /* opaque caller metadata in the header */
#define ERC_HEADER_MAX (64u << 20)   /* padded header, incl. the checksum table */

/* 1 when (k, m) is a supported coding: 1 <= m <= k, k + m <= 16. */
int erc_params_valid(int k, int m);

/* ---- Reed-Solomon coder ------------------------------------------------ */

typedef struct erc_coder erc_coder;

/*
 * Create a coder for k data + m parity shards. It holds the Cauchy encode
 * matrix, isa-l's expanded tables, and a small cache of decode tables per
 * erasure pattern (so erc_decode, not erc_encode, mutates it).
 * *out is owned by the caller until erc_coder_destroy.
 * Returns 0, TARN_E_INVAL (k/m out of range), TARN_E_NOMEM.
 */
int erc_coder_create(int k, int m, erc_coder **out);
/* Free a coder. NULL is a no-op. */
void erc_coder_destroy(erc_coder *c);
int erc_coder_k(const erc_coder *c);
int erc_coder_m(const erc_coder *c);

/*
 * Compute the m parity blocks of one stripe: parity[0..m) from
 * data[0..k), each block len bytes (any len >= 1; no alignment needed).
 * All buffers are the caller's; parity must not overlap data.
 * Returns 0 or TARN_E_INVAL (NULL pointer, len 0 or > INT_MAX).
 * Thread-safety: reads the coder only, so several threads may encode with
 * one coder at once, as long as no thread is in erc_decode on it.
 * Never allocates.
 */
int erc_encode(const erc_coder *c, const unsigned char *const *data,
               unsigned char *const *parity, size_t len);

/*
 * Rebuild shards of one stripe from any k good ones. shards[0..k+m) are
 * the stripe's blocks in shard order (data 0..k-1, then parity), each len
 * bytes, all the caller's. Bit i of present says shards[i] holds good
 * bytes; bit i of want says shards[i] is to be rebuilt in place. want must
 * not intersect present; shards[i] may be NULL when i is in neither.
 * The first k present shards (in index order) are the sources.
 * Returns 0, TARN_E_INVAL (bad mask or pointer, len 0 or > INT_MAX),
 * TARN_E_CORRUPT (fewer than k shards present), TARN_E_INTERNAL (a
 * singular submatrix: cannot happen with the Cauchy matrix).
 * Thread-safety: one thread at a time per coder (the decode-table cache
 * is updated without locks). Never allocates.
 */
int erc_decode_some(erc_coder *c, unsigned char *const *shards, uint32_t present,
                    uint32_t want, size_t len);
/* erc_decode_some with want = every shard not in present. */
int erc_decode(erc_coder *c, unsigned char *const *shards, uint32_t present, size_t len);

/* ---- Block checksums (bitrot) ------------------------------------------ */

/* CRC32C (reflected, init and xorout all ones: the CRC of "" is 0).
 * Incremental: pass 0 to start, then the value returned so far. isa-l
 * crc32_iscsi underneath. Pure function, thread-safe. */
uint32_t erc_crc32c(uint32_t crc, const void *buf, size_t len);
/* The checksum of one block: CRC32C (see docs/erasure.md for why).
 * Pure function, thread-safe. len may be 0. */
uint32_t erc_block_checksum(const void *block, size_t len);
/* 0 when block's checksum equals expected, TARN_E_CORRUPT otherwise. */
int erc_block_verify(const void *block, size_t len, uint32_t expected);
/*
 * Verify n blocks of len bytes against expected[0..n) (n <= 32): for each
 * i whose bit is set in *present, a NULL block or a checksum mismatch
 * clears the bit. Returns how many bits were cleared. Thread-safe.
 */
int erc_stripe_verify(const unsigned char *const *blocks, int n, size_t len,
                      const uint32_t *expected, uint32_t *present);

/* ---- Layout -------------------------------------------------------------
 * An object (or part) of object_size bytes is cut into stripes of k·B data
 * bytes; stripe s is blocks s of the k data shards, shard j holding the
 * stripe's bytes [j·L, (j+1)·L) where L is the stripe's block length: B
 * for every stripe but the last, and for the last the smallest multiple of
 * ERC_BLOCK_ALIGN that holds ceil(last_stripe_bytes / k) (capped at B).
 * Bytes past the object's end are zero. Parity blocks have the same L. In
 * a shard file, block s starts at header_len + s·B. */
typedef struct erc_layout {
    int k, m;
    uint32_t block_size;         /* B */
    uint64_t object_size;        /* S */
    uint64_t stripe_size;        /* k·B */
    uint64_t stripes;            /* ceil(S / kB); 0 when S == 0 */
    uint64_t last_stripe_bytes;  /* object bytes in the last stripe (0 if none) */
    uint32_t last_block_len;     /* L of the last stripe (0 if none) */
} erc_layout;

/* Fill *l. Returns 0 or TARN_E_INVAL (bad k/m, block size not a multiple
 * of ERC_BLOCK_ALIGN or outside [ERC_BLOCK_MIN, ERC_BLOCK_MAX]). */
int erc_layout_init(erc_layout *l, int k, int m, uint32_t block_size, uint64_t object_size);
/* Block length L of stripe s (0 when s >= stripes). */
uint32_t erc_layout_block_len(const erc_layout *l, uint64_t s);
/* Object bytes held by stripe s (0 when s >= stripes). */
uint64_t erc_layout_stripe_data(const erc_layout *l, uint64_t s);
/* Offset of block s in a shard file whose header is header_len bytes. */
uint64_t erc_layout_block_offset(const erc_layout *l, uint32_t header_len, uint64_t s);
/* Size of every shard file (data and parity alike) of this layout. */
uint64_t erc_layout_shard_file_size(const erc_layout *l, uint32_t header_len);
/* The stripes [*first, *last] that the inclusive byte range [a, b] touches.
 * Returns 0 or TARN_E_INVAL (a > b or b >= object_size). */
int erc_layout_range(const erc_layout *l, uint64_t a, uint64_t b, uint64_t *first,
                     uint64_t *last);
/* Where object byte off lives: stripe, data shard, offset in that block.
 * Returns 0 or TARN_E_INVAL (off >= object_size). */
int erc_layout_locate(const erc_layout *l, uint64_t off, uint64_t *stripe, int *shard,
                      uint32_t *block_off);

/* ---- Shard file header --------------------------------------------------
 * The self-describing header at offset 0 of every shard file, padded with
 * zeros to a multiple of 4096 (header_len) so the blocks that follow are
 * O_DIRECT-aligned. Byte layout in docs/erasure.md. */

#define ERC_SHARD_MAGIC "TARNSHRD"
#define ERC_SHARD_VERSION 1
#define ERC_SHARD_FIXED_LEN 64       /* enough to call erc_shard_header_peek */

typedef struct erc_shard_header {
    /* Set by decode; ignored by encode (which writes the current values). */
    uint16_t format_version;
    uint32_t header_len;             /* padded length: offset of block 0 */
    uint32_t content_len;            /* bytes before the zero padding */
    /* Coding and sizes. */
    uint8_t k, m, index;             /* index: 0..k-1 data, k..k+m-1 parity */
    uint32_t block_size;
    uint32_t part_number;            /* 0 for a plain object, else 1..10000 */
    uint64_t object_size;            /* bytes of the object (or part) */
    uint64_t stripes;                /* must equal the layout's stripe count */
    /* Names: not NUL-terminated; decode points them into the caller's buffer. */
    const char *bucket;
    size_t bucket_len;               /* 1..ERC_BUCKET_MAX */
    const char *key;
    size_t key_len;                  /* 1..ERC_KEY_MAX */
    const char *version_id;
    size_t version_id_len;           /* 0..ERC_VERSION_ID_MAX */
    const unsigned char *meta;       /* opaque to erasure/ (storage's record) */
    size_t meta_len;                 /* 0..ERC_META_MAX */
    /* stripes × 4 bytes, little-endian CRC32C of this shard's block s;
     * read/write entries with erc_crc_table_get / erc_crc_table_put. */
    const unsigned char *crc_table;
} erc_shard_header;

/* Padded header length for these field lengths, or 0 when a length is out
 * of range or the header would exceed ERC_HEADER_MAX. */
uint32_t erc_shard_header_len(size_t bucket_len, size_t key_len, size_t version_id_len,
                              size_t meta_len, uint64_t stripes);

/*
 * Serialize h into buf[0..cap): header_len bytes, zero padding included.
 * Reads h and the buffers it points to (all the caller's); never
 * allocates. *out_len (may be NULL) gets header_len.
 * Returns 0, TARN_E_INVAL (a field out of range, stripes inconsistent with
 * the sizes, cap < header_len, NULL pointer). Thread-safe.
 */
int erc_shard_header_encode(const erc_shard_header *h, void *buf, size_t cap,
                            size_t *out_len);

/*
 * Check the fixed 64-byte prefix of a header (its own checksum, magic,
 * version, ranges and size consistency) and report how many bytes
 * erc_shard_header_decode needs (*content_len) and where block 0 starts
 * (*header_len); either pointer may be NULL. Reads only buf[0..len).
 * Returns 0 or TARN_E_CORRUPT (also when len < ERC_SHARD_FIXED_LEN).
 */
int erc_shard_header_peek(const void *buf, size_t len, uint32_t *header_len,
                          uint32_t *content_len);

/*
 * Parse a header from buf[0..len) (len >= content_len; the padding after
 * it is neither needed nor checked). On success *h's pointers point into
 * buf, which the caller keeps alive while using them. Reads nothing past
 * buf + len. Returns 0 or TARN_E_CORRUPT for any malformed input. On
 * error *h is zeroed. Thread-safe.
 */
int erc_shard_header_decode(const void *buf, size_t len, erc_shard_header *h);

/* Entry s of a little-endian CRC table (no bounds check: s < stripes). */
uint32_t erc_crc_table_get(const unsigned char *table, uint64_t s);
void erc_crc_table_put(unsigned char *table, uint64_t s, uint32_t crc);

#endif
