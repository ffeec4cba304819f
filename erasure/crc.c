/*
 * crc.c — per-block checksums against bitrot: CRC32C via isa-l's
 * crc32_iscsi (PCLMUL folding, many GB/s), also used by the shard header's
 * own checksums (shard.c).
 *
 * The CRCs of S3's x-amz-checksum-* (CRC32, CRC32C, CRC64NVME and their
 * combine functions) live in auth/crc.c: they are about requests, and
 * erasure/ knows nothing of S3 (STYLE.md §1).
 */
#include "erasure.h"

#include <isa-l/crc.h>
#include <limits.h>

uint32_t erc_crc32c(uint32_t crc, const void *buf, size_t len)
{
    /* crc32_iscsi works on the raw register and takes an int length. */
    const unsigned char *p = buf;
    uint32_t reg = ~crc;
    while (len > 0) {
        int n = len > (size_t)(INT_MAX & ~4095) ? (INT_MAX & ~4095) : (int)len;
        reg = crc32_iscsi((unsigned char *)p, n, reg);
        p += n;
        len -= (size_t)n;
    }
    return ~reg;
}

/* ---- Block checksums --------------------------------------------------------- */

uint32_t erc_block_checksum(const void *block, size_t len)
{
    return erc_crc32c(0, block, len);
}

int erc_block_verify(const void *block, size_t len, uint32_t expected)
{
    return erc_block_checksum(block, len) == expected ? 0 : TARN_E_CORRUPT;
}

int erc_stripe_verify(const unsigned char *const *blocks, int n, size_t len,
                      const uint32_t *expected, uint32_t *present)
{
    int cleared = 0;
    for (int i = 0; i < n && i < 32; i++) {
        uint32_t bit = 1u << i;
        if (!(*present & bit))
            continue;
        if (!blocks[i] || erc_block_verify(blocks[i], len, expected[i]) != 0) {
            *present &= ~bit;
            cleared++;
        }
    }
    return cleared;
}
