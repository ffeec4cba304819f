/*
 * get.c — the read pipeline (docs/storage-io.md). A get reads only the
 * stripes its range touches, and of each only the data blocks the range
 * touches, STOR_GET_STRIPES stripes ahead of the consumer, each block one
 * IORING_OP_READ into an aligned stripe buffer laid out like the put's
 * (block j at j·L, so a stripe's data bytes are contiguous and
 * stor_get_read is one memcpy per stripe).
 *
 * Shard files are opened on first use (data/, then tmp/, then data/
 * again: a put renames tmp/ → data/ after its commit, and the second look
 * catches a rename between the first two). The header is read in parallel
 * with the first block reads, at the header length our writer produces;
 * a block is used only once its CRC32C matches the header's table. A
 * missing file, an unreadable header or block, or a checksum mismatch
 * widens that stripe's reads to parity, and once the stripe's reads are
 * all back and k blocks are good, the missing data blocks are decoded.
 * Each such event is counted and logged for heal.
 *
 * Small plain objects go through the read cache (cache.c): one found
 * there after the hold is served by memcpy from the entry with no ring
 * operation; one not found is read whole whatever the range (it is one
 * stripe) and its bytes are cached once every block is verified.
 */
#include "storage/object_internal.h"

#include "erasure/erasure.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { GS_IDLE, GS_OPENING, GS_HEADER, GS_READY, GS_BAD };
enum { SL_FREE, SL_READING, SL_READY, SL_ERROR };
enum { OP_OPEN, OP_HDR, OP_BLOCK };

typedef struct get_op {
    tarn_ioreq r; /* first: the loop hands us this pointer */
    stor_get *g;
    uint8_t kind, shard;
    int8_t slot;
    unsigned char *buf;
    uint32_t len, done;
    uint64_t off;      /* of the block, under hlen */
    uint32_t hlen;     /* header length the offset assumed */
} get_op;

typedef struct get_shard {
    int fd, state, attempt, direct;
    unsigned char *hdr;           /* the header, kept: crc points into it */
    uint32_t hdr_cap, hdr_len;
    const unsigned char *crc;
    get_op ctl;                   /* open, header read */
    get_op rd[STOR_GET_STRIPES];  /* one block read per slot */
} get_shard;

typedef struct get_slot {
    unsigned char *buf;
    uint64_t stripe, base;        /* index, object offset of its first byte */
    uint32_t len;                 /* L */
    uint32_t need, want, sub, arrived, got, bad;
    int pending, state, err;
} get_slot;

struct stor_get {
    stor_ioctx *io;
    stor_layout lay;
    erc_layout el;
    erc_coder *coder;
    int n, inflight, closed, held;
    uint32_t hdr_guess;
    size_t buf_bytes;
    uint64_t pos, last, next_stripe, last_stripe;
    uint64_t rd_first, rd_last;   /* the bytes the stripes are read for */
    stor_cache_entry *ce;         /* serving from the read cache */
    int fill;                     /* cache the bytes once verified */
    void (*ready)(void *);
    void *rarg;
    char relpath[36];             /* read by the kernel at submission */
    stor_mpget *mp;               /* a multipart version: reads go through it */
    get_slot slot[STOR_GET_STRIPES];
    get_shard sh[STOR_MAX_SHARDS];
};

static void op_done(tarn_ioreq *r, int res);
static void slot_progress(stor_get *g, get_slot *sl);

/* ---- Submitting ------------------------------------------------------------ */

static struct io_uring_sqe *op_sqe(stor_get *g, get_op *op, int kind, int shard)
{
    struct io_uring_sqe *sqe = stor__io_sqe(g->io);
    if (!sqe)
        return NULL;
    op->r.done = op_done;
    op->g = g;
    op->kind = (uint8_t)kind;
    op->shard = (uint8_t)shard;
    io_uring_sqe_set_data(sqe, op);
    g->inflight++;
    return sqe;
}

