/*
 * multipart_complete.c — CompleteMultipartUpload in storage: stitch the
 * chosen parts into one version without copying data (docs/multipart.md).
 *
 * On the caller's thread the part records are read once (one prefix scan,
 * no disk I/O) and the version's parts table is built from their layouts,
 * and the version record is encoded. That record is then written to disk
 * as the upload's *manifest*: a small erasure-coded shard set put through
 * the worker's ring like any object (put.c), its shard headers marked
 * STOR_SHARD_META_MANIFEST, so `tarn rebuild-meta` can recreate the
 * object from the disks alone (rebuild.c). Once the manifest's shards are
 * durable, its commit is the completion: on the commit thread a hook that
 * runs inside the version commit re-checks the upload and its parts
 * against the transaction's view (a part uploaded again or an abort
 * between the two is caught: InvalidPart / NoSuchUpload), deletes the
 * upload and every part record, and queues the data of parts the
 * completion left out for GC. The version commit then writes the version
 * (its layout: the parts table and the manifest's shard set), the head and
 * a "d/" key per part and for the manifest (now naming the version), and
 * unlinks the version it replaces — all in one batch. A commit that fails
 * leaves the manifest uncommitted and the put removes its files.
 */
#include "object_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct complete_ctx {
    char bucket[STOR_BUCKET_MAX + 1];
    char key[STOR_OBJKEY_MAX];
    size_t keylen;
    char upload_id[STOR_UPLOADID_MAX + 1];
    size_t n;
    uint32_t *numbers;        /* the chosen parts, ascending */
    char (*ids)[33];          /* and the data id each must still have */
    unsigned char *table;     /* the version's parts table */
    uint64_t size;
} complete_ctx;

static void ctx_free(void *arg)
{
    complete_ctx *c = arg;
    if (!c)
        return;
    free(c->numbers);
    free(c->ids);
    free(c->table);
    free(c);
}

/* ---- On the caller's thread: the parts table ------------------------------ */

typedef struct build {
    complete_ctx *c;
    size_t next;              /* index of the next chosen part to meet */
    int rc;
} build;

static int build_one(void *arg, uint32_t number, const char *val, size_t len)
{
    build *b = arg;
    complete_ctx *c = b->c;
    if (b->next == c->n)
        return 1;
    if (number < c->numbers[b->next])
        return 0; /* uploaded but not chosen */
    if (number > c->numbers[b->next]) {
        b->rc = TARN_E_INVALID_PART; /* chosen but not uploaded */
        return 1;
    }
    stor_layout pl;
    if (stor__version_decode(val, len, NULL, NULL, &pl, NULL) ||
        stor__part_entry_put(c->table + b->next * STOR_PART_ENTRY, number, &pl)) {
        TARN_ERROR("storage: part record is corrupt");
        b->rc = TARN_E_IO;
        return 1;
    }
    if (strcmp(pl.data_id, c->ids[b->next]) != 0) {
        b->rc = TARN_E_INVALID_PART; /* uploaded again since the caller looked */
        return 1;
    }
    c->size += pl.size;
    b->next++;
    return 0;
}

static int ctx_build(stor *s, complete_ctx *c, const stor_part *parts)
{
    stor_key k;
    for (size_t i = 0; i < c->n; i++) {
        if (parts[i].number < 1 || parts[i].number > STOR_MP_MAX_PARTS)
            return TARN_E_INVALID_PART;
        if (i && parts[i].number <= parts[i - 1].number)
            return TARN_E_INVALID_PART_ORDER;
        c->numbers[i] = parts[i].number;
        memcpy(c->ids[i], parts[i].data_id, sizeof(c->ids[i]));
    }
    int rc = stor__key_part(&k, c->bucket, c->key, c->keylen, c->upload_id, 0);
    if (rc)
        return rc;
    k.len -= 4; /* the upload's parts prefix */
    build b = {.c = c};
    rc = stor__parts_scan(s, &k, c->numbers[0] - 1, build_one, &b);
    if (!rc)
        rc = b.rc;
    if (!rc && b.next < c->n)
        rc = TARN_E_INVALID_PART;
    return rc;
}

