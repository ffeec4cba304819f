/*
 * rs.c — Reed-Solomon k+m over isa-l.
 *
 * The encode matrix is isa-l's Cauchy matrix (identity on top, then m rows
 * of 1/(i ^ j)): every k×k submatrix of it is invertible, so any k shards
 * rebuild the stripe. The Vandermonde-style gf_gen_rs_matrix is not: isa-l
 * lists (k, m) pairs where it fails.
 *
 * Decoding picks the first k present shards as sources, inverts the k×k
 * submatrix of their encode rows, and derives one coefficient row per
 * shard to rebuild (a row of the inverse for a data shard, encode row ×
 * inverse for a parity shard). Expanding those rows with ec_init_tables
 * costs about as much as coding a few KiB, and a disk that is gone stays
 * gone for many stripes, so the expanded tables are cached per
 * (sources, wanted) pattern in a few fixed slots inside the coder.
 */
#include "erasure.h"

#include <isa-l/erasure_code.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARITY (ERC_MAX_SHARDS / 2)       /* m <= k and k + m <= 16 */
#define TBLS_MAX (32 * ERC_MAX_SHARDS * MAX_PARITY)
#define DEC_CACHE_SLOTS 8

typedef struct dec_slot {
    uint32_t src, want;  /* pattern; src == 0 marks an empty slot */
    unsigned char tbls[TBLS_MAX];
} dec_slot;

struct erc_coder {
    int k, m;
    unsigned char enc[ERC_MAX_SHARDS * ERC_MAX_SHARDS]; /* (k+m) × k */
    unsigned char enc_tbls[TBLS_MAX];                   /* parity rows, expanded */
    dec_slot cache[DEC_CACHE_SLOTS];
    int next_victim;                                    /* round-robin eviction */
};

int erc_params_valid(int k, int m)
{
    return m >= 1 && m <= k && k + m <= ERC_MAX_SHARDS;
}

int erc_coder_create(int k, int m, erc_coder **out)
{
    if (!out)
        return TARN_E_INVAL;
    *out = NULL;
    if (!erc_params_valid(k, m))
        return TARN_E_INVAL;
    erc_coder *c = calloc(1, sizeof(*c));
    if (!c)
        return TARN_E_NOMEM;
    c->k = k;
    c->m = m;
    gf_gen_cauchy1_matrix(c->enc, k + m, k);
    ec_init_tables(k, m, c->enc + k * k, c->enc_tbls);
    *out = c;
    return 0;
}

void erc_coder_destroy(erc_coder *c)
{
    free(c);
}

int erc_coder_k(const erc_coder *c) { return c->k; }
int erc_coder_m(const erc_coder *c) { return c->m; }

int erc_encode(const erc_coder *c, const unsigned char *const *data,
               unsigned char *const *parity, size_t len)
{
    if (!c || !data || !parity || len == 0 || len > INT_MAX)
        return TARN_E_INVAL;
    /* isa-l takes non-const pointer arrays; it only reads data. */
    unsigned char *src[ERC_MAX_SHARDS], *dst[MAX_PARITY];
    for (int i = 0; i < c->k; i++) {
        if (!data[i])
            return TARN_E_INVAL;
        src[i] = (unsigned char *)data[i];
    }
    for (int i = 0; i < c->m; i++) {
        if (!parity[i])
            return TARN_E_INVAL;
        dst[i] = parity[i];
    }
    ec_encode_data((int)len, c->k, c->m, (unsigned char *)c->enc_tbls, src, dst);
    return 0;
}

/* The lowest k set bits of present. */
static uint32_t first_k_bits(uint32_t present, int k)
{
    uint32_t src = 0;
    for (int i = 0; i < ERC_MAX_SHARDS && k > 0; i++) {
        if (present & (1u << i)) {
            src |= 1u << i;
            k--;
        }
    }
    return src;
}

/* Coefficient rows (one per bit of want, k each) that compute the wanted
 * shards from the sources in src, expanded into tbls. */
static int build_decode_tables(const erc_coder *c, uint32_t src, uint32_t want,
                               unsigned char *tbls)
{
    int k = c->k, n = c->k + c->m, r = 0, nwant = 0;
    unsigned char sub[ERC_MAX_SHARDS * ERC_MAX_SHARDS];
    unsigned char inv[ERC_MAX_SHARDS * ERC_MAX_SHARDS];
    unsigned char rows[MAX_PARITY * ERC_MAX_SHARDS];

    for (int i = 0; i < n; i++)
        if (src & (1u << i))
            memcpy(sub + k * r++, c->enc + k * i, (size_t)k);
    if (gf_invert_matrix(sub, inv, k) != 0)
        return TARN_E_INTERNAL; /* impossible for a Cauchy matrix */
    for (int w = 0; w < n; w++) {
        if (!(want & (1u << w)))
            continue;
        unsigned char *row = rows + k * nwant++;
        if (w < k) {
            memcpy(row, inv + k * w, (size_t)k);
            continue;
        }
        /* parity w = enc[w] · data = enc[w] · inv · sources */
        for (int j = 0; j < k; j++) {
            unsigned char acc = 0;
            for (int l = 0; l < k; l++)
                acc ^= gf_mul(c->enc[k * w + l], inv[k * l + j]);
            row[j] = acc;
        }
    }
    ec_init_tables(k, nwant, rows, tbls);
    return 0;
}

/* The cached tables for (src, want), building them into a slot if absent. */
static const unsigned char *decode_tables(erc_coder *c, uint32_t src, uint32_t want)
{
    for (int i = 0; i < DEC_CACHE_SLOTS; i++)
        if (c->cache[i].src == src && c->cache[i].want == want)
            return c->cache[i].tbls;
    dec_slot *s = &c->cache[c->next_victim];
    c->next_victim = (c->next_victim + 1) % DEC_CACHE_SLOTS;
    s->src = 0;
    if (build_decode_tables(c, src, want, s->tbls) != 0)
        return NULL;
    s->src = src;
    s->want = want;
    return s->tbls;
}

int erc_decode_some(erc_coder *c, unsigned char *const *shards, uint32_t present,
                    uint32_t want, size_t len)
{
    if (!c || !shards || len == 0 || len > INT_MAX)
        return TARN_E_INVAL;
    int n = c->k + c->m;
    uint32_t all = (1u << n) - 1;
    if ((present & ~all) || (want & ~all) || (present & want))
        return TARN_E_INVAL;
    if (__builtin_popcount(present) < c->k)
        return TARN_E_CORRUPT;
    if (want == 0)
        return 0;
    uint32_t src = first_k_bits(present, c->k);
    unsigned char *in[ERC_MAX_SHARDS], *out[MAX_PARITY];
    int nin = 0, nout = 0;
    for (int i = 0; i < n; i++) {
        uint32_t bit = 1u << i;
        if (!(src & bit) && !(want & bit))
            continue;
        if (!shards[i])
            return TARN_E_INVAL;
        if (src & bit)
            in[nin++] = shards[i];
        else
            out[nout++] = shards[i];
    }
    const unsigned char *tbls = decode_tables(c, src, want);
    if (!tbls)
        return TARN_E_INTERNAL;
    ec_encode_data((int)len, c->k, nout, (unsigned char *)tbls, in, out);
    return 0;
}

int erc_decode(erc_coder *c, unsigned char *const *shards, uint32_t present, size_t len)
{
    if (!c)
        return TARN_E_INVAL;
    uint32_t all = (1u << (c->k + c->m)) - 1;
    return erc_decode_some(c, shards, present, all & ~present, len);
}