static void shard_bad(stor_get *g, int i, const char *why);

static void submit_open(stor_get *g, int i)
{
    get_shard *sh = &g->sh[i];
    int which = sh->attempt == 1 ? STOR_DIR_TMP : STOR_DIR_DATA;
    int dfd = stor__io_dirfd(g->io, g->lay.disk[i], which);
    struct io_uring_sqe *sqe = dfd >= 0 ? op_sqe(g, &sh->ctl, OP_OPEN, i) : NULL;
    if (!sqe) {
        shard_bad(g, i, "disk unusable");
        return;
    }
    sh->state = GS_OPENING;
    io_uring_prep_openat(sqe, dfd, which == STOR_DIR_TMP ? g->lay.data_id : g->relpath,
                         O_RDONLY | O_CLOEXEC | (sh->direct ? O_DIRECT : 0), 0);
}

static void submit_read(stor_get *g, get_op *op)
{
    struct io_uring_sqe *sqe = op_sqe(g, op, op->kind, op->shard);
    if (!sqe) {
        shard_bad(g, op->shard, "no submission queue entry");
        return;
    }
    io_uring_prep_read(sqe, g->sh[op->shard].fd, op->buf + op->done, op->len - op->done,
                       op->off + op->done);
}

static void submit_header(stor_get *g, int i)
{
    get_shard *sh = &g->sh[i];
    if (!sh->hdr && posix_memalign((void **)&sh->hdr, ERC_BLOCK_ALIGN, sh->hdr_cap)) {
        shard_bad(g, i, "no memory for the header");
        return;
    }
    get_op *op = &sh->ctl;
    op->kind = OP_HDR;
    op->shard = (uint8_t)i;
    op->buf = sh->hdr;
    op->len = sh->hdr_cap;
    op->done = 0;
    op->off = 0;
    sh->state = GS_HEADER;
    submit_read(g, op);
}

/* Block reads go out before the header is back, at the header length our
 * writer uses; a shard whose header says otherwise has them redone. */
static void submit_block(stor_get *g, int s, int i)
{
    get_slot *sl = &g->slot[s];
    get_shard *sh = &g->sh[i];
    get_op *op = &sh->rd[s];
    op->kind = OP_BLOCK;
    op->shard = (uint8_t)i;
    op->slot = (int8_t)s;
    op->buf = sl->buf + (size_t)i * sl->len;
    op->len = sl->len;
    op->done = 0;
    op->hlen = sh->state == GS_READY ? sh->hdr_len : g->hdr_guess;
    op->off = erc_layout_block_offset(&g->el, op->hlen, sl->stripe);
    sl->sub |= 1u << i;
    sl->pending++;
    submit_read(g, op);
}

/* ---- Slots ---------------------------------------------------------------------- */

/* Read more shards of this stripe until k good ones can be had. */
static void slot_widen(stor_get *g, get_slot *sl)
{
    int have = __builtin_popcount(sl->want & ~sl->bad);
    for (int i = 0; i < g->n && have < g->lay.k; i++) {
        uint32_t b = 1u << i;
        if ((sl->want | sl->bad) & b)
            continue;
        if (g->sh[i].state == GS_BAD) {
            sl->bad |= b;
            continue;
        }
        sl->want |= b;
        have++;
    }
}

static void slot_release(stor_get *g, get_slot *sl)
{
    stor__io_buf_put(g->io, sl->buf, g->buf_bytes);
    memset(sl, 0, sizeof(*sl));
}

/* Data shards of stripe s holding bytes of [rd_first, rd_last]. */
static uint32_t stripe_need(stor_get *g, uint64_t s, uint32_t L)
{
    uint64_t base = s * g->el.stripe_size;
    uint64_t lo = g->rd_first > base ? g->rd_first - base : 0;
    uint64_t hi = g->rd_last - base; /* inclusive */
    uint64_t data = erc_layout_stripe_data(&g->el, s);
    if (hi >= data)
        hi = data - 1;
    uint32_t need = 0;
    for (uint64_t j = lo / L; j <= hi / L; j++)
        need |= 1u << j;
    return need;
}