static int ctx_new(const char *bucket, const char *key, size_t key_len, const char *upload_id,
                   size_t n, complete_ctx **out)
{
    complete_ctx *c = calloc(1, sizeof(*c));
    *out = c;
    if (!c)
        return TARN_E_NOMEM;
    if (strlen(bucket) > STOR_BUCKET_MAX || key_len > STOR_OBJKEY_MAX ||
        strlen(upload_id) > STOR_UPLOADID_MAX)
        return TARN_E_NO_SUCH_UPLOAD;
    strcpy(c->bucket, bucket);
    memcpy(c->key, key, key_len);
    c->keylen = key_len;
    strcpy(c->upload_id, upload_id);
    c->n = n;
    c->numbers = calloc(n, sizeof(*c->numbers));
    c->ids = calloc(n, sizeof(*c->ids));
    c->table = calloc(n, STOR_PART_ENTRY);
    return c->numbers && c->ids && c->table ? 0 : TARN_E_NOMEM;
}

/* ---- On the commit thread: the hook ----------------------------------------- */

/* Walk the upload's parts as the batch sees them: chosen ones must be the
 * data ids the table was built from (their records just go), the others
 * are dropped with their data. */
static int complete_parts(stor_txn *t, const complete_ctx *c, const stor_key *prefix)
{
    stor_txn_part *parts = NULL;
    size_t n = 0, j = 0;
    int rc = stor__txn_parts(t, prefix, &parts, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        int chosen = j < c->n && parts[i].number == c->numbers[j];
        if (chosen && strcmp(parts[i].layout.data_id, c->ids[j]) != 0)
            rc = TARN_E_INVALID_PART;
        if (!rc)
            rc = stor__txn_part_drop(t, prefix, &parts[i], !chosen);
        j += chosen;
    }
    if (!rc && j < c->n)
        rc = TARN_E_INVALID_PART;
    free(parts);
    return rc;
}

static int complete_apply(stor_txn *t, void *arg)
{
    const complete_ctx *c = arg;
    stor_key uk, pk;
    char *val;
    size_t len;
    int rc = stor__key_upload(&uk, c->bucket, c->key, c->keylen, c->upload_id);
    if (!rc)
        rc = stor__txn_get(t, &uk, &val, &len);
    if (rc)
        return rc == TARN_E_NOT_FOUND ? TARN_E_NO_SUCH_UPLOAD : rc;
    rocksdb_free(val);
    stor__txn_delete(t, &uk);
    rc = stor__key_part(&pk, c->bucket, c->key, c->keylen, c->upload_id, 0);
    pk.len -= 4;
    return rc ? rc : complete_parts(t, c, &pk);
}

/* ---- On the worker: the manifest, whose commit is the completion ------------- */

/* A completion under way: the manifest put and what its commit needs. */
typedef struct complete_run {
    stor_ioctx *io;
    stor_put *put;
    tarn_buf rec;             /* the manifest's content: the version record */
    size_t off;               /* bytes of rec given to the put */
    complete_ctx *c;          /* the hook's, until the commit takes it */
    tarn_arena *arena;        /* meta's strings */
    stor_object meta;
    stor_layout layout;       /* parts table in c->table, then the manifest */
    stor_object *out;
    stor_done_fn done;
    void *arg;
} complete_run;

static void run_free(complete_run *run)
{
    stor_put_free(run->put); /* aborts (removes the manifest) unless committed */
    ctx_free(run->c);
    tarn_buf_free(&run->rec);
    tarn_arena_destroy(run->arena);
    free(run);
}

/* The put's commit: the version with the manifest's shard set in its
 * layout, and the hook that checks and removes the upload — one batch. */
