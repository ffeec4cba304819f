/*
 * object_internal.h — the seam inside storage/ between the metadata side
 * of objects (version records, version log commits, listing, GC queue:
 * object_meta.c, list.c, gc.c) and the data path (io contexts, placement,
 * shard files, put/get pipelines: ioctx.c, placement.c, put.c, get.c,
 * sweep.c). Not included outside storage/.
 */
#ifndef TARN_STORAGE_OBJECT_INTERNAL_H
#define TARN_STORAGE_OBJECT_INTERNAL_H

#include "storage/internal.h"
#include "storage/storage.h"

#define STOR_MAX_SHARDS 16

/* One entry of a parts table: number 4 BE, size 8 BE, block size 4 BE,
 * k, m, data id as 16 bytes, then STOR_MAX_SHARDS disk bytes. */
#define STOR_PART_ENTRY (4 + 8 + 4 + 1 + 1 + 16 + STOR_MAX_SHARDS)

/* Where a version's bytes are: stored inside its version record. */
typedef struct stor_layout {
    uint8_t k, m;
    uint32_t block_size;             /* bytes per shard block (multiple of 4096) */
    uint64_t size;                   /* object size */
    char data_id[33];                /* 32 hex: names the shard files */
    uint8_t disk[STOR_MAX_SHARDS];   /* shard i lives on disk disk[i] */
    /* A completed multipart upload (docs/multipart.md): n_parts > 0, and
     * the bytes are the parts' shard sets one after the other. k, m,
     * block_size and disk are then unused, size is the total and data_id
     * is part 1's (the id readers hold and GC checks for the version).
     * parts points to n_parts packed entries (STOR_PART_ENTRY bytes each,
     * see stor__layout_part): into the decoded record (decode without an
     * arena), into the arena, or into memory the committer owns. */
    uint32_t n_parts;
    const unsigned char *parts;
    /* The manifest of a completed multipart upload: the shard set written
     * at Complete whose content is this version's record (the parts table
     * included), so `tarn rebuild-meta` can find the object from the disks.
     * One parts-table entry (number 0). has_manifest is 0 for a single
     * shard set and for versions completed before manifests existed. */
    uint8_t has_manifest;
    unsigned char manifest[STOR_PART_ENTRY];
} stor_layout;

/* ---- Multipart layouts (multipart.c) ----------------------------------- */

/* Decode entry i of l's parts table into a single shard-set layout (and
 * the part number uploaded, number may be NULL). 0 or TARN_E_CORRUPT. */
int stor__layout_part(const stor_layout *l, uint32_t i, stor_layout *out, uint32_t *number);
/* Encode one entry from a single shard-set layout. 0 or TARN_E_INVAL. */
int stor__part_entry_put(unsigned char *dst, uint32_t number, const stor_layout *pl);
/* Decode l's manifest entry into a single shard-set layout: 0,
 * TARN_E_NOT_FOUND (l has none), TARN_E_CORRUPT. */
int stor__layout_manifest(const stor_layout *l, stor_layout *out);
/* Record ml (a single shard set) as l's manifest. 0 or TARN_E_INVAL. */
int stor__layout_manifest_set(stor_layout *l, const stor_layout *ml);

/* A commit hook: extra checks and writes that run first in a version
 * commit's apply, in the same batch (CompleteMultipartUpload deletes the
 * upload and its parts there). An error from apply aborts the commit.
 * free(ctx) runs when the op is released (ctx may be NULL). */
typedef struct stor_commit_hook {
    int (*apply)(stor_txn *t, void *ctx);
    void (*free)(void *ctx);
    void *ctx;
} stor_commit_hook;

/* stor__version_commit with a hook (NULL: none). On an error return the
 * hook's free has already run. */
int stor__version_commit_ex(stor *s, stor_waker *w, const char *bucket, const char *key,
                            size_t key_len, const stor_object *meta, const stor_layout *layout,
                            const stor_commit_hook *hook, stor_object *out, stor_done_fn done,
                            void *arg);

/* Store one key/value (a transaction's put, or a rebuild's write batch). */
typedef void (*stor_put_kv)(void *ctx, const stor_key *k, const void *val, size_t len);
/* The "d/<id>" records of a committed version, as its commit writes them:
 * one per data id of l (its own, or every part's and the manifest's), each
 * naming bucket, key and vi. 0, TARN_E_NOMEM, TARN_E_CORRUPT (a damaged
 * parts table). */