static int slot_start(stor_get *g, get_slot *sl)
{
    uint64_t s = g->next_stripe;
    sl->buf = stor__io_buf_get(g->io, g->buf_bytes);
    if (!sl->buf)
        return 0;
    g->next_stripe++;
    sl->stripe = s;
    sl->base = s * g->el.stripe_size;
    sl->len = erc_layout_block_len(&g->el, s);
    sl->need = sl->want = stripe_need(g, s, sl->len);
    sl->state = SL_READING;
    for (int i = 0; i < g->n; i++)
        if (g->sh[i].state == GS_BAD && (sl->want & (1u << i)))
            sl->bad |= 1u << i;
    if (sl->bad)
        slot_widen(g, sl);
    return 1;
}

/* Start stripes up to the read-ahead, and every read whose shard is open. */
static void pump(stor_get *g)
{
    for (int s = 0; s < STOR_GET_STRIPES && g->next_stripe <= g->last_stripe; s++)
        if (g->slot[s].state == SL_FREE && !slot_start(g, &g->slot[s]))
            break;
    for (int s = 0; s < STOR_GET_STRIPES; s++) {
        get_slot *sl = &g->slot[s];
        if (sl->state != SL_READING)
            continue;
        uint32_t todo = sl->want & ~sl->sub & ~sl->bad;
        for (int i = 0; todo && i < g->n; i++) {
            if (!(todo & (1u << i)))
                continue;
            get_shard *sh = &g->sh[i];
            if (sh->state == GS_IDLE)
                submit_open(g, i);
            if (sh->state == GS_HEADER || sh->state == GS_READY)
                submit_block(g, s, i);
        }
        slot_progress(g, sl);
    }
}

/* A stripe's data blocks are all good (read and CRC-checked, or decoded):
 * a get filling the cache reads its one stripe whole, so its bytes are
 * the object's, contiguous from the buffer's start. */
static void slot_ready(stor_get *g, get_slot *sl)
{
    sl->state = SL_READY;
    if (g->fill && sl->stripe == 0 && g->rd_first == 0 && g->rd_last + 1 == g->lay.size) {
        stor__cache_put(stor__io_store(g->io)->rcache, g->lay.data_id, sl->buf, g->lay.size);
        g->fill = 0;
    }
}

/* Decide a stripe once all its reads are back: ready, decode, read more,
 * or give up. */
static void slot_progress(stor_get *g, get_slot *sl)
{
    if (sl->state != SL_READING || sl->pending)
        return;
    if ((sl->need & sl->got) == sl->need) {
        slot_ready(g, sl);
        return;
    }
    if ((sl->want & ~sl->sub & ~sl->bad) || (sl->sub & ~(sl->got | sl->bad)))
        return; /* reads still to start (shards opening) or headers to come */
    if (__builtin_popcount(sl->got) < g->lay.k) {
        uint32_t before = sl->want;
        slot_widen(g, sl);
        if (sl->want != before)
            return; /* pump() starts the new reads */
        sl->state = SL_ERROR;
        sl->err = TARN_E_CORRUPT;
        TARN_ERROR("storage: data %s stripe %llu: fewer than %d good shards", g->lay.data_id,
                   (unsigned long long)sl->stripe, g->lay.k);
        return;
    }
    unsigned char *blk[STOR_MAX_SHARDS];
    for (int i = 0; i < g->n; i++)
        blk[i] = sl->buf + (size_t)i * sl->len;
    int rc = erc_decode_some(g->coder, blk, sl->got, sl->need & ~sl->got, sl->len);
    sl->err = rc;
    if (rc)
        sl->state = SL_ERROR;
    else
        slot_ready(g, sl);
}