static int run_commit(void *arg, const stor_layout *ml, stor_done_fn done, void *darg)
{
    complete_run *run = arg;
    complete_ctx *c = run->c;
    int rc = stor__layout_manifest_set(&run->layout, ml);
    if (rc)
        return rc;
    stor_commit_hook hook = {.apply = complete_apply, .free = ctx_free, .ctx = c};
    run->c = NULL; /* the commit frees it, also on an error */
    return stor__version_commit_ex(stor__io_store(run->io), stor__io_waker(run->io), c->bucket,
                                   c->key, c->keylen, &run->meta, &run->layout, &hook, run->out,
                                   done, darg);
}

static void run_done(void *arg, int rc)
{
    complete_run *run = arg;
    run->done(run->arg, rc);
    run_free(run);
}

static void run_writable(void *arg);

/* Give the put the rest of the content, then finish it. 0: finishing or
 * waiting for writable(), else an error (nothing will call back). */
static int run_feed(complete_run *run)
{
    while (run->off < run->rec.len) {
        size_t left = run->rec.len - run->off;
        size_t took = stor_put_write(run->put, run->rec.data + run->off, left, run_writable, run);
        run->off += took;
        if (took < left)
            return 0; /* the stripe buffers are full: run_writable goes on */
    }
    stor_object mm = {0}; /* the manifest's own record: its size (put fills it) */
    return stor_put_finish(run->put, &mm, run_done, run);
}

static void run_writable(void *arg)
{
    complete_run *run = arg;
    int rc = run_feed(run);
    if (rc) {
        run->done(run->arg, rc);
        run_free(run);
    }
}

/* The run for a built ctx: meta copied, the record encoded, the put begun. */
static int run_start(stor_ioctx *io, complete_ctx *c, const stor_object *meta,
                     stor_object *out, stor_done_fn done, void *arg, complete_run **runp)
{
    complete_run *run = calloc(1, sizeof(*run));
    *runp = run;
    if (!run) {
        ctx_free(c);
        return TARN_E_NOMEM;
    }
    *run = (complete_run){.io = io, .c = c, .out = out, .done = done, .arg = arg};
    run->layout = (stor_layout){.size = c->size, .n_parts = (uint32_t)c->n, .parts = c->table};
    memcpy(run->layout.data_id, c->ids[0], sizeof(run->layout.data_id)); /* what readers hold */
    run->arena = tarn_arena_create(1024);
    int rc = run->arena ? stor__object_copy(run->arena, meta, &run->meta) : TARN_E_NOMEM;
    run->meta.size = c->size;
    run->meta.delete_marker = 0;
    if (!rc)
        rc = stor__version_encode(&run->rec, &run->meta, &run->layout);
    if (!rc)
        rc = stor_put_begin(io, c->bucket, c->key, c->keylen, run->rec.len, &run->put);
    if (!rc)
        stor__put_as_manifest(run->put, run_commit, run);
    return rc;
}

int stor_multipart_complete(stor_ioctx *io, const char *bucket, const char *key,
                            size_t key_len, const char *upload_id, const stor_part *parts,
                            size_t n, const stor_object *meta, stor_object *out,
                            stor_done_fn done, void *arg)
{
    stor_upload u;
    complete_ctx *c = NULL;
    complete_run *run = NULL;
    tarn_arena *a = tarn_arena_create(0);
    if (!a)
        return TARN_E_NOMEM;
    int rc = n < 1 || n > STOR_MP_MAX_PARTS ? TARN_E_INVALID_PART : 0;
    if (!rc)
        rc = stor_multipart_get(stor__io_store(io), a, bucket, key, key_len, upload_id, &u);
    tarn_arena_destroy(a);
    if (!rc)
        rc = ctx_new(bucket, key, key_len, upload_id, n, &c);
    if (!rc)
        rc = ctx_build(stor__io_store(io), c, parts);
    if (rc) {
        ctx_free(c);
        return rc;
    }
    rc = run_start(io, c, meta, out, done, arg, &run);
    if (!rc)
        rc = run_feed(run);
    if (rc && run)
        run_free(run);
    return rc;
}