int stor__data_refs_put(const char *bucket, const char *key, size_t keylen,
                        const stor_vinfo *vi, const stor_layout *l, stor_put_kv put, void *ctx);

/* Pieces of the version commit that multipart.c reuses (object_meta.c),
 * all on the commit thread. */
int stor__txn_bucket_check(stor_txn *t, const char *bucket);
/* Queue l's shard files (one layout or a parts table) as "g/<seq>". */
int stor__garbage_put(stor_txn *t, const stor_layout *l);
/* Point read on the calling thread: 0 with *val (rocksdb_free),
 * TARN_E_NOT_FOUND, TARN_E_IO. */
int stor__db_get(stor *s, const stor_key *k, char **val, size_t *len);

/* Commit an uploaded part (put.c calls this instead of a version commit
 * for a put begun with stor_part_begin): the part record
 * "p/<bucket>\0<key>\0<upload>\0<part>" and "d/<data_id>"; a part it
 * replaces has its d/ key dropped and its files queued for GC. rc as
 * stor__version_commit, plus TARN_E_NO_SUCH_UPLOAD. */
int stor__part_commit(stor *s, stor_waker *w, const char *bucket, const char *key,
                      size_t key_len, const char *upload_id, uint32_t part,
                      const stor_object *meta, const stor_layout *layout, stor_object *out,
                      stor_done_fn done, void *arg);
/* Visit the part records under prefix ("p/<bucket>\0<key>\0<upload>\0")
 * with numbers > after, ascending, on the calling thread. fn returns 0 to
 * go on, 1 to stop, or an error (returned). */
int stor__parts_scan(stor *s, const stor_key *prefix, uint32_t after,
                     int (*fn)(void *ctx, uint32_t number, const char *val, size_t len),
                     void *ctx);

/* Read an upload record's own fields (initiated, owner, checksum) into u
 * (its other fields untouched). 0 or TARN_E_CORRUPT. */
int stor__upload_tags(const void *val, size_t len, stor_upload *u);

/* An upload's parts as a transaction sees them (commit thread). */
typedef struct stor_txn_part {
    uint32_t number;
    stor_layout layout;
} stor_txn_part;
/* Every part under prefix, ascending (heap array, free()). 0, NOMEM, IO. */
int stor__txn_parts(stor_txn *t, const stor_key *prefix, stor_txn_part **out, size_t *n);
/* Delete p's record; collect: also its "d/" key, and queue its data for GC. */
int stor__txn_part_drop(stor_txn *t, const stor_key *prefix, const stor_txn_part *p,
                        int collect);

/* Make a put commit as part `part` of upload_id (right after begin). */
void stor__put_as_part(stor_put *p, const char *upload_id, uint32_t part);
/* Make a put a CompleteMultipartUpload's manifest (right after begin):
 * its shard headers carry STOR_SHARD_META_MANIFEST, and once every shard
 * is durable it commits by calling commit(ctx, its layout, done, arg)
 * instead of committing a version; commit returns 0 when done(arg, rc)
 * will be called (rc 0: committed, the files are renamed into data/;
 * else they are removed), or an error when nothing was queued. */
typedef int (*stor_put_commit_fn)(void *ctx, const stor_layout *l, stor_done_fn done,
                                  void *arg);
void stor__put_as_manifest(stor_put *p, stor_put_commit_fn commit, void *ctx);

/* A reader over one shard set without a version lookup or a hold
 * (get.c; multipart_get.c reads each part with one). */
int stor__get_open_layout(stor_ioctx *io, const char *bucket, size_t key_len,
                          const stor_layout *l, stor_get **out);

/* The multipart reader behind a stor_get whose layout has parts
 * (multipart_get.c); get.c's API functions delegate to it. */
typedef struct stor_mpget stor_mpget;
int stor__mpget_create(stor_ioctx *io, const char *bucket, size_t key_len,
                       const stor_layout *l, stor_mpget **out);
int stor__mpget_range(stor_mpget *m, uint64_t first, uint64_t last);
ssize_t stor__mpget_read(stor_mpget *m, void *buf, size_t n, void (*ready)(void *arg),
                         void *arg);