/* ---- Completions ----------------------------------------------------------------- */

static void block_verify(stor_get *g, get_slot *sl, int i)
{
    get_shard *sh = &g->sh[i];
    uint32_t b = 1u << i;
    if (sh->state != GS_READY || !(sl->arrived & b) || ((sl->got | sl->bad) & b))
        return;
    if (sh->rd[sl - g->slot].hlen != sh->hdr_len) { /* read at a wrong guess: redo */
        sl->sub &= ~b;
        sl->arrived &= ~b;
        return;
    }
    uint32_t want = erc_crc_table_get(sh->crc, sl->stripe);
    if (erc_block_verify(sl->buf + (size_t)i * sl->len, sl->len, want) == 0) {
        sl->got |= b;
        return;
    }
    sl->bad |= b;
    stor__io_read_bad(g->io, g->lay.data_id, i, "block checksum mismatch");
    slot_widen(g, sl);
}

static void shard_bad(stor_get *g, int i, const char *why)
{
    get_shard *sh = &g->sh[i];
    if (sh->state == GS_BAD)
        return;
    sh->state = GS_BAD;
    stor__io_read_bad(g->io, g->lay.data_id, i, why);
    for (int s = 0; s < STOR_GET_STRIPES; s++) {
        get_slot *sl = &g->slot[s];
        if (sl->state == SL_READING && (sl->want & ~sl->got & (1u << i))) {
            sl->bad |= 1u << i;
            slot_widen(g, sl);
        }
    }
}

/* The header: decode, check that it belongs to this data id and layout. */
static void on_header(stor_get *g, int i, int res)
{
    get_shard *sh = &g->sh[i];
    uint32_t hlen = 0, clen = 0;
    if (res < 0 || erc_shard_header_peek(sh->hdr, (size_t)res, &hlen, &clen)) {
        shard_bad(g, i, res < 0 ? "header unreadable" : "header corrupt");
        return;
    }
    if (clen > (uint32_t)res && (uint32_t)res == sh->hdr_cap) { /* longer: read it all */
        free(sh->hdr);
        sh->hdr = NULL;
        sh->hdr_cap = hlen;
        submit_header(g, i);
        return;
    }
    erc_shard_header h;
    if (erc_shard_header_decode(sh->hdr, (size_t)res, &h) || h.k != g->lay.k ||
        h.m != g->lay.m || h.index != i || h.block_size != g->lay.block_size ||
        h.object_size != g->lay.size || h.version_id_len != 32 ||
        memcmp(h.version_id, g->lay.data_id, 32) != 0) {
        shard_bad(g, i, "header does not match the version");
        return;
    }
    sh->hdr_len = h.header_len;
    sh->crc = h.crc_table;
    sh->state = GS_READY;
    for (int s = 0; s < STOR_GET_STRIPES; s++)
        if (g->slot[s].state == SL_READING)
            block_verify(g, &g->slot[s], i);
}

static void on_open(stor_get *g, int i, int res)
{
    get_shard *sh = &g->sh[i];
    if (res == -EINVAL && sh->direct) { /* no O_DIRECT on this file system */
        sh->direct = 0;
        submit_open(g, i);
        return;
    }
    if (res == -ENOENT && sh->attempt < 2) {
        sh->attempt++;
        submit_open(g, i);
        return;
    }
    if (res < 0) {
        shard_bad(g, i, res == -ENOENT ? "shard file missing" : "shard file unreadable");
        return;
    }
    sh->fd = res;
    if (g->closed)
        return;
    submit_header(g, i);
}

