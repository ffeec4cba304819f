/*
 * crc.c — the CRCs of S3's x-amz-checksum-* (CRC32, CRC32C, CRC64NVME) and
 * their combine functions, for checksum.c and for the server's multipart
 * "full object" checksums (DESIGN.md, "Checksums: where each comes from").
 *
 * CRC32 and CRC32C come from isa-l (PCLMUL folding, many GB/s). isa-l 2.30
 * has no CRC64NVME (it arrived in 2.31 as crc64_rocksoft), so that one is
 * a plain-C slice-by-8 table CRC here: 8 tables of 256 entries (16 KiB),
 * eight bytes per step, about 1-2 GB/s, built once on first use.
 *
 * All three S3 CRCs are reflected with init and xorout all ones. For such
 * a CRC, crc(A‖B) = (crc(A) · x^(8·|B|) mod P) xor crc(B): the all-ones
 * terms cancel. The combine functions evaluate that product with
 * polynomial arithmetic over GF(2) in the reflected bit order, where the
 * most significant bit holds the coefficient of x^0.
 *
 * erasure/ keeps its own CRC32C for block checksums: auth/ and erasure/
 * do not depend on each other (STYLE.md §1).
 */
#include "auth.h"

#include <isa-l/crc.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

/* Reflected polynomials (the bit-reversed forms of the usual ones). */
#define POLY_CRC32 0xEDB88320u              /* 0x04C11DB7 */
#define POLY_CRC32C 0x82F63B78u             /* 0x1EDC6F41 */
#define POLY_CRC64NVME 0x9A6C9329AC4BC9B5ull /* 0xAD93D23594C93659 */

/* ---- CRC32 / CRC32C (isa-l) ---------------------------------------------- */

uint32_t auth_crc32(uint32_t crc, const void *buf, size_t len)
{
    /* crc32_gzip_refl already inverts on entry and exit: S3's convention. */
    return crc32_gzip_refl(crc, buf, (uint64_t)len);
}

uint32_t auth_crc32c(uint32_t crc, const void *buf, size_t len)
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

/* ---- CRC64NVME (slice-by-8) ---------------------------------------------- */

static uint64_t crc64_tab[8][256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_tab_init(void)
{
    for (unsigned b = 0; b < 256; b++) {
        uint64_t r = b;
        for (int i = 0; i < 8; i++)
            r = (r & 1) ? (r >> 1) ^ POLY_CRC64NVME : r >> 1;
        crc64_tab[0][b] = r;
    }
    /* tab[t][b]: the effect of byte b followed by t zero bytes. */
    for (int t = 1; t < 8; t++)
        for (unsigned b = 0; b < 256; b++) {
            uint64_t r = crc64_tab[t - 1][b];
            crc64_tab[t][b] = (r >> 8) ^ crc64_tab[0][r & 0xff];
        }
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t auth_crc64nvme(uint64_t crc, const void *buf, size_t len)
{
    pthread_once(&crc64_once, crc64_tab_init);
    const unsigned char *p = buf;
    uint64_t r = ~crc;
    while (len >= 8) {
        r ^= load_le64(p);
        r = crc64_tab[7][r & 0xff] ^ crc64_tab[6][(r >> 8) & 0xff] ^
            crc64_tab[5][(r >> 16) & 0xff] ^ crc64_tab[4][(r >> 24) & 0xff] ^
            crc64_tab[3][(r >> 32) & 0xff] ^ crc64_tab[2][(r >> 40) & 0xff] ^
            crc64_tab[1][(r >> 48) & 0xff] ^ crc64_tab[0][r >> 56];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        r = crc64_tab[0][(r ^ *p++) & 0xff] ^ (r >> 8);
    return ~r;
}

/* ---- Combine --------------------------------------------------------------- */

/* a · b mod P for a reflected CRC of `width` bits (32 or 64). */
static uint64_t gf2_mulmod(uint64_t a, uint64_t b, uint64_t poly, int width)
{
    uint64_t top = 1ull << (width - 1); /* the x^0 coefficient */
    uint64_t p = 0;
    for (uint64_t bit = top; bit != 0; bit >>= 1) {
        if (a & bit)
            p ^= b;
        /* b *= x: one step towards the low bits, reducing what falls off. */
        b = (b & 1) ? (b >> 1) ^ poly : b >> 1;
    }
    return p;
}

/* x^(8·nbytes) mod P, by square-and-multiply on the exponent's bits. */
static uint64_t x_pow_bytes(uint64_t nbytes, uint64_t poly, int width)
{
    uint64_t one = 1ull << (width - 1);
    uint64_t result = one;
    uint64_t base = one >> 8; /* x^8 */
    while (nbytes) {
        if (nbytes & 1)
            result = gf2_mulmod(result, base, poly, width);
        base = gf2_mulmod(base, base, poly, width);
        nbytes >>= 1;
    }
    return result;
}

static uint64_t combine(uint64_t a, uint64_t b, uint64_t len_b, uint64_t poly, int width)
{
    if (len_b == 0)
        return a;
    return gf2_mulmod(a, x_pow_bytes(len_b, poly, width), poly, width) ^ b;
}

uint32_t auth_crc32_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    return (uint32_t)combine(crc_a, crc_b, len_b, POLY_CRC32, 32);
}

uint32_t auth_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    return (uint32_t)combine(crc_a, crc_b, len_b, POLY_CRC32C, 32);
}

uint64_t auth_crc64nvme_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b)
{
    return combine(crc_a, crc_b, len_b, POLY_CRC64NVME, 64);
}
