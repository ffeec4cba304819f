/*
 * multipart_get.c — reading a completed multipart version: its bytes are
 * the parts' shard sets one after another, so a range is served by one
 * ordinary single-set reader (get.c) per part it touches, in turn. When the
 * current part is down to its last stripe the next part's reader is opened
 * and starts its read-ahead, so a part boundary costs no round trip.
 *
 * The version's hold (part 1's data id, taken by stor_get_open) covers
 * every part: GC checks each part of a replaced multipart version against
 * the holds before removing any of its files (gc.c).
 */
#include "object_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct part_reader {
    stor_get *g;              /* NULL: not open */
    uint32_t index;
    uint64_t base;            /* object offset of the part's first byte */
} part_reader;

struct stor_mpget {
    stor_ioctx *io;
    char bucket[STOR_BUCKET_MAX + 1];
    size_t key_len;           /* the shard headers' size depends on it */
    stor_layout lay;          /* lay.parts points to table */
    unsigned char *table;
    uint64_t pos, last;
    part_reader cur, next;
};

int stor__mpget_create(stor_ioctx *io, const char *bucket, size_t key_len,
                       const stor_layout *l, stor_mpget **out)
{
    stor_mpget *m = calloc(1, sizeof(*m));
    size_t n = (size_t)l->n_parts * STOR_PART_ENTRY;
    /* Our own copy of the table: the reader may outlive the caller's arena. */
    if (!m || !(m->table = malloc(n))) {
        free(m);
        return TARN_E_NOMEM;
    }
    memcpy(m->table, l->parts, n);
    m->io = io;
    snprintf(m->bucket, sizeof(m->bucket), "%s", bucket);
    m->key_len = key_len;
    m->lay = *l;
    m->lay.parts = m->table;
    *out = m;
    return 0;
}

static void reader_close(part_reader *r)
{
    stor_get_close(r->g); /* frees itself once its reads are back */
    memset(r, 0, sizeof(*r));
}

/* Open part i's reader for the bytes of [m->pos or its start, m->last]. */
static int reader_open(stor_mpget *m, part_reader *r, uint32_t i, uint64_t base)
{
    stor_layout pl;
    int rc = stor__layout_part(&m->lay, i, &pl, NULL);
    if (rc)
        return TARN_E_CORRUPT;
    uint64_t first = m->pos > base ? m->pos - base : 0;
    uint64_t last = m->last - base < pl.size - 1 ? m->last - base : pl.size - 1;
    rc = stor__get_open_layout(m->io, m->bucket, m->key_len, &pl, &r->g);
    if (!rc && (rc = stor_get_range(r->g, first, last)) != 0)
        stor_get_close(r->g);
    if (rc) {
        r->g = NULL;
        return rc;
    }
    r->index = i;
    r->base = base;
    return 0;
}

static uint64_t part_size(const stor_mpget *m, uint32_t i)
{
    return stor__be64_get(m->table + (size_t)i * STOR_PART_ENTRY + 4);
}

/* The first non-empty part at or after i with its offset: 1, or 0 if none
 * holds bytes up to m->last. */
static int part_find(const stor_mpget *m, uint32_t i, uint64_t base, uint32_t *pi,
                     uint64_t *pbase)
{
    for (; i < m->lay.n_parts && base <= m->last; base += part_size(m, i), i++)
        if (part_size(m, i) && m->pos < base + part_size(m, i)) {
            *pi = i;
            *pbase = base;
            return 1;
        }
    return 0;
}

int stor__mpget_range(stor_mpget *m, uint64_t first, uint64_t last)
{
    uint32_t i;
    uint64_t base;
    if (first > last || last >= m->lay.size)
        return TARN_E_INVAL;
    reader_close(&m->cur);
    if (m->next.g)
        reader_close(&m->next);
    m->pos = first;
    m->last = last;
    if (!part_find(m, 0, 0, &i, &base))
        return TARN_E_CORRUPT; /* the parts do not add up to the size */
    return reader_open(m, &m->cur, i, base);
}

/* Near the end of the current part, start reading the next one. */
static void prefetch(stor_mpget *m)
{
    stor_layout pl;
    const part_reader *c = &m->cur;
    uint32_t i;
    uint64_t base, end = c->base + part_size(m, c->index);
    if (m->next.g || end > m->last || stor__layout_part(&m->lay, c->index, &pl, NULL))
        return;
    if (end - m->pos > (uint64_t)pl.k * pl.block_size)
        return;
    uint64_t pos = m->pos;
    m->pos = end;
    if (part_find(m, c->index + 1, end, &i, &base))
        reader_open(m, &m->next, i, base); /* failure: opened again when needed */
    m->pos = pos;
}

/* Make cur the reader for m->pos. 0 or an error. */
static int advance(stor_mpget *m)
{
    uint32_t i;
    uint64_t base;
    if (m->cur.g && m->pos < m->cur.base + part_size(m, m->cur.index))
        return 0;
    uint32_t from = m->cur.g ? m->cur.index + 1 : 0;
    uint64_t at = m->cur.g ? m->cur.base + part_size(m, m->cur.index) : 0;
    if (m->cur.g)
        reader_close(&m->cur);
    if (m->next.g) {
        m->cur = m->next;
        memset(&m->next, 0, sizeof(m->next));
        return 0;
    }
    if (!part_find(m, from, at, &i, &base))
        return TARN_E_CORRUPT;
    return reader_open(m, &m->cur, i, base);
}

ssize_t stor__mpget_read(stor_mpget *m, void *buf, size_t n, void (*ready)(void *arg),
                         void *arg)
{
    size_t out = 0;
    while (out < n && m->pos <= m->last) {
        int rc = advance(m);
        if (rc)
            return out ? (ssize_t)out : rc;
        /* ready only when nothing was copied: the caller is told about
         * bytes it has, never woken for a part it has not waited on. */
        ssize_t got = stor_get_read(m->cur.g, (char *)buf + out, n - out, out ? NULL : ready,
                                    arg);
        if (got < 0)
            return out ? (ssize_t)out : got;
        out += (size_t)got;
        m->pos += (uint64_t)got;
        prefetch(m);
        if (got == 0)
            break;
    }
    return (ssize_t)out;
}

void stor__mpget_close(stor_mpget *m)
{
    if (!m)
        return;
    if (m->cur.g)
        reader_close(&m->cur);
    if (m->next.g)
        reader_close(&m->next);
    free(m->table);
    free(m);
}

int stor__mpget_part(const stor_mpget *m, uint32_t number, uint64_t *first, uint64_t *last,
                     uint32_t *count)
{
    *count = m->lay.n_parts;
    if (number < 1 || number > m->lay.n_parts)
        return TARN_E_INVALID_RANGE;
    uint64_t base = 0;
    for (uint32_t i = 0; i + 1 < number; i++)
        base += part_size(m, i);
    uint64_t size = part_size(m, number - 1);
    *first = base;
    *last = size ? base + size - 1 : base; /* an empty last part: the caller sends 0 bytes */
    return 0;
}