static void on_block(stor_get *g, get_op *op, int res)
{
    get_slot *sl = &g->slot[op->slot];
    int i = op->shard;
    if (res == -EAGAIN || res == -EINTR || (res > 0 && (op->done += (uint32_t)res) < op->len)) {
        if (!g->closed && g->sh[i].state != GS_BAD) {
            submit_read(g, op);
            return;
        }
    }
    sl->pending--;
    if (g->sh[i].state == GS_BAD)
        return;
    if (res < 0) {
        shard_bad(g, i, "block unreadable");
        return;
    }
    if (res == 0) { /* a short file */
        sl->bad |= 1u << i;
        stor__io_read_bad(g->io, g->lay.data_id, i, "shard file truncated");
        slot_widen(g, sl);
        return;
    }
    sl->arrived |= 1u << i;
    block_verify(g, sl, i);
}

static void get_destroy(stor_get *g)
{
    for (int s = 0; s < STOR_GET_STRIPES; s++)
        if (g->slot[s].buf)
            slot_release(g, &g->slot[s]);
    for (int i = 0; i < g->n; i++) {
        if (g->sh[i].fd >= 0)
            close(g->sh[i].fd);
        free(g->sh[i].hdr);
    }
    free(g);
}

static void op_done(tarn_ioreq *r, int res)
{
    get_op *op = (get_op *)r;
    stor_get *g = op->g;
    g->inflight--;
    switch (op->kind) {
    case OP_OPEN: on_open(g, op->shard, res); break;
    case OP_HDR: on_header(g, op->shard, res); break;
    case OP_BLOCK: on_block(g, op, res); break;
    }
    if (g->closed) {
        if (!g->inflight)
            get_destroy(g);
        return;
    }
    pump(g);
    void (*cb)(void *) = g->ready;
    const get_slot *head = NULL;
    for (int s = 0; s < STOR_GET_STRIPES; s++)
        if (g->slot[s].state != SL_FREE && g->slot[s].base <= g->pos &&
            g->pos < g->slot[s].base + g->el.stripe_size)
            head = &g->slot[s];
    if (cb && head && (head->state == SL_READY || head->state == SL_ERROR)) {
        g->ready = NULL;
        cb(g->rarg); /* last: it may read or close */
    }
}

/* ---- API -------------------------------------------------------------------------- */

/* Read the version and hold its data. GC may collect a replaced version
 * between the read and the hold; its "d/" key goes in the same batch that
 * queues it for GC, so once held, a data id that is still referenced is
 * safe, and one that is not is retried from the newest head. */
static int version_get_held(stor *s, tarn_arena *a, const char *bucket, const char *key,
                            size_t key_len, const char *version_id, stor_object *obj,
                            stor_layout *lay, int *held)
{
    *held = 0;
    for (int attempt = 0; attempt < 8; attempt++) {
        memset(lay, 0, sizeof(*lay));
        int rc = stor__version_get(s, a, bucket, key, key_len, version_id, obj, lay);
        if (rc)
            return rc;
        if (obj->delete_marker || !lay->data_id[0])
            return 0;
        stor__data_hold(s, lay->data_id);
        if (stor__data_referenced(s, lay->data_id) == 1) {
            *held = 1;
            return 0;
        }
        stor__data_release(s, lay->data_id);
    }
    return TARN_E_BUSY;
}

/* Set up g (layout already in g->lay) to read one shard set. */
static int get_setup(stor_get *g, stor_ioctx *io, const char *bucket, size_t key_len)
{
    if (erc_layout_init(&g->el, g->lay.k, g->lay.m, g->lay.block_size, g->lay.size) ||
        !(g->coder = stor__io_coder(io, g->lay.k, g->lay.m)))
        return TARN_E_CORRUPT;
    g->io = io;
    g->n = g->lay.k + g->lay.m;
    g->buf_bytes = (size_t)g->n * g->lay.block_size;
    g->hdr_guess =
        erc_shard_header_len(strlen(bucket), key_len, 32, STOR_SHARD_META_MIN, g->el.stripes);
    stor__data_relpath(g->lay.data_id, g->relpath);
    for (int i = 0; i < g->n; i++) {
        g->sh[i].fd = -1;
        g->sh[i].direct = 1;
        g->sh[i].hdr_cap = g->hdr_guess ? g->hdr_guess : ERC_BLOCK_ALIGN;
    }
    return 0;
}