void stor__mpget_close(stor_mpget *m);
/* stor_get_part for a multipart version. */
int stor__mpget_part(const stor_mpget *m, uint32_t number, uint64_t *first, uint64_t *last,
                     uint32_t *count);

/* Commit a version on the commit thread: write its record (meta + layout)
 * to the key's version log, move the head, and (unversioned bucket) queue
 * the replaced version's shards for GC — all in the group-commit batch.
 * Fills out->version_id and out->mtime_ms before done(arg, rc) runs on the
 * worker draining w. rc: 0, TARN_E_NO_SUCH_BUCKET, TARN_E_IO. meta's
 * strings are copied before this returns. */
int stor__version_commit(stor *s, stor_waker *w, const char *bucket, const char *key,
                         size_t key_len, const stor_object *meta, const stor_layout *layout,
                         stor_object *out, stor_done_fn done, void *arg);

/* Copy o's strings (content headers, checksums, user metadata) into a;
 * out gets the copy (out may not be in). 0 or TARN_E_NOMEM. */
int stor__object_copy(tarn_arena *a, const stor_object *in, stor_object *out);

/* Read a version record with its layout (strings in a). 0,
 * TARN_E_NO_SUCH_BUCKET, TARN_E_NO_SUCH_KEY, TARN_E_IO. */
int stor__version_get(stor *s, tarn_arena *a, const char *bucket, const char *key,
                      size_t key_len, const char *version_id, stor_object *obj,
                      stor_layout *layout);

/* Readers hold a data id while they read it; GC removes the shard files
 * of a replaced version only when no reader holds it. Thread-safe. */
void stor__data_hold(stor *s, const char *data_id);
void stor__data_release(stor *s, const char *data_id);

/* Shard files. A put writes <disk>/tmp/<data_id> (header last), fdatasyncs
 * each file and fsyncs each tmp/ directory, then commits the version; the
 * commit batch also writes "d/<data_id>" (see stor__data_referenced).
 * After the commit the files are renamed to
 * <disk>/data/<id[0:2]>/<data_id>; readers look there, then in tmp/. At
 * start-up the sweep renames referenced tmp/ files and deletes the rest,
 * so a crash at any point leaves either a committed, readable version or
 * garbage that is removed. */

/* 1 if the data id belongs to a committed version (its "d/" key exists),
 * 0 if not, negative on error. Thread-safe. */
int stor__data_referenced(stor *s, const char *data_id);

/* Shard files read with plain blocking I/O (heal, rebuild, the sweep;
 * sweep.c). */
struct erc_shard_header;
struct erc_layout;
/* 1 if name looks like a data id (32 lower-case hex digits). */
int stor__is_data_id(const char *name);
/* pread exactly n bytes at off. 0, or -1 (error or end of file). */
int stor__read_full(int fd, void *buf, size_t n, uint64_t off);
/* Read and decode the header at the start of shard file fd into *h, whose
 * pointers point into *hbuf (malloc'd; the caller frees it). 0, or -1
 * with *hbuf NULL (unreadable, short, malformed, no memory). */
int stor__shard_header_read(int fd, unsigned char **hbuf, struct erc_shard_header *h);
/* 1 if h is the header of shard `index` of the shard set l (el: its
 * erc_layout): same k, m, block size, size, stripes and data id. */
int stor__shard_header_fits(const struct erc_shard_header *h, const stor_layout *l,
                            const struct erc_layout *el, int index);

/* Remove the shard files of a data id from its disks (GC, abort). The
 * unlinks are not synced: see stor__disks_sync. */
void stor__data_remove(stor *s, const stor_layout *layout);
/* Make every metadata change on the file systems of the disks in
 * disk_mask (bit i: disk i) durable: one syncfs per distinct file system.
 * GC calls it between removing files and deleting the records that name
 * them, so a power cut cannot bring back files no record names. */
void stor__disks_sync(stor *s, uint64_t disk_mask);

/* The disk directories and the deployment's k, m (from stor_open). */
int stor__disk_count(const stor *s);
const char *stor__disk_path(const stor *s, int index);
void stor__ec(const stor *s, int *k, int *m);

#endif
