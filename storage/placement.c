/*
 * placement.c — where a new object's shards go and how big its blocks are.
 *
 * Disks: walk the disk list from a start rotated by a hash of bucket/key,
 * so objects spread over all disks when there are more disks than k+m, and
 * the data shards (the ones every read touches) of different keys land on
 * different disks. Usable disks are taken first. When fewer than k+m are
 * usable, the remaining shards are still assigned (to unusable disks) so
 * the layout says where heal must rebuild them, but they are not written.
 * Fewer than k usable disks cannot hold a readable object: 503.
 */
#include "storage/object_internal.h"

#include "erasure/erasure.h"

#include <string.h>

static uint32_t place_hash(const char *bucket, const char *key, size_t key_len)
{
    uint32_t h = erc_crc32c(0, bucket, strlen(bucket));
    return erc_crc32c(h, key, key_len);
}

int stor__place(stor_ioctx *io, const char *bucket, const char *key, size_t key_len, int k,
                int m, uint8_t *disk, uint32_t *unusable)
{
    stor *s = stor__io_store(io);
    int n = stor__disk_count(s), got = 0;
    int start = (int)(place_hash(bucket, key, key_len) % (uint32_t)n);
    uint8_t bad[STOR_MAX_DISKS];
    int n_bad = 0;
    *unusable = 0;
    for (int i = 0; i < n && got < k + m; i++) {
        int d = (start + i) % n;
        if (stor__io_disk_usable(io, d))
            disk[got++] = (uint8_t)d;
        else
            bad[n_bad++] = (uint8_t)d;
    }
    if (got < k)
        return TARN_E_SERVICE_UNAVAILABLE;
    /* Parity shards first lose their disk: a read then needs no decode. */
    for (int j = 0; got < k + m; j++) {
        *unusable |= 1u << got;
        disk[got++] = bad[j];
    }
    return 0;
}

/* One stripe of blocks just big enough for small objects (a 4 KiB object
 * writes six 4 KiB blocks, not six MiB); STOR_BLOCK_MAX for everything
 * larger. Powers of two keep the buffer pool to a few sizes; the last
 * stripe's blocks shrink to the data anyway (erc_layout), so rounding up
 * costs no disk space. */
uint32_t stor__block_size(uint64_t size, int k)
{
    uint64_t per_shard = (size + (uint64_t)k - 1) / (uint64_t)k;
    uint32_t b = ERC_BLOCK_MIN;
    while (b < STOR_BLOCK_MAX && b < per_shard)
        b <<= 1;
    return b;
}

void stor__data_relpath(const char *data_id, char *out)
{
    out[0] = data_id[0];
    out[1] = data_id[1];
    out[2] = '/';
    memcpy(out + 3, data_id, 33); /* with its NUL */
}