int stor__get_open_layout(stor_ioctx *io, const char *bucket, size_t key_len,
                          const stor_layout *l, stor_get **out)
{
    stor_get *g = calloc(1, sizeof(*g));
    if (!g)
        return TARN_E_NOMEM;
    g->lay = *l;
    int rc = get_setup(g, io, bucket, key_len);
    if (rc) {
        free(g);
        return rc;
    }
    *out = g;
    return 0;
}

/* Small plain objects are served from, or read into, the read cache. */
static int cacheable(const stor_layout *l)
{
    return !l->n_parts && l->size && l->size <= STOR_CACHE_OBJECT_MAX;
}

/* The cached bytes of l's data id, or NULL. */
static stor_cache_entry *cache_find(stor_cache *c, const stor_layout *l)
{
    stor_cache_entry *e = cacheable(l) ? stor__cache_get(c, l->data_id) : NULL;
    size_t len = 0;
    if (e)
        stor__cache_entry_data(e, &len);
    if (e && len != l->size) { /* ids are never reused: a bug, not a race */
        stor__cache_entry_unref(e);
        e = NULL;
    }
    return e;
}

/* Set up g for the held version in g->lay: the multipart reader, the
 * cached bytes, or reads of its one shard set. */
static int get_prepare(stor_get *g, stor_ioctx *io, const char *bucket, size_t key_len)
{
    stor_cache *c = stor__io_store(io)->rcache;
    g->io = io;
    if (g->lay.n_parts)
        return stor__mpget_create(io, bucket, key_len, &g->lay, &g->mp);
    if ((g->ce = cache_find(c, &g->lay)))
        return 0;
    int rc = get_setup(g, io, bucket, key_len);
    g->fill = !rc && c && cacheable(&g->lay) && g->el.stripes == 1;
    return rc;
}

int stor_get_open(stor_ioctx *io, tarn_arena *a, const char *bucket, const char *key,
                  size_t key_len, const char *version_id, stor_object *obj, stor_get **out)
{
    *out = NULL;
    stor *s = stor__io_store(io);
    stor_get *g = calloc(1, sizeof(*g));
    if (!g)
        return TARN_E_NOMEM;
    int held = 0;
    int rc = version_get_held(s, a, bucket, key, key_len, version_id, obj, &g->lay, &held);
    if (!rc && obj->delete_marker)
        rc = version_id ? TARN_E_METHOD_NOT_ALLOWED : TARN_E_NO_SUCH_KEY;
    if (!rc)
        rc = get_prepare(g, io, bucket, key_len);
    if (rc) {
        if (held)
            stor__data_release(s, g->lay.data_id);
        free(g);
        return rc;
    }
    g->held = 1;
    *out = g;
    return 0;
}

int stor_get_range(stor_get *g, uint64_t first, uint64_t last)
{
    if (g->mp)
        return stor__mpget_range(g->mp, first, last);
    if (g->ce) {
        if (first > last || last >= g->lay.size)
            return TARN_E_INVAL;
        g->pos = first;
        g->last = last;
        return 0;
    }
    uint64_t s0, s1;
    for (int s = 0; s < STOR_GET_STRIPES; s++)
        if (g->slot[s].pending || g->slot[s].state == SL_READING)
            return TARN_E_INVAL; /* one range at a time */
    if (erc_layout_range(&g->el, first, last, &s0, &s1))
        return TARN_E_INVAL;
    g->rd_first = first;
    g->rd_last = last;
    if (g->fill) { /* small: read it whole, to cache it */
        g->rd_first = 0;
        g->rd_last = g->lay.size - 1;
    }
    for (int s = 0; s < STOR_GET_STRIPES; s++)
        if (g->slot[s].state != SL_FREE)
            slot_release(g, &g->slot[s]);
    g->pos = first;
    g->last = last;
    g->next_stripe = s0;
    g->last_stripe = s1;
    pump(g);
    return 0;
}

/* Copy what the ready stripes hold at g->pos. 0, or a stripe's error when
 * nothing was copied before it. */
static int copy_ready(stor_get *g, void *buf, size_t n, size_t *out)
{
    while (*out < n && g->pos <= g->last && g->lay.size) {
        get_slot *sl = NULL;
        for (int s = 0; s < STOR_GET_STRIPES; s++)
            if (g->slot[s].state != SL_FREE && g->slot[s].stripe == g->pos / g->el.stripe_size)
                sl = &g->slot[s];
        if (sl && sl->state == SL_ERROR)
            return *out ? 0 : sl->err;
        if (!sl || sl->state != SL_READY)
            return 0;
        uint64_t end = sl->base + erc_layout_stripe_data(&g->el, sl->stripe); /* exclusive */
        if (end > g->last + 1)
            end = g->last + 1;
        size_t c = n - *out;
        if (c > end - g->pos)
            c = (size_t)(end - g->pos);
        memcpy((char *)buf + *out, sl->buf + (g->pos - sl->base), c);
        *out += c;
        g->pos += c;
        if (g->pos == end) {
            slot_release(g, sl);
            pump(g);
        }
    }
    return 0;
}

/* stor_get_read from the cached bytes: never waits. */
static ssize_t cached_read(stor_get *g, void *buf, size_t n)
{
    size_t len; /* == g->lay.size (cache_find) */
    const unsigned char *d = stor__cache_entry_data(g->ce, &len);
    if (g->pos > g->last)
        return 0;
    if (n > g->last - g->pos + 1)
        n = (size_t)(g->last - g->pos + 1);
    memcpy(buf, d + g->pos, n);
    g->pos += n;
    return (ssize_t)n;
}

ssize_t stor_get_read(stor_get *g, void *buf, size_t n, void (*ready)(void *arg), void *arg)
{
    if (g->mp)
        return stor__mpget_read(g->mp, buf, n, ready, arg);
    if (g->ce)
        return cached_read(g, buf, n);
    size_t out = 0;
    int rc = copy_ready(g, buf, n, &out);
    if (rc)
        return rc;
    if (out == 0 && g->pos <= g->last && g->lay.size) {
        /* Nothing in flight means no completion will ever call ready:
         * start what can be started, and fail rather than wait forever. */
        if (!g->inflight) {
            pump(g);
            if ((rc = copy_ready(g, buf, n, &out)))
                return rc;
            if (out)
                return (ssize_t)out;
            if (!g->inflight)
                return TARN_E_IO;
        }
        g->ready = ready;
        g->rarg = arg;
    }
    return (ssize_t)out;
}

void stor_get_close(stor_get *g)
{
    if (!g)
        return;
    if (g->held) /* open fds keep the files readable for reads in flight */
        stor__data_release(stor__io_store(g->io), g->lay.data_id);
    g->held = 0;
    stor__cache_entry_unref(g->ce);
    g->ce = NULL;
    g->closed = 1;
    g->ready = NULL;
    if (g->mp)
        stor__mpget_close(g->mp); /* its part readers free themselves when idle */
    g->mp = NULL;
    if (!g->inflight)
        get_destroy(g);
}

int stor_get_part(stor_get *g, uint32_t number, uint64_t *first, uint64_t *last,
                  uint32_t *count)
{
    if (g->mp)
        return stor__mpget_part(g->mp, number, first, last, count);
    *count = 0; /* S3: an object not uploaded in parts has one part, 1 */
    if (number != 1)
        return TARN_E_INVALID_RANGE;
    *first = 0;
    *last = g->lay.size ? g->lay.size - 1 : 0;
    return 0;
}
